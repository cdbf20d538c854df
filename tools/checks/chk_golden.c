/* hkref — golden checks: the committed golden set regenerates byte for byte,
 * and the checker is itself checked (it passes the reference against itself,
 * fails a perturbed output, rejects a golden file whose tolerance is NaN,
 * negative, zero or missing, and fails -- without stopping -- a tensor whose
 * bound is too loose or does not follow its stored ingredients). */
#include "checks.h"
#include "golden/case.h"

#include "ref/error.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The committed golden directory: $HKREF_GOLDEN, else ./golden (the gate and
 * `hkref verify` run from the repository root). */
static const char *golden_dir(void)
{
    const char *d = getenv("HKREF_GOLDEN");
    return d && *d ? d : "golden";
}

static int run_regenerates(hk_check_result *res)
{
    long n, ndiff;
    HK_TRY(hk_golden_compare_dir(golden_dir(), NULL, &n, &ndiff));
    res->cases = n;
    res->failed = ndiff;
    res->worst = (double)ndiff;
    res->bound = 0;
    snprintf(res->unit, sizeof res->unit, "files");
    snprintf(res->detail, sizeof res->detail,
             "%ld cases rebuilt in memory and byte-compared with %s/<op>/<case>.safetensors; %ld differ, missing "
             "or stale%s",
             n, golden_dir(), ndiff, ndiff ? " __REPRO: make golden-check" : "");
    return HK_OK;
}

/* A copy of f without tensor `skip` (NULL: every tensor), with f's metadata if meta
 * (a golden file) or without (a backend's file: the golden format marker is refused). */
static int copy_file(const hk_st_file *f, const char *skip, int meta, hk_st_file **out)
{
    HK_TRY(hk_st_new(out));
    for (size_t i = 0; i < f->ntensors; i++) {
        const hk_st_tensor *t = &f->tensors[i];
        if (skip && !strcmp(t->name, skip)) continue;
        HK_TRY(hk_st_add(*out, t->name, t->dtype, t->ndim, t->shape, t->data));
    }
    for (size_t i = 0; meta && i < f->nmeta; i++) HK_TRY(hk_st_set_meta(*out, f->meta[i].key, f->meta[i].value));
    return HK_OK;
}

static hk_st_tensor *first_float_output(hk_st_file *f)
{
    for (size_t i = 0; i < f->ntensors; i++) {
        hk_st_tensor *t = &f->tensors[i];
        if ((!strncmp(t->name, "out.", 4) || !strncmp(t->name, "grad.", 5)) && t->dtype == HK_ST_F64) return t;
    }
    return NULL;
}

/* Total failing tensors of got vs gold, or -1 (error message recorded). */
static long nfail(const hk_st_file *gold, const hk_st_file *got, hk_golden_dtype dt)
{
    hk_golden_result *r = malloc(sizeof *r);
    if (!r) return -1;
    long n = hk_golden_check_case(gold, got, dt, NULL, r) ? -1 : r->failed_tensors;
    free(r);
    return n;
}

/* Threshold atol + rtol|ref| of element i of tensor `name` for dtype; with row
 * scales, row i / (last axis)'s atol: rtol S_r + (atol - rtol S). */
static double threshold(const hk_st_file *gold, const char *name, const char *dt, long i, double ref)
{
    json_t *tol = json_loads(hk_st_get_meta(gold, "tolerance"), 0, NULL);
    json_t *e = json_object_get(tol, name), *d = json_object_get(e, dt);
    double atol = json_number_value(json_object_get(d, "atol")), rtol = json_number_value(json_object_get(d, "rtol"));
    json_t *rs = json_object_get(e, "row_scale");
    const hk_st_tensor *t = hk_st_find(gold, name), *S = rs ? hk_st_find(gold, json_string_value(rs)) : NULL;
    if (S && t && t->ndim > 0) {
        long row = i / t->shape[t->ndim - 1];
        /* the floor K tiny (atol - rtol S would lose it to rounding) */
        hk_golden_tol_in in = {json_number_value(json_object_get(e, "K")), json_number_value(json_object_get(e, "n")),
                               json_number_value(json_object_get(e, "scale")), (double)t->numel};
        hk_golden_tol m;
        double floor = hk_golden_tolerance(&in, strcmp(dt, "f32") ? HK_GOLDEN_F64 : HK_GOLDEN_F32, &m) ? 0 : m.floor;
        atol = rtol * ((const double *)S->data)[row] + floor;
    }
    json_decref(tol);
    return atol + rtol * fabs(ref);
}

