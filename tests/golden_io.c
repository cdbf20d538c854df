/* hkref — test helper: golden tensors as f32 (golden_io.h). */
#include "golden_io.h"

#include "hk_test.h"

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
