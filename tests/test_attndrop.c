/* hkref — attention dropout: masks, DropKey, DropAttention — policies, edge
 * cases, errors.  (The four theorems over 1,000 random cases and every
 * finite-difference check are registered in tools/checks/chk_attndrop.c and run by
 * the "checks" suite.) */
#include "hk_test.h"

#include "ref/attnmask.h"
#include "ref/dropattention.h"
#include "ref/dropkey.h"
#include "ref/rng.h"
#include "ref/softmax.h"

#include <stdint.h>

enum { B = 2, NH = 2, T = 5, N = B * NH * T * T };
/* b = 0 pads its last key, b = 1 its first two. */
static const uint8_t PAD[B * T] = {0, 0, 0, 0, 1, 1, 1, 0, 0, 0};

static void logits(double *g, const uint8_t *pad, unsigned long seed)
{
    gsl_rng *r = hk_rng_new(seed);
    hk_rng_fill_uniform(g, N, -2.385, 2.385, r);
    hk_rng_free(r);
    for (long j = 0; j < N; j++)
        if (pad && pad[(j / (NH * T * T)) * T + j % T]) g[j] = -INFINITY;
}

static const hk_pattern patterns[3] = {HK_PATTERN_ELEMENT, HK_PATTERN_COLUMN, HK_PATTERN_SPAN};

/* p = 0: all-zero mask without drawing (r = NULL), every method the identity bit for bit. */
START_TEST(p0_is_identity_bit_for_bit)
{
    uint8_t mask[N];
    double g[N], w[N], out[N], d[N], din[N];
    hk_assert_ok(hk_attnmask_sample(mask, patterns[_i], 0.0, PAD, B, NH, T, T, NULL));
    for (long j = 0; j < N; j++) ck_assert_int_eq(mask[j], 0);
    logits(g, PAD, 7);
    hk_assert_ok(hk_softmax_forward(w, g, B * NH * T, T));
    for (int form = 0; form < 2; form++) {
        hk_dropkey_config kc = {mask, PAD, (hk_dropkey_form)form, HK_ALLMASK_KEEP};
        hk_assert_ok(hk_dropkey_logits_forward(out, g, &kc, B, NH, T, T));
        ck_assert(memcmp(out, g, sizeof g) == 0);
        hk_assert_ok(hk_dropkey_forward(out, g, &kc, B, NH, T, T));
        ck_assert(memcmp(out, w, sizeof w) == 0);
    }
    for (long j = 0; j < N; j++) d[j] = cos(0.37 * (double)j);
    for (int v = 0; v < 3; v++) {
        hk_dropattn_config ac = {mask, PAD, (hk_dropattn_variant)v, 0.0, HK_ALLMASK_KEEP};
        hk_assert_ok(hk_dropattn_forward(out, w, &ac, B, NH, T, T));
        ck_assert_msg(memcmp(out, w, sizeof w) == 0, "variant %s not identity", hk_dropattn_variant_name(ac.variant));
        memset(din, 0, sizeof din);
        hk_assert_ok(hk_dropattn_backward(din, d, w, out, &ac, B, NH, T, T));
        for (long j = 0; j < N; j++) {
            int padded = PAD[(j / (NH * T * T)) * T + j % T];
            /* classic gives padded keys no gradient; NORM* rows are copied. */
            ck_assert(din[j] == (padded && v == 0 ? 0.0 : d[j]));
        }
    }
}
END_TEST

/* Padded keys are never dropped in the mask (so never counted toward p);
 * column and span rows repeat for every query; span is one contiguous run. */
