/* hkref — golden cases: attention dropout on (B,NH,T,T) logits.
 *   dropkey:        w = softmax(g + m), m = -inf at dropped keys (HK Eq. 3-5)
 *   dropattention:  w = softmax(g), then w' = classic / normalized / normalized
 *                   with NoGrad(Z) (HK Eq. 1-2, 6)
 * Padded keys have g = -inf (as attention produces) and mask.pad = 1.
 * Tolerances: K = 2; w: n = T (row sum) + R (exp range) + T (Z) + 6,
 * relative (atol = the underflow floor); grad.g: n = 3T + R + 8, one scale
 * per row, the sum of |terms| of its largest element (golden/README.md). */
#include "golden/case.h"

#include "ref/dropattention.h"
#include "ref/dropkey.h"
#include "ref/error.h"
#include "ref/softmax.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

typedef struct {
    int method;               /* fixed by the op: 0 dropkey, 1 dropattention */
    int variant;              /* hk_dropattn_variant */
    int pat;                  /* hk_pattern */
    double p;
    int policy;               /* hk_allmask_policy */
    long B, NH, T;
    hk_counts pad_right, pad_left; /* padded keys per batch element, at the end / the start */
    int allmasked;            /* 0: no all-masked row allowed, 1: at least one required (zeros expected), 2: either */
    double shift;             /* added to the logits of head 0 (+800: a naive exp overflows) */
    double range;             /* logits uniform in [-range, range) */
    long straddle;            /* > 0: some row drops keys straddle-1 and straddle (a tile edge) */
    long zeros;               /* 1: out.w / grad.g may be mostly zeros (padding-heavy cases) */
    hk_counts drop_keys;      /* lo:hi: these keys dropped in every row as well (a whole tile masked) */
    int form;                 /* DropKey: hk_dropkey_form (neginf, or the snippet's finite -1e12) */
} ad_arg;

