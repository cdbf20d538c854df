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

static int is_output(const char *name) { return !strncmp(name, "out.", 4) || !strncmp(name, "grad.", 5); }

static int is_integer_dtype(hk_st_dtype dt) { return dt != HK_ST_F16 && dt != HK_ST_BF16 && dt != HK_ST_F32 && dt != HK_ST_F64; }

int hk_golden_tolerance(const hk_golden_tol_in *in, hk_golden_dtype dtype, hk_golden_tol *out)
{
    HK_REQUIRE_PTR(in);
    HK_REQUIRE_PTR(out);
    HK_REQUIRE(dtype == HK_GOLDEN_F64 || dtype == HK_GOLDEN_F32, HK_EINVAL, "tolerance: dtype %d is not f64 or f32",
               (int)dtype);
    HK_REQUIRE(isfinite(in->K) && in->K >= 1 && isfinite(in->n) && in->n >= 1 && isfinite(in->scale) &&
                   in->scale >= 0 && isfinite(in->count) && in->count >= 1,
               HK_EDOM, "tolerance ingredients out of range: K %g (>= 1), n %g (>= 1), scale %g (>= 0), N %g (>= 1)",
               in->K, in->n, in->scale, in->count);
    /* Rounding units on the two sides of |got - ref|: F64 backend and F64
     * reference, u64 each; F32 backend u32, the F64 reference u64 (2^-29 of it). */
    const double e = dtype == HK_GOLDEN_F32 ? FLT_EPSILON / 2 + DBL_EPSILON / 2 : DBL_EPSILON;
    const double tiny = dtype == HK_GOLDEN_F32 ? FLT_MIN : DBL_MIN;
    /* To first order an element's error is sum_i c_i delta_i over the n
     * roundings of its dependency path, |c_i| <= S; with the delta_i
     * independent, of mean 0 and |delta_i| <= u (Higham & Mary 2019; Ipsen &
     * Zhou 2020), Hoeffding gives |sum| <= lambda sqrt(n) u S except with
     * probability 2 exp(-lambda^2 / 2); over the N elements of the tensor
     * that is <= P for lambda = sqrt(2 ln(2 N / P)).  The deterministic
     * gamma_n ~ n u holds always: the smaller of the two is used. */
    out->lambda = sqrt(2.0 * log(2.0 * in->count / HK_GOLDEN_TOL_PFAIL));
    const double prob = out->lambda * sqrt(in->n);
    out->n_eff = prob < in->n ? prob : in->n;
    out->rtol = in->K * out->n_eff * e;
    out->floor = in->K * tiny; /* a value below the smallest normal may flush to 0 */
    out->atol = out->rtol * in->scale + out->floor;
    return HK_OK;
}

typedef struct {
    int exact, zeros_ok;
    double atol, rtol, floor;
    const char *row_scale; /* name of the row-scale tensor, or NULL */
    char problem[160];     /* a bound that cannot be used: the tensor fails */
} tol_entry;

/* Reads and validates the tolerance of tensor `name` (N elements) for dtype.
 * A malformed entry is a bad golden file (error); a well-formed bound that
 * is too loose or does not follow its ingredients fails the tensor (problem). */
