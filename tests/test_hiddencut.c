/* hkref — HiddenCut / Cutoff / output dropout on (B,T,C): mask structure of
 * every pattern, the official span length and importance rule, p = 0 policy,
 * apply/backward by hand, the hook adapter, errors.  (FD checks in
 * tools/checks/chk_hiddencut.c.) */
#include "hk_test.h"

#include "ref/hiddencut.h"
#include "ref/rng.h"

#include <stdint.h>

enum { B = 3, T = 10, C = 4 };

START_TEST(column_mask_is_constant_over_tokens)
{
    uint8_t m[B * T * C];
    gsl_rng *r = hk_rng_new(5);
    hk_assert_ok(hk_hiddencut_mask_sample(m, HK_HC_COLUMN, 0.5, B, T, C, r));
    long dropped = 0;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            for (int t = 1; t < T; t++)
                ck_assert_msg(m[(b * T + t) * C + c] == m[(b * T) * C + c], "column mask varies over t at b=%d c=%d", b, c);
            dropped += m[(b * T) * C + c];
        }
    ck_assert(dropped > 0 && dropped < B * C); /* seed 5 at p=0.5: both kinds occur (a test with power) */
    hk_rng_free(r);
}
END_TEST

START_TEST(span_mask_is_one_contiguous_token_span_of_official_length)
{
    static const double ps[] = {0.05, 0.1, 0.25, 0.37, 0.9};
    gsl_rng *r = hk_rng_new(6);
    for (int i = 0; i < 5; i++) {
        uint8_t m[B * T * C];
        hk_assert_ok(hk_hiddencut_mask_sample(m, HK_HC_SPAN, ps[i], B, T, C, r));
        long L = (long)floor(ps[i] * T) < 1 ? 1 : (long)floor(ps[i] * T); /* 0, 1, 2, 3, 9 -> 1, 1, 2, 3, 9 */
        for (int b = 0; b < B; b++) {
            int first = -1, last = -1, count = 0;
            for (int t = 0; t < T; t++) {
                int row = m[(b * T + t) * C];
                for (int c = 1; c < C; c++) ck_assert(m[(b * T + t) * C + c] == row); /* all features of a token */
                if (row) {
                    if (first < 0) first = t;
                    last = t;
                    count++;
                }
            }
            ck_assert_msg(count == L && last - first + 1 == L, "p=%.2f b=%d: span [%d,%d] count %d, expected L=%ld",
                          ps[i], b, first, last, count, L);
        }
    }
    hk_rng_free(r);
}
END_TEST

START_TEST(element_rate_within_binomial_bound)
{
    enum { N = 20000 };
    static uint8_t m[N];
    gsl_rng *r = hk_rng_new(7);
    hk_assert_ok(hk_hiddencut_mask_sample(m, HK_HC_ELEMENT, 0.3, 1, N, 1, r));
    long k = 0;
    for (int i = 0; i < N; i++) k += m[i];
    /* 5 sigma of Binomial(N, 0.3): sqrt(N·0.21) ≈ 64.8 */
    ck_assert_msg(fabs(k - 0.3 * N) <= 5 * sqrt(N * 0.21), "dropped %ld of %d at p=0.3", k, N);
    hk_rng_free(r);
}
END_TEST

START_TEST(p_zero_draws_nothing_and_drops_nothing)
{
    gsl_rng *r = hk_rng_new(8), *r2 = hk_rng_new(8);
    uint8_t m[B * T * C];
    double imp[B * T] = {0};
    for (int pat = 0; pat < HK_HC_COUNT; pat++) {
        memset(m, 7, sizeof m);
        hk_assert_ok(hk_hiddencut_mask_sample(m, (hk_hc_pattern)pat, 0.0, B, T, C, r));
        for (int i = 0; i < B * T * C; i++) ck_assert(m[i] == 0);
    }
    hk_assert_ok(hk_hiddencut_mask_sample_importance(m, imp, 0.0, 0.4, B, T, C, r));
    for (int i = 0; i < B * T * C; i++) ck_assert(m[i] == 0);
    ck_assert(gsl_rng_get(r) == gsl_rng_get(r2)); /* same stream position: nothing consumed */
    hk_rng_free(r);
    hk_rng_free(r2);
}
END_TEST

