/* hkref golden — generate the golden set; check a backend's outputs against it. */
#include "cli.h"
#include "golden/case.h"
#include "golden/check.h"

#include "ref/error.h"
#include "ref/tensorfile.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char hk_cmd_golden_summary[] =
    "generate the golden tensor set or a case at any shape; the reference on your inputs; check a backend";

static void usage_ondemand(FILE *f)
{
    fprintf(f, "       hkref golden generate --op OP [--from CASE] [--shape K=V,...] [--set K=V,...]... [--seed S]\n"
               "                             [--name NAME] DIR\n"
               "       hkref golden reference --inputs FILE [--op OP] [--from CASE] [--shape K=V,...] [--set K=V,...]...\n"
               "                             [--seed S] [--name NAME] DIR\n"
               "       hkref golden ops [OP]\n\n"
               "generate --op   one case of OP at any shape and setting (the op's parametric builder; settings are\n"
               "          applied in order over the op's defaults, or over the settings of committed case CASE),\n"
               "          written to DIR/<op>/<name>.safetensors with its settings in metadata `params`.\n"
               "reference the reference on your inputs: the in.* / param.* / mask.* tensors of FILE replace the\n"
               "          drawn ones (shapes, dtypes and masks validated against the op's spec for the settings);\n"
               "          the rest is drawn from --seed; writes the full case (outputs, gradients, tolerances).\n"
               "          OP and the base settings default to FILE's metadata (op, params, or a committed case).\n"
               "ops       the ops and their settings (key, default, allowed values).\n");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: hkref golden generate [DIR] [--case PREFIX]\n"
           "       hkref golden check --outputs DIR [--golden DIR] [--dtype f64|f32] [--json FILE] [--case PREFIX]\n"
           "       hkref golden list\n\n"
           "generate  writes every case to DIR/<op>/<case>.safetensors (default DIR: golden),\n"
           "          F64, atomically, byte-identical from run to run.\n"
           "check     for every golden file DIR/<op>/<case>.safetensors (default DIR: golden) reads the\n"
           "          backend's OUTPUTS/<case>.safetensors, which must hold the same out.* / grad.* tensors\n"
           "          (F64 for --dtype f64; F32 or F64 for --dtype f32), and compares them element-wise,\n"
           "          |got - ref| <= atol + rtol |ref|, with the tolerance stored in the golden file for\n"
           "          that dtype; integer tensors bit-exactly.  Per case and tensor: max abs / rel error,\n"
           "          worst multi-index, %% of threshold; the first 10 failing elements; a __REPRO line.\n"
           "          A missing case file or tensor is a failure.  --json FILE writes a summary.\n"
           "list      the registered cases (op, case, source).\n"
           "exit status: 0 all pass, 1 some case failed, 2 usage error or unreadable golden set.\n"
           "The format, op by op: golden/README.md.\n\n");
    usage_ondemand(f);
}

/* Settings of an on-demand case: --from CASE, --shape and --set lists (in order). */
#define MAX_LISTS 32
typedef struct {
    const hk_golden_op *op;
    const char *lists[MAX_LISTS];
    int nlists, nbase; /* the first nbase lists are the base (--from / the input file's settings) */
    unsigned long seed;
    int seed_set;
    const char *name, *dir, *inputs, *from;
} ondemand;

static int parse_seed(const char *v, unsigned long *out)
{
    char *end;
    if (!*v || *v == '-') return 0;
    unsigned long x = strtoul(v, &end, 10);
    if (*end) return 0;
    *out = x;
    return 1;
}

/* Parses the options shared by generate --op and reference; argv[i] is the option. */
static int ondemand_opt(const char *sub, ondemand *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (*i + 1 >= argc) return hk_cli_usage_error("golden", "%s: '%s' needs a value", sub, a);
    const char *v = argv[++*i];
    if (!strcmp(a, "--op")) {
        o->op = hk_golden_op_find(v);
        if (!o->op) return hk_cli_usage_error("golden", "%s: unknown op '%s' (hkref golden ops lists them)", sub, v);
    } else if (!strcmp(a, "--shape") || !strcmp(a, "--set")) {
        if (o->nlists >= MAX_LISTS) return hk_cli_usage_error("golden", "%s: too many --shape / --set", sub);
        o->lists[o->nlists++] = v;
    } else if (!strcmp(a, "--seed")) {
        if (!parse_seed(v, &o->seed)) return hk_cli_usage_error("golden", "%s: --seed must be an unsigned integer", sub);
        o->seed_set = 1;
    } else if (!strcmp(a, "--name")) {
        o->name = v;
    } else if (!strcmp(a, "--from")) {
        o->from = v;
    } else if (!strcmp(a, "--inputs")) {
        o->inputs = v;
    } else {
        return hk_cli_usage_error("golden", "%s: unknown option '%s'", sub, a);
    }
    return 0;
}

