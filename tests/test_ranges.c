/* hkref — the finite-input ranges of the ops (docs/reliability.md, "Finite-input
 * ranges"), tested at their edges: just inside, the op returns finite numbers
 * (values derived here by hand); just beyond, where the true result is not a
 * double, it returns HK_EDOM naming the overflow, never a silent inf, 0 or
 * bias (LayerNorm's old out = bias at |x| >= 1.3e154 was such a number). */
#include "hk_test.h"

#include "ref/adamw.h"
#include "ref/consistency.h"
#include "ref/crossentropy.h"
#include "ref/gelu.h"
#include "ref/layernorm.h"
#include "ref/linear.h"
#include "ref/softmax.h"

#include <stdint.h>

START_TEST(softmax_takes_any_finite_row)
{
    double x[3] = {1.7e308, -1.7e308, 0.0}, y[3];
    hk_assert_ok(hk_softmax_forward(y, x, 1, 3));
    ck_assert(y[0] == 1.0 && y[1] == 0.0 && y[2] == 0.0); /* exp(-huge) underflows to exactly 0 */
}
END_TEST

START_TEST(logsoftmax_range_below_dbl_max)
{
    double x[3] = {8e307, -8e307, 0.0}, y[3];
    hk_assert_ok(hk_logsoftmax_forward(y, x, 1, 3));
    ck_assert(y[0] == 0.0 && y[1] == -1.6e308 && y[2] == -8e307);
    double far[2] = {1.7e308, -1.7e308};
    hk_assert_fails(hk_logsoftmax_forward(y, far, 1, 2), HK_EDOM, "overflows");
    int64_t lab[1] = {1};
    double loss, lp[2];
    hk_assert_ok(hk_crossentropy_forward(&loss, lp, x, lab, 1, 2)); /* label -8e307, max 8e307: loss 1.6e308 */
    ck_assert(loss == 1.6e308);
    hk_assert_fails(hk_crossentropy_forward(&loss, lp, far, lab, 1, 2), HK_EDOM, "overflows");
}
END_TEST

START_TEST(consistency_mse_overflow_is_an_error)
{
    double a[1] = {1e154}, b[1] = {0.0}, loss, d1[1] = {0}, d2[1] = {0};
    hk_assert_ok(hk_consistency_forward(&loss, HK_CONS_MSE, a, b, 1, 1, HK_RED_SUM));
    ck_assert(loss == 1e154 * 1e154);
    double big[1] = {1.4e154};
    hk_assert_fails(hk_consistency_forward(&loss, HK_CONS_MSE, big, b, 1, 1, HK_RED_SUM), HK_EDOM, "overflows");
    double p[1] = {8e307}, m[1] = {-8e307}, far[1] = {1.7e308}, mfar[1] = {-1.7e308};
    hk_assert_ok(hk_consistency_backward(d1, d2, 0.25, HK_CONS_MSE, p, b, 1, 1, HK_RED_SUM));
    ck_assert(d1[0] == 4e307 && d2[0] == -4e307); /* 2 (8e307 - 0) 0.25 */
    hk_assert_fails(hk_consistency_backward(d1, d2, 1.0, HK_CONS_MSE, far, mfar, 1, 1, HK_RED_SUM), HK_EDOM,
                    "overflows");
    ck_assert(d1[0] == 4e307); /* nothing accumulated by the failed call */
    /* the distribution losses take logits up to a row range of DBL_MAX */
    double z1[2] = {8e307, -8e307}, z2[2] = {-8e307, 8e307};
    hk_assert_ok(hk_consistency_forward(&loss, HK_CONS_JS_TEXTBOOK, z1, z2, 1, 2, HK_RED_SUM));
    ck_assert_double_eq_tol(loss, log(2.0), 1e-15); /* disjoint one-hot distributions: JS = ln 2 */
    (void)m;
}
END_TEST

