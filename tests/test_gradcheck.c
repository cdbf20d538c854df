/* hkref — the finite-difference checker itself (ref/gradcheck.c): it must
 * pass correct gradients, fail wrong ones with the right report, honour its
 * options, call FD "inconclusive" at the documented bound, and reject bad
 * arguments.  Testing the checker (STYLE "Test the checker"); written to
 * kill the mutants `make mutate` found surviving in gradcheck.c. */
#include "hk_test.h"

#include "ref/gradcheck.h"

#include <gsl/gsl_errno.h>

/* L = sum_i a_i x_i^2 / 2 + b_i x_i  +  y0 * y1 - 1.5 y1 */
typedef struct {
    double x[3], y[2];
    double maxdev, x0; /* largest |x[0] - x0| seen: reveals the step h */
    int nan_at_y1;     /* loss is NaN when y[1] is perturbed */
} quad;

static const double qa[3] = {1.5, -0.75, 2.385}, qb[3] = {0.25, -1.0, 0.5};

static double quad_loss(void *p)
{
    quad *q = p;
    double L = 0;
    for (int i = 0; i < 3; i++) L += 0.5 * qa[i] * q->x[i] * q->x[i] + qb[i] * q->x[i];
    L += q->y[0] * q->y[1] - 1.5 * q->y[1];
    double d = fabs(q->x[0] - q->x0);
    if (d > q->maxdev) q->maxdev = d;
    if (q->nan_at_y1 && q->y[1] != 0.625) return NAN;
    return L;
}

static void quad_init(quad *q, double gx[3], double gy[2])
{
    memset(q, 0, sizeof *q);
    q->x[0] = 0.3, q->x[1] = -1.1, q->x[2] = 0.7;
    q->y[0] = -0.4, q->y[1] = 0.625;
    q->x0 = q->x[0];
    for (int i = 0; i < 3; i++) gx[i] = qa[i] * q->x[i] + qb[i];
    gy[0] = q->y[1];
    gy[1] = q->y[0] - 1.5;
}

START_TEST(gradcheck_passes_correct_gradients_and_restores_values)
{
    quad q;
    double gx[3], gy[2];
    quad_init(&q, gx, gy);
    quad saved = q;
    hk_gc_var v[2] = {{"x", q.x, gx, 3}, {"y", q.y, gy, 2}};
    hk_gc_report rep;
    hk_assert_ok(hk_gradcheck(quad_loss, &q, v, 2, NULL, &rep));
    ck_assert_int_eq(rep.checked, 5);
    ck_assert_int_eq(rep.failed, 0);
    ck_assert_int_eq(rep.inconclusive, 0);
    ck_assert(rep.worst_ratio >= 0.0 && rep.worst_ratio < 1.0);
    ck_assert(memcmp(q.x, saved.x, sizeof q.x) == 0 && memcmp(q.y, saved.y, sizeof q.y) == 0);
    /* default step h = 1e-4 (GSL evaluates at x +- h and x +- h/2) */
    ck_assert_msg(fabs(q.maxdev - 1e-4) < 1e-12, "max |dx| = %.17g, want h = 1e-4", q.maxdev);
    /* The reported worst coordinate is consistent with its own numbers. */
    ck_assert(rep.worst_err == fabs(rep.worst_analytic - rep.worst_numeric));
    ck_assert(rep.worst_tol == HK_GC_DEFAULT_ATOL + HK_GC_DEFAULT_RTOL * fabs(rep.worst_numeric));
    ck_assert(rep.worst_ratio == rep.worst_err / rep.worst_tol);
}
END_TEST

static double zero_loss(void *p) { (void)p; return 0.0; }

