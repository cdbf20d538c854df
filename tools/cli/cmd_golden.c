/* hkref golden — generate the golden set; check a backend's outputs against it. */
#include "cli.h"
#include "golden_report.h"
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
           "       hkref golden check --outputs DIR [--golden DIR] [--dtype f64|f32] [--partial] [selection] [reports]\n"
           "       hkref golden list\n\n"
           "generate  writes every case to DIR/<op>/<case>.safetensors (default DIR: golden),\n"
           "          F64, atomically, byte-identical from run to run.\n"
           "check     for every golden file DIR/<op>/<case>.safetensors (default DIR: golden) reads the\n"
           "          backend's OUTPUTS/<case>.safetensors, which must hold the same out.* / grad.* tensors\n"
           "          (F64 for --dtype f64; F32 or F64 for --dtype f32), and compares them element-wise,\n"
           "          |got - ref| <= atol + rtol |ref|, with the tolerance stored in the golden file for\n"
           "          that dtype; integer tensors bit-exactly.  Per case and tensor: max abs / rel error,\n"
           "          worst multi-index, %% of threshold; the first 10 failing elements; a __REPRO line;\n"
           "          at the end the failed cases by op, what was skipped or not selected, the verdict.\n"
           "          A missing case file or tensor is a failure.  --outputs must be a directory.\n"
           "          The golden set is verified first against DIR/MANIFEST (SHA-256 of every file, printed\n"
           "          in the summary) and the registered cases: an extra, altered or missing case is an\n"
           "          error (exit 2); --partial checks an incomplete set and reports it as partial.\n"
           "          A backend file that is (a link to / a copy of) the golden file is refused.\n"
           "  selection (lists repeat and add up; every other option at most once):\n"
           "    --op OP              only cases of op OP (repeatable)\n"
           "    --case PATTERN       only cases matching PATTERN (repeatable): a glob (* ? [...]) over the\n"
           "                         name, else the case of exactly that name, else every name starting with it\n"
           "    --exclude-op OP, --exclude-case PATTERN   leave these out (repeatable)\n"
           "    --forward-only       compare out.* only (no grad.* needed)\n"
           "    --grads SET[,SET]    compare only these grad.*: all (default), none, inputs, params, lora\n"
           "                         (the LoRA factors), frozen (params but not lora), or a glob over the\n"
           "                         name after 'grad.' (e.g. 'W_*')\n"
           "    --skip-missing       a case without a backend file is SKIPPED (listed, never passed); a run\n"
           "                         that skips every selected case fails\n"
           "  reports:\n"
           "    --json FILE          schema " HK_CHECK_JSON_SCHEMA ": full-precision numbers, NaN/inf counts\n"
           "    --junit FILE         JUnit XML: a testsuite per op, a testcase per case\n"
           "    --tap FILE           TAP version 13 (FILE '-': TAP on stdout, the text report on stderr)\n"
           "    -q, --quiet          text report: failing cases and the closing summary only\n"
           "list      the registered cases (op, case, source).\n"
           "exit status: 0 all pass, 1 some case failed (or every selected case was skipped),\n"
           "2 usage error, an unreadable, altered or incomplete golden set, or a report file that\n"
           "could not be written.  The format, op by op: golden/README.md;\n"
           "gating a backend: docs/backends.md.\n\n");
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
    int st = hk_golden_write_ondemand(o->dir, f, o->op->op, name, path, sizeof path);
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

/* ---- check: options (every single-value option at most once; list options repeat, union) ---- */

typedef struct {
    hk_golden_dir_opts d;
    hk_check_report_opts rep;
    const char **ops, **cases, **xops, **xcases; /* each with room for argc entries */
} check_opts;

static int add_sel(const char **list, size_t *n, const char *opt, const char *v)
{
    if (!v[0]) return hk_cli_usage_error("golden", "check: %s needs a non-empty value", opt);
    list[(*n)++] = v;
    return 0;
}

/* A single-value option: a second occurrence is refused (never last-one-wins). */
static int set_once(const char **slot, const char *opt, const char *v)
{
    if (*slot) return hk_cli_usage_error("golden", "check: %s given twice ('%s', then '%s')", opt, *slot, v);
    *slot = v;
    return 0;
}