/* A file-name-safe case name: letters, digits, '.', '-', '_' only, starting with the op name. */
static int name_ok(const char *op, const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 200 || strncmp(name, op, strlen(op)) != 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i])) return 0;
    return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* <op>_<settings with '=' dropped and other signs as '-'>_s<seed>; long ones end in a hash. */
static void default_name(const ondemand *o, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "%s", o->from ? o->from : o->op->op);
    unsigned long h = 2166136261u;
    for (int l = o->nbase; l < o->nlists; l++)
        for (const char *c = o->lists[l]; *c; c++) {
            h = (h ^ (unsigned char)*c) * 16777619u;
            if (k + 24 >= size) continue;
            if (c == o->lists[l] || *c == ',') buf[k++] = '_';
            if (*c == ',' || *c == '=') continue;
            buf[k++] = isalnum((unsigned char)*c) || *c == '.' ? *c : '-';
        }
    buf[k] = 0;
    if (k + 24 >= size) k = size - 40, snprintf(buf + k, size - k, "_h%08lx", h & 0xffffffffUL), k = strlen(buf);
    snprintf(buf + k, size - k, "_s%lu", o->seed);
}

/* Builds and writes the case; given may be NULL. */
static int ondemand_write(const char *sub, ondemand *o, const hk_st_file *given)
{
    char name[256], path[4096];
    if (o->name) snprintf(name, sizeof name, "%s", o->name);
    else default_name(o, name, sizeof name);
    if (!name_ok(o->op->op, name))
        return hk_cli_usage_error("golden", "%s: case name '%s' must start with '%s' and use only letters, digits, '.', "
                                  "'-', '_'", sub, name, o->op->op);
    hk_st_file *f;
    if (hk_golden_build_op(o->op, name, o->seed, o->lists, o->nlists, given, 1, &f)) return hk_cli_fail("golden");
    int st = mkdir(o->dir, 0777) && errno != EEXIST;
    snprintf(path, sizeof path, "%s/%s", o->dir, o->op->op);
    if (!st) st = mkdir(path, 0777) && errno != EEXIST;
    if (st) {
        hk_st_free(f);
        return hk_cli_usage_error("golden", "%s: cannot create %s: %s", sub, path, strerror(errno));
    }
    snprintf(path, sizeof path, "%s/%s/%s.safetensors", o->dir, o->op->op, name);
    st = hk_st_write(f, path);
    hk_st_free(f);
    if (st) return hk_cli_fail("golden");
    printf("hkref golden %s: wrote %s\n", sub, path);
    return 0;
}

/* --from CASE: the committed case's op, settings and seed are the base. */
static int apply_from(const char *sub, ondemand *o)
{
    if (!o->from) return 0;
    const hk_golden_case *c = hk_golden_case_find(o->from);
    if (!c) return hk_cli_usage_error("golden", "%s: --from '%s' is not a committed case (hkref golden list)", sub, o->from);
    if (o->op && o->op != c->op)
        return hk_cli_usage_error("golden", "%s: --from %s is a case of op %s, not %s", sub, o->from, c->op->op, o->op->op);
    o->op = c->op;
    if (o->nlists >= MAX_LISTS) return hk_cli_usage_error("golden", "%s: too many settings", sub);
    memmove(o->lists + 1, o->lists, sizeof o->lists[0] * (size_t)o->nlists);
    o->lists[0] = c->params;
    o->nlists++;
    o->nbase++;
    if (!o->seed_set) o->seed = c->seed;
    return 0;
}

