/* hkref — consistency losses: closed forms, agreement with the naive
 * textbook formulas where those are safe, stability where they are not,
 * reduction and stop-gradient policies, errors.  (Finite differences and the
 * symmetry / bound properties are registered in tools/checks/chk_consistency.c.) */
#include "hk_test.h"

#include "ref/consistency.h"

/* The naive formulas, as a PyTorch user would write them: softmax, then log.
 * Independent of ref/consistency.c (no log-sum-exp, no log1p). */
static double naive(hk_consistency kind, const double *x, const double *y, int C)
{
    double p[8], q[8], sp = 0, sq = 0, L = 0;
    for (int c = 0; c < C; c++) sp += exp(x[c]), sq += exp(y[c]);
    for (int c = 0; c < C; c++) p[c] = exp(x[c]) / sp, q[c] = exp(y[c]) / sq;
    for (int c = 0; c < C; c++) {
        double m = 0.5 * (p[c] + q[c]);
        switch (kind) {
        case HK_CONS_KL_BIDIR: L += 0.5 * (p[c] * log(p[c] / q[c]) + q[c] * log(q[c] / p[c])); break;
        case HK_CONS_JS_EQ12: L += p[c] * log(p[c] / q[c]); break;
        case HK_CONS_JS_MIXTURE: L += 0.5 * (m * log(m / p[c]) + m * log(m / q[c])); break;
        case HK_CONS_JS_TEXTBOOK: L += 0.5 * (p[c] * log(p[c] / m) + q[c] * log(q[c] / m)); break;
        default: L += (x[c] - y[c]) * (x[c] - y[c]);
        }
    }
    return L;
}

START_TEST(two_class_closed_forms)
{
    /* P1 = (1/2, 1/2) from z1 = (0,0); P2 = (3/4, 1/4) from z2 = (ln 3, 0).
     * KL(P1||P2) = ½ln(4/3); KL(P2||P1) = ¾ln(3/2) - ¼ln 2; M = (5/8, 3/8). */
    const double z1[2] = {0.0, 0.0}, z2[2] = {log(3.0), 0.0};
    double k12 = 0.5 * log(4.0 / 3.0), k21 = 0.75 * log(1.5) - 0.25 * log(2.0);
    double km1 = 0.625 * log(1.25) + 0.375 * log(0.75);               /* KL(M||P1) */
    double km2 = 0.625 * log(0.625 / 0.75) + 0.375 * log(0.375 / 0.25); /* KL(M||P2) */
    double k1m = 0.5 * log(0.8) + 0.5 * log(0.5 / 0.375);              /* KL(P1||M) */
    double k2m = 0.75 * log(0.75 / 0.625) + 0.25 * log(0.25 / 0.375);  /* KL(P2||M) */
    const double expect[4] = {0.5 * (k12 + k21), k12, 0.5 * (km1 + km2), 0.5 * (k1m + k2m)};
    for (int k = 0; k < 4; k++) {
        double L;
        hk_assert_ok(hk_consistency_forward(&L, (hk_consistency)k, z1, z2, 1, 2, HK_RED_SUM));
        /* two O(1) terms, each a few roundings of logs: 32 ε absolute */
        ck_assert_msg(fabs(L - expect[k]) <= 32 * DBL_EPSILON, "%s: got %.17g expected %.17g",
                      hk_consistency_name((hk_consistency)k), L, expect[k]);
    }
    /* the mixture "JS" of HiddenCut's code differs from the textbook one */
    ck_assert(fabs(expect[2] - expect[3]) > 1e-4);
}
END_TEST

START_TEST(agrees_with_naive_formula_at_moderate_logits)
{
    const double z1[3 * 4] = {0.3, -1.2, 2.385, -0.75, 1.0, 1.0, -0.5, 0.25, -2.0, 0.6, 0.1, 3.3};
    const double z2[3 * 4] = {1.1, 0.4, -0.6, 2.2, 0.9, 1.2, -0.4, 0.0, 3.0, -1.5, 0.2, 0.7};
    for (int k = 0; k < HK_CONS_COUNT; k++) {
        double L, ref = 0;
        hk_assert_ok(hk_consistency_forward(&L, (hk_consistency)k, z1, z2, 3, 4, HK_RED_MEAN));
        for (int n = 0; n < 3; n++) ref += naive((hk_consistency)k, z1 + 4 * n, z2 + 4 * n, 4);
        ref /= 3;
        /* 12 terms of O(1) with logs of ratios: 64 ε·max(1,|L|) */
        ck_assert_msg(fabs(L - ref) <= 64 * DBL_EPSILON * fmax(1.0, fabs(ref)), "%s: got %.17g naive %.17g",
                      hk_consistency_name((hk_consistency)k), L, ref);
    }
}
END_TEST

START_TEST(finite_where_naive_code_is_not)
{
    /* ±700 logits: softmax underflows to exactly 0 for the -700 class
     * (e^-1400), so the naive log(p/q) gives log(0) = -inf and 0·inf = NaN. */
    const double z1[3] = {700.0, -700.0, 0.5}, z2[3] = {-700.0, 700.0, 0.25};
    for (int k = 0; k < HK_CONS_MSE; k++) {
        double L, d1[3] = {0}, d2[3] = {0};
        double nv = naive((hk_consistency)k, z1, z2, 3);
        ck_assert_msg(!isfinite(nv), "%s: naive formula unexpectedly finite (%g): the test lost its power",
                      hk_consistency_name((hk_consistency)k), nv);
        hk_assert_ok(hk_consistency_forward(&L, (hk_consistency)k, z1, z2, 1, 3, HK_RED_SUM));
        hk_assert_ok(hk_consistency_backward(d1, d2, 1.0, (hk_consistency)k, z1, z2, 1, 3, HK_RED_SUM));
        ck_assert_msg(isfinite(L) && L >= 0.0, "%s: L = %g", hk_consistency_name((hk_consistency)k), L);
        for (int c = 0; c < 3; c++) ck_assert(isfinite(d1[c]) && isfinite(d2[c]));
    }
}
END_TEST

