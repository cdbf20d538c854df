/* The low-precision tiers (golden/README.md, "Low-precision tiers"): the
 * formula on hand-derived numbers, the dtype names and accepted backend
 * dtypes, a tier the golden file lacks (an error, never a pass), and on a
 * committed case: one bf16 rounding of the reference passes bf16 and fails
 * f32 (the tiers are not interchangeable). */
#include "hk_test.h"

#include "golden/case.h"
#include "golden/check.h"
#include "ref/tensorfile.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

START_TEST(tier_formula_on_hand_values)
{
    /* N = 21: lambda^2 = 2 ln(4.2e10) = 48.98 > n = 30: n_eff = 30 (deterministic).
     * bf16, m = 3: rtol = 2 (30 (2^-24 + 2^-53) + 3 2^-8) = 2 (1.78813935e-6 + 0.01171875) = 0.0234410763,
     * atol = 0.5 rtol + 2 FLT_MIN. */
    hk_golden_tol_in in = {2, 30, 0.5, 21, 3};
    hk_golden_tol m;
    hk_assert_ok(hk_golden_tolerance(&in, HK_GOLDEN_BF16, &m));
    ck_assert(m.n_eff == 30);
    ck_assert_double_eq_tol(m.rtol / 0.0234410763, 1.0, 1e-8);
    ck_assert_double_eq_tol(m.atol / (0.5 * 0.0234410763 + 2 * FLT_MIN), 1.0, 1e-8);
    ck_assert(m.u_low == 1.0 / 256);
    /* f16: u = 2^-11 -> rtol = 2 (1.78813935e-6 + 1.46484375e-3) = 2.93326378e-3; floor 2 * 2^-14 */
    hk_assert_ok(hk_golden_tolerance(&in, HK_GOLDEN_F16, &m));
    ck_assert_double_eq_tol(m.rtol / 2.93326378e-3, 1.0, 1e-8);
    ck_assert(m.floor == 2 * 6.103515625e-5);
    /* tf32: u = 2^-11 as f16, f32's floor; m = 0 (no matmul on the path) is the F32 bound */
    hk_assert_ok(hk_golden_tolerance(&in, HK_GOLDEN_TF32, &m));
    ck_assert_double_eq_tol(m.rtol / 2.93326378e-3, 1.0, 1e-8);
    ck_assert(m.floor == 2 * FLT_MIN);
    hk_golden_tol f32;
    in.low = 0;
    hk_assert_ok(hk_golden_tolerance(&in, HK_GOLDEN_TF32, &m));
    hk_assert_ok(hk_golden_tolerance(&in, HK_GOLDEN_F32, &f32));
    ck_assert(m.rtol == f32.rtol && m.atol == f32.atol);
    /* m is ignored by f64 / f32, required >= 1 by bf16 / f16 (the output itself is stored there) */
    hk_assert_fails(hk_golden_tolerance(&in, HK_GOLDEN_BF16, &m), HK_EDOM, "low-format");
    in.low = NAN;
    hk_assert_fails(hk_golden_tolerance(&in, HK_GOLDEN_F16, &m), HK_EDOM, "low-format");
    hk_assert_ok(hk_golden_tolerance(&in, HK_GOLDEN_F64, &m));
    hk_assert_fails(hk_golden_tolerance(&in, (hk_golden_dtype)7, &m), HK_EINVAL, "dtype");
}
END_TEST

START_TEST(tier_names_and_accepted_dtypes)
{
    const char *names[] = {"f64", "f32", "bf16", "f16", "tf32"};
    for (int i = 0; i < 5; i++) {
        hk_golden_dtype d;
        hk_assert_ok(hk_golden_dtype_parse(names[i], &d));
        ck_assert_int_eq((int)d, i);
        ck_assert_str_eq(hk_golden_dtype_name(d), names[i]);
    }
    hk_golden_dtype d;
    hk_assert_fails(hk_golden_dtype_parse("BF16", &d), HK_EINVAL, "bf16");
    hk_assert_fails(hk_golden_dtype_parse("fp16", &d), HK_EINVAL, "f16");
    ck_assert_str_eq(hk_golden_dtype_name((hk_golden_dtype)9), "?");
    /* F64 everywhere; a tier never accepts a format narrower than its own */
    ck_assert(hk_golden_dtype_accepts(HK_GOLDEN_F64, HK_ST_F64) && !hk_golden_dtype_accepts(HK_GOLDEN_F64, HK_ST_F32));
    ck_assert(hk_golden_dtype_accepts(HK_GOLDEN_F32, HK_ST_F32) && !hk_golden_dtype_accepts(HK_GOLDEN_F32, HK_ST_BF16));
    ck_assert(hk_golden_dtype_accepts(HK_GOLDEN_BF16, HK_ST_BF16) && hk_golden_dtype_accepts(HK_GOLDEN_BF16, HK_ST_F32));
    ck_assert(!hk_golden_dtype_accepts(HK_GOLDEN_BF16, HK_ST_F16) && !hk_golden_dtype_accepts(HK_GOLDEN_F16, HK_ST_BF16));
    ck_assert(hk_golden_dtype_accepts(HK_GOLDEN_F16, HK_ST_F16) && hk_golden_dtype_accepts(HK_GOLDEN_F16, HK_ST_F64));
    ck_assert(!hk_golden_dtype_accepts(HK_GOLDEN_TF32, HK_ST_BF16) && hk_golden_dtype_accepts(HK_GOLDEN_TF32, HK_ST_F32));
    ck_assert(hk_golden_max_rtol(HK_GOLDEN_F32) == HK_GOLDEN_MAX_RTOL);
    ck_assert(hk_golden_max_rtol(HK_GOLDEN_BF16) == HK_GOLDEN_MAX_RTOL_LOW);
}
END_TEST

