/* hkref — GELU: reference points computed by other routes (GSL's normal CDF,
 * mpmath at 40 digits, the logistic form of tanh), the odd-part identities,
 * the tail, saturation at huge |x|, errors.  (Finite-difference checks:
 * tools/checks/chk_gelu.c, gelu and gelu.tanh.) */
#include "hk_test.h"

#include "ref/gelu.h"

#include <gsl/gsl_cdf.h>

/* Exact form as x Phi(x) with GSL's Phi (Cody's rational approximations: a
 * different algorithm from libm's erfc). */
START_TEST(gelu_erf_matches_x_times_normal_cdf)
{
    double x[8] = {-5.25, -2.385, -1.0, -0.2385, 0.0, 0.5, 1.0, 3.7}, y[8], ref[8];
    hk_assert_ok(hk_gelu_forward(y, x, 8, HK_GELU_ERF));
    for (int i = 0; i < 8; i++) {
        ref[i] = x[i] * gsl_cdf_ugaussian_P(x[i]);
        /* Both sides: a few ulps relative each (erfc / Cody, two products), plus the
         * rounding of the scaled argument amplified by Phi's condition number ~x^2
         * in the lower tail (see gelu_erf_known_values). */
        double tol = (16 + x[i] * x[i]) * DBL_EPSILON * fabs(ref[i]);
        ck_assert_msg(fabs(y[i] - ref[i]) <= tol, "gelu(%g) = %.17g, x Phi(x) = %.17g, tol %.3g", x[i], y[i], ref[i],
                      tol);
    }
}
END_TEST

START_TEST(gelu_erf_known_values)
{
    /* x Phi(x) by mpmath (40 digits): ncdf(1) = 0.841344746..., ncdf(-10) = 7.6198530e-24. */
    double x[5] = {1.0, -1.0, 2.0, 2.385, -10.0}, y[5];
    double ref[5] = {0.84134474606854294859, -0.15865525393145705141, 1.9544997361036415856,
                     2.3646331477861134321, -7.619853024160526066e-23};
    hk_assert_ok(hk_gelu_forward(y, x, 5, HK_GELU_ERF));
    for (int i = 0; i < 5; i++) {
        /* erfc to ~1 ulp and two products: 4 eps; the argument t = x/sqrt 2 is rounded
         * (eps/2 relative) and erfc's condition number |t erfc'(t)/erfc(t)| ~ 2t^2 = x^2
         * in the tail amplifies that: x^2 eps/2 more (about 50 ulps at -10).  At -10
         * this needs the erfc form: 1 + erf(-10/sqrt 2) would lose every digit. */
        double tol = (4 + 0.5 * x[i] * x[i]) * DBL_EPSILON * fabs(ref[i]);
        ck_assert_msg(fabs(y[i] - ref[i]) <= tol, "gelu(%g) = %.17g, mpmath %.17g, tol %.3g", x[i], y[i], ref[i], tol);
    }
}
END_TEST

START_TEST(gelu_tanh_matches_logistic_form)
{
    /* 0.5 (1 + tanh u) = 1 / (1 + exp(-2u)): a different route through exp. */
    double x[7] = {-3.0, -1.25, -0.2385, 0.0, 0.75, 1.0, 2.385}, y[7], ref[7];
    hk_assert_ok(hk_gelu_forward(y, x, 7, HK_GELU_TANH));
    double k = sqrt(2.0 / M_PI);
    for (int i = 0; i < 7; i++) {
        double u = k * (x[i] + 0.044715 * x[i] * x[i] * x[i]);
        ref[i] = x[i] / (1.0 + exp(-2.0 * u));
        /* 1 + tanh(u) loses relative accuracy for u << 0 (absolute error ~2 eps): so an
         * absolute bound 2 eps |x| on 0.5 x (1 + t), plus 8 eps relative for the rest. */
        ck_assert_msg(fabs(y[i] - ref[i]) <= 2 * DBL_EPSILON * fabs(x[i]) + 8 * DBL_EPSILON * fabs(ref[i]),
                      "gelu tanh(%g) = %.17g, logistic %.17g", x[i], y[i], ref[i]);
    }
    /* mpmath, 40 digits: 0.5 (1 + tanh(sqrt(2/pi) 1.044715)). */
    ck_assert_double_eq_tol(y[5], 0.84119199060827670478, 4 * DBL_EPSILON);
    /* The approximation differs from the exact form (0.84134 at 1) by ~1.5e-4. */
    double ye;
    hk_assert_ok(hk_gelu_forward(&ye, &x[5], 1, HK_GELU_ERF));
    ck_assert_double_eq_tol(y[5] - ye, 0.84119199060827670478 - 0.84134474606854294859, 1e-15);
}
END_TEST

