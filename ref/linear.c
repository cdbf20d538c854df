/* hkref — plain scalar double reference: the dense linear layer.
 * Storage: row-major; w is (OUT,IN) as in PyTorch, so out = inp w^T + bias. */
#include "linear.h"

#include "error.h"

#include <math.h>

/* Pointers are checked by the callers, so the message names their argument. */
static int check_args(long N, long IN, long OUT)
{
    HK_REQUIRE(N > 0 && IN > 0 && OUT > 0, HK_EINVAL,
               "linear shape (N=%ld, IN=%ld, OUT=%ld) must be positive", N, IN, OUT);
    return HK_OK;
}

// inp (N,IN), w (OUT,IN), bias (OUT) -> out (N,OUT)
int hk_linear_forward(double *out, const double *inp, const double *w, const double *bias,
                      long N, long IN, long OUT)
{
    HK_REQUIRE_PTR(out);
    HK_REQUIRE_PTR(inp);
    HK_REQUIRE_PTR(w);
    HK_TRY(check_args(N, IN, OUT));
    /* NaN / Inf would pass through the dot products silently: an error here. */
    HK_TRY(hk_check_finite(inp, N * IN, "linear input"));
    HK_TRY(hk_check_finite(w, OUT * IN, "linear weight"));
    if (bias) HK_TRY(hk_check_finite(bias, OUT, "linear bias"));
    for (long n = 0; n < N; n++) {
        const double *x = inp + n * IN;
        for (long o = 0; o < OUT; o++) {
            const double *wr = w + o * IN;
            double s = bias ? bias[o] : 0.0;
            for (long i = 0; i < IN; i++) s += x[i] * wr[i];
            /* finite inputs whose product or sum is not a double: an error, never a silent inf / NaN */
            HK_REQUIRE(isfinite(s), HK_EDOM, "linear out[%ld,%ld] overflows (|inp| |w| products beyond DBL_MAX)", n, o);
            out[n * OUT + o] = s;
        }
    }
    return HK_OK;
}

// dout (N,OUT) -> dinp (N,IN) +=, dw (OUT,IN) +=, dbias (OUT) +=
int hk_linear_backward(double *dinp, double *dw, double *dbias, const double *dout,
                       const double *inp, const double *w, long N, long IN, long OUT)
{
    HK_REQUIRE_PTR(dout);
    HK_REQUIRE_PTR(inp);
    HK_REQUIRE_PTR(w);
    HK_TRY(check_args(N, IN, OUT));
    for (long n = 0; n < N; n++) {
        const double *g = dout + n * OUT;
        const double *x = inp + n * IN;
        for (long o = 0; o < OUT; o++) {
            double go = g[o];
            const double *wr = w + o * IN;
            if (dbias) dbias[o] += go;
            if (dw)
                for (long i = 0; i < IN; i++) dw[o * IN + i] += go * x[i];
            if (dinp)
                for (long i = 0; i < IN; i++) dinp[n * IN + i] += go * wr[i];
        }
    }
    return HK_OK;
}
