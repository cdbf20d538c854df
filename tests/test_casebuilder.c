/* hkref — the golden-case builder (tools/golden/case.c) held to its contract
 * (tools/golden/case.h, golden/README.md "Tolerances"), on toy cases defined
 * here: the tolerance it writes is exactly the model's (rtol = K n_eff e,
 * atol = rtol S + K tiny) per tier (S = the given scale, else max |ref|, 1 for an all-zero tensor);
 * integer outputs are marked exact; and it refuses a case that would make a
 * golden file unusable or untrustworthy — a misnamed or duplicate tensor, an
 * input that is NaN or not exactly representable in binary32, a mask value
 * other than 0/1, a non-finite expected output, an output more than 50 %
 * exact zeros not marked zeros_expected, a tolerance with K < 1, n < 1, a
 * negative scale or no note.  The byte identity of the real cases is the
 * golden.regenerates check; this file checks the builder on its own. */
#include "hk_test.h"

#include "golden/case.h"
#include "ref/fileio.h"

#include <float.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    long variant; /* an HK_PK_INT setting is a long */
} toy_arg;

/* One good toy case: in.x (2,2) filled, param.w (2) set, mask.m (3), out.y (2,2) = x * 2,
 * grad.s (1) = 0.75 with an explicit scale, out.k (3) I64. */
enum {
    GOOD,
    BAD_IN_NAME,
    BAD_OUT_NAME,
    BAD_MASK_NAME,
    DUP_NAME,
    IN_NAN,
    IN_NOT_F32,
    MASK_TWO,
    OUT_INF,
    OUT_MOSTLY_ZERO,
    OUT_MOSTLY_ZERO_EXPECTED,
    OUT_HALF_ZERO,
    K_BELOW_1,
    N_BELOW_1,
    SCALE_NEG,
    NO_NOTE,
    EMPTY_NOTE,
    SET_SCALE_UNKNOWN,
    ZERO_OUT,
    ADD_TERMS,
    TOO_MANY_TENSORS,
    MAX_TENSORS,
    LONG_NAME,
    SCRATCH_LIMIT,
    BUILD_FAILS,
};