static int cmd_generate_op(int argc, char **argv)
{
    ondemand o = {.seed = 1};
    for (int i = 1; i < argc; i++) {
        if (hk_cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
        if (argv[i][0] == '-') {
            int rc = ondemand_opt("generate", &o, argc, argv, &i);
            if (rc) return rc;
            if (o.inputs) return hk_cli_usage_error("golden", "generate: --inputs belongs to 'hkref golden reference'");
        } else if (!o.dir) {
            o.dir = argv[i];
        } else {
            return hk_cli_usage_error("golden", "generate: unexpected argument '%s'", argv[i]);
        }
    }
    int rc = apply_from("generate", &o);
    if (rc) return rc;
    if (!o.op) return hk_cli_usage_error("golden", "generate: --op OP (or --from CASE) is required with settings");
    if (!o.dir) return hk_cli_usage_error("golden", "generate: the output directory DIR is required with --op");
    return ondemand_write("generate", &o, NULL);
}

static int has_opt(int argc, char **argv, const char *const *names)
{
    for (int i = 1; i < argc; i++)
        for (int k = 0; names[k]; k++)
            if (!strcmp(argv[i], names[k])) return 1;
    return 0;
}

static int cmd_generate(int argc, char **argv)
{
    static const char *const od[] = {"--op", "--from", "--shape", "--set", "--seed", "--name", NULL};
    if (has_opt(argc, argv, od)) return cmd_generate_op(argc, argv);
    const char *dir = NULL, *prefix = NULL;
    for (int i = 1; i < argc; i++) {
        if (hk_cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--case") && i + 1 < argc) {
            prefix = argv[++i];
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            return hk_cli_usage_error("golden", "generate: unexpected argument '%s'", argv[i]);
        }
    }
    if (prefix) { /* a typo must not pass as "0 files written" (nor create DIR) */
        size_t match = 0;
        for (size_t i = 0; i < hk_golden_count(); i++)
            match += strncmp(hk_golden_get(i)->name, prefix, strlen(prefix)) == 0;
        if (!match) return hk_cli_usage_error("golden", "generate: no case matches --case '%s'", prefix);
    }
    long n;
    if (hk_golden_generate(dir ? dir : "golden", prefix, NULL, &n)) return hk_cli_fail("golden generate");
    printf("hkref golden generate: wrote %ld case files under %s/\n", n, dir ? dir : "golden");
    return 0;
}

/* hkref golden reference --inputs FILE ... DIR */
static int cmd_reference(int argc, char **argv)
{
    ondemand o = {.seed = 1};
    for (int i = 1; i < argc; i++) {
        if (hk_cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
        if (argv[i][0] == '-') {
            int rc = ondemand_opt("reference", &o, argc, argv, &i);
            if (rc) return rc;
        } else if (!o.dir) {
            o.dir = argv[i];
        } else {
            return hk_cli_usage_error("golden", "reference: unexpected argument '%s'", argv[i]);
        }
    }
    if (!o.inputs) return hk_cli_usage_error("golden", "reference: --inputs FILE is required");
    if (!o.dir) return hk_cli_usage_error("golden", "reference: the output directory DIR is required");
    hk_st_file *in;
    if (hk_st_read(o.inputs, &in)) return hk_cli_fail("golden reference");
    /* Base settings: --from, else the file's own (an on-demand case's params, or a committed case's). */
    const char *fop = hk_st_get_meta(in, "op"), *fparams = hk_st_get_meta(in, "params"),
               *fcase = hk_st_get_meta(in, "case");
    int rc = 0;
    if (!o.op && !o.from && fop) {
        o.op = hk_golden_op_find(fop);
        if (!o.op) rc = hk_cli_usage_error("golden", "reference: %s names op '%s', which has no builder", o.inputs, fop);
    }
    if (!rc && !o.from && fparams && o.op && fop && !strcmp(fop, o.op->op)) {
        if (o.nlists >= MAX_LISTS) rc = hk_cli_usage_error("golden", "reference: too many settings");
        else {
            memmove(o.lists + 1, o.lists, sizeof o.lists[0] * (size_t)o.nlists);
            o.lists[0] = fparams;
            o.nlists++;
            o.nbase++;
        }
    } else if (!rc && !o.from && fcase && hk_golden_case_find(fcase) && (!o.op || hk_golden_case_find(fcase)->op == o.op)) {
        o.from = fcase;
    }
    if (!rc) rc = apply_from("reference", &o);
    if (!rc && !o.op) rc = hk_cli_usage_error("golden", "reference: --op OP is required (%s has no op metadata)", o.inputs);
    if (!rc && !o.seed_set) {
        const char *fs = hk_st_get_meta(in, "seed");
        if (fs && !o.from) parse_seed(fs, &o.seed);
    }
    char name[256];
    if (!rc && !o.name) { /* <op>_reference_<file stem> */
        const char *base = strrchr(o.inputs, '/');
        base = base ? base + 1 : o.inputs;
        size_t k = (size_t)snprintf(name, sizeof name, "%s_reference_", o.op->op);
        for (const char *c = base; *c && k + 1 < sizeof name && strcmp(c, ".safetensors") != 0; c++)
            name[k++] = isalnum((unsigned char)*c) || strchr("._-", *c) ? *c : '-';
        name[k] = 0;
        o.name = name;
    }
    if (!rc) rc = ondemand_write("reference", &o, in);
    hk_st_free(in);
    return rc;
}

static int cmd_ops(int argc, char **argv)
{
    if (argc > 2) return hk_cli_usage_error("golden", "ops: unexpected argument '%s'", argv[2]);
    if (argc == 2) {
        if (hk_cli_is_help(argv[1])) {
            usage(stdout);
            return 0;
        }
        const hk_golden_op *op = hk_golden_op_find(argv[1]);
        if (!op) return hk_cli_usage_error("golden", "ops: unknown op '%s'", argv[1]);
        printf("%s  (%s)\nsettings (KEY = default  values: meaning):\n", op->op, op->source);
        hk_golden_params_help(op, stdout);
        return 0;
    }
    for (size_t i = 0; i < hk_golden_op_count(); i++) {
        const hk_golden_op *op = hk_golden_op_get(i);
        size_t ncases = 0;
        for (size_t k = 0; k < hk_golden_count(); k++) ncases += hk_golden_get(k)->op == op;
        printf("%-15s %3zu committed cases, %2zu settings  %s\n", op->op, ncases, op->nparams, op->source);
    }
    printf("hkref golden ops OP lists an op's settings; hkref golden generate --op OP --set K=V,... DIR builds one.\n");
    return 0;
}

static int cmd_list(void)
{
    size_t n = hk_golden_count();
    for (size_t i = 0; i < n; i++) {
        const hk_golden_case *c = hk_golden_get(i);
        printf("%-14s %-44s %s\n", c->op->op, c->name, c->op->source);
    }
    printf("%zu cases\n", n);
    return 0;
}

typedef struct {
    const char *golden, *outputs, *json, *prefix;
    hk_golden_dtype dtype;
} check_opts;

static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *case_json(const hk_golden_result *cr, int failed)
{
    json_t *o = json_object(), *ts = json_array();
    json_object_set_new(o, "case", json_string(cr->name));
    json_object_set_new(o, "op", json_string(cr->op));
    json_object_set_new(o, "pass", json_boolean(!failed));
    if (cr->problem[0]) json_object_set_new(o, "problem", json_string(cr->problem));
    for (int k = 0; k < cr->ntensors; k++) {
        const hk_golden_tensor_result *t = &cr->t[k];
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(t->name));
        json_object_set_new(j, "n", json_integer(t->n));
        json_object_set_new(j, "nfail", json_integer(t->nfail));
        json_object_set_new(j, "max_abs", jnum(t->max_abs));
        json_object_set_new(j, "max_rel", jnum(t->max_rel));
        json_object_set_new(j, "pct_threshold", jnum(t->pct));
        json_object_set_new(j, "worst_index", json_string(t->worst));
        json_object_set_new(j, "atol", jnum(t->atol));
        json_object_set_new(j, "rtol", jnum(t->rtol));
        json_object_set_new(j, "exact", json_boolean(t->exact));
        if (t->problem[0]) json_object_set_new(j, "problem", json_string(t->problem));
        json_array_append_new(ts, j);
    }
    json_object_set_new(o, "tensors", ts);
    return o;
}

static void print_case(const check_opts *o, const hk_golden_case_report *rep)
{
    const hk_golden_result *cr = rep->result;
    long nfail = 0, total = 0;
    for (int i = 0; i < cr->ntensors; i++) {
        nfail += cr->t[i].nfail;
        total += cr->t[i].n;
    }
    printf("[%3zu/%zu] %-56s %s\n", rep->index + 1, rep->count, rep->rel, rep->failed ? "FAILED" : "pass");
    if (cr->problem[0]) printf("    %s\n", cr->problem);
    for (int i = 0; i < cr->ntensors; i++) {
        const hk_golden_tensor_result *t = &cr->t[i];
        if (t->problem[0] && t->nfail == t->n) {
            printf("    %-16s FAIL %s\n", t->name, t->problem);
            continue;
        }
        printf("    %-16s n=%-4ld fail=%-3ld max_abs=%-9.3g max_rel=%-9.3g worst=%-10s %8.3g%% of thr",
               t->name, t->n, t->nfail, t->max_abs, t->max_rel, t->worst, t->pct);
        if (t->exact)
            printf(" (exact)");
        else
            printf(" (atol %.3g rtol %.3g)", t->atol, t->rtol);
        printf(" %s%s%s\n", t->nfail ? "FAIL" : "ok", t->problem[0] ? " " : "", t->problem);
    }
    if (rep->elements[0]) printf("  first failing elements (at most 10 per case):\n%s", rep->elements);
    if (rep->failed) {
        printf("FAILED %s (errors:%ld total:%ld)\n", cr->name, nfail, total);
        printf("__REPRO: hkref golden check --outputs %s --golden %s --dtype %s --case %s\n", o->outputs, o->golden,
               o->dtype == HK_GOLDEN_F32 ? "f32" : "f64", cr->name);
    }
}

typedef struct {
    const check_opts *o;
    json_t *cases;
} report_ctx;

static void report_case(void *ctx, const hk_golden_case_report *rep)
{
    report_ctx *rc = ctx;
    print_case(rc->o, rep);
    json_array_append_new(rc->cases, case_json(rep->result, rep->failed));
}

static int write_json(const check_opts *o, const char *dt, const hk_golden_dir_summary *sum, json_t *cases)
{
    json_t *root = json_object();
    json_object_set_new(root, "dtype", json_string(dt));
    json_object_set_new(root, "golden", json_string(o->golden));
    json_object_set_new(root, "outputs", json_string(o->outputs));
    json_object_set_new(root, "cases_run", json_integer(sum->run));
    json_object_set_new(root, "cases_failed", json_integer(sum->failed));
    json_object_set_new(root, "cases", json_incref(cases));
    char *s = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
    json_decref(root);
    int st = s ? hk_file_write_atomic(o->json, s, strlen(s))
               : hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "cannot serialize the JSON summary");
    free(s);
    return st;
}

