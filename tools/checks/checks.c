/* hkref — the registry of named checks (see checks.h). */
#include "checks.h"

#include "golden/registry.h"
#include "ref/error.h"

#include <math.h>
#include <string.h>

typedef const hk_check *(*table_fn)(size_t *n);
static const table_fn tables[] = {
#define HK_CHECKS(mod) hk_checks_##mod,
#include "checks.inc"
#undef HK_CHECKS
    NULL};

HK_REGISTRY_DEFINE(hk_check, tables, hk_checks_count, hk_checks_get)

double hk_dot(const double *out, const double *w, long n)
{
    double s = 0.0;
    for (long i = 0; i < n; i++) s += out[i] * w[i];
    return s;
}

void hk_check_from_gc(hk_check_result *res, const hk_gc_report *rep)
{
    res->cases = rep->checked;
    res->failed = rep->failed;
    res->worst = rep->worst_ratio;
    res->bound = 1.0;
    snprintf(res->unit, sizeof res->unit, "err/tol");
    snprintf(res->detail, sizeof res->detail,
             "worst %s[%ld]: analytic %.17g fd %.17g err %.3g tol %.3g (fd err est %.2g)%s",
             rep->worst_var, rep->worst_index, rep->worst_analytic, rep->worst_numeric, rep->worst_err,
             rep->worst_tol, rep->worst_fd_abserr, rep->inconclusive ? "; some coordinates inconclusive" : "");
}

int hk_check_run_one(const hk_check *c, hk_check_result *res)
{
    memset(res, 0, sizeof *res);
    hk_error_clear();
    int s = c->run(res);
    if (s != 0) {
        res->failed = res->failed ? res->failed : 1;
        snprintf(res->detail, sizeof res->detail, "error %s: %s", hk_strerror(s), hk_error_message());
        return 0;
    }
    /* A check that tried nothing cannot pass. */
    if (res->cases <= 0) {
        res->failed = 1;
        snprintf(res->detail, sizeof res->detail, "check ran no cases");
        return 0;
    }
    if (isnan(res->worst) || isnan(res->bound) || !(res->worst <= res->bound)) {
        if (!res->failed) res->failed = 1;
    }
    return res->failed == 0;
}

static int selected(const hk_check *c, const char *group, const char *prefix)
{
    return (!group || strcmp(group, c->group) == 0) && (!prefix || strncmp(prefix, c->name, strlen(prefix)) == 0);
}

long hk_checks_run(const char *group, const char *prefix, FILE *out, int verbose)
{
    long nfail = 0, nrun = 0;
    size_t n = hk_checks_count();
    int w = 34; /* the check column fits the longest selected name, so columns stay aligned */
    for (size_t i = 0; i < n; i++) {
        const hk_check *c = hk_checks_get(i);
        if (selected(c, group, prefix) && (int)strlen(c->name) > w) w = (int)strlen(c->name);
    }
    if (out)
        fprintf(out, "%-10s %-*s %8s %12s %10s %-8s %s\n", "group", w, "check", "cases", "worst", "bound", "unit",
                "result");
    for (size_t i = 0; i < n; i++) {
        const hk_check *c = hk_checks_get(i);
        if (!selected(c, group, prefix)) continue;
        hk_check_result r;
        int ok = hk_check_run_one(c, &r);
        nrun++;
        if (!ok) nfail++;
        if (out) {
            fprintf(out, "%-10s %-*s %8ld %12.3e %10.3e %-8s %s\n", c->group, w, c->name, r.cases, r.worst, r.bound,
                    r.unit, ok ? "pass" : "FAIL");
            if (!ok || verbose) fprintf(out, "           %s\n", r.detail);
            if (verbose) fprintf(out, "           (%s)\n", c->what);
            fflush(out);
        }
    }
    if (out) fprintf(out, "%ld checks run, %ld failed\n", nrun, nfail);
    return nfail;
}
