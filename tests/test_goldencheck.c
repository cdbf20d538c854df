/* hkref — the golden checker (libhkgolden: tools/golden/check.c, check_dir.c)
 * held to golden/README.md "Tolerances" and "Checking a backend", on golden
 * files built by hand here (not by the case builders), so every expected
 * verdict and number follows from the documented rule, not from the code:
 *
 *   an element passes when |got - ref| <= atol + rtol |ref| (inclusive), with
 *   the golden file's tolerance of the dtype tier checked (f64 or f32), which
 *   must be what its stored ingredients give (rtol = K n_eff e, atol = rtol S
 *   + K tiny); a bound that does not follow them, whose ingredients are out
 *   of range or whose rtol is >= 1e-3 fails that tensor, named;
 *   integer tensors compare bit-exactly and need an integer dtype; a float
 *   output must be F64 (or F32 under --dtype f32); a golden file whose
 *   tolerance is missing, NaN, infinite, negative, rtol 0 or without numeric
 *   K / n / scale is rejected (an error, exit 2); a reference more than 50 % exact zeros (not zeros_expected) is
 *   mistrusted; a missing file or tensor, a wrong shape or dtype fails; the
 *   first 10 failing elements of a case are listed; a directory run checks
 *   the selected cases in sorted order and counts run / failed / skipped,
 *   after verifying every file against the set's MANIFEST.
 *
 * Values are exact binary fractions, so thresholds and errors are exact and
 * the boundary element can sit exactly on its threshold. */
#include "hk_test.h"

#include "golden/check.h"
#include "golden/manifest.h"
#include "golden/sha256.h"
#include "ref/fileio.h"
#include "ref/tensorfile.h"

#include <float.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* The ingredients of every float output here: K = 2, n = 32 rounding steps,
 * scale S = 16.  golden/README.md "Tolerances": lambda = sqrt(2 ln(2 N / 1e-9))
 * is > 6.4 for every N >= 1, so n_eff = min(n, lambda sqrt n) = n = 32, and
 *   f64: rtol = K n DBL_EPSILON = 2^-46,  atol = rtol S + K DBL_MIN = 2^-42
 *        (the floor 2^-1021 is below atol's last bit);
 *   f32: rtol = K n (FLT_EPSILON/2 + DBL_EPSILON/2) = 2^-18 + 2^-47,
 *        atol = rtol S + K FLT_MIN = 2^-14 + 2^-43 (+ 2^-125, below its last bit):
 * short binary fractions, so every threshold below is exact (asserted). */
#define TOL_K 2.0
#define TOL_N 32.0
#define TOL_S 16.0
#define R64 0x1p-46
#define A64 0x1p-42
#define R32 (0x1p-18 + 0x1p-47)
#define A32 (0x1p-14 + 0x1p-43)

static const double Y[6] = {1.5, -2.25, 3.0, 0.5, -4.0, 6.25}; /* out.y (2,3) */
static const double GX[4] = {0.75, -1.125, 2.5, -0.375};       /* grad.x (4) */
static const int64_t IDX[3] = {2, 0, 1};                        /* out.idx (3), exact */

static json_t *tier(double atol, double rtol)
{
    json_t *o = json_object();
    json_object_set_new(o, "atol", json_real(atol));
    json_object_set_new(o, "rtol", json_real(rtol));
    return o;
}

static json_t *float_tol(void)
{
    json_t *o = json_object();
    json_object_set_new(o, "K", json_real(TOL_K));
    json_object_set_new(o, "n", json_real(TOL_N));
    json_object_set_new(o, "scale", json_real(TOL_S));
    json_object_set_new(o, "f64", tier(A64, R64));
    json_object_set_new(o, "f32", tier(A32, R32));
    return o;
}

static json_t *default_tol(void)
{
    json_t *t = json_object();
    json_object_set_new(t, "out.y", float_tol());
    json_object_set_new(t, "grad.x", float_tol());
    json_t *e = json_object();
    json_object_set_new(e, "exact", json_true());
    json_object_set_new(t, "out.idx", e);
    return t;
}

static void set_tol(hk_st_file *f, json_t *tol)
{
    char *s = json_dumps(tol, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    ck_assert_ptr_nonnull(s);
    hk_assert_ok(hk_st_set_meta(f, "tolerance", s));
    free(s);
    json_decref(tol);
}

/* A golden case: in.x, out.y, grad.x, out.idx, with y (6 values) and tolerance tol (consumed). */
static hk_st_file *gold_with(const char *name, const double *y, json_t *tol)
{
    hk_st_file *f;
    hk_assert_ok(hk_st_new(&f));
    long s3[1] = {3}, s23[2] = {2, 3}, s4[1] = {4};
    double x[3] = {0.25, 0.5, -0.75};
    hk_assert_ok(hk_st_add(f, "in.x", HK_ST_F64, 1, s3, x));
    hk_assert_ok(hk_st_add(f, "out.y", HK_ST_F64, 2, s23, y));
    hk_assert_ok(hk_st_add(f, "grad.x", HK_ST_F64, 1, s4, GX));
    hk_assert_ok(hk_st_add(f, "out.idx", HK_ST_I64, 1, s3, IDX));
    hk_assert_ok(hk_st_set_meta(f, "format", HK_GOLDEN_FORMAT));
    hk_assert_ok(hk_st_set_meta(f, "op", "toy"));
    hk_assert_ok(hk_st_set_meta(f, "case", name));
    set_tol(f, tol);
    return f;
}

static hk_st_file *gold_default(void) { return gold_with("toy_case", Y, default_tol()); }

/* The backend's file: gold's out.* / grad.* tensors, as they are. */
static hk_st_file *outputs_of(const hk_st_file *g)
{
    hk_st_file *f;
    hk_assert_ok(hk_st_new(&f));
    for (size_t i = 0; i < g->ntensors; i++) {
        const hk_st_tensor *t = &g->tensors[i];
        if (strncmp(t->name, "out.", 4) && strncmp(t->name, "grad.", 5)) continue;
        hk_assert_ok(hk_st_add(f, t->name, t->dtype, t->ndim, t->shape, t->data));
    }
    return f;
}

static double *f64_of(hk_st_file *f, const char *name)
{
    const hk_st_tensor *t = hk_st_find(f, name);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->dtype, HK_ST_F64);
    return t->data;
}

static const hk_golden_tensor_result *tensor(const hk_golden_result *r, const char *name)
{
    for (int i = 0; i < r->ntensors; i++)
        if (!strcmp(r->t[i].name, name)) return &r->t[i];
    ck_abort_msg("no result for tensor %s", name);
    return NULL;
}

static hk_golden_result *res_new(void)
{
    hk_golden_result *r = malloc(sizeof *r);
    ck_assert_ptr_nonnull(r);
    return r;
}

/* ---- one case ---- */

/* The threshold is inclusive, per element, and the tier's own: element [1,2]
 * (ref 6.25) exactly on atol + rtol |ref| passes, one ulp above fails; the
 * reported numbers describe that element. */
START_TEST(threshold_is_inclusive_per_element_and_per_tier)
{
    hk_st_file *g = gold_default(), *o = outputs_of(g);
    hk_golden_result *r = res_new();
    double *y = f64_of(o, "out.y");
    for (int dt = 0; dt < 2; dt++) {
        const double thr = dt ? A32 + R32 * 6.25 : A64 + R64 * 6.25;
        hk_assert_ok(hk_golden_check_case(g, o, (hk_golden_dtype)dt, NULL, r));
        ck_assert_int_eq(r->failed_tensors, 0);
        ck_assert_int_eq(r->ntensors, 3); /* out.y, grad.x, out.idx; in.x is an input */
        y[5] = 6.25 + thr;
        ck_assert(y[5] - 6.25 == thr); /* exact */
        hk_assert_ok(hk_golden_check_case(g, o, (hk_golden_dtype)dt, NULL, r));
        ck_assert_msg(r->failed_tensors == 0, "tier %d: an element exactly on its threshold fails", dt);
        ck_assert(tensor(r, "out.y")->pct == 100.0);
        y[5] = nextafter(6.25 + thr, INFINITY);
        hk_assert_ok(hk_golden_check_case(g, o, (hk_golden_dtype)dt, NULL, r));
        ck_assert_int_eq(r->failed_tensors, 1);
        const hk_golden_tensor_result *t = tensor(r, "out.y");
        ck_assert_int_eq(t->n, 6);
        ck_assert_int_eq(t->nfail, 1);
        ck_assert_str_eq(t->worst, "[1,2]");
        ck_assert(t->worst_got == y[5] && t->worst_ref == 6.25);
        ck_assert(t->max_abs == y[5] - 6.25);
        ck_assert(t->max_rel == (y[5] - 6.25) / 6.25);
        ck_assert(t->atol == (dt ? A32 : A64) && t->rtol == (dt ? R32 : R64));
        ck_assert(t->pct == 100.0 * ((y[5] - 6.25) / thr) && t->pct > 100.0);
        ck_assert(!t->exact && !t->problem[0]);
        ck_assert_int_eq(tensor(r, "grad.x")->nfail, 0);
        y[5] = 6.25;
    }
    /* 2x the f64 threshold: fails f64, passes f32 (whose threshold is 2^29 larger) */
    y[5] = 6.25 + 2 * (A64 + R64 * 6.25);
    hk_assert_ok(hk_golden_check_case(g, o, HK_GOLDEN_F64, NULL, r));
    ck_assert_int_eq(r->failed_tensors, 1);
    hk_assert_ok(hk_golden_check_case(g, o, HK_GOLDEN_F32, NULL, r));
    ck_assert_int_eq(r->failed_tensors, 0);
    /* atol matters near zero: grad.x[3] (ref -0.375) off by exactly atol + rtol*0.375 passes */
    double *gx = f64_of(o, "grad.x");
    y[5] = 6.25;
    gx[3] = -0.375 - (A64 + R64 * 0.375);
    hk_assert_ok(hk_golden_check_case(g, o, HK_GOLDEN_F64, NULL, r));
    ck_assert_int_eq(r->failed_tensors, 0);
    gx[3] = -0.375 - 2 * A64;
    hk_assert_ok(hk_golden_check_case(g, o, HK_GOLDEN_F64, NULL, r));
    ck_assert_int_eq(r->failed_tensors, 1);
    ck_assert_str_eq(tensor(r, "grad.x")->worst, "[3]");
    free(r);
    hk_st_free(g);
    hk_st_free(o);
}
END_TEST

/* NaN and infinity from a backend fail, whatever the tolerance. */
START_TEST(non_finite_backend_values_fail)
{
    hk_st_file *g = gold_default(), *o = outputs_of(g);
    hk_golden_result *r = res_new();
    double *y = f64_of(o, "out.y");
    const double bad[3] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 3; k++) {
        y[2] = bad[k];
        hk_assert_ok(hk_golden_check_case(g, o, HK_GOLDEN_F32, NULL, r));
        ck_assert_int_eq(r->failed_tensors, 1);
        ck_assert_int_eq(tensor(r, "out.y")->nfail, 1);
        ck_assert_str_eq(tensor(r, "out.y")->worst, "[0,2]");
    }
    free(r);
    hk_st_free(g);
    hk_st_free(o);
}
END_TEST

