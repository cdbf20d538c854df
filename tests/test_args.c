/* hkref — the CLI's one argument parser (tools/cli/args.h), in process:
 * every behaviour docs/cli.md promises, one test each, with the exact
 * message a user sees (stderr captured).  The commands built on it are
 * exercised end to end in tests/test_cliux.c. */
#include "hk_test.h"

#include "cli/args.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    long seed, n;
    double p, x;
    int flag, pat;
    const char *out, *k;
    const char *sets[3];
    int nset;
    const char *pos[2];
    int npos;
} vals;

static const char *const patterns[] = {"element", "column", "span", NULL};

static int custom_even(const hk_args *spec, const hk_opt *o, const char *v, void *dest)
{
    long x = strtol(v, NULL, 10);
    if (x % 2) return hk_args_error(spec, "--%s '%s' must be even", o->name, v);
    *(long *)dest = x;
    return 0;
}

static char err[2048];

/* Parses the NULL-terminated words (after the command name) into *v with the
 * demo-like table below; stderr of the call lands in err. */
static int parse(vals *v, const char *const *words)
{
    memset(v, 0, sizeof *v);
    v->seed = -1, v->pat = -1, v->p = -1;
    long even = 0;
    const hk_opt opts[] = {
        {.name = "seed", .kind = HK_OPT_LONG, .dest = &v->seed, .metavar = "S", .ilo = 0, .ihi = 4294967295L},
        {.name = "count", .kind = HK_OPT_LONG, .dest = &v->n, .metavar = "N", .ilo = LONG_MIN, .ihi = LONG_MAX},
        {.name = "p", .kind = HK_OPT_DOUBLE, .dest = &v->p, .metavar = "P", .lo = 0, .hi = 1, .flags = HK_OPT_HI_OPEN},
        {.name = "offset", .kind = HK_OPT_DOUBLE, .dest = &v->x, .metavar = "X", .lo = -10, .hi = 10},
        {.name = "pattern", .kind = HK_OPT_CHOICE, .dest = &v->pat, .choices = patterns},
        {.name = "out", .kind = HK_OPT_STR, .dest = &v->out, .metavar = "FILE"},
        {.name = "set", .kind = HK_OPT_LIST, .dest = v->sets, .metavar = "KEY=VALUE", .max = 3, .count = &v->nset},
        {.name = "quiet", .shortname = 'q', .kind = HK_OPT_FLAG, .dest = &v->flag},
        {.name = "", .shortname = 'k', .kind = HK_OPT_STR, .dest = &v->k, .metavar = "TEXT"},
        {.name = "even", .kind = HK_OPT_FUNC, .dest = &even, .parse = custom_even},
        {0}};
    const hk_args spec = {.cmd = "demo attention", .opts = opts, .pos = v->pos, .maxpos = 2, .posname = "FILE"};
    char *argv[32] = {"attention"};
    int argc = 1;
    for (; words[argc - 1] && argc < 31; argc++) argv[argc] = (char *)words[argc - 1];
    argv[argc] = NULL;
    char path[] = "/tmp/hkref-args-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fd, 2), 0);
    int rc = hk_args_parse(&spec, argc, argv, &v->npos);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t got = pread(fd, err, sizeof err - 1, 0);
    err[got > 0 ? got : 0] = '\0';
    close(fd);
    unlink(path);
    return rc;
}

#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Every failure is one line: "hkref demo attention: <what>; see 'hkref demo attention --help'". */
static void assert_one_line_error(int rc, const char *word)
{
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(!strncmp(err, "hkref demo attention: ", 22), "message does not start with the command: %s", err);
    const char *tail = "; see 'hkref demo attention --help'\n";
    size_t n = strlen(err), t = strlen(tail);
    ck_assert_msg(n > t && !strcmp(err + n - t, tail), "message does not end with the one hint: %s", err);
    ck_assert_msg(strchr(err, '\n') == err + n - 1, "message is not one line: %s", err);
    ck_assert_msg(strstr(err, word) != NULL, "message does not say '%s': %s", word, err);
    ck_assert_msg(!strstr(err, ".c:"), "message carries a C source location: %s", err);
}

