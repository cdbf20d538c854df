/* hkref — finite-difference checks of the training step over real encoder
 * blocks (ref/stack.h: post-LN encoder blocks with LoRA on k,v, DropKey /
 * DropAttention hooks, the HiddenCut hook, Cutoff and output dropout, linear
 * head): every preset with a stack of L = 2 blocks (all LoRA coordinates),
 * and every valid single-position combination with every loss and gradient
 * choice, every pair of positions and all six positions at once (a subset of
 * coordinates), and the full product of positions × sites (a directional
 * derivative through all coordinates) — tiny shapes, to keep the gate fast.  Shapes B=2, T=3, C=4, NH=2, F=6, r=2, K=3.
 * Masks of the two passes are sampled independently (fixed seeds) and held
 * fixed.  Default h / atol / rtol (ref/gradcheck.h): every stage is smooth
 * at these inputs (LayerNorm variances O(0.1) >> eps, erf-GELU analytic,
 * masks fixed), so FD error is the rounding term ~eps|L|/h ~ 1e-11. */
#include "checks.h"
#include "stepcheck.h"

#include "ref/attnmask.h"
#include "ref/error.h"
#include "ref/layernorm.h"
#include "ref/rng.h"
#include "ref/stack.h"

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
    hk_stack_override *ov; /* the checked model's ctx: install_frozen sets its hooks */
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
    int norm[2], any = 0; /* per pass (its own sites with second_sites) */
    for (int p = 0; p < 2; p++) {
        const hk_fw_site *ws = hk_framework_pass_site(&s->fw, p, HK_POS_WEIGHTS);
        any |= norm[p] = ws->p > 0.0 && ws->rescale == HK_RESCALE_NORMALIZED;
    }
    if (!any) return HK_OK;
    const long rows = SB * SNH * ST;
    for (int p = 0; p < 2; p++)
        for (long l = 0; l < s->L; l++) {
            long i = p * s->L + l;
            if (!norm[p]) { /* a pass without NoGrad keeps its own hook (inactive: never installed) */
                if (hk_framework_pass_site(&s->fw, p, HK_POS_WEIGHTS)->p > 0.0)
                    HK_TRY(hk_dropattn_hooks(&fz->h[i], &s->da[p][l]));
                continue;
            }
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
    fz->ov->weights = fz->h;
    return HK_OK;
}

/* Directional check: the parameters move along one fixed direction u,
 * θ(t) = θ0 + t·u over every LoRA coordinate of every block, and the single
 * scalar t is finite-differenced: dL/dt = ∇L·u.  One FD pair per config
 * instead of one per coordinate, so the full product of positions stays
 * cheap; a wrong coordinate of ∇L shows up unless u is orthogonal to the
 * error (u has random non-zero entries, so that has probability 0). */
enum { MAXPAR = 4 * 4 };
typedef struct {
    hk_stack *s;
    hk_model inner;
    double t, dt;
    double *par[MAXPAR], *grad[MAXPAR]; /* SR·SC each */
    double theta0[MAXPAR][SR * SC], u[MAXPAR][SR * SC];
    int np;
} dir_ctx;

static double dir_dot(const dir_ctx *d)
{
    double acc = 0.0;
    for (int i = 0; i < d->np; i++) acc += hk_dot(d->grad[i], d->u[i], SR * SC);
    return acc;
}

static int dir_forward(void *ctx, int pass, int clean, double *out, double *rep)
{
    dir_ctx *d = ctx;
    for (int i = 0; i < d->np; i++)
        for (int j = 0; j < SR * SC; j++) d->par[i][j] = d->theta0[i][j] + d->t * d->u[i][j];
    return d->inner.forward(d->inner.ctx, pass, clean, out, rep);
}

/* The stack accumulates into its gradients; dt gains this pass's ∇L·u. */
static int dir_backward(void *ctx, int pass, const double *dout, const double *drep)
{
    dir_ctx *d = ctx;
    double before = dir_dot(d);
    HK_TRY(d->inner.backward(d->inner.ctx, pass, dout, drep));
    d->dt += dir_dot(d) - before;
    return HK_OK;
}

static void dir_zero(void *p)
{
    dir_ctx *d = p;
    stack_zero(d->s);
    d->dt = 0.0;
}