/* Integer outputs: bit-exact, any integer dtype; a float dtype is a dtype failure. */
START_TEST(integer_outputs_compare_exactly_in_an_integer_dtype)
{
    hk_st_file *g = gold_default();
    hk_golden_result *r = res_new();
    long s3[1] = {3};
    struct {
        hk_st_dtype dt;
        const void *data;
        int fails;
    } rows[4];
    const int32_t i32[3] = {2, 0, 1};
    const int64_t off[3] = {2, 0, 2};
    const double f[3] = {2, 0, 1};
    const uint8_t u8[3] = {2, 0, 1};
    rows[0].dt = HK_ST_I32, rows[0].data = i32, rows[0].fails = 0;
    rows[1].dt = HK_ST_U8, rows[1].data = u8, rows[1].fails = 0;
    rows[2].dt = HK_ST_I64, rows[2].data = off, rows[2].fails = 1;
    rows[3].dt = HK_ST_F64, rows[3].data = f, rows[3].fails = 3;
    for (int k = 0; k < 4; k++) {
        hk_st_file *o;
        hk_assert_ok(hk_st_new(&o));
        long s23[2] = {2, 3}, s4[1] = {4};
        hk_assert_ok(hk_st_add(o, "out.y", HK_ST_F64, 2, s23, Y));
        hk_assert_ok(hk_st_add(o, "grad.x", HK_ST_F64, 1, s4, GX));
        hk_assert_ok(hk_st_add(o, "out.idx", rows[k].dt, 1, s3, rows[k].data));
        for (int dt = 0; dt < 2; dt++) {
            hk_assert_ok(hk_golden_check_case(g, o, (hk_golden_dtype)dt, NULL, r));
            const hk_golden_tensor_result *t = tensor(r, "out.idx");
            ck_assert_msg(t->nfail == rows[k].fails, "out.idx as %s: %ld failing, want %d", hk_st_dtype_name(rows[k].dt),
                          t->nfail, rows[k].fails);
            ck_assert_int_eq(r->failed_tensors, rows[k].fails ? 1 : 0);
            ck_assert(t->exact);
            if (k == 3) ck_assert_msg(strstr(t->problem, "integer") != NULL, "problem: %s", t->problem);
        }
        hk_st_free(o);
    }
    free(r);
    hk_st_free(g);
}
END_TEST

/* Float outputs: F64 always; F32 only under the f32 tier; never F16. */
START_TEST(float_outputs_need_f64_or_f32_under_the_f32_tier)
{
    hk_st_file *g = gold_default();
    hk_golden_result *r = res_new();
    const hk_st_dtype dts[3] = {HK_ST_F32, HK_ST_F16, HK_ST_BF16};
    for (int k = 0; k < 3; k++) {
        hk_st_file *o = outputs_of(g);
        hk_st_file *o2;
        hk_assert_ok(hk_st_new(&o2));
        for (size_t i = 0; i < o->ntensors; i++) {
            hk_st_tensor *t = &o->tensors[i];
            if (strcmp(t->name, "grad.x")) {
                hk_assert_ok(hk_st_add(o2, t->name, t->dtype, t->ndim, t->shape, t->data));
                continue;
            }
            float fx[4];
            uint16_t hx[4] = {0x3a00, 0xbc80, 0x4100, 0xb600}; /* 0.75 -1.125 2.5 -0.375 in binary16 */
            for (int j = 0; j < 4; j++) fx[j] = (float)GX[j];
            hk_assert_ok(hk_st_add(o2, t->name, dts[k], t->ndim, t->shape, k ? (const void *)hx : (const void *)fx));
        }
        hk_assert_ok(hk_golden_check_case(g, o2, HK_GOLDEN_F64, NULL, r));
        ck_assert_int_eq(tensor(r, "grad.x")->nfail, 4);
        ck_assert_msg(strstr(tensor(r, "grad.x")->problem, "dtype") != NULL, "%s", tensor(r, "grad.x")->problem);
        hk_assert_ok(hk_golden_check_case(g, o2, HK_GOLDEN_F32, NULL, r));
        ck_assert_int_eq(tensor(r, "grad.x")->nfail, k == 0 ? 0 : 4);
        hk_st_free(o);
        hk_st_free(o2);
    }
    free(r);
    hk_st_free(g);
}
END_TEST

