/* hkref — plain scalar double reference: row-wise softmax and log-softmax.
 * Storage: row-major (N,C), one softmax per row of C entries. */
#include "softmax.h"

#include "error.h"

#include <math.h>

/* Validates one row and returns its max over finite entries via *mx.
 * Starts from -INFINITY (the true max), never from a sentinel. */
static int row_max(double *mx, const double *x, long n, long C)
{
    double m = -INFINITY;
    for (long c = 0; c < C; c++) {
        double v = x[c];
        if (isnan(v) || v == INFINITY)
            HK_ERROR(HK_ENAN, "softmax input row %ld col %ld is %g; only finite values and -inf are allowed", n, c, v);
        if (v > m) m = v;
    }
    if (m == -INFINITY)
        HK_ERROR(HK_EDOM, "softmax row %ld has no finite logit (all -inf): the caller must apply an all-masked-row policy first", n);
    *mx = m;
    return HK_OK;
}

/* Pointers are checked by the callers, so the message names their argument. */
static int check_dims(long N, long C)
{
    HK_REQUIRE(N > 0 && C > 0, HK_EINVAL, "softmax shape (N=%ld, C=%ld) must be positive", N, C);
    return HK_OK;
}

// x (N,C) -> y (N,C)
int hk_softmax_forward(double *y, const double *x, long N, long C)
{
    HK_REQUIRE_PTR(y);
    HK_REQUIRE_PTR(x);
    HK_TRY(check_dims(N, C));
    for (long n = 0; n < N; n++) {
        const double *xr = x + n * C;
        double *yr = y + n * C;
        double m;
        HK_TRY(row_max(&m, xr, n, C));
        double s = 0.0;
        for (long c = 0; c < C; c++) {
            yr[c] = exp(xr[c] - m); /* exp(-inf) = 0 exactly */
            s += yr[c];
        }
        /* s >= 1 because the max entry contributes exp(0) = 1: no division by 0. */
        for (long c = 0; c < C; c++) yr[c] /= s;
    }
    return HK_OK;
}

// dy (N,C), y (N,C) -> dx (N,C) +=
int hk_softmax_backward(double *dx, const double *dy, const double *y, long N, long C)
{
    HK_REQUIRE_PTR(dx);
    HK_REQUIRE_PTR(dy);
    HK_TRY(check_dims(N, C));
    HK_REQUIRE_PTR(y);
    for (long n = 0; n < N; n++) {
        const double *dyr = dy + n * C, *yr = y + n * C;
        double dot = 0.0;
        for (long c = 0; c < C; c++) dot += dyr[c] * yr[c];
        for (long c = 0; c < C; c++) dx[n * C + c] += yr[c] * (dyr[c] - dot);
    }
    return HK_OK;
}

/* lse of row n (named in messages): *m = true max, *log_s = log sum exp(x - m). */
static int row_logsumexp(double *m, double *log_s, const double *x, long n, long C)
{
    HK_TRY(row_max(m, x, n, C));
    double s = 0.0;
    for (long c = 0; c < C; c++) s += exp(x[c] - *m);
    *log_s = log(s); /* s in [1, C]: log is well conditioned */
    return HK_OK;
}

// x (C) -> *m, *log_s
int hk_softmax_logsumexp(double *m, double *log_s, const double *x, long C)
{
    HK_REQUIRE_PTR(m);
    HK_REQUIRE_PTR(log_s);
    HK_REQUIRE_PTR(x);
    HK_REQUIRE(C > 0, HK_EINVAL, "logsumexp row length C=%ld must be positive", C);
    return row_logsumexp(m, log_s, x, 0, C);
}

// x (N,C) -> y (N,C)
int hk_logsoftmax_forward(double *y, const double *x, long N, long C)
{
    HK_REQUIRE_PTR(y);
    HK_REQUIRE_PTR(x);
    HK_TRY(check_dims(N, C));
    for (long n = 0; n < N; n++) {
        const double *xr = x + n * C;
        double *yr = y + n * C;
        double m, lse;
        HK_TRY(row_logsumexp(&m, &lse, xr, n, C));
        for (long c = 0; c < C; c++) {
            yr[c] = (xr[c] - m) - lse;
            /* a finite logit more than DBL_MAX below the row max: log P is not a double */
            HK_REQUIRE(isfinite(yr[c]) || xr[c] == -INFINITY, HK_EDOM,
                       "logsoftmax row %ld col %ld: log P = %g - %g overflows (a row's logit range must stay below "
                       "DBL_MAX)", n, c, xr[c], m);
        }
    }
    return HK_OK;
}

// dy (N,C), y (N,C) -> dx (N,C) +=
int hk_logsoftmax_backward(double *dx, const double *dy, const double *y, long N, long C)
{
    HK_REQUIRE_PTR(dx);
    HK_REQUIRE_PTR(dy);
    HK_TRY(check_dims(N, C));
    HK_REQUIRE_PTR(y);
    for (long n = 0; n < N; n++) {
        const double *dyr = dy + n * C, *yr = y + n * C;
        double s = 0.0;
        for (long c = 0; c < C; c++)
            if (yr[c] != -INFINITY) s += dyr[c];
        for (long c = 0; c < C; c++)
            if (yr[c] != -INFINITY) dx[n * C + c] += dyr[c] - exp(yr[c]) * s;
    }
    return HK_OK;
}