START_TEST(gradcheck_worst_defaults_to_first_coordinate_when_all_exact)
{
    double x[2] = {0.5, 1.5}, g[2] = {0, 0}, y[1] = {2.0}, gy[1] = {0};
    hk_gc_var v[2] = {{"first", x, g, 2}, {"second", y, gy, 1}};
    hk_gc_report rep;
    hk_assert_ok(hk_gradcheck(zero_loss, NULL, v, 2, NULL, &rep));
    ck_assert_int_eq(rep.checked, 3);
    ck_assert(rep.worst_ratio == 0.0);
    ck_assert_str_eq(rep.worst_var, "first");
    ck_assert_int_eq(rep.worst_index, 0);
    /* A variable with n = 0 is allowed and checks nothing. */
    hk_gc_var e[1] = {{"empty", x, g, 0}};
    hk_assert_ok(hk_gradcheck(zero_loss, NULL, e, 1, NULL, &rep));
    ck_assert_int_eq(rep.checked, 0);
    ck_assert(rep.worst_ratio == -1.0); /* nothing compared */
}
END_TEST

START_TEST(gradcheck_fails_wrong_gradients_anywhere)
{
    /* One wrong coordinate at a time: first, middle, last; above and below. */
    static const struct { int var; int idx; double delta; } t[] = {
        {0, 0, 0.5}, {0, 1, -0.5}, {0, 2, 1e-3}, {1, 0, -2e-4}, {1, 1, 0.25},
    };
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        quad q;
        double gx[3], gy[2];
        quad_init(&q, gx, gy);
        double *gv = t[k].var ? gy : gx;
        double right = gv[t[k].idx];
        gv[t[k].idx] += t[k].delta;
        hk_gc_var v[2] = {{"x", q.x, gx, 3}, {"y", q.y, gy, 2}};
        hk_gc_report rep;
        hk_assert_ok(hk_gradcheck(quad_loss, &q, v, 2, NULL, &rep));
        ck_assert_msg(rep.failed == 1 && rep.inconclusive == 0, "case %zu: failed %ld", k, rep.failed);
        ck_assert_int_eq(rep.checked, 5);
        ck_assert_str_eq(rep.worst_var, t[k].var ? "y" : "x");
        ck_assert_int_eq(rep.worst_index, t[k].idx);
        ck_assert(rep.worst_analytic == right + t[k].delta);
        ck_assert_msg(fabs(rep.worst_numeric - right) < 1e-9, "fd %.17g vs %.17g", rep.worst_numeric, right);
        ck_assert(fabs(rep.worst_err - fabs(t[k].delta)) < 1e-9);
        ck_assert(rep.worst_ratio > 1.0 && rep.worst_ratio == rep.worst_err / rep.worst_tol);
        ck_assert(rep.worst_fd_abserr >= 0 && rep.worst_fd_abserr < 1e-8);
    }
    /* A NaN analytic gradient fails and ranks worst. */
    quad q;
    double gx[3], gy[2];
    quad_init(&q, gx, gy);
    gx[1] = NAN;
    hk_gc_var v[2] = {{"x", q.x, gx, 3}, {"y", q.y, gy, 2}};
    hk_gc_report rep;
    hk_assert_ok(hk_gradcheck(quad_loss, &q, v, 2, NULL, &rep));
    ck_assert_int_eq(rep.failed, 1);
    ck_assert_int_eq(rep.worst_index, 1);
    ck_assert(rep.worst_ratio == INFINITY);
}
END_TEST

START_TEST(gradcheck_uses_the_given_options)
{
    quad q;
    double gx[3], gy[2];
    quad_init(&q, gx, gy);
    gx[2] += 5e-6; /* fails the default 1e-8 + 1e-6 |g| (|g| ~ 2.17: tol ~ 2.2e-6), passes atol 1e-5 */
    hk_gc_var v[2] = {{"x", q.x, gx, 3}, {"y", q.y, gy, 2}};
    hk_gc_report rep;
    hk_assert_ok(hk_gradcheck(quad_loss, &q, v, 2, NULL, &rep));
    ck_assert_int_eq(rep.failed, 1);
    hk_gc_opts o = {0.25, 1e-5, 0.0};
    q.maxdev = 0;
    hk_assert_ok(hk_gradcheck(quad_loss, &q, v, 2, &o, &rep));
    ck_assert_int_eq(rep.failed, 0);
    ck_assert(q.maxdev >= 0.25); /* the step h = 0.25 was used, not the default */
    ck_assert(rep.worst_tol == 1e-5);
}
END_TEST