static int build_toy(hk_case *g, const void *arg)
{
    const int v = (int)((const toy_arg *)arg)->variant;
    if (v == TOO_MANY_TENSORS || v == MAX_TENSORS) {
        int n = HK_GOLDEN_MAX_TENSORS + (v == TOO_MANY_TENSORS);
        for (int i = 0; i < n; i++) {
            char nm[32];
            snprintf(nm, sizeof nm, "out.t%03d", i);
            double *p = hk_case_out(g, nm, HK_SHAPE(1), 2, 1, 0, "one term");
            if (p) p[0] = 1.5;
        }
        return HK_OK;
    }
    if (v == SCRATCH_LIMIT) {
        for (int i = 0; i < 65; i++) hk_case_scratch(g, 4);
        double *p = hk_case_out(g, "out.y", HK_SHAPE(1), 2, 1, 0, "one term");
        if (p) p[0] = 1.0;
        return HK_OK;
    }
    if (v == BUILD_FAILS) return hk_error_set(HK_EDOM, __FILE__, __LINE__, "toy build refuses");
    double *x = hk_case_in(g, v == BAD_IN_NAME ? "x" : "in.x", HK_SHAPE(2, 2));
    double *w = hk_case_in(g, v == DUP_NAME ? "in.x" : "param.w", HK_SHAPE(2));
    uint8_t *m = hk_case_mask(g, v == BAD_MASK_NAME ? "in.m" : "mask.m", HK_SHAPE(3));
    int64_t *k = hk_case_int(g, "out.k", HK_SHAPE(3));
    char longname[120];
    memset(longname, 'a', sizeof longname);
    memcpy(longname, "in.", 3);
    longname[sizeof longname - 1] = 0;
    if (v == LONG_NAME) hk_case_in(g, longname, HK_SHAPE(1));
    hk_case_fill(g, x, 4, -2.0, 2.0);
    if (w) w[0] = 0.5, w[1] = v == IN_NAN ? NAN : v == IN_NOT_F32 ? 0.1 : -1.25;
    if (m) m[1] = v == MASK_TWO ? 2 : 1;
    if (k) k[0] = 7, k[1] = -3, k[2] = 0;
    hk_case_cfg_int(g, "N", 2);
    hk_case_cfg_real(g, "p", 0.25);
    hk_case_cfg_str(g, "kind", "toy");
    hk_case_cfg_lora(g, 0xA); /* bits 1 and 3: "ko" */
    double K = v == K_BELOW_1 ? 0.5 : 2, n = v == N_BELOW_1 ? 0.5 : 3, S = v == SCALE_NEG ? -1.0 : 0;
    const char *note = v == NO_NOTE ? NULL : v == EMPTY_NOTE ? "" : "3 steps; S = max |ref|";
    double *y = hk_case_out(g, v == BAD_OUT_NAME ? "y" : "out.y", HK_SHAPE(2, 2), K, n, S, note);
    double *s = hk_case_out(g, "grad.s", HK_SHAPE(1), 2, 4, 8.0, "4 steps; S = 8 given");
    double *z = v == ZERO_OUT ? hk_case_out(g, "out.z", HK_SHAPE(2), 2, 1, 0, "all zeros; S = 1") : NULL;
    if (!x || !y || !s) return HK_OK; /* the builder's status carries the error */
    for (int i = 0; i < 4; i++) y[i] = 2.0 * x[i];
    if (v == OUT_INF) y[3] = INFINITY;
    if (v == OUT_MOSTLY_ZERO || v == OUT_MOSTLY_ZERO_EXPECTED) y[0] = y[1] = y[2] = 0.0;
    if (v == OUT_HALF_ZERO) y[0] = y[1] = 0.0;
    if (v == OUT_MOSTLY_ZERO_EXPECTED || v == ZERO_OUT) hk_case_zeros_expected(g, v == ZERO_OUT ? "out.z" : "out.y");
    s[0] = 0.75;
    if (z) z[0] = z[1] = 0.0;
    if (v == SET_SCALE_UNKNOWN) hk_case_set_scale(g, "out.nope", 1.0);
    if (v == ADD_TERMS) {
        hk_case_add_terms(g, "out.", 5);  /* out.y: n 3 -> 8 */
        hk_case_add_terms(g, "grad.", 1); /* grad.s: n 4 -> 5 */
        hk_case_set_scale(g, "grad.s", 16.0);
    }
    return HK_OK;
}

/* The toy op: one setting, variant=N, over the parametric-builder interface (case.h). */
static const toy_arg toy_defaults = {GOOD};
static const hk_golden_param toy_params[] = {
    HK_P_INT(toy_arg, variant, "variant", 0, BUILD_FAILS, "which toy (GOOD, a refusal ...)"),
};
static const hk_golden_op toy_op = {"toy", "a toy: y = 2x", sizeof(toy_arg), &toy_defaults, toy_params, 1,
                                    NULL, NULL, NULL, NULL, build_toy};
static char toy_settings[BUILD_FAILS + 1][24];
static hk_golden_case toy(int v)
{
    snprintf(toy_settings[v], sizeof toy_settings[v], "variant=%d", v);
    hk_golden_case c = {&toy_op, "toy_case", 11, toy_settings[v]};
    return c;
}

/* golden/README.md "Tolerances", restated: for n <= lambda sqrt(n) (every toy
 * output here: n <= 8, lambda >= 6.7) n_eff = n, so rtol = K n e with
 * e = DBL_EPSILON (F64) or FLT_EPSILON/2 + DBL_EPSILON/2 (F32), and
 * atol = rtol S + K tiny (tiny = DBL_MIN / FLT_MIN). */