/* x rounded to bf16 (8 significant bits, to nearest even: normal range) as raw bits. */
static uint16_t to_bf16(double x)
{
    float f = (float)hk_case_round_tiers1(x);
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    ck_assert_uint_eq(b & 0xFFFF, 0); /* exact in bf16 */
    return (uint16_t)(b >> 16);
}

/* The case's outputs, each rounded once to bf16 and stored as BF16 (as_bf16) or F32. */
static hk_st_file *rounded_outputs(const hk_st_file *g, int as_bf16, double bump)
{
    hk_st_file *own;
    hk_assert_ok(hk_st_new(&own));
    for (size_t i = 0; i < g->ntensors; i++) {
        const hk_st_tensor *t = &g->tensors[i];
        if (strncmp(t->name, "out.", 4) && strncmp(t->name, "grad.", 5)) continue;
        const double *v = t->data;
        if (as_bf16) {
            uint16_t *h = malloc(t->numel * sizeof *h);
            for (size_t k = 0; k < t->numel; k++) h[k] = to_bf16(v[k] * (k ? 1.0 : bump));
            hk_assert_ok(hk_st_add(own, t->name, HK_ST_BF16, t->ndim, t->shape, h));
            free(h);
        } else {
            float *f = malloc(t->numel * sizeof *f);
            for (size_t k = 0; k < t->numel; k++) f[k] = (float)hk_case_round_tiers1(v[k] * (k ? 1.0 : bump));
            hk_assert_ok(hk_st_add(own, t->name, HK_ST_F32, t->ndim, t->shape, f));
            free(f);
        }
    }
    return own;
}

START_TEST(one_bf16_rounding_passes_bf16_and_fails_f32)
{
    hk_st_file *g;
    hk_assert_ok(hk_st_read("golden/softmax/softmax_3x7.safetensors", &g));
    hk_golden_result *r = malloc(sizeof *r);
    for (int as_bf16 = 0; as_bf16 < 2; as_bf16++) {
        hk_st_file *own = rounded_outputs(g, as_bf16, 1.0);
        hk_assert_ok(hk_golden_check_case(g, own, HK_GOLDEN_BF16, NULL, r));
        ck_assert_int_eq(r->failed_tensors, 0);
        ck_assert(r->t[0].m >= 1 && r->t[0].K == 2);
        hk_assert_ok(hk_golden_check_case(g, own, HK_GOLDEN_F32, NULL, r));
        ck_assert_int_gt(r->failed_tensors, 0); /* one bf16 rounding is far outside the f32 bound */
        if (as_bf16) ck_assert_ptr_nonnull(strstr(r->t[0].problem, "dtype BF16"));
        hk_st_free(own);
    }
    /* power: a 5 % error in one element fails the bf16 tier */
    hk_st_file *own = rounded_outputs(g, 1, 1.05);
    hk_assert_ok(hk_golden_check_case(g, own, HK_GOLDEN_BF16, NULL, r));
    ck_assert_int_gt(r->failed_tensors, 0);
    hk_st_free(own);
    free(r);
    hk_st_free(g);
}
END_TEST

