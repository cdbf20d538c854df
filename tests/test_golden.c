/* hkref — `hkref golden generate / check` from the outside: exit codes and
 * messages for good and bad inputs, the JSON summary, byte-identical
 * regeneration.  (The checker's numerics are the registered golden checks.) */
#include "hk_test.h"
#include "golden_io.h"

#include "ref/fileio.h"
#include "ref/tensorfile.h"
#include "golden/case.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[64];

/* A temp dir holding golden/ (two cases) and out/ (the reference itself, flat). */
static void setup_dirs(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/hkref-golden-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    char g[128], o[128];
    snprintf(g, sizeof g, "%s/golden", tmp);
    snprintf(o, sizeof o, "%s/out", tmp);
    long n;
    hk_assert_ok(hk_golden_generate(g, "softmax_3x7", NULL, &n));
    ck_assert_int_eq(n, 1);
    hk_assert_ok(hk_golden_generate(g, "linear_3x5", NULL, &n));
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(mkdir(o, 0777), 0);
    /* The backend's files: the reference's out.* / grad.* alone, as a backend writes them
     * (a copy of the golden file itself is refused by the checker). */
    static const char *rels[] = {"softmax/softmax_3x7", "linear/linear_3x5to4"};
    for (int k = 0; k < 2; k++) {
        char src[256], dst[256];
        snprintf(src, sizeof src, "%s/%s.safetensors", g, rels[k]);
        snprintf(dst, sizeof dst, "%s/%s.safetensors", o, strchr(rels[k], '/') + 1);
        hk_st_file *f, *out;
        hk_assert_ok(hk_st_read(src, &f));
        hk_assert_ok(hk_st_new(&out));
        for (size_t i = 0; i < f->ntensors; i++) {
            const hk_st_tensor *t = &f->tensors[i];
            if (!strncmp(t->name, "out.", 4) || !strncmp(t->name, "grad.", 5))
                hk_assert_ok(hk_st_add(out, t->name, t->dtype, t->ndim, t->shape, t->data));
        }
        hk_assert_ok(hk_st_write(out, dst));
        hk_st_free(out);
        hk_st_free(f);
    }
}

static void teardown_dirs(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

/* The temporary golden set holds 2 of the registered cases, so `check` runs with
 * --partial (tests/test_hardening.c checks the refusal without it). */

/* Runs `<dir of this test binary>/hkref golden ARGS...` (the CLI exactly as
 * a user runs it) with output silenced; args is NULL-terminated; returns its
 * exit status. */
static int runv(const char *const *args)
{
    char exe[1024];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ck_assert_int_gt(len, 0);
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    ck_assert_ptr_nonnull(slash);
    *slash = 0;
    char cmd[8192];
    size_t k = (size_t)snprintf(cmd, sizeof cmd, "'%s/hkref' golden", exe);
    for (int i = 0; args[i]; i++) k += (size_t)snprintf(cmd + k, sizeof cmd - k, " '%s'", args[i]);
    if (args[0] && !strcmp(args[0], "check")) k += (size_t)snprintf(cmd + k, sizeof cmd - k, " --partial");
    snprintf(cmd + k, sizeof cmd - k, " >/dev/null 2>&1");
    int st = system(cmd);
    ck_assert_msg(st != -1 && WIFEXITED(st), "could not run: %s", cmd);
    return WEXITSTATUS(st);
}

static int run(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5, const char *a6,
               const char *a7)
{
    const char *args[] = {a1, a2, a3, a4, a5, a6, a7, NULL};
    return runv(args);
}

static const char *p(const char *sub)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, sub);
    return buf[k];
}

START_TEST(reference_passes_and_writes_json)
{
    ck_assert_int_eq(run("check", "--golden", p("golden"), "--outputs", p("out"), "--json", p("s.json")), 0);
    json_error_t e;
    json_t *j = json_load_file(p("s.json"), 0, &e);
    ck_assert_msg(j != NULL, "summary is not JSON: %s", e.text);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "cases_run")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "cases_failed")), 0);
    json_decref(j);
    ck_assert_int_eq(run("check", "--golden", p("golden"), "--outputs", p("out"), "--dtype", "f32"), 0);
}
END_TEST

/* The JSON summary holds the verdict and the numbers of every case: a case
 * whose out.y is off by 1 at one element fails (exit 1) and its tensor
 * reports that element with the golden file's tolerance of the checked tier. */
