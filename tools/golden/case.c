/* hkref — the golden-set generator: case registry, builder, writer and the
 * byte-identity comparison (see case.h and golden/README.md). */
#include "case.h"

#include "manifest.h"
#include "ref/attnmask.h"
#include "ref/fileio.h"
#include "registry.h"
#include "sha256.h"
#include "ref/error.h"
#include "ref/rng.h"

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef const hk_golden_case *(*table_fn)(size_t *n);
static const table_fn tables[] = {
#define HK_GOLDEN(op) hk_golden_##op,
#include "golden.inc"
#undef HK_GOLDEN
    NULL};

HK_REGISTRY_DEFINE(hk_golden_case, tables, hk_golden_count, hk_golden_get)

/* The ops are those of the registered cases (every op has committed cases),
 * in registry order, each once. */
static int op_seen_before(size_t i)
{
    const hk_golden_op *op = hk_golden_get(i)->op;
    for (size_t j = 0; j < i; j++)
        if (hk_golden_get(j)->op == op) return 1;
    return 0;
}

size_t hk_golden_op_count(void)
{
    size_t n = 0, total = hk_golden_count();
    for (size_t i = 0; i < total; i++) n += !op_seen_before(i);
    return n;
}

const hk_golden_op *hk_golden_op_get(size_t k)
{
    size_t total = hk_golden_count();
    for (size_t i = 0; i < total; i++)
        if (!op_seen_before(i) && k-- == 0) return hk_golden_get(i)->op;
    return NULL;
}

const hk_golden_op *hk_golden_op_find(const char *name)
{
    for (size_t i = 0; name && i < hk_golden_op_count(); i++)
        if (!strcmp(hk_golden_op_get(i)->op, name)) return hk_golden_op_get(i);
    return NULL;
}

const hk_golden_case *hk_golden_case_find(const char *name)
{
    for (size_t i = 0; name && i < hk_golden_count(); i++)
        if (!strcmp(hk_golden_get(i)->name, name)) return hk_golden_get(i);
    return NULL;
}

/* ---- builder ---- */

enum { K_F64, K_U8, K_I64 };

typedef struct {
    char name[96];
    int kind, ndim, is_out, zeros_ok;
    int given;            /* an input copied from the caller's file */
    int relative;         /* relative-error only: scale 0, atol = floor */
    int is_scale;         /* scale.<output>: row scales, stored, not an input */
    long shape[HK_ST_MAX_NDIM], n;
    void *data;
    double K, nterms, scale;
    const char *note;
    char row_scale[104];  /* name of this output's row-scale tensor, or "" */
} gtensor;

struct hk_case {
    gsl_rng *r;
    json_t *cfg;
    int status;
    int nt;
    gtensor t[HK_GOLDEN_MAX_TENSORS];
    int nscratch;
    void *scratch[64];
    const hk_st_file *given;
};

gsl_rng *hk_case_rng(hk_case *g) { return g->r; }

static void *declare(hk_case *g, const char *name, int kind, int ndim, const long *shape, size_t elsize)
{
    if (g->status) return NULL;
    if (g->nt >= HK_GOLDEN_MAX_TENSORS) {
        g->status = hk_error_set(HK_EINVAL, __FILE__, __LINE__, "too many tensors in a case (max %d)",
                                 HK_GOLDEN_MAX_TENSORS);
        return NULL;
    }
    if (ndim < 0 || ndim > HK_ST_MAX_NDIM || strlen(name) >= sizeof g->t[0].name) {
        g->status = hk_error_set(HK_EINVAL, __FILE__, __LINE__, "tensor '%s': bad ndim or name", name);
        return NULL;
    }
    for (int i = 0; i < g->nt; i++)
        if (!strcmp(g->t[i].name, name)) {
            g->status = hk_error_set(HK_EINVAL, __FILE__, __LINE__, "tensor '%s' declared twice", name);
            return NULL;
        }
    gtensor *t = &g->t[g->nt];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = kind;
    t->ndim = ndim;
    t->n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 1 || t->n > (1L << 40) / shape[d]) {
            g->status = hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "tensor '%s': shape axis %d = %ld is empty or "
                                     "too large", name, d, shape[d]);
            return NULL;
        }
        t->shape[d] = shape[d];
        t->n *= shape[d];
    }
    t->data = calloc((size_t)(t->n ? t->n : 1), elsize);
    if (!t->data) {
        g->status = hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "out of memory for tensor '%s'", name);
        return NULL;
    }
    g->nt++;
    return t->data;
}

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static void shape_text(char *buf, size_t size, int ndim, const long *shape)
{
    size_t k = (size_t)snprintf(buf, size, "(");
    for (int d = 0; d < ndim && k < size; d++) k += (size_t)snprintf(buf + k, size - k, d ? ",%ld" : "%ld", shape[d]);
    if (k < size) snprintf(buf + k, size - k, ")");
}

