/* hkref — shared helpers of the CLI subcommands (see cli.h).  Kept out of
 * tools/hkref.c (main) so tests can call hk_cmd_* functions in-process. */
#include "cli.h"

#include "../ref/error.h"

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