START_TEST(json_summary_reports_a_failing_case)
{
    hk_st_file *f;
    hk_assert_ok(hk_st_read(p("out/softmax_3x7.safetensors"), &f));
    const hk_st_tensor *y = hk_st_find(f, "out.y");
    ck_assert_ptr_nonnull(y);
    ((double *)y->data)[8] += 1.0; /* row 1, column 1 of (3,7) */
    hk_assert_ok(hk_st_write(f, p("out/softmax_3x7.safetensors")));
    hk_st_free(f);
    hk_st_file *g;
    hk_assert_ok(hk_st_read(p("golden/softmax/softmax_3x7.safetensors"), &g));
    json_t *tol = json_loads(hk_st_get_meta(g, "tolerance"), 0, NULL);
    ck_assert_ptr_nonnull(tol);
    for (int dt = 0; dt < 2; dt++) {
        const char *dn = dt ? "f32" : "f64";
        const char *args[] = {"check", "--golden", p("golden"), "--outputs", p("out"), "--json", p("s.json"),
                              "--dtype", dn, NULL};
        ck_assert_int_eq(runv(args), 1);
        json_error_t e;
        json_t *j = json_load_file(p("s.json"), 0, &e);
        ck_assert_msg(j != NULL, "summary is not JSON: %s", e.text);
        ck_assert_int_eq(json_integer_value(json_object_get(j, "cases_run")), 2);
        ck_assert_int_eq(json_integer_value(json_object_get(j, "cases_failed")), 1);
        ck_assert_str_eq(json_string_value(json_object_get(j, "outputs")), p("out"));
        ck_assert_str_eq(json_string_value(json_object_get(j, "golden")), p("golden"));
        json_t *cases = json_object_get(j, "cases");
        ck_assert_uint_eq(json_array_size(cases), 2);
        int seen = 0;
        for (size_t i = 0; i < 2; i++) {
            json_t *c = json_array_get(cases, i);
            const char *name = json_string_value(json_object_get(c, "case"));
            int bad = !strcmp(name, "softmax_3x7");
            seen += bad;
            ck_assert_msg(json_is_boolean(json_object_get(c, "pass")) && json_is_true(json_object_get(c, "pass")) == !bad,
                          "%s: pass flag", name);
            json_t *ts = json_object_get(c, "tensors");
            for (size_t k = 0; k < json_array_size(ts); k++) {
                json_t *t = json_array_get(ts, k);
                const char *tn = json_string_value(json_object_get(t, "name"));
                long nfail = (long)json_integer_value(json_object_get(t, "nfail"));
                int is_y = bad && !strcmp(tn, "out.y");
                ck_assert_msg(nfail == (is_y ? 1 : 0), "%s %s: nfail %ld", name, tn, nfail);
                if (!is_y) continue;
                ck_assert_int_eq(json_integer_value(json_object_get(t, "n")), 21);
                ck_assert_str_eq(json_string_value(json_object_get(t, "worst_index")), "[1,1]");
                ck_assert(fabs(json_number_value(json_object_get(t, "max_abs")) - 1.0) < 4 * DBL_EPSILON); /* (y + 1) - y, rounded */
                { /* max_rel is relative to the golden value: the one wrong element's 1 / |y[1,1]| */
                    double y11 = fabs(((const double *)hk_st_find(g, "out.y")->data)[8]);
                    double mr = json_number_value(json_object_get(t, "max_rel"));
                    ck_assert_msg(json_is_number(json_object_get(t, "max_rel")) && fabs(mr - 1.0 / y11) <= 1e-5 / y11,
                                  "max_rel %g, want 1/|y[1,1]| = %g", mr, 1.0 / y11);
                }
                ck_assert(json_number_value(json_object_get(t, "pct_threshold")) > 100.0);
                json_t *want = json_object_get(json_object_get(tol, "out.y"), dn);
                double wa = json_number_value(json_object_get(want, "atol")), wr = json_number_value(json_object_get(want, "rtol"));
                double ga = json_number_value(json_object_get(t, "atol")), gr = json_number_value(json_object_get(t, "rtol"));
                ck_assert_msg(fabs(ga - wa) <= 1e-5 * wa && fabs(gr - wr) <= 1e-5 * wr, /* JSON keeps 6 digits */
                              "%s: atol %g rtol %g, golden %s tier has %g %g", dn, ga, gr, dn, wa, wr);
                ck_assert(json_is_false(json_object_get(t, "exact")));
            }
        }
        ck_assert_int_eq(seen, 1);
        ck_assert_str_eq(json_string_value(json_object_get(j, "dtype")), dn);
        json_decref(j);
    }
    json_decref(tol);
    hk_st_free(g);
    /* a NaN output: its ratio is infinite, written as null (JSON has no Infinity); a
     * missing output file: the case's problem names it */
    hk_assert_ok(hk_st_read(p("out/softmax_3x7.safetensors"), &f));
    ((double *)hk_st_find(f, "out.y")->data)[0] = NAN;
    hk_assert_ok(hk_st_write(f, p("out/softmax_3x7.safetensors")));
    hk_st_free(f);
    ck_assert_int_eq(unlink(p("out/linear_3x5to4.safetensors")), 0);
    ck_assert_int_eq(run("check", "--golden", p("golden"), "--outputs", p("out"), "--json", p("s.json")), 1);
    json_t *j = json_load_file(p("s.json"), 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "cases_failed")), 2);
    json_t *cases = json_object_get(j, "cases");
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        const char *name = json_string_value(json_object_get(c, "case"));
        ck_assert(json_is_false(json_object_get(c, "pass")));
        if (!strcmp(name, "linear_3x5to4")) {
            const char *pr = json_string_value(json_object_get(c, "problem"));
            ck_assert_msg(pr && strstr(pr, "linear_3x5to4.safetensors"), "problem: %s", pr ? pr : "(none)");
            json_t *t0 = json_array_get(json_object_get(c, "tensors"), 0);
            ck_assert_msg(json_string_value(json_object_get(t0, "problem")) != NULL, "tensor problem missing");
        } else {
            ck_assert_ptr_null(json_object_get(c, "problem"));
            json_t *ts = json_object_get(c, "tensors");
            for (size_t k = 0; k < json_array_size(ts); k++) {
                json_t *t = json_array_get(ts, k);
                if (strcmp(json_string_value(json_object_get(t, "name")), "out.y")) continue;
                ck_assert(json_is_null(json_object_get(t, "pct_threshold")));
                ck_assert_str_eq(json_string_value(json_object_get(t, "worst_index")), "[0,0]");
            }
        }
    }
    json_decref(j);
}
END_TEST

