/* hkref — golden cases: attention dropout on (B,NH,T,T) logits.
 *   dropkey:        w = softmax(g + m), m = -inf at dropped keys (HK Eq. 3-5)
 *   dropattention:  w = softmax(g), then w' = classic / normalized / normalized
 *                   with NoGrad(Z) (HK Eq. 1-2, 6)
 * Padded keys have g = -inf (as attention produces) and mask.pad = 1.
 * Tolerances: K = 2; w: n = T (row sum) + R (exp range) + T (Z) + 6, S =
 * max|ref|; grad.g: n = 3T + R + 8, S = 2 max|d_w| / Zmin (the largest
 * factor a kept weight is rescaled by: 1/(1-p) or 1/Z). */
#include "golden/case.h"

#include "ref/dropattention.h"
#include "ref/dropkey.h"
#include "ref/error.h"
#include "ref/softmax.h"

#include <math.h>

typedef struct {
    int method;               /* 0 dropkey, 1 dropattention */
    hk_dropattn_variant variant;
    hk_pattern pat;
    double p;
    hk_allmask_policy policy;
    long B, NH, T;
    int pad;                  /* 1: the last key of batch 1 (if B > 1) and the last two of batch 0 (if T > 4) padded */
    int edge;                 /* 1: all-masked rows allowed / zeros expected; 2: +800 logits in head 0 */
} ad_arg;

