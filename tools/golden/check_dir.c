/* hkref — libhkgolden: a directory of golden cases against a backend's
 * outputs (see check.h).  The one loop over cases: `hkref golden check`,
 * the fast-path golden tests and examples/c_check/ all call it. */
#include "check.h"
#include "manifest.h"
#include "sha256.h"

#include "ref/error.h"
#include "ref/fileio.h"
#include "ref/tensorfile.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void hk_golden_list_free(char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

static int push_path(char ***paths, size_t *n, size_t *cap, const char *op, const char *file)
{
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        char **p = realloc(*paths, nc * sizeof *p);
        HK_REQUIRE(p != NULL, HK_ENOMEM, "out of memory listing golden files");
        *paths = p;
        *cap = nc;
    }
    size_t len = strlen(op) + strlen(file) + 2;
    char *s = malloc(len);
    HK_REQUIRE(s != NULL, HK_ENOMEM, "out of memory listing golden files");
    snprintf(s, len, "%s/%s", op, file);
    (*paths)[(*n)++] = s;
    return HK_OK;
}

static int list_op(const char *dir, const char *op, char ***paths, size_t *n, size_t *cap)
{
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", dir, op);
    DIR *d = opendir(sub);
    if (!d) { /* a plain file (README.md) is skipped; any other failure must not drop cases silently */
        HK_REQUIRE(errno == ENOTDIR, HK_EIO, "cannot open golden directory '%s': %s", sub, strerror(errno));
        return HK_OK;
    }
    struct dirent *e;
    int st = HK_OK;
    while (!st && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        const char *ext = ".safetensors";
        if (len > strlen(ext) && !strcmp(e->d_name + len - strlen(ext), ext))
            st = push_path(paths, n, cap, op, e->d_name);
    }
    closedir(d);
    return st;
}

