/* hkref — checks of the consistency losses (ref/consistency.h): finite
 * differences of every variant at moderate, shifted (+700) and near-one-hot
 * logits, and the properties the project claims (symmetry, zero iff equal,
 * which variants are bounded by ln 2). */
#include "checks.h"

#include "ref/consistency.h"
#include "ref/error.h"
#include "ref/rng.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { CN = 3, CC = 5 };

typedef struct {
    hk_consistency kind;
    hk_reduction red;
    double z1[CN * CC], z2[CN * CC];
} cons_ctx;

/* The gradcheck loss is w·L with w = 0.75, so the dloss scaling is checked too. */
static const double W = 0.75;

static double cons_loss(void *p)
{
    cons_ctx *c = p;
    double L;
    return hk_consistency_forward(&L, c->kind, c->z1, c->z2, CN, CC, c->red) ? NAN : W * L;
}

/* regime 0: logits in [-3,3]; 1: row 1 of both shifted by +700 (naive exp
 * overflows); 2: near one-hot, gaps of ~36 (probabilities ~1e-16), with
 * P1 and P2 peaked on different classes.  Losses stay <= ~40, so the FD
 * rounding error ε|L|/h <= 1e-10 stays under atol = 1e-8. */
static int cons_run(hk_check_result *res, hk_consistency kind, int regime)
{
    cons_ctx c = {.kind = kind, .red = regime == 1 ? HK_RED_SUM : HK_RED_MEAN};
    gsl_rng *r = hk_rng_new(31 + (unsigned long)regime);
    if (!r) return HK_ENOMEM;
    hk_rng_fill_uniform(c.z1, CN * CC, -3.0, 3.0, r);
    hk_rng_fill_uniform(c.z2, CN * CC, -3.0, 3.0, r);
    hk_rng_free(r);
    if (regime == 1)
        for (int j = 0; j < CC; j++) c.z1[CC + j] += 700.0, c.z2[CC + j] += 700.0;
    if (regime == 2)
        for (int n = 0; n < CN; n++) c.z1[n * CC + n] += 36.0, c.z2[n * CC + (n + 2) % CC] += 36.0;
    double d1[CN * CC] = {0}, d2[CN * CC] = {0};
    HK_TRY(hk_consistency_backward(d1, d2, W, kind, c.z1, c.z2, CN, CC, c.red));
    hk_gc_var v[] = {{"dz1", c.z1, d1, CN * CC}, {"dz2", c.z2, d2, CN * CC}};
    hk_gc_report rep;
    HK_TRY(hk_gradcheck(cons_loss, &c, v, 2, NULL, &rep));
    hk_check_from_gc(res, &rep);
    return HK_OK;
}

#define GC3(fn, kind)                                                                  \
    static int fn##_mod(hk_check_result *res) { return cons_run(res, kind, 0); }      \
    static int fn##_large(hk_check_result *res) { return cons_run(res, kind, 1); }    \
    static int fn##_onehot(hk_check_result *res) { return cons_run(res, kind, 2); }
#define GC2(fn, kind)                                                                  \
    static int fn##_mod(hk_check_result *res) { return cons_run(res, kind, 0); }      \
    static int fn##_large(hk_check_result *res) { return cons_run(res, kind, 1); }
GC3(klb, HK_CONS_KL_BIDIR)
GC3(jse, HK_CONS_JS_EQ12)
GC3(jsm, HK_CONS_JS_MIXTURE)
GC3(jst, HK_CONS_JS_TEXTBOOK)
GC2(mse, HK_CONS_MSE) /* no "one-hot" for MSE: it takes outputs, not logits */

/* ---- properties ------------------------------------------------------ */

/* Pairs of single rows (C = 4) with entropy and extremes: moderate, ties,
 * ±700, near one-hot on different classes, near one-hot on the same class. */
