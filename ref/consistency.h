/* hkref — plain scalar double reference: consistency losses between two
 * forward passes (the "compensation" dimension of 2403.00812 §3.2).
 *
 * Five variants, each with a distinct name (hk_consistency_name):
 *   HK_CONS_KL_BIDIR    "kl_bidir"    Eq. 11, R-Drop:  ½(KL(P1‖P2) + KL(P2‖P1))
 *   HK_CONS_JS_EQ12     "js_eq12"     Eq. 12 as printed: KL(P1‖P̄), z2 = the inference
 *                                     (no-dropout) pass's logits
 *   HK_CONS_JS_MIXTURE  "js_mixture"  HiddenCut's official code: ½[KL(M‖P1) + KL(M‖P2)],
 *                                     M = ½(P1 + P2)  (NOT the textbook JS)
 *   HK_CONS_JS_TEXTBOOK "js_textbook" Jensen–Shannon: ½[KL(P1‖M) + KL(P2‖M)] <= ln 2
 *   HK_CONS_MSE         "mse"         R-Drop regression: Σ_d (y1 - y2)² between the two
 *                                     passes' outputs (not distributions)
 *
 * Inputs: z1, z2 (N,C) row-major.  For the four distribution losses they are
 * LOGITS (finite; ±inf or NaN is HK_ENAN): P = softmax(z), and every log-prob
 * is computed as z - logsumexp(z), so log P never comes from log(underflowed
 * probability).  The mixture's log M = logaddexp(log P1, log P2) - ln 2,
 * again never log(0).  For MSE they are the outputs themselves (D = C).
 *
 * Reduction (hk_reduction): the per-row loss sums over the C classes /
 * features; HK_RED_SUM sums rows, HK_RED_MEAN divides by N (PyTorch's
 * "batchmean" for kl_div; for MSE with C = 1 it equals F.mse_loss(mean)).
 * No weight inside: the framework multiplies by its loss weight α, and the
 * backward takes the upstream scalar dloss (= α for α·L).
 *
 * Backward: dz1 (N,C) += dloss · ∂L/∂z1, dz2 (N,C) += dloss · ∂L/∂z2; either
 * may be NULL, meaning that side is a constant (stop-gradient / detach): the
 * other side's gradient is the same either way, because ∂L/∂z1 does not depend
 * on whether z2 is differentiated. */
#ifndef HK_CONSISTENCY_H
#define HK_CONSISTENCY_H

typedef enum {
    HK_CONS_KL_BIDIR = 0,
    HK_CONS_JS_EQ12,
    HK_CONS_JS_MIXTURE,
    HK_CONS_JS_TEXTBOOK,
    HK_CONS_MSE,
    HK_CONS_COUNT
} hk_consistency;

typedef enum { HK_RED_SUM = 0, HK_RED_MEAN = 1 } hk_reduction;

/* "kl_bidir", "js_eq12", "js_mixture", "js_textbook", "mse"; NULL if out of range. */
const char *hk_consistency_name(hk_consistency kind);
/* Parses a name above into *kind; HK_ENOTFOUND naming the string otherwise. */
int hk_consistency_parse(hk_consistency *kind, const char *name);

// z1 (N,C), z2 (N,C) -> *loss (scalar)
int hk_consistency_forward(double *loss, hk_consistency kind, const double *z1, const double *z2, long N, long C,
                           hk_reduction red);
// dloss (scalar) -> dz1 (N,C) +=, dz2 (N,C) += (either may be NULL: that side constant)
int hk_consistency_backward(double *dz1, double *dz2, double dloss, hk_consistency kind, const double *z1,
                            const double *z2, long N, long C, hk_reduction red);

#endif
