/* hkref — plain scalar double reference: encoder stack + head as an hk_model
 * (see stack.h).  Storage row-major; per-block arrays are consecutive blocks
 * of the documented size. */
#include "stack.h"

#include "error.h"
#include "linear.h"
#include "rng.h"
#include "stackmask.h"

#include <stdlib.h>
#include <string.h>

static void *zalloc(long n, size_t size) { return n > 0 ? calloc((size_t)n, size) : NULL; }

void hk_stack_free(hk_stack *s)
{
    if (!s) return;
    for (long l = 0; s->P && l < s->L; l++) hk_enc_params_free(&s->P[l]);
    for (long l = 0; s->G && l < s->L; l++) hk_enc_params_free(&s->G[l]);
    free(s->P), free(s->G), free(s->Wc), free(s->bc), free(s->x), free(s->labels), free(s->targets);
    for (int p = 0; p < 2; p++) {
        for (long l = 0; s->cache[p] && l < s->L; l++) hk_enc_cache_free(&s->cache[p][l]);
        free(s->cache[p]);
        free(s->m_input[p]), free(s->m_lora[p]), free(s->m_logits[p]), free(s->m_weights[p]);
        free(s->m_hidden[p]), free(s->m_output[p]), free(s->act[p]), free(s->pooled[p]), free(s->rep[p]);
        free(s->dk[p]), free(s->da[p]), free(s->pair[p]), free(s->hc[p]);
    }
    free(s->dy), free(s->dx);
    memset(s, 0, sizeof *s);
}

int hk_stack_alloc(hk_stack *s, const hk_enc_config *enc, long L, long K, const hk_framework *fw)
{
    HK_REQUIRE_PTR(s);
    HK_REQUIRE_PTR(enc);
    HK_REQUIRE_PTR(fw);
    memset(s, 0, sizeof *s);
    HK_REQUIRE(L > 0 && K > 0, HK_EINVAL, "stack L=%ld blocks and K=%ld outputs must be positive", L, K);
    HK_TRY(hk_framework_validate(fw));
    HK_REQUIRE(fw->task != HK_TASK_REGRESSION || K == 1, HK_ESHAPE, "regression head needs K = 1 (got K=%ld)", K);
    hk_enc_config e = *enc;
    e.attn.lora_p = 0.0;
    HK_TRY(hk_enc_config_check(&e));
    if (fw->site[HK_POS_LORA].p > 0.0)
        HK_REQUIRE(e.attn.lora != 0, HK_EDOM, "framework site[lora] is active but enc.attn.lora adapts no projection");
    s->enc = e, s->L = L, s->K = K, s->fw = *fw;
    const long B = e.attn.B, T = e.attn.T, C = e.attn.C, NH = e.attn.NH, BTC = B * T * C, LOG = B * NH * T * T;
    int ok = (s->P = zalloc(L, sizeof *s->P)) && (s->G = zalloc(L, sizeof *s->G)) && (s->Wc = zalloc(K * C, 8)) &&
             (s->bc = zalloc(K, 8)) && (s->x = zalloc(BTC, 8)) && (s->labels = zalloc(B, sizeof(long))) &&
             (s->targets = zalloc(B, 8)) && (s->dy = zalloc(BTC, 8)) && (s->dx = zalloc(BTC, 8));
    for (int p = 0; p < 2 && ok; p++)
        ok = (s->cache[p] = zalloc(L, sizeof(hk_enc_cache))) && (s->m_input[p] = zalloc(BTC, 1)) &&
             (s->m_lora[p] = zalloc(L * BTC, 1)) && (s->m_logits[p] = zalloc(L * LOG, 1)) &&
             (s->m_weights[p] = zalloc(L * LOG, 1)) && (s->m_hidden[p] = zalloc(L * BTC, 1)) &&
             (s->m_output[p] = zalloc(B * C, 1)) && (s->act[p] = zalloc((L + 1) * BTC, 8)) &&
             (s->pooled[p] = zalloc(B * C, 8)) && (s->rep[p] = zalloc(B * C, 8)) &&
             (s->dk[p] = zalloc(L, sizeof(hk_dropkey_config))) && (s->da[p] = zalloc(L, sizeof(hk_dropattn_config))) &&
             (s->pair[p] = zalloc(L, sizeof(hk_stack_attn_pair))) && (s->hc[p] = zalloc(L, sizeof(hk_hiddencut_ctx)));
    if (!ok) {
        hk_stack_free(s);
        HK_ERROR(HK_ENOMEM, "stack allocation failed (L=%ld, B=%ld, T=%ld, C=%ld)", L, B, T, C);
    }
    int st = HK_OK;
    for (long l = 0; l < L && !st; l++) {
        st = hk_enc_params_alloc(&s->P[l], &e, 1);
        if (!st) st = hk_enc_params_alloc(&s->G[l], &e, 0);
        for (int p = 0; p < 2 && !st; p++) st = hk_enc_cache_alloc(&s->cache[p][l], &e);
    }
    if (st) hk_stack_free(s);
    return st;
}

