/* hkref — bad input across the attention-dropout, hidden-state and linear ops:
 * NaN / +Inf inputs are rejected with HK_ENAN naming the element, and a call
 * that fails leaves its output untouched (docs/bad-input.md: no partial
 * output) — the failing row is the last one, so a row-by-row implementation
 * that writes before it validates would already have written the others.
 * The expected outputs here are the sentinel itself: nothing to derive. */
#include "hk_test.h"

#include "ref/dropattention.h"
#include "ref/dropkey.h"
#include "ref/dylora.h"
#include "ref/hiddencut.h"
#include "ref/linear.h"
#include "ref/lora.h"

#include <stdint.h>

enum { B = 1, NH = 1, T = 3, N = B * NH * T * T };
static const double SENT = 12345.0;

static void fill(double *x, long n, double v)
{
    for (long i = 0; i < n; i++) x[i] = v;
}

static void assert_untouched(const double *x, long n, const char *what)
{
    for (long i = 0; i < n; i++) ck_assert_msg(x[i] == SENT, "%s[%ld] = %g was written by a failing call", what, i, x[i]);
}

/* Logits of a 3x3 attention row block: row q = {0.1q, 0.2, -0.3}. */
static void logits(double *g)
{
    for (long q = 0; q < T; q++) {
        g[q * T + 0] = 0.1 * (double)q;
        g[q * T + 1] = 0.2;
        g[q * T + 2] = -0.3;
    }
}

/* NaN and +Inf logits, kept or dropped, in the last row: HK_ENAN naming row
 * and key; -inf at a kept key is allowed (a row still has a finite logit). */
START_TEST(dropkey_rejects_nan_and_pos_inf_logits_writing_nothing)
{
    const double bad[2] = {NAN, INFINITY};
    uint8_t mask[N] = {0};
    mask[8] = 1; /* row 2, key 2 dropped */
    for (int form = 0; form < 2; form++)
        for (int i = 0; i < 2; i++)
            for (long key = 1; key < 3; key++) { /* key 1 kept, key 2 dropped */
                double g[N], w[N];
                logits(g);
                g[2 * T + key] = bad[i];
                hk_dropkey_config kc = {mask, NULL, (hk_dropkey_form)form, HK_ALLMASK_KEEP};
                fill(w, N, SENT);
                hk_assert_fails(hk_dropkey_forward(w, g, &kc, B, NH, T, T), HK_ENAN, "row 2, key");
                assert_untouched(w, N, "dropkey w");
                fill(w, N, SENT);
                hk_assert_fails(hk_dropkey_logits_forward(w, g, &kc, B, NH, T, T), HK_ENAN, "g_in");
                assert_untouched(w, N, "dropkey logits");
            }
    double g[N], w[N];
    logits(g);
    g[0] = -INFINITY;
    hk_dropkey_config kc = {mask, NULL, HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP};
    hk_assert_ok(hk_dropkey_forward(w, g, &kc, B, NH, T, T));
    ck_assert(w[0] == 0.0);
    /* A row whose only kept logits are -inf has nothing for softmax to normalize. */
    g[6] = -INFINITY;
    g[7] = -INFINITY;
    fill(w, N, SENT);
    hk_assert_fails(hk_dropkey_forward(w, g, &kc, B, NH, T, T), HK_EDOM, "row 2");
    assert_untouched(w, N, "dropkey w");
}
END_TEST

/* Policy ERROR on an all-masked last row and -inf missing at a padded key of
 * the last row: the failure comes after two valid rows, which stay unwritten. */
START_TEST(dropkey_and_dropattention_fail_before_writing)
{
    double g[N], w[N], win[N];
    uint8_t mask[N] = {0};
    memset(mask + 2 * T, 1, T);
    logits(g);
    for (long j = 0; j < N; j++) win[j] = 1.0 / 3.0;
    hk_dropkey_config kc = {mask, NULL, HK_DROPKEY_NEGINF, HK_ALLMASK_ERROR};
    fill(w, N, SENT);
    hk_assert_fails(hk_dropkey_forward(w, g, &kc, B, NH, T, T), HK_EDOM, "q=2");
    assert_untouched(w, N, "dropkey w");
    for (int v = 0; v < 3; v++) {
        hk_dropattn_config ac = {mask, NULL, (hk_dropattn_variant)v, 0.25, HK_ALLMASK_ERROR};
        fill(w, N, SENT);
        hk_assert_fails(hk_dropattn_forward(w, win, &ac, B, NH, T, T), HK_EDOM, "q=2");
        assert_untouched(w, N, "dropattention w_out");
    }
    /* Normalized DropAttention whose kept weights sum to 0 in the last row. */
    memset(mask, 0, sizeof mask);
    mask[2 * T] = 1;
    win[2 * T + 1] = 0.0;
    win[2 * T + 2] = 0.0;
    hk_dropattn_config ac = {mask, NULL, HK_DROPATTN_NORM, 0.25, HK_ALLMASK_KEEP};
    fill(w, N, SENT);
    hk_assert_fails(hk_dropattn_forward(w, win, &ac, B, NH, T, T), HK_EDOM, "row 2");
    assert_untouched(w, N, "dropattention w_out");
}
END_TEST