/* g's tolerance with edit(entry) applied to every float output's entry. */
static hk_st_file *edited(const char *path, void (*edit)(json_t *))
{
    hk_st_file *g;
    hk_assert_ok(hk_st_read(path, &g));
    json_t *tol = json_loads(hk_st_get_meta(g, "tolerance"), 0, NULL);
    const char *k;
    json_t *e;
    json_object_foreach(tol, k, e) if (!json_is_true(json_object_get(e, "exact"))) edit(e);
    char *js = json_dumps(tol, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    hk_assert_ok(hk_st_set_meta(g, "tolerance", js));
    free(js);
    json_decref(tol);
    return g;
}

static void drop_bf16(json_t *e) { json_object_del(e, "bf16"); }
static void loosen_bf16(json_t *e)
{
    json_t *b = json_object_get(e, "bf16");
    json_object_set_new(b, "rtol", json_real(2 * json_number_value(json_object_get(b, "rtol"))));
}
static void drop_m(json_t *e) { json_object_del(json_object_get(e, "f16"), "m"); }

START_TEST(a_missing_or_edited_tier_is_never_a_pass)
{
    const char *path = "golden/softmax/softmax_3x7.safetensors";
    hk_golden_result *r = malloc(sizeof *r);
    hk_st_file *g = edited(path, drop_bf16);
    hk_st_file *own = rounded_outputs(g, 1, 1.0);
    hk_assert_fails(hk_golden_check_case(g, own, HK_GOLDEN_BF16, NULL, r), HK_EFORMAT, "no bf16 tier");
    hk_assert_ok(hk_golden_check_case(g, own, HK_GOLDEN_F16, NULL, r)); /* the other tiers are still there */
    hk_st_free(g);
    g = edited(path, drop_m);
    hk_assert_fails(hk_golden_check_case(g, own, HK_GOLDEN_F16, NULL, r), HK_EFORMAT, "no numeric m");
    hk_st_free(g);
    g = edited(path, loosen_bf16);
    hk_assert_ok(hk_golden_check_case(g, own, HK_GOLDEN_BF16, NULL, r));
    ck_assert_int_gt(r->failed_tensors, 0);
    ck_assert_ptr_nonnull(strstr(r->t[0].problem, "does not follow its ingredients"));
    hk_st_free(g);
    hk_st_free(own);
    free(r);
}
END_TEST

/* Every committed case has every tier for its float outputs, and its float
 * inputs are exact in bf16 (a bf16 value is a float whose low 16 bits are 0)
 * and, in magnitude, f16 (<= 65504, a multiple of 2^-24). */
START_TEST(committed_inputs_are_exact_in_every_tier)
{
    char **paths;
    size_t n;
    hk_assert_ok(hk_golden_list_dir("golden", &paths, &n));
    ck_assert_int_gt((long)n, 50);
    for (size_t i = 0; i < n; i++) {
        char full[512];
        snprintf(full, sizeof full, "golden/%s", paths[i]);
        hk_st_file *g;
        hk_assert_ok(hk_st_read(full, &g));
        json_t *tol = json_loads(hk_st_get_meta(g, "tolerance"), 0, NULL);
        for (size_t k = 0; k < g->ntensors; k++) {
            const hk_st_tensor *t = &g->tensors[k];
            int in = !strncmp(t->name, "in.", 3) || !strncmp(t->name, "param.", 6);
            if (in && t->dtype == HK_ST_F64)
                for (size_t e = 0; e < t->numel; e++) {
                    double x = ((const double *)t->data)[e];
                    if (!isfinite(x)) continue;
                    float f = (float)x;
                    uint32_t b;
                    memcpy(&b, &f, sizeof b);
                    ck_assert_msg((double)f == x && (b & 0xFFFF) == 0, "%s %s[%zu] = %.17g not bf16", paths[i],
                                  t->name, e, x);
                    ck_assert_msg(fabs(x) <= 65504 && ldexp(x, 24) == nearbyint(ldexp(x, 24)), "%s %s: not f16",
                                  paths[i], t->name);
                }
            json_t *e = json_object_get(tol, t->name);
            if (e && !json_is_true(json_object_get(e, "exact")))
                ck_assert_msg(json_object_get(e, "bf16") && json_object_get(e, "f16") && json_object_get(e, "tf32"),
                              "%s %s lacks a tier", paths[i], t->name);
        }
        json_decref(tol);
        hk_st_free(g);
    }
    hk_golden_list_free(paths, n);
}
END_TEST

Suite *suite_tiers(void)
{
    Suite *s = suite_create("tiers");
    TCase *tc = tcase_create("tiers");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tier_formula_on_hand_values);
    tcase_add_test(tc, tier_names_and_accepted_dtypes);
    tcase_add_test(tc, one_bf16_rounding_passes_bf16_and_fails_f32);
    tcase_add_test(tc, a_missing_or_edited_tier_is_never_a_pass);
    tcase_add_test(tc, committed_inputs_are_exact_in_every_tier);
    suite_add_tcase(s, tc);
    return s;
}
