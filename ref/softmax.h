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

/* The one log-sum-exp of ref/: lse(x) = log sum_c exp(x[c]) of one row of C
 * entries, as its two parts *m = max_c x[c] (the true max) and
 * *log_s = log sum_c exp(x[c] - *m), in [0, log C]; lse = *m + *log_s is finite
 * for logits of +-700.  Kept apart because log-softmax is (x - m) - log_s. */
// x (C) -> *m, *log_s
int hk_softmax_logsumexp(double *m, double *log_s, const double *x, long C);

/* x (N,C) -> y (N,C): y = x - max - log(sum exp(x - max)) = (x - m) - log_s. */
int hk_logsoftmax_forward(double *y, const double *x, long N, long C);
/* dx (N,C) += dy - exp(y) * sum_c dy   (entries with y = -inf get nothing). */
int hk_logsoftmax_backward(double *dx, const double *dy, const double *y, long N, long C);

#endif