START_TEST(missing_case_file_fails)
{
    ck_assert_int_eq(unlink(p("out/softmax_3x7.safetensors")), 0);
    ck_assert_int_eq(run("check", "--golden", p("golden"), "--outputs", p("out"), NULL, NULL), 1);
    /* the other case alone still passes */
    ck_assert_int_eq(run("check", "--golden", p("golden"), "--outputs", p("out"), "--case", "linear"), 0);
}
END_TEST

START_TEST(malformed_output_fails)
{
    FILE *f = fopen(p("out/softmax_3x7.safetensors"), "wb");
    ck_assert_ptr_nonnull(f);
    fputs("not a safetensors file", f);
    fclose(f);
    ck_assert_int_eq(run("check", "--golden", p("golden"), "--outputs", p("out"), NULL, NULL), 1);
}
END_TEST

START_TEST(wrong_shape_output_fails)
{
    hk_st_file *f;
    hk_assert_ok(hk_st_read(p("out/linear_3x5to4.safetensors"), &f));
    hk_st_file *g;
    hk_assert_ok(hk_st_new(&g));
    for (size_t i = 0; i < f->ntensors; i++) {
        hk_st_tensor *t = &f->tensors[i];
        long flat[1] = {(long)t->numel};
        int is_y = !strcmp(t->name, "out.y");
        hk_assert_ok(hk_st_add(g, t->name, t->dtype, is_y ? 1 : t->ndim, is_y ? flat : t->shape, t->data));
    }
    hk_assert_ok(hk_st_write(g, p("out/linear_3x5to4.safetensors")));
    hk_st_free(f);
    hk_st_free(g);
    ck_assert_int_eq(run("check", "--golden", p("golden"), "--outputs", p("out"), NULL, NULL), 1);
}
END_TEST

START_TEST(usage_errors_exit_2)
{
    ck_assert_int_eq(run("check", "--golden", p("golden"), NULL, NULL, NULL, NULL), 2);              /* no --outputs */
    ck_assert_int_eq(run("check", "--golden", p("nope"), "--outputs", p("out"), NULL, NULL), 2);     /* no golden dir */
    ck_assert_int_eq(run("check", "--outputs", p("out"), "--golden", p("golden"), "--dtype", "f8"), 2);
    ck_assert_int_eq(run("check", "--outputs", p("out"), "--golden", p("golden"), "--case", "zzz"), 2);
    ck_assert_int_eq(run("check", "--outputs", p("out"), "--golden", p("out"), NULL, NULL), 2);      /* no <op>/ files */
    ck_assert_int_eq(run("frobnicate", NULL, NULL, NULL, NULL, NULL, NULL), 2);
    ck_assert_int_eq(run(NULL, NULL, NULL, NULL, NULL, NULL, NULL), 2);
    ck_assert_int_eq(run("check", "--help", NULL, NULL, NULL, NULL, NULL), 0);
}
END_TEST

/* Output paths that cannot be written, and typos that match nothing: exit 2
 * and nothing created (the checks themselves still ran for --json). */
START_TEST(unwritable_json_and_typos_leave_nothing)
{
    const char *json = p("out/softmax_3x7.safetensors/s.json"); /* parent is a file */
    ck_assert_int_eq(run("check", "--golden", p("golden"), "--outputs", p("out"), "--json", json), 2);
    ck_assert_int_ne(access(json, F_OK), 0);
    ck_assert_int_eq(run("generate", p("g3"), "--case", "zzz", NULL, NULL, NULL), 2);
    ck_assert_int_ne(access(p("g3"), F_OK), 0);
    ck_assert_int_eq(run("list", "extra", NULL, NULL, NULL, NULL, NULL), 2);
    ck_assert_int_eq(run("generate", p("out/softmax_3x7.safetensors"), NULL, NULL, NULL, NULL, NULL), 2);
}
END_TEST

START_TEST(bad_golden_file_exits_2)
{
    /* A golden file whose tolerance was hand-edited to a negative value. */
    hk_st_file *f;
    hk_assert_ok(hk_st_read(p("golden/softmax/softmax_3x7.safetensors"), &f));
    json_t *tol = json_loads(hk_st_get_meta(f, "tolerance"), 0, NULL);
    json_object_set_new(json_object_get(json_object_get(tol, "out.y"), "f64"), "rtol", json_real(-1e-15));
    char *s = json_dumps(tol, JSON_COMPACT);
    hk_assert_ok(hk_st_set_meta(f, "tolerance", s));
    free(s);
    json_decref(tol);
    hk_assert_ok(hk_st_write(f, p("golden/softmax/softmax_3x7.safetensors")));
    hk_st_free(f);
    ck_assert_int_eq(run("check", "--golden", p("golden"), "--outputs", p("out"), NULL, NULL), 2);
}
END_TEST

