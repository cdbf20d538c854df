/* hkref — finite-difference checks of the training step over real encoder
 * blocks (ref/stack.h: post-LN encoder blocks with LoRA on k,v, DropKey /
 * DropAttention hooks, the HiddenCut hook, Cutoff and output dropout, linear
 * head): every preset with a stack of L = 2 blocks (all LoRA coordinates),
 * and every valid framework combination with L = 1 (a subset of coordinates,
 * to keep the gate fast).  Shapes B=2, T=3, C=4, NH=2, F=6, r=2, K=3.
 * Masks of the two passes are sampled independently (fixed seeds) and held
 * fixed.  Default h / atol / rtol (ref/gradcheck.h): every stage is smooth
 * at these inputs (LayerNorm variances O(0.1) >> eps, erf-GELU analytic,
 * masks fixed), so FD error is the rounding term ~eps|L|/h ~ 1e-11. */
#include "checks.h"
#include "stepcheck.h"

#include "../ref/attnmask.h"
#include "../ref/error.h"
#include "../ref/layernorm.h"
#include "../ref/rng.h"
#include "../ref/stack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SB = 2, ST = 3, SC = 4, SNH = 2, SF = 6, SR = 2, SK = 3 };

static hk_enc_config enc_cfg(void)
{
    return (hk_enc_config){
        .attn = {.B = SB, .T = ST, .C = SC, .NH = SNH, .lora = HK_ATTN_LORA_KV, .r = SR, .alpha = 4.0},
        .F = SF,
        .ln_eps = HK_LAYERNORM_EPS_DEFAULT,
        .gelu = HK_GELU_ERF};
}

static void stack_zero(void *p)
{
    hk_stack *s = p;
    for (long l = 0; l < s->L; l++) hk_enc_params_zero(&s->G[l], &s->enc);
}

/* NoGrad DropAttention under finite differences: the forward with each
 * row's kept-weight sum frozen at its unperturbed value Z0 (rows the library
 * copies -- no dropped key, or all-masked under KEEP -- are copied), i.e. the
 * function whose derivative the NoGrad backward computes (HK Eq. 2, NoGrad). */
typedef struct {
    const uint8_t *mask; /* (B,NH,T,T) */
    double *Z0;          /* (B*NH*T) */
} frozen_ctx;

static int frozen_fwd(void *ctx, double *w_out, const double *w_in, long B, long NH, long T)
{
    const frozen_ctx *f = ctx;
    for (long row = 0; row < B * NH * T; row++) {
        long kept, dropped;
        hk_attnmask_row_count(&kept, &dropped, f->mask + row * T, NULL, T);
        for (long k = 0; k < T; k++) {
            double x = w_in[row * T + k];
            w_out[row * T + k] = (kept == 0 || dropped == 0) ? x : f->mask[row * T + k] ? 0.0 : x / f->Z0[row];
        }
    }
    return HK_OK;
}

static int frozen_bwd(void *ctx, double *d_in, const double *d_out, const double *w_in, const double *w_out, long B,
                      long NH, long T)
{
    HK_ERROR(HK_EINVAL, "the frozen-denominator surrogate is for the FD loss only; it has no backward here");
}

typedef struct {
    hk_stack *s;
    frozen_ctx fc[2 * 4];
    hk_attn_hooks h[2 * 4];
    double Z0[2 * 4][SB * SNH * ST];
} freeze;

/* Installs the surrogate for every (pass, block), Z0 from the forward state
 * the step check leaves (both passes at the unperturbed point). */
static int install_frozen(void *ctx)
{
    freeze *fz = ctx;
    hk_stack *s = fz->s;
    if (s->fw.site[HK_POS_WEIGHTS].p == 0.0 || s->fw.site[HK_POS_WEIGHTS].rescale != HK_RESCALE_NORMALIZED)
        return HK_OK;
    const long rows = SB * SNH * ST;
    for (int p = 0; p < 2; p++)
        for (long l = 0; l < s->L; l++) {
            long i = p * s->L + l;
            const uint8_t *mask = s->m_weights[p] + l * rows * ST;
            const double *w = s->cache[p][l].attn.w_pre;
            for (long row = 0; row < rows; row++) {
                fz->Z0[i][row] = 0.0;
                for (long k = 0; k < ST; k++)
                    if (!mask[row * ST + k]) fz->Z0[i][row] += w[row * ST + k];
            }
            fz->fc[i] = (frozen_ctx){mask, fz->Z0[i]};
            fz->h[i] = (hk_attn_hooks){&fz->fc[i], NULL, NULL, frozen_fwd, frozen_bwd};
        }
    s->weights_override = fz->h;
    return HK_OK;
}

