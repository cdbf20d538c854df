/* hkref verify — the main job: every verification the project has, one report. */
#include "checks/checks.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

const char hk_cmd_verify_summary[] = "run every verification (gradchecks, theorems, properties, golden) and report";

static const char *groups[] = {"gradcheck", "theorem", "property", "golden", NULL};

int hk_cmd_verify(int argc, char **argv)
{
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (hk_cli_is_help(argv[i])) {
            printf("usage: hkref verify [-v]\n\n"
                   "Runs every registered check, grouped:\n"
                   "  gradcheck  each backward vs central finite differences\n"
                   "  theorem    the papers' claims (DropKey = normalized DropAttention, k < 1, ...)\n"
                   "  property   loss properties, DyLoRA truncation identities, edge-case policies\n"
                   "  golden     golden set regenerates byte-identically; checker self-tests\n"
                   "and prints one report. exit status: 0 all pass, 1 something failed.\n"
                   "  -v   details for every check\n");
            return 0;
        } else if (!strcmp(argv[i], "-v")) {
            verbose = 1;
        } else {
            return hk_cli_usage_error("verify", "unknown argument '%s'", argv[i]);
        }
    }
    long total_fail = 0;
    size_t n = hk_checks_count();
    clock_t t0 = clock();
    printf("hkref verify: %zu registered checks\n", n);
    for (int g = 0; groups[g]; g++) {
        printf("\n== %s ==\n", groups[g]);
        total_fail += hk_checks_run(groups[g], NULL, stdout, verbose);
    }
    /* Any group not listed above still runs, so nothing registered is skipped. */
    for (size_t i = 0; i < n; i++) {
        const hk_check *c = hk_checks_get(i);
        int known = 0;
        for (int g = 0; groups[g]; g++) known |= !strcmp(groups[g], c->group);
        if (!known) {
            printf("\n== %s (other) ==\n", c->group);
            total_fail += hk_checks_run(c->group, c->name, stdout, verbose);
        }
    }
    printf("\nhkref verify: %s (%ld failing checks, %.1f s CPU)\n", total_fail ? "FAILED" : "all checks passed",
           total_fail, (double)(clock() - t0) / CLOCKS_PER_SEC);
    return total_fail ? 1 : 0;
}