static int fill(double *x, long n, double lo, double hi, gsl_rng *r) { return x ? hk_rng_fill_uniform(x, n, lo, hi, r) : HK_OK; }

int hk_stack_init(hk_stack *s, gsl_rng *r)
{
    HK_REQUIRE_PTR(s);
    HK_REQUIRE_PTR(r);
    const long B = s->enc.attn.B, C = s->enc.attn.C, F = s->enc.F, R = s->enc.attn.r;
    const long ldB = s->enc.attn.ldB ? s->enc.attn.ldB : R;
    for (long l = 0; l < s->L; l++) {
        hk_enc_params *P = &s->P[l];
        for (int i = 0; i < HK_ATTN_NPROJ; i++) {
            HK_TRY(fill(P->attn.W[i], C * C, -0.6, 0.6, r));
            HK_TRY(fill(P->attn.b[i], C, -0.2, 0.2, r));
            HK_TRY(fill(P->attn.A[i], R * C, -0.5, 0.5, r));
            HK_TRY(fill(P->attn.B[i], C * ldB, -0.5, 0.5, r));
        }
        HK_TRY(fill(P->ln1_w, C, 0.8, 1.2, r));
        HK_TRY(fill(P->ln1_b, C, -0.1, 0.1, r));
        HK_TRY(fill(P->W1, F * C, -0.6, 0.6, r));
        HK_TRY(fill(P->b1, F, -0.2, 0.2, r));
        HK_TRY(fill(P->W2, C * F, -0.6, 0.6, r));
        HK_TRY(fill(P->b2, C, -0.2, 0.2, r));
        HK_TRY(fill(P->ln2_w, C, 0.8, 1.2, r));
        HK_TRY(fill(P->ln2_b, C, -0.1, 0.1, r));
    }
    HK_TRY(fill(s->Wc, s->K * C, -1.2, 1.2, r));
    HK_TRY(fill(s->bc, s->K, -0.3, 0.3, r));
    HK_TRY(fill(s->x, B * s->enc.attn.T * C, -1.5, 1.5, r));
    HK_TRY(fill(s->targets, B, -1.0, 1.0, r));
    for (long b = 0; b < B; b++) HK_TRY(hk_rng_uniform_int(&s->labels[b], 0, s->K - 1, r));
    return HK_OK;
}

static int active(const hk_stack *s, hk_position pos, int pass) { return s->fw.site[pos].p > 0.0 && !s->clean[pass]; }

/* Input / hidden / output apply on (B,T,C)-shaped data, or copy when inactive. */
static int site_fwd(hk_stack *s, hk_position pos, int pass, const uint8_t *mask, double *out, const double *in,
                    long B, long T, long C)
{
    if (!active(s, pos, pass)) {
        memmove(out, in, sizeof(double) * (size_t)(B * T * C));
        return HK_OK;
    }
    return hk_hiddencut_forward(out, in, mask, hk_framework_scale(&s->fw, pos), B, T, C);
}

/* ---- hooks of block l in pass p (contexts live in the stack) ---------- */

static int pair_lf(void *c, double *o, const double *i, long B, long NH, long T)
{
    hk_stack_attn_pair *p = c;
    return p->dk.logits_forward(p->dk.ctx, o, i, B, NH, T);
}
static int pair_lb(void *c, double *d, const double *o, const double *i, long B, long NH, long T)
{
    hk_stack_attn_pair *p = c;
    return p->dk.logits_backward(p->dk.ctx, d, o, i, B, NH, T);
}
static int pair_wf(void *c, double *o, const double *i, long B, long NH, long T)
{
    hk_stack_attn_pair *p = c;
    return p->da.weights_forward(p->da.ctx, o, i, B, NH, T);
}
static int pair_wb(void *c, double *d, const double *o, const double *wi, const double *wo, long B, long NH, long T)
{
    hk_stack_attn_pair *p = c;
    return p->da.weights_backward(p->da.ctx, d, o, wi, wo, B, NH, T);
}

