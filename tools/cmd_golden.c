/* hkref golden — generate the golden set; check a backend's outputs against it. */
#include "cli.h"
#include "golden.h"

#include "../ref/error.h"
#include "../ref/tensorfile.h"

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
        printf("%-14s %-44s %s\n", c->op, c->name, c->source);
    }
    printf("%zu cases\n", n);
    return 0;
}

typedef struct {
    const char *golden, *outputs, *json, *prefix;
    hk_golden_dtype dtype;
} check_opts;

static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *case_json(const hk_gcase_result *cr, int failed)
{
    json_t *o = json_object(), *ts = json_array();
    json_object_set_new(o, "case", json_string(cr->name));
    json_object_set_new(o, "op", json_string(cr->op));
    json_object_set_new(o, "pass", json_boolean(!failed));
    if (cr->problem[0]) json_object_set_new(o, "problem", json_string(cr->problem));
    for (int k = 0; k < cr->ntensors; k++) {
        const hk_gtensor_result *t = &cr->t[k];
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

static void print_case(const check_opts *o, size_t k, size_t n, const char *rel, const hk_gcase_result *cr,
                       int failed, const char *elems)
{
    long nfail = 0, total = 0;
    for (int i = 0; i < cr->ntensors; i++) {
        nfail += cr->t[i].nfail;
        total += cr->t[i].n;
    }
    printf("[%3zu/%zu] %-56s %s\n", k + 1, n, rel, failed ? "FAILED" : "pass");
    if (cr->problem[0]) printf("    %s\n", cr->problem);
    for (int i = 0; i < cr->ntensors; i++) {
        const hk_gtensor_result *t = &cr->t[i];
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
    if (elems && *elems) printf("  first failing elements (at most 10 per case):\n%s", elems);
    if (failed) {
        printf("FAILED %s (errors:%ld total:%ld)\n", cr->name, nfail, total);
        printf("__REPRO: hkref golden check --outputs %s --golden %s --dtype %s --case %s\n", o->outputs, o->golden,
               o->dtype == HK_GOLDEN_F32 ? "f32" : "f64", cr->name);
    }
}

/* Case name = file name without .safetensors. */
static void case_name(char *buf, size_t size, const char *rel)
{
    const char *slash = strrchr(rel, '/');
    snprintf(buf, size, "%s", slash ? slash + 1 : rel);
    size_t len = strlen(buf), ext = strlen(".safetensors");
    if (len > ext) buf[len - ext] = 0;
}

static int run_check(const check_opts *o)
{
    char **paths;
    size_t np;
    if (hk_golden_list_dir(o->golden, &paths, &np)) return hk_cli_fail("golden check");
    if (np == 0) {
        hk_golden_list_free(paths, np);
        return hk_cli_usage_error("golden", "check: no <op>/<case>.safetensors files under '%s'", o->golden);
    }
    json_t *cases = json_array();
    long nrun = 0, nfailed = 0;
    int rc = 0;
    for (size_t k = 0; k < np && rc == 0; k++) {
        char name[256], path[4096];
        case_name(name, sizeof name, paths[k]);
        if (o->prefix && strncmp(name, o->prefix, strlen(o->prefix)) != 0) continue;
        snprintf(path, sizeof path, "%s/%s", o->golden, paths[k]);
        hk_st_file *gold = NULL, *got = NULL;
        if (hk_st_read(path, &gold)) {
            rc = hk_cli_fail("golden check");
            break;
        }
        snprintf(path, sizeof path, "%s/%s.safetensors", o->outputs, name);
        char got_problem[sizeof ((hk_gcase_result *)0)->problem] = ""; /* 13 + 100 + 2 + 140 < 256: fits */
        if (hk_st_read(path, &got)) {
            snprintf(got_problem, sizeof got_problem, "backend file %.100s: %.140s", path, hk_error_message());
            hk_error_clear();
            got = NULL;
        }
        hk_gcase_result *cr = malloc(sizeof *cr);
        char *elems = NULL;
        size_t elen = 0;
        FILE *log = open_memstream(&elems, &elen); /* failing elements, printed after the summary */
        int cst = cr ? hk_golden_check_case(gold, got, o->dtype, log ? log : stdout, cr) : HK_ENOMEM;
        if (log) fclose(log);
        if (cst) {
            if (!cr) hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "out of memory");
            fprintf(stderr, "hkref golden check: %s: %s\n", paths[k], hk_error_message());
            rc = 2;
        } else {
            if (got_problem[0]) snprintf(cr->problem, sizeof cr->problem, "%s", got_problem);
            int failed = cr->failed_tensors > 0 || cr->problem[0];
            nrun++;
            nfailed += failed;
            print_case(o, k, np, paths[k], cr, failed, elems);
            json_array_append_new(cases, case_json(cr, failed));
        }
        free(cr);
        free(elems);
        hk_st_free(gold);
        hk_st_free(got);
    }
    hk_golden_list_free(paths, np);
    if (rc == 0 && nrun == 0) rc = hk_cli_usage_error("golden", "check: no case matches --case '%s'", o->prefix);
    if (rc == 0) {
        const char *dt = o->dtype == HK_GOLDEN_F32 ? "f32" : "f64";
        printf("hkref golden check (%s): %ld cases, %ld failed -> %s\n", dt, nrun, nfailed, nfailed ? "FAILED" : "pass");
        if (o->json) {
            json_t *root = json_object();
            json_object_set_new(root, "dtype", json_string(dt));
            json_object_set_new(root, "golden", json_string(o->golden));
            json_object_set_new(root, "outputs", json_string(o->outputs));
            json_object_set_new(root, "cases_run", json_integer(nrun));
            json_object_set_new(root, "cases_failed", json_integer(nfailed));
            json_object_set_new(root, "cases", json_incref(cases));
            char *s = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
            json_decref(root);
            if (!s || hk_file_write_atomic(o->json, s, strlen(s))) {
                if (!s) hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "cannot serialize the JSON summary");
                rc = hk_cli_fail("golden check");
            }
            free(s);
        }
        if (rc == 0) rc = nfailed ? 1 : 0;
    }
    json_decref(cases);
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

static int cmd_list_sub(int argc, char **argv) { return cmd_list(); }

int hk_cmd_golden(int argc, char **argv)
{
    static const hk_cli_sub subs[] = {{"generate", cmd_generate}, {"check", cmd_check}, {"list", cmd_list_sub}};
    return hk_cli_dispatch("golden", argc, argv, subs, 3, usage);
}