int hk_golden_list_dir(const char *dir, char ***paths, size_t *n)
{
    HK_REQUIRE_PTR(dir);
    HK_REQUIRE_PTR(paths);
    HK_REQUIRE_PTR(n);
    *paths = NULL;
    *n = 0;
    size_t cap = 0;
    DIR *d = opendir(dir);
    HK_REQUIRE(d != NULL, HK_EIO, "cannot open golden directory '%s': %s", dir, strerror(errno));
    struct dirent *e;
    int st = HK_OK;
    while (!st && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') st = list_op(dir, e->d_name, paths, n, &cap);
    closedir(d);
    if (st) {
        hk_golden_list_free(*paths, *n);
        *paths = NULL;
        *n = 0;
        return st;
    }
    if (*n) qsort(*paths, *n, sizeof **paths, cmp_str);
    return HK_OK;
}

/* Case name = file name without .safetensors. */
static void case_name(char *buf, size_t size, const char *rel)
{
    const char *slash = strrchr(rel, '/');
    snprintf(buf, size, "%s", slash ? slash + 1 : rel);
    size_t len = strlen(buf), ext = strlen(".safetensors");
    if (len > ext) buf[len - ext] = 0;
}

/* ---- selection ---- */

static int has_glob(const char *pat) { return strpbrk(pat, "*?[") != NULL; }

int hk_golden_name_match(const char *pat, const char *name, int exact_exists)
{
    if (!pat || !name) return 0;
    if (has_glob(pat)) return fnmatch(pat, name, 0) == 0;
    if (exact_exists) return strcmp(pat, name) == 0;
    return strncmp(name, pat, strlen(pat)) == 0;
}

/* 1 if rel ("<op>/<case>.safetensors") is of op `op`. */
static int rel_is_op(const char *rel, const char *op)
{
    size_t n = strlen(op);
    return strncmp(rel, op, n) == 0 && rel[n] == '/';
}

/* exact[i]: cases[i] is, without glob characters, the full name of a listed case. */
typedef struct {
    const hk_golden_dir_opts *o;
    int *case_exact, *exclude_exact;
    long *op_hits, *case_hits;       /* per ops[i] / cases[i]: listed files it matched */
} selection;

static int any_match(const char *const *pats, size_t n, const int *exact, const char *name, long *hits)
{
    int m = 0;
    for (size_t i = 0; i < n; i++)
        if (hk_golden_name_match(pats[i], name, exact[i])) {
            m = 1;
            if (hits) hits[i]++;
        }
    return m;
}

static int selected(const selection *sel, const char *rel, const char *name)
{
    const hk_golden_dir_opts *o = sel->o;
    if (o->prefix && strncmp(name, o->prefix, strlen(o->prefix)) != 0) return 0;
    if (o->op && !rel_is_op(rel, o->op)) return 0;
    int in_ops = o->nops == 0;
    for (size_t i = 0; i < o->nops; i++)
        if (rel_is_op(rel, o->ops[i])) {
            in_ops = 1;
            sel->op_hits[i]++;
        }
    int in_cases = o->ncases == 0 || any_match(o->cases, o->ncases, sel->case_exact, name, sel->case_hits);
    if (!in_ops || !in_cases) return 0;
    for (size_t i = 0; i < o->nexclude_ops; i++)
        if (rel_is_op(rel, o->exclude_ops[i])) return 0;
    return !any_match(o->exclude_cases, o->nexclude_cases, sel->exclude_exact, name, NULL);
}

/* Fills exact[i] for patterns pats[0..n) over the listed files. */
static void mark_exact(const char *const *pats, size_t n, char **paths, size_t np, int *exact)
{
    for (size_t i = 0; i < n; i++) {
        exact[i] = 0;
        for (size_t k = 0; k < np && !exact[i] && !has_glob(pats[i]); k++) {
            char name[256];
            case_name(name, sizeof name, paths[k]);
            exact[i] = strcmp(name, pats[i]) == 0;
        }
    }
}

/* ---- gradient sets ---- */

#define MAX_GRAD_TOKENS 32

static int is_grad_set(const char *tok)
{
    static const char *const sets[] = {"all", "none", "inputs", "params", "lora", "frozen"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (!strcmp(tok, sets[i])) return 1;
    return 0;
}

/* The k-th comma-separated token of grads into tok; 0 past the last one. */
static int grad_token_at(const char *grads, int k, char *tok, size_t size)
{
    const char *p = grads;
    for (int i = 0; i < k; i++) {
        p = strchr(p, ',');
        if (!p) return 0;
        p++;
    }
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    snprintf(tok, size, "%.*s", (int)(n < size ? n : size - 1), p);
    return 1;
}

int hk_golden_grads_valid(const char *grads)
{
    if (!grads) return HK_OK;
    const char *p = grads;
    int k = 0;
    for (;; k++) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        HK_REQUIRE(n > 0, HK_EINVAL, "gradient set '%s': an empty entry (sets: all, none, inputs, params, lora, "
                   "frozen, or a glob over the name after 'grad.')", grads);
        HK_REQUIRE(n < 128, HK_EINVAL, "gradient set '%s': entry too long", grads);
        HK_REQUIRE(k < MAX_GRAD_TOKENS, HK_EINVAL, "gradient set '%s': more than %d entries", grads, MAX_GRAD_TOKENS);
        if (!e) break;
        p = e + 1;
    }
    return HK_OK;
}

static int grad_token(const hk_st_file *gold, const char *x, const char *tok)
{
    char in[160], par[160];
    snprintf(in, sizeof in, "in.%s", x);
    snprintf(par, sizeof par, "param.%s", x);
    int is_in = hk_st_find(gold, in) != NULL, is_par = hk_st_find(gold, par) != NULL;
    int lora = strstr(x, "lora_") != NULL;
    if (!strcmp(tok, "all")) return 1;
    if (!strcmp(tok, "none")) return 0;
    if (!strcmp(tok, "inputs")) return is_in;
    if (!strcmp(tok, "params")) return is_par;
    if (!strcmp(tok, "lora")) return is_par && lora;
    if (!strcmp(tok, "frozen")) return is_par && !lora;
    return fnmatch(tok, x, 0) == 0;
}

/* As hk_golden_grad_selected; hits[k] (if not NULL) counts the tensors token k selected. */
static int grad_match(const hk_st_file *gold, const char *grad, const char *grads, long *hits)
{
    if (!grads) return 1;
    if (!gold || !grad || strncmp(grad, "grad.", 5) != 0) return 0;
    char tok[128];
    int sel = 0;
    for (int k = 0; k < MAX_GRAD_TOKENS && grad_token_at(grads, k, tok, sizeof tok); k++)
        if (grad_token(gold, grad + 5, tok)) {
            sel = 1;
            if (hits) hits[k]++;
        }
    return sel;
}

int hk_golden_grad_selected(const hk_st_file *gold, const char *grad, const char *grads)
{
    return grad_match(gold, grad, grads, NULL);
}

/* A glob or name in grads that selected no tensor of the run: a typo must not pass as "fewer gradients". */
static int grads_unmatched(const char *grads, const long *hits)
{
    char tok[128];
    for (int k = 0; grads && k < MAX_GRAD_TOKENS && grad_token_at(grads, k, tok, sizeof tok); k++)
        HK_REQUIRE(is_grad_set(tok) || hits[k] > 0, HK_EINVAL,
                   "gradient set entry '%s' matches no grad.* tensor of the compared cases", tok);
    return HK_OK;
}

/* The golden file as the comparison sees it: every tensor but the grad.* the
 * options leave out.  A borrowed view (tensor structs copied, data shared):
 * free view->tensors only.  *ignored counts what was left out. */
static int select_tensors(const hk_golden_dir_opts *o, const hk_st_file *gold, long *grad_hits, hk_st_file *view,
                          int *ignored)
{
    *view = *gold;
    *ignored = 0;
    view->tensors = NULL;
    view->ntensors = view->cap_tensors = 0;
    if (!o->forward_only && !o->grads) return HK_OK;
    hk_st_tensor *t = malloc((gold->ntensors ? gold->ntensors : 1) * sizeof *t);
    HK_REQUIRE(t != NULL, HK_ENOMEM, "out of memory selecting tensors");
    size_t k = 0;
    for (size_t i = 0; i < gold->ntensors; i++) {
        const char *nm = gold->tensors[i].name;
        int grad = !strncmp(nm, "grad.", 5);
        if (grad && (o->forward_only || !grad_match(gold, nm, o->grads, grad_hits))) {
            (*ignored)++;
            continue;
        }
        t[k++] = gold->tensors[i];
    }
    view->tensors = t;
    view->ntensors = view->cap_tensors = k;
    return HK_OK;
}

/* NaN / infinite elements of the backend's tensor of each compared output. */
static void count_nonfinite(const hk_st_file *got, const hk_golden_result *cr, long *nan, long *inf)
{
    for (int i = 0; i < cr->ntensors; i++) {
        nan[i] = inf[i] = 0;
        const hk_st_tensor *g = got ? hk_st_find(got, cr->t[i].name) : NULL;
        if (!g || (g->dtype != HK_ST_F64 && g->dtype != HK_ST_F32 && g->dtype != HK_ST_BF16 && g->dtype != HK_ST_F16))
            continue;
        for (size_t e = 0; e < g->numel; e++) {
            double v;
            if (g->dtype == HK_ST_F64) v = ((const double *)g->data)[e];
            else if (g->dtype == HK_ST_F32) v = (double)((const float *)g->data)[e];
            else {
                /* bf16 / f16: all-ones exponent field = NaN or infinity */
                uint16_t h = ((const uint16_t *)g->data)[e];
                int bf = g->dtype == HK_ST_BF16;
                uint16_t expo = bf ? 0x7F80 : 0x7C00, mant = bf ? 0x007F : 0x03FF;
                v = (h & expo) != expo ? 0.0 : (h & mant) ? NAN : INFINITY;
            }
            nan[i] += isnan(v) != 0;
            inf[i] += isinf(v) != 0;
        }
    }
}

/* 1 if a and b name the same file (device and inode; symlinks followed). */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Length of the "<name>.c:<line>: " ref/'s error path puts before a message, 0 if none. */
static size_t location_length(const char *m)
{
    size_t i = strspn(m, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
    if (i == 0 || strncmp(m + i, ".c:", 3) != 0) return 0;
    size_t d = i + 3, j = d + strspn(m + d, "0123456789");
    return j > d && m[j] == ':' && m[j + 1] == ' ' ? j + 2 : 0;
}

/* The backend's outputs for one case: read from o->outputs, or produced in
 * process.  *got NULL with problem set: the file is missing, unreadable or refused. */
static int backend_outputs(const hk_golden_dir_opts *o, const hk_st_file *gold, const char *gold_path,
                           const char *rel, const char *name, char *path, size_t psize, char *problem, size_t qsize,
                           hk_st_file **got)
{
    *got = NULL;
    path[0] = problem[0] = 0;
    if (o->backend) return o->backend(o->backend_ctx, gold, rel, got);
    snprintf(path, psize, "%s/%s.safetensors", o->outputs, name);
    if (same_file(path, gold_path)) {
        snprintf(problem, qsize, "backend file %.60s refused: it is the golden file itself (a link, or the "
                 "golden directory given as --outputs)", path);
        return HK_OK;
    }
    if (hk_st_read(path, got)) {
        /* what a user reads: the reader's message without its C source location
         * (kept with HKREF_DEBUG=1, `hkref --debug`) and without the path again */
        const char *m = hk_error_message(), *e = getenv("HKREF_DEBUG");
        if (!(e && *e && strcmp(e, "0") != 0)) m += location_length(m);
        const size_t lp = strlen(path);
        if (!strncmp(m, path, lp) && m[lp] == ':' && m[lp + 1] == ' ') m += lp + 2;
        snprintf(problem, qsize, "backend file %.100s: %.140s", path, m);
        hk_error_clear();
        *got = NULL;
    }
    return HK_OK;
}

/* skip_missing: 1 if the backend's file for this case does not exist. */
static int backend_file_absent(const hk_golden_dir_opts *o, const char *name)
{
    if (!o->skip_missing || o->backend) return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.safetensors", o->outputs, name);
    struct stat st;
    return lstat(path, &st) != 0 && errno == ENOENT;
}

static void report_skip(const hk_golden_dir_opts *o, size_t k, size_t np, const char *rel, const char *name,
                        hk_golden_result *cr, const char *why)
{
    if (!o->skipped) return;
    memset(cr, 0, sizeof *cr);
    snprintf(cr->name, sizeof cr->name, "%s", name);
    const char *slash = strchr(rel, '/');
    snprintf(cr->op, sizeof cr->op, "%.*s", slash ? (int)(slash - rel) : 0, rel);
    hk_golden_case_report r = {k, np, rel, "", cr, 0, "", 0, NULL, NULL, why};
    o->skipped(o->report_ctx, &r);
}

/* Reads a golden file once: its bytes must hash to the manifest's entry, then they are parsed. */
static int read_verified(const char *path, const char *rel, const hk_golden_manifest *m, hk_st_file **gold)
{
    if (gold) *gold = NULL;
    const hk_golden_manifest_entry *e = hk_golden_manifest_find(m, rel);
    HK_REQUIRE(e != NULL, HK_EFORMAT, "%s is not in the manifest", rel);
    unsigned char *buf = NULL, d[32];
    size_t len = 0;
    HK_TRY(hk_file_read(path, (size_t)1 << 30, &buf, &len));
    hk_sha256(buf, len, d);
    int st = HK_OK;
    if (memcmp(d, e->sha, 32) != 0) {
        char want[65], got[65];
        hk_sha256_hex(e->sha, want);
        hk_sha256_hex(d, got);
        st = hk_error_set(HK_EFORMAT, __FILE__, __LINE__,
                          "%s: altered: its SHA-256 is %s, the manifest says %s (edited, truncated or regenerated "
                          "without its manifest)", path, got, want);
    }
    if (!st && gold && (st = hk_st_parse(buf, len, gold)) != HK_OK) {
        char why[512]; /* a listed file that is not a golden file: the error names it */
        snprintf(why, sizeof why, "%s", hk_error_message());
        st = hk_error_set(st, __FILE__, __LINE__, "%s: %s", path, why);
    }
    free(buf);
    return st;
}

/* Compares one golden file; *skipped when the in-process backend has no outputs for it. */
static int check_one(const hk_golden_dir_opts *o, const hk_golden_manifest *m, size_t k, size_t np, const char *rel,
                     const char *name, hk_golden_result *cr, long *grad_hits, hk_golden_dir_summary *sum)
{
    if (backend_file_absent(o, name)) {
        sum->skipped++;
        report_skip(o, k, np, rel, name, cr, "no backend output file (--skip-missing)");
        return HK_OK;
    }
    char path[4096], got_path[4096], problem[sizeof cr->problem];
    snprintf(path, sizeof path, "%s/%s", o->golden, rel);
    hk_st_file *gold = NULL, *got = NULL;
    HK_TRY(read_verified(path, rel, m, &gold));
    int st = backend_outputs(o, gold, path, rel, name, got_path, sizeof got_path, problem, sizeof problem, &got);
    if (!st && o->backend && !got) {
        sum->skipped++;
        report_skip(o, k, np, rel, name, cr, "the in-process backend returned no outputs");
        hk_st_free(gold);
        return HK_OK;
    }
    hk_st_file view = {0};
    int ignored = 0;
    if (!st) st = select_tensors(o, gold, grad_hits, &view, &ignored);
    const hk_st_file *cmp = (!st && view.tensors) ? &view : gold;
    char *elems = NULL;
    size_t elen = 0;
    FILE *log = st ? NULL : open_memstream(&elems, &elen); /* failing elements, reported after the summary */
    if (!st && !log) st = hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "out of memory");
    if (!st) st = hk_golden_check_case(cmp, got, o->dtype, log, cr);
    if (log) fclose(log);
    if (!st) {
        if (problem[0]) {
            snprintf(cr->problem, sizeof cr->problem, "%s", problem);
            cr->failed_tensors = cr->ntensors;
        }
        int failed = cr->failed_tensors > 0 || cr->problem[0];
        long nan[HK_GOLDEN_MAX_TENSORS], inf[HK_GOLDEN_MAX_TENSORS];
        count_nonfinite(got, cr, nan, inf);
        sum->run++;
        sum->failed += failed;
        sum->ignored += ignored;
        hk_golden_case_report r = {k, np, rel, got_path, cr, failed, elems ? elems : "", ignored,
                                   got ? nan : NULL, got ? inf : NULL, NULL};
        if (o->report) o->report(o->report_ctx, &r);
    } else if (st != HK_ENOMEM) {
        /* name the file in the message: the golden set is malformed */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", hk_error_message());
        hk_error_set(st, __FILE__, __LINE__, "%s: %s", rel, msg);
    }
    free(elems);
    free(view.tensors);
    hk_st_free(gold);
    hk_st_free(got);
    return st;
}

/* A selection entry that matches no listed file: a typo must not pass as a smaller run. */
static int unmatched(const char *what, const char *const *pats, size_t n, const long *hits, const char *dir)
{
    for (size_t i = 0; i < n; i++)
        HK_REQUIRE(hits[i] > 0, HK_EINVAL, "%s '%s' matches no golden file under '%s'", what, pats[i], dir);
    return HK_OK;
}

static int in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], s)) return 1;
    return 0;
}