START_TEST(mask_structure)
{
    uint8_t mask[N];
    gsl_rng *r = hk_rng_new(3);
    for (int rep = 0; rep < 200; rep++) {
        hk_assert_ok(hk_attnmask_sample(mask, patterns[_i], 0.45, PAD, B, NH, T, T, r));
        for (long b = 0; b < B; b++)
            for (long h = 0; h < NH; h++) {
                const uint8_t *m = mask + (b * NH + h) * T * T;
                for (long q = 0; q < T; q++)
                    for (long k = 0; k < T; k++) {
                        if (PAD[b * T + k]) ck_assert_int_eq(m[q * T + k], 0);
                        if (patterns[_i] != HK_PATTERN_ELEMENT) ck_assert_int_eq(m[q * T + k], m[k]);
                    }
                if (patterns[_i] == HK_PATTERN_SPAN) {
                    long runs = 0, len = 0;
                    for (long k = 0; k < T; k++) {
                        len += m[k];
                        if (m[k] && (k == 0 || !m[k - 1] || PAD[b * T + k - 1])) runs++;
                    }
                    ck_assert_int_le(runs, 1);
                    long n = 0;
                    for (long k = 0; k < T; k++) n += !PAD[b * T + k];
                    double pn = 0.45 * (double)n; /* L is floor(pn) or floor(pn) + 1 */
                    ck_assert(len == (long)floor(pn) || len == (long)floor(pn) + 1);
                }
            }
    }
    hk_rng_free(r);
}
END_TEST

/* The rate among non-padded keys is p: mean dropped fraction within 5 sigma
 * of p (binomial for element; for column and span the per-row units are
 * fewer, so the sigma uses the number of independent draws). */
START_TEST(mask_rate_is_p_among_real_keys)
{
    enum { REPS = 400 };
    uint8_t mask[N];
    const double p = 0.3;
    gsl_rng *r = hk_rng_new(5);
    double dropped = 0, real = 0;
    for (int rep = 0; rep < REPS; rep++) {
        hk_assert_ok(hk_attnmask_sample(mask, patterns[_i], p, PAD, B, NH, T, T, r));
        for (long j = 0; j < N; j++) {
            if (PAD[(j / (NH * T * T)) * T + j % T]) continue;
            real++;
            dropped += mask[j];
        }
    }
    hk_rng_free(r);
    /* independent units: element = every real entry; column = real keys per (b,h);
     * span = one length per (b,h) of n <= 4 keys, var(L) <= n^2/4 -> per-key var <= 1/4. */
    double units = patterns[_i] == HK_PATTERN_ELEMENT ? real : real / T;
    double sigma = sqrt(0.25 / units);
    ck_assert_msg(fabs(dropped / real - p) < 5 * sigma, "%s: rate %.4f vs p %.2f (5 sigma %.4f)",
                  hk_pattern_name(patterns[_i]), dropped / real, p, 5 * sigma);
}
END_TEST

/* Hand-computed, with p chosen so that classic and normalized differ
 * (1/(1-p) = 4/3, 1/Z = 10/7):
 *   g = [0, ln 2, ln 3, ln 4], key 2 dropped, p = 0.25.
 *   softmax: w = [1, 2, 3, 4] / 10;  kept K = {0, 1, 3}, Z = (1+2+4)/10 = 7/10.
 *   DropKey (softmax over K):       w' = [1/7, 2/7, 0, 4/7]
 *   DropAttention normalized (w/Z): w' = [1/7, 2/7, 0, 4/7]   (norm and norm_nograd)
 *   DropAttention classic (w/(1-p)): w' = [2/15, 4/15, 0, 8/15] (sums to 14/15, not 1)
 * Backward with dw' = [1, -2, 5, 3]:
 *   classic     dw_j = [j in K] dw'_j * 4/3          = [4/3, -8/3, 0, 4]
 *   norm_nograd dw_j = [j in K] dw'_j * 10/7         = [10/7, -20/7, 0, 30/7]
 *   norm        dw_j = [j in K] (dw'_j - s) * 10/7,  s = sum_u dw'_u w'_u = (1 - 4 + 12)/7 = 9/7
 *                                                    = [-20/49, -230/49, 0, 120/49]
 * So each variant's forward or backward differs from the others' by far more
 * than rounding (p = 0.5 would make 1-p = Z here and hide classic vs norm). */
