/* hkref — test helper: golden tensors as f32 (golden_io.h). */
#include "golden_io.h"

#include "hk_test.h"
#include "golden/manifest.h"
#include "golden/sha256.h"
#include "ref/fileio.h"

#include <string.h>

#include <stdlib.h>

int hk_test_gold_f32(const hk_st_file *g, const char *name, float *dst, long n)
{
    const hk_st_tensor *t = hk_st_find(g, name);
    if (!t) return 0;
    ck_assert_msg((long)t->numel == n, "golden %s has %zu elements, expected %ld", name, t->numel, n);
    double *d = malloc(sizeof(double) * (size_t)n);
    hk_assert_ok(hk_st_to_f64(t, d));
    for (long i = 0; i < n; i++) dst[i] = (float)d[i];
    free(d);
    return 1;
}

void hk_test_write_backend_outputs(const char *golden_file, const char *out_path)
{
    hk_st_file *f, *o;
    hk_assert_ok(hk_st_read(golden_file, &f));
    hk_assert_ok(hk_st_new(&o));
    for (size_t i = 0; i < f->ntensors; i++) {
        const hk_st_tensor *t = &f->tensors[i];
        if (!strncmp(t->name, "out.", 4) || !strncmp(t->name, "grad.", 5))
            hk_assert_ok(hk_st_add(o, t->name, t->dtype, t->ndim, t->shape, t->data));
    }
    hk_assert_ok(hk_st_write(o, out_path));
    hk_st_free(o);
    hk_st_free(f);
}

void hk_test_remanifest(const char *dir)
{
    hk_golden_manifest m;
    hk_assert_ok(hk_golden_manifest_read(dir, &m));
    for (size_t i = 0; i < m.n; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, m.e[i].rel);
        unsigned char *b;
        size_t n;
        if (hk_file_read(p, 1u << 30, &b, &n) != HK_OK) {
            hk_error_clear();
            continue;
        }
        hk_sha256(b, n, m.e[i].sha);
        free(b);
    }
    hk_assert_ok(hk_golden_manifest_write(dir, &m));
    hk_golden_manifest_free(&m);
}
