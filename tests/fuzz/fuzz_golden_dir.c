/* hkref — libFuzzer harness for `hkref golden check` over a directory
 * (hk_golden_check_dir: the manifest, the set, the backend's files on disk).
 *
 * Input: byte 0 = flags (bit 0: the harness writes a correct MANIFEST for
 * the golden file, else the manifest's bytes come from the input; bit 1:
 * F32; bit 2: --partial; bit 3: pass the one-case registry; bit 4: the
 * backend file is the golden file's own out.* / grad.*, else input bytes;
 * bit 5: no backend file), then three segments of 2-byte little-endian
 * length + bytes: the golden file G/fz/fz_case.safetensors, the backend
 * file O/fz_case.safetensors, the manifest G/MANIFEST.
 *
 * Oracle (besides the sanitizers): the status is OK, EFORMAT, EIO or EINVAL;
 * on OK the summary is sane (run <= 1, failed <= run, a 64-hex manifest
 * hash), the manifest vouches for the golden bytes (its line for
 * fz/fz_case.safetensors carries their SHA-256: a file the manifest does not
 * match was never checked), and without --partial the run is not partial;
 * the honest backend (bit 4) never fails a case that the zero-trust rule
 * does not mistrust. */
#include "golden/check.h"
#include "golden/manifest.h"
#include "golden/sha256.h"
#include "ref/error.h"
#include "ref/fileio.h"
#include "ref/tensorfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];

static void put(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(b, 1, n, f) != n) abort();
    fclose(f);
}

static const uint8_t *seg(const uint8_t **p, size_t *left, size_t *n)
{
    if (*left < 2) {
        *n = 0;
        return *p;
    }
    size_t len = (size_t)(*p)[0] | (size_t)(*p)[1] << 8;
    *p += 2, *left -= 2;
    if (len > *left) len = *left;
    const uint8_t *s = *p;
    *p += len, *left -= len;
    *n = len;
    return s;
}

static int only_mistrusted(void *ctx, const hk_golden_case_report *r)
{
    (void)ctx;
    if (!r->failed) return 1;
    for (int i = 0; i < r->result->ntensors; i++) {
        const hk_golden_tensor_result *t = &r->result->t[i];
        if ((t->nfail || t->problem[0]) && strncmp(t->problem, "mistrusted", 10) != 0) return 0;
    }
    return !r->result->problem[0];
}

static int honest, honest_failed;

static void report(void *ctx, const hk_golden_case_report *r)
{
    if (honest && !only_mistrusted(ctx, r)) honest_failed = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!root[0]) {
        snprintf(root, sizeof root, "/tmp/hkref-fuzzdir-%d", (int)getpid());
        char p[128];
        mkdir(root, 0700);
        snprintf(p, sizeof p, "%s/G", root), mkdir(p, 0700);
        snprintf(p, sizeof p, "%s/G/fz", root), mkdir(p, 0700);
        snprintf(p, sizeof p, "%s/O", root), mkdir(p, 0700);
    }
    if (size < 1) return 0;
    unsigned flags = data[0];
    const uint8_t *p = data + 1;
    size_t left = size - 1, ng, no, nm;
    const uint8_t *g = seg(&p, &left, &ng), *o = seg(&p, &left, &no), *m = seg(&p, &left, &nm);
    char gpath[128], opath[128], mpath[128], gdir[96], odir[96];
    snprintf(gdir, sizeof gdir, "%s/G", root);
    snprintf(odir, sizeof odir, "%s/O", root);
    snprintf(gpath, sizeof gpath, "%s/fz/fz_case.safetensors", gdir);
    snprintf(opath, sizeof opath, "%s/fz_case.safetensors", odir);
    snprintf(mpath, sizeof mpath, "%s/%s", gdir, HK_GOLDEN_MANIFEST);
    put(gpath, g, ng);
    unsigned char sha[32];
    hk_sha256(g, ng, sha);
    if (flags & 1) {
        hk_golden_manifest man = {0};
        man.registry = 1;
        if (hk_golden_manifest_set(&man, "fz/fz_case.safetensors", sha) || hk_golden_manifest_write(gdir, &man)) abort();
        hk_golden_manifest_free(&man);
    } else {
        put(mpath, m, nm);
    }
    honest = 0;
    unlink(opath);
    if (flags & 16) { /* the golden's own outputs */
        hk_st_file *gf = NULL, *own = NULL;
        if (hk_st_parse(g, ng, &gf) == HK_OK && hk_st_new(&own) == HK_OK) {
            for (size_t i = 0; i < gf->ntensors; i++) {
                const hk_st_tensor *t = &gf->tensors[i];
                if (!strncmp(t->name, "out.", 4) || !strncmp(t->name, "grad.", 5))
                    hk_st_add(own, t->name, t->dtype, t->ndim, t->shape, t->data);
            }
            honest = hk_st_write(own, opath) == HK_OK;
        }
        hk_st_free(gf);
        hk_st_free(own);
    } else if (!(flags & 32)) {
        put(opath, o, no);
    }
    hk_error_clear();
    static const char *const reg[] = {"fz/fz_case.safetensors"};
    hk_golden_dir_opts opt = {.golden = gdir, .outputs = odir, .dtype = (flags & 2) ? HK_GOLDEN_F32 : HK_GOLDEN_F64,
                              .partial = (flags & 4) != 0, .registry = (flags & 8) ? reg : NULL,
                              .nregistry = (flags & 8) ? 1 : 0, .report = report};
    hk_golden_dir_summary sum;
    honest_failed = 0;
    int s = hk_golden_check_dir(&opt, &sum);
    const char *why = NULL;
    if (s != HK_OK && s != HK_EFORMAT && s != HK_EIO && s != HK_EINVAL) why = "unexpected status";
    if (!why && s == HK_OK) {
        char hex[65], line[128];
        hk_sha256_hex(sha, hex);
        snprintf(line, sizeof line, "%s  fz/fz_case.safetensors\n", hex);
        unsigned char *mb = NULL;
        size_t ml = 0;
        if (sum.run > 1 || sum.failed > sum.run || strlen(sum.manifest_sha256) != 64) why = "summary out of range";
        else if (hk_file_read(mpath, 1u << 24, &mb, &ml) != HK_OK) why = "OK without a readable manifest";
        else {
            mb[ml] = 0;
            if (!strstr((char *)mb, line)) why = "OK although the manifest does not vouch for the golden bytes";
        }
        free(mb);
        if (!why && !opt.partial && sum.partial) why = "partial run without --partial";
        if (!why && honest && honest_failed) why = "the golden's own outputs failed";
    }
    hk_error_clear();
    if (why) {
        fprintf(stderr, "fuzz_golden_dir: oracle violated: %s\n", why);
        abort();
    }
    return 0;
}
