/* hkref gradcheck — the finite-difference check of every registered op. */
#include "args.h"
#include "checks/checks.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>

const char hk_cmd_gradcheck_summary[] = "finite-difference check of every op's backward (table, exit 1 on failure)";

static void usage(FILE *f)
{
    fprintf(f, "usage: hkref gradcheck [--op TEXT] [-v]\n\n"
               "Compares every registered backward with GSL central differences\n"
               "(h = 1e-4, pass when |analytic - fd| <= 1e-8 + 1e-6 |fd|, unless a check\n"
               "states its own).  One row per check: coordinates checked, worst err/tol\n"
               "(must be < 1), the title, and on failure the worst coordinate.\n"
               "  --op TEXT   only checks whose id contains TEXT: --op dropkey runs\n"
               "              attndrop.dropkey.* and attndrop.attention.dropkey*.*;\n"
               "              `hkref verify --list --group gradcheck` lists the ids\n"
               "  -v          print details and the reason for each bound\n"
               "exit status: 0 all pass, 1 some failed, 2 usage error (TEXT matching no\n"
               "check is an error, with the closest id: never a pass with zero checks)\n");
}

static const char *gc_name(size_t i, void *ctx)
{
    (void)ctx;
    const hk_check *c = hk_checks_get(i);
    return strcmp(c->group, "gradcheck") == 0 ? c->name : NULL;
}

/* The closest gradcheck id to `typed`, also when it is a close misspelling of one
 * dotted component ("sofmax" -> "softmax", "hiddencutt" -> "hiddencut.element"). */
static const char *closest(const char *typed)
{
    const char *s = hk_args_suggest_fn(typed, gc_name, hk_checks_count(), NULL);
    if (s) return s;
    for (size_t i = 0; i < hk_checks_count(); i++) {
        const char *id = gc_name(i, NULL);
        if (!id) continue;
        char part[96];
        for (const char *p = id; *p;) {
            size_t len = strcspn(p, ".");
            snprintf(part, sizeof part, "%.*s", (int)len, p);
            const char *one[1] = {part};
            if (hk_args_suggest(typed, one, 1) && strlen(part) >= 3) return id;
            p += len + (p[len] == '.');
        }
    }
    return NULL;
}

int hk_cmd_gradcheck(int argc, char **argv)
{
    const char *text = NULL;
    int verbose = 0;
    const hk_opt opts[] = {{.name = "op", .kind = HK_OPT_STR, .dest = &text, .metavar = "TEXT"},
                           {.name = "verbose", .shortname = 'v', .kind = HK_OPT_FLAG, .dest = &verbose},
                           {0}};
    const hk_args spec = {.cmd = "gradcheck", .opts = opts};
    int rc = hk_args_parse(&spec, argc, argv, NULL);
    if (rc == HK_ARGS_HELP) {
        usage(stdout);
        return 0;
    }
    if (rc) return rc;
    /* --op matches a substring of the id (not the title: "--op softmax" must not run the
     * attention checks whose titles mention the softmax). */
    hk_check_filter f = {.group = "gradcheck", .id_contains = text};
    if (text && !hk_checks_count_matching(&f)) { /* a typo must not pass silently with zero checks run */
        const char *s = closest(text);
        if (s) return hk_args_error(&spec, "no gradcheck id contains '%s' (did you mean '%s'?)", text, s);
        return hk_args_error(&spec, "no gradcheck id contains '%s' ('hkref verify --list --group gradcheck' lists them)",
                             text);
    }
    long nfail = hk_checks_run_filter(&f, stdout, verbose, NULL, NULL, NULL);
    return nfail ? 1 : 0;
}