static int build_ad(hk_case *g, const void *arg)
{
    const ad_arg *a = arg;
    long B = a->B, NH = a->NH, T = a->T, n = B * NH * T * T;
    double *lg = hk_case_in(g, "in.g", HK_SHAPE(B, NH, T, T)), *dw = hk_case_in(g, "in.d_w", HK_SHAPE(B, NH, T, T));
    uint8_t *m = hk_case_mask(g, "mask.att", HK_SHAPE(B, NH, T, T)), *pad = hk_case_mask(g, "mask.pad", HK_SHAPE(B, T));
    hk_case_fill(g, lg, n, -a->range, a->range);
    hk_case_fill(g, dw, n, -1.0, 1.0);
    if (!lg || !dw || !m || !pad) return HK_ENOMEM;
    HK_TRY(hk_case_padding(g, pad, B, T, &a->pad_right, &a->pad_left));
    if (!hk_case_is_given(g, lg)) {
        if (a->shift != 0)
            for (long b = 0; b < B; b++)
                for (long i = 0; i < T * T; i++) lg[(b * NH) * T * T + i] += a->shift;
        hk_case_round32(lg, n);
        for (long bh = 0; bh < B * NH; bh++)
            for (long q = 0; q < T; q++)
                for (long k = 0; k < T; k++)
                    if (pad[(bh / NH) * T + k]) lg[(bh * T + q) * T + k] = -INFINITY;
    }
    int given = hk_case_is_given(g, m);
    if (!given) {
        HK_TRY(hk_attnmask_sample(m, (hk_pattern)a->pat, a->p, pad, B, NH, T, T, hk_case_rng(g)));
        HK_TRY(hk_case_drop_keys(m, pad, B, NH, T, &a->drop_keys));
    }
    for (long i = 0; given && i < n; i++) {
        HK_REQUIRE(!(m[i] && a->p == 0), HK_EDOM, "given mask.att[%ld] drops a key but p = 0", i);
        HK_REQUIRE(!(m[i] && pad[(i / (NH * T * T)) * T + i % T]), HK_EDOM,
                   "given mask.att drops padded key %ld of batch element %ld (masks are 0 at padded keys)", i % T,
                   i / (NH * T * T));
    }
    /* Non-edge cases: every row keeps at least one key (STYLE: zero-trust). */
    long allmasked = hk_case_allmasked_rows(m, pad, B, NH, T);
    HK_REQUIRE(given || a->allmasked != 0 || allmasked == 0, HK_EDOM,
               "%ld all-masked rows in a non-edge case: another seed (or allmasked=any)", allmasked);
    HK_REQUIRE(given || a->allmasked != 1 || allmasked > 0, HK_EDOM, "edge case without an all-masked row: another seed");
    HK_REQUIRE(given || !a->straddle || hk_case_straddles(m, pad, B, NH, T, a->straddle), HK_EDOM,
               "no row drops both keys %ld and %ld (straddle=%ld): another seed", a->straddle - 1, a->straddle,
               a->straddle);
    /* R: the largest logit range of a row (the exp argument's rounding, golden/README.md "Tolerances"). */
    double R = 0.0;
    for (long row = 0; row < B * NH * T; row++) {
        double hi = -INFINITY, lo = INFINITY;
        for (long k = 0; k < T; k++)
            if (isfinite(lg[row * T + k])) hi = fmax(hi, lg[row * T + k]), lo = fmin(lo, lg[row * T + k]);
        R = fmax(R, hi - lo);
    }
    hk_case_cfg_str(g, "method", a->method ? "dropattention" : "dropkey");
    if (a->method) hk_case_cfg_str(g, "variant", hk_dropattn_variant_name((hk_dropattn_variant)a->variant));
    else hk_case_cfg_str(g, "form", a->form == HK_DROPKEY_FINITE ? "finite" : "neginf");
    hk_case_cfg_str(g, "pattern", hk_pattern_name((hk_pattern)a->pat));
    hk_case_cfg_real(g, "p", a->p);
    hk_case_cfg_str(g, "allmasked_policy", hk_allmask_name((hk_allmask_policy)a->policy));
    hk_case_cfg_int(g, "B", B);
    hk_case_cfg_int(g, "NH", NH);
    hk_case_cfg_int(g, "T", T);
    double *w = hk_case_out(g, "out.w", HK_SHAPE(B, NH, T, T), 2, a->method ? 2.0 * T + R + 6 : (double)T + R + 4, 0,
                          a->form == HK_DROPKEY_FINITE
                              ? "softmax (T + R + 4); relative (atol the underflow floor).  Finite form g + m (-1e12), "
                                "its exact value: a dropped key's weight e^-1e12 = 0 in every format, an all-masked "
                                "row per policy (keep: softmax(g), shift invariance).  Naive: in fp16 -1e12 is -inf "
                                "and 0 * -inf = NaN at every kept key; in f32 / bf16 g - 1e12 rounds g away (spacing "
                                "65536): an all-masked row comes out uniform; in f64 g - 1e12 keeps g to 2^-13 (exact for these inputs "
                                "with |g| >= 2^-5, ~1e-5 off keep for general f32 logits)"
                              : "softmax (T + R + 4); DropAttention: + kept sum Z (T) + rescale (2); relative: exp, "
                                "sums of positive terms and divisions carry relative errors, so atol is the "
                                "underflow floor");
    double *dg = hk_case_out(g, "grad.g", HK_SHAPE(B, NH, T, T), 2, a->method ? 3.0 * T + R + 8 : 2.0 * T + R + 8, 0,
                           "softmax pull-back (2T + R + 8); DropAttention: + rescale / Z pull-back (T); row scales "
                           "S_r = max_j w_j "
                           "(D_j + sum_k w_k D_k + |d_j - s|), s = sum_k w_k d_k, w the softmax weights, d the gradient "
                           "reaching them, D_j its error scale (|d_j|; differentiated Z: (|dw_j| + sum |dw| w') / Z)");
    double *wpre = hk_case_scratch(g, n), *dpre = hk_case_scratch(g, n), *S = hk_case_scratch(g, B * NH * T);
    double *D = hk_case_scratch(g, n);
    if (!w || !dg || !wpre || !dpre || !S || !D) return HK_ENOMEM;
    if (a->method == 0) {
        hk_dropkey_config c = {m, pad, (hk_dropkey_form)a->form, (hk_allmask_policy)a->policy};
        HK_TRY(hk_dropkey_forward(w, lg, &c, B, NH, T, T));
        HK_TRY(hk_dropkey_backward(dg, dw, w, &c, B, NH, T, T));
        memcpy(wpre, w, sizeof(double) * (size_t)n); /* the softmax DropKey's backward pulls through */
        memcpy(dpre, dw, sizeof(double) * (size_t)n);
    } else {
        hk_dropattn_config c = {m, pad, (hk_dropattn_variant)a->variant, a->p, (hk_allmask_policy)a->policy};
        HK_TRY(hk_softmax_forward(wpre, lg, B * NH * T, T));
        HK_TRY(hk_dropattn_forward(w, wpre, &c, B, NH, T, T));
        HK_TRY(hk_dropattn_backward(dpre, dw, wpre, w, &c, B, NH, T, T));
        HK_TRY(hk_softmax_backward(dg, dpre, wpre, B * NH * T, T));
    }
    /* D_j: the error scale of the gradient d_j reaching the softmax: |d_j| (d exact or with a relative
     * error), for the differentiated normalization d_j = [kept] (dw_j - sum_u dw_u w'_u) / Z of a row
     * with a dropped key [kept] (|dw_j| + sum_u |dw_u| w'_u) / Z. */
    for (long row = 0; row < B * NH * T; row++) {
        const double *wr = wpre + row * T, *dr = dpre + row * T, *dwr = dw + row * T, *w1 = w + row * T;
        double *Dr = D + row * T, Z = 0.0, sw = 0.0;
        long dropped = 0;
        for (long k = 0; k < T; k++) {
            int kept = !m[row * T + k] && !pad[(row / (NH * T)) * T + k];
            dropped += !kept && !pad[(row / (NH * T)) * T + k];
            Z += kept ? wr[k] : 0.0;
            sw += fabs(dwr[k]) * w1[k];
        }
        for (long k = 0; k < T; k++) {
            int kept = !m[row * T + k] && !pad[(row / (NH * T)) * T + k];
            Dr[k] = fabs(dr[k]);
            if (a->method == 1 && a->variant == HK_DROPATTN_NORM && dropped && Z > 0 && kept)
                Dr[k] = fmax(Dr[k], (fabs(dwr[k]) + sw) / Z);
        }
        S[row] = hk_case_softmax_grad_scale(wr, dr, Dr, T);
    }
    hk_case_relative(g, "out.w");
    hk_case_row_scale(g, "grad.g", S, B * NH * T);
    if (a->allmasked == 1 || a->p >= 0.5 || a->zeros) {
        hk_case_zeros_expected(g, "out.w");
        hk_case_zeros_expected(g, "grad.g");
    }
    return HK_OK;
}

