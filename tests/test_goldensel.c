/* hkref — `hkref golden check` for partial backends and CI: selection (op /
 * case lists, excludes, forward-only, gradient sets, skip-missing), refused
 * repeated options, the report formats (JSON schema 2, JUnit, TAP, -q, the
 * closing lists).  Run as a user runs the CLI; the expected values come from
 * the fixture's construction (which files exist, which tensors were removed),
 * never from the checker's own output.  JUnit is read by a real consumer
 * (junitparser) and TAP by prove in the gate (Makefile: check-reports). */
#include "hk_test.h"
#include "golden_io.h"

#include "golden/case.h"
#include "golden/check.h"
#include "ref/fileio.h"
#include "ref/tensorfile.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[64];

/* Cases of the fixture: 2 softmax, 1 linear, 2 lora, 1 attention (6 files, 4 ops). */
static const char *const fixture_cases[] = {"softmax_3x7", "softmax_large_logits_ties_5x6", "linear_3x5to4",
                                            "lora_p0_4x6to5_r2", "lora_p0.25_5x7to3_r3", "attention_lora_kv_2x5_c8_nh2"};
#define NFIX 6
#define ATT "attention_lora_kv_2x5_c8_nh2"

static const char *p(const char *sub)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, sub);
    return buf[k];
}

/* golden/ with the fixture's cases; out/ = the reference's own outputs (a correct backend). */
static void setup_dirs(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/hkref-goldensel-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    ck_assert_int_eq(mkdir(p("out"), 0777), 0);
    for (int i = 0; i < NFIX; i++) {
        long n;
        hk_assert_ok(hk_golden_generate(p("golden"), fixture_cases[i], NULL, &n));
        ck_assert_int_eq(n, 1);
    }
    char **rel;
    size_t n;
    hk_assert_ok(hk_golden_list_dir(p("golden"), &rel, &n));
    for (size_t i = 0; i < n; i++) {
        char g[600], o[600];
        const char *base = strrchr(rel[i], '/') + 1;
        snprintf(g, sizeof g, "%s/golden/%s", tmp, rel[i]);
        snprintf(o, sizeof o, "%s/out/%s", tmp, base);
        hk_test_write_backend_outputs(g, o);
    }
    hk_golden_list_free(rel, n);
}

