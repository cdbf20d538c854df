/* hkref — finite differences of the framework's loss head and gradient
 * choices, exhaustively: every (position, pattern, rescale) at the positions
 * of a cheap one-layer model × every loss valid for the task × all four
 * (task_both, detach_second) choices — 462 training steps in ~0.1 s.  The
 * same step over real encoder blocks (all positions incl. DropKey and
 * DropAttention, and every preset) is tools/checks/chk_stack.c; this file keeps the
 * full cross product affordable.
 *
 * The cheap model:
 *   xin = cutoff(x)                           input position (B,T,C)
 *   u   = xin W^T + b + s·drop(xin) A^T B^T   hk_lora_forward (ref/lora.h); lora position
 *   h   = hiddencut(u)                        hidden position (the hk_hidden_hook)
 *   rep = drop_out(mean_t h)                  output position; the "last layer's
 *                                             representation" (N,D=C)
 *   out = rep Wc^T + bc                       classifier / regression head (N,K)
 * Trainable: the LoRA factors A (r,C), B (C,r).  Masks for the two passes are
 * sampled independently from fixed seeds and then held fixed. */
#include "checks.h"

#include "ref/error.h"
#include "ref/hiddencut.h"
#include "ref/linear.h"
#include "ref/lora.h"
#include "ref/rng.h"
#include "ref/train.h"
#include "stepcheck.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { FN = 2, FT = 3, FC = 4, FR = 2, FKMAX = 3, NTC = FN * FT * FC };

typedef struct {
    hk_framework cfg;
    long K;
    double x[NTC], W[FC * FC], bW[FC], A[FR * FC], Bm[FC * FR], Wc[FKMAX * FC], bc[FKMAX], s;
    uint8_t mask[HK_POS_COUNT][2][NTC]; /* per position and pass; output uses the first N·C */
    int clean[2];
    double xin[2][NTC], xa[2][FN * FT * FR], u[2][NTC], h[2][NTC], pre[2][FN * FC], rep[2][FN * FC];
    double dA[FR * FC], dB[FC * FR];
    long labels[FN];
    double targets[FN];
} fixture;

/* The site pass `pass` uses at pos (its own sites with cfg.second_sites). */
static const hk_fw_site *fx_site(const fixture *f, hk_position pos, int pass)
{
    return hk_framework_pass_site(&f->cfg, pass, pos);
}

static int site_active(const fixture *f, hk_position pos, int pass)
{
    return fx_site(f, pos, pass)->p > 0.0 && !f->clean[pass];
}

static int site_fwd(fixture *f, hk_position pos, int pass, double *out, const double *in, long B, long T, long C)
{
    if (!site_active(f, pos, pass)) {
        memmove(out, in, sizeof(double) * (size_t)(B * T * C));
        return HK_OK;
    }
    return hk_hiddencut_forward(out, in, f->mask[pos][pass], hk_fw_site_scale(fx_site(f, pos, pass)), B, T, C);
}

static int site_bwd(fixture *f, hk_position pos, int pass, double *din, const double *dout, long B, long T, long C)
{
    if (!site_active(f, pos, pass)) {
        for (long i = 0; i < B * T * C; i++) din[i] += dout[i];
        return HK_OK;
    }
    return hk_hiddencut_backward(din, dout, f->mask[pos][pass], hk_fw_site_scale(fx_site(f, pos, pass)), B, T,
                                 C);
}

static int fx_forward(void *ctx, int pass, int clean, double *out, double *rep)
{
    fixture *f = ctx;
    f->clean[pass] = clean;
    HK_TRY(site_fwd(f, HK_POS_INPUT, pass, f->xin[pass], f->x, FN, FT, FC));
    int ld = site_active(f, HK_POS_LORA, pass);
    HK_TRY(hk_lora_forward(f->u[pass], f->xa[pass], f->xin[pass], f->W, f->bW, f->A, f->Bm,
                           ld ? f->mask[HK_POS_LORA][pass] : NULL, ld ? fx_site(f, HK_POS_LORA, pass)->p : 0.0,
                           &(hk_lora_dims){FN * FT, FC, FC, FR, FR, f->s}));
    HK_TRY(site_fwd(f, HK_POS_HIDDEN, pass, f->h[pass], f->u[pass], FN, FT, FC));
    for (int n = 0; n < FN; n++)
        for (int c = 0; c < FC; c++) {
            double m = 0;
            for (int t = 0; t < FT; t++) m += f->h[pass][(n * FT + t) * FC + c];
            f->pre[pass][n * FC + c] = m / FT;
        }
    HK_TRY(site_fwd(f, HK_POS_OUTPUT, pass, f->rep[pass], f->pre[pass], FN, 1, FC));
    memcpy(rep, f->rep[pass], sizeof f->rep[pass]);
    return hk_linear_forward(out, f->rep[pass], f->Wc, f->bc, FN, FC, f->K);
}

