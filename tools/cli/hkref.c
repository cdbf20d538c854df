/* hkref — the command-line front end: dispatches to tools/cli/cmd_*.c. */
#include "args.h"
#include "cli.h"
#include "version.h" /* build/gen/version.h: HK_VERSION (file VERSION), HK_GIT (git describe at build time) */

#include "ref/error.h"
#include "ref/fileio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} command;

static const command commands[] = {
#define HK_CMD(name) {#name, hk_cmd_##name, hk_cmd_##name##_summary},
#include "cmds.inc"
#undef HK_CMD
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

/* "golden_check" on the command line is "golden-check". */
static int same_name(const char *typed, const char *name)
{
    for (; *typed && *name; typed++, name++) {
        char t = *typed == '-' ? '_' : *typed;
        if (t != *name) return 0;
    }
    return *typed == *name;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: hkref [--debug] <command> [options]   (hkref <command> --help for details)\n"
               "       hkref --version\n\n"
               "hkref: scalar double-precision reference and verification suite for dropout\n"
               "methods in LoRA fine-tuning (DropKey, DropAttention, HiddenCut, HiddenKey) and DyLoRA.\n\n"
               "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char shown[64];
        snprintf(shown, sizeof shown, "%s", commands[i].name);
        for (char *p = shown; *p; p++)
            if (*p == '_') *p = '-';
        fprintf(f, "  %-14s %s\n", shown, commands[i].summary);
    }
    fprintf(f, "\n  --version   print hkref's version (and the git commit it was built from)\n"
               "  --debug     error messages keep the C source location of the check that failed\n"
               "exit status: 0 success, 1 a check failed, 2 usage or input error (one line on stderr)\n");
}

static const char *command_name(size_t i, void *ctx)
{
    (void)ctx;
    return commands[i].name;
}

int main(int argc, char **argv)
{
    hk_file_cleanup_on_signals(); /* SIGINT / SIGTERM never leave an atomic write's temporary behind */
    int first = 1;
    if (argc > 1 && !strcmp(argv[1], "--debug")) {
        hk_cli_debug = 1, first = 2;
        setenv("HKREF_DEBUG", "1", 1); /* libhkgolden's problem strings keep their locations too */
    }
    if (argc <= first) {
        usage(stderr);
        return 2;
    }
    const char *a = argv[first];
    if (hk_cli_is_help(a) || !strcmp(a, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
        printf("hkref %s (git %s)\n", HK_VERSION, HK_GIT);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (same_name(a, commands[i].name)) return commands[i].fn(argc - first, argv + first);
    char typed[64];
    snprintf(typed, sizeof typed, "%s", a);
    for (char *p = typed; *p; p++)
        if (*p == '-' && p != typed) *p = '_';
    const char *s = hk_args_suggest_fn(typed, command_name, NCOMMANDS, NULL);
    if (a[0] == '-')
        fprintf(stderr, "hkref: unknown command '%s' (options before a command: --debug, --version, --help); "
                        "see 'hkref --help'\n", a);
    else if (s)
        fprintf(stderr, "hkref: unknown command '%s' (did you mean '%s'?); see 'hkref --help'\n", a, s);
    else
        fprintf(stderr, "hkref: unknown command '%s'; see 'hkref --help'\n", a);
    return 2;
}