/* Copies the caller's tensor `name` (if given) into the just-declared t:
 * shape must match the declaration (the op's spec for this config), dtype
 * must fit the kind, masks must be 0/1. */
static void take_given(hk_case *g, gtensor *t)
{
    if (g->status || !g->given) return;
    const hk_st_tensor *s = hk_st_find(g->given, t->name);
    if (!s) return;
    int same = s->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = s->shape[d] == t->shape[d];
    if (!same) {
        char a[96], b[96];
        shape_text(a, sizeof a, s->ndim, s->shape);
        shape_text(b, sizeof b, t->ndim, t->shape);
        g->status = hk_error_set(HK_ESHAPE, __FILE__, __LINE__,
                                 "given tensor %s has shape %s; this op and config need %s", t->name, a, b);
        return;
    }
    if (t->kind == K_F64) {
        if (s->dtype != HK_ST_F64 && s->dtype != HK_ST_F32) {
            g->status = hk_error_set(HK_EFORMAT, __FILE__, __LINE__, "given tensor %s is %s; inputs are F32 or F64",
                                     t->name, hk_st_dtype_name(s->dtype));
            return;
        }
        g->status = hk_st_to_f64(s, t->data);
    } else if (t->kind == K_U8) {
        if (s->dtype != HK_ST_U8 && s->dtype != HK_ST_BOOL) {
            g->status = hk_error_set(HK_EFORMAT, __FILE__, __LINE__, "given mask %s is %s; masks are U8 (or BOOL), "
                                     "1 = dropped", t->name, hk_st_dtype_name(s->dtype));
            return;
        }
        const uint8_t *v = s->data;
        for (long i = 0; i < t->n; i++)
            if (v[i] > 1) {
                g->status = hk_error_set(HK_EDOM, __FILE__, __LINE__, "given mask %s[%ld] = %u: masks are 0 (kept) "
                                         "or 1 (dropped)", t->name, i, (unsigned)v[i]);
                return;
            }
        memcpy(t->data, v, (size_t)t->n);
    } else {
        if (s->dtype != HK_ST_I64) {
            g->status = hk_error_set(HK_EFORMAT, __FILE__, __LINE__, "given tensor %s is %s; integer inputs are I64",
                                     t->name, hk_st_dtype_name(s->dtype));
            return;
        }
        memcpy(t->data, s->data, (size_t)t->n * sizeof(int64_t));
    }
    t->given = 1;
}

int hk_case_is_given(const hk_case *g, const void *data)
{
    for (int i = 0; data && i < g->nt; i++)
        if (g->t[i].data == data) return g->t[i].given;
    return 0;
}

double *hk_case_in(hk_case *g, const char *name, int ndim, const long *shape)
{
    if (!g->status && !has_prefix(name, "in.") && !has_prefix(name, "param.")) {
        g->status = hk_error_set(HK_EINVAL, __FILE__, __LINE__, "input '%s' must be named in.* or param.*", name);
        return NULL;
    }
    double *p = declare(g, name, K_F64, ndim, shape, sizeof(double));
    if (p) take_given(g, &g->t[g->nt - 1]);
    return g->status ? NULL : p;
}

uint8_t *hk_case_mask(hk_case *g, const char *name, int ndim, const long *shape)
{
    if (!g->status && !has_prefix(name, "mask.")) {
        g->status = hk_error_set(HK_EINVAL, __FILE__, __LINE__, "mask '%s' must be named mask.*", name);
        return NULL;
    }
    uint8_t *p = declare(g, name, K_U8, ndim, shape, 1);
    if (p) take_given(g, &g->t[g->nt - 1]);
    return g->status ? NULL : p;
}

int64_t *hk_case_int(hk_case *g, const char *name, int ndim, const long *shape)
{
    int64_t *p = declare(g, name, K_I64, ndim, shape, sizeof(int64_t));
    if (p && has_prefix(name, "in.")) take_given(g, &g->t[g->nt - 1]);
    return g->status ? NULL : p;
}