static int fx_backward(void *ctx, int pass, const double *dout, const double *drep)
{
    fixture *f = ctx;
    double drp[FN * FC], dpre[FN * FC] = {0}, dh[NTC], du[NTC] = {0};
    memcpy(drp, drep, sizeof drp);
    HK_TRY(hk_linear_backward(drp, NULL, NULL, dout, f->rep[pass], f->Wc, FN, FC, f->K));
    HK_TRY(site_bwd(f, HK_POS_OUTPUT, pass, dpre, drp, FN, 1, FC));
    for (int n = 0; n < FN; n++)
        for (int t = 0; t < FT; t++)
            for (int c = 0; c < FC; c++) dh[(n * FT + t) * FC + c] = dpre[n * FC + c] / FT;
    HK_TRY(site_bwd(f, HK_POS_HIDDEN, pass, du, dh, FN, FT, FC));
    int ld = site_active(f, HK_POS_LORA, pass);
    return hk_lora_backward(NULL, f->dA, f->dB, du, f->xin[pass], f->xa[pass], f->W, f->A, f->Bm,
                            ld ? f->mask[HK_POS_LORA][pass] : NULL, ld ? fx_site(f, HK_POS_LORA, pass)->p : 0.0,
                            &(hk_lora_dims){FN * FT, FC, FC, FR, FR, f->s});
}

static int sample_site(fixture *f, hk_position pos, int pass, gsl_rng *r)
{
    const hk_fw_site *s = fx_site(f, pos, pass);
    long T = pos == HK_POS_OUTPUT ? 1 : FT;
    if (s->pattern == HK_PAT_SPAN_IMPORTANCE) {
        const double imp[FN * FT] = {0.2, 1.5, 0.7, 0.9, 0.1, 2.0};
        return hk_hiddencut_mask_sample_importance(f->mask[pos][pass], imp, s->p, 0.4, FN, T, FC, r);
    }
    return hk_hiddencut_mask_sample(f->mask[pos][pass], (hk_hc_pattern)s->pattern, s->p, FN, T, FC, r);
}

/* Inputs, parameters (B nonzero so dA is not trivially 0) and masks. p is
 * raised to 0.4 at active sites so that a 2·3·4 mask drops something. */
static int fx_init(fixture *f, const hk_framework *cfg, unsigned long seed)
{
    memset(f, 0, sizeof *f);
    f->cfg = *cfg;
    for (int pos = 0; pos < HK_POS_COUNT; pos++) {
        if (f->cfg.site[pos].p > 0.0) f->cfg.site[pos].p = 0.4;
        if (f->cfg.site2[pos].p > 0.0) f->cfg.site2[pos].p = 0.4;
    }
    f->K = cfg->task == HK_TASK_REGRESSION ? 1 : FKMAX;
    f->s = 2.0; /* alpha / r */
    gsl_rng *r = hk_rng_new(seed);
    if (!r) return HK_ENOMEM;
    hk_rng_fill_uniform(f->x, NTC, -1.5, 1.5, r);
    hk_rng_fill_uniform(f->W, FC * FC, -0.8, 0.8, r);
    hk_rng_fill_uniform(f->bW, FC, -0.5, 0.5, r);
    hk_rng_fill_uniform(f->A, FR * FC, -0.5, 0.5, r);
    hk_rng_fill_uniform(f->Bm, FC * FR, -0.5, 0.5, r);
    hk_rng_fill_uniform(f->Wc, FKMAX * FC, -1.2, 1.2, r);
    hk_rng_fill_uniform(f->bc, FKMAX, -0.3, 0.3, r);
    hk_rng_fill_uniform(f->targets, FN, -1.0, 1.0, r);
    f->labels[0] = 2, f->labels[1] = 0;
    int st = HK_OK;
    for (int pos = 0; pos < HK_POS_COUNT && !st; pos++)
        for (int pass = 0; pass < 2 && !st; pass++)
            if (fx_site(f, (hk_position)pos, pass)->p > 0.0) st = sample_site(f, (hk_position)pos, pass, r);
    hk_rng_free(r);
    return st;
}

static hk_model fx_model(fixture *f) { return (hk_model){f, FN, f->K, FC, fx_forward, fx_backward}; }