typedef enum { GC_ALL, GC_SUBSET, GC_DIRECTION } gc_mode;

/* GC_ALL: every LoRA coordinate of every block; GC_SUBSET: A_k of block 0
 * and B_v of the last block (16 coordinates); GC_DIRECTION: dL/dt along a
 * random direction through all of them (above). */
/* On an allocated stack of the right L and K (the sweeps reuse one per task
 * and L: allocation dominates the cost of a tiny step under ASan).  cfg must
 * be valid; every array the forward reads is rewritten (weights, inputs,
 * the active positions' masks), and masks of inactive positions are unread. */
static int stack_check_on(hk_stack *sp, const hk_framework *cfg, gc_mode mode, unsigned long seed,
                          hk_gc_report *rep, int *bw)
{
    hk_stack s = *sp; /* the same buffers; the copy keeps the caller's fw untouched */
    s.fw = *cfg;
    const long L = s.L;
    gsl_rng *r = hk_rng_new(seed);
    int st = r ? HK_OK : HK_ENOMEM;
    if (!st) st = hk_stack_init(&s, r);
    for (int p = 0; p < cfg->passes && !st; p++) st = hk_stack_sample_masks(&s, p, r);
    static dir_ctx d; /* ~4 KB: static keeps the stack small under ASan */
    memset(&d, 0, sizeof d);
    hk_gc_var v[MAXPAR];
    int nv = 0;
    char names[MAXPAR][32];
    for (long l = 0; l < L && !st; l++)
        for (int i = HK_ATTN_K; i <= HK_ATTN_V; i++)
            for (int ab = 0; ab < 2; ab++) {
                double *x = ab ? s.P[l].attn.B[i] : s.P[l].attn.A[i], *g = ab ? s.G[l].attn.B[i] : s.G[l].attn.A[i];
                if (mode == GC_DIRECTION && d.np < MAXPAR) {
                    d.par[d.np] = x, d.grad[d.np] = g;
                    memcpy(d.theta0[d.np], x, sizeof d.theta0[0]);
                    st = hk_rng_fill_uniform(d.u[d.np], SR * SC, 0.5, 1.5, r);
                    for (int j = 0; j < SR * SC; j++) /* random sign, |u| in [0.5, 1.5] */
                        if (gsl_rng_uniform(r) < 0.5) d.u[d.np][j] = -d.u[d.np][j];
                    d.np++;
                    continue;
                }
                if (mode == GC_SUBSET &&
                    !((l == 0 && i == HK_ATTN_K && ab == 0) || (l == L - 1 && i == HK_ATTN_V && ab == 1)))
                    continue;
                snprintf(names[nv], sizeof names[nv], "blk%ld.%s.%s", l, i == HK_ATTN_K ? "k" : "v", ab ? "B" : "A");
                v[nv] = (hk_gc_var){names[nv], x, g, SR * SC};
                nv++;
            }
    hk_rng_free(r);
    hk_model m = {0};
    hk_stack_override ov = {&s, NULL}; /* the stack's own hooks until install_frozen */
    if (!st) st = hk_stack_model_override(&ov, &m);
    if (!st) {
        static freeze fz;
        fz.s = &s, fz.ov = &ov;
        hk_stepcheck sc = {&s.fw, m, s.labels, s.targets, stack_zero, &s, install_frozen, &fz};
        if (mode == GC_DIRECTION) {
            d.s = &s, d.inner = m;
            sc.m = (hk_model){&d, m.N, m.K, m.D, dir_forward, dir_backward};
            sc.zero_grads = dir_zero, sc.zero_ctx = &d;
            v[0] = (hk_gc_var){"t (direction)", &d.t, &d.dt, 1};
            nv = 1;
        }
        st = hk_stepcheck_run(&sc, v, nv, rep, bw);
    }
    return st;
}

static int stack_check(const hk_framework *cfg, long L, gc_mode mode, unsigned long seed, hk_gc_report *rep, int *bw)
{
    hk_stack s;
    hk_enc_config e = enc_cfg();
    HK_TRY(hk_stack_alloc(&s, &e, L, cfg->task == HK_TASK_REGRESSION ? 1 : SK, cfg));
    int st = stack_check_on(&s, cfg, mode, seed, rep, bw);
    hk_stack_free(&s);
    return st;
}

