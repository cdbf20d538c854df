/* hkref golden — generate the golden set; check a backend's outputs against it. */
#include "cli.h"
#include "golden/case.h"
#include "golden/check.h"

#include "ref/error.h"
#include "ref/tensorfile.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char hk_cmd_golden_summary[] = "generate the golden tensor set; check a backend's outputs against it";

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
           "The format, op by op: golden/README.md.\n");
}

static int cmd_generate(int argc, char **argv)
{
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
    static const hk_cli_sub subs[] = {{"generate", cmd_generate}, {"check", cmd_check}, {"list", cmd_list_sub}};
    return hk_cli_dispatch("golden", argc, argv, subs, 3, usage);
}
