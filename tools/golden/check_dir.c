/* hkref — libhkgolden: a directory of golden cases against a backend's
 * outputs (see check.h).  The one loop over cases: `hkref golden check`,
 * the fast-path golden tests and examples/c_check/ all call it. */
#include "check.h"

#include "ref/error.h"
#include "ref/tensorfile.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

static int selected(const hk_golden_dir_opts *o, const char *rel, const char *name)
{
    if (o->prefix && strncmp(name, o->prefix, strlen(o->prefix)) != 0) return 0;
    if (o->op) {
        size_t n = strlen(o->op);
        if (strncmp(rel, o->op, n) != 0 || rel[n] != '/') return 0;
    }
    return 1;
}

/* The backend's outputs for one case: read from o->outputs, or produced in
 * process.  *got NULL with problem set: the file is missing or unreadable. */
static int backend_outputs(const hk_golden_dir_opts *o, const hk_st_file *gold, const char *rel, const char *name,
                           char *path, size_t psize, char *problem, size_t qsize, hk_st_file **got)
{
    *got = NULL;
    path[0] = problem[0] = 0;
    if (o->backend) return o->backend(o->backend_ctx, gold, rel, got);
    snprintf(path, psize, "%s/%s.safetensors", o->outputs, name);
    if (hk_st_read(path, got)) {
        snprintf(problem, qsize, "backend file %.100s: %.140s", path, hk_error_message());
        hk_error_clear();
        *got = NULL;
    }
    return HK_OK;
}

/* Compares one golden file; *skipped when the in-process backend has no outputs for it. */
static int check_one(const hk_golden_dir_opts *o, size_t k, size_t np, const char *rel, const char *name,
                     hk_golden_result *cr, hk_golden_dir_summary *sum)
{
    char path[4096], got_path[4096], problem[sizeof cr->problem];
    snprintf(path, sizeof path, "%s/%s", o->golden, rel);
    hk_st_file *gold = NULL, *got = NULL;
    HK_TRY(hk_st_read(path, &gold));
    int st = backend_outputs(o, gold, rel, name, got_path, sizeof got_path, problem, sizeof problem, &got);
    if (!st && o->backend && !got) {
        sum->skipped++;
        hk_st_free(gold);
        return HK_OK;
    }
    char *elems = NULL;
    size_t elen = 0;
    FILE *log = st ? NULL : open_memstream(&elems, &elen); /* failing elements, reported after the summary */
    if (!st && !log) st = hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "out of memory");
    if (!st) st = hk_golden_check_case(gold, got, o->dtype, log, cr);
    if (log) fclose(log);
    if (!st) {
        if (problem[0]) snprintf(cr->problem, sizeof cr->problem, "%s", problem);
        int failed = cr->failed_tensors > 0 || cr->problem[0];
        sum->run++;
        sum->failed += failed;
        hk_golden_case_report r = {k, np, rel, got_path, cr, failed, elems ? elems : ""};
        if (o->report) o->report(o->report_ctx, &r);
    } else if (st != HK_ENOMEM) {
        /* name the file in the message: the golden set is malformed */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", hk_error_message());
        hk_error_set(st, __FILE__, __LINE__, "%s: %s", rel, msg);
    }
    free(elems);
    hk_st_free(gold);
    hk_st_free(got);
    return st;
}

int hk_golden_check_dir(const hk_golden_dir_opts *o, hk_golden_dir_summary *sum)
{
    HK_REQUIRE_PTR(o);
    HK_REQUIRE_PTR(sum);
    HK_REQUIRE_PTR(o->golden);
    HK_REQUIRE((o->outputs != NULL) != (o->backend != NULL), HK_EINVAL,
               "hk_golden_check_dir: give either an outputs directory or an in-process backend");
    memset(sum, 0, sizeof *sum);
    char **paths;
    size_t np;
    HK_TRY(hk_golden_list_dir(o->golden, &paths, &np));
    hk_golden_result *cr = malloc(sizeof *cr);
    int st = cr ? HK_OK : hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "out of memory");
    long matched = 0;
    for (size_t k = 0; k < np && !st; k++) {
        char name[256];
        case_name(name, sizeof name, paths[k]);
        if (!selected(o, paths[k], name)) continue;
        matched++;
        st = check_one(o, k, np, paths[k], name, cr, sum);
    }
    free(cr);
    hk_golden_list_free(paths, np);
    HK_TRY(st);
    HK_REQUIRE(np > 0, HK_EINVAL, "no <op>/<case>.safetensors files under '%s'", o->golden);
    HK_REQUIRE(matched > 0, HK_EINVAL, "no golden case matches the selection (case prefix '%s', op '%s')",
               o->prefix ? o->prefix : "", o->op ? o->op : "");
    return HK_OK;
}