static int preset_run(hk_check_result *res, const char *name)
{
    hk_framework cfg;
    HK_TRY(hk_preset_get(&cfg, name));
    /* p = 0.1 on 2·3·4 masks often drops nothing: raise active rates to 0.4 */
    for (int pos = 0; pos < HK_POS_COUNT; pos++) {
        if (cfg.site[pos].p > 0) cfg.site[pos].p = 0.4;
        if (cfg.site2[pos].p > 0) cfg.site2[pos].p = 0.4;
    }
    hk_gc_report rep;
    int bw = 0;
    HK_TRY(stack_check(&cfg, 2, GC_ALL, 201, &rep, &bw));
    hk_check_from_gc(res, &rep);
    if (!strcmp(name, "hiddenkey") && bw != 1) { /* Fig. 3: pass 2 forward-only */
        res->failed++;
        snprintf(res->detail, sizeof res->detail, "hiddenkey ran %d backward passes, expected 1 (Fig. 3)", bw);
    }
    if (!strcmp(name, "hiddencut-official") && bw != 2) { /* both CE terms and the JS reach pass 2 */
        res->failed++;
        snprintf(res->detail, sizeof res->detail, "hiddencut-official ran %d backward passes, expected 2", bw);
    }
    return HK_OK;
}

static int p_lora(hk_check_result *res) { return preset_run(res, "lora"); }
static int p_dropkey(hk_check_result *res) { return preset_run(res, "dropkey"); }
static int p_dropattention(hk_check_result *res) { return preset_run(res, "dropattention"); }
static int p_hiddencut(hk_check_result *res) { return preset_run(res, "hiddencut"); }
static int p_hiddencut_official(hk_check_result *res) { return preset_run(res, "hiddencut-official"); }
static int p_rdrop(hk_check_result *res) { return preset_run(res, "rdrop"); }
static int p_hiddenkey_minus(hk_check_result *res) { return preset_run(res, "hiddenkey-"); }
static int p_hiddenkey(hk_check_result *res) { return preset_run(res, "hiddenkey"); }

/* Pass 2 with its own sites over real blocks: the two attention positions
 * split between the passes (NoGrad DropAttention on one pass only: the
 * frozen-denominator surrogate per pass), lora on pass 1 against input +
 * output on pass 2, and HiddenCut's official pair on a regression task. */
static int per_pass_run(hk_check_result *res)
{
    typedef struct {
        hk_position p1, p2, p2b;
        hk_fw_site s1, s2, s2b;
        int loss, task_both, detach, task;
    } pp;
    const hk_fw_site wn = {0.4, HK_PAT_ELEMENT, HK_RESCALE_NORMALIZED}, lc = {0.4, HK_PAT_COLUMN, HK_RESCALE_NONE},
                     le = {0.4, HK_PAT_ELEMENT, HK_RESCALE_NONE}, wc = {0.4, HK_PAT_COLUMN, HK_RESCALE_INVERTED},
                     lo = {0.4, HK_PAT_ELEMENT, HK_RESCALE_INVERTED}, is = {0.4, HK_PAT_SPAN, HK_RESCALE_NONE},
                     hs = {0.4, HK_PAT_SPAN_IMPORTANCE, HK_RESCALE_NONE}, off = {0};
    const pp runs[] = {
        {HK_POS_WEIGHTS, HK_POS_LOGITS, HK_POS_OUTPUT, wn, lc, off, HK_CONS_KL_BIDIR, HK_TASK_SUM, 0, 0},
        {HK_POS_LOGITS, HK_POS_WEIGHTS, HK_POS_OUTPUT, le, wc, off, HK_CONS_JS_MIXTURE, HK_TASK_MEAN, 1, 0},
        {HK_POS_LORA, HK_POS_INPUT, HK_POS_OUTPUT, lo, is, lo, HK_CONS_JS_TEXTBOOK, HK_TASK_PASS1, 0, 0},
        {HK_POS_HIDDEN, HK_POS_HIDDEN, HK_POS_OUTPUT, lo, hs, off, HK_CONS_MSE, HK_TASK_SUM, 0, 1},
    };
    res->bound = 1.0;
    snprintf(res->unit, sizeof res->unit, "err/tol");
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        const pp *u = &runs[k];
        hk_framework c;
        hk_framework_init(&c);
        c.task = (hk_task)u->task;
        c.site[u->p1] = u->s1;
        c.second_sites = 1;
        c.site2[u->p2] = u->s2;
        if (u->s2b.p > 0) c.site2[u->p2b] = u->s2b;
        c.loss = u->loss, c.weight = 0.7, c.passes = 2, c.task_both = u->task_both, c.detach_second = u->detach;
        HK_TRY(hk_framework_validate(&c));
        hk_gc_report rep;
        int bw = 0;
        HK_TRY(stack_check(&c, 2, GC_ALL, 300 + (unsigned long)k, &rep, &bw));
        hk_check_result one;
        memset(&one, 0, sizeof one);
        hk_check_from_gc(&one, &rep);
        res->cases += one.cases, res->failed += one.failed;
        if (one.worst > res->worst) res->worst = one.worst;
        if (one.failed && !res->detail[0])
            snprintf(res->detail, sizeof res->detail, "per-pass run %zu (%s -> %s): %.400s", k, hk_position_name(u->p1),
                     hk_position_name(u->p2), one.detail);
    }
    return HK_OK;
}