/* The set against its manifest and the registry: extra or unknown files are
 * errors, missing cases are counted (an error unless o->partial). */
static int verify_set(const hk_golden_dir_opts *o, const hk_golden_manifest *m, char *const *paths, size_t np,
                      hk_golden_dir_summary *sum)
{
    for (size_t k = 0; k < np; k++)
        HK_REQUIRE(hk_golden_manifest_find(m, paths[k]) != NULL, HK_EFORMAT,
                   "golden set %s: %s is not in its manifest (an added, stale or half-written file; regenerate "
                   "with `hkref golden generate`)", o->golden, paths[k]);
    /* registry 0: an on-demand set (hk_golden_write_ondemand), its manifest alone says what it is. */
    const char *const *registry = m->registry == 0 ? NULL : o->registry;
    size_t nregistry = registry ? o->nregistry : 0;
    sum->ondemand = m->registry == 0;
    const char *first = NULL;
    long missing = 0;
    for (size_t i = 0; i < m->n; i++) {
        const char *rel = m->e[i].rel;
        HK_REQUIRE(!registry || in_list(registry, nregistry, rel), HK_EFORMAT,
                   "golden set %s: its manifest lists %s, which is not a case of this hkref (a set from another "
                   "version?)", o->golden, rel);
        if (!in_list((const char *const *)paths, np, rel)) {
            missing++;
            if (!first) first = rel;
        }
    }
    for (size_t i = 0; registry && i < nregistry; i++)
        if (!hk_golden_manifest_find(m, registry[i])) {
            missing++;
            if (!first) first = registry[i];
        }
    sum->total = registry ? (long)nregistry : (long)m->n;
    sum->missing = missing;
    if (missing && !o->partial)
        HK_ERROR(HK_EFORMAT, "golden set %s is incomplete: %ld of %ld cases missing (first: %s); regenerate it, or "
                 "pass --partial to check the %ld present ones (reported as partial, never as a full pass)",
                 o->golden, missing, sum->total, first, sum->total - missing);
    sum->partial = missing > 0;
    return HK_OK;
}