/* Edits tier `key` of tensor `name`: field set to v (a number) or to JSON j (consumed). */
static hk_st_file *gold_tol_edit(const char *name, const char *key, const char *field, double v, json_t *j)
{
    json_t *tol = default_tol();
    json_t *t = json_object_get(json_object_get(tol, name), key);
    if (j) json_object_set_new(t, field, j);
    else json_object_set_new(t, field, json_real(v));
    return gold_with("toy_case", Y, tol);
}

static int check_status(hk_st_file *g, hk_golden_dtype dt)
{
    hk_st_file *o = outputs_of(g);
    hk_golden_result *r = res_new();
    hk_error_clear();
    int st = hk_golden_check_case(g, o, dt, NULL, r);
    free(r);
    hk_st_free(o);
    hk_st_free(g);
    return st;
}

/* Edits ingredient `field` (K, n, scale) of tensor `name`: set to v, or to JSON j (consumed), or removed (j and v NAN). */
static hk_st_file *gold_ingredient_edit(const char *name, const char *field, double v, json_t *j)
{
    json_t *tol = default_tol(), *e = json_object_get(tol, name);
    if (j) json_object_set_new(e, field, j);
    else if (isnan(v)) json_object_del(e, field);
    else json_object_set_new(e, field, json_real(v));
    return gold_with("toy_case", Y, tol);
}

/* golden/README.md's model, restated here: the tier of dtype dt for K, n, S and N elements. */
static void model(double K, double n, double S, double N, int dt, double *atol, double *rtol)
{
    double lambda = sqrt(2 * log(2 * N / 1e-9)), ne = fmin(n, lambda * sqrt(n));
    double e = dt ? FLT_EPSILON / 2 + DBL_EPSILON / 2 : DBL_EPSILON;
    *rtol = K * ne * e;
    *atol = *rtol * S + K * (dt ? FLT_MIN : DBL_MIN);
}

/* out.y (6 elements) with ingredients K, n, S and both tiers derived from them. */
static hk_st_file *gold_ingredients(double K, double n, double S)
{
    json_t *tol = default_tol(), *e = json_object();
    json_object_set_new(e, "K", json_real(K));
    json_object_set_new(e, "n", json_real(n));
    json_object_set_new(e, "scale", json_real(S));
    for (int dt = 0; dt < 2; dt++) {
        double at, rt;
        model(K, n, S, 6, dt, &at, &rt);
        json_object_set_new(e, dt ? "f32" : "f64", tier(at, rt));
    }
    json_object_set_new(tol, "out.y", e);
    return gold_with("toy_case", Y, tol);
}

/* Checks g (consumed) against its own outputs: the status; *failed and the
 * first failing tensor's problem (or "") when the comparison ran. */
static int verdict(hk_st_file *g, hk_golden_dtype dt, int *failed, char *problem, size_t size)
{
    hk_st_file *o = outputs_of(g);
    hk_golden_result *r = res_new();
    hk_error_clear();
    int st = hk_golden_check_case(g, o, dt, NULL, r);
    *failed = st ? -1 : r->failed_tensors;
    snprintf(problem, size, "%s", "");
    for (int i = 0; !st && i < r->ntensors; i++)
        if (r->t[i].problem[0]) {
            snprintf(problem, size, "%s: %s", r->t[i].name, r->t[i].problem);
            break;
        }
    free(r);
    hk_st_free(o);
    hk_st_free(g);
    return st;
}

/* The run goes on, out.y (only) fails, its problem says `why`. */
#define ASSERT_TENSOR_FAILS(g, dt, why)                                                                       \
    do {                                                                                                      \
        int nf_;                                                                                              \
        char pb_[256];                                                                                        \
        ck_assert_int_eq(verdict((g), (dt), &nf_, pb_, sizeof pb_), HK_OK);                                   \
        ck_assert_msg(nf_ == 1 && strstr(pb_, "out.y: ") == pb_ && strstr(pb_, (why)), "%d failed: %s", nf_, pb_); \
    } while (0)

static int passes(hk_st_file *g, hk_golden_dtype dt)
{
    int nf;
    char pb[256];
    return verdict(g, dt, &nf, pb, sizeof pb) == HK_OK && nf == 0;
}

/* golden/README.md "Tolerances".  A bound that cannot be used FAILS its
 * tensor, named, and the run goes on: one that does not follow its stored
 * ingredients (a hand-edited number: more than 1e-12 relative off), whose
 * ingredients are out of range (K >= 1, n >= 1, scale >= 0), or that is too
 * loose (rtol >= 1e-3).  A malformed tolerance makes the golden file
 * unusable (EFORMAT, exit 2): missing, not a number, NaN, infinite,
 * negative, rtol 0, or no numeric K, n, scale.  Only the checked tier is read. */
