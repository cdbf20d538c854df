/* hkref — cross-entropy: hand-computed loss and gradient, mean reduction,
 * shift invariance and +-700 logits, gradient rows summing to 0, errors.
 * (Finite-difference checks: tools/checks/chk_crossentropy.c, crossentropy and
 * crossentropy.extreme.) */
#include "hk_test.h"

#include "ref/crossentropy.h"
#include "ref/rng.h"

START_TEST(crossentropy_hand_computed)
{
    /* Row 0: logits [1, 2, 3], label 2: loss log(e + e^2 + e^3) - 3 = log(1 + e^-1 + e^-2);
     * row 1: [0.5, 0.5, 0.5], label 0: log 3.  Mean over N = 2, by mpmath (40 digits):
     * (0.40760596444438030448 + 1.0986122886681096914) / 2 = 0.75310912655624499794. */
    double x[6] = {1, 2, 3, 0.5, 0.5, 0.5}, logp[6], loss;
    int64_t labels[2] = {2, 0};
    hk_assert_ok(hk_crossentropy_forward(&loss, logp, x, labels, 2, 3));
    /* exp/log of O(1) values over 3-term sums: a few ulps of O(1). */
    ck_assert_double_eq_tol(loss, 0.75310912655624499794, 8 * DBL_EPSILON);
    /* dlogits = dloss/N (softmax - onehot); softmax([1,2,3]) by mpmath. */
    double d[6] = {0};
    hk_assert_ok(hk_crossentropy_backward(d, 2.0, logp, labels, 2, 3));
    double ref[6] = {0.090030573170380457998, 0.24472847105479765247, 0.66524095577482188953 - 1.0,
                     1.0 / 3.0 - 1.0, 1.0 / 3.0, 1.0 / 3.0};
    hk_assert_close(d, ref, 6, "crossentropy dlogits", 8 * DBL_EPSILON, 8 * DBL_EPSILON);
}
END_TEST

START_TEST(crossentropy_is_the_mean_over_rows)
{
    /* The loss of the batch is the mean of the single-row losses (not the sum). */
    enum { N = 5, C = 7 };
    double x[N * C], logp[N * C], loss, one, lp1[C], s = 0;
    int64_t labels[N] = {0, 6, 3, 3, 1};
    gsl_rng *r = hk_rng_new(71);
    hk_assert_ok(hk_rng_fill_uniform(x, N * C, -4.0, 4.0, r));
    hk_rng_free(r);
    hk_assert_ok(hk_crossentropy_forward(&loss, logp, x, labels, N, C));
    for (int n = 0; n < N; n++) {
        hk_assert_ok(hk_crossentropy_forward(&one, lp1, x + n * C, labels + n, 1, C));
        s += one;
    }
    /* Same per-row values, summed in the same order, then one division. */
    ck_assert_double_eq_tol(loss, s / N, 4 * DBL_EPSILON * loss);
}
END_TEST

START_TEST(crossentropy_extreme_logits_stay_finite)
{
    /* Row 0: [700, -700, 0], label 1: loss = 1400 + log(1 + e^-700 + e^-1400) = 1400 in double
     * (e^-700 ~ 1e-304 is below half an ulp of 1).  Row 1: the same shifted by -700. */
    double x[6] = {700, -700, 0, 0, -1400, -700}, logp[6], loss;
    int64_t labels[2] = {1, 1};
    hk_assert_ok(hk_crossentropy_forward(&loss, logp, x, labels, 1, 3));
    ck_assert_msg(loss == 1400.0, "loss %.17g", loss);
    hk_assert_ok(hk_crossentropy_forward(&loss, logp, x, labels, 2, 3));
    ck_assert_msg(loss == 1400.0, "shifted row: mean loss %.17g", loss);
    double d[6] = {0};
    hk_assert_ok(hk_crossentropy_backward(d, 1.0, logp, labels, 2, 3));
    /* softmax = [1, e^-1400 = 0, e^-700]: gradient [1, -1, ~1e-304] / 2. */
    for (int n = 0; n < 2; n++) {
        ck_assert(d[n * 3 + 0] == 0.5 && d[n * 3 + 1] == -0.5);
        ck_assert(isfinite(d[n * 3 + 2]) && d[n * 3 + 2] >= 0 && d[n * 3 + 2] < 1e-300);
    }
}
END_TEST

