/* hkref — the tensor comparison every test and the golden checker rely on
 * (ref/compare.c): thresholds at their boundary, non-finite values, the worst
 * element, the printed report and its multi-index.  Testing the checker
 * itself (STYLE "Test the checker"); written to kill the mutants `make
 * mutate` found surviving in compare.c. */
#include "hk_test.h"

#include <stdlib.h>

START_TEST(format_index_is_row_major_multi_index)
{
    char b[64];
    long sh[3] = {2, 3, 4};
    hk_format_index(b, sizeof b, 23, sh, 3);
    ck_assert_str_eq(b, "[1,2,3]");
    hk_format_index(b, sizeof b, 0, sh, 3);
    ck_assert_str_eq(b, "[0,0,0]");
    hk_format_index(b, sizeof b, 13, sh, 3); /* 13 = 1*12 + 0*4 + 1 */
    ck_assert_str_eq(b, "[1,0,1]");
    hk_format_index(b, sizeof b, 6, sh + 1, 2); /* shape (3,4) */
    ck_assert_str_eq(b, "[1,2]");
    hk_format_index(b, sizeof b, 5, sh, 1); /* shape (2): out-of-range flat index wraps (5 mod 2) */
    ck_assert_str_eq(b, "[1]");
    hk_format_index(b, sizeof b, 17, NULL, 3);
    ck_assert_str_eq(b, "[17]");
    hk_format_index(b, sizeof b, 17, sh, 0);
    ck_assert_str_eq(b, "[17]");
    long z[2] = {0, 5}; /* a zero extent counts as 1 (no division by zero) */
    hk_format_index(b, sizeof b, 7, z, 2);
    ck_assert_str_eq(b, "[0,2]");
}
END_TEST

START_TEST(format_index_truncates_to_buffer)
{
    long sh[3] = {20, 30, 40};
    char b[6];
    memset(b, 'x', sizeof b);
    hk_format_index(b, sizeof b, 19 * 1200 + 29 * 40 + 39, sh, 3); /* "[19,29,39]" */
    ck_assert_str_eq(b, "[19,2");
    char c[11];
    hk_format_index(c, sizeof c, 19 * 1200 + 29 * 40 + 39, sh, 3);
    ck_assert_str_eq(c, "[19,29,39]"); /* exactly fits with its NUL */
    char d[10];
    hk_format_index(d, sizeof d, 19 * 1200 + 29 * 40 + 39, sh, 3);
    ck_assert_str_eq(d, "[19,29,39"); /* no room for ']' */
    /* More than 16 dimensions: the last 16 extents are the ones shown. */
    long many[18];
    for (int i = 0; i < 18; i++) many[i] = 2;
    char e[128];
    hk_format_index(e, sizeof e, 1, many, 18);
    ck_assert_str_eq(e, "[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1]");
}
END_TEST

START_TEST(compare_threshold_is_atol_plus_rtol_ref_inclusive)
{
    /* Exact binary values: err = |g - r| is exact, thresholds are exact. */
    double ref[4] = {2.0, -4.0, 0.0, 8.0};
    double got[4] = {2.25, -4.5, 0.125, 8.0};
    hk_cmp_result r;
    /* thr_i = 0.125 + 0.0625 |ref_i| = {0.25, 0.375, 0.125, 0.625}; errs {0.25, 0.5, 0.125, 0} */
    ck_assert_int_eq(hk_compare(got, ref, 4, NULL, 0, "t", 0.125, 0.0625, NULL, 0, &r), HK_OK);
    ck_assert_int_eq(r.n, 4);
    ck_assert_int_eq(r.nfail, 1); /* only element 1 (0.5 > 0.375); equality passes */
    ck_assert_int_eq(r.worst_index, 1);
    ck_assert(r.worst_got == -4.5 && r.worst_ref == -4.0);
    ck_assert(r.worst_ratio == 0.5 / 0.375);
    ck_assert(r.max_abs == 0.5);
    ck_assert(r.max_rel == INFINITY); /* element 2: err 0.125 against ref 0 */
    /* rtol only */
    ck_assert_int_eq(hk_compare(got, ref, 2, NULL, 0, "t", 0.0, 0.125, NULL, 0, &r), HK_OK);
    ck_assert_int_eq(r.nfail, 0); /* 0.25 <= 0.25, 0.5 <= 0.5 */
    ck_assert(r.max_rel == 0.125);
    ck_assert(r.worst_ratio == 1.0);
    ck_assert_int_eq(hk_compare(got, ref, 2, NULL, 0, "t", 0.0, 0.0625, NULL, 0, &r), HK_OK);
    ck_assert_int_eq(r.nfail, 2);
    ck_assert(r.worst_ratio == 2.0);
    ck_assert_int_eq(r.worst_index, 0); /* ties keep the first */
}
END_TEST

