/* hkref gradcheck — the finite-difference check of every registered op. */
#include "checks/checks.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>

const char hk_cmd_gradcheck_summary[] = "finite-difference check of every op's backward (table, exit 1 on failure)";

int hk_cmd_gradcheck(int argc, char **argv)
{
    const char *prefix = NULL;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (hk_cli_is_help(argv[i])) {
            printf("usage: hkref gradcheck [--op PREFIX] [-v]\n\n"
                   "Compares every registered backward with GSL central differences\n"
                   "(h = 1e-4, pass when |analytic - fd| <= 1e-8 + 1e-6 |fd|, unless a check\n"
                   "states its own).  One row per op: coordinates checked, worst err/tol\n"
                   "(must be < 1), and on failure the worst coordinate.\n"
                   "  --op PREFIX   only ops whose name starts with PREFIX\n"
                   "  -v            print details and the reason for each bound\n"
                   "exit status: 0 all pass, 1 some failed, 2 usage error\n");
            return 0;
        } else if (!strcmp(argv[i], "--op") && i + 1 < argc) {
            if (prefix) /* one prefix per run: a second --op must not silently replace the first */
                return hk_cli_usage_error("gradcheck", "--op given twice ('%s', '%s'): one PREFIX per run", prefix,
                                          argv[i + 1]);
            prefix = argv[++i];
        } else if (!strcmp(argv[i], "-v")) {
            verbose = 1;
        } else {
            return hk_cli_usage_error("gradcheck", "unknown argument '%s'", argv[i]);
        }
    }
    if (prefix) { /* a typo in --op must not pass silently with zero checks run */
        size_t match = 0;
        for (size_t i = 0; i < hk_checks_count(); i++) {
            const hk_check *c = hk_checks_get(i);
            match += !strcmp(c->group, "gradcheck") && !strncmp(prefix, c->name, strlen(prefix));
        }
        if (!match) return hk_cli_usage_error("gradcheck", "no check matches --op '%s' (see 'hkref gradcheck')", prefix);
    }
    long nfail = hk_checks_run("gradcheck", prefix, stdout, verbose);
    return nfail ? 1 : 0;
}