static void teardown_dirs(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

/* Runs `hkref golden check ARGS... (NULL-terminated)` next to this test binary;
 * stdout to tmp/stdout, stderr to tmp/stderr.  Returns the exit status. */
static int check(const char *a, ...)
{
    char exe[1024];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ck_assert_int_gt(len, 0);
    exe[len] = 0;
    *strrchr(exe, '/') = 0;
    char cmd[8192];
    /* --partial: the fixture set holds a few of the registered cases on purpose */
    size_t k = (size_t)snprintf(cmd, sizeof cmd, "'%s/hkref' golden check --partial", exe);
    va_list ap;
    va_start(ap, a);
    for (const char *s = a; s; s = va_arg(ap, const char *)) k += (size_t)snprintf(cmd + k, sizeof cmd - k, " '%s'", s);
    va_end(ap);
    snprintf(cmd + k, sizeof cmd - k, " >'%s/stdout' 2>'%s/stderr'", tmp, tmp);
    int st = system(cmd);
    ck_assert_msg(st != -1 && WIFEXITED(st), "could not run: %s", cmd);
    return WEXITSTATUS(st);
}

/* The whole text of tmp/<name> (static buffer). */
static const char *text(const char *name)
{
    static char buf[1 << 18];
    FILE *f = fopen(p(name), "rb");
    ck_assert_msg(f != NULL, "no file %s", p(name));
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static long count_lines(const char *s)
{
    long n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static json_t *load_json(const char *name)
{
    json_error_t e;
    json_t *j = json_load_file(p(name), 0, &e);
    ck_assert_msg(j != NULL, "%s is not JSON: %s", name, e.text);
    return j;
}

static long jsum(json_t *j, const char *key)
{
    json_t *v = json_object_get(json_object_get(j, "summary"), key);
    ck_assert_msg(json_is_integer(v), "summary.%s missing", key);
    return (long)json_integer_value(v);
}

/* Rewrites out/<c>.safetensors without the tensors for which drop(name) is true. */
static void rewrite(const char *c, int (*drop)(const char *name), int nan_first)
{
    char path[512];
    snprintf(path, sizeof path, "%s/out/%s.safetensors", tmp, c);
    hk_st_file *f, *g;
    hk_assert_ok(hk_st_read(path, &f));
    hk_assert_ok(hk_st_new(&g));
    for (size_t i = 0; i < f->ntensors; i++) {
        hk_st_tensor *t = &f->tensors[i];
        if (drop && drop(t->name)) continue;
        if (nan_first && !strcmp(t->name, "out.y")) ((double *)t->data)[0] = NAN;
        hk_assert_ok(hk_st_add(g, t->name, t->dtype, t->ndim, t->shape, t->data));
    }
    hk_assert_ok(hk_st_write(g, path));
    hk_st_free(f);
    hk_st_free(g);
}

static int is_grad(const char *n) { return !strncmp(n, "grad.", 5); }
static int is_grad_not_lora(const char *n) { return is_grad(n) && !strstr(n, "lora_"); }
static int is_lora_grad(const char *n) { return is_grad(n) && strstr(n, "lora_"); }

/* ---- selection ---- */

START_TEST(case_and_op_lists_are_unions)
{
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--case", "softmax_3x7", "--case",
                           "linear_3x5to4", "--json", p("s.json"), NULL), 0);
    json_t *j = load_json("s.json");
    ck_assert_int_eq(jsum(j, "run"), 2); /* both, not the last one only */
    ck_assert_int_eq(jsum(j, "not_selected"), NFIX - 2);
    json_decref(j);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--op", "softmax", "--op", "lora", "--json",
                           p("s.json"), NULL), 0);
    j = load_json("s.json");
    ck_assert_int_eq(jsum(j, "run"), 4);
    json_decref(j);
    /* glob, prefix, exclusions */
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--case", "*_r?", "--exclude-case",
                           "lora_p0.25*", "--json", p("s.json"), NULL), 0);
    j = load_json("s.json");
    ck_assert_int_eq(jsum(j, "run"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "cases"), 0), "case")),
                     "lora_p0_4x6to5_r2");
    json_decref(j);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--case", "softmax", "--exclude-op", "lora",
                           "--json", p("s.json"), NULL), 0);
    j = load_json("s.json");
    ck_assert_int_eq(jsum(j, "run"), 2);
    json_decref(j);
}
END_TEST

START_TEST(exact_name_selects_one_case)
{
    /* lora_p0 is the full name of no case: a prefix of both lora cases */
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--case", "lora_p0", "--json",
                           p("s.json"), NULL), 0);
    json_t *j = load_json("s.json");
    ck_assert_int_eq(jsum(j, "run"), 2);
    json_decref(j);
    ck_assert(hk_golden_name_match("lora_p0", "lora_p0.25_5x7to3_r3", 0));
    ck_assert(!hk_golden_name_match("lora_p0", "lora_p0.25_5x7to3_r3", 1)); /* "lora_p0" exists: exact */
    ck_assert(hk_golden_name_match("lora_p0", "lora_p0", 1));
    ck_assert(hk_golden_name_match("*x7", "softmax_3x7", 1));
    ck_assert(!hk_golden_name_match("*x7", "softmax_3x7_b", 0));
    ck_assert(!hk_golden_name_match("soft", "linear_soft", 0));
}
END_TEST