static void fx_zero(void *p)
{
    fixture *f = p;
    memset(f->dA, 0, sizeof f->dA);
    memset(f->dB, 0, sizeof f->dB);
}

/* One training step + FD of dA, dB (tools/stepcheck.h). */
static int fx_check(const hk_framework *cfg, unsigned long seed, hk_gc_report *rep, int *bw_passes)
{
    static fixture f; /* ~6 KB; static keeps the stack small under ASan */
    HK_TRY(fx_init(&f, cfg, seed));
    hk_stepcheck sc = {&f.cfg, fx_model(&f), f.labels, f.targets, fx_zero, &f, NULL, NULL};
    hk_gc_var v[] = {{"lora.A", f.A, f.dA, FR * FC}, {"lora.B", f.Bm, f.dB, FC * FR}};
    return hk_stepcheck_run(&sc, v, 2, rep, bw_passes);
}

static void merge(hk_check_result *res, const hk_gc_report *rep, const char *label)
{
    res->cases += rep->checked;
    res->failed += rep->failed;
    if (rep->worst_ratio > res->worst) {
        res->worst = rep->worst_ratio;
        snprintf(res->detail, sizeof res->detail,
                 "worst %s: %s[%ld] analytic %.17g fd %.17g err %.3g tol %.3g", label, rep->worst_var,
                 rep->worst_index, rep->worst_analytic, rep->worst_numeric, rep->worst_err, rep->worst_tol);
    }
}

/* Every valid combination at the cheap model's positions: each valid
 * single-position mask configuration (lora 1, input 6, hidden 8, output 6)
 * × every compensation (no loss, one pass; or each loss valid for the task ×
 * task_both × detach_second, two passes; js_eq12 and js_mixture with a clean
 * second pass as their sources prescribe, the others with two dropout passes),
 * for classification and regression; invalid combinations are skipped (the
 * validator's messages are tested in tests/test_framework.c). */
static int combos(hk_check_result *res)
{
    static const hk_position fx_pos[4] = {HK_POS_LORA, HK_POS_INPUT, HK_POS_HIDDEN, HK_POS_OUTPUT};
    long ran = 0;
    res->bound = 1.0;
    snprintf(res->unit, sizeof res->unit, "err/tol");
    for (int task = 0; task < 2; task++)
        for (int ip = 0; ip < 4; ip++)
            for (int pat = 0; pat < HK_PAT_COUNT; pat++)
                for (int rs = 0; rs < HK_RESCALE_COUNT; rs++)
                    for (int loss = HK_LOSS_NONE; loss < HK_CONS_COUNT; loss++)
                        for (int choice = 0; choice < (loss == HK_LOSS_NONE ? 1 : 4); choice++) {
                            hk_framework c;
                            hk_framework_init(&c);
                            c.task = (hk_task)task;
                            c.site[fx_pos[ip]] = (hk_fw_site){0.1, (hk_pattern_kind)pat, (hk_rescale)rs};
                            if (loss != HK_LOSS_NONE) {
                                c.loss = loss;
                                c.weight = 0.7;
                                c.passes = 2;
                                c.second_clean = loss == HK_CONS_JS_EQ12 || loss == HK_CONS_JS_MIXTURE;
                                c.task_both = choice & 1;
                                c.detach_second = (choice >> 1) & 1;
                            }
                            if (hk_framework_validate(&c) != HK_OK) continue;
                            hk_error_clear();
                            hk_gc_report rep;
                            HK_TRY(fx_check(&c, 100 + (unsigned long)ran, &rep, NULL));
                            char label[128];
                            snprintf(label, sizeof label, "%s %s/%s/%s loss=%s both=%d detach=%d",
                                     task ? "regression" : "classification", hk_position_name(fx_pos[ip]),
                                     hk_pattern_kind_name((hk_pattern_kind)pat), hk_rescale_name((hk_rescale)rs),
                                     loss == HK_LOSS_NONE ? "none" : hk_consistency_name((hk_consistency)loss),
                                     c.task_both, c.detach_second);
                            merge(res, &rep, label);
                            ran++;
                        }
    /* 21 mask configurations × (1 + 4 losses × 4 choices) classification
     * + 21 × (1 + 1 × 4) regression = 357 + 105: a validator change that
     * silently drops combinations shows up here. */
    if (ran != 462) {
        res->failed++;
        snprintf(res->detail, sizeof res->detail, "ran %ld combinations, expected 462", ran);
    }
    return HK_OK;
}

