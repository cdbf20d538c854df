/* hkref — the golden checker: one backend output file against one golden
 * case, with the tolerance stored in the golden file (see check.h). */
#include "check.h"

#include "ref/compare.h"
#include "ref/error.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HK_GOLDEN_ZERO_TRUST 0.5

void hk_golden_tolerance(double K, double n, double S, double eps, double *atol, double *rtol)
{
    /* Evaluated as ((K n) eps) S: the bytes of the committed golden files depend on this order. */
    double r = K * n * eps;
    *rtol = r;
    *atol = r * S;
}

/* A stored number equals its recomputation (both are JSON reals printed with 17 digits,
 * so they round-trip exactly; 2^-50 relative leaves room for a reader that rounds once). */
static int same_number(double stored, double recomputed)
{
    return fabs(stored - recomputed) <= 0x1p-50 * fabs(recomputed);
}

/* The ingredients K, n, S of a float tolerance entry (checked: finite, K >= 1, n >= 1, S > 0). */
static int get_ingredients(json_t *e, const char *name, double *K, double *n, double *S)
{
    json_t *k = json_object_get(e, "K"), *nn = json_object_get(e, "n"), *s = json_object_get(e, "scale");
    HK_REQUIRE(json_is_number(k) && json_is_number(nn) && json_is_number(s), HK_EFORMAT,
               "golden tolerance for '%s' has no numeric K, n and scale: the tolerance cannot be recomputed", name);
    *K = json_number_value(k);
    *n = json_number_value(nn);
    *S = json_number_value(s);
    HK_REQUIRE(isfinite(*K) && isfinite(*n) && isfinite(*S) && *K >= 1 && *n >= 1 && *S > 0, HK_EFORMAT,
               "golden tolerance for '%s' has K %g, n %g, scale %g: need finite K >= 1, n >= 1, scale > 0", name, *K,
               *n, *S);
    return HK_OK;
}

static int is_output(const char *name) { return !strncmp(name, "out.", 4) || !strncmp(name, "grad.", 5); }

static int is_integer_dtype(hk_st_dtype dt) { return dt != HK_ST_F16 && dt != HK_ST_BF16 && dt != HK_ST_F32 && dt != HK_ST_F64; }

/* Reads and validates the tolerance of tensor `name` for dtype: the stored
 * atol / rtol must be what hk_golden_tolerance gives for the stored K, n, S
 * (an edited number is refused, not used), rtol < HK_GOLDEN_MAX_RTOL and
 * atol <= HK_GOLDEN_MAX_RTOL * S. */
static int get_tol(json_t *tol, const char *name, hk_golden_dtype dtype, int *exact, double *atol, double *rtol,
                   int *zeros_ok, double *scale)
{
    json_t *e = json_object_get(tol, name);
    HK_REQUIRE(json_is_object(e), HK_EFORMAT, "golden tolerance for '%s' is missing", name);
    *exact = json_is_true(json_object_get(e, "exact"));
    *zeros_ok = json_is_true(json_object_get(e, "zeros_expected"));
    *atol = *rtol = *scale = 0.0;
    if (*exact) return HK_OK;
    const char *key = dtype == HK_GOLDEN_F32 ? "f32" : "f64";
    json_t *d = json_object_get(e, key);
    json_t *a = json_object_get(d, "atol"), *r = json_object_get(d, "rtol");
    HK_REQUIRE(json_is_number(a) && json_is_number(r), HK_EFORMAT,
               "golden tolerance for '%s' has no numeric %s.atol / %s.rtol", name, key, key);
    *atol = json_number_value(a);
    *rtol = json_number_value(r);
    HK_REQUIRE(isfinite(*atol) && isfinite(*rtol) && *atol >= 0 && *rtol >= 0, HK_EFORMAT,
               "golden tolerance for '%s' (%s) is NaN, infinite or negative: atol %g rtol %g", name, key, *atol, *rtol);
    HK_REQUIRE(*rtol > 0, HK_EFORMAT,
               "golden tolerance for '%s' (%s) has rtol 0 for a float tensor: a tolerance never derived", name, key);
    HK_REQUIRE(*rtol < HK_GOLDEN_MAX_RTOL, HK_EFORMAT,
               "golden tolerance for '%s' (%s) has rtol %g >= %g: too loose to catch a wrong formula", name, key,
               *rtol, HK_GOLDEN_MAX_RTOL);
    double K = 0, n = 0, S = 0, ra, rr;
    HK_TRY(get_ingredients(e, name, &K, &n, &S));
    HK_REQUIRE(*atol <= HK_GOLDEN_MAX_RTOL * S, HK_EFORMAT,
               "golden tolerance for '%s' (%s) has atol %g > %g x scale %g: too loose to catch a wrong formula", name,
               key, *atol, HK_GOLDEN_MAX_RTOL, S);
    hk_golden_tolerance(K, n, S, dtype == HK_GOLDEN_F32 ? FLT_EPSILON : DBL_EPSILON, &ra, &rr);
    HK_REQUIRE(same_number(*atol, ra) && same_number(*rtol, rr), HK_EFORMAT,
               "golden tolerance for '%s' (%s): stored atol %.17g rtol %.17g, but K %g, n %g, scale %.17g give "
               "atol %.17g rtol %.17g (golden/README.md \"Tolerances\"): the file was edited",
               name, key, *atol, *rtol, K, n, S, ra, rr);
    *scale = S;
    return HK_OK;
}