enum { PC = 4, NPAIRS = 7 };
static const double pairs[NPAIRS][2][PC] = {
    {{0.3, -1.2, 2.385, -0.75}, {1.1, 0.4, -0.6, 2.2}},
    {{0.0, 0.0, 0.0, 0.0}, {3.5, -2.25, 0.125, 1.0}},
    {{700.0, -700.0, 0.5, 1.5}, {-700.0, 700.0, 0.25, -3.0}},
    {{700.0, 699.0, -700.0, 3.0}, {700.0, -700.0, 699.5, 2.0}},
    {{60.0, 0.1, -0.2, 0.3}, {0.2, 0.1, 61.5, -0.4}},
    {{45.0, 1.0, 2.0, 3.0}, {44.0, 3.0, 1.0, 2.0}},
    {{-700.0, -699.0, -701.5, -700.25}, {-0.5, 0.75, 1.25, -1.0}},
};

/* kl_bidir, js_mixture, js_textbook and mse are symmetric in (z1, z2); each
 * is computed term by term from operands that the swap only reorders
 * (½(p-q)(a-b): both factors negate; log M = max + log1p(e^-|a-b|) - ln 2
 * and the sums (lm-a)+(lm-b), p(a-lm)+q(b-lm) and (x-y)² are commutative in
 * IEEE arithmetic), so swapping must reproduce the loss bit for bit: bound 0. */
static int prop_symmetric(hk_check_result *res, hk_consistency kind)
{
    res->bound = 0.0;
    snprintf(res->unit, sizeof res->unit, "abs");
    for (int i = 0; i < NPAIRS; i++) {
        double l12, l21;
        HK_TRY(hk_consistency_forward(&l12, kind, pairs[i][0], pairs[i][1], 1, PC, HK_RED_SUM));
        HK_TRY(hk_consistency_forward(&l21, kind, pairs[i][1], pairs[i][0], 1, PC, HK_RED_SUM));
        double d = fabs(l12 - l21);
        res->cases++;
        if (!(d <= 0.0) || !isfinite(l12)) res->failed++;
        if (d > res->worst) res->worst = d;
    }
    snprintf(res->detail, sizeof res->detail, "%s(z1,z2) vs %s(z2,z1) over %d pairs incl. ±700",
             hk_consistency_name(kind), hk_consistency_name(kind), NPAIRS);
    return HK_OK;
}
static int sym_klb(hk_check_result *res) { return prop_symmetric(res, HK_CONS_KL_BIDIR); }
static int sym_jsm(hk_check_result *res) { return prop_symmetric(res, HK_CONS_JS_MIXTURE); }
static int sym_jst(hk_check_result *res) { return prop_symmetric(res, HK_CONS_JS_TEXTBOOK); }
static int sym_mse(hk_check_result *res) { return prop_symmetric(res, HK_CONS_MSE); }

/* js_eq12 = KL(P1‖P̄) is NOT symmetric.  Two classes, P1 = (½,½) (z = 0),
 * P̄ = (¾,¼) (z = (ln 3, 0)): KL(P1‖P̄) = ½ln(4/3) = 0.1438…, KL(P̄‖P1) =
 * ¾ln(3/2) − ¼ln 2 = 0.1308… (closed forms, tests/test_consistency.c); the
 * check asks both for those values to 32ε and for them to differ. */
static int prop_eq12_asymmetric(hk_check_result *res)
{
    const double z1[2] = {0.0, 0.0}, z2[2] = {log(3.0), 0.0};
    const double k12 = 0.5 * log(4.0 / 3.0), k21 = 0.75 * log(1.5) - 0.25 * log(2.0);
    double l12, l21;
    HK_TRY(hk_consistency_forward(&l12, HK_CONS_JS_EQ12, z1, z2, 1, 2, HK_RED_SUM));
    HK_TRY(hk_consistency_forward(&l21, HK_CONS_JS_EQ12, z2, z1, 1, 2, HK_RED_SUM));
    res->bound = 32.0 * DBL_EPSILON;
    snprintf(res->unit, sizeof res->unit, "abs");
    res->cases = 3;
    res->worst = fmax(fabs(l12 - k12), fabs(l21 - k21));
    res->failed = (fabs(l12 - k12) > res->bound) + (fabs(l21 - k21) > res->bound) + !(fabs(l12 - l21) > 1e-3);
    snprintf(res->detail, sizeof res->detail, "KL(P1||Pbar) = %.17g, KL(Pbar||P1) = %.17g: not symmetric", l12, l21);
    return HK_OK;
}