static double e_of(int f32) { return f32 ? FLT_EPSILON / 2 + DBL_EPSILON / 2 : DBL_EPSILON; }
static double rtol_of(double K, double n, int f32) { return K * n * e_of(f32); }
static double atol_of(double K, double n, double S, int f32)
{
    return rtol_of(K, n, f32) * S + K * (f32 ? FLT_MIN : DBL_MIN);
}

static json_t *tol_of(const hk_st_file *f)
{
    json_error_t e;
    json_t *t = json_loads(hk_st_get_meta(f, "tolerance"), 0, &e);
    ck_assert_msg(t != NULL, "tolerance is not JSON: %s", e.text);
    return t;
}

static double num(json_t *o, const char *a, const char *b, const char *c)
{
    json_t *x = json_object_get(o, a);
    if (b) x = json_object_get(x, b);
    if (c) x = json_object_get(x, c);
    ck_assert_msg(json_is_number(x), "%s.%s.%s is not a number", a, b ? b : "", c ? c : "");
    return json_number_value(x);
}

/* rtol = K n e, atol = rtol S + K tiny, per tier; S = max |ref| unless given. */
START_TEST(tolerance_is_k_n_eps_scaled_per_tier)
{
    hk_golden_case c = toy(GOOD);
    hk_st_file *f;
    hk_assert_ok(hk_golden_build(&c, &f));
    const double *x = hk_st_find(f, "in.x")->data;
    double amax = 0;
    for (int i = 0; i < 4; i++) amax = fmax(amax, fabs(2.0 * x[i]));
    ck_assert(amax > 0);
    json_t *t = tol_of(f);
    ck_assert(num(t, "out.y", "K", NULL) == 2 && num(t, "out.y", "n", NULL) == 3);
    ck_assert(num(t, "out.y", "scale", NULL) == amax);
    ck_assert(num(t, "out.y", "f64", "rtol") == rtol_of(2, 3, 0));
    ck_assert(num(t, "out.y", "f64", "atol") == atol_of(2, 3, amax, 0));
    ck_assert(num(t, "out.y", "f32", "rtol") == rtol_of(2, 3, 1));
    ck_assert(num(t, "out.y", "f32", "atol") == atol_of(2, 3, amax, 1));
    ck_assert(num(t, "grad.s", "scale", NULL) == 8.0); /* given, not max |ref| = 0.75 */
    ck_assert(num(t, "grad.s", "f64", "atol") == atol_of(2, 4, 8.0, 0));
    ck_assert(num(t, "grad.s", "f32", "atol") == atol_of(2, 4, 8.0, 1));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(t, "out.y"), "note")), "3 steps; S = max |ref|");
    ck_assert(!json_object_get(json_object_get(t, "out.y"), "zeros_expected"));
    /* integer outputs: exact, no numbers; inputs and masks: no tolerance */
    ck_assert(json_is_true(json_object_get(json_object_get(t, "out.k"), "exact")));
    ck_assert(!json_object_get(json_object_get(t, "out.k"), "f64"));
    ck_assert(!json_object_get(t, "in.x") && !json_object_get(t, "param.w") && !json_object_get(t, "mask.m"));
    json_decref(t);
    /* dtypes and contents as declared; metadata as golden/README.md lists */
    ck_assert_int_eq(hk_st_find(f, "in.x")->dtype, HK_ST_F64);
    ck_assert_int_eq(hk_st_find(f, "mask.m")->dtype, HK_ST_U8);
    ck_assert_int_eq(hk_st_find(f, "out.k")->dtype, HK_ST_I64);
    ck_assert_int_eq(((const int64_t *)hk_st_find(f, "out.k")->data)[1], -3);
    ck_assert_int_eq(((const uint8_t *)hk_st_find(f, "mask.m")->data)[1], 1);
    ck_assert_int_eq(((const uint8_t *)hk_st_find(f, "mask.m")->data)[0], 0); /* zeroed on declaration */
    ck_assert_int_eq(hk_st_find(f, "out.y")->ndim, 2);
    ck_assert_int_eq(hk_st_find(f, "out.y")->shape[1], 2);
    for (int i = 0; i < 4; i++) {
        ck_assert(x[i] >= -2.0 && x[i] < 2.0);
        ck_assert((double)(float)x[i] == x[i]); /* filled values are binary32-exact */
    }
    ck_assert(x[0] != x[1]);
    ck_assert_str_eq(hk_st_get_meta(f, "format"), HK_GOLDEN_FORMAT);
    ck_assert_str_eq(hk_st_get_meta(f, "op"), "toy");
    ck_assert_str_eq(hk_st_get_meta(f, "case"), "toy_case");
    ck_assert_str_eq(hk_st_get_meta(f, "source"), "a toy: y = 2x");
    ck_assert_str_eq(hk_st_get_meta(f, "seed"), "11");
    ck_assert_str_eq(hk_st_get_meta(f, "config"), "{\"N\":2,\"kind\":\"toy\",\"lora\":\"ko\",\"p\":0.25}");
    /* the same seed, the same bytes */
    hk_st_file *f2;
    hk_assert_ok(hk_golden_build(&c, &f2));
    unsigned char *b1, *b2;
    size_t n1, n2;
    hk_assert_ok(hk_st_serialize(f, &b1, &n1));
    hk_assert_ok(hk_st_serialize(f2, &b2, &n2));
    ck_assert(n1 == n2 && !memcmp(b1, b2, n1));
    free(b1);
    free(b2);
    hk_st_free(f);
    hk_st_free(f2);
}
END_TEST