START_TEST(tolerance_rules_at_their_limits)
{
    /* the tiers used throughout are the model's */
    for (int dt = 0; dt < 2; dt++) {
        double at, rt;
        model(TOL_K, TOL_N, TOL_S, 6, dt, &at, &rt);
        ck_assert(at == (dt ? A32 : A64) && rt == (dt ? R32 : R64));
    }
    ck_assert(passes(gold_default(), HK_GOLDEN_F64) && passes(gold_default(), HK_GOLDEN_F32));
    /* a reader that rounds the printed number once (one ulp) still agrees; 2^-38 relative is an edit */
    ck_assert(passes(gold_tol_edit("out.y", "f64", "rtol", nextafter(R64, 1), NULL), HK_GOLDEN_F64));
    ASSERT_TENSOR_FAILS(gold_tol_edit("out.y", "f64", "rtol", R64 * (1 + 0x1p-38), NULL), HK_GOLDEN_F64,
                        "does not follow its ingredients");
    ASSERT_TENSOR_FAILS(gold_tol_edit("out.y", "f64", "atol", A64 * (1 - 0x1p-38), NULL), HK_GOLDEN_F64,
                        "does not follow its ingredients");
    ASSERT_TENSOR_FAILS(gold_tol_edit("out.y", "f32", "atol", 2 * A32, NULL), HK_GOLDEN_F32, "does not follow");
    /* too loose, with ingredients that agree: K = 1024 gives the f32 tier rtol
     * 2^16 (2^-24 + 2^-53) ~ 3.9e-3 >= 1e-3 (the f64 tier ~ 7e-12 is fine); K = 256 ~ 9.8e-4 < 1e-3 */
    ck_assert(passes(gold_ingredients(1024, 32, 16), HK_GOLDEN_F64));
    ASSERT_TENSOR_FAILS(gold_ingredients(1024, 32, 16), HK_GOLDEN_F32, "too loose");
    ck_assert(passes(gold_ingredients(256, 32, 16), HK_GOLDEN_F32));
    /* ingredients at and beyond their ranges: K = 1, n = 1, scale 0 (a relative output) are allowed */
    ck_assert(passes(gold_ingredients(1, 1, 0), HK_GOLDEN_F64));
    ASSERT_TENSOR_FAILS(gold_ingredients(0.5, 2, 16), HK_GOLDEN_F64, "out of range");
    ASSERT_TENSOR_FAILS(gold_ingredients(2, 0.5, 16), HK_GOLDEN_F64, "out of range");
    ck_assert_int_eq(check_status(gold_ingredients(2, 2, -16), HK_GOLDEN_F64), HK_EFORMAT); /* its atol is < 0 */
    /* malformed: an error, never a verdict */
    ck_assert_int_eq(check_status(gold_ingredient_edit("out.y", "scale", NAN, NULL), HK_GOLDEN_F64), HK_EFORMAT);
    ck_assert_msg(strstr(hk_error_message(), "cannot be recomputed") != NULL, "%s", hk_error_message());
    ck_assert_int_eq(check_status(gold_ingredient_edit("grad.x", "K", 0, json_string("2")), HK_GOLDEN_F64), HK_EFORMAT);
    ck_assert_int_eq(check_status(gold_tol_edit("out.y", "f64", "rtol", 0.0, NULL), HK_GOLDEN_F64), HK_EFORMAT);
    ck_assert_int_eq(check_status(gold_tol_edit("out.y", "f64", "atol", -A64, NULL), HK_GOLDEN_F64), HK_EFORMAT);
    ck_assert_int_eq(check_status(gold_tol_edit("out.y", "f64", "rtol", -R64, NULL), HK_GOLDEN_F64), HK_EFORMAT);
    ck_assert_int_eq(check_status(gold_tol_edit("grad.x", "f64", "atol", 0, json_string("1e-9")), HK_GOLDEN_F64),
                     HK_EFORMAT);
    ck_assert_int_eq(check_status(gold_tol_edit("grad.x", "f64", "rtol", 0, json_null()), HK_GOLDEN_F64), HK_EFORMAT);
    /* an infinite atol as a generator bug would write it (1e999): no usable golden file */
    hk_st_file *g = gold_default();
    json_t *jn = json_real(A64);
    char *num = json_dumps(jn, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    json_decref(jn);
    char *txt = strdup(hk_st_get_meta(g, "tolerance")), *at = strstr(txt, num);
    ck_assert_ptr_nonnull(at); /* grad.x's f64 atol, the first in sorted order */
    char edited[2048];
    snprintf(edited, sizeof edited, "%.*s1e999%s", (int)(at - txt), txt, at + strlen(num));
    hk_assert_ok(hk_st_set_meta(g, "tolerance", edited));
    free(txt);
    free(num);
    ck_assert_int_eq(check_status(g, HK_GOLDEN_F64), HK_EFORMAT);
    /* the f32 tier's values are not read under f64, and vice versa */
    ck_assert(passes(gold_tol_edit("out.y", "f32", "rtol", 0.5, NULL), HK_GOLDEN_F64));
    ASSERT_TENSOR_FAILS(gold_tol_edit("out.y", "f32", "rtol", 0.5, NULL), HK_GOLDEN_F32, "does not follow");
    ck_assert(passes(gold_tol_edit("out.y", "f64", "rtol", 0.5, NULL), HK_GOLDEN_F32));
    /* an output with no tolerance entry */
    json_t *tol = default_tol();
    json_object_del(tol, "grad.x");
    ck_assert_int_eq(check_status(gold_with("toy_case", Y, tol), HK_GOLDEN_F64), HK_EFORMAT);
    ck_assert_msg(strstr(hk_error_message(), "'grad.x'") != NULL, "%s", hk_error_message());
}
END_TEST

/* Zero-trust: more than 50 % exact zeros in a float reference fails the
 * tensor ("mistrusted") unless it is zeros_expected; exactly 50 % does not. */
START_TEST(zero_trust_fails_a_mostly_zero_reference)
{
    const double half[6] = {0.0, -2.25, 0.0, 0.5, 0.0, 6.25}, most[6] = {0.0, -2.25, 0.0, 0.0, 0.0, 6.25};
    hk_golden_result *r = res_new();
    hk_st_file *g = gold_with("toy_case", half, default_tol()), *o = outputs_of(g);
    hk_assert_ok(hk_golden_check_case(g, o, HK_GOLDEN_F64, NULL, r));
    ck_assert_int_eq(r->failed_tensors, 0);
    ck_assert(tensor(r, "out.y")->zero_frac == 0.5);
    hk_st_free(g);
    hk_st_free(o);
    g = gold_with("toy_case", most, default_tol());
    o = outputs_of(g);
    hk_assert_ok(hk_golden_check_case(g, o, HK_GOLDEN_F64, NULL, r));
    ck_assert_int_eq(r->failed_tensors, 1);
    const hk_golden_tensor_result *t = tensor(r, "out.y");
    ck_assert(t->zero_frac == 4.0 / 6.0);
    ck_assert_int_eq(t->nfail, 1); /* no element differs: the tensor itself is the failure */
    ck_assert_msg(strstr(t->problem, "mistrusted") != NULL, "%s", t->problem);
    hk_st_free(g);
    hk_st_free(o);
    /* a backend that is also off by a lot: its failing elements count, not just 1 */
    g = gold_with("toy_case", most, default_tol());
    o = outputs_of(g);
    f64_of(o, "out.y")[1] = 7.0;
    f64_of(o, "out.y")[5] = 7.0;
    hk_assert_ok(hk_golden_check_case(g, o, HK_GOLDEN_F64, NULL, r));
    ck_assert_int_eq(tensor(r, "out.y")->nfail, 2);
    hk_st_free(g);
    hk_st_free(o);
    json_t *tol = default_tol();
    json_object_set_new(json_object_get(tol, "out.y"), "zeros_expected", json_true());
    g = gold_with("toy_case", most, tol);
    o = outputs_of(g);
    hk_assert_ok(hk_golden_check_case(g, o, HK_GOLDEN_F64, NULL, r));
    ck_assert_int_eq(r->failed_tensors, 0);
    hk_st_free(g);
    hk_st_free(o);
    free(r);
}
END_TEST

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

/* The first 10 failing elements of a case are listed (over all its tensors), no more. */
START_TEST(first_ten_failing_elements_of_a_case_are_listed)
{
    hk_st_file *g = gold_default(), *o = outputs_of(g);
    hk_golden_result *r = res_new();
    double *y = f64_of(o, "out.y"), *gx = f64_of(o, "grad.x");
    for (int i = 0; i < 6; i++) y[i] += 1.0;
    for (int i = 0; i < 4; i++) gx[i] += 1.0;
    ((int64_t *)hk_st_find(o, "out.idx")->data)[0] = 9;
    char *buf = NULL;
    size_t len = 0;
    FILE *log = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(log);
    hk_assert_ok(hk_golden_check_case(g, o, HK_GOLDEN_F64, log, r));
    fclose(log);
    ck_assert_int_eq(r->failed_tensors, 3);
    ck_assert_msg(count_lines(buf) == 10, "%d lines listed for 11 failing elements:\n%s", count_lines(buf), buf);
    free(buf);
    /* 7 failing elements: all 7 listed */
    y = f64_of(o, "out.y");
    for (int i = 0; i < 6; i++) y[i] = Y[i];
    ((int64_t *)hk_st_find(o, "out.idx")->data)[0] = 2;
    gx[3] -= 1.0;
    buf = NULL;
    log = open_memstream(&buf, &len);
    hk_assert_ok(hk_golden_check_case(g, o, HK_GOLDEN_F64, log, r));
    fclose(log);
    ck_assert_int_eq(count_lines(buf), 3);
    ck_assert_msg(strstr(buf, "grad.x[2]") && !strstr(buf, "grad.x[3]"), "%s", buf);
    free(buf);
    hk_st_free(g);
    hk_st_free(o);
    /* two outputs of 9 failing elements each: 9 from the first, 1 from the second */
    hk_assert_ok(hk_st_new(&g));
    json_t *tol = json_object();
    long s9[1] = {9};
    double v[9] = {1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5};
    hk_assert_ok(hk_st_add(g, "out.a", HK_ST_F64, 1, s9, v));
    hk_assert_ok(hk_st_add(g, "out.b", HK_ST_F64, 1, s9, v));
    json_object_set_new(tol, "out.a", float_tol());
    json_object_set_new(tol, "out.b", float_tol());
    hk_assert_ok(hk_st_set_meta(g, "format", HK_GOLDEN_FORMAT));
    hk_assert_ok(hk_st_set_meta(g, "op", "toy"));
    hk_assert_ok(hk_st_set_meta(g, "case", "nine"));
    set_tol(g, tol);
    o = outputs_of(g);
    for (int t = 0; t < 2; t++) {
        double *d = f64_of(o, t ? "out.b" : "out.a");
        for (int i = 0; i < 9; i++) d[i] += 1.0;
    }
    buf = NULL;
    log = open_memstream(&buf, &len);
    hk_assert_ok(hk_golden_check_case(g, o, HK_GOLDEN_F64, log, r));
    fclose(log);
    ck_assert_msg(count_lines(buf) == 10, "%d lines listed for 18 failing elements:\n%s", count_lines(buf), buf);
    free(buf);
    free(r);
    hk_st_free(g);
    hk_st_free(o);
}
END_TEST

/* An empty output (a zero extent) passes, with nothing failing and the worst index at its origin. */
START_TEST(empty_output_passes_with_origin_as_worst)
{
    hk_st_file *g;
    hk_assert_ok(hk_st_new(&g));
    long s03[2] = {0, 3}, s1[1] = {1};
    double one = 1.5;
    hk_assert_ok(hk_st_add(g, "out.e", HK_ST_F64, 2, s03, NULL));
    hk_assert_ok(hk_st_add(g, "out.s", HK_ST_F64, 1, s1, &one));
    json_t *tol = json_object();
    json_object_set_new(tol, "out.e", float_tol());
    json_object_set_new(tol, "out.s", float_tol());
    hk_assert_ok(hk_st_set_meta(g, "format", HK_GOLDEN_FORMAT));
    hk_assert_ok(hk_st_set_meta(g, "op", "toy"));
    hk_assert_ok(hk_st_set_meta(g, "case", "empty"));
    set_tol(g, tol);
    hk_golden_result *r = res_new();
    hk_st_file *o = outputs_of(g);
    hk_assert_ok(hk_golden_check_case(g, o, HK_GOLDEN_F64, NULL, r));
    hk_st_free(o);
    ck_assert_int_eq(r->failed_tensors, 0);
    const hk_golden_tensor_result *t = tensor(r, "out.e");
    ck_assert_int_eq(t->n, 0);
    ck_assert_int_eq(t->nfail, 0);
    ck_assert_str_eq(t->worst, "[0,0]");
    ck_assert(t->zero_frac == 0.0 && t->max_abs == 0.0 && t->pct == 0.0);
    free(r);
    hk_st_free(g);
}
END_TEST

/* Backend-side faults fail only what they touch. */
START_TEST(missing_file_tensor_or_shape_fail_what_they_touch)
{
    hk_st_file *g = gold_default();
    hk_golden_result *r = res_new();
    hk_assert_ok(hk_golden_check_case(g, NULL, HK_GOLDEN_F64, NULL, r));
    ck_assert_int_eq(r->ntensors, 3);
    ck_assert_int_eq(r->failed_tensors, 3);
    ck_assert_msg(strstr(r->problem, "missing") != NULL, "%s", r->problem);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(r->t[i].nfail, r->t[i].n);
    ck_assert_str_eq(r->name, "toy_case");
    ck_assert_str_eq(r->op, "toy");
    /* one tensor missing, one flattened */
    hk_st_file *o;
    hk_assert_ok(hk_st_new(&o));
    long s6[1] = {6};
    hk_assert_ok(hk_st_add(o, "out.y", HK_ST_F64, 1, s6, Y));
    long s3[1] = {3};
    hk_assert_ok(hk_st_add(o, "out.idx", HK_ST_I64, 1, s3, IDX));
    hk_assert_ok(hk_golden_check_case(g, o, HK_GOLDEN_F64, NULL, r));
    ck_assert_int_eq(r->failed_tensors, 2);
    ck_assert(!r->problem[0]);
    ck_assert_msg(strstr(tensor(r, "out.y")->problem, "shape (6), expected (2,3)") != NULL, "%s",
                  tensor(r, "out.y")->problem);
    ck_assert_int_eq(tensor(r, "out.y")->nfail, 6);
    ck_assert_msg(strstr(tensor(r, "grad.x")->problem, "missing") != NULL, "%s", tensor(r, "grad.x")->problem);
    ck_assert_int_eq(tensor(r, "grad.x")->nfail, 4);
    ck_assert_int_eq(tensor(r, "out.idx")->nfail, 0);
    /* same element count, other shape (3,2): still a shape failure */
    hk_st_free(o);
    hk_assert_ok(hk_st_new(&o));
    long s32[2] = {3, 2}, s4[1] = {4};
    hk_assert_ok(hk_st_add(o, "out.y", HK_ST_F64, 2, s32, Y));
    hk_assert_ok(hk_st_add(o, "grad.x", HK_ST_F64, 1, s4, GX));
    hk_assert_ok(hk_st_add(o, "out.idx", HK_ST_I64, 1, s3, IDX));
    hk_assert_ok(hk_golden_check_case(g, o, HK_GOLDEN_F64, NULL, r));
    ck_assert_int_eq(r->failed_tensors, 1);
    ck_assert_int_eq(tensor(r, "out.y")->nfail, 6);
    hk_st_free(o);
    free(r);
    hk_st_free(g);
}
END_TEST

/* A golden file given as the backend's output (a copy, a link, a path typo)
 * is refused: comparing the reference with itself proves nothing.  The case
 * fails, saying why, and so does every one of its tensors, each naming the
 * refusal (a per-tensor report must not read as a plain numeric failure). */
START_TEST(golden_file_as_backend_output_is_refused_in_every_tensor)
{
    hk_st_file *g = gold_default();
    hk_golden_result *r = res_new();
    hk_assert_ok(hk_golden_check_case(g, g, HK_GOLDEN_F64, NULL, r));
    ck_assert_msg(strstr(r->problem, "refused") != NULL, "%s", r->problem);
    ck_assert_int_eq(r->ntensors, 3);
    ck_assert_int_eq(r->failed_tensors, 3);
    for (int i = 0; i < r->ntensors; i++) {
        ck_assert_msg(strstr(r->t[i].problem, "refused") != NULL, "%s: %s", r->t[i].name, r->t[i].problem);
        ck_assert_int_eq(r->t[i].nfail, r->t[i].n);
    }
    free(r);
    hk_st_free(g);
}
END_TEST

/* A malformed golden file is an error (EFORMAT), never a verdict. */
START_TEST(malformed_golden_files_are_errors)
{
    hk_golden_result *r = res_new();
    const char *keys[3] = {"format", "op", "case"};
    for (int k = 0; k < 4; k++) {
        hk_st_file *g = gold_default(), *o = outputs_of(g);
        if (k < 3) {
            /* rebuild without metadata key k (or, for format, with another version) */
            hk_st_file *h;
            hk_assert_ok(hk_st_new(&h));
            for (size_t i = 0; i < g->ntensors; i++)
                hk_assert_ok(hk_st_add(h, g->tensors[i].name, g->tensors[i].dtype, g->tensors[i].ndim,
                                       g->tensors[i].shape, g->tensors[i].data));
            for (size_t i = 0; i < g->nmeta; i++)
                if (strcmp(g->meta[i].key, keys[k])) hk_assert_ok(hk_st_set_meta(h, g->meta[i].key, g->meta[i].value));
            if (k == 0) hk_assert_ok(hk_st_set_meta(h, "format", "hkref-golden-0"));
            hk_st_free(g);
            g = h;
        } else {
            hk_assert_ok(hk_st_set_meta(g, "tolerance", "[1, 2]"));
        }
        hk_error_clear();
        ck_assert_int_eq(hk_golden_check_case(g, o, HK_GOLDEN_F64, NULL, r), HK_EFORMAT);
        if (k == 3) ck_assert_msg(strstr(hk_error_message(), "tolerance is not a JSON object"), "%s", hk_error_message());
        hk_st_free(g);
        hk_st_free(o);
    }
    /* a tolerance that is not JSON at all: the parser's reason is in the message */
    hk_st_file *gj = gold_default();
    hk_assert_ok(hk_st_set_meta(gj, "tolerance", "{\"out.y\": "));
    hk_assert_fails(hk_golden_check_case(gj, gj, HK_GOLDEN_F64, NULL, r), HK_EFORMAT, "tolerance is not a JSON object (");
    hk_st_free(gj);
    /* no output tensor at all */
    hk_st_file *g;
    hk_assert_ok(hk_st_new(&g));
    long s3[1] = {3};
    hk_assert_ok(hk_st_add(g, "in.x", HK_ST_F64, 1, s3, Y));
    hk_assert_ok(hk_st_set_meta(g, "format", HK_GOLDEN_FORMAT));
    hk_assert_ok(hk_st_set_meta(g, "op", "toy"));
    hk_assert_ok(hk_st_set_meta(g, "case", "empty"));
    hk_assert_ok(hk_st_set_meta(g, "tolerance", "{}"));
    hk_assert_fails(hk_golden_check_case(g, NULL, HK_GOLDEN_F64, NULL, r), HK_EFORMAT, "no out.* / grad.* tensor");
    hk_st_free(g);
    /* a float golden output stored as F32 */
    hk_assert_ok(hk_st_new(&g));
    float y32[3] = {1.5f, 2.5f, 3.5f};
    hk_assert_ok(hk_st_add(g, "out.y", HK_ST_F32, 1, s3, y32));
    hk_assert_ok(hk_st_set_meta(g, "format", HK_GOLDEN_FORMAT));
    hk_assert_ok(hk_st_set_meta(g, "op", "toy"));
    hk_assert_ok(hk_st_set_meta(g, "case", "f32gold"));
    json_t *tol = json_object();
    json_object_set_new(tol, "out.y", float_tol());
    set_tol(g, tol);
    hk_assert_fails(hk_golden_check_case(g, g, HK_GOLDEN_F32, NULL, r), HK_EFORMAT, "expected F64");
    hk_st_free(g);
    free(r);
}
END_TEST

/* One to HK_GOLDEN_MAX_TENSORS outputs per case are checked; one more is an error. */
START_TEST(output_count_limit_is_exact)
{
    hk_golden_result *r = res_new();
    for (int extra = -1; extra < 2; extra++) {
        hk_st_file *g;
        hk_assert_ok(hk_st_new(&g));
        json_t *tol = json_object();
        long s1[1] = {1};
        double v = 1.5;
        int count = extra < 0 ? 1 : HK_GOLDEN_MAX_TENSORS + extra;
        for (int i = 0; i < count; i++) {
            char nm[32];
            snprintf(nm, sizeof nm, "out.t%03d", i);
            hk_assert_ok(hk_st_add(g, nm, HK_ST_F64, 1, s1, &v));
            json_object_set_new(tol, nm, float_tol());
        }
        hk_assert_ok(hk_st_set_meta(g, "format", HK_GOLDEN_FORMAT));
        hk_assert_ok(hk_st_set_meta(g, "op", "toy"));
        hk_assert_ok(hk_st_set_meta(g, "case", "many"));
        set_tol(g, tol);
        hk_error_clear();
        hk_st_file *o = outputs_of(g);
        int st = hk_golden_check_case(g, o, HK_GOLDEN_F64, NULL, r);
        hk_st_free(o);
        if (extra > 0) {
            ck_assert_int_eq(st, HK_EFORMAT);
            ck_assert_msg(strstr(hk_error_message(), "more than") != NULL, "%s", hk_error_message());
        } else {
            ck_assert_int_eq(st, HK_OK);
            ck_assert_int_eq(r->ntensors, count);
            ck_assert_int_eq(r->failed_tensors, 0);
        }
        hk_st_free(g);
    }
    free(r);
}
END_TEST

/* ---- a directory of cases ---- */

static char tmp[64];

static const char *path(const char *sub)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, sub);
    return buf[k];
}

