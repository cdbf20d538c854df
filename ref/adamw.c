/* hkref — plain scalar double reference: the AdamW optimizer step (see adamw.h). */
#include "adamw.h"

#include "error.h"

#include <math.h>

static int check_hparams(const hk_adamw_hparams *hp)
{
    HK_REQUIRE_PTR(hp);
    HK_REQUIRE(isfinite(hp->lr) && hp->lr > 0, HK_EDOM, "adamw lr must be finite and > 0 (got %g)", hp->lr);
    HK_REQUIRE(hp->beta1 >= 0 && hp->beta1 < 1, HK_EDOM, "adamw beta1 must be in [0, 1) (got %g)", hp->beta1);
    HK_REQUIRE(hp->beta2 >= 0 && hp->beta2 < 1, HK_EDOM, "adamw beta2 must be in [0, 1) (got %g)", hp->beta2);
    HK_REQUIRE(isfinite(hp->eps) && hp->eps > 0, HK_EDOM, "adamw eps must be finite and > 0 (got %g)", hp->eps);
    HK_REQUIRE(isfinite(hp->weight_decay) && hp->weight_decay >= 0, HK_EDOM,
               "adamw weight_decay must be finite and >= 0 (got %g)", hp->weight_decay);
    return HK_OK;
}

// param, grad, m, v: n values at stride inc -> param, m, v updated in place
int hk_adamw_step(double *param, const double *grad, double *m, double *v, long n, long inc, long t,
                  const hk_adamw_hparams *hp)
{
    HK_REQUIRE_PTR(param);
    HK_REQUIRE_PTR(grad);
    HK_REQUIRE_PTR(m);
    HK_REQUIRE_PTR(v);
    HK_TRY(check_hparams(hp));
    HK_REQUIRE(n > 0, HK_EINVAL, "adamw n must be > 0 (got %ld)", n);
    HK_REQUIRE(inc >= 1, HK_EINVAL, "adamw stride inc must be >= 1 (got %ld)", inc);
    HK_REQUIRE(t >= 1, HK_EDOM, "adamw step number t must be >= 1 (got %ld)", t);
    for (long k = 0; k < n; k++) {
        const double g = grad[k * inc];
        if (!isfinite(g)) HK_ERROR(HK_ENAN, "adamw grad[%ld] is %g; a finite value is required", k * inc, g);
        /* (1 - beta2) g^2 overflows for |g| beyond ~sqrt(DBL_MAX / (1 - beta2)): v = inf would freeze
         * the parameter silently */
        if (!isfinite(hp->beta2 * v[k * inc] + (1.0 - hp->beta2) * g * g))
            HK_ERROR(HK_EDOM, "adamw grad[%ld] = %g: the second moment v overflows (|grad| must stay below "
                     "sqrt(DBL_MAX / (1 - beta2)))", k * inc, g);
    }
    double bc1 = 1.0 - pow(hp->beta1, (double)t);
    double bc2 = 1.0 - pow(hp->beta2, (double)t);
    double step = hp->lr / bc1, sbc2 = sqrt(bc2), decay = 1.0 - hp->lr * hp->weight_decay;
    for (long k = 0; k < n; k++) {
        long i = k * inc;
        double g = grad[i];
        param[i] *= decay;
        m[i] = hp->beta1 * m[i] + (1.0 - hp->beta1) * g;
        v[i] = hp->beta2 * v[i] + (1.0 - hp->beta2) * g * g;
        param[i] -= step * m[i] / (sqrt(v[i]) / sbc2 + hp->eps);
    }
    return HK_OK;
}