START_TEST(crossentropy_gradient_rows_sum_to_zero)
{
    enum { N = 3, C = 9 };
    double x[N * C], logp[N * C], loss, d[N * C] = {0};
    int64_t labels[N] = {8, 0, 4};
    gsl_rng *r = hk_rng_new(72);
    hk_assert_ok(hk_rng_fill_uniform(x, N * C, -5.0, 5.0, r));
    hk_rng_free(r);
    hk_assert_ok(hk_crossentropy_forward(&loss, logp, x, labels, N, C));
    hk_assert_ok(hk_crossentropy_backward(d, 3.0, logp, labels, N, C));
    for (int n = 0; n < N; n++) {
        double s = 0;
        for (int c = 0; c < C; c++) s += d[n * C + c];
        /* sum softmax = 1 up to C eps (exp of C rounded log-probs, C-term sum);
         * times |dloss|/N = 1, plus the test's C-term sum. */
        ck_assert_msg(fabs(s) <= 4 * C * DBL_EPSILON, "row %d: sum of dlogits %.3g", n, s);
    }
}
END_TEST

START_TEST(crossentropy_rejects_bad_arguments)
{
    double x[6] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6}, logp[6], loss, d[6] = {0};
    int64_t bad_hi[2] = {0, 3}, bad_lo[2] = {-1, 0}, ok[2] = {0, 2};
    hk_assert_fails(hk_crossentropy_forward(&loss, logp, x, bad_hi, 2, 3), HK_EDOM, "label of row 1 is 3");
    hk_assert_fails(hk_crossentropy_forward(&loss, logp, x, bad_lo, 2, 3), HK_EDOM, "label of row 0 is -1");
    hk_assert_fails(hk_crossentropy_backward(d, 1.0, logp, bad_hi, 2, 3), HK_EDOM, "row 1");
    hk_assert_fails(hk_crossentropy_forward(&loss, logp, x, NULL, 2, 3), HK_EINVAL, "'labels'");
    hk_assert_fails(hk_crossentropy_forward(&loss, logp, x, ok, 0, 3), HK_EINVAL, "N=0");
    hk_assert_ok(hk_crossentropy_forward(&loss, logp, x, ok, 2, 3));
    hk_assert_fails(hk_crossentropy_backward(d, NAN, logp, ok, 2, 3), HK_ENAN, "dloss");
    x[4] = NAN;
    hk_assert_fails(hk_crossentropy_forward(&loss, logp, x, ok, 2, 3), HK_ENAN, "row 1 col 1");
    /* -inf is allowed on other classes (weight 0), not on the label's. */
    x[4] = -INFINITY;
    hk_assert_ok(hk_crossentropy_forward(&loss, logp, x, ok, 2, 3));
    ck_assert(isfinite(loss));
    x[5] = -INFINITY;
    hk_assert_fails(hk_crossentropy_forward(&loss, logp, x, ok, 2, 3), HK_EDOM, "row 1: the label's logit");
}
END_TEST

Suite *suite_crossentropy(void)
{
    Suite *s = suite_create("crossentropy");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, crossentropy_hand_computed);
    tcase_add_test(core, crossentropy_is_the_mean_over_rows);
    tcase_add_test(core, crossentropy_gradient_rows_sum_to_zero);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, crossentropy_extreme_logits_stay_finite);
    tcase_add_test(lim, crossentropy_rejects_bad_arguments);
    suite_add_tcase(s, lim);
    return s;
}