/* ---- the combinations sweep ------------------------------------------
 * A "site" is one valid (position, pattern, rescale) at p = 0.4; the valid
 * ones are enumerated through hk_framework_validate (27: lora 1, input 6,
 * logits 2, weights 4, hidden 8, output 6; the count is derived from the
 * rules in tests/test_framework.c).  Every run goes through encoder blocks
 * forward + backward with fixed masks and checks 16 LoRA coordinates (A_k of
 * the first block, B_v of the last) against FD. */

enum { MAXSITES = 32 };
typedef struct {
    hk_position pos;
    hk_fw_site site;
} site_choice;

static int valid_sites(site_choice *out)
{
    int n = 0;
    for (int pos = 0; pos < HK_POS_COUNT; pos++)
        for (int pat = 0; pat < HK_PAT_COUNT; pat++)
            for (int rs = 0; rs < HK_RESCALE_COUNT; rs++) {
                hk_framework c;
                hk_framework_init(&c);
                c.site[pos] = (hk_fw_site){0.4, (hk_pattern_kind)pat, (hk_rescale)rs};
                if (hk_framework_validate(&c) != HK_OK || n == MAXSITES) continue;
                out[n++] = (site_choice){(hk_position)pos, c.site[pos]};
            }
    hk_error_clear();
    return n;
}

/* Losses valid for the task, HK_LOSS_NONE first: classification none + the
 * four divergences, regression none + mse. */
static int task_losses(hk_task task, int *out)
{
    int n = 0;
    out[n++] = HK_LOSS_NONE;
    for (int l = 0; l < HK_CONS_COUNT; l++)
        if ((l == HK_CONS_MSE) == (task == HK_TASK_REGRESSION)) out[n++] = l;
    return n;
}

/* Sets the compensation: choice bit 0 task_both, bit 1 detach_second;
 * js_eq12 / js_mixture with a clean second pass, as their sources prescribe. */
static void set_loss(hk_framework *c, int loss, int choice)
{
    if (loss == HK_LOSS_NONE) return;
    c->loss = loss, c->weight = 0.7, c->passes = 2;
    c->second_clean = loss == HK_CONS_JS_EQ12 || loss == HK_CONS_JS_MIXTURE;
    c->task_both = choice & 1;
    c->detach_second = (choice >> 1) & 1;
}

typedef struct {
    hk_check_result *res;
    long ran;
    site_choice sites[MAXSITES];
    int ns;
    hk_stack pool[2][2]; /* [task][L-1], allocated on first use */
    int have[2][2];
} sweep;

static hk_framework task_config(int task)
{
    hk_framework c;
    hk_framework_init(&c);
    c.task = (hk_task)task;
    return c;
}

