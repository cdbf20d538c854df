/* hkref — the registry of named checks (see checks.h). */
#include "checks.h"

#include "golden/registry.h"
#include "ref/error.h"

#include <ctype.h>
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

/* Case-insensitive substring. */
static int contains_ci(const char *hay, const char *needle)
{
    if (!hay) return 0;
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t k = 0;
        while (k < n && hay[k] && tolower((unsigned char)hay[k]) == tolower((unsigned char)needle[k])) k++;
        if (k == n) return 1;
    }
    return n == 0;
}

int hk_check_matches(const hk_check *c, const hk_check_filter *f)
{
    if (!f) return 1;
    if (f->group && strcmp(f->group, c->group) != 0) return 0;
    if (f->id && strcmp(f->id, c->name) != 0) return 0;
    if (f->prefix && strncmp(f->prefix, c->name, strlen(f->prefix)) != 0) return 0;
    if (f->id_contains && !strstr(c->name, f->id_contains)) return 0;
    if (f->substr && !contains_ci(c->name, f->substr) && !contains_ci(c->title, f->substr)) return 0;
    return 1;
}

size_t hk_checks_count_matching(const hk_check_filter *f)
{
    size_t m = 0;
    for (size_t i = 0; i < hk_checks_count(); i++) m += (size_t)hk_check_matches(hk_checks_get(i), f);
    return m;
}

long hk_checks_run_filter(const hk_check_filter *f, FILE *out, int verbose,
                          void (*before)(const hk_check *c, size_t k, size_t n, void *ctx), void (*after)(void *ctx),
                          void *ctx)
{
    long nfail = 0, nrun = 0;
    size_t n = hk_checks_count(), nsel = hk_checks_count_matching(f);
    int w = 30; /* the id column fits the longest selected id, so columns stay aligned */
    for (size_t i = 0; i < n; i++) {
        const hk_check *c = hk_checks_get(i);
        if (hk_check_matches(c, f) && (int)strlen(c->name) > w) w = (int)strlen(c->name);
    }
    if (out)
        fprintf(out, "%-*s %7s %10s %10s %-8s %-6s %s\n", w, "check", "cases", "worst", "bound", "unit", "result",
                "title");
    for (size_t i = 0; i < n; i++) {
        const hk_check *c = hk_checks_get(i);
        if (!hk_check_matches(c, f)) continue;
        hk_check_result r;
        if (before) before(c, (size_t)nrun, nsel, ctx);
        int ok = hk_check_run_one(c, &r);
        if (after) after(ctx);
        nrun++;
        if (!ok) nfail++;
        if (out) {
            fprintf(out, "%-*s %7ld %10.3e %10.3e %-8s %-6s %s\n", w, c->name, r.cases, r.worst, r.bound, r.unit,
                    ok ? "pass" : "FAIL", c->title ? c->title : "");
            if (!ok || verbose) fprintf(out, "    %s\n", r.detail);
            if (!ok) fprintf(out, "    __REPRO: hkref verify --check %s -v\n", c->name);
            if (verbose) fprintf(out, "    (%s)\n", c->what);
            fflush(out);
        }
    }
    if (out) fprintf(out, "%ld checks run, %ld failed\n", nrun, nfail);
    return nfail;
}

long hk_checks_run(const char *group, const char *prefix, FILE *out, int verbose)
{
    hk_check_filter f = {.group = group, .prefix = prefix};
    return hk_checks_run_filter(&f, out, verbose, NULL, NULL, NULL);
}
