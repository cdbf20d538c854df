/* hkref — the golden-set manifest (see manifest.h). */
#include "manifest.h"

#include "sha256.h"

#include "ref/error.h"
#include "ref/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_MANIFEST ((size_t)1 << 24)

void hk_golden_manifest_free(hk_golden_manifest *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) free(m->e[i].rel);
    free(m->e);
    memset(m, 0, sizeof *m);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const hk_golden_manifest_entry *)a)->rel, ((const hk_golden_manifest_entry *)b)->rel);
}

const hk_golden_manifest_entry *hk_golden_manifest_find(const hk_golden_manifest *m, const char *rel)
{
    if (!m || !rel) return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->e[i].rel, rel)) return &m->e[i];
    return NULL;
}

int hk_golden_manifest_set(hk_golden_manifest *m, const char *rel, const unsigned char sha[32])
{
    HK_REQUIRE_PTR(m);
    HK_REQUIRE(hk_golden_rel_ok(rel), HK_EINVAL, "manifest: '%s' is not <op>/<case>.safetensors", rel ? rel : "");
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->e[i].rel, rel)) {
            memcpy(m->e[i].sha, sha, 32);
            return HK_OK;
        }
    if (m->n == m->cap) {
        size_t nc = m->cap ? 2 * m->cap : 128;
        hk_golden_manifest_entry *p = realloc(m->e, nc * sizeof *p);
        HK_REQUIRE(p != NULL, HK_ENOMEM, "out of memory (manifest)");
        m->e = p;
        m->cap = nc;
    }
    char *r = strdup(rel);
    HK_REQUIRE(r != NULL, HK_ENOMEM, "out of memory (manifest)");
    m->e[m->n].rel = r;
    memcpy(m->e[m->n].sha, sha, 32);
    m->n++;
    return HK_OK;
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == '+';
}

int hk_golden_rel_ok(const char *rel)
{
    if (!rel) return 0;
    const char *slash = strchr(rel, '/'), *ext = ".safetensors";
    size_t len = strlen(rel), el = strlen(ext);
    if (!slash || slash == rel || strchr(slash + 1, '/') || len <= el + (size_t)(slash - rel) + 1 || len > 255) return 0;
    if (strcmp(rel + len - el, ext) != 0 || strstr(rel, "..") || rel[0] == '.' || slash[1] == '.') return 0;
    for (const char *p = rel; *p; p++)
        if (p != slash && !name_char(*p)) return 0;
    return 1;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; /* lowercase, as sha256sum */
}

/* One "<hex>  <rel>" line into m (lineno for messages). */
static int parse_line(hk_golden_manifest *m, const char *path, long lineno, char *line)
{
    unsigned char sha[32];
    size_t len = strlen(line);
    HK_REQUIRE(len > 66 && line[64] == ' ' && line[65] == ' ', HK_EFORMAT,
               "%s line %ld: expected '<64 hex digits>  <op>/<case>.safetensors'", path, lineno);
    for (int i = 0; i < 32; i++) {
        int hi = hexval(line[2 * i]), lo = hexval(line[2 * i + 1]);
        HK_REQUIRE(hi >= 0 && lo >= 0, HK_EFORMAT, "%s line %ld: the SHA-256 is not 64 lowercase hex digits", path,
                   lineno);
        sha[i] = (unsigned char)(hi * 16 + lo);
    }
    const char *rel = line + 66;
    HK_REQUIRE(hk_golden_rel_ok(rel), HK_EFORMAT, "%s line %ld: '%.200s' is not <op>/<case>.safetensors", path, lineno,
               rel);
    HK_REQUIRE(m->n == 0 || strcmp(m->e[m->n - 1].rel, rel) < 0, HK_EFORMAT,
               "%s line %ld: '%.200s' is out of order or repeated (the manifest is sorted, one line per file)", path,
               lineno, rel);
    return hk_golden_manifest_set(m, rel, sha);
}