/* L(z, z) = 0 exactly; L(z, z + s) for a shift s (same distribution) is 0
 * up to rounding of a − b (a few ulps of |a| <= 1400 -> 1e-12, times p <= 1,
 * C terms): bound 8·C·1400·ε ≈ 1e-11; L(z1, z2) for distinct distributions
 * is > 0, and > that bound where they differ by O(1).  Pair 5 differs only in
 * classes of probability ~e^-42: its L ~ 1e-18 is below the rounding bound
 * (lse = 45 + 1e-18 rounds to 45, so the dominant class's a - b is lost), and
 * only kl_bidir is still > 0 there — each of its terms ½(p-q)(a-b) is >= 0 by
 * construction (exp is monotone, so p-q and a-b never have opposite signs);
 * for the others (js_eq12 gives -2.3e-19 there) "zero iff equal" holds up to
 * rounding, no better: required L > -tol.  mse
 * compares outputs, not distributions: a shift is a different output, so for
 * mse the shifted case must be > 0 (= C·s² exactly for s = 0.375). */
static int prop_zero_iff_equal(hk_check_result *res, hk_consistency kind)
{
    const double tol = 8.0 * PC * 1400.0 * DBL_EPSILON, s = 0.375;
    res->bound = 1.0;
    snprintf(res->unit, sizeof res->unit, "L/tol");
    double minpos = INFINITY;
    for (int i = 0; i < NPAIRS; i++) {
        double shifted[PC], l0, ls, l12;
        for (int c = 0; c < PC; c++) shifted[c] = pairs[i][0][c] + s;
        HK_TRY(hk_consistency_forward(&l0, kind, pairs[i][0], pairs[i][0], 1, PC, HK_RED_SUM));
        HK_TRY(hk_consistency_forward(&ls, kind, pairs[i][0], shifted, 1, PC, HK_RED_SUM));
        HK_TRY(hk_consistency_forward(&l12, kind, pairs[i][0], pairs[i][1], 1, PC, HK_RED_SUM));
        res->cases += 3;
        if (l0 != 0.0) res->failed++; /* identical inputs: exactly 0 */
        if (kind == HK_CONS_MSE) {
            /* shifted[c] - z[c] rounds at |z| = 700 (ulp 1.1e-13): C·s² to 1e-12 */
            if (!(fabs(ls - PC * s * s) <= 1e-12)) res->failed++;
        } else {
            if (!(fabs(ls) <= tol)) res->failed++; /* same distribution: rounding only */
            if (fabs(ls) / tol > res->worst) res->worst = fabs(ls) / tol;
        }
        double need = i != 5 ? tol : kind == HK_CONS_KL_BIDIR ? 0.0 : -tol;
        if (!(l12 > need)) res->failed++; /* different: positive (pair 5: see above) */
        if (l12 < minpos) minpos = l12;
    }
    snprintf(res->detail, sizeof res->detail, "%s: L(z,z)=0 exactly, %s, smallest L over distinct pairs %.6g",
             hk_consistency_name(kind), kind == HK_CONS_MSE ? "L(z,z+s)=C·s²" : "|L(z,z+0.375)| <= 1e-11", minpos);
    return HK_OK;
}
static int zero_klb(hk_check_result *res) { return prop_zero_iff_equal(res, HK_CONS_KL_BIDIR); }
static int zero_jse(hk_check_result *res) { return prop_zero_iff_equal(res, HK_CONS_JS_EQ12); }
static int zero_jsm(hk_check_result *res) { return prop_zero_iff_equal(res, HK_CONS_JS_MIXTURE); }
static int zero_jst(hk_check_result *res) { return prop_zero_iff_equal(res, HK_CONS_JS_TEXTBOOK); }
static int zero_mse(hk_check_result *res) { return prop_zero_iff_equal(res, HK_CONS_MSE); }