/* NaN / ±Inf attention weights: HK_ENAN naming row and key, nothing written. */
START_TEST(dropattention_rejects_non_finite_weights)
{
    const double bad[3] = {NAN, INFINITY, -INFINITY};
    uint8_t mask[N] = {0};
    mask[1] = 1;
    for (int v = 0; v < 3; v++)
        for (int i = 0; i < 3; i++) {
            double win[N], w[N];
            for (long j = 0; j < N; j++) win[j] = 1.0 / 3.0;
            win[2 * T + 1] = bad[i];
            hk_dropattn_config ac = {mask, NULL, (hk_dropattn_variant)v, 0.25, HK_ALLMASK_KEEP};
            fill(w, N, SENT);
            hk_assert_fails(hk_dropattn_forward(w, win, &ac, B, NH, T, T), HK_ENAN, "row 2, key 1");
            assert_untouched(w, N, "dropattention w_out");
        }
}
END_TEST

/* HiddenCut: a NaN / Inf hidden state or attention probability is an error,
 * not a value to cut or propagate; nothing is written. */
START_TEST(hiddencut_rejects_non_finite_input)
{
    double h[6] = {1, 2, 3, 4, 5, 6}, out[6];
    uint8_t m[6] = {0, 1, 0, 0, 0, 0};
    const double bad[3] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++)
        for (long at = 0; at < 6; at += 5) {
            h[at] = bad[i];
            fill(out, 6, SENT);
            hk_assert_fails(hk_hiddencut_forward(out, h, m, 1.25, 1, 2, 3), HK_ENAN, "hiddencut input");
            assert_untouched(out, 6, "hiddencut out");
            h[at] = 1.0;
        }
    /* Even where the mask would drop it: a NaN is a bug upstream, not data. */
    h[1] = NAN;
    hk_assert_fails(hk_hiddencut_forward(out, h, m, 1.25, 1, 2, 3), HK_ENAN, "[1]");
    double att[8] = {0.5, 0.5, 0.5, 0.5, 0.5, NAN, 0.5, 0.5}, imp[4];
    fill(imp, 4, SENT);
    hk_assert_fails(hk_hiddencut_importance(imp, att, 2, 1, 2), HK_ENAN, "attention");
    assert_untouched(imp, 4, "importance");
}
END_TEST

/* The linear family (linear, LoRA, DyLoRA): a non-finite input, weight,
 * bias or read adapter entry is HK_ENAN naming it, y untouched; adapter
 * entries the call does not read (rows / columns >= rank b) may hold anything. */
START_TEST(linear_family_rejects_non_finite_operands)
{
    /* x (2,3), W0 (2,3), bias (2), A (2,3), B (2,2) */
    double x[6] = {1, 2, 3, 4, 5, 6}, W0[6] = {1, 0, 0, 0, 1, 0}, bias[2] = {0.5, -0.5};
    double A[6] = {1, 1, 1, 1, 1, 1}, Bm[4] = {1, 1, 1, 1}, y[4], xa[4];
    struct {
        double *arr;
        long i;
        const char *name;
    } cases[] = {{x, 4, "linear input[4]"}, {W0, 5, "linear weight[5]"}, {bias, 1, "linear bias[1]"},
                 {A, 0, "lora A[0]"}, {Bm, 2, "lora B[1,0]"}};
    const double bad[3] = {NAN, INFINITY, -INFINITY};
    for (int c = 0; c < 5; c++)
        for (int k = 0; k < 3; k++) {
            const double keep = cases[c].arr[cases[c].i];
            cases[c].arr[cases[c].i] = bad[k];
            fill(y, 4, SENT);
            if (c < 3) {
                hk_assert_fails(hk_linear_forward(y, x, W0, bias, 2, 3, 2), HK_ENAN, cases[c].name);
                assert_untouched(y, 4, "linear out");
            }
            fill(y, 4, SENT);
            hk_assert_fails(hk_lora_forward(y, xa, x, W0, bias, A, Bm, NULL, 0.0, &(hk_lora_dims){2, 3, 2, 2, 2, 1.0}),
                            HK_ENAN, cases[c].name);
            assert_untouched(y, 4, "lora y");
            cases[c].arr[cases[c].i] = keep;
        }
    /* DyLoRA at rank b = 1 reads row 0 of A and column 0 of B only. */
    hk_dylora_dims d = {3, 2, 1, 2, 2.0};
    A[3] = NAN;  /* row 1 */
    Bm[1] = NAN; /* column 1 */
    hk_assert_ok(hk_dylora_forward(y, xa, x, W0, bias, A, Bm, NULL, 0.0, 2, 1, &d));
    /* y = x W0^T + bias + (alpha/1) (x . A[0,:]) B[:,0]: rows (1,2,3), (4,5,6) */
    const double ref[4] = {1 + 0.5 + 2 * 6, 2 - 0.5 + 2 * 6, 4 + 0.5 + 2 * 15, 5 - 0.5 + 2 * 15};
    hk_assert_close(y, ref, 4, "dylora b=1", 0.0, 0.0);
    fill(y, 4, SENT);
    hk_assert_fails(hk_dylora_forward(y, xa, x, W0, bias, A, Bm, NULL, 0.0, 2, 2, &d), HK_ENAN, "lora A[3]");
    assert_untouched(y, 4, "dylora y");
}
END_TEST

Suite *suite_badinput(void)
{
    Suite *s = suite_create("badinput");
    TCase *tc = tcase_create("Core");
    tcase_add_test(tc, dropkey_rejects_nan_and_pos_inf_logits_writing_nothing);
    tcase_add_test(tc, dropkey_and_dropattention_fail_before_writing);
    tcase_add_test(tc, dropattention_rejects_non_finite_weights);
    tcase_add_test(tc, hiddencut_rejects_non_finite_input);
    tcase_add_test(tc, linear_family_rejects_non_finite_operands);
    suite_add_tcase(s, tc);
    return s;
}
