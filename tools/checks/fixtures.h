/* hkref — test fixtures shared by registered checks and test suites:
 * fixed-seed parameter fills, and fixed deterministic hooks that prove the hook plumbing of
 * attention and the encoder block (the real DropKey / DropAttention /
 * HiddenCut hooks live in ref/).  Used by the registered gradchecks and the
 * test suites.
 *
 *   logits:  g_out = g_in + add          (add (B,NH,T,T); -inf + add = -inf)
 *   weights: w_out = w_in * mul          (mul (B,NH,T,T) positive, element-wise)
 *   hidden:  h_out = h_in * hmul + hadd  (hmul, hadd (B,T,C))
 * Each backward adds J^T d_out to d_in.  A NULL array disables that hook
 * (the function pointer stays NULL, i.e. identity); n_attn / n_hidden are the
 * element counts the arrays hold and are checked against the call's shape. */
#ifndef HK_FIXTURES_H
#define HK_FIXTURES_H

#include "ref/attention.h"
#include "ref/encoder.h"
#include "ref/gradcheck.h"
#include "ref/hooks.h"

#include <gsl/gsl_rng.h>

typedef struct {
    const double *add, *mul;   /* (B,NH,T,T) or NULL */
    long n_attn;
    const double *hmul, *hadd; /* (B,T,C) or NULL (both or neither) */
    long n_hidden;
} hk_fixed_hooks;

/* Fills *h with the attention hooks of fx (members NULL where fx's array is NULL). */
void hk_fixed_attn_hooks(hk_attn_hooks *h, hk_fixed_hooks *fx);
/* Fills *h with the hidden hook of fx (NULL functions if fx->hmul is NULL). */
void hk_fixed_hidden_hook(hk_hidden_hook *h, hk_fixed_hooks *fx);

/* Identity hooks that copy (forward) and add (backward): for "identity hook
 * = no hook, bit for bit" tests. */
void hk_identity_attn_hooks(hk_attn_hooks *h);
void hk_identity_hidden_hook(hk_hidden_hook *h);

/* Fills every non-NULL array of p: W U(-0.6,0.6), b U(-0.2,0.2), A and B
 * U(-0.5,0.5) (B non-zero on purpose: B = 0 would hide dA and the LoRA part
 * of dx).  Scale keeps logits O(1), so softmax is far from saturation. */
int hk_fixture_attn_params(hk_attn_params *p, const hk_attn_config *cfg, gsl_rng *r);
/* Attention as above; LayerNorm weights U(0.8,1.2), biases U(-0.1,0.1);
 * W1, W2 U(-0.5,0.5), b1, b2 U(-0.2,0.2): GELU inputs O(1), on its curved part. */
int hk_fixture_enc_params(hk_enc_params *p, const hk_enc_config *cfg, gsl_rng *r);

/* Appends gradcheck variables for every non-NULL parameter of P (values)
 * paired with G (analytic gradients, same layout, non-NULL where P is):
 * W[q], b[q], A[q], B[q], ... .  v must hold 4 * HK_ATTN_NPROJ entries.
 * Returns the number appended. */
int hk_fixture_attn_gc_vars(hk_gc_var *v, hk_attn_params *P, const hk_attn_params *G, const hk_attn_config *cfg);

#endif
