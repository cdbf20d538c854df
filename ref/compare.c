/* hkref — element-wise tensor comparison (see compare.h). */
#include "compare.h"

#include "error.h"

#include <math.h>
#include <string.h>

void hk_format_index(char *buf, size_t size, long i, const long *shape, int ndim)
{
    if (!shape || ndim <= 0) {
        snprintf(buf, size, "[%ld]", i);
        return;
    }
    long idx[16];
    int nd = ndim > 16 ? 16 : ndim;
    for (int d = nd - 1; d >= 0; d--) {
        long s = shape[d] > 0 ? shape[d] : 1;
        idx[d] = i % s;
        i /= s;
    }
    size_t k = 0;
    for (int d = 0; d < nd && k < size; d++) {
        int w = snprintf(buf + k, size - k, "%s%ld", d ? "," : "[", idx[d]);
        if (w < 0) break;
        k += (size_t)w;
    }
    if (k < size) snprintf(buf + k, size - k, "]");
}

static int compare_any(const double *got, const double *ref, long n, const long *shape, int ndim, const char *name,
                       double atol, const double *atol_row, long row_len, double rtol, FILE *log, int max_print,
                       hk_cmp_result *res);

int hk_compare(const double *got, const double *ref, long n, const long *shape, int ndim,
               const char *name, double atol, double rtol, FILE *log, int max_print,
               hk_cmp_result *res)
{
    return compare_any(got, ref, n, shape, ndim, name, atol, NULL, 1, rtol, log, max_print, res);
}

int hk_compare_rows(const double *got, const double *ref, long n, const long *shape, int ndim, const char *name,
                    const double *atol_row, long row_len, double rtol, FILE *log, int max_print, hk_cmp_result *res)
{
    HK_REQUIRE(row_len > 0 && n % row_len == 0, HK_EINVAL, "'%s': row length %ld does not divide %ld elements",
               name ? name : "?", row_len, n);
    for (long r = 0; atol_row && r < n / row_len; r++)
        HK_REQUIRE(atol_row[r] >= 0, HK_EDOM, "row tolerance %ld of '%s' must be >= 0 and not NaN (%g)", r,
                   name ? name : "?", atol_row[r]);
    return compare_any(got, ref, n, shape, ndim, name, 0.0, atol_row, row_len, rtol, log, max_print, res);
}

static int compare_any(const double *got, const double *ref, long n, const long *shape, int ndim, const char *name,
                       double atol, const double *atol_row, long row_len, double rtol, FILE *log, int max_print,
                       hk_cmp_result *res)
{
    HK_REQUIRE_PTR(res);
    HK_REQUIRE(n >= 0, HK_EINVAL, "n must be >= 0 (got %ld)", n);
    HK_REQUIRE(n == 0 || got, HK_EINVAL, "argument 'got' is NULL");
    HK_REQUIRE(n == 0 || ref, HK_EINVAL, "argument 'ref' is NULL");
    HK_REQUIRE(atol >= 0 && rtol >= 0, HK_EDOM,
               "tolerances for '%s' must be >= 0 and not NaN (atol %g, rtol %g)", name ? name : "?", atol, rtol);
    memset(res, 0, sizeof *res);
    res->n = n;
    res->worst_index = n ? 0 : -1;
    res->worst_ratio = 0.0;
    int printed = 0;
    for (long i = 0; i < n; i++) {
        double g = got[i], r = ref[i];
        double err, thr = (atol_row ? atol_row[i / row_len] : atol) + rtol * fabs(r), ratio;
        int ok;
        if (isnan(g) || isnan(r)) {
            ok = 0;
            err = NAN;
            ratio = INFINITY;
        } else if (isinf(g) || isinf(r)) {
            ok = (g == r);
            err = ok ? 0.0 : INFINITY;
            ratio = ok ? 0.0 : INFINITY;
        } else {
            err = fabs(g - r);
            ok = err <= thr;
            ratio = thr > 0 ? err / thr : (err > 0 ? INFINITY : 0.0);
            if (err > res->max_abs) res->max_abs = err;
            double rel = r != 0 ? err / fabs(r) : (err > 0 ? INFINITY : 0.0);
            if (rel > res->max_rel) res->max_rel = rel;
        }
        if (!ok) {
            res->nfail++;
            if (log && printed < max_print) {
                char ib[128];
                hk_format_index(ib, sizeof ib, i, shape, ndim);
                fprintf(log, "    %s%s: got %.17g ref %.17g abs err %.3g threshold %.3g\n",
                        name ? name : "", ib, g, r, err, thr);
                printed++;
            }
        }
        if (ratio > res->worst_ratio || (i == 0)) {
            if (ratio >= res->worst_ratio) {
                res->worst_ratio = ratio;
                res->worst_index = i;
                res->worst_got = g;
                res->worst_ref = r;
            }
        }
    }
    return HK_OK;
}