START_TEST(generate_is_byte_identical)
{
    long n1, n2;
    hk_assert_ok(hk_golden_generate(p("g1"), "softmax", NULL, &n1));
    hk_assert_ok(hk_golden_generate(p("g2"), "softmax", NULL, &n2));
    ck_assert_int_eq(n1, n2);
    ck_assert_int_gt(n1, 0);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "diff -r %s %s >/dev/null", p("g1"), p("g2"));
    ck_assert_int_eq(system(cmd), 0);
    /* generate into a path that is a file: clear error, nothing written */
    hk_assert_fails(hk_golden_generate(p("golden/softmax/softmax_3x7.safetensors"), NULL, NULL, &n1), HK_EIO,
                    "not a directory");
    /* missing parents are created (mkdir -p), as a README command needs */
    hk_assert_ok(hk_golden_generate(p("new/deeper/set"), "softmax_3x7", NULL, &n1));
    ck_assert_int_eq(n1, 1);
    ck_assert_int_eq(access(p("new/deeper/set/softmax/softmax_3x7.safetensors"), R_OK), 0);
    /* ... but never through a file */
    hk_assert_fails(hk_golden_generate(p("golden/softmax/softmax_3x7.safetensors/x"), NULL, NULL, &n1), HK_EIO,
                    "not a directory");
}
END_TEST

/* ---- the tolerance model (golden/README.md, "Tolerances"), on hand-derived numbers ---- */