START_TEST(hand_computed_row)
{
    const double g[4] = {0.0, log(2.0), log(3.0), log(4.0)}, d[4] = {1, -2, 5, 3};
    double w[4], wk[4], wa[4];
    uint8_t m[4] = {0, 0, 1, 0};
    const double norm[4] = {1.0 / 7, 2.0 / 7, 0.0, 4.0 / 7}, classic[4] = {2.0 / 15, 4.0 / 15, 0.0, 8.0 / 15};
    const double dref[3][4] = {{4.0 / 3, -8.0 / 3, 0.0, 4.0},                  /* classic */
                               {10.0 / 7, -20.0 / 7, 0.0, 30.0 / 7},           /* norm_nograd */
                               {-20.0 / 49, -230.0 / 49, 0.0, 120.0 / 49}};    /* norm */
    hk_dropkey_config kc = {m, NULL, HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP};
    hk_assert_ok(hk_dropkey_forward(wk, g, &kc, 1, 1, 1, 4));
    /* ln 2, ln 3, ln 4 rounded, exp, 3-term sum, division: a few ulps. */
    hk_assert_close(wk, norm, 4, "dropkey hand", 0.0, 8 * DBL_EPSILON);
    ck_assert(wk[2] == 0.0);
    hk_assert_ok(hk_softmax_forward(w, g, 1, 4));
    for (int v = 0; v < 3; v++) {
        hk_dropattn_config ac = {m, NULL, (hk_dropattn_variant)v, 0.25, HK_ALLMASK_KEEP};
        hk_assert_ok(hk_dropattn_forward(wa, w, &ac, 1, 1, 1, 4));
        /* softmax's few ulps, then Z (3-term sum) and one division */
        hk_assert_close(wa, v == HK_DROPATTN_CLASSIC ? classic : norm, 4, hk_dropattn_variant_name(ac.variant), 0.0,
                        16 * DBL_EPSILON);
        ck_assert(wa[2] == 0.0);
        double din[4] = {0};
        hk_assert_ok(hk_dropattn_backward(din, d, w, wa, &ac, 1, 1, 1, 4));
        /* norm: s is a 4-term dot product and d_j - s cancels by at most 9/2 (j = 0): 64 ulps */
        hk_assert_close(din, dref[v], 4, hk_dropattn_variant_name(ac.variant), 0.0, 64 * DBL_EPSILON);
        ck_assert(din[2] == 0.0);
    }
}
END_TEST

/* All-masked rows: each policy, DropKey and DropAttention agree. */
START_TEST(allmasked_policies_agree)
{
    uint8_t mask[N] = {0};
    double g[N], w[N], wk[N], wa[N];
    logits(g, PAD, 11);
    hk_assert_ok(hk_softmax_forward(w, g, B * NH * T, T));
    memset(mask + 2 * T, 1, T);          /* (b=0,h=0,q=2): every key dropped */
    memset(mask + (3 * T + 1) * T, 1, T); /* (b=1,h=1,q=1) */
    mask[T + 1] = 1;                      /* an ordinary row with one drop */
    hk_allmask_policy pol = (hk_allmask_policy)_i;
    hk_dropkey_config kc = {mask, PAD, HK_DROPKEY_NEGINF, pol};
    hk_dropattn_config ac = {mask, PAD, HK_DROPATTN_NORM, 0.3, pol};
    if (pol == HK_ALLMASK_ERROR) {
        hk_assert_fails(hk_dropkey_forward(wk, g, &kc, B, NH, T, T), HK_EDOM, "b=0, h=0, q=2");
        hk_assert_fails(hk_dropattn_forward(wa, w, &ac, B, NH, T, T), HK_EDOM, "b=0, h=0, q=2");
        ac.variant = HK_DROPATTN_CLASSIC;
        hk_assert_fails(hk_dropattn_forward(wa, w, &ac, B, NH, T, T), HK_EDOM, "drops every non-padded key");
        return;
    }
    hk_assert_ok(hk_dropkey_forward(wk, g, &kc, B, NH, T, T));
    for (int v = 0; v < 3; v++) {
        ac.variant = (hk_dropattn_variant)v;
        hk_assert_ok(hk_dropattn_forward(wa, w, &ac, B, NH, T, T));
        const long rows[2] = {2, 3 * T + 1};
        for (int k = 0; k < 2; k++) {
            const double *a = wk + rows[k] * T, *b = wa + rows[k] * T, *w0 = w + rows[k] * T;
            for (long j = 0; j < T; j++) {
                double want = pol == HK_ALLMASK_KEEP ? w0[j] : 0.0;
                ck_assert_msg(a[j] == want && b[j] == want, "policy %s variant %d row %ld key %ld: %g %g want %g",
                              hk_allmask_name(pol), v, rows[k], j, a[j], b[j], want);
            }
        }
    }
}
END_TEST