static double exp_loss(void *p) { return exp(*(double *)p); }

START_TEST(gradcheck_inconclusive_at_a_quarter_of_tolerance)
{
    /* FD's own error estimate A decides: inconclusive iff A > 0.25 * tol. */
    double x = 0.3, g = 0;
    hk_gc_var v[1] = {{"e", &x, &g, 1}};
    hk_gc_report rep;
    hk_gc_opts big = {1e-4, 1.0, 0.0};
    hk_assert_ok(hk_gradcheck(exp_loss, &x, v, 1, &big, &rep));
    double fd = rep.worst_numeric, A = rep.worst_fd_abserr;
    ck_assert(A > 0 && A < 1e-9);
    g = fd; /* err = 0 exactly */
    hk_gc_opts o1 = {1e-4, A / 0.3, 0.0}; /* A = 0.3 tol: inconclusive */
    hk_assert_ok(hk_gradcheck(exp_loss, &x, v, 1, &o1, &rep));
    ck_assert_int_eq(rep.inconclusive, 1);
    ck_assert_int_eq(rep.failed, 1);
    ck_assert(rep.worst_ratio == 1.0 + A / (A / 0.3)); /* ranked as failing */
    hk_gc_opts o2 = {1e-4, 4 * A, 0.0};                /* A = 0.25 tol exactly: conclusive */
    hk_assert_ok(hk_gradcheck(exp_loss, &x, v, 1, &o2, &rep));
    ck_assert_int_eq(rep.inconclusive, 0);
    ck_assert_int_eq(rep.failed, 0);
    ck_assert(rep.worst_ratio == 0.0);
    hk_gc_opts o3 = {1e-4, 3 * A, 0.0}; /* inconclusive with A = tol / 3 */
    hk_assert_ok(hk_gradcheck(exp_loss, &x, v, 1, &o3, &rep));
    ck_assert_int_eq(rep.inconclusive, 1);
    /* err exactly equal to tol passes the tolerance; if also inconclusive, the
     * ratio stays exactly 1 (already failing rank). */
    double tol = ldexp(1.0, (int)floor(log2(2 * A))); /* power of two in (A, 2A] */
    g = fd + tol;
    ck_assert(fabs(g - fd) == tol);
    hk_gc_opts o4 = {1e-4, tol, 0.0};
    hk_assert_ok(hk_gradcheck(exp_loss, &x, v, 1, &o4, &rep));
    ck_assert_int_eq(rep.inconclusive, 1);
    ck_assert(rep.worst_ratio == 1.0);
    hk_gc_opts o5 = {1e-4, 8 * tol, 0.0}; /* err = tol/8: passes, conclusive */
    hk_assert_ok(hk_gradcheck(exp_loss, &x, v, 1, &o5, &rep));
    ck_assert_int_eq(rep.failed, 0);
    ck_assert(rep.worst_ratio == 0.125);
}
END_TEST

START_TEST(gradcheck_reports_non_finite_loss_and_stops)
{
    quad q;
    double gx[3], gy[2];
    quad_init(&q, gx, gy);
    q.nan_at_y1 = 1;
    hk_gc_var v[2] = {{"x", q.x, gx, 3}, {"y", q.y, gy, 2}};
    hk_gc_report rep;
    hk_assert_fails(hk_gradcheck(quad_loss, &q, v, 2, NULL, &rep), HK_ENAN, "perturbing y[1]");
    ck_assert_int_eq(rep.checked, 4); /* x[0..2], y[0]; stops at y[1] */
    ck_assert(q.y[1] == 0.625);      /* restored even on error */
}
END_TEST

static void my_handler(const char *reason, const char *file, int line, int gsl_errno)
{
    (void)reason, (void)file, (void)line, (void)gsl_errno;
}

START_TEST(gradcheck_restores_the_gsl_error_handler)
{
    gsl_error_handler_t *before = gsl_set_error_handler(my_handler);
    double x = 0.5, g = 0;
    hk_gc_var v[1] = {{"z", &x, &g, 1}};
    hk_gc_report rep;
    hk_assert_ok(hk_gradcheck(zero_loss, NULL, v, 1, NULL, &rep));
    gsl_error_handler_t *after = gsl_set_error_handler(before);
    ck_assert(after == my_handler);
}
END_TEST