START_TEST(typos_and_repeats_are_usage_errors)
{
    char g[512], o[512]; /* p()'s buffers rotate */
    snprintf(g, sizeof g, "%s", p("golden"));
    snprintf(o, sizeof o, "%s", p("out"));
    ck_assert_int_eq(check("--golden", g, "--outputs", o, "--op", "softmax", "--op", "sofmax", NULL), 2);
    ck_assert(strstr(text("stderr"), "sofmax") != NULL);
    ck_assert_int_eq(check("--golden", g, "--outputs", o, "--case", "linear", "--case", "zzz", NULL), 2);
    ck_assert_int_eq(check("--golden", g, "--outputs", o, "--dtype", "f32", "--dtype", "f64", NULL), 2);
    ck_assert(strstr(text("stderr"), "--dtype given twice") != NULL);
    ck_assert_int_eq(check("--golden", g, "--outputs", o, "--outputs", o, NULL), 2);
    ck_assert_int_eq(check("--golden", g, "--golden", g, "--outputs", o, NULL), 2);
    ck_assert_int_eq(check("--golden", g, "--outputs", o, "--json", p("a"), "--json", p("b"), NULL), 2);
    ck_assert_int_ne(access(p("a"), F_OK), 0);
    ck_assert_int_eq(check("--golden", g, "--outputs", o, "--grads", "lora", "--grads", "all", NULL), 2);
    ck_assert_int_eq(check("--golden", g, "--outputs", o, "--forward-only", "--forward-only", NULL), 2);
    ck_assert_int_eq(check("--golden", g, "--outputs", o, "--forward-only", "--grads", "lora", NULL), 2);
    ck_assert_int_eq(check("--golden", g, "--outputs", o, "--grads", "lora,", NULL), 2);
    ck_assert_int_eq(check("--golden", g, "--outputs", o, "--json", "-", NULL), 2);
    /* --outputs: nonexistent, a file: usage errors, not 5 failed cases */
    ck_assert_int_eq(check("--golden", g, "--outputs", p("nonexistent"), NULL), 2);
    ck_assert(strstr(text("stderr"), "No such file") != NULL);
    ck_assert_int_eq(check("--golden", g, "--outputs", p("out/softmax_3x7.safetensors"), NULL), 2);
    ck_assert(strstr(text("stderr"), "not a directory") != NULL);
    /* a gradient glob that matches nothing is a typo, not "no gradients" */
    ck_assert_int_eq(check("--golden", g, "--outputs", o, "--grads", "lroa_*", NULL), 2);
    ck_assert(strstr(text("stderr"), "lroa_*") != NULL);
}
END_TEST

START_TEST(skip_missing_reports_skipped_never_passed)
{
    /* a backend of softmax and linear only: lora and attention not written */
    ck_assert_int_eq(unlink(p("out/" ATT ".safetensors")), 0);
    ck_assert_int_eq(unlink(p("out/lora_p0_4x6to5_r2.safetensors")), 0);
    ck_assert_int_eq(unlink(p("out/lora_p0.25_5x7to3_r3.safetensors")), 0);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), NULL), 1); /* missing = failure */
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--skip-missing", "--json", p("s.json"),
                           NULL), 0);
    json_t *j = load_json("s.json");
    ck_assert_int_eq(jsum(j, "run"), 3);
    ck_assert_int_eq(jsum(j, "passed"), 3);
    ck_assert_int_eq(jsum(j, "skipped"), 3);
    size_t i, nskip = 0;
    json_t *c;
    json_array_foreach(json_object_get(j, "cases"), i, c)
    {
        const char *st = json_string_value(json_object_get(c, "status"));
        const char *op = json_string_value(json_object_get(c, "op"));
        int lora = !strcmp(op, "lora") || !strcmp(op, "attention");
        ck_assert_str_eq(st, lora ? "skip" : "pass");
        ck_assert(json_is_false(json_object_get(c, "pass")) == lora);
        nskip += lora;
    }
    ck_assert_int_eq(nskip, 3);
    json_decref(j);
    const char *out = text("stdout");
    ck_assert_msg(strstr(out, "skipped (no backend output file, --skip-missing): 3 cases in 2 ops\n"
                              "  attention (1), lora (2)\n"), "no skip list in:\n%s", out);
    ck_assert(strstr(out, "passed: 3 cases in 2 ops\n  linear (1), softmax (2)\n") != NULL);
    ck_assert(strstr(out, "3 cases, 0 failed, 3 skipped -> PARTIAL pass (not a full pass)\n") != NULL);
    /* a file that exists but is broken still fails */
    FILE *f = fopen(p("out/linear_3x5to4.safetensors"), "wb");
    fputs("garbage", f);
    fclose(f);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--skip-missing", NULL), 1);
}
END_TEST