START_TEST(bad_rates_and_arguments)
{
    uint8_t mask[N] = {0};
    double g[N], w[N];
    logits(g, NULL, 13);
    gsl_rng *r = hk_rng_new(1);
    const double bad[4] = {-0.1, 1.0, 1.5, NAN};
    for (int i = 0; i < 4; i++) {
        hk_assert_fails(hk_attnmask_sample(mask, HK_PATTERN_ELEMENT, bad[i], NULL, B, NH, T, T, r), HK_EDOM, "p");
        hk_dropattn_config ac = {mask, NULL, HK_DROPATTN_CLASSIC, bad[i], HK_ALLMASK_KEEP};
        hk_assert_fails(hk_dropattn_forward(w, g, &ac, B, NH, T, T), HK_EDOM, "rate p");
    }
    hk_assert_fails(hk_attnmask_sample(mask, (hk_pattern)7, 0.1, NULL, B, NH, T, T, r), HK_EINVAL, "pattern");
    hk_assert_fails(hk_attnmask_sample(mask, HK_PATTERN_SPAN, 0.1, NULL, B, NH, 0, T, r), HK_EINVAL, "Tq=0");
    hk_assert_fails(hk_attnmask_sample(mask, HK_PATTERN_SPAN, 0.1, NULL, B, NH, T, T, NULL), HK_EINVAL, "'r'");
    const uint8_t allpad[B * T] = {1, 1, 1, 1, 1, 0, 0, 0, 0, 0};
    hk_assert_fails(hk_attnmask_sample(mask, HK_PATTERN_COLUMN, 0.1, allpad, B, NH, T, T, r), HK_EDOM, "pad");
    hk_rng_free(r);
    hk_dropkey_config kc = {NULL, NULL, HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP};
    hk_assert_fails(hk_dropkey_forward(w, g, &kc, B, NH, T, T), HK_EINVAL, "'mask'");
    kc.mask = mask;
    kc.form = (hk_dropkey_form)5;
    hk_assert_fails(hk_dropkey_forward(w, g, &kc, B, NH, T, T), HK_EINVAL, "form");
    kc.form = HK_DROPKEY_NEGINF;
    kc.policy = (hk_allmask_policy)9;
    hk_assert_fails(hk_dropkey_forward(w, g, &kc, B, NH, T, T), HK_EINVAL, "policy");
    /* Padding contract: attention's -inf logit / 0 weight at padded keys. */
    kc = (hk_dropkey_config){mask, PAD, HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP};
    hk_assert_fails(hk_dropkey_forward(w, g, &kc, B, NH, T, T), HK_EDOM, "padded key");
    hk_dropattn_config ac = {mask, PAD, HK_DROPATTN_NORM, 0.2, HK_ALLMASK_KEEP};
    hk_assert_fails(hk_dropattn_forward(w, g, &ac, B, NH, T, T), HK_EDOM, "padded key");
    ac.variant = (hk_dropattn_variant)3;
    hk_assert_fails(hk_dropattn_forward(w, g, &ac, B, NH, T, T), HK_EINVAL, "variant");
}
END_TEST

/* Logit gap > ~745: the kept weights underflow to 0 in w, so normalized
 * DropAttention cannot recover them (HK_EDOM), while DropKey, which
 * renormalizes logits, gives the exact answer. */
START_TEST(kept_weights_underflow)
{
    double g[3] = {800.0, 0.0, 1.0}, w[3], wk[3], wa[3];
    uint8_t m[3] = {1, 0, 0};
    hk_dropkey_config kc = {m, NULL, HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP};
    hk_assert_ok(hk_dropkey_forward(wk, g, &kc, 1, 1, 1, 3));
    const double ref[3] = {0.0, 1.0 / (1.0 + exp(1.0)), exp(1.0) / (1.0 + exp(1.0))};
    hk_assert_close(wk, ref, 3, "dropkey after huge masked logit", 0.0, 8 * DBL_EPSILON);
    hk_assert_ok(hk_softmax_forward(w, g, 1, 3));
    ck_assert(w[1] == 0.0 && w[2] == 0.0);
    hk_dropattn_config ac = {m, NULL, HK_DROPATTN_NORM_NOGRAD, 0.5, HK_ALLMASK_KEEP};
    hk_assert_fails(hk_dropattn_forward(wa, w, &ac, 1, 1, 1, 3), HK_EDOM, "underflow");
}
END_TEST