/* The first output with row scales, or NULL. */
static hk_st_tensor *first_row_scaled(hk_st_file *f, const hk_st_file *gold)
{
    json_t *tol = json_loads(hk_st_get_meta(gold, "tolerance"), 0, NULL);
    hk_st_tensor *r = NULL;
    for (size_t i = 0; i < f->ntensors && !r; i++)
        if (json_object_get(json_object_get(tol, f->tensors[i].name), "row_scale")) r = &f->tensors[i];
    json_decref(tol);
    return r;
}

/* Per case: the reference against itself passes in both dtypes; the first
 * float output (and the first output with row scales) moved by 2x its
 * element's threshold at one element fails, by 0.5x passes. */
static int self_one(const hk_golden_case *c, long *cases, long *failed, char *detail, size_t dsize)
{
    hk_st_file *gold, *got = NULL;
    HK_TRY(hk_golden_build(c, &gold));
    int st = copy_file(gold, NULL, 0, &got);
    hk_st_tensor *t = st ? NULL : first_float_output(got), *rs = st ? NULL : first_row_scaled(got, gold);
    if (!st && !t) st = hk_error_set(HK_EFORMAT, __FILE__, __LINE__, "case %s has no float output", c->name);
    for (int k = 0; !st && k < 4; k++) {
        int dt = k % 2;
        if (k >= 2) {
            if (!rs) break;
            t = rs;
        }
        const char *dn = dt ? "f32" : "f64";
        double *v = t->data;
        long i = (long)(t->numel / 2);
        double orig = v[i], thr = threshold(gold, t->name, dn, i, orig);
        long same = nfail(gold, got, (hk_golden_dtype)dt);
        v[i] = orig + 0.5 * thr;
        long inside = nfail(gold, got, (hk_golden_dtype)dt);
        v[i] = orig + 2.0 * thr;
        long outside = nfail(gold, got, (hk_golden_dtype)dt);
        v[i] = orig;
        if (same < 0 || inside < 0 || outside < 0) {
            st = hk_error_code() ? hk_error_code() : HK_ENOMEM;
            break;
        }
        *cases += 3;
        if (same != 0 || inside != 0 || outside != 1) {
            (*failed)++;
            snprintf(detail, dsize, "%s %s %s: self %ld, +0.5 thr %ld, +2 thr %ld failing tensors (want 0, 0, 1)",
                     c->name, dn, t->name, same, inside, outside);
        }
    }
    hk_st_free(gold);
    hk_st_free(got);
    return st;
}

static int run_self(hk_check_result *res)
{
    size_t n = hk_golden_count();
    long cases = 0, failed = 0;
    res->detail[0] = 0;
    for (size_t i = 0; i < n; i++) HK_TRY(self_one(hk_golden_get(i), &cases, &failed, res->detail, sizeof res->detail));
    res->cases = cases;
    res->failed = failed;
    res->worst = (double)failed;
    res->bound = 0;
    snprintf(res->unit, sizeof res->unit, "wrong");
    if (!failed)
        snprintf(res->detail, sizeof res->detail,
                 "%zu cases x {f64,f32}: reference vs itself passes; one element +0.5 threshold passes, +2 "
                 "threshold fails exactly one tensor (the first output, and one with row scales)", n);
    return HK_OK;
}

/* Sets field (atol / rtol) of the first output's f64 tolerance to v, or
 * deletes the tensor's tolerance entry when field is NULL; field "n" sets the
 * ingredient n and the f64 bound to the model's value for it (a consistent
 * but too loose bound). */