START_TEST(equals_and_space_forms_are_the_same)
{
    vals a, b;
    ck_assert_int_eq(parse(&a, WORDS("--seed=7", "--p=0.25", "--pattern=span", "--out=x.csv", "-kdrop")), 0);
    ck_assert_int_eq(parse(&b, WORDS("--seed", "7", "--p", "0.25", "--pattern", "span", "--out", "x.csv", "-k", "drop")), 0);
    ck_assert_int_eq(a.seed, 7);
    ck_assert_int_eq(a.seed, b.seed);
    ck_assert(a.p == 0.25 && b.p == 0.25);
    ck_assert_int_eq(a.pat, 2);
    ck_assert_int_eq(b.pat, 2);
    ck_assert_str_eq(a.out, "x.csv");
    ck_assert_str_eq(b.out, "x.csv");
    ck_assert_str_eq(a.k, "drop");
    ck_assert_str_eq(b.k, "drop");
    ck_assert_str_eq(err, "");
    /* an empty value after '=' is a value (the option decides whether it is valid) */
    ck_assert_int_eq(parse(&a, WORDS("--out=")), 0);
    ck_assert_str_eq(a.out, "");
}
END_TEST

START_TEST(missing_value_is_named_as_such)
{
    vals v;
    assert_one_line_error(parse(&v, WORDS("--seed")), "option '--seed' needs a value (S)");
    /* the next word is another option: still a missing value, not "--p is not an integer" */
    assert_one_line_error(parse(&v, WORDS("--seed", "--p", "0.5")), "option '--seed' needs a value (S)");
    assert_one_line_error(parse(&v, WORDS("--out", "-q")), "option '--out' needs a value (FILE)");
    assert_one_line_error(parse(&v, WORDS("-k")), "option '-k' needs a value (TEXT)");
    /* a negative number and "-" are values */
    ck_assert_int_eq(parse(&v, WORDS("--offset", "-3.5", "--out", "-")), 0);
    ck_assert(v.x == -3.5);
    ck_assert_str_eq(v.out, "-");
    ck_assert_int_eq(parse(&v, WORDS("--offset", "-.5")), 0);
    ck_assert(v.x == -0.5);
    /* a value that looks like an option is given with '=' */
    ck_assert_int_eq(parse(&v, WORDS("--out=--odd-name")), 0);
    ck_assert_str_eq(v.out, "--odd-name");
}
END_TEST

START_TEST(single_value_option_given_twice_is_refused)
{
    vals v;
    assert_one_line_error(parse(&v, WORDS("--seed", "1", "--seed=2")), "--seed given twice ('1', '2'); it takes one value");
    assert_one_line_error(parse(&v, WORDS("-k", "a", "-kb")), "-k given twice ('a', 'b')");
    /* the same value twice is still twice */
    assert_one_line_error(parse(&v, WORDS("--out", "x", "--out", "x")), "--out given twice");
    /* a list option repeats, up to its capacity */
    ck_assert_int_eq(parse(&v, WORDS("--set", "a=1", "--set=b=2", "--set", "c=3")), 0);
    ck_assert_int_eq(v.nset, 3);
    ck_assert_str_eq(v.sets[1], "b=2");
    assert_one_line_error(parse(&v, WORDS("--set", "a=1", "--set", "b", "--set", "c", "--set", "d")),
                          "--set given more than 3 times");
    /* a flag may repeat */
    ck_assert_int_eq(parse(&v, WORDS("-q", "--quiet")), 0);
    ck_assert_int_eq(v.flag, 1);
}
END_TEST

