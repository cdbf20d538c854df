/* hkref — the command-line front end: dispatches to tools/cli/cmd_*.c. */
#include "cli.h"

#include "ref/error.h"
#include "ref/fileio.h"

#include <stdio.h>
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
    fprintf(f, "usage: hkref <command> [options]   (hkref <command> --help for details)\n\n"
               "hkref: scalar double-precision reference and verification suite for dropout\n"
               "methods in LoRA fine-tuning (DropKey, DropAttention, HiddenCut, HiddenKey) and DyLoRA.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char shown[64];
        snprintf(shown, sizeof shown, "%s", commands[i].name);
        for (char *p = shown; *p; p++)
            if (*p == '_') *p = '-';
        fprintf(f, "  %-14s %s\n", shown, commands[i].summary);
    }
}

int main(int argc, char **argv)
{
    hk_file_cleanup_on_signals(); /* SIGINT / SIGTERM never leave an atomic write's temporary behind */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (hk_cli_is_help(argv[1]) || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (same_name(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "hkref: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