static void sweep_init(sweep *sw, hk_check_result *res)
{
    memset(sw, 0, sizeof *sw);
    sw->res = res;
    sw->ns = valid_sites(sw->sites);
    res->bound = 1.0;
    snprintf(res->unit, sizeof res->unit, "err/tol");
}

/* One configuration through L blocks; a config the validator rejects is a
 * failure (the sweep only builds valid ones). */
static int sweep_run(sweep *sw, const hk_framework *c, long L, gc_mode mode)
{
    HK_REQUIRE(L == 1 || L == 2, HK_EINVAL, "sweep pool holds L = 1 or 2 (got %ld)", L);
    hk_check_result *res = sw->res;
    if (hk_framework_validate(c) != HK_OK) {
        res->failed++;
        snprintf(res->detail, sizeof res->detail, "sweep built an invalid config: %s", hk_error_message());
        hk_error_clear();
        return HK_OK;
    }
    hk_gc_report rep;
    int t = c->task == HK_TASK_REGRESSION;
    if (!sw->have[t][L - 1]) {
        hk_enc_config e = enc_cfg();
        HK_TRY(hk_stack_alloc(&sw->pool[t][L - 1], &e, L, t ? 1 : SK, c));
        sw->have[t][L - 1] = 1;
    }
    HK_TRY(stack_check_on(&sw->pool[t][L - 1], c, mode, 300 + (unsigned long)sw->ran, &rep, NULL));
    sw->ran++;
    res->cases += rep.checked;
    res->failed += rep.failed;
    if (rep.worst_ratio > res->worst) {
        res->worst = rep.worst_ratio;
        char desc[512];
        if (hk_framework_describe(c, desc, sizeof desc)) desc[0] = '\0';
        for (char *q = desc; *q; q++)
            if (*q == '\n') *q = ';';
        int w = snprintf(res->detail, sizeof res->detail, "worst %s[%ld] analytic %.17g fd %.17g at", rep.worst_var,
                         rep.worst_index, rep.worst_analytic, rep.worst_numeric);
        size_t used = w < 0 ? 0 : (size_t)w < sizeof res->detail ? (size_t)w : sizeof res->detail - 1;
        size_t n = strlen(desc), room = sizeof res->detail - used - 1; /* a long config is cut short */
        memcpy(res->detail + used, desc, n < room ? n : room);
        res->detail[used + (n < room ? n : room)] = '\0';
    }
    return HK_OK;
}

/* On error: free the pool, pass the error on. */
#define SWEEP_TRY(sw, expr)                                                                      \
    do {                                                                                         \
        int st_ = (expr);                                                                        \
        if (st_) {                                                                               \
            sweep_expect((sw), -1);                                                              \
            return st_;                                                                          \
        }                                                                                        \
    } while (0)

/* Frees the pool and checks the count of configurations run. */
static int sweep_expect(sweep *sw, long expected)
{
    for (int t = 0; t < 2; t++)
        for (int l = 0; l < 2; l++)
            if (sw->have[t][l]) hk_stack_free(&sw->pool[t][l]);
    if (sw->ran != expected) {
        sw->res->failed++;
        snprintf(sw->res->detail, sizeof sw->res->detail, "ran %ld combinations, expected %ld", sw->ran, expected);
    }
    return HK_OK;
}

/* Every single-position site × every loss valid for the task × all four
 * gradient choices (task_both, detach_second), one encoder block:
 * classification 27 × (1 + 4·4) = 459, regression 27 × (1 + 1·4) = 135. */
static int combos(hk_check_result *res)
{
    sweep sw;
    sweep_init(&sw, res);
    const site_choice *sites = sw.sites;
    int ns = sw.ns, losses[HK_CONS_COUNT + 1];
    for (int task = 0; task < 2; task++) {
        int nl = task_losses((hk_task)task, losses);
        for (int i = 0; i < ns; i++)
            for (int li = 0; li < nl; li++)
                for (int choice = 0; choice < (losses[li] == HK_LOSS_NONE ? 1 : 4); choice++) {
                    hk_framework c = task_config(task);
                    c.site[sites[i].pos] = sites[i].site;
                    set_loss(&c, losses[li], choice);
                    SWEEP_TRY(&sw, sweep_run(&sw, &c, 1, GC_SUBSET));
                }
    }
    return sweep_expect(&sw, 594);
}