START_TEST(skipping_everything_fails)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm %s/out/*.safetensors", tmp);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--skip-missing", "--json", p("s.json"),
                           NULL), 1);
    ck_assert(strstr(text("stdout"), "every selected case was skipped") != NULL);
    json_t *j = load_json("s.json");
    ck_assert(json_is_false(json_object_get(json_object_get(j, "summary"), "pass")));
    ck_assert_int_eq(jsum(j, "skipped"), NFIX);
    json_decref(j);
}
END_TEST

START_TEST(forward_only_and_gradient_sets)
{
    for (int i = 0; i < NFIX; i++) rewrite(fixture_cases[i], is_grad, 0);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), NULL), 1);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--forward-only", "--json", p("s.json"),
                           NULL), 0);
    json_t *j = load_json("s.json");
    /* grad.* of the fixture (golden/README.md): softmax x (1 each), linear x, weight, bias (3), lora x, lora_A,
     * lora_B (3 each), attention with LoRA on k, v: x, W_q..W_o, b_q, b_v, b_o, lora_A/B_k, lora_A/B_v (12) */
    ck_assert_int_eq(jsum(j, "ignored_tensors"), 1 + 1 + 3 + 3 + 3 + 12);
    json_decref(j);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--grads", "none", NULL), 0);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--grads", "lora", NULL), 1);
}
END_TEST

START_TEST(lora_only_backend)
{
    /* a backend that trains the LoRA factors only: no grad.x, no grad of a frozen weight */
    rewrite("lora_p0_4x6to5_r2", is_grad_not_lora, 0);
    rewrite("lora_p0.25_5x7to3_r3", is_grad_not_lora, 0);
    rewrite(ATT, is_grad_not_lora, 0);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--op", "lora", "--op", "attention", NULL), 1);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--op", "lora", "--op", "attention", "--grads",
                           "lora", "--json", p("s.json"), NULL), 0);
    json_t *j = load_json("s.json");
    ck_assert_int_eq(jsum(j, "ignored_tensors"), 1 + 1 + 8); /* grad.x of each; attention's x, W_*, b_* */
    json_decref(j);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--op", "lora", "--op", "attention", "--grads",
                           "lora_*", NULL), 0);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--op", "lora", "--grads", "lora,inputs",
                           NULL), 1);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--op", "attention", "--grads", "params",
                           NULL), 1); /* the frozen W_*, b_* are params too */
    /* and the LoRA gradients are still compared: remove them, it fails */
    rewrite("lora_p0_4x6to5_r2", is_lora_grad, 0);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--op", "lora", "--grads", "lora", NULL), 1);
    /* the set names, on a real golden file */
    hk_st_file *g;
    hk_assert_ok(hk_st_read(p("golden/lora/lora_p0.25_5x7to3_r3.safetensors"), &g));
    ck_assert(hk_golden_grad_selected(g, "grad.lora_A", "lora"));
    ck_assert(!hk_golden_grad_selected(g, "grad.x", "lora"));
    ck_assert(hk_golden_grad_selected(g, "grad.x", "inputs"));
    ck_assert(!hk_golden_grad_selected(g, "grad.lora_B", "inputs"));
    ck_assert(hk_golden_grad_selected(g, "grad.lora_B", "params"));
    ck_assert(!hk_golden_grad_selected(g, "grad.lora_B", "frozen"));
    ck_assert(hk_golden_grad_selected(g, "grad.x", "lora,inputs"));
    ck_assert(!hk_golden_grad_selected(g, "grad.x", "none"));
    ck_assert(hk_golden_grad_selected(g, "grad.x", NULL));
    hk_st_free(g);
    hk_assert_ok(hk_st_read(p("golden/attention/" ATT ".safetensors"), &g));
    ck_assert(hk_golden_grad_selected(g, "grad.lora_A_k", "lora"));
    ck_assert(!hk_golden_grad_selected(g, "grad.W_q", "lora"));
    ck_assert(hk_golden_grad_selected(g, "grad.W_q", "frozen"));
    ck_assert(!hk_golden_grad_selected(g, "grad.lora_B_v", "frozen"));
    ck_assert(hk_golden_grad_selected(g, "grad.W_q", "W_*"));
    ck_assert(!hk_golden_grad_selected(g, "grad.b_q", "W_*"));
    hk_st_free(g);
}
END_TEST

