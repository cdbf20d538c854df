/* hkref — the f32 fast path: encoder stack + head as an hk_model (see
 * fast_stack.h).  Mirrors ref/stack.c step for step; per-block arrays are
 * consecutive blocks of the documented size. */
#include "fast_stack.h"

#include "fast_rng.h"

#include "ref/error.h"
#include "ref/hiddencut.h"
#include "ref/rng.h"
#include "ref/stackmask.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

static void *zalloc(long n, size_t size) { return n > 0 ? calloc((size_t)n, size) : NULL; }

/* The arrays of a params struct with their lengths (0: absent); trainable = the LoRA factors. */
enum { FP_N = 24 };
static void plist(float **slot[FP_N], long len[FP_N], int trainable[FP_N], hk_fast_params *p, const hk_fast_config *c)
{
    const long C = c->C, F = c->F, rC = c->r * C, CB = C * (c->ldB ? c->ldB : c->r);
    float **s[FP_N] = {&p->Wq, &p->bq, &p->Wk, &p->bk, &p->Wv, &p->bv, &p->Wo, &p->bo, &p->Ak, &p->Bk,
                       &p->Av, &p->Bv, &p->ln1_w, &p->ln1_b, &p->W1, &p->b1, &p->W2, &p->b2, &p->ln2_w, &p->ln2_b,
                       &p->Aq, &p->Bq, &p->Ao, &p->Bo};
    const long l[FP_N] = {C * C, C, C * C, C, C * C, C, C * C, C, rC, CB, rC, CB, C, C, F * C, F, C * F, C, C, C,
                          rC, CB, rC, CB};
    /* the LoRA factors of k, v, and with lora_qo of q, o; q's and o's exist only then */
    for (int j = 0; j < FP_N; j++)
        slot[j] = s[j], len[j] = j < 20 || c->lora_qo ? l[j] : 0,
        trainable[j] = (j >= 8 && j < 12) || (j >= 20 && c->lora_qo);
}

static void params_free(hk_fast_params *p, const hk_fast_config *c)
{
    float **slot[FP_N];
    long len[FP_N];
    int tr[FP_N];
    plist(slot, len, tr, p, c);
    for (int j = 0; j < FP_N; j++) free(*slot[j]), *slot[j] = NULL;
}

static int params_alloc(hk_fast_params *p, const hk_fast_config *c, int all)
{
    float **slot[FP_N];
    long len[FP_N];
    int tr[FP_N];
    memset(p, 0, sizeof *p);
    plist(slot, len, tr, p, c);
    for (int j = 0; j < FP_N; j++)
        if ((all || tr[j]) && len[j] > 0 && !(*slot[j] = zalloc(len[j], sizeof(float)))) return HK_ENOMEM;
    return HK_OK;
}

void hk_fast_stack_free(hk_fast_stack *s)
{
    if (!s) return;
    for (long l = 0; s->P && l < s->L; l++) params_free(&s->P[l], &s->cfg);
    for (long l = 0; s->G && l < s->L; l++) params_free(&s->G[l], &s->cfg);
    free(s->P), free(s->G), free(s->Wc), free(s->bc), free(s->gWc), free(s->gbc), free(s->x), free(s->dx);
    free(s->pad);
    for (int p = 0; p < 2; p++) {
        for (long l = 0; s->cache[p] && l < s->L; l++) hk_fast_cache_free(&s->cache[p][l]);
        free(s->cache[p]);
        free(s->m_input[p]), free(s->m_lora[p]), free(s->m_logits[p]), free(s->m_weights[p]);
        free(s->m_hidden[p]), free(s->m_output[p]), free(s->act[p]), free(s->pooled[p]), free(s->rep[p]);
    }
    free(s->dy), free(s->drp), free(s->dout), free(s->snap0);
    memset(s, 0, sizeof *s);
}