START_TEST(tolerance_formula_on_hand_values)
{
    /* N = 1e6, P = 1e-9: lambda^2 = 2 ln(2e15) = 2 (ln 2 + 15 ln 10) = 70.463846, lambda = 8.394275.
     * n = 10000 > lambda^2: n_eff = lambda sqrt(n) = 839.4275;
     * F32: e = 2^-24 + 2^-53 = 5.9604645e-8 -> rtol = 2 * 839.4275 * e = 1.0006755e-4, atol = 3 rtol + 2 FLT_MIN. */
    hk_golden_tol_in in = {2, 10000, 3, 1e6, 0};
    hk_golden_tol m;
    hk_assert_ok(hk_golden_tolerance(&in, HK_GOLDEN_F32, &m));
    ck_assert_double_eq_tol(m.lambda, 8.394275, 1e-6);
    ck_assert_double_eq_tol(m.n_eff, 839.4275, 1e-4);
    ck_assert_double_eq_tol(m.rtol / 1.0006755e-4, 1.0, 1e-6);
    ck_assert_double_eq_tol(m.atol / (3 * 1.0006755e-4), 1.0, 1e-6);
    ck_assert(m.floor == 2 * FLT_MIN);
    /* F64: e = 2^-52 -> rtol = 2 * 839.4275 * 2.2204460e-16 = 3.7278065e-13 */
    hk_assert_ok(hk_golden_tolerance(&in, HK_GOLDEN_F64, &m));
    ck_assert_double_eq_tol(m.rtol / 3.7278065e-13, 1.0, 1e-6);
    /* n = 30 < lambda^2 (N = 21: lambda^2 = 2 ln(4.2e10) = 48.98): the deterministic bound, n_eff = n,
     * rtol = 2 * 30 * 2^-52 = 1.3322676e-14; relative (S = 0): atol = the floor 2 DBL_MIN */
    hk_golden_tol_in small = {2, 30, 0, 21, 0};
    hk_assert_ok(hk_golden_tolerance(&small, HK_GOLDEN_F64, &m));
    ck_assert(m.n_eff == 30);
    ck_assert_double_eq_tol(m.rtol / 1.3322676e-14, 1.0, 1e-7);
    ck_assert(m.atol == 2 * DBL_MIN);
    /* ingredients out of range */
    hk_golden_tol_in bad[] = {{0.5, 30, 1, 21, 0}, {2, 0.5, 1, 21, 0}, {2, 30, -1, 21, 0}, {2, 30, 1, 0, 0}, {2, NAN, 1, 21, 0}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        hk_assert_fails(hk_golden_tolerance(&bad[k], HK_GOLDEN_F64, &m), HK_EDOM, "out of range");
}
END_TEST

/* ---- on-demand cases: hkref golden generate --op / --from, hkref golden reference ---- */

/* Two case files hold the same tensors (bytes) and metadata, `params` aside. */
static void assert_same_case(const hk_st_file *a, const hk_st_file *b, const char *what)
{
    ck_assert_msg(a->ntensors == b->ntensors, "%s: %zu vs %zu tensors", what, a->ntensors, b->ntensors);
    for (size_t i = 0; i < a->ntensors; i++) {
        const hk_st_tensor *t = &a->tensors[i], *u = hk_st_find(b, t->name);
        ck_assert_msg(u && u->dtype == t->dtype && u->nbytes == t->nbytes && !memcmp(u->data, t->data, t->nbytes),
                      "%s: tensor %s differs", what, t->name);
    }
    for (size_t i = 0; i < a->nmeta; i++) {
        if (!strcmp(a->meta[i].key, "params")) continue;
        const char *v = hk_st_get_meta(b, a->meta[i].key);
        ck_assert_msg(v && !strcmp(v, a->meta[i].value), "%s: metadata %s differs", what, a->meta[i].key);
    }
}

/* Committed cases regenerated through the CLI from their settings (--from
 * CASE --name CASE) equal the committed build: one case of each op whose
 * settings path differs (plain; per-settings source; framework fields by
 * name; counts and LoRA letters), every op in process from its settings
 * string (hk_golden_build_op, as `generate --op` calls it). */
START_TEST(committed_cases_are_reachable_from_the_cli)
{
    static const char *const via_cli[] = {"linear_3x5to4", "dylora_frozen_b3_rmax4_3x5to4",
                                          "train_step_hiddenkey_lora_qkvo_1x6_c4_l2",
                                          "attention_lora_qkvo_dropout_padding_2x6_c6_nh2"};
    for (size_t k = 0; k < sizeof via_cli / sizeof via_cli[0]; k++) {
        const hk_golden_case *c = hk_golden_case_find(via_cli[k]);
        ck_assert_ptr_nonnull(c);
        const char *args[] = {"generate", "--from", c->name, "--name", c->name, p("od"), NULL};
        ck_assert_int_eq(runv(args), 0);
        char path[512];
        snprintf(path, sizeof path, "%s/%s/%s.safetensors", p("od"), c->op->op, c->name);
        hk_st_file *cli, *ref;
        hk_assert_ok(hk_st_read(path, &cli));
        hk_assert_ok(hk_golden_build(c, &ref));
        assert_same_case(ref, cli, c->name);
        ck_assert_str_eq(hk_st_get_meta(cli, "params"), c->params);
        hk_st_free(cli);
        hk_st_free(ref);
    }
    long ops = 0;
    for (size_t i = 0; i < hk_golden_count(); i++) {
        const hk_golden_case *c = hk_golden_get(i);
        int first = 1;
        for (size_t j = 0; j < i; j++) first &= hk_golden_get(j)->op != c->op;
        if (!first) continue;
        const char *lists[] = {c->params};
        hk_st_file *od, *ref;
        hk_assert_ok(hk_golden_build_op(hk_golden_op_find(c->op->op), c->name, c->seed, lists, 1, NULL, 1, &od));
        hk_assert_ok(hk_golden_build(c, &ref));
        assert_same_case(ref, od, c->name);
        hk_st_free(od);
        hk_st_free(ref);
        ops++;
    }
    ck_assert_int_eq(ops, (long)hk_golden_op_count());
    ck_assert_int_ge(ops, 17);
}
END_TEST

START_TEST(generate_op_rejects_bad_settings)
{
    const char *d = p("bad");
    const char *const bad[][8] = {
        {"generate", "--op", "nosuchop", d, NULL},
        {"generate", "--op", "dropkey", "--set", "nosuchkey=1", d, NULL},
        {"generate", "--op", "dropkey", "--set", "p=1", d, NULL},            /* rate outside [0, 1) */
        {"generate", "--op", "dropkey", "--set", "pattern=diagonal", d, NULL},
        {"generate", "--op", "attention", "--shape", "C=7,NH=2", d, NULL},   /* C % NH */
        {"generate", "--op", "attention", "--set", "variant=norm", d, NULL}, /* needs method=dropattention */
        {"generate", "--op", "dropkey", "--set", "T=5,pad_left=3,pad_right=2", d, NULL}, /* no key left */
        {"generate", "--op", "train_step", "--set", "loss=nope", d, NULL},   /* the framework's own check */
        {"generate", "--op", "dropkey", "--name", "../escape", d, NULL},
        {"generate", "--op", "dropkey", NULL},                              /* no DIR */
        {"generate", "--from", "no_such_case", d, NULL},
        {"generate", "--op", "dropkey", "--seed", "-3", d, NULL},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) ck_assert_msg(runv(bad[k]) == 2, "case %zu not refused", k);
    ck_assert_int_ne(access(d, F_OK), 0); /* nothing written */
}
END_TEST

/* Reads `path`, replaces tensor `name` by a copy with element i set to v (U8 or F64), writes `out`. */
static void edit_tensor(const char *path, const char *out, const char *name, long i, double v)
{
    hk_st_file *f, *g;
    hk_assert_ok(hk_st_read(path, &f));
    hk_assert_ok(hk_st_new(&g));
    for (size_t k = 0; k < f->ntensors; k++) {
        hk_st_tensor *t = &f->tensors[k];
        if (!strcmp(t->name, name)) {
            if (t->dtype == HK_ST_U8) ((uint8_t *)t->data)[i] = (uint8_t)v;
            else ((double *)t->data)[i] = v;
        }
        hk_assert_ok(hk_st_add(g, t->name, t->dtype, t->ndim, t->shape, t->data));
    }
    for (size_t k = 0; k < f->nmeta; k++) hk_assert_ok(hk_st_set_meta(g, f->meta[k].key, f->meta[k].value));
    hk_assert_ok(hk_st_write(g, out));
    hk_st_free(f);
    hk_st_free(g);
}

/* An on-demand case is recorded in its directory's manifest (registry 0): the directory is a set the
 * checker verifies and checks like the committed one; a directory holding a committed set is refused. */
START_TEST(ondemand_directory_is_a_checkable_set)
{
    const char *gen[] = {"generate", "--op", "softmax", "--shape", "N=3,C=70", "--name", "softmax_od", p("od"), NULL};
    ck_assert_int_eq(runv(gen), 0);
    unsigned char *m = NULL;
    size_t mn = 0;
    char path[600];
    snprintf(path, sizeof path, "%s/MANIFEST", p("od"));
    hk_assert_ok(hk_file_read(path, 1 << 20, &m, &mn));
    ck_assert_msg(strstr((char *)m, "\n# registry 0\n") && strstr((char *)m, "  softmax/softmax_od.safetensors\n"),
                  "on-demand manifest:\n%s", (char *)m);
    free(m);
    mkdir(p("odout"), 0777);
    char src[600], dst[600];
    snprintf(src, sizeof src, "%s/softmax/softmax_od.safetensors", p("od"));
    snprintf(dst, sizeof dst, "%s/softmax_od.safetensors", p("odout"));
    hk_test_write_backend_outputs(src, dst);
    const char *chk[] = {"check", "--golden", p("od"), "--outputs", p("odout"), "--json", p("od.json"), NULL};
    ck_assert_int_eq(runv(chk), 0);
    json_error_t err;
    json_t *j = json_load_file(p("od.json"), 0, &err);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_true(json_object_get(j, "ondemand")) && json_is_false(json_object_get(j, "partial")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "cases_run")), 1);
    json_decref(j);
    /* a second case joins the same set */
    const char *gen2[] = {"generate", "--op", "linear", "--name", "linear_od", p("od"), NULL};
    ck_assert_int_eq(runv(gen2), 0);
    /* the manifest still guards the bytes: an edited on-demand file is refused (exit 2) */
    hk_st_file *f;
    hk_assert_ok(hk_st_read(src, &f));
    hk_assert_ok(hk_st_set_meta(f, "note", "edited"));
    hk_assert_ok(hk_st_write(f, src));
    hk_st_free(f);
    ck_assert_int_eq(runv(chk), 2);
    /* the committed-set directory (manifest registry > 0) takes no on-demand case */
    const char *gen3[] = {"generate", "--op", "softmax", "--name", "softmax_intruder", p("golden"), NULL};
    ck_assert_int_eq(runv(gen3), 2);
    snprintf(path, sizeof path, "%s/softmax/softmax_intruder.safetensors", p("golden"));
    ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