/* add_terms adds to n of every output with the prefix; set_scale replaces S. */
START_TEST(add_terms_and_set_scale_change_the_tolerance)
{
    hk_golden_case c = toy(ADD_TERMS);
    hk_st_file *f;
    hk_assert_ok(hk_golden_build(&c, &f));
    json_t *t = tol_of(f);
    ck_assert(num(t, "out.y", "n", NULL) == 8);
    ck_assert(num(t, "grad.s", "n", NULL) == 5);
    ck_assert(num(t, "grad.s", "scale", NULL) == 16.0);
    ck_assert(num(t, "grad.s", "f64", "rtol") == rtol_of(2, 5, 0));
    ck_assert(num(t, "grad.s", "f64", "atol") == atol_of(2, 5, 16.0, 0));
    json_decref(t);
    hk_st_free(f);
    /* an all-zero output (zeros_expected) gets S = 1 */
    c = toy(ZERO_OUT);
    hk_assert_ok(hk_golden_build(&c, &f));
    t = tol_of(f);
    ck_assert(num(t, "out.z", "scale", NULL) == 1.0);
    ck_assert(num(t, "out.z", "f64", "atol") == atol_of(2, 1, 1.0, 0));
    ck_assert(json_is_true(json_object_get(json_object_get(t, "out.z"), "zeros_expected")));
    json_decref(t);
    hk_st_free(f);
}
END_TEST

static const struct {
    int variant, code;
    const char *word;
} refused[] = {
    {BAD_IN_NAME, HK_EINVAL, "in.* or param.*"},
    {BAD_OUT_NAME, HK_EINVAL, "out.* or grad.*"},
    {BAD_MASK_NAME, HK_EINVAL, "mask.*"},
    {DUP_NAME, HK_EINVAL, "declared twice"},
    {IN_NAN, HK_ENAN, "param.w[1] is NaN"},
    {IN_NOT_F32, HK_EDOM, "binary32"},
    {MASK_TWO, HK_EDOM, "mask.m[1] is not 0/1"},
    {OUT_INF, HK_ENAN, "out.y[3] is not finite"},
    {OUT_MOSTLY_ZERO, HK_EDOM, "zero-trust"},
    {K_BELOW_1, HK_EDOM, "K >= 1"},
    {N_BELOW_1, HK_EDOM, "n >= 1"},
    {SCALE_NEG, HK_EDOM, "scale >= 0"},
    {NO_NOTE, HK_EDOM, "a note"},
    {EMPTY_NOTE, HK_EDOM, "a note"},
    {SET_SCALE_UNKNOWN, HK_ENOTFOUND, "no output 'out.nope'"},
    {TOO_MANY_TENSORS, HK_EINVAL, "too many tensors"},
    {LONG_NAME, HK_EINVAL, "bad ndim or name"},
    {SCRATCH_LIMIT, HK_EINVAL, "too many scratch buffers"},
    {BUILD_FAILS, HK_EDOM, "toy build refuses"},
};