/* golden/{opa/a1, opa/a2, opb/b1}.safetensors + their MANIFEST + a README, a stray file, a
 * hidden directory and a file named just ".safetensors"; out/ holds the reference for each, a2 off by 1 at one element. */
static void dir_setup(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/hkref-goldencheck-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    const char *dirs[5] = {"golden", "golden/opa", "golden/opb", "golden/.hidden", "out"};
    for (int i = 0; i < 5; i++) ck_assert_int_eq(mkdir(path(dirs[i]), 0700), 0);
    const char *cases[3][2] = {{"opa", "a1"}, {"opa", "a2"}, {"opb", "b1"}};
    hk_golden_manifest m = {0};
    m.registry = 3;
    for (int i = 0; i < 3; i++) {
        hk_st_file *g = gold_with(cases[i][1], Y, default_tol());
        char p[128];
        snprintf(p, sizeof p, "golden/%s/%s.safetensors", cases[i][0], cases[i][1]);
        hk_assert_ok(hk_st_write(g, path(p)));
        unsigned char *bytes = NULL, sha[32];
        size_t nb = 0;
        hk_assert_ok(hk_file_read(path(p), (size_t)1 << 20, &bytes, &nb));
        hk_sha256(bytes, nb, sha);
        free(bytes);
        hk_assert_ok(hk_golden_manifest_set(&m, p + strlen("golden/"), sha));
        hk_st_file *o = outputs_of(g);
        if (i == 1) f64_of(o, "out.y")[4] += 1.0;
        snprintf(p, sizeof p, "out/%s.safetensors", cases[i][1]);
        hk_assert_ok(hk_st_write(o, path(p)));
        hk_st_free(g);
        hk_st_free(o);
    }
    /* the set's MANIFEST (golden/README.md "The manifest"), as `hkref golden generate` writes it */
    hk_assert_ok(hk_golden_manifest_write(path("golden"), &m));
    hk_golden_manifest_free(&m);
    hk_assert_ok(hk_file_write_atomic(path("golden/README.md"), "# x\n", 4));
    hk_assert_ok(hk_file_write_atomic(path("golden/opa/notes.txt"), "x", 1));
    hk_assert_ok(hk_file_write_atomic(path("golden/.hidden/h.safetensors"), "x", 1));
    hk_assert_ok(hk_file_write_atomic(path("golden/opa/.safetensors"), "x", 1)); /* no case name: not a case */
}