START_TEST(gradcheck_rejects_bad_arguments)
{
    double x[2] = {1, 2}, g[2] = {0, 0};
    hk_gc_var v[2] = {{"a", x, g, 2}, {"b", x, g, 2}};
    hk_gc_report rep;
    hk_assert_fails(hk_gradcheck(NULL, NULL, v, 1, NULL, &rep), HK_EINVAL, "'f' is NULL");
    hk_assert_fails(hk_gradcheck(zero_loss, NULL, NULL, 1, NULL, &rep), HK_EINVAL, "'vars' is NULL");
    hk_assert_fails(hk_gradcheck(zero_loss, NULL, v, 1, NULL, NULL), HK_EINVAL, "'rep' is NULL");
    hk_assert_fails(hk_gradcheck(zero_loss, NULL, v, 0, NULL, &rep), HK_EINVAL, "nvars must be > 0 (got 0)");
    hk_assert_fails(hk_gradcheck(zero_loss, NULL, v, -2, NULL, &rep), HK_EINVAL, "got -2");
    static const hk_gc_opts bad[] = {
        {0.0, 1e-8, 1e-6}, {-1e-4, 1e-8, 1e-6}, {INFINITY, 1e-8, 1e-6}, {NAN, 1e-8, 1e-6},
        {1e-4, -1e-8, 1e-6}, {1e-4, 1e-8, -1e-6}, {1e-4, 0.0, 0.0}, {1e-4, INFINITY, 1e-6},
        {1e-4, 1e-8, NAN}, {1e-4, NAN, 1e-6},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        hk_error_clear();
        int s = hk_gradcheck(zero_loss, NULL, v, 1, &bad[k], &rep);
        ck_assert_msg(s == HK_EDOM, "bad opts %zu accepted (status %d)", k, s);
        ck_assert(strstr(hk_error_message(), "gradcheck") != NULL);
    }
    /* atol = 0 alone, or rtol = 0 alone, is fine */
    hk_gc_opts ok1 = {1e-4, 0.0, 1e-6}, ok2 = {1e-4, 1e-8, 0.0};
    hk_assert_ok(hk_gradcheck(zero_loss, NULL, v, 1, &ok1, &rep));
    hk_assert_ok(hk_gradcheck(zero_loss, NULL, v, 1, &ok2, &rep));
    hk_gc_var nx[2] = {{"a", x, g, 2}, {"bx", NULL, g, 2}};
    hk_assert_fails(hk_gradcheck(zero_loss, NULL, nx, 2, NULL, &rep), HK_EINVAL, "variable 1 ('bx')");
    ck_assert_int_eq(rep.checked, 2);
    hk_gc_var ng[1] = {{"bg", x, NULL, 2}};
    hk_assert_fails(hk_gradcheck(zero_loss, NULL, ng, 1, NULL, &rep), HK_EINVAL, "'bg'");
    hk_gc_var nn[1] = {{NULL, x, g, -1}};
    hk_assert_fails(hk_gradcheck(zero_loss, NULL, nn, 1, NULL, &rep), HK_EINVAL, "('?') has NULL data or n < 0");
}
END_TEST

Suite *suite_gradcheck(void)
{
    Suite *s = suite_create("gradcheck");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, gradcheck_passes_correct_gradients_and_restores_values);
    tcase_add_test(core, gradcheck_fails_wrong_gradients_anywhere);
    tcase_add_test(core, gradcheck_uses_the_given_options);
    tcase_add_test(core, gradcheck_inconclusive_at_a_quarter_of_tolerance);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, gradcheck_worst_defaults_to_first_coordinate_when_all_exact);
    tcase_add_test(lim, gradcheck_reports_non_finite_loss_and_stops);
    tcase_add_test(lim, gradcheck_restores_the_gsl_error_handler);
    tcase_add_test(lim, gradcheck_rejects_bad_arguments);
    suite_add_tcase(s, lim);
    return s;
}
