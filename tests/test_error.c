/* hkref — the one error path (ref/error.c): message format, codes, clearing,
 * truncation, and hk_check_finite's scan.  Written to kill the mutants
 * `make mutate` found surviving in error.c (see tools/scripts/mutate.py). */
#include "hk_test.h"

#include <stdlib.h>

START_TEST(error_set_records_basename_line_message_and_code)
{
    hk_error_clear();
    int s = hk_error_set(HK_EDOM, "some/dir/dropkey.c", 42, "p must be in [0, 1) (got %g)", 1.5);
    ck_assert_int_eq(s, HK_EDOM);
    ck_assert_int_eq(hk_error_code(), HK_EDOM);
    ck_assert_str_eq(hk_error_message(), "dropkey.c:42: p must be in [0, 1) (got 1.5)");
    /* No directory: the name as given; NULL file: "?". */
    hk_error_set(HK_EIO, "plain.c", 7, "x");
    ck_assert_str_eq(hk_error_message(), "plain.c:7: x");
    ck_assert_int_eq(hk_error_code(), HK_EIO);
    hk_error_set(HK_EINVAL, NULL, 3, "y %d", 9);
    ck_assert_str_eq(hk_error_message(), "?:3: y 9");
    /* A trailing slash leaves an empty basename. */
    hk_error_set(HK_EINVAL, "dir/", 1, "z");
    ck_assert_str_eq(hk_error_message(), ":1: z");
}
END_TEST

START_TEST(error_clear_resets_message_and_code)
{
    hk_error_set(HK_EFORMAT, "a.c", 1, "bad header");
    hk_error_clear();
    ck_assert_str_eq(hk_error_message(), "");
    ck_assert_int_eq(hk_error_code(), HK_OK);
}
END_TEST

START_TEST(error_long_messages_are_truncated_not_overflowed)
{
    /* A 2000-character message fills the 1024-byte buffer: 1023 chars + NUL. */
    char *big = malloc(2001);
    ck_assert_ptr_nonnull(big);
    memset(big, 'm', 2000);
    big[2000] = '\0';
    hk_error_set(HK_EINVAL, "f.c", 12, "%s", big);
    const char *m = hk_error_message();
    ck_assert_uint_eq(strlen(m), 1023);
    ck_assert(strncmp(m, "f.c:12: mmm", 11) == 0);
    /* A file name longer than the buffer: the prefix is dropped (k = 0) and the
     * message text itself starts the buffer. */
    char *longname = malloc(1201);
    ck_assert_ptr_nonnull(longname);
    memset(longname, 'n', 1200);
    longname[1200] = '\0';
    hk_error_set(HK_EIO, longname, 5, "short text %d", 17);
    ck_assert_str_eq(hk_error_message(), "short text 17");
    /* Exactly at the edge: prefix of 1023 chars fits (k = 1023 < 1024), and
     * leaves room only for the NUL. */
    longname[1023 - 4] = '\0'; /* "<1019 n>:5: " is 1019 + 4 = 1023 chars */
    hk_error_set(HK_EIO, longname, 5, "tail");
    ck_assert_uint_eq(strlen(hk_error_message()), 1023);
    ck_assert(hk_error_message()[0] == 'n');
    /* One more char: prefix would be 1024 = sizeof buffer -> dropped. */
    longname[1019] = 'n';
    longname[1020] = '\0';
    hk_error_set(HK_EIO, longname, 5, "tail");
    ck_assert_str_eq(hk_error_message(), "tail");
    free(big);
    free(longname);
}
END_TEST

START_TEST(strerror_names_every_code)
{
    static const struct { int code; const char *name; } t[] = {
        {HK_OK, "OK"},
        {HK_EINVAL, "EINVAL (invalid argument)"},
        {HK_EDOM, "EDOM (value out of range)"},
        {HK_ESHAPE, "ESHAPE (shape mismatch)"},
        {HK_ENAN, "ENAN (NaN or Inf input)"},
        {HK_ENOMEM, "ENOMEM (out of memory or size overflow)"},
        {HK_EIO, "EIO (file error)"},
        {HK_EFORMAT, "EFORMAT (malformed file)"},
        {HK_ENOTFOUND, "ENOTFOUND (no such name)"},
        {HK_EFAIL, "EFAIL (check failed)"},
        {10, "unknown error"},
        {-1, "unknown error"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) ck_assert_str_eq(hk_strerror(t[i].code), t[i].name);
}
END_TEST

START_TEST(check_finite_scans_exactly_n_and_names_first_bad_index)
{
    double x[6] = {0.25, -3.5, 1e300, -1e-310, 2.385, NAN};
    hk_assert_ok(hk_check_finite(x, 5, "x")); /* x[5] = NaN is outside n = 5 */
    hk_assert_ok(hk_check_finite(x, 0, "x"));
    hk_assert_fails(hk_check_finite(x, 6, "x"), HK_ENAN, "x[5] is nan");
    double y[4] = {NAN, 1.0, INFINITY, 2.0};
    hk_assert_fails(hk_check_finite(y, 4, "inp"), HK_ENAN, "inp[0] is nan");
    double z[3] = {1.0, -INFINITY, INFINITY};
    hk_assert_fails(hk_check_finite(z, 3, "w"), HK_ENAN, "w[1] is -inf");
    double u[2] = {1.0, INFINITY};
    hk_assert_fails(hk_check_finite(u, 2, "u"), HK_ENAN, "u[1] is inf");
    hk_assert_fails(hk_check_finite(NULL, 2, "u"), HK_EINVAL, "'x' is NULL");
}
END_TEST

Suite *suite_error(void)
{
    Suite *s = suite_create("error");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, error_set_records_basename_line_message_and_code);
    tcase_add_test(core, error_clear_resets_message_and_code);
    tcase_add_test(core, strerror_names_every_code);
    tcase_add_test(core, check_finite_scans_exactly_n_and_names_first_bad_index);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, error_long_messages_are_truncated_not_overflowed);
    suite_add_tcase(s, lim);
    return s;
}