int hk_fast_stack_alloc(hk_fast_stack *s, const hk_fast_config *cfg, long L, long K, const hk_framework *fw, int full,
                        int with_pad)
{
    HK_REQUIRE_PTR(s);
    HK_REQUIRE_PTR(fw);
    memset(s, 0, sizeof *s);
    HK_TRY(hk_fast_config_check(cfg));
    HK_REQUIRE(L > 0 && L <= 64 && K > 0 && K <= 1L << 16, HK_EINVAL,
               "fast stack L=%ld blocks and K=%ld outputs must be in [1,64] and [1,65536]", L, K);
    HK_TRY(hk_framework_validate(fw));
    HK_REQUIRE(fw->task != HK_TASK_REGRESSION || K == 1, HK_ESHAPE, "regression head needs K = 1 (got K=%ld)", K);
    s->cfg = *cfg, s->L = L, s->K = K, s->fw = *fw, s->full = full;
    const long B = cfg->B, T = cfg->T, C = cfg->C, NH = cfg->NH, BTC = B * T * C, LOG = B * NH * T * T;
    int ok = (s->P = zalloc(L, sizeof *s->P)) && (s->G = zalloc(L, sizeof *s->G)) && (s->Wc = zalloc(K * C, 4)) &&
             (s->bc = zalloc(K, 4)) && (s->x = zalloc(BTC, 4)) && (s->dy = zalloc(BTC, 4)) &&
             (s->drp = zalloc(B * C, 4)) && (s->dout = zalloc(B * K, 4)) && (!with_pad || (s->pad = zalloc(B * T, 1))) &&
             (s->gWc = zalloc(K * C, 4)) && (s->gbc = zalloc(K, 4)) && (!full || (s->dx = zalloc(BTC, 4))) &&
             (s->snap0 = zalloc(3 * C * C + 3 * C + 2 * cfg->r * C + 2 * C * (cfg->ldB ? cfg->ldB : cfg->r), 4));
    for (int p = 0; p < 2 && ok; p++)
        ok = (s->cache[p] = zalloc(L, sizeof(hk_fast_cache))) && (s->m_input[p] = zalloc(BTC, 1)) &&
             (s->m_lora[p] = zalloc(L * BTC, 1)) && (s->m_logits[p] = zalloc(L * LOG, 1)) &&
             (s->m_weights[p] = zalloc(L * LOG, 1)) && (s->m_hidden[p] = zalloc(L * BTC, 1)) &&
             (s->m_output[p] = zalloc(B * C, 1)) && (s->act[p] = zalloc(BTC, 4)) && (s->pooled[p] = zalloc(B * C, 4)) &&
             (s->rep[p] = zalloc(B * C, 4));
    int st = ok ? HK_OK : HK_ENOMEM;
    for (long l = 0; l < L && !st; l++) {
        st = params_alloc(&s->P[l], cfg, 1);
        if (!st) st = params_alloc(&s->G[l], cfg, full);
        for (int p = 0; p < 2 && !st; p++) st = hk_fast_cache_alloc(&s->cache[p][l], cfg);
    }
    if (st) {
        hk_fast_stack_free(s);
        HK_ERROR(HK_ENOMEM, "fast stack allocation failed (L=%ld, B=%ld, T=%ld, C=%ld)", L, B, T, C);
    }
    return HK_OK;
}

void hk_fast_stack_zero_grads(hk_fast_stack *s)
{
    for (long l = 0; l < s->L; l++) {
        float **slot[FP_N];
        long len[FP_N];
        int tr[FP_N];
        plist(slot, len, tr, &s->G[l], &s->cfg);
        for (int j = 0; j < FP_N; j++)
            if (*slot[j]) memset(*slot[j], 0, sizeof(float) * (size_t)len[j]);
    }
    if (s->gWc) memset(s->gWc, 0, sizeof(float) * (size_t)(s->K * s->cfg.C));
    if (s->gbc) memset(s->gbc, 0, sizeof(float) * (size_t)s->K);
    if (s->dx) memset(s->dx, 0, sizeof(float) * (size_t)(s->cfg.B * s->cfg.T * s->cfg.C));
}

float *hk_fast_stack_lora(const hk_fast_stack *s, long l, int k, int grad, long *n)
{
    hk_fast_params *p = grad ? &s->G[l] : &s->P[l];
    float *a[8] = {p->Ak, p->Bk, p->Av, p->Bv, p->Aq, p->Bq, p->Ao, p->Bo};
    if (n) *n = (k % 2 ? s->cfg.C * (s->cfg.ldB ? s->cfg.ldB : s->cfg.r) : s->cfg.r * s->cfg.C);
    return a[k];
}

static int active(const hk_fast_stack *s, hk_position pos, int pass)
{
    return s->fw.site[pos].p > 0.0 && !s->clean[pass];
}