static int run_check(const check_opts *o)
{
    report_ctx ctx = {o, json_array()};
    hk_golden_dir_opts d = {.golden = o->golden, .outputs = o->outputs, .dtype = o->dtype, .prefix = o->prefix,
                            .report = report_case, .report_ctx = &ctx};
    hk_golden_dir_summary sum;
    int rc = 0;
    if (hk_golden_check_dir(&d, &sum)) {
        rc = hk_cli_fail("golden check");
    } else {
        const char *dt = o->dtype == HK_GOLDEN_F32 ? "f32" : "f64";
        printf("hkref golden check (%s): %ld cases, %ld failed -> %s\n", dt, sum.run, sum.failed,
               sum.failed ? "FAILED" : "pass");
        if (o->json && write_json(o, dt, &sum, ctx.cases)) rc = hk_cli_fail("golden check");
        if (rc == 0) rc = sum.failed ? 1 : 0;
    }
    json_decref(ctx.cases);
    return rc;
}

static int cmd_check(int argc, char **argv)
{
    check_opts o = {.golden = "golden", .dtype = HK_GOLDEN_F64};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (hk_cli_is_help(a)) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) return hk_cli_usage_error("golden", "check: '%s' needs a value or is unknown", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--outputs")) o.outputs = v;
        else if (!strcmp(a, "--golden")) o.golden = v;
        else if (!strcmp(a, "--json")) o.json = v;
        else if (!strcmp(a, "--case")) o.prefix = v;
        else if (!strcmp(a, "--dtype")) {
            if (!strcmp(v, "f64")) o.dtype = HK_GOLDEN_F64;
            else if (!strcmp(v, "f32")) o.dtype = HK_GOLDEN_F32;
            else return hk_cli_usage_error("golden", "check: --dtype must be f64 or f32 (got '%s')", v);
        } else
            return hk_cli_usage_error("golden", "check: unknown option '%s'", a);
    }
    if (!o.outputs) return hk_cli_usage_error("golden", "check: --outputs DIR is required");
    return run_check(&o);
}

static int cmd_list_sub(int argc, char **argv)
{
    if (argc > 1) return hk_cli_usage_error("golden", "list: unexpected argument '%s'", argv[1]);
    return cmd_list();
}

int hk_cmd_golden(int argc, char **argv)
{
    static const hk_cli_sub subs[] = {{"generate", cmd_generate}, {"check", cmd_check},   {"list", cmd_list_sub},
                                      {"ops", cmd_ops},           {"reference", cmd_reference}};
    return hk_cli_dispatch("golden", argc, argv, subs, 5, usage);
}