/* The builder refuses every case golden/README.md calls unusable, naming the tensor. */
START_TEST(builder_refuses_unusable_cases)
{
    int v = refused[_i].variant;
    hk_golden_case c = toy(v);
    hk_st_file *f = (hk_st_file *)&c; /* not NULL: the failed build must set it to NULL */
    hk_assert_fails(hk_golden_build(&c, &f), refused[_i].code, refused[_i].word);
    ck_assert_ptr_null(f);
}
END_TEST

/* The limits themselves are allowed: exactly 50 % zeros, zeros_expected, the
 * maximum tensor count. */
START_TEST(builder_accepts_its_limits)
{
    const int ok[3] = {OUT_HALF_ZERO, OUT_MOSTLY_ZERO_EXPECTED, MAX_TENSORS};
    for (int k = 0; k < 3; k++) {
        hk_golden_case c = toy(ok[k]);
        hk_st_file *f;
        hk_assert_ok(hk_golden_build(&c, &f));
        hk_st_free(f);
    }
}
END_TEST

/* Helpers the case files use for their tolerance terms. */
START_TEST(builder_helpers_follow_their_definitions)
{
    double x[5] = {-3.5, 2.0, -0.25, 3.25, 0.0};
    ck_assert(hk_case_maxabs(x, 5) == 3.5);
    ck_assert(hk_case_maxabs(x + 1, 4) == 3.25);
    ck_assert(hk_case_maxabs(NULL, 5) == 0.0);
    double g[5] = {-INFINITY, 2.25, -7.5, INFINITY, 0.5};
    ck_assert(hk_case_logit_range(g, 5, 0) == 8.0); /* ceil max |finite| */
    ck_assert(hk_case_logit_range(g, 5, 9) == 9.0);  /* never below R */
    ck_assert(hk_case_logit_range(g, 2, 0) == 3.0);
    /* (B=1, NH=2, T=3): rows 0..5; row 1 drops every key, row 4 every unpadded key */
    uint8_t m[18] = {0, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0};
    uint8_t pad[3] = {0, 0, 1};
    ck_assert_int_eq(hk_case_allmasked_rows(m, NULL, 1, 2, 3), 1);
    ck_assert_int_eq(hk_case_allmasked_rows(m, pad, 1, 2, 3), 2);
    hk_case_round32(x, 5);
    ck_assert(x[0] == -3.5);
    double y[2] = {0.1, 1.0 / 3.0};
    hk_case_round32(y, 2);
    ck_assert(y[0] == (double)0.1f && y[1] == (double)(1.0f / 3.0f));
}
END_TEST

/* ---- files: generate and the byte-identity comparison ---- */

static char tmp[64];

static const char *p(const char *sub)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, sub);
    return buf[k];
}

