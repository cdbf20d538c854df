/* hkref — plain scalar double reference: DropAttention (HK Eq. 1-2, 6).
 *
 * Weights w (B,NH,Tq,Tk) after softmax; mask (B,NH,Tq,Tk) of {0,1},
 * 1 = dropped; pad (B,Tk), 1 = padded key, or NULL (the input weights at
 * padded keys must be 0, as attention's -inf padding makes them: checked).
 * K = kept keys of the row (ref/attnmask.h).  Variants:
 *   CLASSIC      w'_j = w_j [j in K] / (1 - p)                 (vanilla dropout)
 *   NORM_NOGRAD  w'_j = w_j [j in K] / NoGrad(Z), Z = sum_{i in K} w_i  (Eq. 1-2)
 *                backward treats Z as a constant: dw_j = [j in K] dw'_j / Z
 *                (by design NOT the derivative of the forward)
 *   NORM         same forward, gradient through Z:
 *                dw_j = [j in K] (dw'_j - sum_u dw'_u w'_u) / Z
 * NORM* rows with no dropped key are copied unchanged (exact arithmetic:
 * Z = 1 there), with identity Jacobian, so p = 0 is the identity bit for bit.
 * A row with kept keys whose Z underflows to 0 (kept weights all below
 * ~1e-308, logit gap > ~708) is an error HK_EDOM: the information is gone
 * from w; DropKey, working on logits, has no such limit.
 * All-masked rows follow cfg->policy: KEEP copies the row (unscaled),
 * ZERO writes 0 (what CLASSIC gives naturally), ERROR fails (HK_EDOM). */
#ifndef HK_DROPATTENTION_H
#define HK_DROPATTENTION_H

#include "attnmask.h"
#include "hooks.h"

#include <stdint.h>

typedef enum { HK_DROPATTN_CLASSIC = 0, HK_DROPATTN_NORM_NOGRAD = 1, HK_DROPATTN_NORM = 2 } hk_dropattn_variant;

const char *hk_dropattn_variant_name(hk_dropattn_variant v); /* "classic", "norm_nograd", "norm" */

typedef struct {
    const uint8_t *mask;        /* (B,NH,Tq,Tk), 1 = dropped */
    const uint8_t *pad;         /* (B,Tk), 1 = padded, or NULL */
    hk_dropattn_variant variant;
    double p;                   /* drop rate, [0,1); used by CLASSIC's 1/(1-p) */
    hk_allmask_policy policy;   /* default HK_ALLMASK_KEEP (= 0) */
} hk_dropattn_config;

// w_in (B,NH,Tq,Tk) -> w_out (B,NH,Tq,Tk)
int hk_dropattn_forward(double *w_out, const double *w_in, const hk_dropattn_config *cfg, long B, long NH, long Tq,
                        long Tk);
// d_out, w_in, w_out (B,NH,Tq,Tk) -> d_in (B,NH,Tq,Tk) +=
int hk_dropattn_backward(double *d_in, const double *d_out, const double *w_in, const double *w_out,
                         const hk_dropattn_config *cfg, long B, long NH, long Tq, long Tk);

/* Fills h (a weights hook) for ref/attention.c (Tq = Tk = T); cfg must outlive h. */
int hk_dropattn_hooks(hk_attn_hooks *h, hk_dropattn_config *cfg);

#endif
