/* hkref — the settings of a parametric golden builder: "KEY=VALUE,KEY=VALUE"
 * parsed into the op's argument struct over its defaults (see case.h).  One
 * parser for the committed case table and for `hkref golden generate --op`,
 * so a committed file is reachable from the command line byte for byte. */
#include "case.h"

#include "ref/error.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

long hk_counts_at(const hk_counts *c, long b)
{
    if (!c || c->n <= 0 || b < 0) return 0;
    if (c->n == 1) return c->v[0];
    return b < c->n ? c->v[b] : 0;
}

static const hk_golden_param *find_param(const hk_golden_op *op, const char *key, size_t klen)
{
    for (size_t i = 0; i < op->nparams; i++)
        if (strlen(op->params[i].key) == klen && !strncmp(op->params[i].key, key, klen)) return &op->params[i];
    return NULL;
}

/* "k1, k2, ..." of the op's settings, for messages. */
static void key_list(const hk_golden_op *op, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < op->nparams && k + 1 < size; i++) {
        int w = snprintf(buf + k, size - k, "%s%s", i ? ", " : "", op->params[i].key);
        if (w < 0) break;
        k += (size_t)w;
    }
}

static void enum_list(const char *const *names, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; names[i] && k + 1 < size; i++) {
        int w = snprintf(buf + k, size - k, "%s%s", i ? "|" : "", names[i]);
        if (w < 0) break;
        k += (size_t)w;
    }
}

static int parse_long(const char *v, long *out)
{
    if (!*v || isspace((unsigned char)*v)) return 0;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end) return 0;
    *out = x;
    return 1;
}

static int parse_real(const char *v, double *out)
{
    if (!*v || isspace((unsigned char)*v)) return 0;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || *end || !isfinite(x)) return 0;
    *out = x;
    return 1;
}

static int in_range(const hk_golden_param *p, double x)
{
    return x >= p->lo && ((p->flags & HK_PF_HI_OPEN) ? x < p->hi : x <= p->hi);
}

static int set_one(const hk_golden_op *op, const hk_golden_param *p, void *arg, const char *v)
{
    char *field = (char *)arg + p->offset;
    char vals[256];
    const char *close = (p->flags & HK_PF_HI_OPEN) ? ")" : "]";
    switch (p->kind) {
    case HK_PK_INT: {
        long x;
        HK_REQUIRE(parse_long(v, &x), HK_EINVAL, "%s: setting %s=%s is not an integer", op->op, p->key, v);
        HK_REQUIRE(in_range(p, (double)x), HK_EDOM, "%s: setting %s=%ld is outside [%.17g, %.17g%s", op->op, p->key, x,
                   p->lo, p->hi, close);
        memcpy(field, &x, sizeof x);
        return HK_OK;
    }
    case HK_PK_REAL: {
        double x;
        HK_REQUIRE(parse_real(v, &x), HK_EINVAL, "%s: setting %s=%s is not a finite number", op->op, p->key, v);
        HK_REQUIRE(in_range(p, x), HK_EDOM, "%s: setting %s=%s is outside [%.17g, %.17g%s", op->op, p->key, v, p->lo,
                   p->hi, close);
        memcpy(field, &x, sizeof x);
        return HK_OK;
    }
    case HK_PK_ENUM:
        for (int i = 0; p->names[i]; i++)
            if (!strcmp(p->names[i], v)) {
                memcpy(field, &i, sizeof i);
                return HK_OK;
            }
        enum_list(p->names, vals, sizeof vals);
        HK_ERROR(HK_EINVAL, "%s: setting %s=%s is not one of %s", op->op, p->key, v, vals);
    case HK_PK_STR: {
        size_t len = strlen(v);
        HK_REQUIRE(len > 0 && len < p->size, HK_EINVAL, "%s: setting %s='%s' must have 1 to %zu characters", op->op,
                   p->key, v, p->size - 1);
        for (size_t i = 0; i < len; i++)
            HK_REQUIRE(isalnum((unsigned char)v[i]) || strchr("_-.", v[i]), HK_EINVAL,
                       "%s: setting %s='%s': only letters, digits, '_', '-' and '.'", op->op, p->key, v);
        memcpy(field, v, len + 1);
        return HK_OK;
    }
    case HK_PK_LORA: {
        unsigned bits = 0;
        if (strcmp(v, "none") != 0)
            for (const char *c = v; *c; c++) {
                const char *at = strchr("qkvo", *c);
                HK_REQUIRE(at && *c, HK_EINVAL, "%s: setting %s=%s: letters of q, k, v, o (or none)", op->op, p->key, v);
                unsigned bit = 1u << (at - "qkvo");
                HK_REQUIRE(!(bits & bit), HK_EINVAL, "%s: setting %s=%s names '%c' twice", op->op, p->key, v, *c);
                bits |= bit;
            }
        HK_REQUIRE(*v, HK_EINVAL, "%s: setting %s is empty (use none)", op->op, p->key);
        memcpy(field, &bits, sizeof bits);
        return HK_OK;
    }
    case HK_PK_COUNTS: {
        hk_counts c;
        memset(&c, 0, sizeof c);
        const char *s = v;
        while (1) {
            const char *e = strchr(s, ':');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            char num[32];
            HK_REQUIRE(len > 0 && len < sizeof num, HK_EINVAL, "%s: setting %s=%s: counts like 2 or 2:0:1", op->op,
                       p->key, v);
            memcpy(num, s, len);
            num[len] = 0;
            long x;
            HK_REQUIRE(parse_long(num, &x) && in_range(p, (double)x), HK_EDOM,
                       "%s: setting %s=%s: each count must be an integer in [%.0f, %.0f]", op->op, p->key, v, p->lo,
                       p->hi);
            HK_REQUIRE(c.n < HK_COUNTS_MAX, HK_EINVAL, "%s: setting %s=%s: at most %d counts", op->op, p->key, v,
                       HK_COUNTS_MAX);
            c.v[c.n++] = x;
            if (!e) break;
            s = e + 1;
        }
        memcpy(field, &c, sizeof c);
        return HK_OK;
    }
    }
    HK_ERROR(HK_EINVAL, "%s: setting %s has an unknown kind", op->op, p->key);
}

