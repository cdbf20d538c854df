/* hkref — the f32 fast path as a golden-set backend: every golden
 * `train_step` case (golden/train_step/, golden/README.md "train_step") run
 * by ref/train.h's hk_train_step on the fast stack (tools/fast/fast_stack.h)
 * and judged by the golden checker at F32 tolerance, exactly as an outside
 * F32 backend would be (`hkref golden check --dtype f32`).
 *
 * The case's configuration is rebuilt from its config JSON alone through
 * hk_framework_set (so the checker sees what a backend reading the README
 * would compute), the parameters and masks come from the file; nothing is
 * sampled.  LoRA on k, v ("kv") or on q, k, v, o ("qkvo": the stack's
 * cfg.lora_qo); any other projection set would be skipped and counted (the
 * committed set has none); the test requires every case to run. */
#include "hk_test.h"
#include "golden_io.h"

#include "ref/framework.h"
#include "ref/tensorfile.h"
#include "ref/train.h"
#include "fast/fast_stack.h"
#include "golden/check.h"

#include <jansson.h>
#include <stdlib.h>

/* Golden tensor `name` (n elements) into f32 dst; it must exist. */
static void load_f32(const hk_st_file *g, const char *name, float *dst, long n)
{
    ck_assert_msg(hk_test_gold_f32(g, name, dst, n), "golden case has no %s", name);
}

/* Mask `name` (n bytes) into dst, or zeros when the position is inactive in this pass. */
static void load_mask(const hk_st_file *g, const char *name, uint8_t *dst, long n, int required)
{
    const hk_st_tensor *t = hk_st_find(g, name);
    if (!t) {
        ck_assert_msg(!required, "golden case has no %s", name);
        memset(dst, 0, (size_t)n);
        return;
    }
    ck_assert_msg((long)t->numel == n && t->dtype == HK_ST_U8, "golden mask %s: %zu elements, expected %ld U8", name,
                  t->numel, n);
    memcpy(dst, t->data, (size_t)n);
}

/* The framework configuration from the config keys golden/README.md lists. */
static void framework_from_config(hk_framework *fw, json_t *cfg)
{
    char key[64], val[64];
    hk_framework_init(fw);
    for (int p = 0; p < HK_POS_COUNT; p++) {
        const char *pos = hk_position_name((hk_position)p);
        snprintf(key, sizeof key, "%s_p", pos);
        json_t *v = json_object_get(cfg, key);
        ck_assert_msg(json_is_number(v), "config has no %s", key);
        snprintf(val, sizeof val, "%.17g", json_number_value(v));
        snprintf(key, sizeof key, "%s.p", pos);
        hk_assert_ok(hk_framework_set(fw, key, val));
        const char *f[2] = {"pattern", "rescale"};
        for (int k = 0; k < 2; k++) {
            snprintf(key, sizeof key, "%s_%s", pos, f[k]);
            const char *s = json_string_value(json_object_get(cfg, key));
            if (!s) continue; /* inactive position: not stored */
            snprintf(key, sizeof key, "%s.%s", pos, f[k]);
            hk_assert_ok(hk_framework_set(fw, key, s));
        }
    }
    hk_assert_ok(hk_framework_set(fw, "loss", json_string_value(json_object_get(cfg, "loss"))));
    hk_assert_ok(hk_framework_set(fw, "task", json_string_value(json_object_get(cfg, "task"))));
    snprintf(val, sizeof val, "%.17g", json_number_value(json_object_get(cfg, "weight")));
    hk_assert_ok(hk_framework_set(fw, "weight", val));
    const char *ints[] = {"passes", "second_clean", "task_both", "detach_second"};
    for (int k = 0; k < 4; k++) {
        snprintf(val, sizeof val, "%lld", (long long)json_integer_value(json_object_get(cfg, ints[k])));
        hk_assert_ok(hk_framework_set(fw, ints[k], val));
    }
    hk_assert_ok(hk_framework_validate(fw));
}

/* The fast stack as an in-process golden backend (hk_golden_check_dir): *out gets the F32 outputs
 * of one train_step case, or NULL when it is skipped (LoRA neither kv nor qkvo). */