START_TEST(reference_on_given_inputs)
{
    const char *gen[] = {"generate", "--op", "dropkey", "--shape", "B=2,NH=1,T=9", "--set", "p=0.25,pad_left=0:2",
                         "--seed", "4", "--name", "dropkey_src", p("a"), NULL};
    ck_assert_int_eq(runv(gen), 0);
    char src[512], out[512];
    snprintf(src, sizeof src, "%s/dropkey/dropkey_src.safetensors", p("a"));
    /* its own inputs (settings from its `params`) reproduce it */
    const char *ref[] = {"reference", "--inputs", src, "--name", "dropkey_again", p("b"), NULL};
    ck_assert_int_eq(runv(ref), 0);
    snprintf(out, sizeof out, "%s/dropkey/dropkey_again.safetensors", p("b"));
    hk_st_file *a, *b;
    hk_assert_ok(hk_st_read(src, &a));
    hk_assert_ok(hk_st_read(out, &b));
    for (size_t k = 0; k < a->ntensors; k++) {
        const hk_st_tensor *t = &a->tensors[k], *u = hk_st_find(b, t->name);
        ck_assert_msg(u && !memcmp(u->data, t->data, t->nbytes), "reference on its own inputs: %s differs", t->name);
    }
    /* a user's mask: drop key 0 of row (0,0,0), which the drawn mask kept -> its weight is now exactly 0 */
    const hk_st_tensor *m = hk_st_find(a, "mask.att");
    ck_assert_ptr_nonnull(m);
    long key = -1;
    for (long s = 0; s < 9 && key < 0; s++)
        if (!((const uint8_t *)m->data)[s]) key = s;
    ck_assert_int_ge(key, 0);
    char edited[512];
    snprintf(edited, sizeof edited, "%s/user.safetensors", tmp);
    edit_tensor(src, edited, "mask.att", key, 1);
    const char *ref2[] = {"reference", "--inputs", edited, "--name", "dropkey_user", p("b"), NULL};
    ck_assert_int_eq(runv(ref2), 0);
    snprintf(out, sizeof out, "%s/dropkey/dropkey_user.safetensors", p("b"));
    hk_st_file *c;
    hk_assert_ok(hk_st_read(out, &c));
    const hk_st_tensor *w0 = hk_st_find(a, "out.w"), *w1 = hk_st_find(c, "out.w");
    ck_assert(((const double *)w0->data)[key] > 0 && ((const double *)w1->data)[key] == 0.0);
    hk_st_free(c);
    /* bad inputs: exit 2 with nothing written */
    const char *bad_out = p("c");
    edit_tensor(src, edited, "mask.att", 0, 2); /* not 0/1 */
    const char *r3[] = {"reference", "--inputs", edited, bad_out, NULL};
    ck_assert_int_eq(runv(r3), 2);
    edit_tensor(src, edited, "in.d_w", 3, 0.1); /* not exactly representable in binary32 */
    ck_assert_int_eq(runv(r3), 2);
    const char *r4[] = {"reference", "--inputs", src, "--shape", "T=10", bad_out, NULL}; /* shapes no longer fit */
    ck_assert_int_eq(runv(r4), 2);
    const char *r5[] = {"reference", "--inputs", src, "--op", "dropattention", bad_out, NULL}; /* no such settings */
    ck_assert_int_eq(runv(r5), 2);
    const char *r6[] = {"reference", "--inputs", p("nope.safetensors"), bad_out, NULL};
    ck_assert_int_eq(runv(r6), 2);
    ck_assert_int_ne(access(bad_out, F_OK), 0);
    hk_st_free(a);
    hk_st_free(b);
}
END_TEST