static int parse(hk_golden_manifest *m, const char *path, char *text, size_t len)
{
    HK_REQUIRE(memchr(text, 0, len) == NULL, HK_EFORMAT, "%s: contains a NUL byte", path);
    text[len] = 0;
    long lineno = 0;
    int have_registry = 0;
    char *save = NULL;
    HK_REQUIRE(len > 0 && text[len - 1] == '\n', HK_EFORMAT, "%s: empty or not ending in a newline (truncated?)", path);
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (lineno == 1) {
            HK_REQUIRE(!strcmp(line, "# " HK_GOLDEN_MANIFEST_FORMAT), HK_EFORMAT,
                       "%s line 1: expected '# %s' (not an hkref golden manifest)", path, HK_GOLDEN_MANIFEST_FORMAT);
            continue;
        }
        if (lineno == 2) {
            char *end = NULL;
            HK_REQUIRE(!strncmp(line, "# registry ", 11), HK_EFORMAT, "%s line 2: expected '# registry N'", path);
            long v = strtol(line + 11, &end, 10);
            HK_REQUIRE(end != line + 11 && *end == 0 && v >= 0 && v <= 1000000, HK_EFORMAT,
                       "%s line 2: registry count '%s' is not an integer in [0, 1000000]", path, line + 11);
            m->registry = v;
            have_registry = 1;
            continue;
        }
        if (line[0] == '#') continue;
        HK_TRY(parse_line(m, path, lineno, line));
    }
    HK_REQUIRE(have_registry, HK_EFORMAT, "%s: no '# registry N' line", path);
    return HK_OK;
}

int hk_golden_manifest_read(const char *dir, hk_golden_manifest *m)
{
    HK_REQUIRE_PTR(dir);
    HK_REQUIRE_PTR(m);
    memset(m, 0, sizeof *m);
    char path[4096];
    HK_REQUIRE((size_t)snprintf(path, sizeof path, "%s/%s", dir, HK_GOLDEN_MANIFEST) < sizeof path, HK_EINVAL,
               "golden directory path too long");
    unsigned char *buf = NULL;
    size_t len = 0;
    struct stat sb;
    if (lstat(path, &sb) != 0 && errno == ENOENT) HK_ERROR(HK_ENOTFOUND, "%s: no manifest", path);
    HK_TRY(hk_file_read(path, MAX_MANIFEST, &buf, &len));
    unsigned char d[32];
    hk_sha256(buf, len, d);
    int st = parse(m, path, (char *)buf, len);
    free(buf);
    if (st) {
        hk_golden_manifest_free(m);
        return st;
    }
    hk_sha256_hex(d, m->sha256);
    return HK_OK;
}

int hk_golden_manifest_render(hk_golden_manifest *m, char **text, size_t *len)
{
    HK_REQUIRE_PTR(m);
    HK_REQUIRE_PTR(text);
    HK_REQUIRE_PTR(len);
    if (m->n) qsort(m->e, m->n, sizeof *m->e, cmp_entry);
    size_t cap = 512 + m->n * (64 + 2 + 256 + 1), k = 0;
    char *t = malloc(cap);
    HK_REQUIRE(t != NULL, HK_ENOMEM, "out of memory (manifest)");
    k += (size_t)snprintf(t + k, cap - k,
                          "# %s\n# registry %ld\n"
                          "# SHA-256 of every golden case file, written by `hkref golden generate`; checked by\n"
                          "# `hkref golden check`.  Independent check: cd <dir> && sha256sum -c MANIFEST\n",
                          HK_GOLDEN_MANIFEST_FORMAT, m->registry);
    for (size_t i = 0; i < m->n; i++) {
        char hex[65];
        hk_sha256_hex(m->e[i].sha, hex);
        k += (size_t)snprintf(t + k, cap - k, "%s  %s\n", hex, m->e[i].rel);
    }
    unsigned char d[32];
    hk_sha256(t, k, d);
    hk_sha256_hex(d, m->sha256);
    *text = t;
    *len = k;
    return HK_OK;
}

int hk_golden_manifest_write(const char *dir, hk_golden_manifest *m)
{
    HK_REQUIRE_PTR(dir);
    char *text;
    size_t k;
    HK_TRY(hk_golden_manifest_render(m, &text, &k));
    char path[4096];
    int st = (size_t)snprintf(path, sizeof path, "%s/%s", dir, HK_GOLDEN_MANIFEST) < sizeof path
                 ? hk_file_write_atomic(path, text, k)
                 : hk_error_set(HK_EINVAL, __FILE__, __LINE__, "golden directory path too long");
    free(text);
    return st;
}