static int train_step_case(void *ctx, const hk_st_file *g, const char *path, hk_st_file **out)
{
    *out = NULL;
    json_error_t je;
    json_t *cfg = json_loads(hk_st_get_meta(g, "config"), 0, &je);
    ck_assert_msg(cfg != NULL, "%s: config: %s", path, je.text);
    const char *lora = json_string_value(json_object_get(cfg, "lora"));
    const int qo = !strcmp(lora, "qkvo");
    if (strcmp(lora, "kv") != 0 && !qo) {
        json_decref(cfg);
        return HK_OK;
    }
#define CI(k) json_integer_value(json_object_get(cfg, k))
    const long L = CI("L"), B = CI("B"), T = CI("T"), C = CI("C"), NH = CI("NH"), F = CI("F"), K = CI("K"), r = CI("r");
#undef CI
    hk_framework fw;
    framework_from_config(&fw, cfg);
    hk_fast_config fc = {.B = B, .T = T, .C = C, .NH = NH, .F = F, .r = r,
                         .alpha = (float)json_number_value(json_object_get(cfg, "alpha")),
                         .ln_eps = (float)json_number_value(json_object_get(cfg, "ln_eps")), .lora_qo = qo};
    hk_fast_stack s;
    hk_assert_ok(hk_fast_stack_alloc(&s, &fc, L, K, &fw, 0, 0));
    char nm[64];
    static const char *const pn[24] = {"W_q", "b_q", "W_k", "b_k", "W_v", "b_v", "W_o", "b_o", "lora_A_k", "lora_B_k",
                                       "lora_A_v", "lora_B_v", "ln1_weight", "ln1_bias", "W1", "b1", "W2", "b2",
                                       "ln2_weight", "ln2_bias", "lora_A_q", "lora_B_q", "lora_A_o", "lora_B_o"};
    const long len[24] = {C * C, C, C * C, C, C * C, C, C * C, C, r * C, C * r, r * C, C * r,
                          C, C, F * C, F, C * F, C, C, C, r * C, C * r, r * C, C * r};
    for (long l = 0; l < L; l++) {
        hk_fast_params *p = &s.P[l];
        float *dst[24] = {p->Wq, p->bq, p->Wk, p->bk, p->Wv, p->bv, p->Wo, p->bo, p->Ak, p->Bk, p->Av, p->Bv,
                          p->ln1_w, p->ln1_b, p->W1, p->b1, p->W2, p->b2, p->ln2_w, p->ln2_b, p->Aq, p->Bq, p->Ao, p->Bo};
        for (int j = 0; j < (qo ? 24 : 20); j++) {
            snprintf(nm, sizeof nm, "param.l%ld.%s", l, pn[j]);
            load_f32(g, nm, dst[j], len[j]);
        }
    }
    load_f32(g, "param.Wc", s.Wc, K * C);
    load_f32(g, "param.bc", s.bc, K);
    load_f32(g, "in.x", s.x, B * T * C);
    const long BTC = B * T * C, LOG = B * NH * T * T;
    for (int pass = 0; pass < fw.passes; pass++) {
        const int on = !(pass == 1 && fw.second_clean); /* the inference pass has no masks */
        snprintf(nm, sizeof nm, "mask.pass%d.input", pass + 1);
        load_mask(g, nm, s.m_input[pass], BTC, on && fw.site[HK_POS_INPUT].p > 0);
        snprintf(nm, sizeof nm, "mask.pass%d.output", pass + 1);
        load_mask(g, nm, s.m_output[pass], B * C, on && fw.site[HK_POS_OUTPUT].p > 0);
        for (long l = 0; l < L; l++) {
            snprintf(nm, sizeof nm, "mask.pass%d.l%ld.lora", pass + 1, l);
            load_mask(g, nm, s.m_lora[pass] + l * BTC, BTC, on && fw.site[HK_POS_LORA].p > 0);
            snprintf(nm, sizeof nm, "mask.pass%d.l%ld.logits", pass + 1, l);
            load_mask(g, nm, s.m_logits[pass] + l * LOG, LOG, on && fw.site[HK_POS_LOGITS].p > 0);
            snprintf(nm, sizeof nm, "mask.pass%d.l%ld.weights", pass + 1, l);
            load_mask(g, nm, s.m_weights[pass] + l * LOG, LOG, on && fw.site[HK_POS_WEIGHTS].p > 0);
            snprintf(nm, sizeof nm, "mask.pass%d.l%ld.hidden", pass + 1, l);
            load_mask(g, nm, s.m_hidden[pass] + l * BTC, BTC, on && fw.site[HK_POS_HIDDEN].p > 0);
        }
    }
    long *labels = calloc((size_t)B, sizeof(long));
    double *targets = calloc((size_t)B, sizeof(double)), dtot;
    if (fw.task == HK_TASK_REGRESSION) {
        hk_assert_ok(hk_st_to_f64(hk_st_find(g, "in.targets"), targets));
    } else {
        const hk_st_tensor *t = hk_st_find(g, "in.labels");
        ck_assert(t && t->dtype == HK_ST_I64 && (long)t->numel == B);
        for (long b = 0; b < B; b++) labels[b] = (long)((const int64_t *)t->data)[b];
    }
    hk_assert_ok(hk_st_to_f64(hk_st_find(g, "in.d_total"), &dtot));
    hk_model m;
    hk_assert_ok(hk_fast_stack_model(&s, &m));
    double *work = calloc((size_t)hk_train_step_work_size(&m), sizeof(double));
    hk_fast_stack_zero_grads(&s);
    hk_step_result res;
    hk_assert_ok(hk_train_step(&res, &fw, &m, labels, targets, work));
    /* the backend's answer, named as golden/README.md says, in F32 */
    hk_st_file *got;
    hk_assert_ok(hk_st_new(&got));
    float tot = (float)res.total, task = (float)res.task, cons = (float)res.consistency;
    hk_assert_ok(hk_st_add(got, "out.total", HK_ST_F32, 0, NULL, &tot));
    hk_assert_ok(hk_st_add(got, "out.task", HK_ST_F32, 0, NULL, &task));
    if (fw.passes == 2) hk_assert_ok(hk_st_add(got, "out.consistency", HK_ST_F32, 0, NULL, &cons));
    static const char *const gn[8] = {"lora_A_k", "lora_B_k", "lora_A_v", "lora_B_v",
                                      "lora_A_q", "lora_B_q", "lora_A_o", "lora_B_o"};
    for (long l = 0; l < L; l++)
        for (int k = 0; k < (qo ? 8 : 4); k++) {
            long n;
            const float *gsrc = hk_fast_stack_lora(&s, l, k, 1, &n);
            float *gd = malloc(sizeof(float) * (size_t)n);
            for (long i = 0; i < n; i++) gd[i] = (float)(dtot * gsrc[i]); /* golden: d(d_total * total) */
            long shp[2] = {k % 2 ? C : r, k % 2 ? r : C};
            snprintf(nm, sizeof nm, "grad.l%ld.%s", l, gn[k]);
            hk_assert_ok(hk_st_add(got, nm, HK_ST_F32, 2, shp, gd));
            free(gd);
        }
    *out = got;
    free(work), free(labels), free(targets);
    hk_fast_stack_free(&s);
    json_decref(cfg);
    return HK_OK;
}

