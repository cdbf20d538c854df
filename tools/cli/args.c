/* hkref — the one argument parser of the CLI commands (see args.h). */
#include "args.h"

#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hk_args_is_help(const char *a) { return a && (!strcmp(a, "-h") || !strcmp(a, "--help")); }

int hk_args_error(const hk_args *spec, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hk_cli_usage_error(spec->cmd, "%s", msg);
}

/* ---- did-you-mean ---------------------------------------------------------- */

static int same_char(char a, char b) { return a == b || ((a == '_' || a == '-') && (b == '_' || b == '-')); }

size_t hk_args_distance(const char *a, const char *b, size_t cap)
{
    enum { MAXL = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la > MAXL || lb > MAXL) return cap + 1;
    if ((la > lb ? la - lb : lb - la) > cap) return cap + 1;
    size_t d[MAXL + 1][MAXL + 1];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t best = d[i - 1][j - 1] + !same_char(a[i - 1], b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && same_char(a[i - 1], b[j - 2]) && same_char(a[i - 2], b[j - 1]) &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb] > cap ? cap + 1 : d[la][lb];
}

const char *hk_args_suggest_fn(const char *typed, const char *(*name)(size_t i, void *ctx), size_t n, void *ctx)
{
    if (!typed || !*typed) return NULL;
    size_t lt = strlen(typed), cap = lt / 3 > 1 ? lt / 3 : 1, best_d = cap + 1;
    const char *best = NULL, *contains = NULL;
    size_t ncontains = 0;
    for (size_t i = 0; i < n; i++) {
        const char *c = name(i, ctx);
        if (!c || !*c) continue;
        size_t d = hk_args_distance(typed, c, cap);
        if (d < best_d) best_d = d, best = c;
        /* "gradch" for "gradcheck", "dropkey" for "attndrop.dropkey.neginf.keep" */
        if (lt >= 3 && (strstr(c, typed) || strstr(typed, c))) {
            if (!contains) contains = c;
            ncontains++;
        }
    }
    if (best) return best;
    return ncontains == 1 ? contains : NULL;
}

static const char *array_name(size_t i, void *ctx) { return ((const char *const *)ctx)[i]; }

const char *hk_args_suggest(const char *typed, const char *const *cands, size_t n)
{
    return hk_args_suggest_fn(typed, array_name, n, (void *)(uintptr_t)cands);
}

/* ---- values ---------------------------------------------------------------- */

/* "-3", "-.5", "-1e3", "-inf": a value, not an option. */
static int looks_numeric(const char *s)
{
    if (*s == '-' || *s == '+') s++;
    if (*s == '.') s++;
    return (*s >= '0' && *s <= '9') || !strncmp(s, "inf", 3) || !strncmp(s, "nan", 3);
}

static const char *metavar(const hk_opt *o) { return o->metavar ? o->metavar : "VALUE"; }

/* The option as typed in messages: "--seed" or "-k". */
static void shown(char *buf, size_t n, const hk_opt *o, int as_short)
{
    if (as_short || !o->name[0])
        snprintf(buf, n, "-%c", o->shortname);
    else
        snprintf(buf, n, "--%s", o->name);
}

static int parse_long(const char *v, long *out)
{
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno == ERANGE) return -1;
    *out = x;
    return 0;
}

int hk_args_doubles(const hk_args *spec, const char *what, const char *s, double *out, int max)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char item[64];
        if (len == 0 || len >= sizeof item) {
            hk_args_error(spec, "%s '%s': entry %d is %s; expected comma-separated numbers like 1,2,0.5", what, s,
                          n + 1, len ? "too long" : "empty");
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        char *end = NULL;
        errno = 0;
        double x = strtod(item, &end);
        if (end == item || *end || !isfinite(x) || errno == ERANGE) {
            hk_args_error(spec, "%s: entry %d '%s' is not a finite number", what, n + 1, item);
            return -1;
        }
        if (n == max) {
            hk_args_error(spec, "%s: more than %d numbers", what, max);
            return -1;
        }
        out[n++] = x;
        if (!e) break;
        p = e + 1;
    }
    return n;
}

