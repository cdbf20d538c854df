/* hkref — central finite differences for checking every backward (see gradcheck.h). */
#include "gradcheck.h"

#include "error.h"

#include <gsl/gsl_deriv.h>
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    hk_gc_loss_fn f;
    void *ctx;
    double *xi;
    int saw_nan;
} probe;

static double probe_eval(double v, void *p)
{
    probe *pr = p;
    double saved = *pr->xi;
    *pr->xi = v;
    double L = pr->f(pr->ctx);
    *pr->xi = saved;
    if (!isfinite(L)) pr->saw_nan = 1;
    return L;
}

int hk_gradcheck(hk_gc_loss_fn f, void *ctx, const hk_gc_var *vars, int nvars,
                 const hk_gc_opts *opts, hk_gc_report *rep)
{
    HK_REQUIRE_PTR(f);
    HK_REQUIRE_PTR(vars);
    HK_REQUIRE_PTR(rep);
    HK_REQUIRE(nvars > 0, HK_EINVAL, "nvars must be > 0 (got %d)", nvars);
    hk_gc_opts o = {HK_GC_DEFAULT_H, HK_GC_DEFAULT_ATOL, HK_GC_DEFAULT_RTOL};
    if (opts) o = *opts;
    HK_REQUIRE(o.h > 0 && isfinite(o.h), HK_EDOM, "gradcheck step h must be finite and > 0 (got %g)", o.h);
    HK_REQUIRE(o.atol >= 0 && o.rtol >= 0 && o.atol + o.rtol > 0 && isfinite(o.atol + o.rtol), HK_EDOM,
               "gradcheck tolerances must be finite, >= 0 and not both 0 (atol %g, rtol %g)", o.atol, o.rtol);
    memset(rep, 0, sizeof *rep);
    rep->worst_ratio = -1.0;

    /* GSL's default handler aborts on error; gsl_deriv_central reports none,
     * but be explicit that ref/ never lets GSL abort the process. */
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int status = HK_OK;
    for (int v = 0; v < nvars && status == HK_OK; v++) {
        const hk_gc_var *var = &vars[v];
        if (!var->x || !var->grad || var->n < 0) {
            status = hk_error_set(HK_EINVAL, __FILE__, __LINE__, "gradcheck variable %d ('%s') has NULL data or n < 0",
                                  v, var->name ? var->name : "?");
            break;
        }
        for (long i = 0; i < var->n; i++) {
            probe pr = {f, ctx, &var->x[i], 0};
            gsl_function F = {probe_eval, &pr};
            double fd = 0.0, abserr = 0.0;
            /* Absolute step: the checks keep coordinates below ~1e3 in size,
             * where x + h still resolves h to ~1e-9 relative. */
            gsl_deriv_central(&F, var->x[i], o.h, &fd, &abserr);
            if (pr.saw_nan || !isfinite(fd)) {
                status = hk_error_set(HK_ENAN, __FILE__, __LINE__,
                                      "loss is not finite when perturbing %s[%ld]", var->name, i);
                break;
            }
            double g = var->grad[i];
            double err = fabs(g - fd);
            double tol = o.atol + o.rtol * fabs(fd);
            int inconclusive = abserr > 0.25 * tol;
            int bad = !(err <= tol) || inconclusive; /* NaN g fails */
            rep->checked++;
            if (bad) rep->failed++;
            if (inconclusive) rep->inconclusive++;
            double ratio = isnan(err) ? INFINITY : err / tol;
            if (inconclusive && ratio < 1.0) ratio = 1.0 + abserr / tol; /* rank it as failing */
            if (ratio > rep->worst_ratio) {
                rep->worst_ratio = ratio;
                snprintf(rep->worst_var, sizeof rep->worst_var, "%s", var->name ? var->name : "?");
                rep->worst_index = i;
                rep->worst_analytic = g;
                rep->worst_numeric = fd;
                rep->worst_err = err;
                rep->worst_tol = tol;
                rep->worst_fd_abserr = abserr;
            }
        }
    }
    gsl_set_error_handler(old);
    return status;
}