static int prop_textbook_bounded(hk_check_result *res)
{
    /* JS(P1,P2) <= ln 2 for every pair; rounding of a C-term sum of O(1)
     * terms: bound ln 2 + 16·C·ε.  Pair 2 (disjoint supports at ±700) must
     * reach ln 2 within that rounding: the bound is attained, not loose. */
    res->bound = M_LN2 + 16.0 * PC * DBL_EPSILON;
    snprintf(res->unit, sizeof res->unit, "nats");
    for (int i = 0; i < NPAIRS; i++) {
        double L;
        HK_TRY(hk_consistency_forward(&L, HK_CONS_JS_TEXTBOOK, pairs[i][0], pairs[i][1], 1, PC, HK_RED_SUM));
        res->cases++;
        if (!(L <= res->bound && L >= -16.0 * PC * DBL_EPSILON)) res->failed++;
        if (L > res->worst) res->worst = L;
    }
    double Ld;
    const double a[2] = {700.0, -700.0}, b[2] = {-700.0, 700.0};
    HK_TRY(hk_consistency_forward(&Ld, HK_CONS_JS_TEXTBOOK, a, b, 1, 2, HK_RED_SUM));
    res->cases++;
    if (!(fabs(Ld - M_LN2) <= 16.0 * DBL_EPSILON)) res->failed++;
    snprintf(res->detail, sizeof res->detail, "max over %d pairs %.17g; disjoint (±700) pair %.17g vs ln 2 %.17g",
             NPAIRS, res->worst, Ld, M_LN2);
    return HK_OK;
}

static int prop_unbounded(hk_check_result *res)
{
    /* kl_bidir, js_eq12 and js_mixture are NOT bounded by ln 2: on the
     * two-class pair z1 = (g/2, -g/2), z2 = -z1 each grows linearly in the
     * gap g (≈ g/2 for js_mixture, ≈ g for the others).  Check L(g=1400) > 100·ln 2
     * and L(1400)/L(700) within 1% of 2 (linear growth), all finite. */
    res->bound = 1.0;
    snprintf(res->unit, sizeof res->unit, "ln2/L");
    static const hk_consistency kinds[3] = {HK_CONS_KL_BIDIR, HK_CONS_JS_EQ12, HK_CONS_JS_MIXTURE};
    char *dp = res->detail;
    size_t room = sizeof res->detail;
    for (int k = 0; k < 3; k++) {
        double L7, L14;
        const double a7[2] = {350.0, -350.0}, b7[2] = {-350.0, 350.0};
        const double a14[2] = {700.0, -700.0}, b14[2] = {-700.0, 700.0};
        HK_TRY(hk_consistency_forward(&L7, kinds[k], a7, b7, 1, 2, HK_RED_SUM));
        HK_TRY(hk_consistency_forward(&L14, kinds[k], a14, b14, 1, 2, HK_RED_SUM));
        res->cases += 2;
        if (!(isfinite(L14) && L14 > 100.0 * M_LN2)) res->failed++;
        if (!(fabs(L14 / L7 - 2.0) <= 0.02)) res->failed++;
        double ratio = M_LN2 * 100.0 / L14;
        if (ratio > res->worst) res->worst = ratio;
        int w = snprintf(dp, room, "%s L(700)=%.6g L(1400)=%.6g; ", hk_consistency_name(kinds[k]), L7, L14);
        if (w > 0 && (size_t)w < room) dp += w, room -= (size_t)w;
    }
    return HK_OK;
}