/* Stores value v of option o (typed as `name`). */
static int store(const hk_args *spec, const hk_opt *o, const char *name, const char *v)
{
    switch (o->kind) {
    case HK_OPT_STR:
        *(const char **)o->dest = v;
        return 0;
    case HK_OPT_LONG: {
        long x;
        if (parse_long(v, &x) || x < o->ilo || x > o->ihi)
            return hk_args_error(spec, "%s '%s': expected an integer in [%ld, %ld]", name, v, o->ilo, o->ihi);
        *(long *)o->dest = x;
        return 0;
    }
    case HK_OPT_DOUBLE: {
        char *end = NULL;
        errno = 0;
        double x = strtod(v, &end);
        int lo_ok = (o->flags & HK_OPT_LO_OPEN) ? x > o->lo : x >= o->lo;
        int hi_ok = (o->flags & HK_OPT_HI_OPEN) ? x < o->hi : x <= o->hi;
        if (end == v || *end || errno == ERANGE || !isfinite(x) || !lo_ok || !hi_ok)
            return hk_args_error(spec, "%s '%s': expected a number in %c%g, %g%c", name, v,
                                 (o->flags & HK_OPT_LO_OPEN) ? '(' : '[', o->lo, o->hi,
                                 (o->flags & HK_OPT_HI_OPEN) ? ')' : ']');
        *(double *)o->dest = x;
        return 0;
    }
    case HK_OPT_CHOICE: {
        size_t n = 0;
        for (; o->choices[n]; n++)
            if (!strcmp(v, o->choices[n])) {
                *(int *)o->dest = (int)n;
                return 0;
            }
        char list[512] = "";
        for (size_t i = 0; i < n; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", o->choices[i]);
        const char *s = hk_args_suggest(v, o->choices, n);
        if (s) return hk_args_error(spec, "%s '%s' is not one of %s (did you mean '%s'?)", name, v, list, s);
        return hk_args_error(spec, "%s '%s' is not one of %s", name, v, list);
    }
    case HK_OPT_LIST:
        if (*o->count >= o->max) return hk_args_error(spec, "%s given more than %d times", name, o->max);
        ((const char **)o->dest)[(*o->count)++] = v;
        return 0;
    case HK_OPT_FUNC:
        return o->parse(spec, o, v, o->dest);
    case HK_OPT_FLAG:
        break;
    }
    return hk_args_error(spec, "%s takes no value (got '%s')", name, v);
}

static const char *opt_name(size_t i, void *ctx) { return ((const hk_opt *)ctx)[i].name; }

static int unknown_option(const hk_args *spec, const char *typed, size_t nopts)
{
    char key[72];
    const char *eq = strchr(typed, '=');
    snprintf(key, sizeof key, "%.*s", (int)(eq ? (size_t)(eq - typed) : strlen(typed)), typed);
    const char *bare = key;
    while (*bare == '-') bare++;
    const char *s = key[1] == '-' ? hk_args_suggest_fn(bare, opt_name, nopts, (void *)(uintptr_t)spec->opts) : NULL;
    if (s) return hk_args_error(spec, "unknown option '%s' (did you mean '--%s'?)", key, s);
    return hk_args_error(spec, "unknown option '%s'", key);
}

int hk_args_parse(const hk_args *spec, int argc, char **argv, int *npos)
{
    size_t nopts = 0;
    while (spec->opts && spec->opts[nopts].name) nopts++;
    if (npos) *npos = 0;
    /* --help wins over everything else on the line. */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (hk_args_is_help(argv[i])) return HK_ARGS_HELP;

    enum { MAXOPTS = 64 };
    const char *seen[MAXOPTS] = {0}; /* the value each single-value option got */
    if (nopts > MAXOPTS) return hk_args_error(spec, "internal error: more than %d options", MAXOPTS);
    int np = 0, only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const hk_opt *o = NULL;
        const char *value = NULL;
        int as_short = 0;
        if (!only_pos && !strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            for (size_t k = 0; k < nopts && !o; k++)
                if (strlen(spec->opts[k].name) == len && !strncmp(spec->opts[k].name, a + 2, len) && len)
                    o = &spec->opts[k];
            if (!o) return unknown_option(spec, a, nopts);
            if (eq) value = eq + 1;
        } else if (!only_pos && a[0] == '-' && a[1] != '\0' && !(np < spec->maxpos && looks_numeric(a))) {
            for (size_t k = 0; k < nopts && !o; k++)
                if (spec->opts[k].shortname && spec->opts[k].shortname == a[1]) o = &spec->opts[k];
            if (!o) return unknown_option(spec, a, nopts);
            as_short = 1;
            if (a[2]) {
                if (o->kind == HK_OPT_FLAG) return hk_args_error(spec, "unknown option '%s'", a);
                value = a + 2;
            }
        } else {
            if (np >= spec->maxpos) {
                if (spec->maxpos == 0) return hk_args_error(spec, "unexpected argument '%s'", a);
                return hk_args_error(spec, "unexpected argument '%s': at most %d %s", a, spec->maxpos,
                                     spec->posname ? spec->posname : "argument");
            }
            spec->pos[np++] = a;
            if (npos) *npos = np;
            continue;
        }
        char name[80];
        shown(name, sizeof name, o, as_short);
        if (o->kind == HK_OPT_FLAG) {
            if (value) return hk_args_error(spec, "%s takes no value (got '%s')", name, value);
            *(int *)o->dest = 1;
            continue;
        }
        if (!value) {
            const char *next = i + 1 < argc ? argv[i + 1] : NULL;
            if (!next || (next[0] == '-' && next[1] != '\0' && !looks_numeric(next)))
                return hk_args_error(spec, "option '%s' needs a value (%s)", name, metavar(o));
            value = next;
            i++;
        }
        size_t k = (size_t)(o - spec->opts);
        if (o->kind != HK_OPT_LIST) {
            if (seen[k])
                return hk_args_error(spec, "%s given twice ('%s', '%s'); it takes one value", name, seen[k], value);
            seen[k] = value;
        }
        int rc = store(spec, o, name, value);
        if (rc) return rc;
    }
    return 0;
}