#define SRC_DK "DropKey, 2403.00812 Eq. 3-5: w = softmax(g + m), m = -inf at dropped keys; all-masked rows per policy"
#define SRC_DA "DropAttention, 2403.00812 Eq. 1-2, 6: w = softmax(g); w' = w [kept] / (1-p) | / NoGrad(Z) | / Z"

static int check_ad(void *arg)
{
    const ad_arg *a = arg;
    const char *op = a->method ? "dropattention" : "dropkey";
    HK_REQUIRE(a->straddle < a->T, HK_EDOM, "%s: straddle=%ld must be < T=%ld", op, a->straddle, a->T);
    HK_REQUIRE(a->range > 0, HK_EDOM, "%s: range must be > 0", op);
    HK_REQUIRE(!(a->allmasked == 1 && a->p == 0), HK_EDOM, "%s: allmasked=some needs p > 0", op);
    HK_REQUIRE(a->drop_keys.n == 0 || a->p > 0, HK_EDOM, "%s: drop_keys needs p > 0 (a mask at rate 0 is all zero)", op);
    HK_REQUIRE(!a->method || a->form == HK_DROPKEY_NEGINF, HK_EINVAL, "dropattention: form is a DropKey setting");
    return HK_OK;
}

static const char *const ad_variants[] = {"classic", "norm_nograd", "norm", NULL}; /* hk_dropattn_variant */
static const char *const ad_patterns[] = {"element", "column", "span", NULL};       /* hk_pattern */
static const char *const ad_policies[] = {"keep", "zero", NULL};                    /* hk_allmask_policy */
static const char *const ad_allmasked[] = {"none", "some", "any", NULL};
static const char *const ad_forms[] = {"neginf", "finite", NULL}; /* hk_dropkey_form */