/* The -1e12 form on an all-masked row under KEEP equals the exact-arithmetic
 * meaning of the paper's snippet (a common shift: softmax unchanged), and
 * the hooks adapter installs the zeroing weights hook only for policy ZERO. */
START_TEST(hooks_adapters)
{
    uint8_t mask[N] = {0};
    hk_attn_hooks h;
    hk_dropkey_config kc = {mask, NULL, HK_DROPKEY_FINITE, HK_ALLMASK_KEEP};
    hk_assert_ok(hk_dropkey_hooks(&h, &kc));
    ck_assert(h.logits_forward && h.logits_backward && !h.weights_forward && !h.weights_backward);
    kc.policy = HK_ALLMASK_ZERO;
    hk_assert_ok(hk_dropkey_hooks(&h, &kc));
    ck_assert(h.weights_forward && h.weights_backward);
    hk_dropattn_config ac = {mask, NULL, HK_DROPATTN_NORM, 0.1, HK_ALLMASK_KEEP};
    hk_assert_ok(hk_dropattn_hooks(&h, &ac));
    ck_assert(!h.logits_forward && h.weights_forward && h.weights_backward);
    hk_assert_fails(hk_dropattn_hooks(NULL, &ac), HK_EINVAL, "NULL");
    /* ZERO through the hooks: logits row left as is, then zeroed after softmax. */
    double g[N], w[N], wz[N];
    logits(g, NULL, 17);
    memset(mask + 4 * T, 1, T);
    hk_assert_ok(hk_dropkey_hooks(&h, &kc));
    hk_assert_ok(h.logits_forward(h.ctx, wz, g, B, NH, T));
    ck_assert(memcmp(wz + 4 * T, g + 4 * T, T * sizeof(double)) == 0);
    hk_assert_ok(hk_softmax_forward(w, wz, B * NH * T, T));
    hk_assert_ok(h.weights_forward(h.ctx, wz, w, B, NH, T));
    for (long j = 0; j < T; j++) ck_assert(wz[4 * T + j] == 0.0);
    ck_assert(memcmp(wz, w, 4 * T * sizeof(double)) == 0);
}
END_TEST

/* Errata (PAPER_NOTES.md): the notes' Eq. 7-10 and 13 use sum_{i != m} for
 * the kept keys, which is right for one masked key only.  Row g = [0.3, -0.2,
 * 1.1, 0.7], keys 2 and 3 dropped, u = 0: the measured Jacobians (library
 * backward, one-hot upstream) match the general forms with S_K and miss the
 * printed ones by far more than rounding; with only key 2 dropped the
 * printed forms are right. */