double *hk_case_out(hk_case *g, const char *name, int ndim, const long *shape, double K, double n, double scale,
                  const char *note)
{
    if (!g->status && !has_prefix(name, "out.") && !has_prefix(name, "grad.")) {
        g->status = hk_error_set(HK_EINVAL, __FILE__, __LINE__, "output '%s' must be named out.* or grad.*", name);
        return NULL;
    }
    if (!g->status && !(K >= 1 && n >= 1 && scale >= 0 && note && *note)) {
        g->status = hk_error_set(HK_EDOM, __FILE__, __LINE__,
                                 "output '%s': tolerance needs K >= 1, n >= 1, scale >= 0 and a note", name);
        return NULL;
    }
    double *p = declare(g, name, K_F64, ndim, shape, sizeof(double));
    if (p) {
        gtensor *t = &g->t[g->nt - 1];
        t->is_out = 1;
        t->K = K;
        t->nterms = n;
        t->scale = scale;
        t->note = note;
    }
    return p;
}

static gtensor *find_out(hk_case *g, const char *name)
{
    for (int i = 0; i < g->nt; i++)
        if (!strcmp(g->t[i].name, name) && g->t[i].is_out) return &g->t[i];
    if (!g->status) g->status = hk_error_set(HK_ENOTFOUND, __FILE__, __LINE__, "no output '%s' declared", name);
    return NULL;
}

void hk_case_zeros_expected(hk_case *g, const char *name)
{
    gtensor *t = find_out(g, name);
    if (t) t->zeros_ok = 1;
}

void hk_case_set_scale(hk_case *g, const char *name, double scale)
{
    gtensor *t = find_out(g, name);
    if (t) t->scale = scale;
}

void hk_case_relative(hk_case *g, const char *name)
{
    gtensor *t = find_out(g, name);
    if (t) t->relative = 1;
}

void hk_case_row_scale(hk_case *g, const char *name, const double *S, long rows)
{
    gtensor *t = find_out(g, name);
    if (!t || g->status) return;
    if (t->ndim < 1 || rows * t->shape[t->ndim - 1] != t->n) {
        g->status = hk_error_set(HK_ESHAPE, __FILE__, __LINE__, "row scales of '%s': %ld rows for %ld elements", name,
                                 rows, t->n);
        return;
    }
    char sname[104];
    snprintf(sname, sizeof sname, "scale.%s", name);
    long shape[HK_ST_MAX_NDIM];
    int nd = t->ndim - 1;
    memcpy(shape, t->shape, sizeof(long) * (size_t)nd);
    double *d = declare(g, sname, K_F64, nd, shape, sizeof(double));
    if (!d) return;
    g->t[g->nt - 1].is_scale = 1;
    t = find_out(g, name); /* declare may not move t (fixed array), but look it up again for clarity */
    double mx = 0.0;
    for (long r = 0; r < rows; r++) {
        d[r] = S[r];
        mx = fmax(mx, S[r]);
    }
    snprintf(t->row_scale, sizeof t->row_scale, "%s", sname);
    t->scale = mx;
}

void hk_case_add_terms(hk_case *g, const char *prefix, double dn)
{
    for (int i = 0; i < g->nt; i++)
        if (g->t[i].is_out && has_prefix(g->t[i].name, prefix)) g->t[i].nterms += dn;
}

void hk_case_round32(double *x, long n)
{
    for (long i = 0; i < n; i++) x[i] = (double)(float)x[i];
}

void hk_case_fill(hk_case *g, double *x, long n, double lo, double hi)
{
    if (g->status || !x || hk_case_is_given(g, x)) return;
    for (long i = 0; i < n; i++) x[i] = lo + (hi - lo) * gsl_rng_uniform(g->r);
    hk_case_round32(x, n);
}

void *hk_case_alloc(hk_case *g, size_t bytes)
{
    if (g->status) return NULL;
    if (g->nscratch >= (int)(sizeof g->scratch / sizeof g->scratch[0])) {
        g->status = hk_error_set(HK_EINVAL, __FILE__, __LINE__, "too many scratch buffers in a case");
        return NULL;
    }
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p) g->status = hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "out of memory (%zu bytes of scratch)", bytes);
    else g->scratch[g->nscratch++] = p;
    return p;
}

double *hk_case_scratch(hk_case *g, long n) { return hk_case_alloc(g, sizeof(double) * (size_t)(n > 0 ? n : 1)); }

double *hk_case_abs_copy(hk_case *g, const double *src, long n)
{
    double *p = hk_case_scratch(g, n);
    if (p && src)
        for (long i = 0; i < n; i++) p[i] = fabs(src[i]);
    return p;
}