static void files_setup(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/hkref-casebuilder-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void files_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

/* generate writes exactly the cases whose name starts with the prefix, to <op>/<case>.safetensors. */
START_TEST(generate_writes_the_selected_cases)
{
    long n;
    hk_assert_ok(hk_golden_generate(p("g"), "softmax_3x", NULL, &n));
    long want = 0;
    for (size_t i = 0; i < hk_golden_count(); i++) want += !strncmp(hk_golden_get(i)->name, "softmax_3x", 10);
    ck_assert_int_gt(want, 0);
    ck_assert_int_eq(n, want);
    char **paths;
    size_t np;
    hk_assert_ok(hk_golden_list_dir(p("g"), &paths, &np));
    ck_assert_uint_eq(np, (size_t)want);
    for (size_t i = 0; i < np; i++) ck_assert_msg(!strncmp(paths[i], "softmax/softmax_3x", 18), "%s", paths[i]);
    hk_golden_list_free(paths, np);
    /* the file is the case as built */
    hk_st_file *f, *b = NULL;
    hk_assert_ok(hk_st_read(p("g/softmax/softmax_3x7.safetensors"), &f));
    for (size_t i = 0; i < hk_golden_count(); i++)
        if (!strcmp(hk_golden_get(i)->name, "softmax_3x7")) hk_assert_ok(hk_golden_build(hk_golden_get(i), &b));
    ck_assert_ptr_nonnull(b);
    unsigned char *x, *y;
    size_t nx, ny;
    hk_assert_ok(hk_st_serialize(f, &x, &nx));
    hk_assert_ok(hk_st_serialize(b, &y, &ny));
    ck_assert(nx == ny && !memcmp(x, y, nx));
    free(x), free(y);
    hk_st_free(f), hk_st_free(b);
    /* a log line per file written */
    char *buf = NULL;
    size_t len = 0;
    FILE *log = open_memstream(&buf, &len);
    hk_assert_ok(hk_golden_generate(p("g2"), "softmax_3x7", log, &n));
    fclose(log);
    ck_assert_int_eq(n, 1);
    ck_assert_msg(strstr(buf, "wrote ") && strstr(buf, "softmax/softmax_3x7.safetensors"), "%s", buf);
    free(buf);
}
END_TEST

/* compare_dir counts every case whose file differs or is missing, and every stale file. */
START_TEST(compare_dir_counts_differing_missing_and_stale_files)
{
    long n, nd, cases;
    hk_assert_ok(hk_golden_generate(p("g"), NULL, NULL, &n));
    ck_assert_int_eq(n, (long)hk_golden_count());
    hk_assert_ok(hk_golden_compare_dir(p("g"), NULL, &cases, &nd));
    ck_assert_int_eq(cases, n);
    ck_assert_int_eq(nd, 0);
    /* one file changed by one byte, one removed, one stale extra */
    unsigned char *b;
    size_t len;
    hk_assert_ok(hk_file_read(p("g/softmax/softmax_3x7.safetensors"), 1 << 24, &b, &len));
    b[len - 1] ^= 1;
    hk_assert_ok(hk_file_write_atomic(p("g/softmax/softmax_3x7.safetensors"), b, len));
    free(b);
    ck_assert_int_eq(unlink(p("g/linear/linear_3x5to4.safetensors")), 0);
    hk_assert_ok(hk_file_write_atomic(p("g/softmax/zz_stale.safetensors"), "x", 1));
    char *buf = NULL;
    size_t blen = 0;
    FILE *log = open_memstream(&buf, &blen);
    hk_assert_ok(hk_golden_compare_dir(p("g"), log, &cases, &nd));
    fclose(log);
    ck_assert_int_eq(cases, n);
    ck_assert_int_eq(nd, 3);
    ck_assert_msg(strstr(buf, "differs") && strstr(buf, "missing") && strstr(buf, "stale"), "%s", buf);
    free(buf);
}
END_TEST

Suite *suite_casebuilder(void)
{
    Suite *s = suite_create("casebuilder");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, tolerance_is_k_n_eps_scaled_per_tier);
    tcase_add_test(core, add_terms_and_set_scale_change_the_tolerance);
    tcase_add_test(core, builder_helpers_follow_their_definitions);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_loop_test(lim, builder_refuses_unusable_cases, 0, (int)(sizeof refused / sizeof refused[0]));
    tcase_add_test(lim, builder_accepts_its_limits);
    suite_add_tcase(s, lim);
    TCase *files = tcase_create("Files");
    tcase_add_checked_fixture(files, files_setup, files_teardown);
    tcase_set_timeout(files, 120);
    tcase_add_test(files, generate_writes_the_selected_cases);
    tcase_add_test(files, compare_dir_counts_differing_missing_and_stale_files);
    suite_add_tcase(s, files);
    return s;
}
