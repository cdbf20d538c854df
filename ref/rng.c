/* hkref — plain scalar double reference: seeded randomness (see rng.h). */
#include "rng.h"

#include "error.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <string.h>

gsl_rng *hk_rng_new(unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) {
        hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "cannot allocate the mt19937 generator");
        return NULL;
    }
    gsl_rng_set(r, seed);
    return r;
}

void hk_rng_free(gsl_rng *r) { gsl_rng_free(r); }

int hk_rng_fill_uniform(double *x, long n, double lo, double hi, gsl_rng *r)
{
    HK_REQUIRE_PTR(x);
    HK_REQUIRE_PTR(r);
    HK_REQUIRE(n >= 0, HK_EINVAL, "n must be >= 0 (got %ld)", n);
    HK_REQUIRE(isfinite(lo) && isfinite(hi) && lo <= hi, HK_EDOM,
               "uniform range [%g, %g) must be finite with lo <= hi", lo, hi);
    for (long i = 0; i < n; i++) x[i] = lo + (hi - lo) * gsl_rng_uniform(r);
    return HK_OK;
}

int hk_rng_fill_normal(double *x, long n, double sigma, gsl_rng *r)
{
    HK_REQUIRE_PTR(x);
    HK_REQUIRE_PTR(r);
    HK_REQUIRE(n >= 0, HK_EINVAL, "n must be >= 0 (got %ld)", n);
    HK_REQUIRE(isfinite(sigma) && sigma >= 0, HK_EDOM, "sigma must be finite and >= 0 (got %g)", sigma);
    for (long i = 0; i < n; i++) x[i] = gsl_ran_gaussian_ziggurat(r, sigma);
    return HK_OK;
}

int hk_rng_uniform_int(long *out, long lo, long hi, gsl_rng *r)
{
    HK_REQUIRE_PTR(out);
    HK_REQUIRE_PTR(r);
    HK_REQUIRE(lo <= hi, HK_EDOM, "integer range [%ld, %ld] is empty", lo, hi);
    unsigned long span = (unsigned long)(hi - lo) + 1UL;
    HK_REQUIRE(span <= gsl_rng_max(r) - gsl_rng_min(r), HK_EDOM, "integer range too wide for mt19937");
    *out = lo + (long)gsl_rng_uniform_int(r, span);
    return HK_OK;
}

int hk_check_rate(double p, const char *what)
{
    if (!(isfinite(p) && p >= 0.0 && p < 1.0))
        HK_ERROR(HK_EDOM, "%s must be in [0, 1) (got %g)", what ? what : "p", p);
    return HK_OK;
}

int hk_mask_bernoulli(uint8_t *mask, long n, double p, gsl_rng *r)
{
    HK_REQUIRE_PTR(mask);
    HK_REQUIRE(n >= 0, HK_EINVAL, "n must be >= 0 (got %ld)", n);
    HK_TRY(hk_check_rate(p, "p"));
    memset(mask, 0, (size_t)n);
    if (p == 0.0) return HK_OK;
    HK_REQUIRE_PTR(r);
    for (long i = 0; i < n; i++) mask[i] = gsl_rng_uniform(r) < p ? 1 : 0; /* 1 = dropped: a draw below p drops */
    return HK_OK;
}