double hk_case_maxabs(const double *x, long n)
{
    double m = 0.0;
    for (long i = 0; x && i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

void hk_case_cfg_int(hk_case *g, const char *key, long v) { json_object_set_new(g->cfg, key, json_integer(v)); }
void hk_case_cfg_real(hk_case *g, const char *key, double v) { json_object_set_new(g->cfg, key, json_real(v)); }
void hk_case_cfg_str(hk_case *g, const char *key, const char *v) { json_object_set_new(g->cfg, key, json_string(v)); }

void hk_case_cfg_lora(hk_case *g, unsigned lora)
{
    char s[8] = "";
    int k = 0;
    for (int i = 0; i < 4; i++)
        if (lora & (1u << i)) s[k++] = "qkvo"[i];
    hk_case_cfg_str(g, "lora", s);
}

double hk_case_softmax_grad_scale(const double *y, const double *d, const double *D, long C)
{
    double s = 0.0, sabs = 0.0, S = 0.0;
    for (long c = 0; c < C; c++) {
        s += y[c] * d[c];
        sabs += y[c] * (D ? D[c] : fabs(d[c]));
    }
    for (long c = 0; c < C; c++) S = fmax(S, y[c] * ((D ? D[c] : 0.0) + sabs + fabs(d[c] - s)));
    return S;
}

long hk_case_allmasked_rows(const uint8_t *mask, const uint8_t *pad, long B, long NH, long T)
{
    long n = 0;
    for (long row = 0; row < B * NH * T; row++) {
        long kept;
        hk_attnmask_row_count(&kept, NULL, mask + row * T, pad ? pad + (row / (NH * T)) * T : NULL, T);
        n += kept == 0;
    }
    return n;
}

int hk_case_padding(hk_case *g, uint8_t *pad, long B, long T, const hk_counts *right, const hk_counts *left)
{
    HK_REQUIRE_PTR(pad);
    if (hk_case_is_given(g, pad)) {
        for (long b = 0; b < B; b++) {
            long kept = 0;
            for (long t = 0; t < T; t++) kept += !pad[b * T + t];
            HK_REQUIRE(kept > 0, HK_EDOM, "given mask.pad: batch element %ld has every key padded", b);
        }
        return HK_OK;
    }
    for (long b = 0; b < B; b++) {
        long r = hk_counts_at(right, b), l = hk_counts_at(left, b);
        HK_REQUIRE(l + r < T, HK_EDOM,
                   "padding: batch element %ld would have pad_left=%ld + pad_right=%ld >= T=%ld keys padded (no key left)",
                   b, l, r, T);
        for (long t = 0; t < l; t++) pad[b * T + t] = 1;
        for (long t = T - r; t < T; t++) pad[b * T + t] = 1;
    }
    HK_REQUIRE((right->n <= 1 || right->n <= B) && (left->n <= 1 || left->n <= B), HK_EDOM,
               "padding: %d / %d counts given for B=%ld batch elements", right->n, left->n, B);
    return HK_OK;
}

int hk_case_drop_keys(uint8_t *mask, const uint8_t *pad, long B, long NH, long T, const hk_counts *range)
{
    if (range->n == 0) return HK_OK;
    long lo = range->v[0], hi = range->n > 1 ? range->v[1] : -1;
    HK_REQUIRE(range->n == 2 && lo < hi && hi <= T, HK_EDOM, "drop_keys must be lo:hi with 0 <= lo < hi <= T=%ld", T);
    for (long row = 0; row < B * NH * T; row++)
        for (long k = lo; k < hi; k++)
            if (!pad || !pad[(row / (NH * T)) * T + k]) mask[row * T + k] = 1;
    return HK_OK;
}

int hk_case_straddles(const uint8_t *mask, const uint8_t *pad, long B, long NH, long T, long K)
{
    if (K < 1 || K >= T) return 0;
    for (long row = 0; row < B * NH * T; row++) {
        const uint8_t *pr = pad ? pad + (row / (NH * T)) * T : NULL;
        if (pr && (pr[K - 1] || pr[K])) continue;
        if (mask[row * T + K - 1] && mask[row * T + K]) return 1;
    }
    return 0;
}

double hk_case_logit_range(const double *g, long n, double R)
{
    for (long i = 0; i < n; i++)
        if (isfinite(g[i])) R = fmax(R, ceil(fabs(g[i])));
    return R;
}

static void free_case(hk_case *g)
{
    for (int i = 0; i < g->nt; i++) free(g->t[i].data);
    for (int i = 0; i < g->nscratch; i++) free(g->scratch[i]);
    json_decref(g->cfg);
    hk_rng_free(g->r);
    free(g);
}

/* The stored bound for one dtype: the one formula (hk_golden_tolerance). */
static json_t *tol_entry(const hk_golden_tol_in *in, hk_golden_dtype dt)
{
    hk_golden_tol m;
    if (hk_golden_tolerance(in, dt, &m)) return NULL;
    json_t *o = json_object();
    json_object_set_new(o, "atol", json_real(m.atol));
    json_object_set_new(o, "rtol", json_real(m.rtol));
    return o;
}

/* Validates the finished tensors and computes each output's tolerance. */
static int finish_tensor(const char *cname, gtensor *t, json_t *tol)
{
    if (t->kind != K_F64) {
        if (has_prefix(t->name, "out.") || has_prefix(t->name, "grad.")) {
            json_t *o = json_object();
            json_object_set_new(o, "exact", json_true());
            json_object_set_new(o, "note", json_string("integer tensor: compared bit-exactly"));
            json_object_set_new(tol, t->name, o);
        }
        if (t->kind == K_U8)
            for (long i = 0; i < t->n; i++)
                HK_REQUIRE(((uint8_t *)t->data)[i] <= 1, HK_EDOM, "%s: mask %s[%ld] is not 0/1", cname, t->name, i);
        return HK_OK;
    }
    const double *x = t->data;
    if (t->is_scale) return HK_OK;
    if (!t->is_out) {
        for (long i = 0; i < t->n; i++) {
            HK_REQUIRE(!isnan(x[i]), HK_ENAN, "%s: input %s[%ld] is NaN", cname, t->name, i);
            HK_REQUIRE((double)(float)x[i] == x[i], HK_EDOM,
                       "%s: input %s[%ld] = %.17g is not exactly representable in binary32 (use hk_case_round32)",
                       cname, t->name, i, x[i]);
        }
        return HK_OK;
    }
    double amax = 0.0;
    long zeros = 0;
    for (long i = 0; i < t->n; i++) {
        HK_REQUIRE(isfinite(x[i]), HK_ENAN, "%s: expected output %s[%ld] is not finite", cname, t->name, i);
        if (fabs(x[i]) > amax) amax = fabs(x[i]);
        zeros += x[i] == 0.0;
    }
    double zfrac = t->n ? (double)zeros / (double)t->n : 0.0;
    HK_REQUIRE(t->zeros_ok || zfrac <= 0.5, HK_EDOM,
               "%s: expected output %s is %.0f%% exact zeros (zero-trust rule): strengthen the case or mark "
               "hk_case_zeros_expected", cname, t->name, 100.0 * zfrac);
    double S = t->relative ? 0.0 : t->scale > 0 ? t->scale : (amax > 0 ? amax : 1.0);
    hk_golden_tol_in in = {t->K, t->nterms, S, (double)(t->n ? t->n : 1)};
    json_t *f64 = tol_entry(&in, HK_GOLDEN_F64), *f32 = tol_entry(&in, HK_GOLDEN_F32);
    if (!f64 || !f32) {
        json_decref(f64);
        json_decref(f32);
        return hk_error_code() ? hk_error_code() : HK_EDOM;
    }
    json_t *o = json_object();
    json_object_set_new(o, "K", json_real(t->K));
    json_object_set_new(o, "n", json_real(t->nterms));
    json_object_set_new(o, "scale", json_real(S));
    json_object_set_new(o, "f64", f64);
    json_object_set_new(o, "f32", f32);
    json_object_set_new(o, "note", json_string(t->note));
    if (t->zeros_ok) json_object_set_new(o, "zeros_expected", json_true());
    if (t->relative) json_object_set_new(o, "relative", json_true());
    if (t->row_scale[0]) json_object_set_new(o, "row_scale", json_string(t->row_scale));
    json_object_set_new(tol, t->name, o);
    return HK_OK;
}

static int set_json_meta(hk_st_file *f, const char *key, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    HK_REQUIRE(s != NULL, HK_ENOMEM, "cannot serialize metadata '%s'", key);
    int st = hk_st_set_meta(f, key, s);
    free(s);
    return st;
}

/* Every in.* / param.* / mask.* tensor of the caller's file must be an
 * input the case declared (a typo or a tensor of another op is an error). */
static int check_given_used(const hk_case *g, const char *cname)
{
    for (size_t i = 0; g->given && i < g->given->ntensors; i++) {
        const char *nm = g->given->tensors[i].name;
        if (has_prefix(nm, "out.") || has_prefix(nm, "grad.") || has_prefix(nm, "scale.")) continue; /* recomputed */
        int used = 0;
        for (int k = 0; k < g->nt && !used; k++) used = g->t[k].given && !strcmp(g->t[k].name, nm);
        HK_REQUIRE(used, HK_ENOTFOUND, "%s: given tensor %s is not an input of this op and config", cname, nm);
    }
    return HK_OK;
}

static int build_into(const hk_golden_op *op, const void *arg, const char *cname, unsigned long seed_v,
                      const char *params, hk_case *g, hk_st_file *f)
{
    HK_TRY(op->build(g, arg));
    HK_TRY(g->status);
    HK_TRY(check_given_used(g, cname));
    json_t *tol = json_object();
    int st = HK_OK;
    for (int i = 0; i < g->nt && !st; i++) {
        gtensor *t = &g->t[i];
        st = finish_tensor(cname, t, tol);
        if (!st) {
            hk_st_dtype dt = t->kind == K_F64 ? HK_ST_F64 : t->kind == K_U8 ? HK_ST_U8 : HK_ST_I64;
            st = hk_st_add(f, t->name, dt, t->ndim, t->shape, t->data);
        }
    }
    if (!st) st = set_json_meta(f, "tolerance", tol);
    json_decref(tol);
    HK_TRY(st);
    HK_TRY(set_json_meta(f, "config", g->cfg));
    char seed[32];
    snprintf(seed, sizeof seed, "%lu", seed_v);
    HK_TRY(hk_st_set_meta(f, "format", HK_GOLDEN_FORMAT));
    HK_TRY(hk_st_set_meta(f, "op", op->op));
    HK_TRY(hk_st_set_meta(f, "case", cname));
    HK_TRY(hk_st_set_meta(f, "source", op->source_for ? op->source_for(arg) : op->source));
    HK_TRY(hk_st_set_meta(f, "seed", seed));
    HK_TRY(hk_st_set_meta(f, "generator", "hkref golden generate (tools/golden/cases_*.c)"));
    if (params) HK_TRY(hk_st_set_meta(f, "params", params));
    return HK_OK;
}

/* "a,b,c" of the settings lists (NULL when there are none). */
static char *join_lists(const char *const *lists, int nlists)
{
    size_t len = 1;
    for (int i = 0; i < nlists; i++) len += lists[i] ? strlen(lists[i]) + 1 : 0;
    char *s = calloc(len, 1);
    if (!s) return NULL;
    for (int i = 0; i < nlists; i++) {
        if (!lists[i] || !*lists[i]) continue;
        if (*s) strcat(s, ",");
        strcat(s, lists[i]);
    }
    return s;
}

int hk_golden_build_op(const hk_golden_op *op, const char *name, unsigned long seed, const char *const *lists,
                       int nlists, const hk_st_file *given, int record_params, hk_st_file **out)
{
    HK_REQUIRE_PTR(op);
    HK_REQUIRE_PTR(name);
    HK_REQUIRE_PTR(out);
    *out = NULL;
    void *arg = calloc(1, op->arg_size);
    HK_REQUIRE(arg != NULL, HK_ENOMEM, "out of memory");
    int st = hk_golden_params_parse(op, arg, lists, nlists);
    if (st) {
        free(arg);
        return st;
    }
    char *params = record_params ? join_lists(lists, nlists) : NULL;
    hk_case *g = calloc(1, sizeof *g);
    if (!g || (record_params && !params)) {
        free(g);
        free(arg);
        free(params);
        HK_ERROR(HK_ENOMEM, "out of memory");
    }
    g->r = hk_rng_new(seed);
    g->cfg = json_object();
    g->given = given;
    hk_st_file *f = NULL;
    st = (!g->r || !g->cfg) ? hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "out of memory") : hk_st_new(&f);
    if (!st) st = build_into(op, arg, name, seed, params, g, f);
    free_case(g);
    free(arg);
    free(params);
    if (st) {
        hk_st_free(f);
        return st;
    }
    *out = f;
    return HK_OK;
}

int hk_golden_build(const hk_golden_case *c, hk_st_file **out)
{
    HK_REQUIRE_PTR(c);
    const char *lists[1] = {c->params};
    return hk_golden_build_op(c->op, c->name, c->seed, lists, 1, NULL, 0, out);
}

/* ---- files ---- */

static int mkdir_p1(const char *path)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat sb;
        HK_REQUIRE(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode), HK_EIO, "'%s' exists and is not a directory", path);
        return HK_OK;
    }
    HK_ERROR(HK_EIO, "cannot create directory '%s': %s", path, strerror(errno));
}

