/* hkref — property checks of the safetensors reader/writer, run by
 * `hkref verify` and the gate (also under ASan, where any out-of-bounds read
 * of a malformed image would abort).
 *   tensorfile.roundtrip: seeded random F64 (with -0, subnormal, inf, NaN), a
 *     U8 mask, an I64 rank and a BOOL tensor survive serialize -> parse ->
 *     serialize bit for bit;
 *   tensorfile.truncation: every strict prefix of a valid image is rejected
 *     with HK_EFORMAT;
 *   tensorfile.mutation: every single-byte change of the header (to each of a
 *     set of JSON-significant bytes) either parses or fails with HK_EFORMAT
 *     (never another code, never a crash), and what parses re-serializes to a
 *     file that parses back to the same bytes. */
#include "checks.h"

#include "ref/error.h"
#include "ref/rng.h"
#include "ref/tensorfile.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { RT_N = 40 };

/* The image of a small golden-like file built from seed 21. */
static int make_image(unsigned char **img, size_t *len, hk_st_file **file)
{
    double x[RT_N];
    uint8_t m[RT_N], b[5] = {1, 0, 0, 1, 1};
    int64_t rank[1] = {3};
    gsl_rng *r = hk_rng_new(21);
    if (!r) HK_ERROR(HK_ENOMEM, "cannot allocate the RNG");
    int s = hk_rng_fill_normal(x, RT_N, 1.5, r);
    if (!s) s = hk_mask_bernoulli(m, RT_N, 0.3, r);
    hk_rng_free(r);
    HK_TRY(s);
    x[3] = -0.0;
    x[7] = 4.9406564584124654e-324; /* smallest subnormal */
    x[11] = -INFINITY;
    x[13] = NAN;
    long sx[2] = {5, 8}, sm[1] = {RT_N}, sb[1] = {5};
    hk_st_file *f;
    HK_TRY(hk_st_new(&f));
    s = hk_st_add(f, "in.x", HK_ST_F64, 2, sx, x);
    if (!s) s = hk_st_add(f, "mask.m", HK_ST_U8, 1, sm, m);
    if (!s) s = hk_st_add(f, "in.rank", HK_ST_I64, 0, NULL, rank);
    if (!s) s = hk_st_add(f, "flag", HK_ST_BOOL, 1, sb, b);
    if (!s) s = hk_st_set_meta(f, "op", "tensorfile.check");
    if (!s) s = hk_st_set_meta(f, "config", "{\"p\": 0.3}");
    if (!s) s = hk_st_serialize(f, img, len);
    if (s || !file)
        hk_st_free(f);
    else
        *file = f;
    return s;
}

static void set_result(hk_check_result *res, long cases, long failed, const char *detail)
{
    res->cases = cases;
    res->failed = failed;
    res->worst = (double)failed;
    res->bound = 0.0;
    snprintf(res->unit, sizeof res->unit, "bad cases");
    snprintf(res->detail, sizeof res->detail, "%s", detail);
}

/* 1 if a's serialization equals want[0..n). */
static int serializes_to(const hk_st_file *a, const unsigned char *want, size_t n)
{
    unsigned char *b;
    size_t len;
    if (hk_st_serialize(a, &b, &len)) return 0;
    int same = len == n && memcmp(b, want, n) == 0;
    free(b);
    return same;
}

static int run_roundtrip(hk_check_result *res)
{
    unsigned char *img;
    size_t len;
    hk_st_file *orig, *back = NULL;
    HK_TRY(make_image(&img, &len, &orig));
    int ok = hk_st_parse(img, len, &back) == HK_OK && serializes_to(back, img, len);
    const double *a, *b;
    long sx[2] = {5, 8};
    if (ok) ok = !hk_st_get_f64(orig, "in.x", 2, sx, &a) && !hk_st_get_f64(back, "in.x", 2, sx, &b) &&
                 memcmp(a, b, RT_N * sizeof *a) == 0;
    set_result(res, 1, !ok, ok ? "serialize -> parse -> serialize identical, F64 bits identical" :
                                 "round trip changed the bytes; __REPRO: build/hkref verify -v");
    hk_st_free(orig);
    hk_st_free(back);
    free(img);
    return HK_OK;
}

static int run_truncation(hk_check_result *res)
{
    unsigned char *img;
    size_t len;
    HK_TRY(make_image(&img, &len, NULL));
    long failed = 0;
    size_t first = 0;
    for (size_t k = 0; k < len; k++) {
        hk_st_file *f = NULL;
        int s = hk_st_parse(img, k, &f);
        if (s != HK_EFORMAT || f) {
            if (!failed) first = k;
            failed++;
            hk_st_free(f);
        }
    }
    char d[160];
    snprintf(d, sizeof d, failed ? "prefix of %zu bytes not rejected with EFORMAT" : "all %zu prefixes rejected",
             failed ? first : len);
    set_result(res, (long)len, failed, d);
    free(img);
    return HK_OK;
}

static int run_mutation(hk_check_result *res)
{
    static const unsigned char subst[] = {0x00, ' ', '"', '{', '}', '[', ']', ',', ':', '0', '9', '-', 'e', '.', 0xff, 0x80};
    unsigned char *img;
    size_t len;
    HK_TRY(make_image(&img, &len, NULL));
    size_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | img[i];
    long cases = 0, failed = 0, parsed = 0;
    char d[256] = "";
    for (size_t pos = 0; pos < 8 + n; pos++)
        for (size_t k = 0; k < sizeof subst; k++) {
            if (img[pos] == subst[k]) continue;
            unsigned char keep = img[pos];
            img[pos] = subst[k];
            hk_st_file *f = NULL, *g = NULL;
            int s = hk_st_parse(img, len, &f);
            int ok = s == HK_EFORMAT || s == HK_OK;
            if (s == HK_OK) { /* accepted: must re-serialize to a canonical file that parses back */
                unsigned char *b;
                size_t bl;
                parsed++;
                ok = !hk_st_serialize(f, &b, &bl);
                if (ok) {
                    ok = !hk_st_parse(b, bl, &g) && serializes_to(g, b, bl);
                    free(b);
                }
            }
            cases++;
            if (!ok && !failed++)
                snprintf(d, sizeof d, "byte %zu set to 0x%02x: status %d (%s)", pos, subst[k], s, hk_error_message());
            hk_st_free(f);
            hk_st_free(g);
            img[pos] = keep;
        }
    if (!failed) snprintf(d, sizeof d, "%ld mutated headers: %ld parsed (and re-serialized), the rest EFORMAT", cases, parsed);
    set_result(res, cases, failed, d);
    hk_error_clear();
    free(img);
    return HK_OK;
}

static const hk_check checks[] = {
    {"property", "tensorfile.roundtrip", "F64 (with -0, subnormal, inf, NaN), U8, I64, BOOL: serialize/parse bit-identical",
     run_roundtrip,
     "Safetensors files round-trip bit for bit"},
    {"property", "tensorfile.truncation", "every strict prefix of a valid file is rejected with EFORMAT", run_truncation,
     "Every truncated safetensors file is rejected"},
    {"property", "tensorfile.mutation", "single-byte header mutations: parse, or EFORMAT; never another code or a crash",
     run_mutation,
     "Corrupted safetensors headers are parsed or rejected, never crash"},
};

const hk_check *hk_checks_tensorfile(size_t *n)
{
    *n = sizeof checks / sizeof checks[0];
    return checks;
}