/* A golden tensor whose bound is too loose fails that case; the run goes on. */
START_TEST(too_loose_bound_fails_its_case_and_the_run_goes_on)
{
    hk_st_file *f;
    char path[512];
    snprintf(path, sizeof path, "%s/softmax/softmax_3x7.safetensors", p("golden"));
    hk_assert_ok(hk_st_read(path, &f));
    json_t *tol = json_loads(hk_st_get_meta(f, "tolerance"), 0, NULL);
    json_t *e = json_object_get(tol, "out.y");
    hk_golden_tol_in in = {2, 1e25, json_number_value(json_object_get(e, "scale")), 21, 0};
    hk_golden_tol m;
    hk_assert_ok(hk_golden_tolerance(&in, HK_GOLDEN_F64, &m));
    ck_assert(m.rtol >= HK_GOLDEN_MAX_RTOL);
    json_object_set_new(e, "n", json_real(1e25));
    json_object_set_new(json_object_get(e, "f64"), "rtol", json_real(m.rtol));
    json_object_set_new(json_object_get(e, "f64"), "atol", json_real(m.atol));
    char *js = json_dumps(tol, JSON_COMPACT);
    hk_assert_ok(hk_st_set_meta(f, "tolerance", js));
    free(js);
    json_decref(tol);
    hk_assert_ok(hk_st_write(f, path));
    hk_st_free(f);
    hk_test_remanifest(p("golden")); /* the edit is judged by the checker, not refused as an altered set */
    ck_assert_int_eq(run("check", "--golden", p("golden"), "--outputs", p("out"), "--json", p("s.json")), 1);
    json_error_t err;
    json_t *j = json_load_file(p("s.json"), 0, &err);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "cases_run")), 2); /* linear still checked */
    ck_assert_int_eq(json_integer_value(json_object_get(j, "cases_failed")), 1);
    json_t *cases = json_object_get(j, "cases");
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        int is_sm = !strcmp(json_string_value(json_object_get(c, "case")), "softmax_3x7");
        ck_assert_int_eq(json_is_true(json_object_get(c, "pass")), !is_sm);
    }
    json_decref(j);
}
END_TEST

/* ---- golden/README.md documents every tensor name and config key -------
 * The README is the specification a backend is written from, so every name
 * a case file holds must appear (in backticks) in its op's section: exactly,
 * or in the section's generic form (l<l> block, pass<P>, _<p> projection,
 * param.l<l>.<name>, role.*).  The encoder section extends the attention
 * section, dylora_loss the dylora section. */

/* The text of the section "### ... `golden/<op>/` ..." up to the next heading (malloc'd), or NULL. */
static char *readme_section(const char *readme, const char *op)
{
    char tag[96];
    snprintf(tag, sizeof tag, "`golden/%s/`", op);
    for (const char *h = strstr(readme, "\n### "); h; h = strstr(h + 1, "\n### ")) {
        const char *eol = strchr(h + 1, '\n');
        if (!eol) return NULL;
        const char *t = strstr(h, tag);
        if (!t || t > eol) continue;
        const char *end = strstr(eol, "\n## "), *end3 = strstr(eol, "\n### ");
        if (!end || (end3 && end3 < end)) end = end3;
        size_t n = end ? (size_t)(end - h) : strlen(h);
        char *s = malloc(n + 1);
        memcpy(s, h, n);
        s[n] = 0;
        return s;
    }
    return NULL;
}

static int documented(const char *sec, const char *form)
{
    char q[256];
    snprintf(q, sizeof q, "`%s`", form);
    return strstr(sec, q) != NULL;
}

/* name with l<digits> -> l<l>, pass<digits> -> pass<P>, trailing _q/_k/_v/_o -> _<p>. */
static void generic_name(const char *name, char *out, size_t size)
{
    size_t k = 0;
    for (const char *c = name; *c && k + 8 < size;) {
        if (*c == '.' && c[1] == 'l' && c[2] >= '0' && c[2] <= '9') {
            k += (size_t)snprintf(out + k, size - k, ".l<l>");
            for (c += 2; *c >= '0' && *c <= '9'; c++) {}
        } else if (!strncmp(c, "pass", 4) && c[4] >= '0' && c[4] <= '9') {
            k += (size_t)snprintf(out + k, size - k, "pass<P>");
            for (c += 4; *c >= '0' && *c <= '9'; c++) {}
        } else if (*c == '_' && c[1] && strchr("qkvo", c[1]) && c[2] == 0) {
            k += (size_t)snprintf(out + k, size - k, "_<p>");
            c += 2;
        } else {
            out[k++] = *c++;
        }
    }
    out[k] = 0;
}

static int name_documented(const char *sec, const char *name)
{
    char gen[160], form[192];
    if (documented(sec, name)) return 1;
    generic_name(name, gen, sizeof gen);
    if (documented(sec, gen)) return 1;
    const char *blk = strstr(gen, ".l<l>.");
    if (blk) {
        snprintf(form, sizeof form, "%.*s.l<l>.<name>", (int)(blk - gen), gen);
        if (documented(sec, form)) return 1;
    }
    const char *dot = strchr(name, '.');
    snprintf(form, sizeof form, "%.*s.*", dot ? (int)(dot - name) : 0, name);
    return documented(sec, form);
}

/* config key, or its per-position form <pos>_p / <pos>_pattern / <pos>_rescale
 * (pass 2's own sites: pass2_<pos>_p, ...). */