static const ad_arg dk_defaults = {.method = 0, .pat = HK_PATTERN_ELEMENT, .p = 0.25, .B = 2, .NH = 2, .T = 5,
                                   .range = 3.0},
                    da_defaults = {.method = 1, .variant = HK_DROPATTN_NORM_NOGRAD, .pat = HK_PATTERN_ELEMENT,
                                   .p = 0.25, .B = 2, .NH = 2, .T = 5, .range = 3.0};
static const hk_golden_param ad_params[] = {
    HK_P_INT(ad_arg, B, "B", 1, 4096, "batch"),
    HK_P_INT(ad_arg, NH, "NH", 1, 4096, "heads"),
    HK_P_INT(ad_arg, T, "T", 1, 1 << 16, "queries = keys per row"),
    HK_P_ENUM(ad_arg, pat, "pattern", ad_patterns, "how mask.att is drawn"),
    HK_P_RATE(ad_arg, p, "p", "drop rate among the non-padded keys"),
    HK_P_ENUM(ad_arg, policy, "allmasked_policy", ad_policies, "rows with no kept key"),
    HK_P_COUNTS(ad_arg, pad_right, "pad_right", 0, 1 << 16, "padded keys at the end, per batch element"),
    HK_P_COUNTS(ad_arg, pad_left, "pad_left", 0, 1 << 16, "padded keys at the start, per batch element"),
    HK_P_ENUM(ad_arg, allmasked, "allmasked", ad_allmasked, "all-masked rows: none allowed, some required, any"),
    HK_P_REAL(ad_arg, shift, "shift", -1e4, 1e4, "added to head 0's logits (800: naive exp overflows)"),
    HK_P_REAL(ad_arg, range, "range", 0, 1e4, "logits uniform in [-range, range)"),
    HK_P_INT(ad_arg, straddle, "straddle", 0, 1 << 16, "> 0: some row drops keys straddle-1 and straddle"),
    HK_P_INT(ad_arg, zeros, "zeros_expected", 0, 1, "1: outputs may be mostly zeros (heavy padding)"),
    HK_P_COUNTS(ad_arg, drop_keys, "drop_keys", 0, 1 << 16, "lo:hi: keys lo..hi-1 dropped in every row too (needs p > 0)"),
    HK_P_ENUM(ad_arg, form, "form", ad_forms, "DropKey: -inf at dropped keys, or the snippet's finite -1e12"),
    HK_P_ENUM(ad_arg, variant, "variant", ad_variants, "DropAttention variant"),
};
static const hk_golden_op op_dk = {"dropkey", SRC_DK, sizeof(ad_arg), &dk_defaults, ad_params, HK_NPARAMS(ad_params) - 1,
                                   NULL, NULL, check_ad, NULL, build_ad};
static const hk_golden_op op_da = {"dropattention", SRC_DA, sizeof(ad_arg), &da_defaults, ad_params,
                                   HK_NPARAMS(ad_params), NULL, NULL, check_ad, NULL, build_ad};