/* mkdir -p: every missing parent of dir too (a README command writes build/x/y). */
static int mkdir_parents(const char *dir)
{
    char buf[4096];
    int w = snprintf(buf, sizeof buf, "%s", dir);
    HK_REQUIRE(w > 0 && (size_t)w < sizeof buf, HK_EINVAL, "directory path too long: '%.100s...'", dir);
    for (char *q = buf + 1; *q; q++) {
        if (*q != '/') continue;
        *q = 0;
        HK_TRY(mkdir_p1(buf));
        *q = '/';
    }
    return mkdir_p1(buf);
}

static int case_path(char *buf, size_t size, const char *dir, const hk_golden_case *c)
{
    int w = snprintf(buf, size, "%s/%s/%s.safetensors", dir, c->op->op, c->name);
    HK_REQUIRE(w > 0 && (size_t)w < size, HK_EINVAL, "path too long for case '%s'", c->name);
    return HK_OK;
}

/* Entries of the previous manifest for cases this run does not rewrite: kept
 * if the case is still registered and its file still has the recorded bytes
 * (an edited or vanished file loses its entry, so the checker refuses it). */
static void keep_old_entries(const char *dir, const hk_golden_manifest *old, hk_golden_manifest *m)
{
    for (size_t i = 0; i < old->n; i++) {
        const char *rel = old->e[i].rel;
        if (hk_golden_manifest_find(m, rel)) continue;
        int known = 0;
        for (size_t k = 0; k < hk_golden_count() && !known; k++) {
            const hk_golden_case *c = hk_golden_get(k);
            char r[512];
            snprintf(r, sizeof r, "%s/%s.safetensors", c->op->op, c->name);
            known = !strcmp(r, rel);
        }
        char path[4096];
        unsigned char *buf = NULL, d[32];
        size_t len = 0;
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        if (known && hk_file_read(path, (size_t)1 << 30, &buf, &len) == HK_OK) {
            hk_sha256(buf, len, d);
            if (!memcmp(d, old->e[i].sha, 32)) (void)hk_golden_manifest_set(m, rel, d);
        }
        hk_error_clear();
        free(buf);
    }
}