/* all = 1: every LoRA coordinate of every block; 0: A_k of block 0 and B_v
 * of the last block (16 coordinates). */
static int stack_check(const hk_framework *cfg, long L, int all, unsigned long seed, hk_gc_report *rep, int *bw)
{
    hk_stack s;
    hk_enc_config e = enc_cfg();
    HK_TRY(hk_stack_alloc(&s, &e, L, cfg->task == HK_TASK_REGRESSION ? 1 : SK, cfg));
    gsl_rng *r = hk_rng_new(seed);
    int st = r ? HK_OK : HK_ENOMEM;
    if (!st) st = hk_stack_init(&s, r);
    for (int p = 0; p < cfg->passes && !st; p++) st = hk_stack_sample_masks(&s, p, r);
    hk_rng_free(r);
    hk_gc_var v[4 * 8];
    int nv = 0;
    char names[4 * 8][32];
    for (long l = 0; l < L && !st; l++)
        for (int i = HK_ATTN_K; i <= HK_ATTN_V; i++)
            for (int ab = 0; ab < 2; ab++) {
                if (!all && !((l == 0 && i == HK_ATTN_K && ab == 0) || (l == L - 1 && i == HK_ATTN_V && ab == 1)))
                    continue;
                snprintf(names[nv], sizeof names[nv], "blk%ld.%s.%s", l, i == HK_ATTN_K ? "k" : "v", ab ? "B" : "A");
                v[nv] = (hk_gc_var){names[nv], ab ? s.P[l].attn.B[i] : s.P[l].attn.A[i],
                                    ab ? s.G[l].attn.B[i] : s.G[l].attn.A[i], SR * SC};
                nv++;
            }
    hk_model m;
    if (!st) st = hk_stack_model(&s, &m);
    if (!st) {
        static freeze fz;
        fz.s = &s;
        hk_stepcheck sc = {&s.fw, m, s.labels, s.targets, stack_zero, &s, install_frozen, &fz};
        st = hk_stepcheck_run(&sc, v, nv, rep, bw);
    }
    hk_stack_free(&s);
    return st;
}

static int preset_run(hk_check_result *res, const char *name)
{
    hk_framework cfg;
    HK_TRY(hk_preset_get(&cfg, name));
    /* p = 0.1 on 2·3·4 masks often drops nothing: raise active rates to 0.4 */
    for (int pos = 0; pos < HK_POS_COUNT; pos++)
        if (cfg.site[pos].p > 0) cfg.site[pos].p = 0.4;
    hk_gc_report rep;
    int bw = 0;
    HK_TRY(stack_check(&cfg, 2, 1, 201, &rep, &bw));
    hk_check_from_gc(res, &rep);
    if (!strcmp(name, "hiddenkey") && bw != 1) { /* Fig. 3: pass 2 forward-only */
        res->failed++;
        snprintf(res->detail, sizeof res->detail, "hiddenkey ran %d backward passes, expected 1 (Fig. 3)", bw);
    }
    return HK_OK;
}

static int p_lora(hk_check_result *res) { return preset_run(res, "lora"); }
static int p_dropkey(hk_check_result *res) { return preset_run(res, "dropkey"); }
static int p_dropattention(hk_check_result *res) { return preset_run(res, "dropattention"); }
static int p_hiddencut(hk_check_result *res) { return preset_run(res, "hiddencut"); }
static int p_rdrop(hk_check_result *res) { return preset_run(res, "rdrop"); }
static int p_hiddenkey_minus(hk_check_result *res) { return preset_run(res, "hiddenkey-"); }
static int p_hiddenkey(hk_check_result *res) { return preset_run(res, "hiddenkey"); }