/* ---- reports ---- */

START_TEST(nan_output_is_named_in_every_report)
{
    rewrite("softmax_3x7", NULL, 1);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--json", p("s.json"), "--junit",
                           p("s.xml"), "--tap", p("s.tap"), NULL), 1);
    const char *out = text("stdout");
    ck_assert_msg(strstr(out, "max_abs=nan") != NULL, "NaN not shown:\n%s", out);
    ck_assert(strstr(out, "[1 NaN, 0 inf in the backend's tensor]") != NULL);
    ck_assert(strstr(out, "failed: 1 case in 1 op\n  softmax (1): softmax_3x7\n") != NULL);
    ck_assert(strstr(out, "__REPRO: hkref golden check --outputs") != NULL);
    json_t *j = load_json("s.json");
    ck_assert_str_eq(json_string_value(json_object_get(j, "schema")), "hkref-golden-check/2");
    size_t i;
    json_t *c, *found = NULL;
    json_array_foreach(json_object_get(j, "cases"), i, c) if (!strcmp(json_string_value(json_object_get(c, "case")),
                                                                       "softmax_3x7")) found = c;
    ck_assert_ptr_nonnull(found);
    json_t *t;
    json_array_foreach(json_object_get(found, "tensors"), i, t) if (!strcmp(json_string_value(json_object_get(t, "name")),
                                                                            "out.y"))
    {
        ck_assert(json_is_null(json_object_get(t, "max_abs")));
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(t, "nonfinite"), "nan")), 1);
        ck_assert_int_eq(json_integer_value(json_object_get(t, "nfail")), 1);
    }
    json_decref(j);
    const char *xml = text("s.xml");
    ck_assert(strstr(xml, "<testsuite name=\"softmax\" tests=\"2\" failures=\"1\"") != NULL);
    ck_assert(strstr(xml, "<testsuite name=\"lora\" tests=\"2\" failures=\"0\"") != NULL);
    ck_assert(strstr(xml, "<testsuites name=\"hkref golden check\" tests=\"6\" failures=\"1\"") != NULL);
    ck_assert(strstr(xml, "<failure ") != NULL && strstr(xml, "__REPRO") != NULL);
    const char *tap = text("s.tap");
    ck_assert(strncmp(tap, "TAP version 13\n1..6\n", 20) == 0);
    ck_assert(strstr(tap, "not ok 5 - softmax/softmax_3x7.safetensors\n  ---\n") != NULL); /* 5th in sorted order */
}
END_TEST

START_TEST(full_precision_json)
{
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "--json", p("s.json"), NULL), 0);
    /* each stored tolerance reads back bit-exactly from the JSON (6 digits would not) */
    json_t *j = load_json("s.json");
    size_t i, k, compared = 0;
    json_t *c, *t;
    json_array_foreach(json_object_get(j, "cases"), i, c)
    {
        hk_st_file *g;
        char path[512];
        snprintf(path, sizeof path, "%s/golden/%s", tmp, json_string_value(json_object_get(c, "file")));
        hk_assert_ok(hk_st_read(path, &g));
        json_t *tol = json_loads(hk_st_get_meta(g, "tolerance"), 0, NULL);
        json_array_foreach(json_object_get(c, "tensors"), k, t)
        {
            json_t *e = json_object_get(json_object_get(tol, json_string_value(json_object_get(t, "name"))), "f64");
            if (!e) continue;
            ck_assert(json_real_value(json_object_get(t, "rtol")) == json_number_value(json_object_get(e, "rtol")));
            ck_assert(json_real_value(json_object_get(t, "atol")) == json_number_value(json_object_get(e, "atol")));
            compared++;
        }
        json_decref(tol);
        hk_st_free(g);
    }
    ck_assert_int_gt(compared, 10);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "cases_run")), NFIX); /* schema 1 keys kept */
    json_decref(j);
}
END_TEST