static void report_case(void *ctx, const hk_golden_case_report *r)
{
    double *worst = ctx;
    for (int i = 0; i < r->result->ntensors; i++) *worst = fmax(*worst, r->result->t[i].pct);
    ck_assert_msg(!r->failed, "%s: the fast path fails the golden check at F32 (%ld tensors failing%s%s)\n%s", r->rel,
                  r->result->failed_tensors, r->result->problem[0] ? ": " : "", r->result->problem, r->elements);
}

START_TEST(golden_train_step_cases_pass_at_f32)
{
    double worst = 0;
    hk_golden_dir_opts o = {.golden = "golden", .backend = train_step_case, .dtype = HK_GOLDEN_F32,
                            .op = "train_step", .report = report_case, .report_ctx = &worst};
    hk_golden_dir_summary sum;
    hk_assert_ok(hk_golden_check_dir(&o, &sum));
    if (getenv("HK_FAST_VERBOSE"))
        fprintf(stderr, "golden train_step: %ld of %ld cases on the fast path pass at F32 (worst %.1f%% of threshold), "
                        "%ld skipped\n", sum.run - sum.failed, sum.run + sum.skipped, worst, sum.skipped);
    /* 10 tiny cases, one with LoRA on q, k, v, o, and 2 of the tile tier (golden/README.md "train_step") */
    ck_assert_int_eq(sum.run + sum.skipped, 12);
    ck_assert_int_eq(sum.run, 12);
    ck_assert_int_eq(sum.failed, 0);
}
END_TEST

Suite *suite_fastgolden(void)
{
    Suite *s = suite_create("fastgolden");
    TCase *c = tcase_create("core");
    tcase_set_timeout(c, 60);
    tcase_add_test(c, golden_train_step_cases_pass_at_f32);
    suite_add_tcase(s, c);
    return s;
}