static int edit_tol(hk_st_file *f, const char *tname, const char *field, double v)
{
    json_t *tol = json_loads(hk_st_get_meta(f, "tolerance"), 0, NULL);
    HK_REQUIRE(tol != NULL, HK_EFORMAT, "tolerance is not JSON");
    json_t *e = json_object_get(tol, tname);
    if (field && !strcmp(field, "n")) {
        const hk_st_tensor *t = hk_st_find(f, tname);
        hk_golden_tol_in in = {json_number_value(json_object_get(e, "K")), v,
                               json_number_value(json_object_get(e, "scale")), t ? (double)t->numel : 1.0};
        hk_golden_tol m;
        HK_TRY(hk_golden_tolerance(&in, HK_GOLDEN_F64, &m));
        json_object_set_new(e, "n", json_real(v));
        json_object_set_new(json_object_get(e, "f64"), "atol", json_real(m.atol));
        json_object_set_new(json_object_get(e, "f64"), "rtol", json_real(m.rtol));
    } else if (field)
        json_object_set_new(json_object_get(e, "f64"), field, json_real(v));
    else
        json_object_del(tol, tname);
    char *s = json_dumps(tol, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(tol);
    HK_REQUIRE(s != NULL, HK_ENOMEM, "cannot serialize tolerance");
    int st = hk_st_set_meta(f, "tolerance", s);
    free(s);
    return st;
}

/* The checker must refuse golden files with unusable tolerances (error),
 * fail -- and go on past -- a tensor whose bound is too loose or was edited
 * away from its ingredients, and fail backend files with a missing tensor,
 * a wrong shape, a wrong dtype. */
static int run_rejects(hk_check_result *res)
{
    const hk_golden_case *c = hk_golden_get(0);
    HK_REQUIRE(c != NULL, HK_ENOTFOUND, "no golden case registered");
    hk_st_file *gold;
    HK_TRY(hk_golden_build(c, &gold));
    hk_st_tensor *t0 = first_float_output(gold);
    char tname[96];
    snprintf(tname, sizeof tname, "%s", t0 ? t0->name : "");
    /* fails: 0 = the golden file is rejected (HK_EFORMAT, the run stops);
     * 1 = the comparison runs and exactly this tensor fails (the run goes on). */
    struct {
        const char *what, *field;
        double v;
        int fails;
    } bad[] = {{"NaN atol", "atol", NAN, 0},
               {"infinite rtol", "rtol", INFINITY, 0},
               {"negative atol", "atol", -1e-15, 0},
               {"zero rtol", "rtol", 0.0, 0},
               {"missing entry", NULL, 0, 0},
               {"rtol 0.01 (edited: not the model's)", "rtol", 0.01, 1},
               {"rtol doubled (edited, still < 1e-3)", "rtol", -2.0, 1},
               {"atol 1.0 (edited: beyond 1e-3 x scale)", "atol", 1.0, 1},
               {"atol 1e300 (edited)", "atol", 1e300, 1},
               {"n = 1e25 (consistent, rtol >= 1e-3: too loose)", "n", 1e25, 1}};
    long cases = 0, failed = 0;
    char *d = res->detail;
    size_t dl = sizeof res->detail;
    d[0] = 0;
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        hk_st_file *g2;
        int st = copy_file(gold, NULL, 1, &g2);
        if (!st) {
            /* NaN / inf cannot be JSON reals: emit them as a generator bug would (null / 1e999). */
            if (bad[k].field && !isfinite(bad[k].v)) {
                json_t *tol = json_loads(hk_st_get_meta(g2, "tolerance"), 0, NULL);
                json_object_set_new(json_object_get(json_object_get(tol, tname), "f64"), bad[k].field,
                                    isnan(bad[k].v) ? json_null() : json_string("inf"));
                char *s = json_dumps(tol, JSON_COMPACT);
                json_decref(tol);
                st = s ? hk_st_set_meta(g2, "tolerance", s) : HK_ENOMEM;
                free(s);
            } else if (bad[k].v < 0 && bad[k].fails) { /* -x: x times the stored rtol */
                json_t *tol = json_loads(hk_st_get_meta(gold, "tolerance"), 0, NULL);
                double r0 = json_number_value(json_object_get(json_object_get(json_object_get(tol, tname), "f64"), "rtol"));
                json_decref(tol);
                st = edit_tol(g2, tname, "rtol", -bad[k].v * r0);
            } else {
                st = edit_tol(g2, tname, bad[k].field, bad[k].v);
            }
        }
        if (st) {
            hk_st_free(g2);
            hk_st_free(gold);
            return st;
        }
        hk_golden_result *r = malloc(sizeof *r);
        hk_st_file *plain = NULL; /* the reference as a backend's file (no format marker) */
        int s = r ? copy_file(gold, NULL, 0, &plain) : HK_ENOMEM;
        if (!s) s = hk_golden_check_case(g2, plain, HK_GOLDEN_F64, NULL, r);
        hk_st_free(plain);
        int ok = bad[k].fails ? s == HK_OK && r->failed_tensors == 1 && r->t[0].problem[0] != 0
                              : s == HK_EFORMAT;
        free(r);
        hk_error_clear();
        cases++;
        if (!ok) {
            failed++;
            snprintf(d, dl, "golden tolerance with %s on %s: status %d, want %s", bad[k].what, tname, s,
                     bad[k].fails ? "the tensor failed, the case compared" : "the file rejected (EFORMAT)");
        }
        hk_st_free(g2);
    }
    /* Backend-side faults: a missing tensor, a wrong shape, F32 under --dtype f64. */
    hk_st_file *got;
    long n;
    HK_TRY(copy_file(gold, tname, 0, &got));
    n = nfail(gold, got, HK_GOLDEN_F64);
    cases++;
    if (n != 1) failed++, snprintf(d, dl, "missing tensor %s: %ld failing tensors, want 1", tname, n);
    hk_st_free(got);
    HK_TRY(copy_file(gold, tname, 0, &got));
    long sh[1] = {(long)t0->numel};
    HK_TRY(hk_st_add(got, tname, HK_ST_F64, 1, sh, t0->data));
    n = nfail(gold, got, HK_GOLDEN_F64);
    cases++;
    if (n != 1) failed++, snprintf(d, dl, "flattened %s: %ld failing tensors, want 1", tname, n);
    hk_st_free(got);
    HK_TRY(copy_file(gold, tname, 0, &got));
    float *f32 = malloc(t0->numel * sizeof *f32);
    HK_REQUIRE(f32 != NULL, HK_ENOMEM, "out of memory");
    for (size_t i = 0; i < t0->numel; i++) f32[i] = (float)((double *)t0->data)[i];
    HK_TRY(hk_st_add(got, tname, HK_ST_F32, t0->ndim, t0->shape, f32));
    free(f32);
    long n64 = nfail(gold, got, HK_GOLDEN_F64), n32 = nfail(gold, got, HK_GOLDEN_F32);
    cases += 2;
    if (n64 != 1 || n32 != 0)
        failed++, snprintf(d, dl, "F32 %s: %ld failing under f64 (want 1), %ld under f32 (want 0)", tname, n64, n32);
    hk_st_free(got);
    /* The golden file itself as the backend's file (its format marker): refused, every tensor fails. */
    {
        hk_golden_result *r = malloc(sizeof *r);
        HK_REQUIRE(r != NULL, HK_ENOMEM, "out of memory");
        int s = hk_golden_check_case(gold, gold, HK_GOLDEN_F64, NULL, r);
        cases++;
        if (s || r->failed_tensors != r->ntensors || !strstr(r->problem, "format marker"))
            failed++, snprintf(d, dl, "the golden file as its own output: status %d, %ld of %d tensors failing, "
                               "problem '%s' (want all, refused)", s, r->failed_tensors, r->ntensors, r->problem);
        free(r);
        hk_error_clear();
    }
    /* Zero-trust: a golden output made mostly zeros (without zeros_expected) is mistrusted. */
    HK_TRY(copy_file(gold, NULL, 0, &got));
    hk_st_file *g2;
    HK_TRY(copy_file(gold, NULL, 1, &g2));
    for (size_t i = 0; i < g2->ntensors; i++)
        if (!strcmp(g2->tensors[i].name, tname)) memset(g2->tensors[i].data, 0, g2->tensors[i].nbytes);
    for (size_t i = 0; i < got->ntensors; i++)
        if (!strcmp(got->tensors[i].name, tname)) memset(got->tensors[i].data, 0, got->tensors[i].nbytes);
    n = nfail(g2, got, HK_GOLDEN_F64);
    cases++;
    if (n != 1) failed++, snprintf(d, dl, "all-zero reference %s agreeing with all-zero output: %ld failing, want 1 (mistrusted)", tname, n);
    hk_st_free(got);
    hk_st_free(g2);
    hk_st_free(gold);
    res->cases = cases;
    res->failed = failed;
    res->worst = (double)failed;
    res->bound = 0;
    snprintf(res->unit, sizeof res->unit, "wrong");
    if (!failed)
        snprintf(d, dl, "golden tolerances NaN / inf / negative / zero / missing are rejected; a too loose or edited "
                        "bound (rtol, atol) fails its tensor; missing tensor, wrong shape, F32-under-f64, the golden "
                        "file as output and a mistrusted all-zero reference fail");
    return HK_OK;
}

static const hk_check checks[] = {
    {"golden", "golden.regenerates", "every case rebuilt in memory equals the committed golden/ file byte for byte",
     run_regenerates,
     "The golden set regenerates byte for byte"},
    {"golden", "golden.checker.self",
     "checker: reference vs itself passes (f64, f32); +0.5 threshold passes, +2 threshold fails", run_self,
     "The golden checker passes the reference against itself"},
    {"golden", "golden.checker.rejects",
     "checker: unusable tolerances rejected; too loose / edited bounds and missing / misshapen / wrong-dtype / "
     "mistrusted outputs fail", run_rejects,
     "The golden checker fails wrong, missing or untrustworthy outputs"},
};

const hk_check *hk_checks_golden(size_t *n)
{
    *n = sizeof checks / sizeof checks[0];
    return checks;
}