int hk_golden_write_ondemand(const char *dir, const hk_st_file *f, const char *op, const char *name, char *path,
                             size_t path_size)
{
    HK_REQUIRE_PTR(dir);
    HK_REQUIRE_PTR(f);
    HK_REQUIRE_PTR(op);
    HK_REQUIRE_PTR(name);
    char rel[512], file[4096];
    int w = snprintf(rel, sizeof rel, "%s/%s.safetensors", op, name);
    HK_REQUIRE(w > 0 && (size_t)w < sizeof rel && hk_golden_rel_ok(rel), HK_EINVAL,
               "case name '%s' of op '%s' is not a file name ([A-Za-z0-9_.+-] only)", name, op);
    hk_golden_manifest m = {0};
    HK_TRY(mkdir_parents(dir));
    int st = hk_golden_manifest_read(dir, &m);
    if (st == HK_ENOTFOUND) {
        hk_error_clear();
        st = HK_OK;
    } else if (!st && m.registry > 0) {
        hk_golden_manifest_free(&m);
        HK_ERROR(HK_EINVAL, "'%s' holds a committed golden set (its manifest registers %ld cases): write on-demand "
                 "cases to a directory of their own", dir, m.registry);
    }
    HK_TRY(st);
    m.registry = 0;
    unsigned char *bytes = NULL, d[32];
    size_t len = 0;
    snprintf(file, sizeof file, "%s/%s", dir, op);
    st = mkdir_p1(file);
    if (!st) st = (size_t)snprintf(file, sizeof file, "%s/%s", dir, rel) < sizeof file
                      ? HK_OK
                      : hk_error_set(HK_EINVAL, __FILE__, __LINE__, "path too long for case '%s'", name);
    if (!st) st = hk_st_serialize(f, &bytes, &len);
    if (!st) st = hk_file_write_atomic(file, bytes, len);
    if (!st) {
        hk_sha256(bytes, len, d);
        st = hk_golden_manifest_set(&m, rel, d);
    }
    if (!st) st = hk_golden_manifest_write(dir, &m);
    if (!st && path) snprintf(path, path_size, "%s", file);
    free(bytes);
    hk_golden_manifest_free(&m);
    return st;
}

