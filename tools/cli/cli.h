/* hkref — shared helpers of the CLI subcommands (tools/cli/cmd_*.c).
 *
 * A subcommand is added by defining, in tools/cli/cmd_<name>.c,
 *     const char hk_cmd_<name>_summary[] = "one line for `hkref --help`";
 *     int hk_cmd_<name>(int argc, char **argv);   // argv[0] is the subcommand name
 * The Makefile lists those FILES in build/gen/cmds.inc; '_' in <name> is typed
 * as '-' on the command line.  Exit status: 0 success, 1 a check failed,
 * 2 usage or input error (message on stderr). */
#ifndef HK_CLI_H
#define HK_CLI_H

#include <stdio.h>

/* One prototype pair per tools/cli/cmd_<name>.c (generated from the file names). */
#define HK_CMD(name) int hk_cmd_##name(int argc, char **argv); extern const char hk_cmd_##name##_summary[];
#include "cmds.inc"
#undef HK_CMD

/* hkref train / pretrain (tools/cli/cmd_train.c): one option parser, pre = 1 for pretrain. */
int hk_cmd_train_main(int argc, char **argv, int pre);

/* Prints "hkref <cmd>: <message from ref/'s error path>" to stderr, returns 2. */
int hk_cli_fail(const char *cmd);
/* Prints "hkref <cmd>: <formatted message>" to stderr, returns 2. */
int hk_cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* 1 if a is "-h" or "--help". */
int hk_cli_is_help(const char *a);

/* A command with subcommands (`hkref golden generate ...`): run(argc, argv) gets
 * argv[0] = the subcommand's name. */
typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
} hk_cli_sub;
/* Runs the subcommand named by argv[1] with (argc - 1, argv + 1).  -h/--help:
 * usage(stdout), 0.  None or an unknown name: a message naming the available
 * ones, usage(stderr), 2. */
int hk_cli_dispatch(const char *cmd, int argc, char **argv, const hk_cli_sub *subs, int nsubs,
                    void (*usage)(FILE *f));

/* Plots (tools/cli/plot.c): runs gnuplot on the constant `script` with
 * args[0..nargs) as its `-c` arguments ARG1..ARGn (nargs <= 9) — file names
 * go there, never into the script text — via fork + execv (no shell).
 * 0 ok; 1 gnuplot not installed; 2 it failed; err gets a message. */
int hk_cli_gnuplot(const char *script, const char *const *args, int nargs, char *err, size_t esize);
/* Absolute path of executable prog on PATH into buf; 0 if found. */
int hk_cli_find_on_path(const char *prog, char *buf, size_t size);
/* The training curve OUT/curve.tsv as OUT/curve.png (hkref train / pretrain). */
int hk_cli_plot_curve(const char *out, int quiet);

#endif
