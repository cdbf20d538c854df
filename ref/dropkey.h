/* hkref — plain scalar double reference: DropKey (HK Eq. 3-5).
 *
 *   g'_j = g_j + m_j,  m_j = -inf (form NEGINF) or -1e12 (form FINITE, the
 *   DropKey paper's snippet) where key j is dropped, 0 elsewhere;
 *   w' = softmax(g') per (b,h,q) row.
 * Masks (B,NH,Tq,Tk) of {0,1}, 1 = dropped; pad (B,Tk) of {0,1}, 1 = padded
 * key, or NULL; padded keys are left as they come (attention has already
 * set their logit to -inf, which this module checks).  A row with no kept
 * key follows cfg->policy (ref/attnmask.h): KEEP leaves its logits
 * unchanged (in exact arithmetic the FINITE form adds the same constant to
 * every logit of such a row, and softmax is shift invariant, so KEEP is what
 * the paper's practical form computes); ZERO gives a zero weight row, which
 * a logits hook cannot express, so the hooks adapter then also installs a
 * weights hook that zeroes those rows; ERROR fails with HK_EDOM. */
#ifndef HK_DROPKEY_H
#define HK_DROPKEY_H

#include "attnmask.h"
#include "hooks.h"

#include <stdint.h>

typedef enum { HK_DROPKEY_NEGINF = 0, HK_DROPKEY_FINITE = 1 } hk_dropkey_form;
#define HK_DROPKEY_FINITE_VALUE (-1e12)

typedef struct {
    const uint8_t *mask;      /* (B,NH,Tq,Tk), 1 = dropped */
    const uint8_t *pad;       /* (B,Tk), 1 = padded, or NULL */
    hk_dropkey_form form;
    hk_allmask_policy policy; /* default HK_ALLMASK_KEEP (= 0) */
} hk_dropkey_config;

/* The logits hook, Eq. 3.  NEGINF: g'_m = -inf is a constant, so dg_m gets
 * nothing; FINITE: g'_m = g_m - 1e12 has derivative 1.  g_out may alias g_in. */
// g_in (B,NH,Tq,Tk) -> g_out (B,NH,Tq,Tk)
int hk_dropkey_logits_forward(double *g_out, const double *g_in, const hk_dropkey_config *cfg, long B, long NH,
                              long Tq, long Tk);
// d_out (B,NH,Tq,Tk) -> d_in (B,NH,Tq,Tk) +=
int hk_dropkey_logits_backward(double *d_in, const double *d_out, const hk_dropkey_config *cfg, long B, long NH,
                               long Tq, long Tk);

/* Logits to weights, Eq. 4-5: w' = softmax(g'), ZERO-policy rows 0. */
// g (B,NH,Tq,Tk) -> w (B,NH,Tq,Tk)
int hk_dropkey_forward(double *w, const double *g, const hk_dropkey_config *cfg, long B, long NH, long Tq, long Tk);
// dw (B,NH,Tq,Tk), w = forward output -> dg (B,NH,Tq,Tk) +=
int hk_dropkey_backward(double *dg, const double *dw, const double *w, const hk_dropkey_config *cfg, long B,
                        long NH, long Tq, long Tk);

/* Fills h for ref/attention.c (Tq = Tk = T): the logits hook, plus for
 * policy ZERO a weights hook zeroing all-masked rows.  cfg must outlive h. */
int hk_dropkey_hooks(hk_attn_hooks *h, hk_dropkey_config *cfg);

#endif
