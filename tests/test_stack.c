/* hkref — the encoder stack as a model: argument policies, the Fig. 3
 * backward count, a clean pass is the forward with no dropout at all, and
 * the two passes' masks are sampled independently.  (FD per preset /
 * combination: tools/checks/chk_stack.c.) */
#include "hk_test.h"

#include "ref/layernorm.h"
#include "ref/rng.h"
#include "ref/stack.h"
#include "ref/stackmask.h"

static hk_enc_config cfg(void)
{
    return (hk_enc_config){.attn = {.B = 2, .T = 3, .C = 4, .NH = 2, .lora = HK_ATTN_LORA_KV, .r = 2, .alpha = 4.0},
                           .F = 6, .ln_eps = HK_LAYERNORM_EPS_DEFAULT, .gelu = HK_GELU_ERF};
}

/* A 2-block stack for fw: weights from seed, both passes' masks sampled
 * one after the other from the same generator. */
static void two_pass_stack(hk_stack *s, const hk_framework *fw, unsigned long seed)
{
    hk_enc_config e = cfg();
    hk_assert_ok(hk_stack_alloc(s, &e, 2, 3, fw));
    gsl_rng *r = hk_rng_new(seed);
    hk_assert_ok(hk_stack_init(s, r));
    hk_assert_ok(hk_stack_sample_masks(s, 0, r));
    hk_assert_ok(hk_stack_sample_masks(s, 1, r));
    hk_rng_free(r);
}

START_TEST(hiddenkey_step_backpropagates_one_pass_and_clean_pass_is_undropped)
{
    hk_framework fw;
    hk_assert_ok(hk_preset_get(&fw, "hiddenkey"));
    hk_enc_config e = cfg();
    hk_stack s;
    two_pass_stack(&s, &fw, 3);
    hk_model m;
    hk_assert_ok(hk_stack_model(&s, &m));
    double work[4 * 2 * (3 + 4)];
    hk_step_result res;
    hk_assert_ok(hk_train_step(&res, &s.fw, &m, s.labels, s.targets, work));
    ck_assert_int_eq(res.backward_passes, 1); /* HK Fig. 3 / §6: pass 2 forward-only */
    ck_assert(res.consistency > 0 && isfinite(res.total));
    /* A clean pass of hiddenkey (masks sampled, not used) is the plain
     * forward of a config with no active position: same numbers bit for bit
     * (same generator seed, so the same weights and inputs). */
    double o1[6], r1[8], o2[6], r2[8];
    hk_assert_ok(m.forward(m.ctx, 0, 1, o1, r1));
    hk_framework none;
    hk_framework_init(&none);
    hk_stack t;
    hk_assert_ok(hk_stack_alloc(&t, &e, 2, 3, &none));
    gsl_rng *r2g = hk_rng_new(3);
    hk_assert_ok(hk_stack_init(&t, r2g));
    hk_model mt;
    hk_assert_ok(hk_stack_model(&t, &mt));
    hk_assert_ok(mt.forward(mt.ctx, 0, 0, o2, r2));
    ck_assert(memcmp(o1, o2, sizeof o1) == 0 && memcmp(r1, r2, sizeof r1) == 0);
    hk_stack_free(&t);
    hk_stack_free(&s);
    hk_rng_free(r2g);
}
END_TEST

START_TEST(two_passes_draw_independent_masks)
{
    /* hiddenkey-'s sites at p = 0.5 on 2 blocks: pass 0 and pass 1 draw
     * from the same generator one after the other, so their masks are
     * different draws (equal with probability 2^-(#units) per site), and the
     * two dropout forwards differ. Column DropKey: 2·2·3 key columns per
     * block, 24 Bernoulli(1/2) in all; element hidden: 48 per pass. */
    hk_framework fw;
    hk_assert_ok(hk_preset_get(&fw, "hiddenkey"));
    fw.site[HK_POS_LOGITS].p = fw.site[HK_POS_HIDDEN].p = 0.5;
    hk_stack s;
    two_pass_stack(&s, &fw, 11);
    const long LOG = 2 * (2 * 2 * 3 * 3), BTC = 2 * (2 * 3 * 4);
    ck_assert(memcmp(s.m_logits[0], s.m_logits[1], (size_t)LOG) != 0);
    ck_assert(memcmp(s.m_hidden[0], s.m_hidden[1], (size_t)BTC) != 0);
    long dropped = 0;
    for (long i = 0; i < BTC; i++) dropped += s.m_hidden[0][i] + s.m_hidden[1][i];
    ck_assert(dropped > 0 && dropped < 2 * BTC);
    hk_model m;
    hk_assert_ok(hk_stack_model(&s, &m));
    double o0[6], r0[8], o1[6], r1[8];
    hk_assert_ok(m.forward(m.ctx, 0, 0, o0, r0));
    hk_assert_ok(m.forward(m.ctx, 1, 0, o1, r1));
    ck_assert(memcmp(o0, o1, sizeof o0) != 0);
    /* sites inactive in the config get no mask: they stay all-zero */
    for (long i = 0; i < BTC; i++) ck_assert(s.m_lora[0][i] == 0 && s.m_lora[1][i] == 0);
    hk_stack_free(&s);
}
END_TEST