static int get_tol(json_t *tol, const char *name, long N, hk_golden_dtype dtype, tol_entry *t)
{
    memset(t, 0, sizeof *t);
    json_t *e = json_object_get(tol, name);
    HK_REQUIRE(json_is_object(e), HK_EFORMAT, "golden tolerance for '%s' is missing", name);
    t->exact = json_is_true(json_object_get(e, "exact"));
    t->zeros_ok = json_is_true(json_object_get(e, "zeros_expected"));
    if (t->exact) return HK_OK;
    const char *key = dtype == HK_GOLDEN_F32 ? "f32" : "f64";
    json_t *d = json_object_get(e, key);
    json_t *a = json_object_get(d, "atol"), *r = json_object_get(d, "rtol");
    HK_REQUIRE(json_is_number(a) && json_is_number(r), HK_EFORMAT,
               "golden tolerance for '%s' has no numeric %s.atol / %s.rtol", name, key, key);
    t->atol = json_number_value(a);
    t->rtol = json_number_value(r);
    HK_REQUIRE(isfinite(t->atol) && isfinite(t->rtol) && t->atol >= 0 && t->rtol >= 0, HK_EFORMAT,
               "golden tolerance for '%s' (%s) is NaN, infinite or negative: atol %g rtol %g", name, key, t->atol,
               t->rtol);
    HK_REQUIRE(t->rtol > 0, HK_EFORMAT,
               "golden tolerance for '%s' (%s) has rtol 0 for a float tensor: a tolerance never derived", name, key);
    json_t *rs = json_object_get(e, "row_scale");
    if (rs) {
        HK_REQUIRE(json_is_string(rs), HK_EFORMAT, "golden tolerance for '%s': row_scale is not a tensor name", name);
        t->row_scale = json_string_value(rs);
    }
    /* The stored bound must be the model's (hk_golden_tolerance) on the
     * stored ingredients: a hand-loosened rtol is caught here. */
    json_t *jK = json_object_get(e, "K"), *jn = json_object_get(e, "n"), *jS = json_object_get(e, "scale");
    HK_REQUIRE(json_is_number(jK) && json_is_number(jn) && json_is_number(jS), HK_EFORMAT,
               "golden tolerance for '%s' has no numeric K, n and scale: the tolerance cannot be recomputed", name);
    {
        hk_golden_tol_in in = {json_number_value(jK), json_number_value(jn), json_number_value(jS), (double)(N ? N : 1)};
        hk_golden_tol m;
        if (hk_golden_tolerance(&in, dtype, &m)) {
            hk_error_clear();
            snprintf(t->problem, sizeof t->problem, "tolerance ingredients out of range (K %g, n %g, scale %g)", in.K,
                     in.n, in.scale);
            return HK_OK;
        }
        t->floor = m.floor;
        if (fabs(m.rtol - t->rtol) > 1e-12 * m.rtol || fabs(m.atol - t->atol) > 1e-12 * m.atol) {
            snprintf(t->problem, sizeof t->problem,
                     "tolerance does not follow its ingredients: stored rtol %.3g atol %.3g, model %.3g %.3g", t->rtol,
                     t->atol, m.rtol, m.atol);
            return HK_OK;
        }
    }
    if (t->rtol >= HK_GOLDEN_MAX_RTOL)
        snprintf(t->problem, sizeof t->problem, "bound too loose: rtol %.3g >= %g cannot tell a wrong formula from rounding",
                 t->rtol, HK_GOLDEN_MAX_RTOL);
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

/* The row-scale tensor of an output: F64, shape = the output's leading axes. */
static int row_scales(const hk_st_file *gold, const hk_st_tensor *ref, const char *sname, const double **S,
                      long *rows)
{
    const hk_st_tensor *t = hk_st_find(gold, sname);
    HK_REQUIRE(t != NULL, HK_EFORMAT, "golden tolerance for '%s' names row scales '%s', which the file lacks",
               ref->name, sname);
    int ok = t->dtype == HK_ST_F64 && ref->ndim >= 1 && t->ndim == ref->ndim - 1;
    for (int d = 0; ok && d < t->ndim; d++) ok = t->shape[d] == ref->shape[d];
    HK_REQUIRE(ok, HK_EFORMAT, "golden row scales '%s' must be F64 with the leading %d axes of '%s'", sname,
               ref->ndim - 1, ref->name);
    const double *v = t->data;
    for (size_t i = 0; i < t->numel; i++)
        HK_REQUIRE(isfinite(v[i]) && v[i] >= 0, HK_EFORMAT, "golden row scales '%s'[%zu] = %g: not a scale", sname, i,
                   v[i]);
    *S = v;
    *rows = (long)t->numel;
    return HK_OK;
}

/* Compares one tensor; fills r. Returns an error only for a bad golden file. */
static int check_tensor(const hk_st_file *gold, const hk_st_tensor *ref, const hk_st_file *got, json_t *tol,
                        hk_golden_dtype dtype, FILE *log, int *printed, hk_golden_tensor_result *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", ref->name);
    tol_entry te;
    HK_TRY(get_tol(tol, ref->name, (long)ref->numel, dtype, &te));
    int exact = te.exact, zeros_ok = te.zeros_ok;
    r->atol = te.atol;
    r->rtol = te.rtol;
    r->exact = exact;
    r->n = (long)ref->numel;
    HK_REQUIRE(exact || ref->dtype == HK_ST_F64, HK_EFORMAT, "golden tensor '%s' is %s, expected F64", ref->name,
               hk_st_dtype_name(ref->dtype));
    HK_REQUIRE(!exact || is_integer_dtype(ref->dtype), HK_EFORMAT,
               "golden tensor '%s' is %s but its tolerance says exact (integer tensors only)", ref->name,
               hk_st_dtype_name(ref->dtype));
    const double *S = NULL;
    long rows = 0;
    if (te.row_scale) HK_TRY(row_scales(gold, ref, te.row_scale, &S, &rows));
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
    double *arow = S ? malloc((size_t)rows * sizeof *arow) : NULL;
    int st = (!a || !b || (S && !arow))
                 ? hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "out of memory comparing '%s'", ref->name)
                 : HK_OK;
    for (long k = 0; !st && S && k < rows; k++) arow[k] = te.rtol * S[k] + te.floor;
    if (!st) st = hk_st_to_f64(g, a);
    if (!st) st = hk_st_to_f64(ref, b);
    for (size_t i = 0; !st && !exact && i < ref->numel; i++)
        if (!isfinite(b[i])) /* the generator never stores one; an inf would agree with an inf */
            st = hk_error_set(HK_EFORMAT, __FILE__, __LINE__, "golden tensor '%s' element %zu is %g, not finite",
                              ref->name, i, b[i]);
    hk_cmp_result cr;
    int quota = *printed < 10 ? 10 - *printed : 0; /* the first 10 failing elements of the case */
    if (!st && S)
        st = hk_compare_rows(a, b, (long)ref->numel, ref->shape, ref->ndim, ref->name, arow,
                             ref->numel && rows ? (long)ref->numel / rows : 1, r->rtol, log, quota, &cr);
    else if (!st)
        st = hk_compare(a, b, (long)ref->numel, ref->shape, ref->ndim, ref->name, r->atol, r->rtol, log, quota, &cr);
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
        /* A bound that cannot be used fails the tensor (compared anyway, so
         * the numbers are reported), never a silent pass. */
        if (te.problem[0]) {
            set_problem(r, te.problem);
            if (!r->nfail) r->nfail = 1;
        }
    }
    free(a);
    free(b);
    free(arow);
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
        json_decref(tol); /* valid JSON that is not an object */
        return hk_error_set(HK_EFORMAT, __FILE__, __LINE__, "golden case %s: tolerance is not a JSON object (%s)", name,
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
        st = check_tensor(gold, t, got, tol, dtype, log, &printed, r);
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