START_TEST(compare_zero_threshold_and_identical_values)
{
    double a[3] = {1.5, -2.0, 0.0}, b[3] = {1.5, -2.0, 0.0}, c[3] = {1.5, -2.0, 1e-300};
    hk_cmp_result r;
    ck_assert_int_eq(hk_compare(a, b, 3, NULL, 0, "z", 0.0, 0.0, NULL, 0, &r), HK_OK);
    ck_assert_int_eq(r.nfail, 0);
    ck_assert(r.worst_ratio == 0.0 && r.max_abs == 0.0 && r.max_rel == 0.0);
    ck_assert_int_eq(r.worst_index, 0);
    /* identical values under a zero threshold: ratio 0 (not 0/0), so the worst is element 0 with its values */
    ck_assert(r.worst_got == 1.5 && r.worst_ref == 1.5);
    ck_assert_int_eq(hk_compare(c, b, 3, NULL, 0, "z", 0.0, 0.0, NULL, 0, &r), HK_OK);
    ck_assert_int_eq(r.nfail, 1); /* any difference fails a zero threshold */
    ck_assert_int_eq(r.worst_index, 2);
    ck_assert(r.worst_ratio == INFINITY && r.worst_got == 1e-300 && r.worst_ref == 0.0);
    ck_assert(r.max_abs == 1e-300);
}
END_TEST

START_TEST(compare_non_finite_values)
{
    double ref[6] = {INFINITY, -INFINITY, 1.0, NAN, 2.0, INFINITY};
    double got[6] = {INFINITY, -INFINITY, NAN, 1.0, INFINITY, -INFINITY};
    hk_cmp_result r;
    ck_assert_int_eq(hk_compare(got, ref, 6, NULL, 0, "nf", 1.0, 1.0, NULL, 0, &r), HK_OK);
    ck_assert_int_eq(r.nfail, 4); /* equal infinities pass; NaN either side, inf vs finite, inf vs -inf fail */
    ck_assert_int_eq(r.worst_index, 2); /* first infinite ratio */
    ck_assert(isnan(r.worst_got) && r.worst_ref == 1.0);
    ck_assert(r.max_abs == 0.0 && r.max_rel == 0.0); /* max errors are over finite pairs only */
    ck_assert_int_eq(hk_compare(got, ref, 2, NULL, 0, "nf", 0.0, 0.0, NULL, 0, &r), HK_OK);
    ck_assert_int_eq(r.nfail, 0);
    ck_assert(r.worst_ratio == 0.0);
    double g1[1] = {INFINITY}, r1[1] = {INFINITY}, g2[1] = {-INFINITY};
    ck_assert_int_eq(hk_compare(g2, r1, 1, NULL, 0, "nf", 1.0, 1.0, NULL, 0, &r), HK_OK);
    ck_assert_int_eq(r.nfail, 1);
    ck_assert(r.worst_ratio == INFINITY);
    ck_assert_int_eq(hk_compare(r1, g2, 1, NULL, 0, "nf", 1.0, 1.0, NULL, 0, &r), HK_OK);
    ck_assert_int_eq(r.nfail, 1);
    ck_assert_int_eq(hk_compare(g1, r1, 1, NULL, 0, "nf", 0.0, 0.0, NULL, 0, &r), HK_OK);
    ck_assert_int_eq(r.nfail, 0);
}
END_TEST