START_TEST(unknown_options_and_values_get_a_did_you_mean)
{
    vals v;
    assert_one_line_error(parse(&v, WORDS("--sed", "3")), "unknown option '--sed' (did you mean '--seed'?)");
    assert_one_line_error(parse(&v, WORDS("--ptattern=span")), "unknown option '--ptattern' (did you mean '--pattern'?)");
    assert_one_line_error(parse(&v, WORDS("--quite")), "unknown option '--quite' (did you mean '--quiet'?)");
    assert_one_line_error(parse(&v, WORDS("--frobnicate")), "unknown option '--frobnicate'");
    ck_assert_msg(!strstr(err, "did you mean"), "a far-off name got a suggestion: %s", err);
    assert_one_line_error(parse(&v, WORDS("-x")), "unknown option '-x'");
    assert_one_line_error(parse(&v, WORDS("--pattern", "colum")),
                          "--pattern 'colum' is not one of element, column, span (did you mean 'column'?)");
    assert_one_line_error(parse(&v, WORDS("--pattern", "diagonal")), "--pattern 'diagonal' is not one of element");
    ck_assert_msg(!strstr(err, "did you mean"), "a far-off value got a suggestion: %s", err);
    /* a flag takes no value */
    assert_one_line_error(parse(&v, WORDS("--quiet=1")), "--quiet takes no value (got '1')");
}
END_TEST

START_TEST(numbers_are_checked_whole_and_against_their_range)
{
    vals v;
    assert_one_line_error(parse(&v, WORDS("--seed", "12abc")), "--seed '12abc': expected an integer in [0, 4294967295]");
    assert_one_line_error(parse(&v, WORDS("--seed", "-1")), "--seed '-1'");
    assert_one_line_error(parse(&v, WORDS("--seed", "4294967296")), "--seed '4294967296'");
    assert_one_line_error(parse(&v, WORDS("--count", "99999999999999999999")), "--count '99999999999999999999'");
    assert_one_line_error(parse(&v, WORDS("--seed", "")), "--seed ''");
    assert_one_line_error(parse(&v, WORDS("--p", "1")), "--p '1': expected a number in [0, 1)");
    assert_one_line_error(parse(&v, WORDS("--p", "nan")), "--p 'nan'");
    assert_one_line_error(parse(&v, WORDS("--offset", "inf")), "--offset 'inf': expected a number in [-10, 10]");
    assert_one_line_error(parse(&v, WORDS("--offset", "1e999")), "--offset '1e999'");
    assert_one_line_error(parse(&v, WORDS("--p", "0.5x")), "--p '0.5x'");
    ck_assert_int_eq(parse(&v, WORDS("--p", "0", "--offset", "10", "--seed", "4294967295")), 0);
    ck_assert(v.p == 0.0 && v.x == 10.0 && v.seed == 4294967295L);
    ck_assert_int_eq(parse(&v, WORDS("--count", "-9223372036854775808")), 0);
    ck_assert_int_eq(v.n, LONG_MIN);
    /* a custom converter reports in the same shape */
    assert_one_line_error(parse(&v, WORDS("--even", "3")), "--even '3' must be even");
}
END_TEST

START_TEST(positionals_double_dash_and_help)
{
    vals v;
    ck_assert_int_eq(parse(&v, WORDS("a.st", "--seed", "1", "b.st")), 0);
    ck_assert_int_eq(v.npos, 2);
    ck_assert_str_eq(v.pos[0], "a.st");
    ck_assert_str_eq(v.pos[1], "b.st");
    assert_one_line_error(parse(&v, WORDS("a", "b", "c")), "unexpected argument 'c': at most 2 FILE");
    /* after "--" everything is positional */
    ck_assert_int_eq(parse(&v, WORDS("--", "--seed", "-q")), 0);
    ck_assert_int_eq(v.npos, 2);
    ck_assert_str_eq(v.pos[0], "--seed");
    ck_assert_int_eq(v.seed, -1);
    /* a lone "-" and a negative number are positionals */
    ck_assert_int_eq(parse(&v, WORDS("-", "-3")), 0);
    ck_assert_int_eq(v.npos, 2);
    /* --help anywhere wins, even after an error-to-be, and prints nothing */
    ck_assert_int_eq(parse(&v, WORDS("--bogus", "--seed", "x", "--help")), HK_ARGS_HELP);
    ck_assert_int_eq(parse(&v, WORDS("-h")), HK_ARGS_HELP);
    ck_assert_int_eq(parse(&v, WORDS("--seed", "--help")), HK_ARGS_HELP);
    ck_assert_str_eq(err, "");
    /* ... but not after "--" */
    ck_assert_int_eq(parse(&v, WORDS("--", "--help")), 0);
    ck_assert_str_eq(v.pos[0], "--help");
}
END_TEST