/* gelu(x) - gelu(-x) = x because Phi(x) + Phi(-x) = 1 (erf form) and
 * tanh(-u) = -tanh(u) (tanh form); differentiating, gelu'(x) + gelu'(-x) = 1. */
static void check_odd_identities(hk_gelu_kind kind)
{
    enum { M = 9 };
    double x[M] = {0.001, 0.2385, 0.7, 1.0, 1.5, 2.385, 4.0, 7.5, 40.0}, nx[M], y[M], ny[M];
    double d[M] = {0}, nd[M] = {0}, ones[M];
    for (int i = 0; i < M; i++) {
        nx[i] = -x[i];
        ones[i] = 1.0;
    }
    hk_assert_ok(hk_gelu_forward(y, x, M, kind));
    hk_assert_ok(hk_gelu_forward(ny, nx, M, kind));
    hk_assert_ok(hk_gelu_backward(d, ones, x, M, kind));
    hk_assert_ok(hk_gelu_backward(nd, ones, nx, M, kind));
    for (int i = 0; i < M; i++) {
        /* Each side is 0.5|x| times a factor in [0, 2] with <= 4 eps relative error
         * (erfc or 1 +- tanh, two products), plus the subtraction: 6 eps |x|. */
        ck_assert_msg(fabs((y[i] - ny[i]) - x[i]) <= 6 * DBL_EPSILON * x[i], "kind %d: gelu(%g) - gelu(-%g) = %.17g",
                      (int)kind, x[i], x[i], y[i] - ny[i]);
        /* Two derivatives of size <= 1.2, each with <= 8 eps error. */
        ck_assert_msg(fabs(d[i] + nd[i] - 1.0) <= 16 * DBL_EPSILON, "kind %d: gelu'(%g) + gelu'(-%g) = %.17g",
                      (int)kind, x[i], x[i], d[i] + nd[i]);
    }
}

START_TEST(gelu_odd_part_identities)
{
    check_odd_identities(HK_GELU_ERF);
    check_odd_identities(HK_GELU_TANH);
}
END_TEST

START_TEST(gelu_huge_inputs_saturate_without_nan)
{
    /* x^3 and x^2 overflow; exp(-x^2/2) and sech^2 underflow: gelu -> x or 0, gelu' -> 1 or 0. */
    double x[2] = {1e200, -1e200};
    for (int kind = 0; kind < 2; kind++) {
        double y[2], d[2] = {0}, ones[2] = {1, 1};
        hk_assert_ok(hk_gelu_forward(y, x, 2, (hk_gelu_kind)kind));
        hk_assert_ok(hk_gelu_backward(d, ones, x, 2, (hk_gelu_kind)kind));
        ck_assert_msg(y[0] == 1e200 && y[1] == 0.0, "kind %d: gelu(+-1e200) = %g, %g", kind, y[0], y[1]);
        ck_assert_msg(d[0] == 1.0 && d[1] == 0.0, "kind %d: gelu'(+-1e200) = %g, %g", kind, d[0], d[1]);
    }
}
END_TEST

START_TEST(gelu_rejects_bad_arguments)
{
    double x[3] = {0.5, -1.0, NAN}, y[3], d[3] = {0};
    hk_assert_fails(hk_gelu_forward(y, x, 3, HK_GELU_ERF), HK_ENAN, "gelu inp[2]");
    x[2] = -INFINITY;
    hk_assert_fails(hk_gelu_backward(d, y, x, 3, HK_GELU_TANH), HK_ENAN, "gelu inp[2]");
    hk_assert_fails(hk_gelu_forward(y, x, 2, (hk_gelu_kind)7), HK_EINVAL, "kind=7");
    hk_assert_fails(hk_gelu_forward(y, x, 0, HK_GELU_ERF), HK_EINVAL, "n=0");
    hk_assert_fails(hk_gelu_backward(d, y, NULL, 2, HK_GELU_ERF), HK_EINVAL, "'inp'");
}
END_TEST

Suite *suite_gelu(void)
{
    Suite *s = suite_create("gelu");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, gelu_erf_matches_x_times_normal_cdf);
    tcase_add_test(core, gelu_erf_known_values);
    tcase_add_test(core, gelu_tanh_matches_logistic_form);
    tcase_add_test(core, gelu_odd_part_identities);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, gelu_huge_inputs_saturate_without_nan);
    tcase_add_test(lim, gelu_rejects_bad_arguments);
    suite_add_tcase(s, lim);
    return s;
}