/* The masks of block l in pass `pass` (ref/stack.c's setup_block). */
static hk_fast_masks block_masks(const hk_fast_stack *s, int pass, long l)
{
    const long B = s->cfg.B, T = s->cfg.T, C = s->cfg.C, NH = s->cfg.NH, BTC = B * T * C, LOG = B * NH * T * T;
    hk_fast_masks m = {0};
    m.pad = s->pad;
    m.lora_b = s->lora_b;
    if (active(s, HK_POS_LORA, pass)) {
        m.lora_k = m.lora_v = s->m_lora[pass] + l * BTC; /* one mask per block, as ref/stack.h */
        if (s->cfg.lora_qo) m.lora_q = m.lora_o = m.lora_k;
        m.lora_p = (float)s->fw.site[HK_POS_LORA].p;
    }
    if (active(s, HK_POS_LOGITS, pass)) m.dropkey = s->m_logits[pass] + l * LOG;
    if (active(s, HK_POS_WEIGHTS, pass)) {
        const hk_fw_site *st = &s->fw.site[HK_POS_WEIGHTS];
        m.dropattn = s->m_weights[pass] + l * LOG;
        m.dropattn_variant = st->rescale == HK_RESCALE_NORMALIZED ? HK_FAST_DA_NORM_NOGRAD : HK_FAST_DA_CLASSIC;
        m.dropattn_p = (float)st->p;
    }
    if (active(s, HK_POS_HIDDEN, pass)) {
        m.hidden = s->m_hidden[pass] + l * BTC;
        m.hidden_scale = (float)hk_framework_scale(&s->fw, HK_POS_HIDDEN);
    }
    return m;
}

/* Input / output site on (n) entries: 0 where dropped, else scaled; copy when inactive. */
static void site(const hk_fast_stack *s, hk_position pos, int pass, const uint8_t *mask, float *out, const float *in,
                 long n)
{
    if (!active(s, pos, pass)) {
        memmove(out, in, sizeof(float) * (size_t)n);
        return;
    }
    const float sc = (float)hk_framework_scale(&s->fw, pos);
    for (long i = 0; i < n; i++) out[i] = mask[i] ? 0.0f : in[i] * sc;
}

/* Whether hk_train_step backpropagates pass `pass` (ref/train.c: pass 2 only
 * with a task loss on both passes or an undetached consistency loss). */
static int backpropagated(const hk_fast_stack *s, int pass)
{
    return pass == 0 || s->fw.task_both || !s->fw.detach_second;
}

enum { SF_GRAD, SF_INFER, SF_POOLED };

/* The arrays block 0's Q, K, V depend on: Wq, bq, Wk, bk, Wv, bv, Ak, Bk, Av, Bv (plist slots). */
static int qkv_slot(int j) { return j < 6 || (j >= 8 && j < 12); }

/* Snapshot of block 0's projection parameters at a backpropagated pass-0
 * forward, whose cache then holds Q, K, V and (its x) the input. */
static void qkv_snapshot(hk_fast_stack *s, int ok)
{
    float **slot[FP_N];
    long len[FP_N], off = 0;
    int tr[FP_N];
    plist(slot, len, tr, &s->P[0], &s->cfg);
    for (int j = 0; j < FP_N; j++)
        if (qkv_slot(j)) memcpy(s->snap0 + off, *slot[j], sizeof(float) * (size_t)len[j]), off += len[j];
    s->snap_ok = ok, s->snap_lora_b = s->lora_b;
}

/* Pass 1's block 0 may reuse pass 0's Q, K, V when they are equal by
 * construction: the same input a (compared), the same parameters (compared
 * with the snapshot), the same rank b, and no LoRA-input dropout in either
 * pass (their masks are drawn independently).  Then nothing but the
 * attention masks and what follows differs (HiddenKey: DropKey, HiddenCut). */