static int key_documented(const char *sec, const char *key)
{
    if (documented(sec, key)) return 1;
    static const char *const pos[] = {"lora", "input", "logits", "weights", "hidden", "output"};
    const char *pre = !strncmp(key, "pass2_", 6) ? "pass2_" : "";
    const char *k = key + strlen(pre);
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
        size_t n = strlen(pos[i]);
        if (!strncmp(k, pos[i], n) && k[n] == '_') {
            char form[96];
            snprintf(form, sizeof form, "%s<pos>%s", pre, k + n);
            return documented(sec, form);
        }
    }
    return 0;
}

START_TEST(readme_documents_every_tensor_and_config_key)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    hk_assert_ok(hk_file_read("golden/README.md", (size_t)1 << 24, &buf, &len));
    char *readme = malloc(len + 1);
    memcpy(readme, buf, len);
    readme[len] = 0;
    free(buf);
    long missing = 0, checked = 0;
    for (size_t i = 0; i < hk_golden_count(); i++) {
        const hk_golden_case *c = hk_golden_get(i);
        const char *op = c->op->op;
        char *sec = readme_section(readme, op);
        ck_assert_msg(sec != NULL, "golden/README.md has no section for op '%s' (a heading with `golden/%s/`)",
                      op, op);
        const char *base = !strcmp(op, "encoder") ? "attention" : !strcmp(op, "dylora_loss") ? "dylora" : NULL;
        char *bsec = base ? readme_section(readme, base) : NULL;
        hk_st_file *f;
        hk_assert_ok(hk_golden_build(c, &f));
        for (size_t t = 0; t < f->ntensors; t++) {
            const char *nm = f->tensors[t].name;
            int ok = name_documented(sec, nm) || (bsec && name_documented(bsec, nm));
            checked++;
            if (!ok && missing++ < 200) fprintf(stderr, "golden/README.md: op %s: tensor %s undocumented\n", op, nm);
        }
        json_t *cfg = json_loads(hk_st_get_meta(f, "config"), 0, NULL);
        ck_assert_ptr_nonnull(cfg);
        const char *key;
        json_t *v;
        json_object_foreach(cfg, key, v)
        {
            int ok = key_documented(sec, key) || (bsec && key_documented(bsec, key));
            checked++;
            if (!ok && missing++ < 200) fprintf(stderr, "golden/README.md: op %s: config key %s undocumented\n", op, key);
        }
        json_decref(cfg);
        hk_st_free(f);
        free(sec);
        free(bsec);
    }
    free(readme);
    ck_assert_int_gt(checked, 500);
    ck_assert_msg(missing == 0, "%ld tensor names / config keys of the golden set are not in golden/README.md", missing);
}
END_TEST

START_TEST(readme_lint_catches_an_undocumented_name)
{
    const char *sec = "### x — `golden/x/`\n| `in.x` | `param.lora_A_<p>` | `param.l<l>.<name>` | `mask.pass<P>.l<l>.lora` "
                      "`<pos>_p` `param.*`";
    ck_assert(name_documented(sec, "in.x"));
    ck_assert(name_documented(sec, "param.lora_A_k"));
    ck_assert(name_documented(sec, "param.l1.W1"));
    ck_assert(name_documented(sec, "mask.pass2.l0.lora"));
    ck_assert(key_documented(sec, "hidden_p"));
    ck_assert(!name_documented(sec, "in.y"));
    ck_assert(!name_documented(sec, "grad.lora_A_k"));
    ck_assert(!key_documented(sec, "hidden_scale"));
    ck_assert_ptr_null(readme_section(sec, "y"));
}
END_TEST

Suite *suite_golden(void)
{
    Suite *s = suite_create("golden");
    TCase *tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, setup_dirs, teardown_dirs);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, reference_passes_and_writes_json);
    tcase_add_test(tc, json_summary_reports_a_failing_case);
    tcase_add_test(tc, missing_case_file_fails);
    tcase_add_test(tc, malformed_output_fails);
    tcase_add_test(tc, wrong_shape_output_fails);
    tcase_add_test(tc, usage_errors_exit_2);
    tcase_add_test(tc, bad_golden_file_exits_2);
    tcase_add_test(tc, unwritable_json_and_typos_leave_nothing);
    tcase_add_test(tc, generate_is_byte_identical);
    suite_add_tcase(s, tc);
    TCase *tol = tcase_create("tolerance");
    tcase_add_test(tol, tolerance_formula_on_hand_values);
    suite_add_tcase(s, tol);
    TCase *od = tcase_create("ondemand");
    tcase_add_checked_fixture(od, setup_dirs, teardown_dirs);
    tcase_set_timeout(od, 120);
    tcase_add_test(od, committed_cases_are_reachable_from_the_cli);
    tcase_add_test(od, generate_op_rejects_bad_settings);
    tcase_add_test(od, reference_on_given_inputs);
    tcase_add_test(od, ondemand_directory_is_a_checkable_set);
    tcase_add_test(od, too_loose_bound_fails_its_case_and_the_run_goes_on);
    suite_add_tcase(s, od);
    TCase *doc = tcase_create("readme");
    tcase_set_timeout(doc, 60);
    tcase_add_test(doc, readme_documents_every_tensor_and_config_key);
    tcase_add_test(doc, readme_lint_catches_an_undocumented_name);
    suite_add_tcase(s, doc);
    return s;
}
