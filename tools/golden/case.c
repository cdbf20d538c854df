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

/* ---- builder ---- */

enum { K_F64, K_U8, K_I64 };

typedef struct {
    char name[96];
    int kind, ndim, is_out, zeros_ok;
    long shape[HK_ST_MAX_NDIM], n;
    void *data;
    double K, nterms, scale;
    const char *note;
} gtensor;

struct hk_case {
    gsl_rng *r;
    json_t *cfg;
    int status;
    int nt;
    gtensor t[HK_GOLDEN_MAX_TENSORS];
    int nscratch;
    double *scratch[64];
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

double *hk_case_in(hk_case *g, const char *name, int ndim, const long *shape)
{
    if (!g->status && !has_prefix(name, "in.") && !has_prefix(name, "param.")) {
        g->status = hk_error_set(HK_EINVAL, __FILE__, __LINE__, "input '%s' must be named in.* or param.*", name);
        return NULL;
    }
    return declare(g, name, K_F64, ndim, shape, sizeof(double));
}

uint8_t *hk_case_mask(hk_case *g, const char *name, int ndim, const long *shape)
{
    if (!g->status && !has_prefix(name, "mask.")) {
        g->status = hk_error_set(HK_EINVAL, __FILE__, __LINE__, "mask '%s' must be named mask.*", name);
        return NULL;
    }
    return declare(g, name, K_U8, ndim, shape, 1);
}

int64_t *hk_case_int(hk_case *g, const char *name, int ndim, const long *shape)
{
    return declare(g, name, K_I64, ndim, shape, sizeof(int64_t));
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
    if (g->status || !x) return;
    for (long i = 0; i < n; i++) x[i] = lo + (hi - lo) * gsl_rng_uniform(g->r);
    hk_case_round32(x, n);
}

double *hk_case_scratch(hk_case *g, long n)
{
    if (g->status) return NULL;
    if (g->nscratch >= (int)(sizeof g->scratch / sizeof g->scratch[0])) {
        g->status = hk_error_set(HK_EINVAL, __FILE__, __LINE__, "too many scratch buffers in a case");
        return NULL;
    }
    double *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    if (!p) g->status = hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "out of memory");
    else g->scratch[g->nscratch++] = p;
    return p;
}

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

static json_t *tol_entry(double K, double n, double S, double eps)
{
    double atol, rtol;
    hk_golden_tolerance(K, n, S, eps, &atol, &rtol);
    json_t *o = json_object();
    json_object_set_new(o, "atol", json_real(atol));
    json_object_set_new(o, "rtol", json_real(rtol));
    return o;
}

/* Validates the finished tensors and computes each output's tolerance. */
static int finish_tensor(const hk_golden_case *c, gtensor *t, json_t *tol)
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
                HK_REQUIRE(((uint8_t *)t->data)[i] <= 1, HK_EDOM, "%s: mask %s[%ld] is not 0/1", c->name, t->name, i);
        return HK_OK;
    }
    const double *x = t->data;
    if (!t->is_out) {
        for (long i = 0; i < t->n; i++) {
            HK_REQUIRE(!isnan(x[i]), HK_ENAN, "%s: input %s[%ld] is NaN", c->name, t->name, i);
            HK_REQUIRE((double)(float)x[i] == x[i], HK_EDOM,
                       "%s: input %s[%ld] = %.17g is not exactly representable in binary32 (use hk_case_round32)",
                       c->name, t->name, i, x[i]);
        }
        return HK_OK;
    }
    double amax = 0.0;
    long zeros = 0;
    for (long i = 0; i < t->n; i++) {
        HK_REQUIRE(isfinite(x[i]), HK_ENAN, "%s: expected output %s[%ld] is not finite", c->name, t->name, i);
        if (fabs(x[i]) > amax) amax = fabs(x[i]);
        zeros += x[i] == 0.0;
    }
    double zfrac = t->n ? (double)zeros / (double)t->n : 0.0;
    HK_REQUIRE(t->zeros_ok || zfrac <= 0.5, HK_EDOM,
               "%s: expected output %s is %.0f%% exact zeros (zero-trust rule): strengthen the case or mark "
               "hk_case_zeros_expected", c->name, t->name, 100.0 * zfrac);
    double S = t->scale > 0 ? t->scale : (amax > 0 ? amax : 1.0);
    json_t *o = json_object();
    json_object_set_new(o, "K", json_real(t->K));
    json_object_set_new(o, "n", json_real(t->nterms));
    json_object_set_new(o, "scale", json_real(S));
    json_object_set_new(o, "f64", tol_entry(t->K, t->nterms, S, DBL_EPSILON));
    json_object_set_new(o, "f32", tol_entry(t->K, t->nterms, S, FLT_EPSILON));
    json_object_set_new(o, "note", json_string(t->note));
    if (t->zeros_ok) json_object_set_new(o, "zeros_expected", json_true());
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

static int build_into(const hk_golden_case *c, hk_case *g, hk_st_file *f)
{
    HK_TRY(c->build(g, c->arg));
    HK_TRY(g->status);
    json_t *tol = json_object();
    int st = HK_OK;
    for (int i = 0; i < g->nt && !st; i++) {
        gtensor *t = &g->t[i];
        st = finish_tensor(c, t, tol);
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
    snprintf(seed, sizeof seed, "%lu", c->seed);
    HK_TRY(hk_st_set_meta(f, "format", HK_GOLDEN_FORMAT));
    HK_TRY(hk_st_set_meta(f, "op", c->op));
    HK_TRY(hk_st_set_meta(f, "case", c->name));
    HK_TRY(hk_st_set_meta(f, "source", c->source));
    HK_TRY(hk_st_set_meta(f, "seed", seed));
    HK_TRY(hk_st_set_meta(f, "generator", "hkref golden generate (tools/golden/cases_*.c)"));
    return HK_OK;
}

int hk_golden_build(const hk_golden_case *c, hk_st_file **out)
{
    HK_REQUIRE_PTR(c);
    HK_REQUIRE_PTR(out);
    *out = NULL;
    hk_case *g = calloc(1, sizeof *g);
    HK_REQUIRE(g != NULL, HK_ENOMEM, "out of memory");
    g->r = hk_rng_new(c->seed);
    g->cfg = json_object();
    hk_st_file *f = NULL;
    int st = (!g->r || !g->cfg) ? hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "out of memory") : hk_st_new(&f);
    if (!st) st = build_into(c, g, f);
    free_case(g);
    if (st) {
        hk_st_free(f);
        return st;
    }
    *out = f;
    return HK_OK;
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
    int w = snprintf(buf, size, "%s/%s/%s.safetensors", dir, c->op, c->name);
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
            snprintf(r, sizeof r, "%s/%s.safetensors", c->op, c->name);
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
        snprintf(path, sizeof path, "%s/%s", dir, c->op);
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
            snprintf(rel, sizeof rel, "%s/%s.safetensors", c->op, c->name);
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
    snprintf(rel, sizeof rel, "%s/%s.safetensors", c->op, c->name);
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
            snprintf(rel, sizeof rel, "%s/%s.safetensors", c->op, c->name);
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