static void dir_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

typedef struct {
    int n;
    char rel[8][64];
    size_t index[8], count[8];
    int failed[8];
    char outputs_path[8][256];
    int has_elements[8];
} seen;

static void record(void *ctx, const hk_golden_case_report *r)
{
    seen *s = ctx;
    ck_assert_int_lt(s->n, 8);
    snprintf(s->rel[s->n], sizeof s->rel[0], "%s", r->rel);
    s->index[s->n] = r->index;
    s->count[s->n] = r->count;
    s->failed[s->n] = r->failed;
    snprintf(s->outputs_path[s->n], sizeof s->outputs_path[0], "%s", r->outputs_path);
    s->has_elements[s->n] = r->elements[0] != 0;
    s->n++;
}

static int run_dir(const char *prefix, const char *op, hk_golden_dir_summary *sum, seen *s)
{
    memset(s, 0, sizeof *s);
    hk_golden_dir_opts o = {.golden = path("golden"), .outputs = path("out"), .dtype = HK_GOLDEN_F64,
                            .prefix = prefix, .op = op, .report = record, .report_ctx = s};
    hk_error_clear();
    return hk_golden_check_dir(&o, sum);
}

START_TEST(list_dir_lists_case_files_sorted)
{
    char **p;
    size_t n;
    hk_assert_ok(hk_golden_list_dir(path("golden"), &p, &n));
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(p[0], "opa/a1.safetensors");
    ck_assert_str_eq(p[1], "opa/a2.safetensors");
    ck_assert_str_eq(p[2], "opb/b1.safetensors");
    hk_golden_list_free(p, n);
    hk_assert_fails(hk_golden_list_dir(path("nope"), &p, &n), HK_EIO, "cannot open golden directory");
    ck_assert_ptr_null(p);
    ck_assert_uint_eq(n, 0);
}
END_TEST