static void set_problem(hk_golden_tensor_result *t, const char *msg) { snprintf(t->problem, sizeof t->problem, "%s", msg); }

static int same_shape(const hk_st_tensor *a, const hk_st_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

static void shape_str(char *buf, size_t size, const hk_st_tensor *t)
{
    size_t k = 0;
    k += (size_t)snprintf(buf, size, "(");
    for (int d = 0; d < t->ndim && k < size; d++) k += (size_t)snprintf(buf + k, size - k, d ? ",%ld" : "%ld", t->shape[d]);
    if (k < size) snprintf(buf + k, size - k, ")");
}

/* Compares one tensor; fills r. Returns an error only for a bad golden file. */
static int check_tensor(const hk_st_tensor *ref, const hk_st_file *got, json_t *tol, hk_golden_dtype dtype,
                        FILE *log, int *printed, hk_golden_tensor_result *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", ref->name);
    int exact = 0, zeros_ok = 0;
    double scale = 0.0;
    HK_TRY(get_tol(tol, ref->name, dtype, &exact, &r->atol, &r->rtol, &zeros_ok, &scale));
    r->exact = exact;
    r->n = (long)ref->numel;
    HK_REQUIRE(exact || ref->dtype == HK_ST_F64, HK_EFORMAT, "golden tensor '%s' is %s, expected F64", ref->name,
               hk_st_dtype_name(ref->dtype));
    HK_REQUIRE(!exact || is_integer_dtype(ref->dtype), HK_EFORMAT,
               "golden tensor '%s' is %s but its tolerance says exact (integer tensors only)", ref->name,
               hk_st_dtype_name(ref->dtype));
    const hk_st_tensor *g = got ? hk_st_find(got, ref->name) : NULL;
    char msg[160], s1[64], s2[64];
    if (!g) {
        set_problem(r, got ? "missing from the backend's file" : "backend file missing or unreadable");
        r->nfail = r->n;
        return HK_OK;
    }
    if (!same_shape(ref, g)) {
        shape_str(s1, sizeof s1, g);
        shape_str(s2, sizeof s2, ref);
        snprintf(msg, sizeof msg, "shape %s, expected %s", s1, s2);
        set_problem(r, msg);
        r->nfail = r->n;
        return HK_OK;
    }
    int dtype_ok = exact ? is_integer_dtype(g->dtype)
                         : (g->dtype == HK_ST_F64 || (dtype == HK_GOLDEN_F32 && g->dtype == HK_ST_F32));
    if (!dtype_ok) {
        snprintf(msg, sizeof msg, "dtype %s, expected %s", hk_st_dtype_name(g->dtype),
                 exact ? "an integer dtype" : dtype == HK_GOLDEN_F32 ? "F32 (or F64)" : "F64 (checking --dtype f64)");
        set_problem(r, msg);
        r->nfail = r->n;
        return HK_OK;
    }
    size_t n = ref->numel ? ref->numel : 1;
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    int st = (!a || !b) ? hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "out of memory comparing '%s'", ref->name)
                        : HK_OK;
    if (!st) st = hk_st_to_f64(g, a);
    if (!st) st = hk_st_to_f64(ref, b);
    for (size_t i = 0; !st && !exact && i < ref->numel; i++)
        if (!isfinite(b[i])) /* the generator never stores one; an inf would agree with an inf */
            st = hk_error_set(HK_EFORMAT, __FILE__, __LINE__, "golden tensor '%s' element %zu is %g, not finite",
                              ref->name, i, b[i]);
    hk_cmp_result cr;
    int quota = *printed < 10 ? 10 - *printed : 0; /* the first 10 failing elements of the case */
    if (!st) st = hk_compare(a, b, (long)ref->numel, ref->shape, ref->ndim, ref->name, r->atol, r->rtol, log, quota, &cr);
    if (!st) {
        *printed += cr.nfail < quota ? (int)cr.nfail : quota;
        long zeros = 0;
        for (size_t i = 0; i < ref->numel; i++) zeros += b[i] == 0.0;
        r->zero_frac = ref->numel ? (double)zeros / (double)ref->numel : 0.0;
        r->nfail = cr.nfail;
        r->max_abs = cr.max_abs;
        r->max_rel = cr.max_rel;
        r->pct = 100.0 * cr.worst_ratio;
        r->worst_got = cr.worst_got;
        r->worst_ref = cr.worst_ref;
        hk_format_index(r->worst, sizeof r->worst, cr.worst_index < 0 ? 0 : cr.worst_index, ref->shape, ref->ndim);
        /* Zero-trust: a mostly-zero reference agrees with a backend that
         * forgot to compute anything; unless the case says so, fail it. */
        if (!exact && !zeros_ok && r->zero_frac > HK_GOLDEN_ZERO_TRUST) {
            snprintf(msg, sizeof msg, "mistrusted: reference is %.0f%% exact zeros and not marked zeros_expected",
                     100.0 * r->zero_frac);
            set_problem(r, msg);
            if (!r->nfail) r->nfail = 1;
        }
    }
    free(a);
    free(b);
    return st;
}