static const hk_golden_case cases[] = {
    {&op_dk, "dropkey_element_p0.25_2x2x5", 901, "pattern=element,p=0.25,B=2,NH=2,T=5"},
    {&op_dk, "dropkey_column_p0.25_2x2x6", 902, "pattern=column,p=0.25,B=2,NH=2,T=6"},
    {&op_dk, "dropkey_p0_1x2x5", 903, "pattern=element,p=0,B=1,NH=2,T=5"},
    {&op_dk, "dropkey_column_p0.75_allmasked_keep_2x2x3", 904,
     "pattern=column,p=0.75,allmasked_policy=keep,B=2,NH=2,T=3,allmasked=some"},
    {&op_dk, "dropkey_column_p0.75_allmasked_zero_2x2x3", 905,
     "pattern=column,p=0.75,allmasked_policy=zero,B=2,NH=2,T=3,allmasked=some"},
    {&op_dk, "dropkey_element_large_logits_padding_1x2x7", 906, "pattern=element,p=0.125,B=1,NH=2,T=7,pad_right=2,shift=800"},
    {&op_dk, "dropkey_span_p0.375_padding_2x1x8", 907, "pattern=span,p=0.375,B=2,NH=1,T=8,pad_right=2:1"},
    /* low-precision hazards (golden/README.md, "Low-precision tiers"): the DropKey snippet's finite form
     * g + m (-1e12) as its own config; its exact value is the -inf form's (out.w's note: what the naive
     * evaluation does in fp16 / f32 / bf16 / f64), all-masked rows under each policy (the seeds of the
     * -inf cases 904, 905: the same inputs, so the same expected outputs) */
    {&op_dk, "dropkey_finite_element_p0.25_2x2x5", 908, "form=finite,pattern=element,p=0.25,B=2,NH=2,T=5"},
    {&op_dk, "dropkey_finite_column_p0.75_allmasked_keep_2x2x3", 904,
     "form=finite,pattern=column,p=0.75,allmasked_policy=keep,B=2,NH=2,T=3,allmasked=some"},
    {&op_dk, "dropkey_finite_column_p0.75_allmasked_zero_2x2x3", 905,
     "form=finite,pattern=column,p=0.75,allmasked_policy=zero,B=2,NH=2,T=3,allmasked=some"},
    {&op_da, "dropattention_classic_p0.25_2x2x5", 911, "variant=classic,pattern=element,p=0.25,B=2,NH=2,T=5"},
    {&op_da, "dropattention_norm_nograd_p0.25_padding_2x2x5", 912,
     "variant=norm_nograd,pattern=element,p=0.25,B=2,NH=2,T=5,pad_right=2:1"},
    {&op_da, "dropattention_norm_p0.25_padding_2x2x5", 913, "variant=norm,pattern=element,p=0.25,B=2,NH=2,T=5,pad_right=2:1"},
    {&op_da, "dropattention_norm_nograd_column_p0.375_2x2x6", 914, "variant=norm_nograd,pattern=column,p=0.375,B=2,NH=2,T=6"},
    {&op_da, "dropattention_norm_nograd_p0.75_allmasked_keep_2x2x3", 915,
     "variant=norm_nograd,pattern=column,p=0.75,allmasked_policy=keep,B=2,NH=2,T=3,allmasked=some"},
    {&op_da, "dropattention_classic_p0.75_allmasked_zero_2x2x3", 916,
     "variant=classic,pattern=column,p=0.75,allmasked_policy=zero,B=2,NH=2,T=3,allmasked=some"},
    {&op_da, "dropattention_norm_p0_padding_1x2x5", 917, "variant=norm,pattern=element,p=0,B=1,NH=2,T=5,pad_right=2"},
    /* the tile tier (golden/README.md, "The tile tier"): rows longer than the 64-key tiles and shards of
     * fused / sharded kernels, crossing 64 and 128, with a first tile that is wholly padded or dropped
     * and runs of dropped keys across a tile edge */
    {&op_dk, "dropkey_tile_element_padleft64_2x1x130", 931,
     "pattern=element,p=0.25,B=2,NH=1,T=130,pad_left=0:64,pad_right=1"},
    {&op_dk, "dropkey_tile_column_first_tile_dropped_1x1x129", 932,
     "pattern=column,p=0.25,B=1,NH=1,T=129,drop_keys=0:64,zeros_expected=1"},
    {&op_dk, "dropkey_tile_span_straddle64_1x1x129", 933, "pattern=span,p=0.375,B=1,NH=1,T=129,straddle=64"},
    {&op_da, "dropattention_tile_classic_p0.25_1x1x65", 941, "variant=classic,pattern=element,p=0.25,B=1,NH=1,T=65"},
    {&op_da, "dropattention_tile_norm_nograd_padleft64_1x1x130", 942,
     "variant=norm_nograd,pattern=element,p=0.25,B=1,NH=1,T=130,pad_left=64,zeros_expected=1"},
    {&op_da, "dropattention_tile_norm_span_straddle64_1x1x129", 943,
     "variant=norm,pattern=span,p=0.375,B=1,NH=1,T=129,straddle=64"},
};

const hk_golden_case *hk_golden_attndrop(size_t *n)
{
    *n = sizeof cases / sizeof cases[0];
    return cases;
}