static const hk_check checks[] = {
    {"gradcheck", "consistency.kl_bidir", "Eq. 11 bidirectional KL, dz1 and dz2 vs FD, logits in [-3,3]", klb_mod,
     "Bidirectional KL (Eq. 11): backward matches finite differences"},
    {"gradcheck", "consistency.kl_bidir.large", "bidirectional KL with a row shifted by +700", klb_large,
     "Bidirectional KL at logits +700: backward matches finite differences"},
    {"gradcheck", "consistency.kl_bidir.onehot", "bidirectional KL, near one-hot rows peaked apart (p~1e-16)",
     klb_onehot,
     "Bidirectional KL at near one-hot rows: backward matches finite differences"},
    {"gradcheck", "consistency.js_eq12", "Eq. 12 KL(P1||Pbar), both sides vs FD", jse_mod,
     "The printed \"JS\" loss KL(P1||Pbar) (Eq. 12): backward matches finite differences"},
    {"gradcheck", "consistency.js_eq12.large", "Eq. 12 with a row shifted by +700", jse_large,
     "The Eq. 12 loss at logits +700: backward matches finite differences"},
    {"gradcheck", "consistency.js_eq12.onehot", "Eq. 12, near one-hot rows", jse_onehot,
     "The Eq. 12 loss at near one-hot rows: backward matches finite differences"},
    {"gradcheck", "consistency.js_mixture", "HiddenCut-code 1/2[KL(M||P1)+KL(M||P2)] vs FD", jsm_mod,
     "HiddenCut's mixture JS loss: backward matches finite differences"},
    {"gradcheck", "consistency.js_mixture.large", "mixture JS with a row shifted by +700", jsm_large,
     "Mixture JS at logits +700: backward matches finite differences"},
    {"gradcheck", "consistency.js_mixture.onehot", "mixture JS, near one-hot rows", jsm_onehot,
     "Mixture JS at near one-hot rows: backward matches finite differences"},
    {"gradcheck", "consistency.js_textbook", "textbook JS 1/2[KL(P1||M)+KL(P2||M)] vs FD", jst_mod,
     "Textbook Jensen-Shannon divergence: backward matches finite differences"},
    {"gradcheck", "consistency.js_textbook.large", "textbook JS with a row shifted by +700", jst_large,
     "Textbook JS at logits +700: backward matches finite differences"},
    {"gradcheck", "consistency.js_textbook.onehot", "textbook JS, near one-hot rows", jst_onehot,
     "Textbook JS at near one-hot rows: backward matches finite differences"},
    {"gradcheck", "consistency.mse", "R-Drop regression MSE between two outputs vs FD", mse_mod,
     "R-Drop regression MSE between passes: backward matches finite differences"},
    {"gradcheck", "consistency.mse.large", "MSE with outputs near 700 (sum reduction)", mse_large,
     "MSE at outputs near 700: backward matches finite differences"},
    {"property", "consistency.kl_bidir.symmetric", "kl_bidir(z1,z2) == kl_bidir(z2,z1) bit for bit, incl. ±700",
     sym_klb,
     "Bidirectional KL is symmetric, bit for bit"},
    {"property", "consistency.js_mixture.symmetric", "js_mixture symmetric bit for bit, incl. ±700", sym_jsm,
     "Mixture JS is symmetric, bit for bit"},
    {"property", "consistency.js_textbook.symmetric", "js_textbook symmetric bit for bit, incl. ±700", sym_jst,
     "Textbook JS is symmetric, bit for bit"},
    {"property", "consistency.mse.symmetric", "mse symmetric bit for bit", sym_mse,
     "MSE between passes is symmetric, bit for bit"},
    {"property", "consistency.js_eq12.asymmetric", "js_eq12 = KL(P1||Pbar) differs from KL(Pbar||P1) (closed forms)",
     prop_eq12_asymmetric,
     "The Eq. 12 loss is not symmetric"},
    {"property", "consistency.kl_bidir.zero_iff_equal",
     "kl_bidir is 0 for equal distributions (incl. shifted logits) and > 0 otherwise", zero_klb,
     "Bidirectional KL is zero exactly for equal distributions"},
    {"property", "consistency.js_eq12.zero_iff_equal", "js_eq12 0 iff equal distributions, > 0 otherwise", zero_jse,
     "The Eq. 12 loss is zero exactly for equal distributions"},
    {"property", "consistency.js_mixture.zero_iff_equal", "js_mixture 0 iff equal distributions, > 0 otherwise",
     zero_jsm,
     "Mixture JS is zero exactly for equal distributions"},
    {"property", "consistency.js_textbook.zero_iff_equal", "js_textbook 0 iff equal distributions, > 0 otherwise",
     zero_jst,
     "Textbook JS is zero exactly for equal distributions"},
    {"property", "consistency.mse.zero_iff_equal", "mse 0 iff equal outputs (a shift is not equal: C·s²)", zero_mse,
     "MSE is zero exactly for equal outputs"},
    {"property", "consistency.js_textbook.bounded", "textbook JS <= ln 2 at every pair incl. ±700; = ln 2 when disjoint",
     prop_textbook_bounded,
     "Textbook JS never exceeds ln 2"},
    {"property", "consistency.unbounded", "kl_bidir, js_eq12, js_mixture exceed ln 2 and grow linearly with the gap",
     prop_unbounded,
     "KL, the Eq. 12 loss and mixture JS are unbounded: they grow with the logit gap"},
};

const hk_check *hk_checks_consistency(size_t *n)
{
    *n = sizeof checks / sizeof checks[0];
    return checks;
}
