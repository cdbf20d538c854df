/* hkref — softmax / log-softmax / linear: properties, edge policies, errors.
 * (Their finite-difference checks are registered in tools/chk_softmax.c and
 * run by the "checks" suite.) */
#include "hk_test.h"

#include "../ref/linear.h"
#include "../ref/softmax.h"

START_TEST(softmax_rows_sum_to_one_and_match_direct_formula)
{
    /* Direct formula exp(x)/sum exp(x) is safe for these small logits. */
    double x[6] = {0.3, -1.2, 2.385, -0.75, 0.0, 1.5};
    double y[6], ref[6];
    hk_assert_ok(hk_softmax_forward(y, x, 2, 3));
    for (int n = 0; n < 2; n++) {
        double s = 0;
        for (int c = 0; c < 3; c++) s += exp(x[n * 3 + c]);
        for (int c = 0; c < 3; c++) ref[n * 3 + c] = exp(x[n * 3 + c]) / s;
    }
    /* 3-term sums and one division: a few ulps of 1. */
    hk_assert_close(y, ref, 6, "softmax", 0.0, 8 * DBL_EPSILON);
}
END_TEST

START_TEST(softmax_shift_invariant_for_huge_logits)
{
    double x[3] = {1000.5, 1001.25, 999.0}, xs[3] = {1.5, 2.25, 0.0}, y[3], ys[3];
    hk_assert_ok(hk_softmax_forward(y, x, 1, 3));
    hk_assert_ok(hk_softmax_forward(ys, xs, 1, 3));
    for (int i = 0; i < 3; i++) ck_assert(isfinite(y[i]));
    /* Subtracting the max makes both evaluate exp on (nearly) the same numbers. */
    hk_assert_close(y, ys, 3, "softmax shift", 0.0, 64 * DBL_EPSILON);
}
END_TEST

START_TEST(softmax_neg_inf_gets_exact_zero)
{
    double x[4] = {0.7, -INFINITY, -0.2, -INFINITY}, y[4];
    hk_assert_ok(hk_softmax_forward(y, x, 1, 4));
    ck_assert(y[1] == 0.0 && y[3] == 0.0);
    ck_assert_double_eq_tol(y[0] + y[2], 1.0, 4 * DBL_EPSILON);
    double ly[4];
    hk_assert_ok(hk_logsoftmax_forward(ly, x, 1, 4));
    ck_assert(ly[1] == -INFINITY && ly[3] == -INFINITY);
    double dx[4] = {0}, dy[4] = {1.0, 5.0, -2.0, 7.0};
    hk_assert_ok(hk_logsoftmax_backward(dx, dy, ly, 1, 4));
    ck_assert(dx[1] == 0.0 && dx[3] == 0.0 && isfinite(dx[0]) && isfinite(dx[2]));
}
END_TEST

START_TEST(softmax_rejects_all_masked_row_nan_and_pos_inf)
{
    double y[3];
    double allmasked[3] = {-INFINITY, -INFINITY, -INFINITY};
    hk_assert_fails(hk_softmax_forward(y, allmasked, 1, 3), HK_EDOM, "no finite logit");
    double withnan[3] = {0.1, NAN, 0.2};
    hk_assert_fails(hk_softmax_forward(y, withnan, 1, 3), HK_ENAN, "col 1");
    double withinf[3] = {0.1, INFINITY, 0.2};
    hk_assert_fails(hk_logsoftmax_forward(y, withinf, 1, 3), HK_ENAN, "col 1");
    hk_assert_fails(hk_softmax_forward(y, withinf, 0, 3), HK_EINVAL, "N=0");
    hk_assert_fails(hk_softmax_forward(NULL, withinf, 1, 3), HK_EINVAL, "NULL");
}
END_TEST

START_TEST(logsoftmax_equals_log_of_softmax)
{
    double x[5] = {-3.1, 0.2, 4.7, 1.1, -0.4}, y[5], ly[5], ref[5];
    hk_assert_ok(hk_softmax_forward(y, x, 1, 5));
    hk_assert_ok(hk_logsoftmax_forward(ly, x, 1, 5));
    for (int i = 0; i < 5; i++) ref[i] = log(y[i]);
    /* log of a value with a few ulps relative error: a few ulps absolute on O(1) logs. */
    hk_assert_close(ly, ref, 5, "logsoftmax", 16 * DBL_EPSILON, 16 * DBL_EPSILON);
}
END_TEST

START_TEST(linear_matches_hand_computation)
{
    /* inp (1,2) = [2, -1]; w (2,2) = [[0.5, 1.5], [-2, 0.25]]; bias [0.125, 1]
     * out = [2*0.5 - 1.5 + 0.125, -4 - 0.25 + 1] = [-0.375, -3.25] (exact in binary). */
    double x[2] = {2, -1}, w[4] = {0.5, 1.5, -2, 0.25}, b[2] = {0.125, 1}, y[2];
    hk_assert_ok(hk_linear_forward(y, x, w, b, 1, 2, 2));
    ck_assert(y[0] == -0.375 && y[1] == -3.25);
    hk_assert_fails(hk_linear_forward(y, x, w, b, 1, 0, 2), HK_EINVAL, "IN=0");
}
END_TEST

Suite *suite_softmax(void)
{
    Suite *s = suite_create("softmax");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, softmax_rows_sum_to_one_and_match_direct_formula);
    tcase_add_test(core, softmax_shift_invariant_for_huge_logits);
    tcase_add_test(core, logsoftmax_equals_log_of_softmax);
    tcase_add_test(core, linear_matches_hand_computation);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, softmax_neg_inf_gets_exact_zero);
    tcase_add_test(lim, softmax_rejects_all_masked_row_nan_and_pos_inf);
    suite_add_tcase(s, lim);
    return s;
}
