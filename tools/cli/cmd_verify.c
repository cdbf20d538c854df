/* hkref verify — the main job: every verification the project has, one report. */
#include "args.h"
#include "checks/checks.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

const char hk_cmd_verify_summary[] = "run every verification (gradchecks, theorems, properties, golden) and report";

/* The groups in report order, with what each one means. */
static const char *const groups[] = {"gradcheck", "theorem", "property", "golden", NULL};
static const char *const group_what[] = {
    "each backward against central finite differences",
    "the papers' claims checked numerically (DropKey = normalized DropAttention, k < 1, ...)",
    "loss properties, DyLoRA truncation identities, edge-case policies, file formats",
    "the golden set regenerates byte for byte; the golden checker's self-tests"};

static void usage(FILE *f)
{
    fprintf(f, "usage: hkref verify [--list] [--check ID] [-k TEXT] [--group G] [-v]\n\n"
               "Runs every registered check and prints one report: per check its id, cases,\n"
               "worst deviation, bound, unit, pass/FAIL and a readable title; grouped:\n");
    for (int g = 0; groups[g]; g++) fprintf(f, "  %-10s %s\n", groups[g], group_what[g]);
    fprintf(f, "options:\n"
               "  --list        list the checks (id and title, by group) instead of running them\n"
               "  --check ID    run only the check with this exact id (e.g. attndrop.thm1.forward)\n"
               "  -k TEXT       run only checks whose id or title contains TEXT (any case), e.g. -k dropkey\n"
               "  --group G     run only group G (gradcheck, theorem, property, golden)\n"
               "  -v            details for every check (worst case, the reason for its bound)\n"
               "--list, --check, -k and --group combine (all must match).\n"
               "A live progress line on stderr when it is a terminal; none otherwise (the rows are the log).\n"
               "exit status: 0 all pass, 1 something failed, 2 usage error (e.g. an id or text that\n"
               "matches no check: never a pass with zero checks run).\n");
}

static const char *check_name(size_t i, void *ctx)
{
    (void)ctx;
    return hk_checks_get(i)->name;
}

/* A filter matching nothing is a usage error, with the closest id. */
static int no_match(const hk_args *spec, const hk_check_filter *f)
{
    const char *typed = f->id ? f->id : f->substr ? f->substr : "";
    const char *s = hk_args_suggest_fn(typed, check_name, hk_checks_count(), NULL);
    char what[200];
    if (f->id)
        snprintf(what, sizeof what, "no check has the id '%s'", f->id);
    else if (f->substr)
        snprintf(what, sizeof what, "no check's id or title contains '%s'", f->substr);
    else
        snprintf(what, sizeof what, "no check in group '%s'", f->group);
    if (f->id && f->substr && hk_checks_count_matching(&(hk_check_filter){.id = f->id}))
        snprintf(what, sizeof what, "check '%s' does not match -k '%s'", f->id, f->substr);
    if (s) return hk_args_error(spec, "%s (did you mean '%s'? 'hkref verify --list' lists them)", what, s);
    return hk_args_error(spec, "%s ('hkref verify --list' lists them)", what);
}

static void list_checks(const hk_check_filter *f)
{
    size_t n = hk_checks_count(), w = 30;
    for (size_t i = 0; i < n; i++)
        if (hk_check_matches(hk_checks_get(i), f) && strlen(hk_checks_get(i)->name) > w)
            w = strlen(hk_checks_get(i)->name);
    for (int g = 0; groups[g]; g++) {
        hk_check_filter fg = *f;
        if (fg.group && strcmp(fg.group, groups[g]) != 0) continue;
        fg.group = groups[g];
        size_t m = hk_checks_count_matching(&fg);
        if (!m) continue;
        printf("%s: %s (%zu)\n", groups[g], group_what[g], m);
        for (size_t i = 0; i < n; i++) {
            const hk_check *c = hk_checks_get(i);
            if (hk_check_matches(c, &fg)) printf("  %-*s %s\n", (int)w, c->name, c->title ? c->title : "");
        }
    }
    for (size_t i = 0; i < n; i++) { /* a group not listed above is still shown */
        const hk_check *c = hk_checks_get(i);
        int known = 0;
        for (int g = 0; groups[g]; g++) known |= !strcmp(groups[g], c->group);
        if (!known && hk_check_matches(c, f)) printf("%s (other): %s %s\n", c->group, c->name, c->title ? c->title : "");
    }
    printf("%zu checks\n", hk_checks_count_matching(f));
}

static void before(const hk_check *c, size_t k, size_t n, void *ctx)
{
    hk_progress_update(ctx, "hkref verify: [%zu/%zu] %s ...", k + 1, n, c->name);
}

static void after(void *ctx) { hk_progress_done(ctx); }

int hk_cmd_verify(int argc, char **argv)
{
    int verbose = 0, list = 0, group = -1;
    hk_check_filter f = {0};
    const hk_opt opts[] = {{.name = "list", .kind = HK_OPT_FLAG, .dest = &list},
                           {.name = "check", .kind = HK_OPT_STR, .dest = &f.id, .metavar = "ID"},
                           {.name = "", .shortname = 'k', .kind = HK_OPT_STR, .dest = &f.substr, .metavar = "TEXT"},
                           {.name = "group", .kind = HK_OPT_CHOICE, .dest = &group, .choices = groups},
                           {.name = "verbose", .shortname = 'v', .kind = HK_OPT_FLAG, .dest = &verbose},
                           {0}};
    const hk_args spec = {.cmd = "verify", .opts = opts};
    int rc = hk_args_parse(&spec, argc, argv, NULL);
    if (rc == HK_ARGS_HELP) {
        usage(stdout);
        return 0;
    }
    if (rc) return rc;
    if (group >= 0) f.group = groups[group];
    if ((f.id || f.substr || f.group) && hk_checks_count_matching(&f) == 0) return no_match(&spec, &f);
    if (list) {
        list_checks(&f);
        return 0;
    }
    hk_progress prog;
    hk_progress_init(&prog, stderr, 10.0, 0);
    prog.quiet = !prog.tty; /* off a terminal the rows themselves are the periodic plain lines */
    long total_fail = 0;
    size_t n = hk_checks_count();
    clock_t t0 = clock();
    printf("hkref verify: %zu registered checks, %zu selected\n", n, hk_checks_count_matching(&f));
    for (int g = 0; groups[g]; g++) {
        hk_check_filter fg = f;
        if (fg.group && strcmp(fg.group, groups[g]) != 0) continue;
        fg.group = groups[g];
        if (!hk_checks_count_matching(&fg)) continue;
        printf("\n== %s: %s ==\n", groups[g], group_what[g]);
        total_fail += hk_checks_run_filter(&fg, stdout, verbose, before, after, &prog);
    }
    /* Any group not listed above still runs, so nothing registered is skipped. */
    for (size_t i = 0; i < n; i++) {
        const hk_check *c = hk_checks_get(i);
        int known = 0;
        for (int g = 0; groups[g]; g++) known |= !strcmp(groups[g], c->group);
        if (!known && hk_check_matches(c, &f)) {
            hk_check_filter one = {.id = c->name};
            printf("\n== %s (other) ==\n", c->group);
            total_fail += hk_checks_run_filter(&one, stdout, verbose, before, after, &prog);
        }
    }
    printf("\nhkref verify: %s (%ld failing checks, %.1f s CPU)\n", total_fail ? "FAILED" : "all checks passed",
           total_fail, (double)(clock() - t0) / CLOCKS_PER_SEC);
    return total_fail ? 1 : 0;
}