/* Every valid pair of sites at two different positions (Σ_{i<j} n_i n_j =
 * 286 per task, minus the 2·2 logits × normalized-weights pairs the validator
 * rejects = 282), each with the next (loss, gradient choice) of a rotation over all of
 * them, so every loss and choice meets many pairs; both tasks: 564. */
static int combos_pairs(hk_check_result *res)
{
    sweep sw;
    sweep_init(&sw, res);
    const site_choice *sites = sw.sites;
    int ns = sw.ns, losses[HK_CONS_COUNT + 1];
    for (int task = 0; task < 2; task++) {
        int nl = task_losses((hk_task)task, losses);
        long k = 0;
        for (int i = 0; i < ns; i++)
            for (int j = i + 1; j < ns; j++) {
                if (sites[i].pos == sites[j].pos) continue;
                hk_framework c = task_config(task);
                c.site[sites[i].pos] = sites[i].site;
                c.site[sites[j].pos] = sites[j].site;
                if (hk_framework_validate(&c) != HK_OK) { /* logits + normalized weights */
                    hk_error_clear();
                    continue;
                }
                set_loss(&c, losses[k % nl], (int)((k / nl) & 3));
                k++;
                SWEEP_TRY(&sw, sweep_run(&sw, &c, 1, GC_SUBSET));
            }
    }
    return sweep_expect(&sw, 564);
}

/* All six positions active at once, through 2 blocks: configuration i takes
 * the (i mod n_pos)-th site of every position, i = 0..7 (8 = the most sites
 * of a position, hidden), so every site occurs; each task, loss rotating. */
static int combos_all(hk_check_result *res)
{
    sweep sw;
    sweep_init(&sw, res);
    const site_choice *sites = sw.sites;
    int ns = sw.ns, losses[HK_CONS_COUNT + 1];
    for (int task = 0; task < 2; task++) {
        int nl = task_losses((hk_task)task, losses);
        for (int i = 0; i < 8; i++) {
            hk_framework c = task_config(task);
            for (int pos = 0; pos < HK_POS_COUNT; pos++) {
                int npos = 0, first = -1;
                for (int s = 0; s < ns; s++)
                    if (sites[s].pos == (hk_position)pos) first = first < 0 ? s : first, npos++;
                c.site[pos] = sites[first + i % npos].site;
            }
            /* normalized DropAttention excludes DropKey (hk_framework_validate):
             * those configs run without the logits site */
            if (c.site[HK_POS_WEIGHTS].rescale == HK_RESCALE_NORMALIZED) c.site[HK_POS_LOGITS].p = 0.0;
            set_loss(&c, losses[(i + 1) % nl], i & 3);
            SWEEP_TRY(&sw, sweep_run(&sw, &c, 2, GC_SUBSET));
        }
    }
    return sweep_expect(&sw, 16);
}

/* The full product: every position off or at any of its valid sites,
 * (1+1)(1+6)(1+2)(1+4)(1+8)(1+6) = 13230 configurations, minus the one with
 * nothing active and the 2·2·(2·7·9·7) = 3528 with DropKey and normalized
 * DropAttention together = 9701, through one encoder block; the task
 * alternates and (loss, gradient choice) rotates over the task's options.
 * Directional FD (GC_DIRECTION) keeps it affordable. */
static int combos_product(hk_check_result *res)
{
    sweep sw;
    sweep_init(&sw, res);
    int first[HK_POS_COUNT], count[HK_POS_COUNT] = {0}, losses[2][HK_CONS_COUNT + 1], nl[2];
    for (int pos = 0; pos < HK_POS_COUNT; pos++) first[pos] = -1;
    for (int i = 0; i < sw.ns; i++) {
        int pos = (int)sw.sites[i].pos;
        if (first[pos] < 0) first[pos] = i;
        count[pos]++;
    }
    for (int task = 0; task < 2; task++) nl[task] = task_losses((hk_task)task, losses[task]);
    long total = 1, k = 0;
    for (int pos = 0; pos < HK_POS_COUNT; pos++) total *= 1 + count[pos];
    for (long code = 1; code < total; code++) {
        int task = (int)(k & 1);
        hk_framework c = task_config(task);
        long rest = code;
        for (int pos = 0; pos < HK_POS_COUNT; pos++) {
            long digit = rest % (1 + count[pos]);
            rest /= 1 + count[pos];
            if (digit) c.site[pos] = sw.sites[first[pos] + digit - 1].site;
        }
        if (hk_framework_validate(&c) != HK_OK) { /* logits + normalized weights */
            hk_error_clear();
            continue;
        }
        long j = k >> 1;
        set_loss(&c, losses[task][j % nl[task]], (int)((j / nl[task]) & 3));
        k++;
        SWEEP_TRY(&sw, sweep_run(&sw, &c, 1, GC_DIRECTION));
    }
    return sweep_expect(&sw, 9701);
}