int hk_golden_generate(const char *dir, const char *prefix, FILE *log, long *nwritten)
{
    HK_REQUIRE_PTR(dir);
    *nwritten = 0;
    HK_TRY(mkdir_parents(dir));
    HK_TRY(hk_file_remove_stale_tmp(dir, NULL)); /* what a killed run left (never read: not *.safetensors) */
    hk_golden_manifest m = {0}, old = {0};
    m.registry = (long)hk_golden_count();
    int have_old = prefix && hk_golden_manifest_read(dir, &old) == HK_OK;
    hk_error_clear();
    size_t n = hk_golden_count();
    int st = HK_OK;
    for (size_t i = 0; i < n && !st; i++) {
        const hk_golden_case *c = hk_golden_get(i);
        if (prefix && !has_prefix(c->name, prefix)) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, c->op->op);
        if ((st = mkdir_p1(path)) || (st = hk_file_remove_stale_tmp(path, NULL))) break;
        if ((st = case_path(path, sizeof path, dir, c))) break;
        hk_st_file *f;
        if ((st = hk_golden_build(c, &f))) break;
        unsigned char *bytes = NULL, d[32];
        size_t len = 0;
        st = hk_st_serialize(f, &bytes, &len);
        hk_st_free(f);
        if (!st) st = hk_file_write_atomic(path, bytes, len);
        if (!st) {
            char rel[512];
            hk_sha256(bytes, len, d);
            snprintf(rel, sizeof rel, "%s/%s.safetensors", c->op->op, c->name);
            st = hk_golden_manifest_set(&m, rel, d);
        }
        free(bytes);
        if (st) break;
        if (log) fprintf(log, "wrote %s\n", path);
        (*nwritten)++;
    }
    if (!st && have_old) keep_old_entries(dir, &old, &m);
    if (!st) st = hk_golden_manifest_write(dir, &m); /* last: a killed run leaves the previous manifest */
    if (!st && log) fprintf(log, "wrote %s/%s (%zu cases, sha256 %s)\n", dir, HK_GOLDEN_MANIFEST, m.n, m.sha256);
    hk_golden_manifest_free(&m);
    hk_golden_manifest_free(&old);
    return st;
}