static int build_ad(hk_case *g, const void *arg)
{
    const ad_arg *a = arg;
    long B = a->B, NH = a->NH, T = a->T, n = B * NH * T * T;
    double *lg = hk_case_in(g, "in.g", HK_SHAPE(B, NH, T, T)), *dw = hk_case_in(g, "in.d_w", HK_SHAPE(B, NH, T, T));
    uint8_t *m = hk_case_mask(g, "mask.att", HK_SHAPE(B, NH, T, T)), *pad = hk_case_mask(g, "mask.pad", HK_SHAPE(B, T));
    double *w0 = hk_case_scratch(g, n);
    hk_case_fill(g, lg, n, -3.0, 3.0);
    hk_case_fill(g, dw, n, -1.0, 1.0);
    if (!lg || !dw || !m || !pad || !w0) return HK_ENOMEM;
    if (a->pad) {
        if (B > 1) pad[1 * T + T - 1] = 1;
        if (T > 4) pad[T - 1] = pad[T - 2] = 1;
    }
    if (a->edge == 2)
        for (long b = 0; b < B; b++)
            for (long i = 0; i < T * T; i++) lg[(b * NH) * T * T + i] += 800.0;
    hk_case_round32(lg, n);
    for (long bh = 0; bh < B * NH; bh++)
        for (long q = 0; q < T; q++)
            for (long k = 0; k < T; k++)
                if (pad[(bh / NH) * T + k]) lg[(bh * T + q) * T + k] = -INFINITY;
    HK_TRY(hk_attnmask_sample(m, a->pat, a->p, pad, B, NH, T, T, hk_case_rng(g)));
    /* Non-edge cases: every row keeps at least one key (STYLE: zero-trust). */
    long allmasked = hk_case_allmasked_rows(m, pad, B, NH, T);
    HK_REQUIRE(a->edge == 1 || allmasked == 0, HK_EDOM, "%ld all-masked rows in a non-edge case: another seed", allmasked);
    HK_REQUIRE(a->edge != 1 || allmasked > 0, HK_EDOM, "edge case without an all-masked row: another seed");
    /* Zmin: the smallest sum of kept softmax weights over rows with a dropped and a kept key. */
    HK_TRY(hk_softmax_forward(w0, lg, B * NH * T, T));
    double Zmin = a->method == 1 && a->variant == HK_DROPATTN_CLASSIC ? 1.0 - a->p : 1.0, R = 0.0;
    for (long row = 0; row < B * NH * T; row++) {
        double Z = 0.0, hi = -INFINITY, lo = INFINITY;
        for (long k = 0; k < T; k++) {
            if (!m[row * T + k]) Z += w0[row * T + k];
            if (isfinite(lg[row * T + k])) hi = fmax(hi, lg[row * T + k]), lo = fmin(lo, lg[row * T + k]);
        }
        if (Z > 0 && a->method == 1 && a->variant != HK_DROPATTN_CLASSIC) Zmin = fmin(Zmin, Z);
        R = fmax(R, hi - lo);
    }
    hk_case_cfg_str(g, "method", a->method ? "dropattention" : "dropkey");
    if (a->method) hk_case_cfg_str(g, "variant", hk_dropattn_variant_name(a->variant));
    else hk_case_cfg_str(g, "form", "neginf");
    hk_case_cfg_str(g, "pattern", hk_pattern_name(a->pat));
    hk_case_cfg_real(g, "p", a->p);
    hk_case_cfg_str(g, "allmasked_policy", hk_allmask_name(a->policy));
    hk_case_cfg_int(g, "B", B);
    hk_case_cfg_int(g, "NH", NH);
    hk_case_cfg_int(g, "T", T);
    double *w = hk_case_out(g, "out.w", HK_SHAPE(B, NH, T, T), 2, 2.0 * T + R + 6, 0,
                          "softmax (T + R + 4) + kept sum Z (T) + rescale (2); S = max|ref|");
    double *dg = hk_case_out(g, "grad.g", HK_SHAPE(B, NH, T, T), 2, 3.0 * T + R + 8, 2.0 * hk_case_maxabs(dw, n) / Zmin,
                           "rescale / Z pull-back (T) + softmax pull-back (2T + R + 8); S = 2 max|d_w| / Zmin");
    double *wpre = hk_case_scratch(g, n);
    if (!w || !dg || !wpre) return HK_ENOMEM;
    if (a->method == 0) {
        hk_dropkey_config c = {m, pad, HK_DROPKEY_NEGINF, a->policy};
        HK_TRY(hk_dropkey_forward(w, lg, &c, B, NH, T, T));
        HK_TRY(hk_dropkey_backward(dg, dw, w, &c, B, NH, T, T));
    } else {
        hk_dropattn_config c = {m, pad, a->variant, a->p, a->policy};
        double *dpre = hk_case_scratch(g, n);
        if (!dpre) return HK_ENOMEM;
        HK_TRY(hk_softmax_forward(wpre, lg, B * NH * T, T));
        HK_TRY(hk_dropattn_forward(w, wpre, &c, B, NH, T, T));
        HK_TRY(hk_dropattn_backward(dpre, dw, wpre, w, &c, B, NH, T, T));
        HK_TRY(hk_softmax_backward(dg, dpre, wpre, B * NH * T, T));
    }
    if (a->edge == 1 || a->p >= 0.5) {
        hk_case_zeros_expected(g, "out.w");
        hk_case_zeros_expected(g, "grad.g");
    }
    return HK_OK;
}

#define SRC_DK "DropKey, 2403.00812 Eq. 3-5: w = softmax(g + m), m = -inf at dropped keys; all-masked rows per policy"
#define SRC_DA "DropAttention, 2403.00812 Eq. 1-2, 6: w = softmax(g); w' = w [kept] / (1-p) | / NoGrad(Z) | / Z"