START_TEST(compare_worst_is_largest_ratio_not_largest_error)
{
    /* err {0.5, 1, 0.25}; thr = 0 + 0.5|ref| = {0.5, 4, 0.125}: ratios {1, 0.25, 2}. */
    double ref[3] = {1.0, 8.0, 0.25}, got[3] = {1.5, 9.0, 0.5};
    hk_cmp_result r;
    ck_assert_int_eq(hk_compare(got, ref, 3, NULL, 0, "w", 0.0, 0.5, NULL, 0, &r), HK_OK);
    ck_assert_int_eq(r.worst_index, 2);
    ck_assert(r.worst_ratio == 2.0 && r.worst_got == 0.5 && r.worst_ref == 0.25);
    ck_assert(r.max_abs == 1.0 && r.max_rel == 1.0);
    ck_assert_int_eq(r.nfail, 1);
    /* The worst is found past a passing first element. */
    double ref2[3] = {1.0, 1.0, 1.0}, got2[3] = {1.0, 1.25, 1.5};
    ck_assert_int_eq(hk_compare(got2, ref2, 3, NULL, 0, "w", 0.5, 0.0, NULL, 0, &r), HK_OK);
    ck_assert_int_eq(r.worst_index, 2);
    ck_assert(r.worst_ratio == 1.0 && r.nfail == 0);
}
END_TEST

START_TEST(compare_prints_first_failures_with_multi_index)
{
    double ref[6] = {0, 1, 2, 3, 4, 5}, got[6] = {0, 1.5, 2, 3.5, 4.5, 5.5};
    long sh[2] = {2, 3};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    hk_cmp_result r;
    ck_assert_int_eq(hk_compare(got, ref, 6, sh, 2, "attn.dqkv", 0.25, 0.0, f, 2, &r), HK_OK);
    fclose(f);
    ck_assert_int_eq(r.nfail, 4);
    ck_assert_str_eq(buf, "    attn.dqkv[0,1]: got 1.5 ref 1 abs err 0.5 threshold 0.25\n"
                          "    attn.dqkv[1,0]: got 3.5 ref 3 abs err 0.5 threshold 0.25\n");
    free(buf);
    /* max_print 0 prints nothing; a NULL log is allowed. */
    f = open_memstream(&buf, &len);
    ck_assert_int_eq(hk_compare(got, ref, 6, sh, 2, "x", 0.25, 0.0, f, 0, &r), HK_OK);
    fclose(f);
    ck_assert_uint_eq(len, 0);
    free(buf);
    ck_assert_int_eq(hk_compare(got, ref, 6, sh, 2, NULL, 0.25, 0.0, NULL, 10, &r), HK_OK);
    ck_assert_int_eq(r.nfail, 4);
}
END_TEST