int hk_golden_check_case(const hk_st_file *gold, const hk_st_file *got, hk_golden_dtype dtype, FILE *log,
                         hk_golden_result *res)
{
    HK_REQUIRE_PTR(gold);
    HK_REQUIRE_PTR(res);
    memset(res, 0, sizeof *res);
    const char *fmt = hk_st_get_meta(gold, "format"), *op = hk_st_get_meta(gold, "op"),
               *name = hk_st_get_meta(gold, "case"), *tols = hk_st_get_meta(gold, "tolerance");
    HK_REQUIRE(fmt && !strcmp(fmt, HK_GOLDEN_FORMAT), HK_EFORMAT, "golden file: metadata 'format' is '%s', expected '%s'",
               fmt ? fmt : "(missing)", HK_GOLDEN_FORMAT);
    HK_REQUIRE(op && name && tols, HK_EFORMAT, "golden file: metadata 'op', 'case' or 'tolerance' missing");
    snprintf(res->name, sizeof res->name, "%s", name);
    snprintf(res->op, sizeof res->op, "%s", op);
    json_error_t jerr;
    json_t *tol = json_loads(tols, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(tol)) {
        json_decref(tol); /* valid JSON of another type ("[1, 2]") is still an allocation */
        HK_ERROR(HK_EFORMAT, "golden case %s: tolerance is not a JSON object (%s)", name,
                 tol ? "not an object" : jerr.text);
    }
    /* A backend's file that carries the golden format marker is a golden file
     * (a copy, a link, a path typo): comparing the reference with itself proves nothing. */
    const char *gfmt = got ? hk_st_get_meta(got, "format") : NULL;
    int refused = gfmt && !strcmp(gfmt, HK_GOLDEN_FORMAT);
    if (refused) got = NULL;
    int st = HK_OK, printed = 0;
    for (size_t i = 0; i < gold->ntensors && !st; i++) {
        const hk_st_tensor *t = &gold->tensors[i];
        if (!is_output(t->name)) continue;
        if (res->ntensors >= HK_GOLDEN_MAX_TENSORS) {
            st = hk_error_set(HK_EFORMAT, __FILE__, __LINE__, "golden case %s: more than %d outputs", name,
                              HK_GOLDEN_MAX_TENSORS);
            break;
        }
        hk_golden_tensor_result *r = &res->t[res->ntensors++];
        st = check_tensor(t, got, tol, dtype, log, &printed, r);
        if (!st && (r->nfail || r->problem[0])) res->failed_tensors++;
    }
    json_decref(tol);
    HK_TRY(st);
    HK_REQUIRE(res->ntensors > 0, HK_EFORMAT, "golden case %s has no out.* / grad.* tensor", name);
    if (refused) {
        snprintf(res->problem, sizeof res->problem,
                 "backend output refused: it carries the golden format marker '%s' (a copy of or link to the golden "
                 "file, not a backend's output)", HK_GOLDEN_FORMAT);
        for (int i = 0; i < res->ntensors; i++)
            snprintf(res->t[i].problem, sizeof res->t[i].problem, "backend output refused (a golden file)");
    } else if (!got) {
        snprintf(res->problem, sizeof res->problem, "backend output file missing or unreadable");
    }
    return HK_OK;
}