START_TEST(gelu_takes_the_whole_finite_range)
{
    double x[4] = {1.7e308, -1.7e308, 1e102, -1e102}, y[4], d[4] = {0}, one[4] = {1, 1, 1, 1};
    for (int kind = 0; kind < 2; kind++) {
        hk_assert_ok(hk_gelu_forward(y, x, 4, (hk_gelu_kind)kind));
        ck_assert(y[0] == 1.7e308 && y[1] == 0.0 && y[2] == 1e102 && y[3] == 0.0);
        memset(d, 0, sizeof d);
        hk_assert_ok(hk_gelu_backward(d, one, x, 4, (hk_gelu_kind)kind));
        ck_assert(d[0] == 1.0 && d[1] == 0.0 && d[2] == 1.0 && d[3] == 0.0);
    }
}
END_TEST

START_TEST(linear_overflow_is_an_error)
{
    double x[1] = {1e154}, w[1] = {1e154}, out[1];
    hk_assert_ok(hk_linear_forward(out, x, w, NULL, 1, 1, 1));
    ck_assert(out[0] == 1e154 * 1e154);
    double w2[1] = {1e155};
    hk_assert_fails(hk_linear_forward(out, x, w2, NULL, 1, 1, 1), HK_EDOM, "overflows");
}
END_TEST

START_TEST(adamw_second_moment_overflow_is_an_error)
{
    hk_adamw_hparams hp = {1e-3, 0.9, 0.999, 1e-8, 0.0};
    double p[1] = {0.5}, g[1] = {1e154}, m[1] = {0}, v[1] = {0};
    hk_assert_ok(hk_adamw_step(p, g, m, v, 1, 1, 1, &hp));
    ck_assert(isfinite(v[0]) && v[0] > 0 && p[0] < 0.5);
    /* v gains (1 - beta2) g g, evaluated as ((1 - beta2) g) g: 1e-3 1e155 1e155 = 1e307 is still a double,
     * 1e-3 1e160 1e160 is not */
    double g1[1] = {1e155};
    hk_assert_ok(hk_adamw_step(p, g1, m, v, 1, 1, 2, &hp));
    double q[1] = {0.5}, g2[1] = {1e160}, m2[1] = {0}, v2[1] = {0};
    hk_assert_fails(hk_adamw_step(q, g2, m2, v2, 1, 1, 1, &hp), HK_EDOM, "overflows");
    ck_assert(q[0] == 0.5 && m2[0] == 0.0 && v2[0] == 0.0); /* state untouched */
}
END_TEST

START_TEST(layernorm_edges)
{
    double w[2] = {1, 1}, b[2] = {0, 0}, out[2], mu, rs;
    /* the sum of squared deviations must be a double: 2 d^2 <= DBL_MAX = 1.7977e308, d <= 9.48e153 */
    double in[2] = {9.4e153, -9.4e153};
    hk_assert_ok(hk_layernorm_forward(out, &mu, &rs, in, w, b, 1e-5, 1, 2));
    ck_assert_double_eq_tol(out[0], 1.0, 1e-12);
    double beyond[2] = {9.5e153, -9.5e153};
    hk_assert_fails(hk_layernorm_forward(out, &mu, &rs, beyond, w, b, 1e-5, 1, 2), HK_EDOM, "overflows");
}
END_TEST

Suite *suite_ranges(void)
{
    Suite *s = suite_create("ranges");
    TCase *tc = tcase_create("edges");
    tcase_add_test(tc, softmax_takes_any_finite_row);
    tcase_add_test(tc, logsoftmax_range_below_dbl_max);
    tcase_add_test(tc, consistency_mse_overflow_is_an_error);
    tcase_add_test(tc, gelu_takes_the_whole_finite_range);
    tcase_add_test(tc, linear_overflow_is_an_error);
    tcase_add_test(tc, adamw_second_moment_overflow_is_an_error);
    tcase_add_test(tc, layernorm_edges);
    suite_add_tcase(s, tc);
    return s;
}