static int parse_check(int argc, char **argv, check_opts *o, int *help)
{
    const char *golden = NULL, *dtype = NULL, *grads = NULL;
    int forward_only = 0, skip_missing = 0, quiet = 0, partial = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (hk_cli_is_help(a)) {
            *help = 1;
            return 0;
        }
        int *flag = !strcmp(a, "--forward-only") ? &forward_only
                    : !strcmp(a, "--skip-missing") ? &skip_missing
                    : !strcmp(a, "--partial") ? &partial
                    : (!strcmp(a, "-q") || !strcmp(a, "--quiet")) ? &quiet : NULL;
        if (flag) {
            if (*flag) return hk_cli_usage_error("golden", "check: %s given twice", a);
            *flag = 1;
            continue;
        }
        if (i + 1 >= argc) return hk_cli_usage_error("golden", "check: '%s' needs a value or is unknown", a);
        const char *v = argv[++i];
        int rc = 0;
        if (!strcmp(a, "--outputs")) rc = set_once(&o->d.outputs, a, v);
        else if (!strcmp(a, "--golden")) rc = set_once(&golden, a, v);
        else if (!strcmp(a, "--json")) rc = set_once(&o->rep.json, a, v);
        else if (!strcmp(a, "--junit")) rc = set_once(&o->rep.junit, a, v);
        else if (!strcmp(a, "--tap")) rc = set_once(&o->rep.tap, a, v);
        else if (!strcmp(a, "--dtype")) rc = set_once(&dtype, a, v);
        else if (!strcmp(a, "--grads")) rc = set_once(&grads, a, v);
        else if (!strcmp(a, "--op")) rc = add_sel(o->ops, &o->d.nops, a, v);
        else if (!strcmp(a, "--case")) rc = add_sel(o->cases, &o->d.ncases, a, v);
        else if (!strcmp(a, "--exclude-op")) rc = add_sel(o->xops, &o->d.nexclude_ops, a, v);
        else if (!strcmp(a, "--exclude-case")) rc = add_sel(o->xcases, &o->d.nexclude_cases, a, v);
        else return hk_cli_usage_error("golden", "check: unknown option '%s'", a);
        if (rc) return rc;
    }
    o->d.golden = golden ? golden : "golden";
    o->d.dtype = HK_GOLDEN_F64;
    if (dtype && !strcmp(dtype, "f32")) o->d.dtype = HK_GOLDEN_F32;
    else if (dtype && strcmp(dtype, "f64") != 0)
        return hk_cli_usage_error("golden", "check: --dtype must be f64 or f32 (got '%s')", dtype);
    if (!o->d.outputs) return hk_cli_usage_error("golden", "check: --outputs DIR is required");
    struct stat st;
    if (stat(o->d.outputs, &st) != 0)
        return hk_cli_usage_error("golden", "check: --outputs '%s': %s", o->d.outputs, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return hk_cli_usage_error("golden", "check: --outputs '%s' is not a directory", o->d.outputs);
    if (forward_only && grads && strcmp(grads, "none") != 0)
        return hk_cli_usage_error("golden", "check: --forward-only and --grads %s contradict each other", grads);
    if (grads && hk_golden_grads_valid(grads)) return hk_cli_usage_error("golden", "check: %s", hk_error_message());
    if (grads && !strcmp(grads, "all")) grads = NULL;
    if (grads && !strcmp(grads, "none")) forward_only = 1, grads = NULL;
    for (size_t i = 0; i < 3; i++) {
        const char *p = i == 0 ? o->rep.json : i == 1 ? o->rep.junit : o->rep.tap;
        if (p && !strcmp(p, "-") && i != 2)
            return hk_cli_usage_error("golden", "check: only --tap can write to stdout ('-')");
    }
    o->d.forward_only = forward_only;
    o->d.grads = grads;
    o->d.skip_missing = skip_missing;
    o->d.partial = partial;
    o->d.ops = o->ops;
    o->d.cases = o->cases;
    o->d.exclude_ops = o->xops;
    o->d.exclude_cases = o->xcases;
    o->rep.quiet = quiet;
    o->rep.dir = &o->d;
    return 0;
}

/* "<op>/<case>.safetensors" of every registered case (the set the checker expects). */
static char **registry_rels(size_t *n)
{
    *n = hk_golden_count();
    char **r = calloc(*n ? *n : 1, sizeof *r);
    for (size_t i = 0; r && i < *n; i++) {
        const hk_golden_case *c = hk_golden_get(i);
        size_t len = strlen(c->op->op) + strlen(c->name) + 14;
        if ((r[i] = malloc(len))) snprintf(r[i], len, "%s/%s.safetensors", c->op->op, c->name);
        else *n = i; /* out of memory: with a shorter registry the set is refused, never passed */
    }
    return r;
}

static int cmd_check(int argc, char **argv)
{
    check_opts o;
    memset(&o, 0, sizeof o);
    const char **lists = calloc(4 * (size_t)argc, sizeof *lists);
    if (!lists) return hk_cli_usage_error("golden", "check: out of memory");
    o.ops = lists;
    o.cases = lists + argc;
    o.xops = lists + 2 * argc;
    o.xcases = lists + 3 * argc;
    int help = 0, rc = parse_check(argc, argv, &o, &help);
    if (help) usage(stdout);
    hk_check_report *rep = help || rc ? NULL : hk_check_report_new(&o.rep);
    if (help || rc || !rep) {
        free(lists);
        return help ? 0 : rc ? rc : hk_cli_usage_error("golden", "check: out of memory");
    }
    size_t nreg = 0;
    char **reg = registry_rels(&nreg);
    o.d.registry = (const char *const *)reg;
    o.d.nregistry = reg ? nreg : 0;
    o.d.report = hk_check_report_case;
    o.d.skipped = hk_check_report_skip;
    o.d.report_ctx = rep;
    hk_golden_dir_summary sum;
    if (!reg)
        rc = hk_cli_usage_error("golden", "check: out of memory");
    else if (hk_golden_check_dir(&o.d, &sum))
        rc = hk_cli_fail("golden check");
    else
        rc = hk_check_report_finish(rep, &sum);
    hk_check_report_free(rep);
    for (size_t i = 0; reg && i < nreg; i++) free(reg[i]);
    free(reg);
    free(lists);
    return rc;
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