int hk_golden_params_apply(const hk_golden_op *op, void *arg, const char *kvlist)
{
    HK_REQUIRE_PTR(op);
    HK_REQUIRE_PTR(arg);
    if (!kvlist) return HK_OK;
    const char *s = kvlist;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char item[512];
        HK_REQUIRE(len < sizeof item, HK_EINVAL, "%s: setting '%.40s...' is too long", op->op, s);
        memcpy(item, s, len);
        item[len] = 0;
        s = e ? e + 1 : s + len;
        if (!len) {
            HK_REQUIRE(!e || *s, HK_EINVAL, "%s: settings '%s' end with a comma", op->op, kvlist);
            HK_REQUIRE(!e, HK_EINVAL, "%s: settings '%s' have an empty entry", op->op, kvlist);
            continue;
        }
        char *eq = strchr(item, '=');
        HK_REQUIRE(eq && eq != item, HK_EINVAL, "%s: setting '%s' is not KEY=VALUE", op->op, item);
        *eq = 0;
        const char *key = item, *val = eq + 1;
        const hk_golden_param *p = find_param(op, key, strlen(key));
        if (p) {
            HK_TRY(set_one(op, p, arg, val));
        } else if (op->extra) {
            HK_TRY(op->extra(arg, key, val));
        } else {
            char keys[1024];
            key_list(op, keys, sizeof keys);
            HK_ERROR(HK_ENOTFOUND, "%s: unknown setting '%s' (settings: %s)", op->op, key, keys);
        }
    }
    return HK_OK;
}

int hk_golden_params_parse(const hk_golden_op *op, void *arg, const char *const *lists, int nlists)
{
    HK_REQUIRE_PTR(op);
    HK_REQUIRE_PTR(arg);
    memcpy(arg, op->defaults, op->arg_size);
    for (int i = 0; i < nlists; i++) HK_TRY(hk_golden_params_apply(op, arg, lists[i]));
    if (op->check) HK_TRY(op->check(arg));
    return HK_OK;
}

static void value_str(const hk_golden_param *p, const void *arg, char *buf, size_t size)
{
    const char *field = (const char *)arg + p->offset;
    switch (p->kind) {
    case HK_PK_INT: {
        long x;
        memcpy(&x, field, sizeof x);
        snprintf(buf, size, "%ld", x);
        return;
    }
    case HK_PK_REAL: {
        double x;
        memcpy(&x, field, sizeof x);
        snprintf(buf, size, "%g", x);
        return;
    }
    case HK_PK_ENUM: {
        int x;
        memcpy(&x, field, sizeof x);
        snprintf(buf, size, "%s", p->names[x]);
        return;
    }
    case HK_PK_STR:
        snprintf(buf, size, "%s", field);
        return;
    case HK_PK_LORA: {
        unsigned bits;
        memcpy(&bits, field, sizeof bits);
        size_t k = 0;
        for (int i = 0; i < 4 && k + 1 < size; i++)
            if (bits & (1u << i)) buf[k++] = "qkvo"[i];
        buf[k] = 0;
        if (!k) snprintf(buf, size, "none");
        return;
    }
    case HK_PK_COUNTS: {
        hk_counts c;
        memcpy(&c, field, sizeof c);
        size_t k = 0;
        buf[0] = 0;
        for (int i = 0; i < c.n && k + 1 < size; i++) {
            int w = snprintf(buf + k, size - k, "%s%ld", i ? ":" : "", c.v[i]);
            if (w < 0) break;
            k += (size_t)w;
        }
        if (!c.n) snprintf(buf, size, "0");
        return;
    }
    }
    snprintf(buf, size, "?");
}

void hk_golden_params_help(const hk_golden_op *op, FILE *f)
{
    if (!op || !f) return;
    for (size_t i = 0; i < op->nparams; i++) {
        const hk_golden_param *p = &op->params[i];
        char dflt[96], range[256];
        value_str(p, op->defaults, dflt, sizeof dflt);
        switch (p->kind) {
        case HK_PK_INT:
        case HK_PK_COUNTS:
            snprintf(range, sizeof range, "%s in [%.0f, %.0f]", p->kind == HK_PK_COUNTS ? "counts a:b:..." : "integer",
                     p->lo, p->hi);
            break;
        case HK_PK_REAL:
            snprintf(range, sizeof range, "number in [%g, %g%s", p->lo, p->hi, (p->flags & HK_PF_HI_OPEN) ? ")" : "]");
            break;
        case HK_PK_ENUM:
            enum_list(p->names, range, sizeof range);
            break;
        case HK_PK_STR:
            snprintf(range, sizeof range, "name");
            break;
        case HK_PK_LORA:
            snprintf(range, sizeof range, "letters of qkvo, or none");
            break;
        }
        fprintf(f, "  %-16s = %-10s %s: %s\n", p->key, dflt, range, p->help);
    }
    if (op->extra_help) fprintf(f, "  %s\n", op->extra_help);
}
