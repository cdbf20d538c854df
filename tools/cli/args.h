/* hkref — the one argument parser of the CLI commands (tools/cli/cmd_*.c).
 *
 * A command describes its options in a table and calls hk_args_parse once:
 *
 *     long seed = 1; int verbose = 0; const char *out = NULL;
 *     static const char *const patterns[] = {"element", "column", "span", NULL};
 *     int pat = 0;
 *     const hk_opt opts[] = {
 *         {.name = "seed", .kind = HK_OPT_LONG, .dest = &seed, .metavar = "S", .ilo = 0, .ihi = 4294967295L},
 *         {.name = "pattern", .kind = HK_OPT_CHOICE, .dest = &pat, .choices = patterns},
 *         {.name = "out", .kind = HK_OPT_STR, .dest = &out, .metavar = "FILE"},
 *         {.name = "verbose", .shortname = 'v', .kind = HK_OPT_FLAG, .dest = &verbose},
 *         {0}};
 *     const hk_args spec = {.cmd = "demo attention", .opts = opts};
 *     int rc = hk_args_parse(&spec, argc, argv, NULL);
 *     if (rc == HK_ARGS_HELP) { usage(stdout); return 0; }
 *     if (rc) return rc;                       // 2, the message is printed
 *
 * What the user gets, for every command that uses it (docs/cli.md):
 * - `--opt value` and `--opt=value`; `-k value` and `-kvalue` for a short name;
 *   `--` ends the options (what follows is positional);
 * - a missing value is named as such ("option '--seed' needs a value (S)"),
 *   also when the next word is another option; a value that starts with '-'
 *   is taken only if it is a number or "-" (`--offset -3`, `--csv -`),
 *   otherwise it is given as `--opt=-value`;
 * - a single-value option given twice is refused (never silently replaced);
 *   HK_OPT_LIST options repeat, up to their capacity;
 * - an unknown option, or a value not among an HK_OPT_CHOICE's names, gets a
 *   did-you-mean (hk_args_suggest);
 * - numbers are checked whole (no trailing text, no overflow, finite) and
 *   against their range;
 * - `-h` or `--help` anywhere before `--` returns HK_ARGS_HELP before anything
 *   else is looked at: every --help exits 0;
 * - one message shape, one line on stderr:
 *       hkref CMD: what is wrong; see 'hkref CMD --help'
 *   and the return value 2 (the CLI's usage / input error status). */
#ifndef HK_CLI_ARGS_H
#define HK_CLI_ARGS_H

#include <stddef.h>

typedef enum {
    HK_OPT_FLAG,   /* no value: *(int *)dest = 1 (repeating it is harmless) */
    HK_OPT_STR,    /* *(const char **)dest = the value */
    HK_OPT_LONG,   /* *(long *)dest = an integer in [ilo, ihi] */
    HK_OPT_DOUBLE, /* *(double *)dest = a finite number in [lo, hi] (ends open with the flags below) */
    HK_OPT_CHOICE, /* *(int *)dest = the index of the value in choices[] (NULL-terminated) */
    HK_OPT_LIST,   /* repeatable: ((const char **)dest)[(*count)++] = value, at most max times */
    HK_OPT_FUNC    /* parse(spec, opt, value, dest): 0 or the status of hk_args_error */
} hk_opt_kind;

enum {
    HK_OPT_LO_OPEN = 1, /* HK_OPT_DOUBLE: lo itself is excluded */
    HK_OPT_HI_OPEN = 2  /* HK_OPT_DOUBLE: hi itself is excluded, e.g. a rate p in [0, 1) */
};

/* hk_args_parse's result besides 0 (parsed) and 2 (a message was printed). */
enum { HK_ARGS_HELP = -1 };

struct hk_args;
typedef struct hk_opt {
    const char *name;    /* long name without the dashes: "seed" is --seed; NULL ends the table */
    char shortname;      /* 'v' is -v; 0: no short name */
    hk_opt_kind kind;
    void *dest;
    const char *metavar; /* the value's name in messages: "S", "FILE" (default "VALUE") */
    long ilo, ihi;       /* HK_OPT_LONG range, inclusive */
    double lo, hi;       /* HK_OPT_DOUBLE range */
    int flags;           /* HK_OPT_LO_OPEN | HK_OPT_HI_OPEN */
    const char *const *choices; /* HK_OPT_CHOICE names, NULL-terminated */
    int max;             /* HK_OPT_LIST capacity of dest */
    int *count;          /* HK_OPT_LIST: entries stored (the caller zeroes it) */
    int (*parse)(const struct hk_args *spec, const struct hk_opt *opt, const char *value, void *dest);
} hk_opt;

typedef struct hk_args {
    const char *cmd;      /* "demo attention": messages start "hkref demo attention: " */
    const hk_opt *opts;   /* table ended by an entry with name NULL */
    const char **pos;     /* positional arguments go here, in order ... */
    int maxpos;           /* ... at most this many (0: none accepted) */
    const char *posname;  /* their name in messages: "NAME", "FILE" */
} hk_args;

/* Parses argv[1..argc-1] (argv[0] is the command's name) against spec.
 * npos (may be NULL) receives the number of positional arguments stored.
 * Returns 0, HK_ARGS_HELP, or 2 after printing one message (hk_args_error). */
int hk_args_parse(const hk_args *spec, int argc, char **argv, int *npos);

/* Prints "hkref CMD: <formatted>; see 'hkref CMD --help'" on stderr, returns 2.
 * CMD is spec->cmd; the same shape as hk_cli_usage_error (tools/cli/cli.h). */
int hk_args_error(const hk_args *spec, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* 1 if a is "-h" or "--help". */
int hk_args_is_help(const char *a);

/* The candidate closest to `typed` (a did-you-mean), or NULL if none is close:
 * edit distance (insert, delete, substitute, swap two neighbours) at most
 * max(1, strlen(typed) / 3), or `typed` is a prefix (>= 3 characters) or
 * contains / is contained in exactly one candidate.  Ties: the first candidate. */
const char *hk_args_suggest(const char *typed, const char *const *cands, size_t n);
/* The same with candidates from a function (name(i, ctx) for i < n; NULL entries skipped). */
const char *hk_args_suggest_fn(const char *typed, const char *(*name)(size_t i, void *ctx), size_t n, void *ctx);

/* Optimal-string-alignment distance between a and b ('_' and '-' count as equal),
 * capped at cap + 1 (enough to compare against a threshold). */
size_t hk_args_distance(const char *a, const char *b, size_t cap);

/* Parses s as a comma-separated list of finite numbers into out[0..max):
 * "1,2,-0.5".  Returns the count, or -1 after printing a message naming
 * `what` (an option name, e.g. "--logits") and the bad entry. */
int hk_args_doubles(const hk_args *spec, const char *what, const char *s, double *out, int max);

#endif