/* hk_stack_model_override: with weights NULL it is hk_stack_model bit for
 * bit; with replacement hooks, block l of pass p runs weights[p·L + l]
 * instead of DropAttention's (here an identity hook: the dropattention
 * preset's forward then equals the no-dropout forward). */
static int ident_fwd(void *ctx, double *w_out, const double *w_in, long B, long NH, long T)
{
    (*(int *)ctx)++;
    memmove(w_out, w_in, sizeof(double) * (size_t)(B * NH * T * T));
    return HK_OK;
}

START_TEST(override_model_replaces_only_the_weights_hooks)
{
    hk_framework fw, none;
    hk_assert_ok(hk_preset_get(&fw, "dropattention"));
    fw.site[HK_POS_WEIGHTS].p = 0.5;
    hk_framework_init(&none);
    hk_stack s, t;
    two_pass_stack(&s, &fw, 21);
    two_pass_stack(&t, &none, 21); /* same weights and inputs, nothing dropped */
    hk_model m, mo, mt;
    hk_stack_override ov = {&s, NULL};
    hk_assert_ok(hk_stack_model(&s, &m));
    hk_assert_ok(hk_stack_model_override(&ov, &mo));
    hk_assert_ok(hk_stack_model(&t, &mt));
    double o[6], r[8], oo[6], ro[8], ot[6], rt[8];
    hk_assert_ok(m.forward(m.ctx, 0, 0, o, r));
    hk_assert_ok(mo.forward(mo.ctx, 0, 0, oo, ro));
    ck_assert(memcmp(o, oo, sizeof o) == 0 && memcmp(r, ro, sizeof r) == 0);
    hk_assert_ok(mt.forward(mt.ctx, 0, 0, ot, rt));
    ck_assert(memcmp(o, ot, sizeof o) != 0); /* DropAttention did drop */
    int calls = 0;
    hk_attn_hooks h[2 * 2];
    for (int i = 0; i < 4; i++) h[i] = (hk_attn_hooks){&calls, NULL, NULL, ident_fwd, NULL};
    ov.weights = h;
    hk_assert_ok(mo.forward(mo.ctx, 1, 0, oo, ro));
    ck_assert_int_eq(calls, 2); /* one per block */
    hk_assert_ok(mt.forward(mt.ctx, 1, 0, ot, rt));
    ck_assert(memcmp(oo, ot, sizeof oo) == 0 && memcmp(ro, rt, sizeof ro) == 0);
    hk_assert_fails(hk_stack_model_override(NULL, &mo), HK_EINVAL, "'o'");
    ov.s = NULL;
    hk_assert_fails(hk_stack_model_override(&ov, &mo), HK_EINVAL, "'o->s'");
    hk_stack_free(&s);
    hk_stack_free(&t);
}
END_TEST

START_TEST(errors_name_the_argument)
{
    hk_framework fw;
    hk_framework_init(&fw);
    hk_enc_config e = cfg();
    hk_stack s;
    hk_assert_fails(hk_stack_alloc(&s, &e, 0, 3, &fw), HK_EINVAL, "L=0");
    fw.task = HK_TASK_REGRESSION;
    hk_assert_fails(hk_stack_alloc(&s, &e, 1, 3, &fw), HK_ESHAPE, "K = 1");
    hk_preset_get(&fw, "lora");
    e.attn.lora = 0;
    hk_assert_fails(hk_stack_alloc(&s, &e, 1, 3, &fw), HK_EDOM, "adapts no projection");
    fw.passes = 2; /* invalid framework: rejected before allocating */
    hk_assert_fails(hk_stack_alloc(&s, &e, 1, 3, &fw), HK_EDOM, "passes 2");
    e = cfg();
    hk_preset_get(&fw, "lora");
    hk_assert_ok(hk_stack_alloc(&s, &e, 1, 3, &fw));
    hk_assert_fails(hk_stack_sample_masks(&s, 2, NULL), HK_EINVAL, "pass");
    hk_stack_free(&s);
}
END_TEST