enum { DK = 0, DA = 1 };
static const ad_arg
    k_el = {DK, 0, HK_PATTERN_ELEMENT, 0.25, HK_ALLMASK_KEEP, 2, 2, 5, 0, 0},
    k_col = {DK, 0, HK_PATTERN_COLUMN, 0.25, HK_ALLMASK_KEEP, 2, 2, 6, 0, 0},
    k_p0 = {DK, 0, HK_PATTERN_ELEMENT, 0.0, HK_ALLMASK_KEEP, 1, 2, 5, 0, 0},
    k_keep = {DK, 0, HK_PATTERN_COLUMN, 0.75, HK_ALLMASK_KEEP, 2, 2, 3, 0, 1},
    k_zero = {DK, 0, HK_PATTERN_COLUMN, 0.75, HK_ALLMASK_ZERO, 2, 2, 3, 0, 1},
    k_big = {DK, 0, HK_PATTERN_ELEMENT, 0.125, HK_ALLMASK_KEEP, 1, 2, 7, 1, 2},
    k_span = {DK, 0, HK_PATTERN_SPAN, 0.375, HK_ALLMASK_KEEP, 2, 1, 8, 1, 0},
    a_cl = {DA, HK_DROPATTN_CLASSIC, HK_PATTERN_ELEMENT, 0.25, HK_ALLMASK_KEEP, 2, 2, 5, 0, 0},
    a_ng = {DA, HK_DROPATTN_NORM_NOGRAD, HK_PATTERN_ELEMENT, 0.25, HK_ALLMASK_KEEP, 2, 2, 5, 1, 0},
    a_n = {DA, HK_DROPATTN_NORM, HK_PATTERN_ELEMENT, 0.25, HK_ALLMASK_KEEP, 2, 2, 5, 1, 0},
    a_ngc = {DA, HK_DROPATTN_NORM_NOGRAD, HK_PATTERN_COLUMN, 0.375, HK_ALLMASK_KEEP, 2, 2, 6, 0, 0},
    a_keep = {DA, HK_DROPATTN_NORM_NOGRAD, HK_PATTERN_COLUMN, 0.75, HK_ALLMASK_KEEP, 2, 2, 3, 0, 1},
    a_zero = {DA, HK_DROPATTN_CLASSIC, HK_PATTERN_COLUMN, 0.75, HK_ALLMASK_ZERO, 2, 2, 3, 0, 1},
    a_p0 = {DA, HK_DROPATTN_NORM, HK_PATTERN_ELEMENT, 0.0, HK_ALLMASK_KEEP, 1, 2, 5, 1, 0};

static const hk_golden_case cases[] = {
    {"dropkey", "dropkey_element_p0.25_2x2x5", SRC_DK, 901, build_ad, &k_el},
    {"dropkey", "dropkey_column_p0.25_2x2x6", SRC_DK, 902, build_ad, &k_col},
    {"dropkey", "dropkey_p0_1x2x5", SRC_DK, 903, build_ad, &k_p0},
    {"dropkey", "dropkey_column_p0.75_allmasked_keep_2x2x3", SRC_DK, 904, build_ad, &k_keep},
    {"dropkey", "dropkey_column_p0.75_allmasked_zero_2x2x3", SRC_DK, 905, build_ad, &k_zero},
    {"dropkey", "dropkey_element_large_logits_padding_1x2x7", SRC_DK, 906, build_ad, &k_big},
    {"dropkey", "dropkey_span_p0.375_padding_2x1x8", SRC_DK, 907, build_ad, &k_span},
    {"dropattention", "dropattention_classic_p0.25_2x2x5", SRC_DA, 911, build_ad, &a_cl},
    {"dropattention", "dropattention_norm_nograd_p0.25_padding_2x2x5", SRC_DA, 912, build_ad, &a_ng},
    {"dropattention", "dropattention_norm_p0.25_padding_2x2x5", SRC_DA, 913, build_ad, &a_n},
    {"dropattention", "dropattention_norm_nograd_column_p0.375_2x2x6", SRC_DA, 914, build_ad, &a_ngc},
    {"dropattention", "dropattention_norm_nograd_p0.75_allmasked_keep_2x2x3", SRC_DA, 915, build_ad, &a_keep},
    {"dropattention", "dropattention_classic_p0.75_allmasked_zero_2x2x3", SRC_DA, 916, build_ad, &a_zero},
    {"dropattention", "dropattention_norm_p0_padding_1x2x5", SRC_DA, 917, build_ad, &a_p0},
};

const hk_golden_case *hk_golden_attndrop(size_t *n)
{
    *n = sizeof cases / sizeof cases[0];
    return cases;
}