/* Every valid single-position mask configuration (27: lora 1, input 6,
 * logits 2, weights 4, hidden 8, output 6) × every loss valid for the task
 * (classification: none + 4 divergences; regression: none + mse), the four
 * gradient choices (task_both, detach_second) rotating over the combinations
 * so each occurs with every position; js_eq12 / js_mixture with a clean second
 * pass.  Through one encoder block, forward + backward, FD of 16 coordinates. */
static int combos(hk_check_result *res)
{
    long ran = 0, valid = 0;
    res->bound = 1.0;
    snprintf(res->unit, sizeof res->unit, "err/tol");
    for (int task = 0; task < 2; task++)
        for (int pos = 0; pos < HK_POS_COUNT; pos++)
            for (int pat = 0; pat < HK_PAT_COUNT; pat++)
                for (int rs = 0; rs < HK_RESCALE_COUNT; rs++)
                    for (int loss = HK_LOSS_NONE; loss < HK_CONS_COUNT; loss++) {
                        hk_framework c;
                        hk_framework_init(&c);
                        c.task = (hk_task)task;
                        c.site[pos] = (hk_fw_site){0.4, (hk_pattern_kind)pat, (hk_rescale)rs};
                        if (loss != HK_LOSS_NONE) {
                            c.loss = loss, c.weight = 0.7, c.passes = 2;
                            c.second_clean = loss == HK_CONS_JS_EQ12 || loss == HK_CONS_JS_MIXTURE;
                            c.task_both = (int)(valid & 1);
                            c.detach_second = (int)((valid >> 1) & 1);
                        }
                        if (hk_framework_validate(&c) != HK_OK) continue;
                        valid++;
                        hk_error_clear();
                        hk_gc_report rep;
                        HK_TRY(stack_check(&c, 1, 0, 300 + (unsigned long)ran, &rep, NULL));
                        res->cases += rep.checked;
                        res->failed += rep.failed;
                        if (rep.worst_ratio > res->worst) {
                            res->worst = rep.worst_ratio;
                            snprintf(res->detail, sizeof res->detail,
                                     "worst %s %s/%s/%s loss=%s both=%d detach=%d: %s[%ld] analytic %.17g fd %.17g",
                                     task ? "regression" : "classification", hk_position_name((hk_position)pos),
                                     hk_pattern_kind_name((hk_pattern_kind)pat), hk_rescale_name((hk_rescale)rs),
                                     loss == HK_LOSS_NONE ? "none" : hk_consistency_name((hk_consistency)loss),
                                     c.task_both, c.detach_second, rep.worst_var, rep.worst_index,
                                     rep.worst_analytic, rep.worst_numeric);
                        }
                        ran++;
                    }
    /* 27 × 5 classification + 27 × 2 regression = 189 (derived in tests/test_framework.c) */
    if (ran != 189) {
        res->failed++;
        snprintf(res->detail, sizeof res->detail, "ran %ld combinations, expected 189", ran);
    }
    return HK_OK;
}

static const hk_check checks[] = {
    {"gradcheck", "stack.preset.lora", "2 encoder blocks + head, preset lora: all LoRA A,B vs FD", p_lora},
    {"gradcheck", "stack.preset.dropkey", "2 blocks, preset dropkey (element, -inf) vs FD", p_dropkey},
    {"gradcheck", "stack.preset.dropattention", "2 blocks, preset dropattention (NoGrad normalized) vs FD",
     p_dropattention},
    {"gradcheck", "stack.preset.hiddencut", "2 blocks, preset hiddencut (importance span, clean pass, mixture JS)",
     p_hiddencut},
    {"gradcheck", "stack.preset.rdrop", "2 blocks, preset rdrop (KL, two dropout passes, CE on both)", p_rdrop},
    {"gradcheck", "stack.preset.hiddenkey-", "2 blocks, preset hiddenkey- (column DropKey + element HiddenCut)",
     p_hiddenkey_minus},
    {"gradcheck", "stack.preset.hiddenkey", "2 blocks, preset hiddenkey (+ KL, one branch; 1 backward pass)",
     p_hiddenkey},
    {"gradcheck", "stack.combinations", "all 189 valid position x pattern x rescale x loss combinations through an "
                                        "encoder block, forward + backward vs FD", combos},
};

const hk_check *hk_checks_stack(size_t *n)
{
    *n = sizeof checks / sizeof checks[0];
    return checks;
}