static const hk_check checks[] = {
    {"gradcheck", "stack.preset.lora", "2 encoder blocks + head, preset lora: all LoRA A,B vs FD", p_lora,
     "Two encoder blocks + head, preset lora: training step matches finite differences"},
    {"gradcheck", "stack.preset.dropkey", "2 blocks, preset dropkey (element, -inf) vs FD", p_dropkey,
     "Two encoder blocks + head, preset dropkey: training step matches finite differences"},
    {"gradcheck", "stack.preset.dropattention", "2 blocks, preset dropattention (NoGrad normalized) vs FD",
     p_dropattention,
     "Two encoder blocks + head, preset dropattention: training step matches finite differences"},
    {"gradcheck", "stack.preset.hiddencut", "2 blocks, preset hiddencut = hiddencut-clean (importance span, clean "
     "pass, mixture JS)", p_hiddencut,
     "Two encoder blocks + head, preset hiddencut (clean second pass): training step matches finite differences"},
    {"gradcheck", "stack.preset.hiddencut-official", "2 blocks, preset hiddencut-official (pass 1 dropout, pass 2 "
     "importance span, CE1 + CE2 + mixture JS, both passes backpropagated)", p_hiddencut_official,
     "Two encoder blocks + head, HiddenCut's official objective: training step matches finite differences"},
    {"gradcheck", "stack.per_pass", "2 blocks, pass 2 with its own sites (second_sites): different attention "
     "positions / NoGrad on one pass only / lora vs input+output / regression, each task_both", per_pass_run,
     "Two passes with different dropout sites: training step matches finite differences"},
    {"gradcheck", "stack.preset.rdrop", "2 blocks, preset rdrop (KL, two dropout passes, CE on both)", p_rdrop,
     "Two encoder blocks + head, preset rdrop: training step matches finite differences"},
    {"gradcheck", "stack.preset.hiddenkey-", "2 blocks, preset hiddenkey- (column DropKey + element HiddenCut)",
     p_hiddenkey_minus,
     "Two encoder blocks + head, preset hiddenkey-: training step matches finite differences"},
    {"gradcheck", "stack.preset.hiddenkey", "2 blocks, preset hiddenkey (+ KL, one branch; 1 backward pass)",
     p_hiddenkey,
     "Two encoder blocks + head, preset hiddenkey: training step matches finite differences"},
    {"gradcheck", "stack.combinations", "all 594 valid single positions x pattern x rescale x loss x gradient "
                                        "choice through an encoder block, forward + backward vs FD", combos,
     "All 594 single-position dropout configurations: training step matches finite differences"},
    {"gradcheck", "stack.combinations.pairs", "all 564 valid pairs of sites at two positions (both tasks), loss and "
                                              "gradient choice rotating, vs FD", combos_pairs,
     "All 564 two-position dropout configurations: training step matches finite differences"},
    {"gradcheck", "stack.combinations.all_positions", "all six positions active at once (16 configs, 2 blocks), "
                                                      "every site occurring, vs FD", combos_all,
     "All six dropping positions at once (16 configurations): training step matches finite differences"},
    {"gradcheck", "stack.combinations.product", "every subset of positions x their valid sites (9701 configs), "
                                                "loss and gradient choice rotating, directional FD", combos_product,
     "Every valid subset of positions (9701 configurations): directional derivative matches FD"},
};

const hk_check *hk_checks_stack(size_t *n)
{
    *n = sizeof checks / sizeof checks[0];
    return checks;
}