static int qkv_reusable(const hk_fast_stack *s, const float *a)
{
    if (!s->snap_ok || s->snap_lora_b != s->lora_b || s->fw.site[HK_POS_LORA].p > 0 || s->cfg.lora_qo) return 0;
    const long BTC = s->cfg.B * s->cfg.T * s->cfg.C;
    if (memcmp(a, s->cache[0][0].x, sizeof(float) * (size_t)BTC) != 0) return 0;
    float **slot[FP_N];
    long len[FP_N], off = 0;
    int tr[FP_N];
    plist(slot, len, tr, &s->P[0], &s->cfg);
    for (int j = 0; j < FP_N; j++) {
        if (!qkv_slot(j)) continue;
        if (memcmp(s->snap0 + off, *slot[j], sizeof(float) * (size_t)len[j]) != 0) return 0;
        off += len[j];
    }
    return 1;
}

/* SF_GRAD: the blocks keep their backward caches; SF_INFER: they do not;
 * SF_POOLED: neither, and the last block computes only the pooled rows t = 0
 * (all the head reads; the other rows of its output are never used). */
static int stack_forward(hk_fast_stack *s, int pass, int clean, int mode, double *out, double *rep)
{
    const long B = s->cfg.B, T = s->cfg.T, C = s->cfg.C, K = s->K, BTC = B * T * C;
    s->clean[pass] = clean;
    float *a = s->act[pass];
    site(s, HK_POS_INPUT, pass, s->m_input[pass], a, s->x, BTC);
    if (pass == 0) qkv_snapshot(s, 0); /* invalid until block 0's forward below has run */
    for (long l = 0; l < s->L; l++) {
        hk_fast_masks m = block_masks(s, pass, l);
        if (l == 0 && pass == 1 && mode != SF_GRAD && qkv_reusable(s, a)) {
            hk_fast_enc_infer_reuse(a, &s->cache[1][0], a, &s->P[0], &m, &s->cache[0][0]);
            s->qkv_reuses++;
        } else if (mode == SF_GRAD) hk_fast_enc_forward(a, &s->cache[pass][l], a, &s->P[l], &m);
        else if (mode == SF_POOLED && l == s->L - 1) hk_fast_enc_infer_pooled(a, &s->cache[pass][l], a, &s->P[l], &m);
        else hk_fast_enc_infer(a, &s->cache[pass][l], a, &s->P[l], &m);
    }
    if (pass == 0 && mode == SF_GRAD) s->snap_ok = 1; /* cache[0][0] holds Q, K, V and its input x */
    for (long b = 0; b < B; b++) memcpy(s->pooled[pass] + b * C, a + b * T * C, sizeof(float) * (size_t)C);
    site(s, HK_POS_OUTPUT, pass, s->m_output[pass], s->rep[pass], s->pooled[pass], B * C);
    float *o = s->dout; /* (B,K) scratch for the logits */
    for (long b = 0; b < B; b++)
        for (long k = 0; k < K; k++) o[b * K + k] = s->bc[k];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)K, (int)C, 1.0f, s->rep[pass], (int)C, s->Wc,
                (int)C, 1.0f, o, (int)K);
    for (long i = 0; i < B * K; i++) out[i] = o[i];
    for (long i = 0; i < B * C; i++) rep[i] = s->rep[pass][i];
    return HK_OK;
}

static int fs_forward(void *ctx, int pass, int clean, double *out, double *rep)
{
    hk_fast_stack *s = ctx;
    return stack_forward(s, pass, clean, backpropagated(s, pass) && !s->infer ? SF_GRAD : SF_POOLED, out, rep);
}