START_TEST(suggestions_are_close_or_none)
{
    static const char *const cmds[] = {"demo", "dylora", "golden", "gradcheck", "inspect", "presets", "verify"};
    ck_assert_str_eq(hk_args_suggest("verfy", cmds, 7), "verify");
    ck_assert_str_eq(hk_args_suggest("vreify", cmds, 7), "verify"); /* a swap is one edit */
    ck_assert_str_eq(hk_args_suggest("gradch", cmds, 7), "gradcheck"); /* a prefix */
    ck_assert_str_eq(hk_args_suggest("preset", cmds, 7), "presets");
    ck_assert_ptr_null(hk_args_suggest("zzz", cmds, 7));
    ck_assert_ptr_null(hk_args_suggest("", cmds, 7));
    ck_assert_ptr_null(hk_args_suggest("x", cmds, 7)); /* one letter is not a name */
    static const char *const presets[] = {"lora", "dropkey", "hiddenkey-", "hiddenkey"};
    ck_assert_str_eq(hk_args_suggest("hidenkey", presets, 4), "hiddenkey");
    ck_assert_str_eq(hk_args_suggest("hiddenkey_", presets, 4), "hiddenkey-"); /* '_' and '-' are one character */
    ck_assert_str_eq(hk_args_suggest("drop_key", presets, 4), "dropkey");
    ck_assert_uint_eq(hk_args_distance("kitten", "sitting", 5), 3);
    ck_assert_uint_eq(hk_args_distance("ab", "ba", 5), 1);
    ck_assert_uint_eq(hk_args_distance("a", "abcdefgh", 2), 3); /* capped */
}
END_TEST

START_TEST(number_lists)
{
    double x[4], y[4];
    const hk_opt opts[] = {{0}};
    const hk_args spec = {.cmd = "demo attention", .opts = opts};
    char path[] = "/tmp/hkref-args-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    int saved = dup(2);
    fflush(stderr);
    dup2(fd, 2);
    int n1 = hk_args_doubles(&spec, "--logits", "1,-2.5,1e3", x, 4);
    int n2 = hk_args_doubles(&spec, "--logits", "1,,2", y, 4);
    int n3 = hk_args_doubles(&spec, "--logits", "1,2,3,4,5", y, 4);
    int n4 = hk_args_doubles(&spec, "--logits", "1,inf", y, 4);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t got = pread(fd, err, sizeof err - 1, 0);
    err[got > 0 ? got : 0] = '\0';
    close(fd);
    unlink(path);
    ck_assert_int_eq(n1, 3);
    ck_assert(x[1] == -2.5 && x[2] == 1000.0);
    ck_assert_int_eq(n2, -1);
    ck_assert_int_eq(n3, -1);
    ck_assert_int_eq(n4, -1);
    ck_assert_msg(strstr(err, "entry 2 is empty") && strstr(err, "more than 4 numbers") &&
                      strstr(err, "entry 2 'inf' is not a finite number"),
                  "%s", err);
}
END_TEST

Suite *suite_args(void)
{
    Suite *s = suite_create("args");
    TCase *tc = tcase_create("Core");
    tcase_add_test(tc, equals_and_space_forms_are_the_same);
    tcase_add_test(tc, missing_value_is_named_as_such);
    tcase_add_test(tc, single_value_option_given_twice_is_refused);
    tcase_add_test(tc, unknown_options_and_values_get_a_did_you_mean);
    tcase_add_test(tc, numbers_are_checked_whole_and_against_their_range);
    tcase_add_test(tc, positionals_double_dash_and_help);
    tcase_add_test(tc, suggestions_are_close_or_none);
    tcase_add_test(tc, number_lists);
    suite_add_tcase(s, tc);
    return s;
}