typedef struct {
    hk_enc_config cfg;
    const uint8_t *lora[HK_ATTN_NPROJ];
    int use_lora;
    hk_attn_hooks ah;
    int use_ah;
    hk_hidden_hook hh;
    int use_hh;
} block_setup;

/* weights: hk_stack_override's replacement hooks, or NULL. */
static int setup_block(hk_stack *s, const hk_attn_hooks *weights, int pass, long l, block_setup *b)
{
    const long B = s->enc.attn.B, T = s->enc.attn.T, C = s->enc.attn.C, NH = s->enc.attn.NH;
    const long BTC = B * T * C, LOG = B * NH * T * T;
    memset(b, 0, sizeof *b);
    b->cfg = s->enc;
    if ((b->use_lora = active(s, HK_POS_LORA, pass))) {
        b->cfg.attn.lora_p = s->fw.site[HK_POS_LORA].p;
        for (int i = 0; i < HK_ATTN_NPROJ; i++) b->lora[i] = s->m_lora[pass] + l * BTC;
    }
    hk_stack_attn_pair *pr = &s->pair[pass][l];
    memset(pr, 0, sizeof *pr);
    if (active(s, HK_POS_LOGITS, pass)) {
        hk_dropkey_config *dk = &s->dk[pass][l];
        *dk = (hk_dropkey_config){s->m_logits[pass] + l * LOG, NULL, HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP};
        HK_TRY(hk_dropkey_hooks(&pr->dk, dk));
        b->ah.logits_forward = pair_lf, b->ah.logits_backward = pair_lb, b->use_ah = 1;
    }
    if (active(s, HK_POS_WEIGHTS, pass)) {
        const hk_fw_site *st = &s->fw.site[HK_POS_WEIGHTS];
        hk_dropattn_config *da = &s->da[pass][l];
        *da = (hk_dropattn_config){s->m_weights[pass] + l * LOG, NULL,
                                   st->rescale == HK_RESCALE_NORMALIZED ? HK_DROPATTN_NORM_NOGRAD : HK_DROPATTN_CLASSIC,
                                   st->p, HK_ALLMASK_KEEP};
        HK_TRY(hk_dropattn_hooks(&pr->da, da));
        if (weights) pr->da = weights[pass * s->L + l];
        b->ah.weights_forward = pair_wf, b->ah.weights_backward = pair_wb, b->use_ah = 1;
    }
    b->ah.ctx = pr;
    if ((b->use_hh = active(s, HK_POS_HIDDEN, pass))) {
        s->hc[pass][l] = (hk_hiddencut_ctx){s->m_hidden[pass] + l * BTC, hk_framework_scale(&s->fw, HK_POS_HIDDEN)};
        HK_TRY(hk_hiddencut_hook(&b->hh, &s->hc[pass][l]));
    }
    return HK_OK;
}

static int run_forward(hk_stack *s, const hk_attn_hooks *weights, int pass, int clean, double *out, double *rep)
{
    const long B = s->enc.attn.B, T = s->enc.attn.T, C = s->enc.attn.C, BTC = B * T * C;
    s->clean[pass] = clean;
    HK_TRY(site_fwd(s, HK_POS_INPUT, pass, s->m_input[pass], s->act[pass], s->x, B, T, C));
    for (long l = 0; l < s->L; l++) {
        block_setup b;
        HK_TRY(setup_block(s, weights, pass, l, &b));
        HK_TRY(hk_enc_forward(s->act[pass] + (l + 1) * BTC, &s->cache[pass][l], s->act[pass] + l * BTC, &s->P[l],
                              &b.cfg, NULL, b.use_lora ? b.lora : NULL, b.use_ah ? &b.ah : NULL,
                              b.use_hh ? &b.hh : NULL));
    }
    const double *last = s->act[pass] + s->L * BTC;
    for (long b = 0; b < B; b++) memcpy(s->pooled[pass] + b * C, last + b * T * C, sizeof(double) * (size_t)C);
    HK_TRY(site_fwd(s, HK_POS_OUTPUT, pass, s->m_output[pass], s->rep[pass], s->pooled[pass], B, 1, C));
    memcpy(rep, s->rep[pass], sizeof(double) * (size_t)(B * C));
    return hk_linear_forward(out, s->rep[pass], s->Wc, s->bc, B, C, s->K);
}

