/* hkref — the test gate: every suite in one SRunner (one Check summary line).
 *
 *   run_tests               every suite
 *   run_tests --shard K/N   the suites whose index i (in suites.inc order) has
 *                           i % N == K; `make test` runs the slow sanitizer pass
 *                           as N such processes side by side (2 cores), each
 *                           printing its own summary line. */
#include "hk_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_shard(const char *s, int *k, int *n)
{
    char tail;
    return sscanf(s, "%d/%d%c", k, n, &tail) == 2 && *n >= 1 && *k >= 0 && *k < *n;
}

/* HK_SKIP_SUITES=a,b,...: leave those suites out (the mutation runner's
 * "every other suite" pass after it ran a part's suites one by one). */
static int skipped(const char *name)
{
    const char *s = getenv("HK_SKIP_SUITES");
    size_t n = strlen(name);
    for (const char *p = s; p && (p = strstr(p, name)) != NULL; p += n)
        if ((p == s || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int k = 0, n = 1;
    if (argc == 3 && !strcmp(argv[1], "--shard") && parse_shard(argv[2], &k, &n)) {
    } else if (argc != 1) {
        fprintf(stderr, "usage: run_tests [--shard K/N]   (0 <= K < N)\n");
        return 2;
    }
    SRunner *sr = srunner_create(NULL);
    int i = 0;
#define HK_SUITE(name) \
    if (i++ % n == k && !skipped(#name)) srunner_add_suite(sr, suite_##name());
#include "suites.inc"
#undef HK_SUITE
    /* Fork mode by default: a crash in a malformed-file test is reported as
     * an error of that test, not the end of the run.  CK_FORK=no in the
     * environment runs every test in this process: the sanitizer pass does
     * (a fork of an ASan process and LeakSanitizer at every child's exit
     * cost more than the tests; LSan then checks once, at the end, and any
     * sanitizer report still fails the run), and valgrind does. */
    srunner_set_fork_status(sr, getenv("CK_FORK") ? CK_FORK_GETENV : CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