START_TEST(gradient_rows_sum_to_zero_and_constant_side_policy)
{
    /* Softmax is shift invariant, so Σ_c ∂L/∂z[n,c] = 0 for every row
     * (rounding: C terms of size up to the logit gap ~36: 16·C·40 ε).  Passing dz2 = NULL (second pass
     * constant) must leave dz1 bit-identical. */
    const double z1[2 * 3] = {0.4, -2.0, 1.7, 35.0, 0.2, -0.3}, z2[2 * 3] = {1.2, 0.3, -0.9, 0.5, 36.0, 0.0};
    for (int k = 0; k < HK_CONS_MSE; k++) {
        double a1[6] = {0}, a2[6] = {0}, b1[6] = {0};
        hk_assert_ok(hk_consistency_backward(a1, a2, 1.0, (hk_consistency)k, z1, z2, 2, 3, HK_RED_SUM));
        hk_assert_ok(hk_consistency_backward(b1, NULL, 1.0, (hk_consistency)k, z1, z2, 2, 3, HK_RED_SUM));
        ck_assert(memcmp(a1, b1, sizeof a1) == 0);
        for (int n = 0; n < 2; n++) {
            double s1 = a1[3 * n] + a1[3 * n + 1] + a1[3 * n + 2], s2 = a2[3 * n] + a2[3 * n + 1] + a2[3 * n + 2];
            ck_assert_msg(fabs(s1) <= 16 * 3 * 40 * DBL_EPSILON && fabs(s2) <= 16 * 3 * 40 * DBL_EPSILON, "%s row %d sums %g %g",
                          hk_consistency_name((hk_consistency)k), n, s1, s2);
        }
    }
}
END_TEST

START_TEST(mean_is_sum_over_rows_and_dloss_scales)
{
    const double z1[4] = {0.5, -0.25, 2.0, 1.0}, z2[4] = {-1.0, 0.75, 0.125, 1.5};
    for (int k = 0; k < HK_CONS_COUNT; k++) {
        double Ls, Lm, gs[4] = {0}, gm[4] = {0};
        hk_assert_ok(hk_consistency_forward(&Ls, (hk_consistency)k, z1, z2, 2, 2, HK_RED_SUM));
        hk_assert_ok(hk_consistency_forward(&Lm, (hk_consistency)k, z1, z2, 2, 2, HK_RED_MEAN));
        ck_assert(Lm == Ls / 2); /* division by 2 is exact */
        hk_assert_ok(hk_consistency_backward(gs, NULL, 0.5, (hk_consistency)k, z1, z2, 2, 2, HK_RED_SUM));
        hk_assert_ok(hk_consistency_backward(gm, NULL, 1.0, (hk_consistency)k, z1, z2, 2, 2, HK_RED_MEAN));
        for (int i = 0; i < 4; i++) ck_assert(gs[i] == gm[i]); /* 0.5·x == (1/2)·x exactly */
    }
}
END_TEST

START_TEST(names_parse_and_errors)
{
    for (int k = 0; k < HK_CONS_COUNT; k++) {
        hk_consistency got;
        hk_assert_ok(hk_consistency_parse(&got, hk_consistency_name((hk_consistency)k)));
        ck_assert_int_eq(got, k);
    }
    hk_consistency got;
    hk_assert_fails(hk_consistency_parse(&got, "js"), HK_ENOTFOUND, "'js'");
    ck_assert_ptr_null(hk_consistency_name(HK_CONS_COUNT));
    double z[2] = {0.1, 0.2}, bad[2] = {0.1, NAN}, inf[2] = {INFINITY, 0.0}, L, d[2] = {0};
    hk_assert_fails(hk_consistency_forward(&L, HK_CONS_KL_BIDIR, z, bad, 1, 2, HK_RED_SUM), HK_ENAN, "z2");
    hk_assert_fails(hk_consistency_forward(&L, HK_CONS_KL_BIDIR, inf, z, 1, 2, HK_RED_SUM), HK_ENAN, "z1");
    hk_assert_fails(hk_consistency_forward(&L, HK_CONS_KL_BIDIR, z, z, 0, 2, HK_RED_SUM), HK_EINVAL, "N=0");
    hk_assert_fails(hk_consistency_forward(NULL, HK_CONS_KL_BIDIR, z, z, 1, 2, HK_RED_SUM), HK_EINVAL, "loss");
    hk_assert_fails(hk_consistency_forward(&L, HK_CONS_COUNT, z, z, 1, 2, HK_RED_SUM), HK_EINVAL, "kind");
    hk_assert_fails(hk_consistency_forward(&L, HK_CONS_MSE, z, z, 1, 2, (hk_reduction)7), HK_EINVAL, "reduction");
    hk_assert_fails(hk_consistency_backward(d, NULL, NAN, HK_CONS_MSE, z, z, 1, 2, HK_RED_SUM), HK_ENAN, "dloss");
}
END_TEST

Suite *suite_consistency(void)
{
    Suite *s = suite_create("consistency");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, two_class_closed_forms);
    tcase_add_test(core, agrees_with_naive_formula_at_moderate_logits);
    tcase_add_test(core, mean_is_sum_over_rows_and_dloss_scales);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, finite_where_naive_code_is_not);
    tcase_add_test(lim, gradient_rows_sum_to_zero_and_constant_side_policy);
    tcase_add_test(lim, names_parse_and_errors);
    suite_add_tcase(s, lim);
    return s;
}