static int fs_backward(void *ctx, int pass, const double *dout, const double *drep)
{
    hk_fast_stack *s = ctx;
    const long B = s->cfg.B, T = s->cfg.T, C = s->cfg.C, K = s->K, BTC = B * T * C;
    for (long l = 0; l < s->L; l++)
        HK_REQUIRE(s->cache[pass][l].grad, HK_EINVAL,
                   "fast stack: backward of pass %d after a forward without backward caches (infer mode, or a pass "
                   "the framework does not backpropagate)", pass);
    for (long i = 0; i < B * K; i++) s->dout[i] = (float)dout[i];
    for (long i = 0; i < B * C; i++) s->drp[i] = (float)drep[i];
    /* head gradients (trained in fine-tuning and pre-training) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)C, (int)B, 1.0f, s->dout, (int)K,
                    s->rep[pass], (int)C, 1.0f, s->gWc, (int)C);
    for (long b = 0; b < B; b++)
            for (long k = 0; k < K; k++) s->gbc[k] += s->dout[b * K + k];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)C, (int)K, 1.0f, s->dout, (int)K, s->Wc, (int)C,
                1.0f, s->drp, (int)C);
    memset(s->dy, 0, sizeof(float) * (size_t)BTC);
    const int out_on = active(s, HK_POS_OUTPUT, pass);
    const float osc = (float)hk_framework_scale(&s->fw, HK_POS_OUTPUT);
    for (long b = 0; b < B; b++)
        for (long c = 0; c < C; c++) {
            long i = b * C + c;
            s->dy[b * T * C + c] = out_on ? (s->m_output[pass][i] ? 0.0f : s->drp[i] * osc) : s->drp[i];
        }
    for (long l = s->L - 1; l >= 0; l--) {
        hk_fast_masks m = block_masks(s, pass, l);
        /* block 0's input gradient only feeds the embeddings' (pre-training) */
        hk_fast_enc_backward(l > 0 || s->dx ? s->dy : NULL, &s->G[l], s->dy, &s->cache[pass][l], &s->P[l], &m);
    }
    if (s->dx) { /* gradient of the embeddings through the input site (pre-training) */
        const int in_on = active(s, HK_POS_INPUT, pass);
        const float isc = (float)hk_framework_scale(&s->fw, HK_POS_INPUT);
        for (long i = 0; i < BTC; i++)
            s->dx[i] += in_on ? (s->m_input[pass][i] ? 0.0f : s->dy[i] * isc) : s->dy[i];
    }
    return HK_OK;
}

/* Importance (L x (B,T)) of the official HiddenCut span sampler: attention
 * received in a clean forward of pass slot `pass` (overwritten later), as
 * ref/stack.c computes it, from the f32 weights converted to f64. */
static int importance(hk_fast_stack *s, int pass, double *imp)
{
    const long B = s->cfg.B, T = s->cfg.T, NH = s->cfg.NH, LOG = B * NH * T * T;
    double *out = calloc((size_t)(B * s->K), 8), *rep = calloc((size_t)(B * s->cfg.C), 8), *w = calloc((size_t)LOG, 8);
    int st = out && rep && w ? stack_forward(s, pass, 1, SF_INFER, out, rep) : HK_ENOMEM;
    for (long l = 0; l < s->L && !st; l++) {
        for (long i = 0; i < LOG; i++) w[i] = s->cache[pass][l].w_pre[i];
        st = hk_hiddencut_importance(imp + l * B * T, w, B, NH, T);
    }
    free(out), free(rep), free(w);
    if (st == HK_ENOMEM) HK_ERROR(st, "importance scratch allocation failed");
    return st;
}

/* The reference's sampler (ref/stackmask.h) with the in-place Bernoulli
 * draws (fast_rng.h): one seed gives the reference's masks when pad is NULL (for span_importance, as long as the f32 attention
 * ranks the tokens as the f64 one does). */
int hk_fast_stack_sample_masks(hk_fast_stack *s, int pass, gsl_rng *r)
{
    HK_REQUIRE_PTR(s);
    HK_REQUIRE(pass == 0 || pass == 1, HK_EINVAL, "pass must be 0 or 1 (got %d)", pass);
    const long B = s->cfg.B, T = s->cfg.T;
    double *imp = NULL;
    if (hk_stackmask_needs_importance(&s->fw)) {
        imp = calloc((size_t)(s->L * B * T), 8);
        HK_REQUIRE(imp, HK_ENOMEM, "importance allocation failed");
        int st = importance(s, pass, imp);
        if (st) {
            free(imp);
            return st;
        }
    }
    const hk_stackmask m = {s->m_input[pass], s->m_output[pass], s->m_lora[pass],
                            s->m_logits[pass], s->m_weights[pass], s->m_hidden[pass]};
    const hk_stackmask_shape sh = {s->L, B, T, s->cfg.C, s->cfg.NH};
    int st = hk_stackmask_sample(&m, &s->fw, &sh, s->pad, imp, hk_fast_mask_bernoulli, r);
    free(imp);
    return st;
}

int hk_fast_stack_model(hk_fast_stack *s, hk_model *m)
{
    HK_REQUIRE_PTR(s);
    HK_REQUIRE_PTR(m);
    *m = (hk_model){s, s->cfg.B, s->K, s->cfg.C, fs_forward, fs_backward};
    return HK_OK;
}
