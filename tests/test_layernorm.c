/* hkref — LayerNorm: hand value, normalized-row statistics (with the eps
 * effect), shift invariance, exact scale covariance, C = 1, errors.
 * (Finite-difference checks: tools/checks/chk_layernorm.c, layernorm and
 * layernorm.smallvar.) */
#include "hk_test.h"

#include "ref/layernorm.h"
#include "ref/rng.h"

#include <gsl/gsl_statistics_double.h>

enum { C = 16, NR = 3 };

static void fill(double *x, long n, unsigned long seed, double lo, double hi)
{
    gsl_rng *r = hk_rng_new(seed);
    ck_assert_ptr_nonnull(r);
    hk_assert_ok(hk_rng_fill_uniform(x, n, lo, hi, r));
    hk_rng_free(r);
}

static double max_abs(const double *x, long n)
{
    double m = 0;
    for (long i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

START_TEST(layernorm_hand_computed)
{
    /* x = [1, 3]: mean 2, biased variance 1, rstd = (1 + eps)^(-1/2) (via pow here, 1/sqrt in the code);
     * out = [-1, 1] * rstd * w + b. */
    const double eps = 1e-5;
    double x[2] = {1, 3}, w[2] = {2, 0.5}, b[2] = {0.25, -1}, y[2], mean, rstd;
    hk_assert_ok(hk_layernorm_forward(y, &mean, &rstd, x, w, b, eps, 1, 2));
    double s = pow(1.0 + eps, -0.5);
    ck_assert(mean == 2.0);
    ck_assert_double_eq_tol(rstd, s, 4 * DBL_EPSILON); /* add, sqrt, divide vs pow: a few ulps of ~1 */
    double ref[2] = {-2.0 * s + 0.25, 0.5 * s - 1.0};
    hk_assert_close(y, ref, 2, "layernorm hand", 0.0, 8 * DBL_EPSILON);
}
END_TEST

START_TEST(layernorm_rows_have_mean_0_and_variance_v_over_v_plus_eps)
{
    /* weight 1, bias 0.  Row 0: spread O(1); row 1: spread 4e-3 so its variance
     * (~5e-6) is comparable to eps and the normalized variance v/(v+eps) is
     * ~0.35, far from 1; row 2: offset 50.  Exact math: mean(out) = 0 and
     * (1/C) sum out^2 = v/(v+eps). */
    const double eps = HK_LAYERNORM_EPS_DEFAULT;
    double x[NR * C], y[NR * C], w[C], b[C], mean[NR], rstd[NR];
    fill(x, NR * C, 51, -1.7, 2.3);
    for (int c = 0; c < C; c++) {
        x[C + c] = 0.4 + 2e-3 * x[C + c];
        x[2 * C + c] += 50.0;
        w[c] = 1.0;
        b[c] = 0.0;
    }
    hk_assert_ok(hk_layernorm_forward(y, mean, rstd, x, w, b, eps, NR, C));
    for (int n = 0; n < NR; n++) {
        const double *xr = x + n * C, *yr = y + n * C;
        /* Mean: the sum for mean_n has error <= C eps max|x|, shifting every
         * output by that times rstd; each output adds ~2 eps|out|; the test's
         * own sum adds C eps max|out|. */
        double mo = gsl_stats_mean(yr, 1, C);
        double tol_m = 2.0 * (C + 2) * DBL_EPSILON * (max_abs(xr, C) * rstd[n] + max_abs(yr, C));
        ck_assert_msg(fabs(mo) <= tol_m, "row %d: mean(out) = %.3g > tol %.3g", n, mo, tol_m);
        /* Variance: v from GSL's recurrence (a different route), biased. Each
         * out^2 carries <= 10 eps relative error, the sums C eps each; the
         * mean error enters only to second order. */
        double v = gsl_stats_variance(xr, 1, C) * (C - 1) / C;
        double want = v / (v + eps), got = gsl_stats_variance_with_fixed_mean(yr, 1, C, 0.0);
        double tol_v = 2.0 * (2 * C + 15) * DBL_EPSILON * want;
        ck_assert_msg(fabs(got - want) <= tol_v, "row %d: var(out) %.17g, v/(v+eps) %.17g, tol %.3g", n, got, want,
                      tol_v);
        if (n == 1) ck_assert_msg(want < 0.5, "row 1 must show the eps effect (v/(v+eps) = %g)", want);
        ck_assert_double_eq_tol(rstd[n], 1.0 / sqrt(v + eps), 2.0 * (C + 4) * DBL_EPSILON * rstd[n]);
    }
}
END_TEST

START_TEST(layernorm_is_shift_invariant)
{
    const double eps = HK_LAYERNORM_EPS_DEFAULT, shift = 1000.25;
    double x[NR * C], xs[NR * C], y[NR * C], ys[NR * C], w[C], b[C], mean[NR], rstd[NR], ms[NR], rs[NR];
    fill(x, NR * C, 52, -2.0, 2.0);
    fill(w, C, 53, 0.5, 1.5);
    fill(b, C, 54, -1.0, 1.0);
    for (int k = 0; k < NR * C; k++) xs[k] = x[k] + shift;
    hk_assert_ok(hk_layernorm_forward(y, mean, rstd, x, w, b, eps, NR, C));
    hk_assert_ok(hk_layernorm_forward(ys, ms, rs, xs, w, b, eps, NR, C));
    for (int n = 0; n < NR; n++) {
        /* Rounding x + shift and the shifted mean perturb each centred value by
         * <= (C + 3) eps (max|x| + shift); times rstd and max|w|, on both sides;
         * plus ~5 eps relative on each output. */
        double tol = 2.0 * (C + 3) * DBL_EPSILON * (2.0 + shift) * rstd[n] * max_abs(w, C) +
                     10 * DBL_EPSILON * max_abs(y + n * C, C);
        hk_assert_close(ys + n * C, y + n * C, C, "layernorm shift", tol, 0.0);
    }
}
END_TEST

START_TEST(layernorm_scale_covariance_with_eps_is_exact)
{
    /* LN(a x; a^2 eps) = LN(x; eps).  With a = 8 every step (mean, centring,
     * variance, + eps, sqrt, 1/.) scales by a power of two, which commutes with
     * rounding: the outputs agree bit for bit.  It pins eps inside the square
     * root, added to the variance (eps added to the std would break it). */
    const double eps = HK_LAYERNORM_EPS_DEFAULT;
    double x[NR * C], xa[NR * C], y[NR * C], ya[NR * C], w[C], b[C], mean[NR], rstd[NR];
    fill(x, NR * C, 55, -0.01, 0.01); /* variance ~3e-5, same order as eps */
    fill(w, C, 56, 0.5, 1.5);
    fill(b, C, 57, -1.0, 1.0);
    for (int k = 0; k < NR * C; k++) xa[k] = 8.0 * x[k];
    hk_assert_ok(hk_layernorm_forward(y, mean, rstd, x, w, b, eps, NR, C));
    hk_assert_ok(hk_layernorm_forward(ya, mean, rstd, xa, w, b, 64.0 * eps, NR, C));
    ck_assert(memcmp(y, ya, sizeof y) == 0);
}
END_TEST

START_TEST(layernorm_single_column_gives_bias)
{
    double x[2] = {3.7, -1e6}, w[1] = {2.5}, b[1] = {-0.375}, y[2], mean[2], rstd[2];
    hk_assert_ok(hk_layernorm_forward(y, mean, rstd, x, w, b, 1e-5, 2, 1));
    ck_assert(y[0] == -0.375 && y[1] == -0.375); /* x - mean = 0 exactly */
    ck_assert_double_eq_tol(rstd[0], 1.0 / sqrt(1e-5), 4 * DBL_EPSILON * rstd[0]);
}
END_TEST

START_TEST(layernorm_rejects_bad_arguments)
{
    double x[4] = {0.5, 1.5, -2.0, 0.25}, w[2] = {1, 1}, b[2] = {0, 0}, y[4], m[2], s[2];
    hk_assert_fails(hk_layernorm_forward(y, m, s, x, w, b, 0.0, 2, 2), HK_EDOM, "eps");
    hk_assert_fails(hk_layernorm_forward(y, m, s, x, w, b, -1e-5, 2, 2), HK_EDOM, "eps");
    hk_assert_fails(hk_layernorm_forward(y, m, s, x, w, b, NAN, 2, 2), HK_EDOM, "eps");
    hk_assert_fails(hk_layernorm_forward(y, m, s, x, w, b, 1e-5, 2, 0), HK_EINVAL, "C=0");
    hk_assert_fails(hk_layernorm_forward(y, m, s, x, NULL, b, 1e-5, 2, 2), HK_EINVAL, "'weight'");
    hk_assert_fails(hk_layernorm_forward(y, m, s, x, w, NULL, 1e-5, 2, 2), HK_EINVAL, "'bias'");
    hk_assert_fails(hk_layernorm_forward(y, NULL, s, x, w, b, 1e-5, 2, 2), HK_EINVAL, "'mean'");
    x[3] = INFINITY;
    hk_assert_fails(hk_layernorm_forward(y, m, s, x, w, b, 1e-5, 2, 2), HK_ENAN, "inp[3]");
    double dx[4] = {0}, dy[4] = {1, 2, 3, 4};
    hk_assert_fails(hk_layernorm_backward(dx, NULL, NULL, dy, x, w, m, NULL, 2, 2), HK_EINVAL, "'rstd'");
}
END_TEST

Suite *suite_layernorm(void)
{
    Suite *s = suite_create("layernorm");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, layernorm_hand_computed);
    tcase_add_test(core, layernorm_rows_have_mean_0_and_variance_v_over_v_plus_eps);
    tcase_add_test(core, layernorm_is_shift_invariant);
    tcase_add_test(core, layernorm_scale_covariance_with_eps_is_exact);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, layernorm_single_column_gives_bias);
    tcase_add_test(lim, layernorm_rejects_bad_arguments);
    suite_add_tcase(s, lim);
    return s;
}