static int compare_one(const char *dir, const hk_golden_case *c, FILE *log, int *same, hk_golden_manifest *m)
{
    char path[4096];
    *same = 0;
    HK_TRY(case_path(path, sizeof path, dir, c));
    hk_st_file *f;
    HK_TRY(hk_golden_build(c, &f));
    unsigned char *fresh = NULL, *disk = NULL, d[32];
    size_t nf = 0, nd = 0;
    int st = hk_st_serialize(f, &fresh, &nf);
    hk_st_free(f);
    HK_TRY(st);
    char rel[512];
    snprintf(rel, sizeof rel, "%s/%s.safetensors", c->op->op, c->name);
    hk_sha256(fresh, nf, d);
    st = hk_golden_manifest_set(m, rel, d);
    if (!st && hk_file_read(path, (size_t)1 << 30, &disk, &nd) != HK_OK) {
        if (log) fprintf(log, "missing %s (%s)\n", path, hk_error_message());
        hk_error_clear();
    } else if (!st) {
        *same = nf == nd && memcmp(fresh, disk, nf) == 0;
        if (!*same && log) fprintf(log, "differs %s (fresh %zu bytes, committed %zu bytes)\n", path, nf, nd);
    }
    free(fresh);
    free(disk);
    return st;
}

int hk_golden_compare_dir(const char *dir, FILE *log, long *ncases, long *ndiff)
{
    *ncases = *ndiff = 0;
    size_t n = hk_golden_count();
    hk_golden_manifest m = {0};
    m.registry = (long)n;
    int st = HK_OK;
    for (size_t i = 0; i < n && !st; i++) {
        int same;
        st = compare_one(dir, hk_golden_get(i), log, &same, &m);
        (*ncases)++;
        *ndiff += !same;
    }
    /* The manifest too: the one a fresh `hkref golden generate` writes. */
    char *text = NULL, path[4096];
    unsigned char *disk = NULL;
    size_t len = 0, nd = 0;
    if (!st) st = hk_golden_manifest_render(&m, &text, &len);
    snprintf(path, sizeof path, "%s/%s", dir, HK_GOLDEN_MANIFEST);
    if (!st && hk_file_read(path, (size_t)1 << 24, &disk, &nd) != HK_OK) {
        if (log) fprintf(log, "missing %s (%s)\n", path, hk_error_message());
        hk_error_clear();
        (*ndiff)++;
    } else if (!st && (nd != len || memcmp(disk, text, len) != 0)) {
        if (log) fprintf(log, "differs %s (the manifest of a fresh generate)\n", path);
        (*ndiff)++;
    }
    free(text);
    free(disk);
    hk_golden_manifest_free(&m);
    HK_TRY(st);
    /* Files on disk that no case generates are stale: a difference too. */
    char **paths;
    size_t np;
    HK_TRY(hk_golden_list_dir(dir, &paths, &np));
    for (size_t k = 0; k < np; k++) {
        int known = 0;
        for (size_t i = 0; i < n && !known; i++) {
            const hk_golden_case *c = hk_golden_get(i);
            char rel[512];
            snprintf(rel, sizeof rel, "%s/%s.safetensors", c->op->op, c->name);
            known = !strcmp(rel, paths[k]);
        }
        if (!known) {
            if (log) fprintf(log, "stale %s/%s (no case generates it)\n", dir, paths[k]);
            (*ndiff)++;
        }
    }
    hk_golden_list_free(paths, np);
    return HK_OK;
}