/* A CI process may list and check golden sets many times: listing closes
 * every directory it opens (under a limit of 256 open descriptors, 300
 * listings of 3 directories each all find the 3 cases), and a directory it
 * cannot open is an error, never a silently shorter golden set. */
START_TEST(list_dir_leaks_no_descriptors)
{
    struct rlimit old, low;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = old.rlim_cur < 256 ? old.rlim_cur : 256;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    int failed_at = -1;
    for (int k = 0; k < 300 && failed_at < 0; k++) {
        char **p;
        size_t n;
        hk_error_clear();
        if (hk_golden_list_dir(path("golden"), &p, &n)) {
            failed_at = k;
        } else {
            if (n != 3) failed_at = k;
            hk_golden_list_free(p, n);
        }
    }
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    ck_assert_msg(failed_at < 0, "listing %d failed or was short: %s", failed_at, hk_error_message());
    /* an op directory that cannot be read: the listing fails and names it */
    ck_assert_int_eq(chmod(path("golden/opb"), 0), 0);
    char **p;
    size_t n;
    int readable = access(path("golden/opb/b1.safetensors"), R_OK) == 0; /* root reads anyway */
    if (!readable) hk_assert_fails(hk_golden_list_dir(path("golden"), &p, &n), HK_EIO, "opb");
    ck_assert_int_eq(chmod(path("golden/opb"), 0700), 0);
    /* and running out of descriptors after the top directory opened is an
     * error too, not an empty set: the limit leaves room for exactly one more */
    int lowest = dup(0); /* the lowest free descriptor: the top directory's */
    ck_assert_int_ge(lowest, 0);
    close(lowest);
    low.rlim_cur = (rlim_t)lowest + 1;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    hk_error_clear();
    int st = hk_golden_list_dir(path("golden"), &p, &n);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    ck_assert_int_eq(st, HK_EIO);
}
END_TEST

/* Every selected case once, in sorted order, numbered index/count over the
 * listed files; failures counted; the failing case's elements reported. */
START_TEST(check_dir_runs_every_case_in_order_and_counts)
{
    hk_golden_dir_summary sum;
    seen s;
    hk_assert_ok(run_dir(NULL, NULL, &sum, &s));
    ck_assert_int_eq(sum.run, 3);
    ck_assert_int_eq(sum.failed, 1);
    ck_assert_int_eq(sum.skipped, 0);
    ck_assert_int_eq(s.n, 3);
    const char *want[3] = {"opa/a1.safetensors", "opa/a2.safetensors", "opb/b1.safetensors"};
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(s.rel[i], want[i]);
        ck_assert_uint_eq(s.index[i], (size_t)i);
        ck_assert_uint_eq(s.count[i], 3);
        ck_assert_int_eq(s.failed[i], i == 1);
        ck_assert_int_eq(s.has_elements[i], i == 1);
    }
    ck_assert_str_eq(s.outputs_path[1], path("out/a2.safetensors"));
    /* no report callback: the same counts */
    hk_golden_dir_opts o = {.golden = path("golden"), .outputs = path("out"), .dtype = HK_GOLDEN_F64};
    hk_assert_ok(hk_golden_check_dir(&o, &sum));
    ck_assert_int_eq(sum.run, 3);
    ck_assert_int_eq(sum.failed, 1);
}
END_TEST

/* --case is a prefix of the case name; the op filter is a whole op directory. */
START_TEST(check_dir_selects_by_case_prefix_and_op)
{
    hk_golden_dir_summary sum;
    seen s;
    hk_assert_ok(run_dir("a", NULL, &sum, &s));
    ck_assert_int_eq(sum.run, 2);
    ck_assert_int_eq(sum.failed, 1);
    hk_assert_ok(run_dir("a1", NULL, &sum, &s));
    ck_assert_int_eq(sum.run, 1);
    ck_assert_int_eq(sum.failed, 0);
    ck_assert_str_eq(s.rel[0], "opa/a1.safetensors");
    ck_assert_uint_eq(s.index[0], 0); /* index and count over the listed files */
    ck_assert_uint_eq(s.count[0], 3);
    hk_assert_ok(run_dir("b1", NULL, &sum, &s));
    ck_assert_uint_eq(s.index[0], 2);
    hk_assert_ok(run_dir(NULL, "opb", &sum, &s));
    ck_assert_int_eq(sum.run, 1);
    ck_assert_str_eq(s.rel[0], "opb/b1.safetensors");
    hk_assert_ok(run_dir("a", "opa", &sum, &s));
    ck_assert_int_eq(sum.run, 2);
    ck_assert_int_eq(run_dir(NULL, "op", &sum, &s), HK_EINVAL); /* "op" is not the op "opa" */
    ck_assert_msg(strstr(hk_error_message(), "no golden case matches") != NULL, "%s", hk_error_message());
    ck_assert_int_eq(run_dir("a", "opb", &sum, &s), HK_EINVAL);
    ck_assert_int_eq(run_dir("zz", NULL, &sum, &s), HK_EINVAL);
    ck_assert_int_eq(s.n, 0);
    ck_assert_int_eq(run_dir("safetensors", NULL, &sum, &s), HK_EINVAL); /* the name has no extension */
    ck_assert_int_eq(run_dir("opa", NULL, &sum, &s), HK_EINVAL);         /* nor its op directory */
}
END_TEST

static void record_problem(void *ctx, const hk_golden_case_report *r)
{
    char(*p)[256] = ctx;
    snprintf(p[r->index], 256, "%s", r->result->problem);
}

/* A backend file that is missing or unreadable fails that case (and only it),
 * with a problem naming the file; the run itself succeeds. */