START_TEST(quiet_prints_failures_and_summary_only)
{
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "-q", NULL), 0);
    /* -q: the set's line and the verdict, nothing per case */
    const char *q = text("stdout");
    ck_assert_msg(!strncmp(q, "golden set ", 11) && count_lines(q) == 2, "-q printed:\n%s", q);
    char want[200];
    snprintf(want, sizeof want, ", 6 of %zu cases present (--partial)\n"
             "hkref golden check (f64): 6 cases, 0 failed -> PARTIAL pass (not a full pass)\n", hk_golden_count());
    ck_assert_msg(strstr(q, want) != NULL, "-q printed:\n%s", q);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), NULL), 0);
    ck_assert_int_gt(count_lines(text("stdout")), NFIX + 10);
    rewrite("linear_3x5to4", is_grad, 0);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", p("out"), "-q", NULL), 1);
    const char *out = text("stdout");
    ck_assert(strstr(out, "linear/linear_3x5to4.safetensors") != NULL);
    ck_assert(strstr(out, "softmax_3x7.safetensors") == NULL); /* passing cases not printed */
    ck_assert(strstr(out, "failed: 1 case in 1 op\n  linear (1): linear_3x5to4\n") != NULL);
}
END_TEST

START_TEST(tap_on_stdout_and_hostile_names)
{
    /* An outputs directory whose name is not UTF-8 and holds XML metacharacters: it reaches
     * the reports through a failing case's repro line.  (Golden case names cannot be hostile:
     * the manifest admits only [A-Za-z0-9_.+-] paths, tools/golden/manifest.h.) */
    rewrite("linear_3x5to4", is_grad, 0);
    char cmd[1024], hostile[600];
    snprintf(hostile, sizeof hostile, "%s/x\377<&\">", tmp);
    snprintf(cmd, sizeof cmd, "cp -r %s/out '%s'", tmp, hostile);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(check("--golden", p("golden"), "--outputs", hostile, "--tap", "-", "--junit", p("s.xml"),
                           "--json", p("s.json"), NULL), 1);
    const char *tap = text("stdout");
    ck_assert(strncmp(tap, "TAP version 13\n1..6\n", 20) == 0);
    ck_assert(strstr(tap, "not ok ") != NULL);
    ck_assert(strstr(text("stderr"), "6 cases, 1 failed -> FAILED") != NULL); /* the text report moved */
    json_t *j = load_json("s.json"); /* valid JSON despite the name */
    json_decref(j);
    const char *xml = text("s.xml");
    ck_assert(strchr(xml, '\377') == NULL);
    ck_assert(strstr(xml, "x?&lt;&amp;&quot;&gt;") != NULL);
}
END_TEST

Suite *suite_goldensel(void)
{
    Suite *s = suite_create("goldensel");
    TCase *sel = tcase_create("selection");
    tcase_add_checked_fixture(sel, setup_dirs, teardown_dirs);
    tcase_set_timeout(sel, 60);
    tcase_add_test(sel, case_and_op_lists_are_unions);
    tcase_add_test(sel, exact_name_selects_one_case);
    tcase_add_test(sel, typos_and_repeats_are_usage_errors);
    tcase_add_test(sel, skip_missing_reports_skipped_never_passed);
    tcase_add_test(sel, skipping_everything_fails);
    tcase_add_test(sel, forward_only_and_gradient_sets);
    tcase_add_test(sel, lora_only_backend);
    suite_add_tcase(s, sel);
    TCase *rep = tcase_create("reports");
    tcase_add_checked_fixture(rep, setup_dirs, teardown_dirs);
    tcase_set_timeout(rep, 60);
    tcase_add_test(rep, nan_output_is_named_in_every_report);
    tcase_add_test(rep, full_precision_json);
    tcase_add_test(rep, quiet_prints_failures_and_summary_only);
    tcase_add_test(rep, tap_on_stdout_and_hostile_names);
    suite_add_tcase(s, rep);
    return s;
}
