/* hkref — shared helpers for the Check test suites.
 *
 * Each tests/test_<module>.c defines `Suite *suite_<module>(void)`; the
 * Makefile lists every tests/test_*.c FILE in build/gen/suites.inc and tests/run_tests.c runs
 * them all in one SRunner, so the gate prints one Check summary line.
 * Run one suite: CK_RUN_SUITE=<module> build/run_tests
 * Run one test case: CK_RUN_CASE=<tcase> build/run_tests */
#ifndef HK_TEST_H
#define HK_TEST_H

#define CK_FLOATING_DIG 17
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "ref/compare.h"
#include "ref/error.h"

/* One prototype per tests/test_<name>.c, from the generated list: a file
 * that defines a misspelt suite function then fails -Werror=missing-prototypes,
 * and one that defines none fails the runner's link. */
#define HK_SUITE(name) Suite *suite_##name(void);
#include "suites.inc"
#undef HK_SUITE

/* Asserts a ref/ call succeeded, showing the recorded message if not. */
#define hk_assert_ok(expr)                                                                   \
    do {                                                                                     \
        hk_error_clear();                                                                    \
        int hk_s_ = (expr);                                                                  \
        ck_assert_msg(hk_s_ == HK_OK, "%s failed: %s", #expr, hk_error_message());           \
    } while (0)

/* Asserts a ref/ call failed with `code` and that its message names `word`. */
#define hk_assert_fails(expr, code, word)                                                    \
    do {                                                                                     \
        hk_error_clear();                                                                    \
        int hk_s_ = (expr);                                                                  \
        ck_assert_msg(hk_s_ == (code), "%s returned %d (%s), expected %s; message: %s", #expr, \
                      hk_s_, hk_strerror(hk_s_), hk_strerror(code), hk_error_message());      \
        ck_assert_msg(strstr(hk_error_message(), (word)) != NULL,                             \
                      "message of %s does not name '%s': %s", #expr, (word), hk_error_message()); \
    } while (0)

/* Element-wise |got-ref| <= atol + rtol|ref|, printing the first 10 failures. */
#define hk_assert_close(got, ref, count, name, atol, rtol)                                       \
    do {                                                                                     \
        hk_cmp_result hk_r_;                                                                 \
        long hk_sh_[1] = {(long)(count)};                                                        \
        ck_assert_int_eq(hk_compare((got), (ref), (count), hk_sh_, 1, (name), (atol), (rtol), stderr, 10, &hk_r_), 0); \
        ck_assert_msg(hk_r_.nfail == 0, "%s: %ld of %ld elements differ; worst [%ld] got %.17g ref %.17g (max abs %.3g)", \
                      (name), hk_r_.nfail, hk_r_.n, hk_r_.worst_index, hk_r_.worst_got, hk_r_.worst_ref, hk_r_.max_abs); \
    } while (0)

#include <string.h>

#endif