START_TEST(printed_single_key_forms_fail_for_two_masked_keys)
{
    const double g[4] = {0.3, -0.2, 1.1, 0.7};
    double e[4], S = 0;
    for (int i = 0; i < 4; i++) S += e[i] = exp(g[i]);
    for (int nm = 1; nm <= 2; nm++) {
        uint8_t m[4] = {0, 0, 1, (uint8_t)(nm == 2)};
        const double SK = e[0] + e[1] + (nm == 1 ? e[3] : 0.0), Sne = S - e[2]; /* general S_K; printed sum_{i != m}, m = 2 */
        double w[4], wk[4], wa[4], d[4] = {1, 0, 0, 0}, jdk[4] = {0}, jng[4] = {0}, dw[4] = {0};
        hk_dropkey_config kc = {m, NULL, HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP};
        hk_dropattn_config ac = {m, NULL, HK_DROPATTN_NORM_NOGRAD, 0.5, HK_ALLMASK_KEEP};
        hk_assert_ok(hk_dropkey_forward(wk, g, &kc, 1, 1, 1, 4));
        hk_assert_ok(hk_dropkey_backward(jdk, d, wk, &kc, 1, 1, 1, 4));
        hk_assert_ok(hk_softmax_forward(w, g, 1, 4));
        hk_assert_ok(hk_dropattn_forward(wa, w, &ac, 1, 1, 1, 4));
        hk_assert_ok(hk_dropattn_backward(dw, d, w, wa, &ac, 1, 1, 1, 4));
        hk_assert_ok(hk_softmax_backward(jng, dw, w, 1, 4));
        /* general forms (proofs §2-3) vs printed (S_K -> Sne) */
        const double gen[5] = {e[0] / SK, e[0] * (SK - e[0]) / (SK * SK), -e[0] * e[2] / (S * SK),
                               e[0] * (S - e[0]) / (S * SK), (1 - e[0] / SK) / (1 - e[0] / S)};
        const double prt[5] = {e[0] / Sne, e[0] * (Sne - e[0]) / (Sne * Sne), -e[0] * e[2] / (S * Sne),
                               e[0] * (S - e[0]) / (S * Sne), (1 - e[0] / Sne) / (1 - e[0] / S)};
        const double got[5] = {wk[0], jdk[0], jng[2], jng[0], jdk[0] / jng[0]};
        static const char *const what[5] = {"Eq. 13 w'_u", "Eq. 7", "Eq. 8", "Eq. 9", "Eq. 10 k"};
        for (int q = 0; q < 5; q++) {
            ck_assert_msg(fabs(got[q] - gen[q]) <= 64 * DBL_EPSILON * fabs(gen[q]), "%s general, |M|=%d: %.17g vs %.17g",
                          what[q], nm, got[q], gen[q]);
            if (nm == 1)
                ck_assert_msg(fabs(prt[q] - gen[q]) <= 64 * DBL_EPSILON * fabs(gen[q]), "%s printed, |M|=1", what[q]);
            else /* off by a factor involving e_3 / S_K ~ 0.7: far beyond rounding */
                ck_assert_msg(fabs(got[q] - prt[q]) > 0.05 * fabs(gen[q]), "%s printed should fail at |M|=2: %g vs %g",
                              what[q], got[q], prt[q]);
        }
    }
}
END_TEST

/* Erratum Eq. 6 / Eq. 13 line 1: dividing by sum_{i=0}^{l-1} w_i (= 1) gives
 * the undropped softmax, not DropKey's renormalized weight; dividing by the
 * kept sum does. */
START_TEST(printed_eq6_is_plain_softmax)
{
    const double g[3] = {0.0, log(2.0), log(3.0)};
    uint8_t m[3] = {0, 0, 1};
    double w[3], wk[3];
    hk_dropkey_config kc = {m, NULL, HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP};
    hk_assert_ok(hk_dropkey_forward(wk, g, &kc, 1, 1, 1, 3));
    hk_assert_ok(hk_softmax_forward(w, g, 1, 3));
    const double all = w[0] + w[1] + w[2], kept = w[0] + w[1];
    ck_assert(fabs(all - 1.0) <= 4 * DBL_EPSILON);
    ck_assert(fabs(w[0] / all - 1.0 / 6) <= 8 * DBL_EPSILON); /* printed: w_u = 1/6 */
    ck_assert(fabs(wk[0] - 1.0 / 3) <= 8 * DBL_EPSILON);      /* DropKey: 1/3 */
    ck_assert(fabs(w[0] / kept - wk[0]) <= 8 * DBL_EPSILON);  /* the kept-sum form */
}
END_TEST

Suite *suite_attndrop(void)
{
    Suite *s = suite_create("attndrop");
    TCase *core = tcase_create("Core");
    tcase_add_loop_test(core, p0_is_identity_bit_for_bit, 0, 3);
    tcase_add_loop_test(core, mask_structure, 0, 3);
    tcase_add_loop_test(core, mask_rate_is_p_among_real_keys, 0, 3);
    tcase_add_test(core, hand_computed_row);
    tcase_add_test(core, hooks_adapters);
    tcase_add_test(core, printed_single_key_forms_fail_for_two_masked_keys);
    tcase_add_test(core, printed_eq6_is_plain_softmax);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_loop_test(lim, allmasked_policies_agree, 0, 3);
    tcase_add_test(lim, bad_rates_and_arguments);
    tcase_add_test(lim, kept_weights_underflow);
    suite_add_tcase(s, lim);
    return s;
}