START_TEST(compare_rejects_bad_arguments)
{
    double a[2] = {1, 2};
    hk_cmp_result r;
    hk_assert_fails(hk_compare(a, a, 2, NULL, 0, "t", 0, 0, NULL, 0, NULL), HK_EINVAL, "'res' is NULL");
    hk_assert_fails(hk_compare(a, a, -1, NULL, 0, "t", 0, 0, NULL, 0, &r), HK_EINVAL, "got -1");
    hk_assert_fails(hk_compare(NULL, a, 2, NULL, 0, "t", 0, 0, NULL, 0, &r), HK_EINVAL, "NULL");
    hk_assert_fails(hk_compare(a, NULL, 2, NULL, 0, "t", 0, 0, NULL, 0, &r), HK_EINVAL, "NULL");
    hk_assert_fails(hk_compare(a, a, 2, NULL, 0, "tol", -1e-9, 0, NULL, 0, &r), HK_EDOM, "'tol'");
    hk_assert_fails(hk_compare(a, a, 2, NULL, 0, "tol", 0, -1e-9, NULL, 0, &r), HK_EDOM, "rtol -1e-09");
    hk_assert_fails(hk_compare(a, a, 2, NULL, 0, NULL, NAN, 0, NULL, 0, &r), HK_EDOM, "'?'");
    hk_assert_fails(hk_compare(a, a, 2, NULL, 0, "t", 0, NAN, NULL, 0, &r), HK_EDOM, "not NaN");
    /* n = 0 needs no data and has no worst element. */
    hk_assert_ok(hk_compare(NULL, NULL, 0, NULL, 0, "t", 0, 0, NULL, 0, &r));
    ck_assert_int_eq(r.n, 0);
    ck_assert_int_eq(r.nfail, 0);
    ck_assert_int_eq(r.worst_index, -1);
    /* the result is reset on each call */
    double g[1] = {5};
    hk_assert_ok(hk_compare(g, a, 1, NULL, 0, "t", 0, 0, NULL, 0, &r));
    hk_assert_ok(hk_compare(a, a, 1, NULL, 0, "t", 0, 0, NULL, 0, &r));
    ck_assert_int_eq(r.nfail, 0);
    ck_assert(r.max_abs == 0.0);
}
END_TEST

/* Per-row atol: row r's elements pass up to atol_row[r] + rtol |ref|; the
 * same error passes in a row with a large scale and fails in a small one. */
START_TEST(compare_rows_uses_each_rows_atol)
{
    double ref[6] = {0.0, 1.0, 0.0, 0.0, 1.0, 0.0}, got[6];
    double arow[2] = {1e-3, 1e-6};
    long sh[2] = {2, 3};
    for (int i = 0; i < 6; i++) got[i] = ref[i] + 5e-4; /* 5e-4 <= 1e-3 + 0 (row 0), > 1e-6 (row 1, zeros) */
    hk_cmp_result r;
    hk_assert_ok(hk_compare_rows(got, ref, 6, sh, 2, "t", arow, 3, 0.0, NULL, 0, &r));
    ck_assert_int_eq(r.nfail, 3); /* all of row 1 */
    ck_assert_int_ge(r.worst_index, 3);
    hk_assert_ok(hk_compare_rows(got, ref, 6, sh, 2, "t", arow, 3, 1e-3, NULL, 0, &r));
    ck_assert_int_eq(r.nfail, 2); /* row 1's 1.0 now passes by rtol (5e-4 <= 1e-6 + 1e-3) */
    hk_assert_ok(hk_compare_rows(got, ref, 6, sh, 2, "t", NULL, 3, 1e-3, NULL, 0, &r)); /* NULL: scalar atol 0 */
    ck_assert_int_eq(r.nfail, 4);
    double bad[2] = {1e-3, -1.0};
    hk_assert_fails(hk_compare_rows(got, ref, 6, sh, 2, "t", bad, 3, 0.0, NULL, 0, &r), HK_EDOM, "row tolerance");
    hk_assert_fails(hk_compare_rows(got, ref, 6, sh, 2, "t", arow, 4, 0.0, NULL, 0, &r), HK_EINVAL, "row length");
}
END_TEST

Suite *suite_compare(void)
{
    Suite *s = suite_create("compare");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, format_index_is_row_major_multi_index);
    tcase_add_test(core, compare_threshold_is_atol_plus_rtol_ref_inclusive);
    tcase_add_test(core, compare_worst_is_largest_ratio_not_largest_error);
    tcase_add_test(core, compare_prints_first_failures_with_multi_index);
    tcase_add_test(core, compare_rows_uses_each_rows_atol);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, format_index_truncates_to_buffer);
    tcase_add_test(lim, compare_zero_threshold_and_identical_values);
    tcase_add_test(lim, compare_non_finite_values);
    tcase_add_test(lim, compare_rejects_bad_arguments);
    suite_add_tcase(s, lim);
    return s;
}