int hk_golden_check_dir(const hk_golden_dir_opts *o, hk_golden_dir_summary *sum)
{
    HK_REQUIRE_PTR(o);
    HK_REQUIRE_PTR(sum);
    HK_REQUIRE_PTR(o->golden);
    HK_REQUIRE((o->outputs != NULL) != (o->backend != NULL), HK_EINVAL,
               "hk_golden_check_dir: give either an outputs directory or an in-process backend");
    HK_REQUIRE((!o->nops || o->ops) && (!o->ncases || o->cases) && (!o->nexclude_ops || o->exclude_ops) &&
               (!o->nexclude_cases || o->exclude_cases), HK_EINVAL, "hk_golden_check_dir: a selection list is NULL");
    HK_TRY(hk_golden_grads_valid(o->grads));
    memset(sum, 0, sizeof *sum);
    char **paths;
    size_t np;
    HK_TRY(hk_golden_list_dir(o->golden, &paths, &np));
    if (np == 0) {
        hk_golden_list_free(paths, np);
        HK_ERROR(HK_EINVAL, "no <op>/<case>.safetensors files under '%s'", o->golden);
    }
    hk_golden_manifest m = {0};
    int st = hk_golden_manifest_read(o->golden, &m);
    if (st == HK_ENOTFOUND)
        st = hk_error_set(HK_EFORMAT, __FILE__, __LINE__,
                          "golden set %s has no %s: its files cannot be verified (regenerate with `hkref golden "
                          "generate %s`)", o->golden, HK_GOLDEN_MANIFEST, o->golden);
    if (!st) {
        snprintf(sum->manifest_sha256, sizeof sum->manifest_sha256, "%s", m.sha256);
        st = verify_set(o, &m, paths, np, sum);
    }
    hk_golden_result *cr = malloc(sizeof *cr);
    size_t nsel = o->nops + 2 * o->ncases + o->nexclude_cases + 1;
    long *hits = calloc(nsel, sizeof *hits);
    int *exact = calloc(nsel, sizeof *exact);
    char *pick = calloc(np + 1, 1);
    if (!st && !(cr && hits && exact && pick)) st = hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "out of memory");
    selection sel = {o, exact, exact + o->ncases, hits, hits + o->nops};
    long matched = 0, grad_hits[MAX_GRAD_TOKENS] = {0};
    if (!st) { /* the selection first: an entry that matches nothing stops the run before it starts */
        mark_exact(o->cases, o->ncases, paths, np, sel.case_exact);
        mark_exact(o->exclude_cases, o->nexclude_cases, paths, np, sel.exclude_exact);
        for (size_t k = 0; k < np; k++) {
            char name[256];
            case_name(name, sizeof name, paths[k]);
            pick[k] = (char)selected(&sel, paths[k], name);
            matched += pick[k];
        }
        sum->listed = (long)np;
        sum->not_selected = (long)np - matched;
        st = unmatched("op", o->ops, o->nops, sel.op_hits, o->golden);
        if (!st) st = unmatched("case pattern", o->cases, o->ncases, sel.case_hits, o->golden);
    }
    /* Every file hashed before any case runs (selected or not: a set is intact or
     * refused); check_one hashes the bytes it parses again. */
    for (size_t k = 0; k < np && !st; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", o->golden, paths[k]);
        st = read_verified(path, paths[k], &m, NULL);
    }
    for (size_t k = 0; k < np && !st; k++) {
        if (!pick[k]) continue;
        char name[256];
        case_name(name, sizeof name, paths[k]);
        st = check_one(o, &m, k, np, paths[k], name, cr, grad_hits, sum);
    }
    if (!st && sum->run) st = grads_unmatched(o->grads, grad_hits);
    free(cr);
    free(pick);
    free(hits);
    free(exact);
    hk_golden_list_free(paths, np);
    hk_golden_manifest_free(&m);
    HK_TRY(st);
    HK_REQUIRE(matched > 0, HK_EINVAL, "no golden case matches the selection (case prefix '%s', op '%s')",
               o->prefix ? o->prefix : "", o->op ? o->op : "");
    return HK_OK;
}