/* The shared sampler (ref/stackmask.h): span_importance without the
 * importance is refused, a position with rate 0 leaves its mask untouched,
 * and padded keys are never dropped by the attention masks. */
START_TEST(stackmask_refuses_missing_importance_and_respects_pad)
{
    enum { L = 1, B = 2, T = 4, C = 3, NH = 1 };
    uint8_t in[B * T * C], out[B * C], lora[B * T * C], lg[B * NH * T * T], wt[B * NH * T * T], hid[B * T * C];
    memset(in, 7, sizeof in), memset(lg, 0, sizeof lg);
    const hk_stackmask m = {in, out, lora, lg, wt, hid};
    const hk_stackmask_shape sh = {L, B, T, C, NH};
    hk_framework fw;
    hk_assert_ok(hk_preset_get(&fw, "hiddencut"));
    fw.site[HK_POS_HIDDEN].pattern = HK_PAT_SPAN_IMPORTANCE;
    gsl_rng *r = hk_rng_new(3);
    ck_assert(hk_stackmask_needs_importance(&fw));
    hk_assert_fails(hk_stackmask_sample(&m, &fw, &sh, NULL, NULL, NULL, r), HK_EINVAL, "importance");
    hk_assert_ok(hk_preset_get(&fw, "dropkey"));
    fw.site[HK_POS_LOGITS].p = 0.9;
    const uint8_t pad[B * T] = {0, 0, 1, 1, 0, 0, 0, 1};
    hk_assert_ok(hk_stackmask_sample(&m, &fw, &sh, pad, NULL, NULL, r));
    long dropped = 0;
    for (long i = 0; i < B * NH * T * T; i++) {
        const long b = i / (NH * T * T), key = i % T;
        if (pad[b * T + key]) ck_assert(lg[i] == 0);
        dropped += lg[i];
    }
    ck_assert(dropped > 0);
    for (long i = 0; i < B * T * C; i++) ck_assert(in[i] == 7); /* input rate 0: not drawn */
    hk_rng_free(r);
}
END_TEST

/* The caller's Bernoulli sampler (the fast path plugs in its own) draws the
 * LoRA-input mask and HiddenCut's element masks, and nothing else; NULL means
 * hk_mask_bernoulli, with the same masks.  A non-positive shape is refused. */
static long bern_calls, bern_elems;
static int counting_bernoulli(uint8_t *mask, long n, double p, gsl_rng *r)
{
    bern_calls++, bern_elems += n;
    return hk_mask_bernoulli(mask, n, p, r);
}

START_TEST(stackmask_element_masks_come_from_the_callers_sampler)
{
    enum { L = 2, B = 2, T = 3, C = 4, NH = 2, BTC = B * T * C, LOG = B * NH * T * T };
    uint8_t a[2][BTC + B * C + 3 * L * BTC + 2 * L * LOG];
    hk_framework fw;
    hk_assert_ok(hk_preset_get(&fw, "hiddenkey")); /* column DropKey, element HiddenCut */
    fw.site[HK_POS_LORA] = (hk_fw_site){.p = 0.25, .pattern = HK_PAT_ELEMENT, .rescale = HK_RESCALE_INVERTED};
    fw.site[HK_POS_INPUT].p = 0.125, fw.site[HK_POS_INPUT].pattern = HK_PAT_COLUMN; /* hiddencut's own sampler */
    hk_assert_ok(hk_framework_validate(&fw));
    const hk_stackmask_shape sh = {L, B, T, C, NH};
    for (int k = 0; k < 2; k++) {
        uint8_t *q = a[k];
        memset(q, 0, sizeof a[k]);
        const hk_stackmask m = {q, q + BTC, q + BTC + B * C, q + BTC + B * C + L * BTC,
                                q + BTC + B * C + L * BTC + L * LOG, q + BTC + B * C + L * BTC + 2 * L * LOG};
        gsl_rng *r = hk_rng_new(41);
        bern_calls = bern_elems = 0;
        hk_assert_ok(hk_stackmask_sample(&m, &fw, &sh, NULL, NULL, k ? counting_bernoulli : NULL, r));
        if (k) { /* per block: the LoRA mask and the hidden mask, each (B,T,C) */
            ck_assert_int_eq(bern_calls, 2 * L);
            ck_assert_int_eq(bern_elems, 2 * L * BTC);
        }
        hk_rng_free(r);
    }
    ck_assert(memcmp(a[0], a[1], sizeof a[0]) == 0);
    const uint8_t *m0 = a[0];
    long ones = 0;
    for (size_t i = 0; i < sizeof a[0]; i++) ones += m0[i];
    ck_assert(ones > 0);
    hk_stackmask_shape bad = sh;
    bad.T = 0;
    const hk_stackmask m = {a[0], a[0], a[0], a[0], a[0], a[0]};
    hk_assert_fails(hk_stackmask_sample(&m, &fw, &bad, NULL, NULL, NULL, NULL), HK_EINVAL, "T=0");
}
END_TEST

