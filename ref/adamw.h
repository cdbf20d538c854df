/* hkref — plain scalar double reference: the AdamW optimizer step.
 *
 * Loshchilov & Hutter, "Decoupled Weight Decay Regularization", in the form
 * PyTorch's torch.optim.AdamW computes (amsgrad off, maximize off):
 *     theta <- theta * (1 - lr * weight_decay)              (decoupled decay)
 *     m     <- beta1 m + (1 - beta1) g
 *     v     <- beta2 v + (1 - beta2) g^2
 *     theta <- theta - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * All hyper-parameters are explicit (no defaults hidden in ref/).
 * Why it is here: DyLoRA's "frozen" mode is only frozen if the held rows are
 * not handed to the step at all; a zero gradient is not enough, because the
 * decay term and the momentum m from earlier steps still move them (see
 * PAPER_NOTES.md, DyLoRA, and tests/test_dylora.c). */
#ifndef HK_ADAMW_H
#define HK_ADAMW_H

typedef struct {
    double lr;           /* > 0 */
    double beta1, beta2; /* in [0, 1) */
    double eps;          /* > 0 */
    double weight_decay; /* >= 0 (decoupled: multiplies theta by 1 - lr*wd) */
} hk_adamw_hparams;

/* One step on n parameters addressed with stride inc >= 1 (param[k*inc],
 * grad[k*inc], m[k*inc], v[k*inc] for k < n, so a column of a row-major
 * matrix is a strided vector).  t >= 1 is the step number of these
 * parameters (bias correction).  m and v are the caller's state, updated in
 * place.  Fails (HK_ENAN) before writing anything if a gradient is not finite. */
int hk_adamw_step(double *param, const double *grad, double *m, double *v, long n, long inc, long t,
                  const hk_adamw_hparams *hp);

#endif
