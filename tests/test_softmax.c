/* hkref — softmax / log-softmax / linear: properties, edge policies, errors.
 * (Their finite-difference checks are registered in tools/checks/chk_softmax.c and
 * run by the "checks" suite.) */
#include "hk_test.h"

#include "ref/linear.h"
#include "ref/softmax.h"

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

/* hk_softmax_logsumexp: the true max and log sum exp(x - max), at logits
 * where log(sum exp(x)) overflows; log-softmax is (x - m) - log_s bit for bit;
 * -inf entries contribute 0; the same errors as softmax. */
START_TEST(logsumexp_parts_at_huge_logits_and_errors)
{
    const double x[4] = {1000.5, -INFINITY, 999.25, 1000.5};
    double m = 0, ls = 0, y[4];
    hk_assert_ok(hk_softmax_logsumexp(&m, &ls, x, 4));
    ck_assert(m == 1000.5); /* the max itself, not a shifted value */
    /* log_s = log(2 + e^-1.25) = ln 2 + log1p(e^-1.25 / 2): a few ulps */
    const double want = M_LN2 + log1p(0.5 * exp(-1.25));
    ck_assert_msg(fabs(ls - want) <= 4 * DBL_EPSILON * want, "log_s %.17g want %.17g", ls, want);
    hk_assert_ok(hk_logsoftmax_forward(y, x, 1, 4));
    for (int c = 0; c < 4; c++) ck_assert(y[c] == (x[c] - m) - ls);
    const double allinf[2] = {-INFINITY, -INFINITY}, nan2[2] = {0.5, NAN};
    hk_assert_fails(hk_softmax_logsumexp(&m, &ls, allinf, 2), HK_EDOM, "no finite logit");
    hk_assert_fails(hk_softmax_logsumexp(&m, &ls, nan2, 2), HK_ENAN, "col 1");
    hk_assert_fails(hk_softmax_logsumexp(&m, &ls, x, 0), HK_EINVAL, "C=0");
    hk_assert_fails(hk_softmax_logsumexp(NULL, &ls, x, 4), HK_EINVAL, "'m'");
    hk_assert_fails(hk_softmax_logsumexp(&m, &ls, NULL, 4), HK_EINVAL, "'x'");
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

START_TEST(softmax_single_column_and_max_at_either_end)
{
    /* C = 1 is valid: the one probability is 1, its log 0. */
    double one[2] = {-3.5, 700.25}, y1[2], l1[2];
    hk_assert_ok(hk_softmax_forward(y1, one, 2, 1));
    ck_assert(y1[0] == 1.0 && y1[1] == 1.0);
    hk_assert_ok(hk_logsoftmax_forward(l1, one, 2, 1));
    ck_assert(l1[0] == 0.0 && l1[1] == 0.0);
    /* The max is found in the first and in the last column: a logit 1000
     * above the rest would overflow exp() if either end were skipped. */
    double x[6] = {1000.0, 0.5, -0.25, -0.25, 0.5, 1000.0}, y[6], ly[6];
    hk_assert_ok(hk_softmax_forward(y, x, 2, 3));
    hk_assert_ok(hk_logsoftmax_forward(ly, x, 2, 3));
    for (int i = 0; i < 6; i++) ck_assert_msg(isfinite(y[i]) && isfinite(ly[i]), "element %d: %g %g", i, y[i], ly[i]);
    ck_assert(y[0] == 1.0 && y[5] == 1.0 && ly[0] == 0.0 && ly[5] == 0.0);
    /* NaN is caught in the first and in the last column too. */
    double n0[3] = {NAN, 0.1, 0.2}, n2[3] = {0.1, 0.2, NAN}, out[3];
    hk_assert_fails(hk_softmax_forward(out, n0, 1, 3), HK_ENAN, "row 0 col 0");
    hk_assert_fails(hk_logsoftmax_forward(out, n2, 1, 3), HK_ENAN, "row 0 col 2");
}
END_TEST

START_TEST(softmax_family_rejects_bad_shapes_and_null)
{
    double a[4] = {0.1, 0.2, 0.3, 0.4}, b[4] = {0.4, 0.3, 0.2, 0.1}, d[4] = {0};
    hk_assert_fails(hk_softmax_forward(d, a, 1, 0), HK_EINVAL, "C=0");
    hk_assert_fails(hk_softmax_forward(d, a, -1, 4), HK_EINVAL, "N=-1");
    hk_assert_fails(hk_softmax_forward(d, NULL, 1, 4), HK_EINVAL, "'x' is NULL");
    hk_assert_fails(hk_logsoftmax_forward(d, a, 0, 4), HK_EINVAL, "N=0");
    hk_assert_fails(hk_logsoftmax_forward(NULL, a, 1, 4), HK_EINVAL, "NULL");
    hk_assert_fails(hk_softmax_backward(d, a, b, 2, 0), HK_EINVAL, "C=0");
    hk_assert_fails(hk_softmax_backward(d, a, NULL, 2, 2), HK_EINVAL, "'y' is NULL");
    hk_assert_fails(hk_softmax_backward(NULL, a, b, 2, 2), HK_EINVAL, "NULL");
    hk_assert_fails(hk_logsoftmax_backward(d, a, b, 0, 2), HK_EINVAL, "N=0");
    hk_assert_fails(hk_logsoftmax_backward(d, a, NULL, 2, 2), HK_EINVAL, "'y' is NULL");
    hk_assert_fails(hk_logsoftmax_backward(d, NULL, b, 2, 2), HK_EINVAL, "'dy' is NULL");
    for (int i = 0; i < 4; i++) ck_assert(d[i] == 0.0); /* nothing written on error */
}
END_TEST

START_TEST(logsoftmax_backward_ignores_masked_entries_in_the_sum)
{
    /* dx_c = dy_c - softmax_c * sum over unmasked dy (masked: y = -inf, dx += 0). */
    double x[4] = {0.7, -INFINITY, -0.2, -INFINITY}, ly[4], p[4];
    hk_assert_ok(hk_logsoftmax_forward(ly, x, 1, 4));
    hk_assert_ok(hk_softmax_forward(p, x, 1, 4));
    double dy[4] = {1.0, 5.0, -2.0, 7.0}, dx[4] = {0.5, 0.5, 0.5, 0.5};
    hk_assert_ok(hk_logsoftmax_backward(dx, dy, ly, 1, 4));
    double want[4] = {0.5 + 1.0 - p[0] * (1.0 - 2.0), 0.5, 0.5 + -2.0 - p[2] * (1.0 - 2.0), 0.5};
    /* exp(log p) vs p: a few ulps; O(1) terms */
    hk_assert_close(dx, want, 4, "logsoftmax dx (accumulated onto 0.5)", 16 * DBL_EPSILON, 16 * DBL_EPSILON);
}
END_TEST

/* Backward passes read and write exactly N rows: a guard row after each
 * buffer must be left untouched (and must not leak into the result). */
START_TEST(backward_passes_stay_inside_their_rows)
{
    enum { N = 2, C = 3 };
    double x[(N + 1) * C] = {0.3, -1.2, 2.385, -0.75, 0.0, 1.5, 9, 9, 9};
    double y[(N + 1) * C], ly[(N + 1) * C], dy[(N + 1) * C] = {0.5, -1, 2, 1.5, 0.25, -0.5, 4, 4, 4};
    for (int i = N * C; i < (N + 1) * C; i++) y[i] = ly[i] = 3.0;
    hk_assert_ok(hk_softmax_forward(y, x, N, C));
    hk_assert_ok(hk_logsoftmax_forward(ly, x, N, C));
    double dx[(N + 1) * C], dx2[(N + 1) * C];
    for (int i = 0; i < (N + 1) * C; i++) dx[i] = dx2[i] = -7.0;
    hk_assert_ok(hk_softmax_backward(dx, dy, y, N, C));
    hk_assert_ok(hk_logsoftmax_backward(dx2, dy, ly, N, C));
    for (int i = N * C; i < (N + 1) * C; i++) {
        ck_assert_msg(dx[i] == -7.0 && dx2[i] == -7.0, "guard dx[%d] written", i);
        ck_assert(y[i] == 3.0 && ly[i] == 3.0);
    }
    /* linear: inp (2,2), w (3,2) */
    double inp[6] = {0.5, -1.5, 2.0, 0.25, 9, 9}, w[8] = {1, 2, -1, 0.5, 0.25, -2, 9, 9};
    double g[9] = {1, -1, 0.5, 2, 0.25, -0.5, 9, 9, 9};
    double di[6], dw[8], db[4], out[9];
    for (int i = 0; i < 9; i++) out[i] = -7.0;
    for (int i = 0; i < 6; i++) di[i] = -7.0;
    for (int i = 0; i < 8; i++) dw[i] = -7.0;
    for (int i = 0; i < 4; i++) db[i] = -7.0;
    hk_assert_ok(hk_linear_forward(out, inp, w, NULL, 2, 2, 3));
    hk_assert_ok(hk_linear_backward(di, dw, db, g, inp, w, 2, 2, 3));
    for (int i = 6; i < 9; i++) ck_assert(out[i] == -7.0);
    ck_assert(di[4] == -7.0 && di[5] == -7.0 && dw[6] == -7.0 && dw[7] == -7.0 && db[3] == -7.0);
    /* out = inp w^T without bias, exact: row 0 = [0.5-3, -0.5-0.75, 0.125+3] */
    ck_assert(out[0] == -2.5 && out[1] == -1.25 && out[2] == 3.125);
    /* dbias = column sums of g, accumulated onto -7 */
    ck_assert(db[0] == -7.0 + 3.0 && db[1] == -7.0 - 0.75 && db[2] == -7.0 + 0.0);
    /* dinp row 1 = g[1,:] w = 2*[1,2] + 0.25*[-1,0.5] - 0.5*[0.25,-2] */
    ck_assert(di[2] == -7.0 + 2.0 - 0.25 - 0.125 && di[3] == -7.0 + 4.0 + 0.125 + 1.0);
    /* dw row 2 = sum_n g[n,2] inp[n,:] = 0.5*[0.5,-1.5] - 0.5*[2,0.25] */
    ck_assert(dw[4] == -7.0 + 0.25 - 1.0 && dw[5] == -7.0 - 0.75 - 0.125);
}
END_TEST

START_TEST(linear_rejects_bad_shapes_and_null_but_allows_null_outputs)
{
    double x[2] = {1, 2}, w[2] = {3, 4}, y[1] = {0}, g[1] = {1};
    hk_assert_fails(hk_linear_forward(y, x, w, NULL, 0, 2, 1), HK_EINVAL, "N=0");
    hk_assert_fails(hk_linear_forward(y, x, w, NULL, 1, 2, 0), HK_EINVAL, "OUT=0");
    hk_assert_fails(hk_linear_forward(NULL, x, w, NULL, 1, 2, 1), HK_EINVAL, "'out' is NULL");
    hk_assert_fails(hk_linear_forward(y, NULL, w, NULL, 1, 2, 1), HK_EINVAL, "'inp' is NULL");
    hk_assert_fails(hk_linear_forward(y, x, NULL, NULL, 1, 2, 1), HK_EINVAL, "'w' is NULL");
    hk_assert_fails(hk_linear_backward(NULL, NULL, NULL, NULL, x, w, 1, 2, 1), HK_EINVAL, "'dout' is NULL");
    hk_assert_fails(hk_linear_backward(NULL, NULL, NULL, g, x, w, 1, 0, 1), HK_EINVAL, "IN=0");
    /* N = IN = OUT = 1 is the smallest valid shape */
    double one = 0;
    hk_assert_ok(hk_linear_forward(&one, x, w, NULL, 1, 1, 1));
    ck_assert(one == 3.0);
    /* every gradient output is optional */
    hk_assert_ok(hk_linear_backward(NULL, NULL, NULL, g, x, w, 1, 2, 1));
    double dw[2] = {0, 0};
    hk_assert_ok(hk_linear_backward(NULL, dw, NULL, g, x, w, 1, 2, 1));
    ck_assert(dw[0] == 1.0 && dw[1] == 2.0);
}
END_TEST

Suite *suite_softmax(void)
{
    Suite *s = suite_create("softmax");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, softmax_rows_sum_to_one_and_match_direct_formula);
    tcase_add_test(core, softmax_shift_invariant_for_huge_logits);
    tcase_add_test(core, logsoftmax_equals_log_of_softmax);
    tcase_add_test(core, logsumexp_parts_at_huge_logits_and_errors);
    tcase_add_test(core, linear_matches_hand_computation);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, softmax_neg_inf_gets_exact_zero);
    tcase_add_test(lim, softmax_rejects_all_masked_row_nan_and_pos_inf);
    tcase_add_test(lim, softmax_single_column_and_max_at_either_end);
    tcase_add_test(lim, softmax_family_rejects_bad_shapes_and_null);
    tcase_add_test(lim, logsoftmax_backward_ignores_masked_entries_in_the_sum);
    tcase_add_test(lim, backward_passes_stay_inside_their_rows);
    tcase_add_test(lim, linear_rejects_bad_shapes_and_null_but_allows_null_outputs);
    suite_add_tcase(s, lim);
    return s;
}
