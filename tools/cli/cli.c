/* hkref — shared helpers of the CLI subcommands (see cli.h).  Kept out of
 * tools/hkref.c (main) so tests can call hk_cmd_* functions in-process. */
#include "cli.h"

#include "ref/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int hk_cli_fail(const char *cmd)
{
    fprintf(stderr, "hkref %s: %s\n", cmd, hk_error_message());
    return 2;
}

int hk_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "hkref %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'hkref %s --help')\n", cmd);
    return 2;
}

int hk_cli_is_help(const char *a) { return a && (!strcmp(a, "-h") || !strcmp(a, "--help")); }

int hk_cli_dispatch(const char *cmd, int argc, char **argv, const hk_cli_sub *subs, int nsubs,
                    void (*usage)(FILE *f))
{
    if (argc >= 2 && hk_cli_is_help(argv[1])) {
        usage(stdout);
        return 0;
    }
    for (int i = 0; argc >= 2 && i < nsubs; i++)
        if (!strcmp(argv[1], subs[i].name)) return subs[i].run(argc - 1, argv + 1);
    if (argc < 2)
        fprintf(stderr, "hkref %s: missing subcommand (", cmd);
    else
        fprintf(stderr, "hkref %s: unknown subcommand '%s' (", cmd, argv[1]);
    for (int i = 0; i < nsubs; i++) fprintf(stderr, "%s%s", i ? ", " : "", subs[i].name);
    fprintf(stderr, ")\n\n");
    usage(stderr);
    return 2;
}