/* Per-pass dropout (hk_framework.second_sites): pass 2 with its own sites.
 * Two families at the cheap model's positions: pass 1 each valid single site
 * or none, pass 2 the importance span (HiddenCut's cut pass); and pass 1
 * element dropout on the hidden position (HiddenCut's standard-dropout pass),
 * pass 2 each valid single site.  × every loss valid with two dropout passes:
 * kl_bidir with task_both 0/1/2 (pass 1, mean, sum) × detach_second 0/1,
 * js_mixture and js_textbook with HiddenCut's choice (sum, nothing
 * detached); regression mse with task_both 0/1/2, not detached — the gradient
 * choices are loss-independent in ref/train.c, so the full product of
 * train.combinations is not repeated (gate time). */
static int per_pass(hk_check_result *res)
{
    static const hk_position fx_pos[4] = {HK_POS_LORA, HK_POS_INPUT, HK_POS_HIDDEN, HK_POS_OUTPUT};
    const hk_fw_site cut = {0.1, HK_PAT_SPAN_IMPORTANCE, HK_RESCALE_NONE}, drop = {0.1, HK_PAT_ELEMENT,
                                                                                   HK_RESCALE_INVERTED};
    long ran = 0;
    res->bound = 1.0;
    snprintf(res->unit, sizeof res->unit, "err/tol");
    for (int task = 0; task < 2; task++)
        for (int fam = 0; fam < 2; fam++)
            for (int ip = -1; ip < 4; ip++)
                for (int pat = 0; pat < HK_PAT_COUNT; pat++)
                    for (int rs = 0; rs < HK_RESCALE_COUNT; rs++)
                        for (int loss = 0; loss < HK_CONS_COUNT; loss++)
                            for (int choice = 0; choice < 6; choice++) {
                                if (ip < 0 && (fam == 1 || pat || rs)) continue; /* "none": pass 1 of family 0 */
                                if ((loss == HK_CONS_JS_MIXTURE || loss == HK_CONS_JS_TEXTBOOK) && choice != 2) continue;
                                if (loss == HK_CONS_MSE && choice >= 3) continue;
                                hk_framework c;
                                hk_framework_init(&c);
                                c.task = (hk_task)task;
                                c.second_sites = 1;
                                hk_fw_site pick = {0.1, (hk_pattern_kind)pat, (hk_rescale)rs};
                                if (fam == 0) {
                                    if (ip >= 0) c.site[fx_pos[ip]] = pick;
                                    c.site2[HK_POS_HIDDEN] = cut;
                                } else {
                                    c.site[HK_POS_HIDDEN] = drop;
                                    c.site2[fx_pos[ip]] = pick;
                                }
                                c.loss = loss, c.weight = 0.7, c.passes = 2;
                                c.task_both = choice % 3;
                                c.detach_second = choice / 3;
                                if (hk_framework_validate(&c) != HK_OK) continue;
                                hk_error_clear();
                                hk_gc_report rep;
                                HK_TRY(fx_check(&c, 5000 + (unsigned long)ran, &rep, NULL));
                                char label[160];
                                snprintf(label, sizeof label, "%s family %d %s/%s/%s loss=%s both=%d detach=%d",
                                         task ? "regression" : "classification", fam,
                                         ip < 0 ? "none" : hk_position_name(fx_pos[ip]),
                                         hk_pattern_kind_name((hk_pattern_kind)pat), hk_rescale_name((hk_rescale)rs),
                                         hk_consistency_name((hk_consistency)loss), c.task_both, c.detach_second);
                                merge(res, &rep, label);
                                ran++;
                            }
    /* (22 + 21) configurations (21 valid sites at these positions, as in
     * train.combinations, + none) × (6 kl_bidir + 1 js_mixture + 1 js_textbook
     * + 3 mse) choices; js_eq12 needs a clean pass 2 and is excluded. */
    if (ran != 43 * 11) {
        res->failed++;
        snprintf(res->detail, sizeof res->detail, "ran %ld per-pass combinations, expected %d", ran, 43 * 11);
    }
    return HK_OK;
}

static const hk_check checks[] = {
    {"gradcheck", "train.combinations",
     "all 462 valid combinations at lora/input/hidden/output x losses x gradient choices, dA dB vs FD", combos,
     "All 462 combinations on a one-layer model: training step matches finite differences"},
    {"gradcheck", "train.per_pass",
     "pass 2 with its own sites (second_sites): 473 steps, HiddenCut's cut pass and standard-dropout pass against "
     "every site, x losses x task_both 0/1/2 (x detach for kl_bidir), dA dB vs FD",
     per_pass, "Two passes with different dropout sites on a one-layer model: training step matches finite differences"},
};

const hk_check *hk_checks_train(size_t *n)
{
    *n = sizeof checks / sizeof checks[0];
    return checks;
}