static int run_backward(hk_stack *s, const hk_attn_hooks *weights, int pass, const double *dout, const double *drep)
{
    const long B = s->enc.attn.B, T = s->enc.attn.T, C = s->enc.attn.C, BTC = B * T * C;
    double *drp = s->dx; /* (B,C) prefix of the scratch */
    memcpy(drp, drep, sizeof(double) * (size_t)(B * C));
    HK_TRY(hk_linear_backward(drp, NULL, NULL, dout, s->rep[pass], s->Wc, B, C, s->K));
    memset(s->dy, 0, sizeof(double) * (size_t)BTC);
    for (long b = 0; b < B; b++) /* output site backward, written into token 0 of dy */
        for (long c = 0; c < C; c++) {
            long i = b * C + c;
            double g = drp[i];
            if (active(s, HK_POS_OUTPUT, pass))
                g = s->m_output[pass][i] ? 0.0 : g * hk_framework_scale(&s->fw, HK_POS_OUTPUT);
            s->dy[b * T * C + c] = g;
        }
    for (long l = s->L - 1; l >= 0; l--) {
        block_setup b;
        HK_TRY(setup_block(s, weights, pass, l, &b));
        memset(s->dx, 0, sizeof(double) * (size_t)BTC);
        HK_TRY(hk_enc_backward(s->dx, &s->G[l], s->dy, &s->cache[pass][l], s->act[pass] + l * BTC, &s->P[l], &b.cfg,
                               NULL, b.use_lora ? b.lora : NULL, b.use_ah ? &b.ah : NULL, b.use_hh ? &b.hh : NULL));
        memcpy(s->dy, s->dx, sizeof(double) * (size_t)BTC);
    }
    return HK_OK; /* the input position has no parameters before it */
}

static int stack_forward(void *ctx, int pass, int clean, double *out, double *rep)
{
    return run_forward(ctx, NULL, pass, clean, out, rep);
}

static int stack_backward(void *ctx, int pass, const double *dout, const double *drep)
{
    return run_backward(ctx, NULL, pass, dout, drep);
}

static int override_forward(void *ctx, int pass, int clean, double *out, double *rep)
{
    hk_stack_override *o = ctx;
    return run_forward(o->s, o->weights, pass, clean, out, rep);
}

static int override_backward(void *ctx, int pass, const double *dout, const double *drep)
{
    hk_stack_override *o = ctx;
    return run_backward(o->s, o->weights, pass, dout, drep);
}

int hk_stack_sample_masks(hk_stack *s, int pass, gsl_rng *r)
{
    HK_REQUIRE_PTR(s);
    HK_REQUIRE(pass == 0 || pass == 1, HK_EINVAL, "pass must be 0 or 1 (got %d)", pass);
    const long B = s->enc.attn.B, T = s->enc.attn.T, C = s->enc.attn.C, NH = s->enc.attn.NH;
    double *imp = NULL;
    if (hk_stackmask_needs_importance(&s->fw)) {
        /* importance from a clean forward of pass slot `pass` (overwritten later) */
        double *out = calloc((size_t)(B * s->K), sizeof(double)), *rep = calloc((size_t)(B * C), sizeof(double));
        imp = calloc((size_t)(s->L * B * T), sizeof(double));
        int st = out && rep && imp ? stack_forward(s, pass, 1, out, rep) : HK_ENOMEM;
        for (long l = 0; l < s->L && !st; l++)
            st = hk_hiddencut_importance(imp + l * B * T, s->cache[pass][l].attn.w_pre, B, NH, T);
        free(out), free(rep);
        if (st) {
            free(imp);
            if (st == HK_ENOMEM) HK_ERROR(HK_ENOMEM, "importance scratch allocation failed");
            return st;
        }
    }
    const hk_stackmask m = {s->m_input[pass], s->m_output[pass], s->m_lora[pass],
                            s->m_logits[pass], s->m_weights[pass], s->m_hidden[pass]};
    const hk_stackmask_shape sh = {s->L, B, T, C, NH};
    int st = hk_stackmask_sample(&m, &s->fw, &sh, NULL, imp, hk_mask_bernoulli, r);
    free(imp);
    return st;
}

int hk_stack_model(hk_stack *s, hk_model *m)
{
    HK_REQUIRE_PTR(s);
    HK_REQUIRE_PTR(m);
    *m = (hk_model){s, s->enc.attn.B, s->K, s->enc.attn.C, stack_forward, stack_backward};
    return HK_OK;
}

int hk_stack_model_override(hk_stack_override *o, hk_model *m)
{
    HK_REQUIRE_PTR(o);
    HK_REQUIRE_PTR(o->s);
    HK_REQUIRE_PTR(m);
    *m = (hk_model){o, o->s->enc.attn.B, o->s->K, o->s->enc.attn.C, override_forward, override_backward};
    return HK_OK;
}
