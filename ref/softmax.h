/* hkref — plain scalar double reference: row-wise softmax and log-softmax.
 *
 * Logits may be -inf (a DropKey-dropped or padded key): such entries get
 * weight exactly 0 (log-weight -inf).  +inf and NaN logits are errors.
 * Policy for a row with no finite logit: HK_EDOM error naming the row.  The
 * callers (attention, DropKey) decide what an all-masked row means before
 * calling softmax; softmax itself never invents a row. */
#ifndef HK_SOFTMAX_H
#define HK_SOFTMAX_H

/* x (N,C) -> y (N,C): y[n,c] = exp(x[n,c] - max_n) / sum_c' exp(x[n,c'] - max_n). */
int hk_softmax_forward(double *y, const double *x, long N, long C);
/* dx (N,C) += y * (dy - sum_c dy*y)   (Jacobian-vector product of softmax). */
int hk_softmax_backward(double *dx, const double *dy, const double *y, long N, long C);

/* x (N,C) -> y (N,C): y = x - max - log(sum exp(x - max)). */
int hk_logsoftmax_forward(double *y, const double *x, long N, long C);
/* dx (N,C) += dy - exp(y) * sum_c dy   (entries with y = -inf get nothing). */
int hk_logsoftmax_backward(double *dx, const double *dy, const double *y, long N, long C);

#endif
