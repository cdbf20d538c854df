/* hkref — plain scalar double reference: GELU, exact (erf) and tanh forms
 * (see gelu.h).
 *
 * Exact form, evaluated as 0.5 x erfc(-x/sqrt 2): equal to 0.5 x (1 + erf(x/sqrt 2))
 * but without the cancellation of 1 + erf for x << 0 (erfc keeps full
 * relative accuracy in the tail).  Derivative: Phi(x) + x phi(x),
 * phi(x) = exp(-x^2/2)/sqrt(2 pi).
 * Tanh form, evaluated literally as GPT-2 / torch do; derivative
 *   0.5 (1 + t) + 0.5 x sech^2(u) sqrt(2/pi) (1 + 3 * 0.044715 x^2),
 * u = sqrt(2/pi)(x + 0.044715 x^3), t = tanh(u), sech^2(u) = 1/cosh(u)^2.
 * When sech^2 underflows to 0 (|u| > ~355, i.e. |x| > ~21) the second term
 * is below 1e-300 and taken as 0 — otherwise x^2 overflowing for |x| > 1e154
 * would make it 0 * inf = NaN. */
#include "gelu.h"

#include "error.h"

#include <math.h>

#define GELU_TANH_C 0.044715

/* Pointers are checked by the callers, so the message names their argument. */
static int check_args(long n, hk_gelu_kind kind)
{
    HK_REQUIRE(n > 0, HK_EINVAL, "gelu length n=%ld must be positive", n);
    HK_REQUIRE(kind == HK_GELU_ERF || kind == HK_GELU_TANH, HK_EINVAL,
               "gelu kind=%d must be HK_GELU_ERF (0) or HK_GELU_TANH (1)", (int)kind);
    return HK_OK;
}

static double sqrt_2_over_pi(void) { return M_2_SQRTPI * M_SQRT1_2; } /* (2/sqrt pi)(1/sqrt 2) */

// inp (n) -> out (n)
int hk_gelu_forward(double *out, const double *inp, long n, hk_gelu_kind kind)
{
    HK_REQUIRE_PTR(out);
    HK_REQUIRE_PTR(inp);
    HK_TRY(check_args(n, kind));
    HK_TRY(hk_check_finite(inp, n, "gelu inp"));
    const double k = sqrt_2_over_pi();
    for (long i = 0; i < n; i++) {
        double x = inp[i];
        if (kind == HK_GELU_ERF)
            out[i] = 0.5 * x * erfc(-x * M_SQRT1_2);
        else
            out[i] = 0.5 * x * (1.0 + tanh(k * (x + GELU_TANH_C * x * x * x)));
    }
    return HK_OK;
}

// dout (n), inp (n) -> dinp (n) +=
int hk_gelu_backward(double *dinp, const double *dout, const double *inp, long n, hk_gelu_kind kind)
{
    HK_REQUIRE_PTR(dinp);
    HK_REQUIRE_PTR(dout);
    HK_REQUIRE_PTR(inp);
    HK_TRY(check_args(n, kind));
    HK_TRY(hk_check_finite(inp, n, "gelu inp"));
    const double k = sqrt_2_over_pi();
    const double inv_sqrt_2pi = 0.5 * k; /* 1/sqrt(2 pi) = sqrt(2/pi)/2 */
    for (long i = 0; i < n; i++) {
        double x = inp[i], d;
        if (kind == HK_GELU_ERF) {
            d = 0.5 * erfc(-x * M_SQRT1_2) + x * inv_sqrt_2pi * exp(-0.5 * x * x);
        } else {
            double u = k * (x + GELU_TANH_C * x * x * x);
            double ch = cosh(u), sech2 = 1.0 / (ch * ch);
            d = 0.5 * (1.0 + tanh(u));
            if (sech2 > 0.0) d += 0.5 * x * sech2 * k * (1.0 + 3.0 * GELU_TANH_C * x * x);
        }
        dinp[i] += dout[i] * d;
    }
    return HK_OK;
}
