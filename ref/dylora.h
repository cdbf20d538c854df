/* hkref — plain scalar double reference: DyLoRA (dynamic-rank LoRA, EACL 2023).
 *
 * Notation of DY (../shared/papers/002_*.txt): W_dw = A (r_max,IN), W_up = B
 * (OUT,r_max).  Truncation at rank b keeps A[:b,:] and B[:,:b] (DY Eq. 5;
 * the paper's 1-based W[1:b] is C's first b) with scale alpha/b (DY Eq. 7):
 *     y_b = x W0^T + bias + (alpha/b) dropout(x) A[:b,:]^T B[:,:b]^T.
 * b must lie in [r_min, r_max]; b = r_max is plain LoRA (scale alpha/r) bit
 * for bit, because it is the same hk_lora_forward call.
 * Randomness is an input: the rank b is sampled by hk_dylora_rank_sample
 * (once per training step, shared by every layer, as the official code) and
 * passed to the passes like a mask. */
#ifndef HK_DYLORA_H
#define HK_DYLORA_H

#include "adamw.h"

#include <gsl/gsl_rng.h>
#include <stdint.h>

/* Shapes and hyper-parameters of one DyLoRA layer. */
typedef struct {
    long IN, OUT;     /* W0 is (OUT,IN) */
    long r_min, r_max; /* 1 <= r_min <= r_max; A (r_max,IN), B (OUT,r_max) */
    double alpha;     /* finite; truncated scale alpha/b */
} hk_dylora_dims;

/* p_B, the distribution of the rank b over {r_min..r_max}.
 *   UNIFORM   p(b) = 1/n, n = r_max - r_min + 1 (DY's default, the official code's)
 *   GEOMETRIC p(b) = q (1-q)^(b - r_min) / (1 - (1-q)^n), q in (0, 1]: a
 *             geometric law on b - r_min = 0, 1, 2, ... truncated to the range
 *             and renormalised (DY Tab. 4 ablation; its q is not given, so it
 *             is an explicit parameter here).  q = 1 puts all mass on r_min. */
typedef enum { HK_DYLORA_UNIFORM = 0, HK_DYLORA_GEOMETRIC = 1 } hk_dylora_dist;

/* pmf (r_max - r_min + 1): pmf[b - r_min] = p_B(b).  q ignored for UNIFORM. */
int hk_dylora_rank_pmf(double *pmf, long r_min, long r_max, hk_dylora_dist dist, double q);
/* *b ~ p_B from the caller's generator: UNIFORM by gsl_rng_uniform_int, GEOMETRIC
 * by inverting the truncated CDF of one uniform u in [0,1):
 *     b = r_min + floor(log(1 - u (1 - (1-q)^n)) / log(1-q)), clamped to r_max. */
int hk_dylora_rank_sample(long *b, long r_min, long r_max, hk_dylora_dist dist, double q, gsl_rng *rng);

/* DY Eq. 7.  x (N,IN), W0 (OUT,IN), bias (OUT) or NULL, A (r_max,IN), B (OUT,r_max),
 * mask (N,IN) of {0,1}, 1 = dropped, or NULL (then p = 0)
 *   -> y (N,OUT), xa (N,b) = dropout(x) A[:b,:]^T saved for backward */
int hk_dylora_forward(double *y, double *xa, const double *x, const double *W0, const double *bias,
                      const double *A, const double *B, const uint8_t *mask, double p, long N, long b,
                      const hk_dylora_dims *d);
// dy (N,OUT) -> dx (N,IN) +=, dA (r_max,IN) += rows < b only, dB (OUT,r_max) += columns < b only
int hk_dylora_backward(double *dx, double *dA, double *dB, const double *dy, const double *x, const double *xa,
                       const double *W0, const double *A, const double *B, const uint8_t *mask, double p,
                       long N, long b, const hk_dylora_dims *d);

/* The task loss of the checks: per-example squared error, batch mean,
 *     L_b = (1/N) sum_n || y_b(x_n) - t_n ||^2        (DY Eq. 9 with l = ||.||^2 / N)
 * with y_b the truncated forward without dropout.  x (N,IN), target (N,OUT) -> *loss.
 * Scratch (N*(OUT+r_max) doubles) is allocated inside (HK_ENOMEM on failure). */
int hk_dylora_loss_forward(double *loss, const double *x, const double *target, const double *W0,
                           const double *bias, const double *A, const double *B, long N, long b,
                           const hk_dylora_dims *d);
// -> dA (r_max,IN) +=, dB (OUT,r_max) += dL_b/dA, dL_b/dB (either may be NULL)
int hk_dylora_loss_backward(double *dA, double *dB, const double *x, const double *target, const double *W0,
                            const double *bias, const double *A, const double *B, long N, long b,
                            const hk_dylora_dims *d);

/* The nested-dropout objective (DY Eq. 2 carried to ranks, text after Eq. 9):
 *     L_nested = sum_{b=r_min}^{r_max} p_B(b) L_b,   pmf (r_max - r_min + 1) = p_B.
 * pmf must be finite, >= 0 and sum to 1 within 8 n eps. */
int hk_dylora_nested_loss_forward(double *loss, const double *x, const double *target, const double *W0,
                                  const double *bias, const double *A, const double *B, const double *pmf,
                                  long N, const hk_dylora_dims *d);
// -> dA +=, dB += sum_b p_B(b) dL_b (either may be NULL)
int hk_dylora_nested_loss_backward(double *dA, double *dB, const double *x, const double *target,
                                   const double *W0, const double *bias, const double *A, const double *B,
                                   const double *pmf, long N, const hk_dylora_dims *d);

/* Frozen mode (DY Eq. 10): with b drawn, only row b-1 of A (W_dw^b) and
 * column b-1 of B (W_up^b) are trained.
 * hk_dylora_frozen_mask_grad zeroes the gradient rows < b-1 of dA and columns
 * < b-1 of dB: exactly what the official code's detach() produces.  The two
 * updates below differ only in what is handed to AdamW:
 *   hk_dylora_frozen_step  (hkref): row b-1 of A and column b-1 of B only;
 *                          every other parameter and its m, v stay bit-identical.
 *   official: hk_adamw_step on all of A and B with the masked gradient; the
 *             held rows still move through weight decay and old momentum.
 * dA (r_max,IN), dB (OUT,r_max) */
int hk_dylora_frozen_mask_grad(double *dA, double *dB, long b, const hk_dylora_dims *d);
// A, B, mA, vA (r_max,IN), mB, vB (OUT,r_max) updated in place at row / column b-1; t = step number
int hk_dylora_frozen_step(double *A, double *B, const double *dA, const double *dB, double *mA, double *vA,
                          double *mB, double *vB, long b, long t, const hk_adamw_hparams *hp,
                          const hk_dylora_dims *d);

/* Every-rank evaluation in one call: Y (r_max-r_min+1, N, OUT), Y[b - r_min] = y_b
 * (no dropout).  Incremental: base = x W0^T + bias and xa = x A^T once, then per b
 * a rank-1 update S_b = S_{b-1} + xa[:,b-1] B[:,b-1]^T and Y_b = base + (alpha/b) S_b,
 * O(N OUT) per rank instead of O(N (IN + b) OUT).  x (N,IN) */
int hk_dylora_eval_all(double *Y, const double *x, const double *W0, const double *bias, const double *A,
                       const double *B, long N, const hk_dylora_dims *d);

/* Validates d (shapes positive, 1 <= r_min <= r_max, alpha finite) and b in [r_min, r_max]. */
int hk_dylora_check_rank(long b, const hk_dylora_dims *d);

#endif