/* Every block gets its own draws in its own slice (L = 2, every position at
 * p = 0.5: each slice drops something and the two blocks' slices differ),
 * and a rate-0 position writes nothing at all: poisoned bytes stay, even
 * where its pattern is span_importance (which then needs no importance). */
START_TEST(stackmask_fills_each_block_slice_and_leaves_rate0_untouched)
{
    enum { L = 2, B = 2, T = 5, C = 3, NH = 2, BTC = B * T * C, LOG = B * NH * T * T };
    static uint8_t in[BTC], out[B * C], lora[L * BTC], lg[L * LOG], wt[L * LOG], hid[L * BTC];
    const hk_stackmask m = {in, out, lora, lg, wt, hid};
    const hk_stackmask_shape sh = {L, B, T, C, NH};
    hk_framework fw;
    hk_framework_init(&fw);
    for (int p = 0; p < HK_POS_COUNT; p++) fw.site[p] = (hk_fw_site){0.5, HK_PAT_ELEMENT, HK_RESCALE_INVERTED};
    fw.site[HK_POS_LOGITS].rescale = HK_RESCALE_NONE;
    gsl_rng *r = hk_rng_new(11);
    hk_assert_ok(hk_stackmask_sample(&m, &fw, &sh, NULL, NULL, NULL, r));
    struct {
        const char *name;
        const uint8_t *a;
        long n;
    } per_block[] = {{"lora", lora, BTC}, {"logits", lg, LOG}, {"weights", wt, LOG}, {"hidden", hid, BTC}};
    for (int k = 0; k < 4; k++) {
        for (long l = 0; l < L; l++) {
            long d = 0;
            for (long i = 0; i < per_block[k].n; i++) d += per_block[k].a[l * per_block[k].n + i];
            ck_assert_msg(d > 0 && d < per_block[k].n, "%s block %ld: %ld of %ld dropped at p = 0.5", per_block[k].name,
                          l, d, per_block[k].n);
        }
        ck_assert_msg(memcmp(per_block[k].a, per_block[k].a + per_block[k].n, (size_t)per_block[k].n) != 0,
                      "%s: both blocks got the same mask", per_block[k].name);
    }
    /* rate 0 everywhere but lora: nothing else is written */
    memset(in, 7, sizeof in), memset(out, 7, sizeof out), memset(lg, 7, sizeof lg), memset(wt, 7, sizeof wt),
        memset(hid, 7, sizeof hid);
    for (int p = 0; p < HK_POS_COUNT; p++)
        if (p != HK_POS_LORA) fw.site[p].p = 0.0;
    fw.site[HK_POS_HIDDEN].pattern = HK_PAT_SPAN_IMPORTANCE;
    ck_assert(!hk_stackmask_needs_importance(&fw));
    hk_assert_ok(hk_stackmask_sample(&m, &fw, &sh, NULL, NULL, NULL, r));
    const uint8_t *poisoned[5] = {in, out, lg, wt, hid};
    const long pn[5] = {BTC, B * C, L * LOG, L * LOG, L * BTC};
    for (int k = 0; k < 5; k++)
        for (long i = 0; i < pn[k]; i++) ck_assert_msg(poisoned[k][i] == 7, "rate-0 mask %d written at %ld", k, i);
    hk_rng_free(r);
}
END_TEST

Suite *suite_stack(void)
{
    Suite *s = suite_create("stack");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, hiddenkey_step_backpropagates_one_pass_and_clean_pass_is_undropped);
    tcase_add_test(core, two_passes_draw_independent_masks);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, errors_name_the_argument);
    tcase_add_test(lim, stackmask_refuses_missing_importance_and_respects_pad);
    tcase_add_test(lim, stackmask_fills_each_block_slice_and_leaves_rate0_untouched);
    tcase_add_test(lim, stackmask_element_masks_come_from_the_callers_sampler);
    tcase_add_test(lim, override_model_replaces_only_the_weights_hooks);
    suite_add_tcase(s, lim);
    return s;
}