START_TEST(check_dir_problem_names_the_backend_file)
{
    hk_golden_dir_summary sum;
    ck_assert_int_eq(unlink(path("out/b1.safetensors")), 0);
    hk_assert_ok(hk_file_write_atomic(path("out/a1.safetensors"), "garbage!", 8));
    char probs[3][256] = {{0}};
    hk_golden_dir_opts o = {.golden = path("golden"), .outputs = path("out"), .dtype = HK_GOLDEN_F64,
                            .report = record_problem, .report_ctx = probs};
    hk_assert_ok(hk_golden_check_dir(&o, &sum));
    ck_assert_int_eq(sum.run, 3);
    ck_assert_int_eq(sum.failed, 3);
    ck_assert_msg(strstr(probs[0], "a1.safetensors") != NULL, "%s", probs[0]);
    ck_assert_msg(strstr(probs[2], "b1.safetensors") != NULL, "%s", probs[2]);
    ck_assert_str_eq(probs[1], ""); /* a2 fails on its numbers, not on a problem */
    ck_assert_str_eq(hk_error_message(), ""); /* the read errors were reported, not left behind */
}
END_TEST

/* An in-process backend: NULL outputs skip a case; an error aborts the run with it. */
static int toy_backend(void *ctx, const hk_st_file *gold, const char *rel, hk_st_file **got)
{
    int *mode = ctx;
    *got = NULL;
    if (strstr(rel, "a2")) return HK_OK; /* not implemented: skipped */
    if (*mode == 1 && strstr(rel, "b1")) return hk_error_set(HK_EFAIL, __FILE__, __LINE__, "backend broke on b1");
    *got = outputs_of(gold);
    return HK_OK;
}

START_TEST(check_dir_in_process_backend_skips_and_aborts)
{
    int mode = 0;
    hk_golden_dir_summary sum;
    hk_golden_dir_opts o = {.golden = path("golden"), .backend = toy_backend, .backend_ctx = &mode,
                            .dtype = HK_GOLDEN_F64};
    hk_assert_ok(hk_golden_check_dir(&o, &sum));
    ck_assert_int_eq(sum.run, 2);
    ck_assert_int_eq(sum.skipped, 1);
    ck_assert_int_eq(sum.failed, 0);
    mode = 1;
    hk_assert_fails(hk_golden_check_dir(&o, &sum), HK_EFAIL, "backend broke on b1");
    /* outputs and backend together, or neither: a usage error */
    o.outputs = path("out");
    hk_assert_fails(hk_golden_check_dir(&o, &sum), HK_EINVAL, "either an outputs directory or");
    o.outputs = NULL;
    o.backend = NULL;
    hk_assert_fails(hk_golden_check_dir(&o, &sum), HK_EINVAL, "either an outputs directory or");
    /* no golden directory: named as the option it is */
    o.backend = toy_backend;
    o.golden = NULL;
    hk_assert_fails(hk_golden_check_dir(&o, &sum), HK_EINVAL, "argument 'o->golden' is NULL");
}
END_TEST

/* Adds golden/<rel>'s bytes to the set's MANIFEST (as a regeneration would). */
static void manifest_add(const char *rel)
{
    hk_golden_manifest m = {0};
    hk_assert_ok(hk_golden_manifest_read(path("golden"), &m));
    char p[128];
    snprintf(p, sizeof p, "golden/%s", rel);
    unsigned char *bytes = NULL, sha[32];
    size_t nb = 0;
    hk_assert_ok(hk_file_read(path(p), (size_t)1 << 20, &bytes, &nb));
    hk_sha256(bytes, nb, sha);
    free(bytes);
    hk_assert_ok(hk_golden_manifest_set(&m, rel, sha));
    m.registry++;
    hk_assert_ok(hk_golden_manifest_write(path("golden"), &m));
    hk_golden_manifest_free(&m);
}

/* The set is verified before anything is compared: a file the manifest does
 * not list, or one whose bytes differ from its entry, stops the run whatever
 * the selection; a listed file that is not a golden file stops it when it is
 * reached, naming it; an empty or absent set is an error. */
START_TEST(check_dir_bad_or_empty_golden_set_is_an_error)
{
    hk_golden_dir_summary sum;
    seen s;
    hk_assert_ok(hk_file_write_atomic(path("golden/opa/a0.safetensors"), "not a golden file", 17));
    hk_assert_fails(run_dir("b", NULL, &sum, &s), HK_EFORMAT, "opa/a0.safetensors is not in its manifest");
    ck_assert_int_eq(s.n, 0);
    manifest_add("opa/a0.safetensors");
    int st = run_dir(NULL, NULL, &sum, &s);
    ck_assert_msg(st == HK_EFORMAT || st == HK_EIO, "status %d", st);
    ck_assert_msg(strstr(hk_error_message(), "opa/a0.safetensors") != NULL, "%s", hk_error_message());
    ck_assert_int_eq(s.n, 0); /* a0 sorts first: nothing reported before the error */
    /* a selection that skips the listed bad file runs */
    hk_assert_ok(run_dir("b", NULL, &sum, &s));
    ck_assert_int_eq(sum.run, 1);
    /* a listed file whose bytes changed after the manifest was written: altered */
    hk_st_file *g = gold_with("b1", Y, default_tol());
    f64_of(g, "out.y")[0] = 1.75;
    hk_assert_ok(hk_st_write(g, path("golden/opb/b1.safetensors")));
    hk_st_free(g);
    hk_assert_fails(run_dir("b", NULL, &sum, &s), HK_EFORMAT, "altered");
    ck_assert_msg(strstr(hk_error_message(), "opb/b1.safetensors") != NULL, "%s", hk_error_message());
    ck_assert_int_eq(s.n, 0);
    ck_assert_int_eq(mkdir(path("empty"), 0700), 0);
    hk_golden_dir_opts o = {.golden = path("empty"), .outputs = path("out"), .dtype = HK_GOLDEN_F64};
    st = hk_golden_check_dir(&o, &sum);
    ck_assert_int_ne(st, HK_OK);
    o.golden = path("nope");
    ck_assert_int_ne(hk_golden_check_dir(&o, &sum), HK_OK);
}
END_TEST

Suite *suite_goldencheck(void)
{
    Suite *s = suite_create("goldencheck");
    TCase *one = tcase_create("Core");
    tcase_add_test(one, threshold_is_inclusive_per_element_and_per_tier);
    tcase_add_test(one, non_finite_backend_values_fail);
    tcase_add_test(one, integer_outputs_compare_exactly_in_an_integer_dtype);
    tcase_add_test(one, float_outputs_need_f64_or_f32_under_the_f32_tier);
    tcase_add_test(one, first_ten_failing_elements_of_a_case_are_listed);
    tcase_add_test(one, missing_file_tensor_or_shape_fail_what_they_touch);
    tcase_add_test(one, empty_output_passes_with_origin_as_worst);
    tcase_add_test(one, golden_file_as_backend_output_is_refused_in_every_tensor);
    suite_add_tcase(s, one);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, tolerance_rules_at_their_limits);
    tcase_add_test(lim, zero_trust_fails_a_mostly_zero_reference);
    tcase_add_test(lim, malformed_golden_files_are_errors);
    tcase_add_test(lim, output_count_limit_is_exact);
    suite_add_tcase(s, lim);
    TCase *dir = tcase_create("Dir");
    tcase_add_checked_fixture(dir, dir_setup, dir_teardown);
    tcase_set_timeout(dir, 30);
    tcase_add_test(dir, list_dir_lists_case_files_sorted);
    tcase_add_test(dir, list_dir_leaks_no_descriptors);
    tcase_add_test(dir, check_dir_runs_every_case_in_order_and_counts);
    tcase_add_test(dir, check_dir_selects_by_case_prefix_and_op);
    tcase_add_test(dir, check_dir_problem_names_the_backend_file);
    tcase_add_test(dir, check_dir_in_process_backend_skips_and_aborts);
    tcase_add_test(dir, check_dir_bad_or_empty_golden_set_is_an_error);
    suite_add_tcase(s, dir);
    return s;
}