START_TEST(importance_span_starts_at_a_top_k_token_and_truncates)
{
    /* T = 10, top_frac 0.4 -> k = 4 most important tokens {9, 2, 5, 7};
     * p = 0.3 -> L = 3; a start at 9 is truncated to one token. */
    double imp[T] = {0.1, 0.2, 3.0, 0.3, 0.05, 2.5, 0.4, 2.0, 0.0, 4.0};
    const int top[4] = {9, 2, 5, 7};
    int seen[T] = {0};
    gsl_rng *r = hk_rng_new(9);
    for (int trial = 0; trial < 200; trial++) {
        uint8_t m[T * 2];
        hk_assert_ok(hk_hiddencut_mask_sample_importance(m, imp, 0.3, 0.4, 1, T, 2, r));
        int first = -1, count = 0;
        for (int t = 0; t < T; t++)
            if (m[t * 2]) {
                if (first < 0) first = t;
                count++;
            }
        int ok = 0;
        for (int j = 0; j < 4; j++) ok |= first == top[j];
        ck_assert_msg(ok, "span starts at %d, not a top-4 token", first);
        ck_assert_int_eq(count, first == 9 ? 1 : 3);
        seen[first] = 1;
    }
    for (int j = 0; j < 4; j++) ck_assert_msg(seen[top[j]], "top token %d never chosen in 200 draws", top[j]);
    hk_rng_free(r);
}
END_TEST

START_TEST(importance_is_attention_received_over_queries_and_heads)
{
    /* B=1, NH=2, T=2: att[h][q][k]; importance[k] = Σ_h Σ_q att / NH */
    const double att[8] = {0.25, 0.75, 0.5, 0.5, 1.0, 0.0, 0.125, 0.875};
    double imp[2];
    hk_assert_ok(hk_hiddencut_importance(imp, att, 1, 2, 2));
    ck_assert(imp[0] == (0.25 + 0.5 + 1.0 + 0.125) / 2 && imp[1] == (0.75 + 0.5 + 0.0 + 0.875) / 2);
}
END_TEST

START_TEST(apply_and_backward_by_hand_and_hook)
{
    const double x[4] = {1.5, -2.25, 3.0, 0.5}, dy[4] = {1.0, 2.0, -4.0, 8.0};
    const uint8_t m[4] = {0, 1, 0, 1};
    double y[4], dx[4] = {0.5, 0.5, 0.5, 0.5};
    hk_assert_ok(hk_hiddencut_forward(y, x, m, 1.25, 1, 2, 2));
    ck_assert(y[0] == 1.875 && y[1] == 0.0 && y[2] == 3.75 && y[3] == 0.0);
    hk_assert_ok(hk_hiddencut_backward(dx, dy, m, 1.25, 1, 2, 2));
    ck_assert(dx[0] == 1.75 && dx[1] == 0.5 && dx[2] == -4.5 && dx[3] == 0.5); /* accumulates */
    hk_hidden_hook h;
    hk_hiddencut_ctx ctx = {m, 1.25};
    hk_assert_ok(hk_hiddencut_hook(&h, &ctx));
    double y2[4];
    hk_assert_ok(h.forward(h.ctx, y2, x, 1, 2, 2));
    ck_assert(memcmp(y, y2, sizeof y) == 0);
}
END_TEST

START_TEST(errors_name_the_argument)
{
    uint8_t m[4];
    double x[4] = {0}, imp[2] = {0, NAN};
    gsl_rng *r = hk_rng_new(1);
    hk_assert_fails(hk_hiddencut_mask_sample(m, HK_HC_SPAN, 1.0, 1, 2, 2, r), HK_EDOM, "p must");
    hk_assert_fails(hk_hiddencut_mask_sample(m, HK_HC_COUNT, 0.1, 1, 2, 2, r), HK_EINVAL, "pattern");
    hk_assert_fails(hk_hiddencut_mask_sample(m, HK_HC_SPAN, 0.1, 1, 0, 2, r), HK_EINVAL, "T=0");
    hk_assert_fails(hk_hiddencut_mask_sample(m, HK_HC_SPAN, 0.1, 1, 2, 2, NULL), HK_EINVAL, "'r'");
    hk_assert_fails(hk_hiddencut_mask_sample_importance(m, imp, 0.1, 0.4, 1, 2, 2, r), HK_ENAN, "importance");
    hk_assert_fails(hk_hiddencut_mask_sample_importance(m, x, 0.1, 0.0, 1, 2, 2, r), HK_EDOM, "top_frac");
    hk_assert_fails(hk_hiddencut_forward(x, x, m, 0.0, 1, 2, 2), HK_EDOM, "scale");
    hk_assert_fails(hk_hiddencut_forward(x, x, NULL, 1.0, 1, 2, 2), HK_EINVAL, "mask");
    hk_rng_free(r);
}
END_TEST

Suite *suite_hiddencut(void)
{
    Suite *s = suite_create("hiddencut");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, column_mask_is_constant_over_tokens);
    tcase_add_test(core, span_mask_is_one_contiguous_token_span_of_official_length);
    tcase_add_test(core, element_rate_within_binomial_bound);
    tcase_add_test(core, importance_is_attention_received_over_queries_and_heads);
    tcase_add_test(core, apply_and_backward_by_hand_and_hook);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, p_zero_draws_nothing_and_drops_nothing);
    tcase_add_test(lim, importance_span_starts_at_a_top_k_token_and_truncates);
    tcase_add_test(lim, errors_name_the_argument);
    suite_add_tcase(s, lim);
    return s;
}
