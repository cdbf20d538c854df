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

#include "ref/tensorfile.h"

#include <stdio.h>

/* One prototype pair per tools/cli/cmd_<name>.c (generated from the file names). */
#define HK_CMD(name) int hk_cmd_##name(int argc, char **argv); extern const char hk_cmd_##name##_summary[];
#include "cmds.inc"
#undef HK_CMD

/* hkref train / pretrain (tools/cli/cmd_train.c): one option parser, pre = 1 for pretrain. */
int hk_cmd_train_main(int argc, char **argv, int pre);

/* Prints "hkref <cmd>: <message from ref/'s error path>" to stderr, returns 2.
 * The C source locations ref/ records ("tensorfile.c:583: ") are left out
 * unless hk_cli_debug is set (`hkref --debug ...` or HKREF_DEBUG=1). */
int hk_cli_fail(const char *cmd);
/* Prints the one usage-error line to stderr and returns 2:
 *     hkref <cmd>: <formatted message>; see 'hkref <cmd> --help'
 * (a hint the message itself ends with, "(see ...)", is dropped: one hint). */
int hk_cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* 1 if a is "-h" or "--help". */
int hk_cli_is_help(const char *a);

/* Set by `hkref --debug` (or HKREF_DEBUG=1 in the environment): messages keep
 * the C source locations of ref/'s error path. */
extern int hk_cli_debug;

/* Copies src into dst (size n, NUL-terminated), leaving out every C source
 * location "<name>.c:<line>: " of ref/'s error path (unless hk_cli_debug). */
void hk_cli_strip_locations(char *dst, size_t n, const char *src);

/* Reads the safetensors file `path` for command cmd (ref/tensorfile.h's
 * validating reader).  0, or 2 after one message: "hkref <cmd>: PATH: not a
 * safetensors file (...)" when the file does not even start like one (shorter
 * than 9 bytes, an 8-byte header length beyond the format's limit or below 2,
 * or no '{' opening the JSON header: README.md, a PNG, a text file), else the
 * reader's own message (truncated, malformed header, ...); --debug adds it. */
int hk_cli_read_safetensors(const char *cmd, const char *path, hk_st_file **f);

/* Creates the missing parent directories of the file `path` (mode 0777 &
 * ~umask), like `mkdir -p "$(dirname path)"`.  Returns 0, or 2 after printing
 * "hkref <cmd>: cannot create directory 'D': <reason>". */
int hk_cli_mkdirs_for(const char *cmd, const char *path);

/* Writes buf[0..len) to `path` for command cmd: creates missing parent
 * directories, refuses to replace anything that is not a regular file (a
 * directory, a symbolic link, a device such as /dev/null, a FIFO; ref/fileio.c
 * refuses them too), and writes atomically (ref/fileio.h: temporary file + rename).
 * Returns 0, or 2 after printing "hkref <cmd>: <path>: <reason>". */
int hk_cli_write_file(const char *cmd, const char *path, const void *buf, size_t len);
/* The check hk_cli_write_file makes before writing, to run before the work:
 * 0 if path ("-" is stdout) may be written, else 2 after the message. */
int hk_cli_check_output(const char *cmd, const char *path);

/* Progress of a long run, on f (normally stderr).  On a terminal (isatty) one
 * live line rewritten in place with '\r'; otherwise (a CI log, a pipe) a plain
 * line at most every `every` seconds, so a log never becomes one line of
 * fragments.  hk_progress_done clears the live line (a terminal) or does
 * nothing.  quiet = 1: nothing at all. */
typedef struct {
    FILE *f;
    int tty, quiet, live;  /* live: a line is on the terminal */
    double every, last;    /* seconds between plain lines; time of the last one (-1: none yet) */
} hk_progress;
void hk_progress_init(hk_progress *p, FILE *f, double every, int quiet);
void hk_progress_update(hk_progress *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void hk_progress_done(hk_progress *p);

/* A command with subcommands (`hkref golden generate ...`): run(argc, argv) gets
 * argv[0] = the subcommand's name. */
typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
} hk_cli_sub;
/* Runs the subcommand named by argv[1] with (argc - 1, argv + 1).
 * -h/--help as argv[1], or anywhere after a known subcommand (before "--"):
 * usage(stdout), 0 — so every --help exits 0 (the command's usage covers its
 * subcommands).  No subcommand: usage on stderr, 2.  An unknown one: one line
 * naming the available ones (and a did-you-mean), 2. */
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
