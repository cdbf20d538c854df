/* hkref — the f32 fast path (tools/fast/, CBLAS sgemm) against the f64 scalar
 * reference (ref/): one encoder block with every mask kind and every
 * parameter's gradient, and N training steps of the stack + head
 * (hk_train_step driving both models) per preset from the same init and the
 * same masks.
 *
 * Both paths start from the same numbers: every reference parameter and
 * input is first rounded to f32, so only the fast path's f32 arithmetic is
 * measured, not the rounding of its inputs.
 *
 * Tolerance (norm-wise, per array): max|fast - ref| <= TAU · max|ref|.
 * First-order worst case: a reduction of length n in f32 has relative error
 * <= γ_n ≈ n·u (u = 2^-24) of Σ|terms|, and the errors of successive stages
 * add up (each stage here is O(1)-conditioned: LayerNorm variances O(0.1..1)
 * >> eps, unsaturated softmax), so TAU = u · Σ_stages n_stage, summed along
 * the step: per block forward 3C (q,k,v) + 2(C + r) (LoRA) + D (logits) + 2T
 * (softmax, w·V) + 4C (Wo, LN1, W1, LN2) + F (W2); the backward the same
 * again plus 2·B·T (weight gradients); L blocks; the head C + K.  With the
 * shapes below: 915 u ≈ 5.5e-5.  Σ|terms| is replaced by max|ref| (terms
 * O(1), of the scale of the result).  The fast path's own exp and Phi
 * (tools/fast/fast_gelu.h, not libm) err by <= 1.4 u relative and 4.4 u
 * absolute: below one stage's n·u, inside the budget.  Measured: <= 1.5e-6 ≈ 25 u for every array
 * (HK_FAST_VERBOSE=1 prints each), i.e. the bound holds with ~40x headroom,
 * while wrong math moves it further (LoRA's 1/(1-p) missing, NORM's
 * -Σ dw'·w' term missing, GELU's argument scaled by 1.001,
 * LayerNorm's eps 10x too large, HiddenCut's 1/(1-p) missing, DropKey's
 * all-masked rows not kept: all caught, checked by hand-mutating tools/fast/). */
#define _GNU_SOURCE /* dladdr */
#include "hk_test.h"
#include "golden_io.h"

#include "ref/adamw.h"
#include "ref/dropattention.h"
#include "ref/dropkey.h"
#include "ref/encoder.h"
#include "ref/hiddencut.h"
#include "ref/layernorm.h"
#include "ref/rng.h"
#include "ref/stack.h"
#include "ref/tensorfile.h"
#include "fast/fast_gelu.h"
#include "fast/fast_stack.h"
#include "golden/check.h"

#include <jansson.h>

#include <cblas.h>
#include <dlfcn.h>
#include <stdlib.h>

enum { FB = 2, FT = 8, FC = 16, FNH = 2, FF = 32, FR = 4, FL = 2, FK = 3, NSTEPS = 3 };
static long tau_stages(void)
{
    const long fwd = 3 * FC + 2 * (FC + FR) + FC / FNH + 2 * FT + 4 * FC + FF;
    return FL * (2 * fwd + 2 * FB * FT) + FC + FK;
}
#define TAU ((double)tau_stages() / 16777216.0)

static double worst_seen = 0.0;

/* max|f - r| / max(max|r|, floor) over n entries (0 when both are all zero). */
static double rel_err(const float *f, const double *r, long n, double floor)
{
    double d = 0.0, m = floor;
    for (long i = 0; i < n; i++) {
        if (!isfinite(f[i])) return INFINITY; /* a NaN must fail, not drop out of the max */
        double e = fabs((double)f[i] - r[i]);
        d = e > d ? e : d;
        m = fabs(r[i]) > m ? fabs(r[i]) : m;
    }
    return m > 0.0 ? d / m : d;
}

static double max_abs(const double *r, long n)
{
    double m = 0.0;
    for (long i = 0; i < n; i++) m = fabs(r[i]) > m ? fabs(r[i]) : m;
    return m;
}

/* floor: the scale of the terms when the exact result is 0 (see dbk below). */
static void check_close_floor(const float *f, const double *r, long n, const char *what, double floor)
{
    double e = rel_err(f, r, n, floor);
    if (getenv("HK_FAST_VERBOSE")) fprintf(stderr, "fast vs ref %-28s rel %.3g\n", what, e);
    worst_seen = e > worst_seen ? e : worst_seen;
    ck_assert_msg(e <= TAU, "%s: fast f32 differs from the f64 reference by %.3g (relative to max|ref|) > %.3g", what,
                  e, TAU);
}

static void check_close(const float *f, const double *r, long n, const char *what)
{
    check_close_floor(f, r, n, what, 0.0);
}

/* Rounds n doubles to f32 in place and copies them to dst (dst may be NULL). */
static void round_copy(float *dst, double *src, long n)
{
    for (long i = 0; i < n; i++) {
        float v = (float)src[i];
        src[i] = v;
        if (dst) dst[i] = v;
    }
}

static void fill(double *x, long n, double lo, double hi, gsl_rng *r)
{
    if (x) hk_assert_ok(hk_rng_fill_uniform(x, n, lo, hi, r));
}

/* ---- one block, every mask, every gradient ------------------------------ */

typedef struct {
    hk_enc_config ec;
    hk_fast_config fc;
    hk_enc_params P, G;
    hk_fast_params fp, fg;
    hk_enc_cache cache;
    hk_fast_cache fcache;
    double *x, *y, *dy, *dx;
    float *xf, *yf, *dyf, *dxf;
    uint8_t pad[FB * FT], lora[FB * FT * FC], attn[FB * FNH * FT * FT], hid[FB * FT * FC];
} blk;

/* The 20 parameter arrays of both layouts in the same order, with lengths. */
static int blk_arrays(blk *b, double **rp, double **rg, float **fp, float **fg, long *len)
{
    hk_enc_params *P = &b->P, *G = &b->G;
    hk_fast_params *p = &b->fp, *g = &b->fg;
    double *R[20] = {P->attn.W[0], P->attn.b[0], P->attn.W[1], P->attn.b[1], P->attn.W[2], P->attn.b[2],
                     P->attn.W[3], P->attn.b[3], P->attn.A[1], P->attn.B[1], P->attn.A[2], P->attn.B[2],
                     P->ln1_w, P->ln1_b, P->W1, P->b1, P->W2, P->b2, P->ln2_w, P->ln2_b};
    double *RG[20] = {G->attn.W[0], G->attn.b[0], G->attn.W[1], G->attn.b[1], G->attn.W[2], G->attn.b[2],
                      G->attn.W[3], G->attn.b[3], G->attn.A[1], G->attn.B[1], G->attn.A[2], G->attn.B[2],
                      G->ln1_w, G->ln1_b, G->W1, G->b1, G->W2, G->b2, G->ln2_w, G->ln2_b};
    float **FP[20] = {&p->Wq, &p->bq, &p->Wk, &p->bk, &p->Wv, &p->bv, &p->Wo, &p->bo, &p->Ak, &p->Bk,
                      &p->Av, &p->Bv, &p->ln1_w, &p->ln1_b, &p->W1, &p->b1, &p->W2, &p->b2, &p->ln2_w, &p->ln2_b};
    float **FG[20] = {&g->Wq, &g->bq, &g->Wk, &g->bk, &g->Wv, &g->bv, &g->Wo, &g->bo, &g->Ak, &g->Bk,
                      &g->Av, &g->Bv, &g->ln1_w, &g->ln1_b, &g->W1, &g->b1, &g->W2, &g->b2, &g->ln2_w, &g->ln2_b};
    const long C = FC, F = FF, r = FR;
    const long L[20] = {C * C, C, C * C, C, C * C, C, C * C, C, r * C, C * r, r * C, C * r, C, C, F * C, F, C * F, C, C, C};
    for (int j = 0; j < 20; j++) {
        if (rp) rp[j] = R[j];
        if (rg) rg[j] = RG[j];
        if (fp) fp[j] = *FP[j];
        if (fg) fg[j] = *FG[j];
        if (len) len[j] = L[j];
    }
    return 20;
}

static const char *const arr_name[20] = {"Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo", "Ak", "Bk",
                                         "Av", "Bv", "ln1_w", "ln1_b", "W1", "b1", "W2", "b2", "ln2_w", "ln2_b"};

static void blk_setup(blk *b, unsigned long seed)
{
    memset(b, 0, sizeof *b);
    b->ec = (hk_enc_config){.attn = {.B = FB, .T = FT, .C = FC, .NH = FNH, .lora = HK_ATTN_LORA_KV, .r = FR,
                                     .alpha = 2.0 * FR},
                            .F = FF, .ln_eps = HK_LAYERNORM_EPS_DEFAULT, .gelu = HK_GELU_ERF};
    b->fc = (hk_fast_config){.B = FB, .T = FT, .C = FC, .NH = FNH, .F = FF, .r = FR, .alpha = 2.0f * FR,
                             .ln_eps = (float)HK_LAYERNORM_EPS_DEFAULT};
    hk_assert_ok(hk_enc_params_alloc(&b->P, &b->ec, 1));
    hk_assert_ok(hk_enc_params_alloc(&b->G, &b->ec, 1));
    hk_assert_ok(hk_enc_cache_alloc(&b->cache, &b->ec));
    hk_assert_ok(hk_fast_cache_alloc(&b->fcache, &b->fc));
    float **F[20] = {&b->fp.Wq, &b->fp.bq, &b->fp.Wk, &b->fp.bk, &b->fp.Wv, &b->fp.bv, &b->fp.Wo, &b->fp.bo,
                     &b->fp.Ak, &b->fp.Bk, &b->fp.Av, &b->fp.Bv, &b->fp.ln1_w, &b->fp.ln1_b, &b->fp.W1, &b->fp.b1,
                     &b->fp.W2, &b->fp.b2, &b->fp.ln2_w, &b->fp.ln2_b};
    float **FG[20] = {&b->fg.Wq, &b->fg.bq, &b->fg.Wk, &b->fg.bk, &b->fg.Wv, &b->fg.bv, &b->fg.Wo, &b->fg.bo,
                      &b->fg.Ak, &b->fg.Bk, &b->fg.Av, &b->fg.Bv, &b->fg.ln1_w, &b->fg.ln1_b, &b->fg.W1, &b->fg.b1,
                      &b->fg.W2, &b->fg.b2, &b->fg.ln2_w, &b->fg.ln2_b};
    double *rp[20];
    long len[20];
    blk_arrays(b, rp, NULL, NULL, NULL, len);
    gsl_rng *r = hk_rng_new(seed);
    ck_assert_ptr_nonnull(r);
    for (int j = 0; j < 20; j++) {
        *F[j] = calloc((size_t)len[j], sizeof(float));
        *FG[j] = calloc((size_t)len[j], sizeof(float));
        int ln_w = j == 12 || j == 18, bias = j == 1 || j == 3 || j == 5 || j == 7 || j == 13 || j == 15 || j == 17 || j == 19;
        /* weights ~ U(±1/sqrt(fan_in)) keep activations O(1); B non-zero so dA is not trivially 0 */
        double a = ln_w ? 0.2 : bias ? 0.1 : 1.0 / sqrt(j == 16 ? (double)FF : (double)FC);
        fill(rp[j], len[j], ln_w ? 1.0 - a : -a, ln_w ? 1.0 + a : a, r);
        round_copy(*F[j], rp[j], len[j]);
    }
    const long NC = FB * FT * FC;
    b->x = calloc(NC, 8), b->y = calloc(NC, 8), b->dy = calloc(NC, 8), b->dx = calloc(NC, 8);
    b->xf = calloc(NC, 4), b->yf = calloc(NC, 4), b->dyf = calloc(NC, 4), b->dxf = calloc(NC, 4);
    fill(b->x, NC, -1.5, 1.5, r);
    fill(b->dy, NC, -1.0, 1.0, r);
    round_copy(b->xf, b->x, NC);
    round_copy(b->dyf, b->dy, NC);
    /* element-wise LoRA (p 0.25) / attention (p 0.3) / hidden (p 0.2) masks; batch 1 pads its last 3 keys */
    hk_assert_ok(hk_mask_bernoulli(b->lora, NC, 0.25, r));
    hk_assert_ok(hk_mask_bernoulli(b->attn, FB * FNH * FT * FT, 0.3, r));
    hk_assert_ok(hk_mask_bernoulli(b->hid, NC, 0.2, r));
    for (long t = 0; t < FT; t++) b->pad[FT + t] = t >= FT - 3;
    /* one fully dropped row (policy KEEP) in each batch element */
    for (long s = 0; s < FT; s++) b->attn[(0 * FNH + 1) * FT * FT + 2 * FT + s] = 1, b->attn[(1 * FNH + 0) * FT * FT + 4 * FT + s] = 1;
    hk_rng_free(r);
}

static void blk_free(blk *b)
{
    float *fp[20], *fg[20];
    blk_arrays(b, NULL, NULL, fp, fg, NULL);
    for (int j = 0; j < 20; j++) free(fp[j]), free(fg[j]);
    hk_enc_params_free(&b->P), hk_enc_params_free(&b->G), hk_enc_cache_free(&b->cache);
    hk_fast_cache_free(&b->fcache);
    free(b->x), free(b->y), free(b->dy), free(b->dx), free(b->xf), free(b->yf), free(b->dyf), free(b->dxf);
}

/* kind: 0 DropKey, 1..3 DropAttention classic / norm_nograd / norm, 4
 * DropKey with LoRA truncated to DyLoRA rank b = 2 of r = 4 (the reference:
 * r = b, ldB = r_max, alpha/b; ref/dylora.h).  Both paths get pad, LoRA
 * dropout (p 0.25), the attention mask and HiddenCut (inverted, p 0.2).
 * The LoRA masks of k and v: one shared mask (as the stack passes them),
 * except kind 3 (v with its own mask, here HiddenCut's (B,T,C) mask), so the
 * fast backward's shared-mask and per-mask routes of LoRA's input gradient
 * both run (the no-dropout route runs in the stack steps below). */
static void block_case(int kind)
{
    blk b;
    blk_setup(&b, 100 + (unsigned long)kind);
    const uint8_t *lora_v = kind == 3 ? b.hid : b.lora;
    const uint8_t *lm[4] = {NULL, b.lora, lora_v, NULL};
    hk_enc_config ec = b.ec;
    ec.attn.lora_p = 0.25;
    const long lora_b = kind == 4 ? 2 : 0;
    if (lora_b) {
        ec.attn.r = lora_b, ec.attn.ldB = FR;
        hk_enc_cache_free(&b.cache);
        hk_assert_ok(hk_enc_cache_alloc(&b.cache, &ec));
    }
    kind = kind == 4 ? 0 : kind;
    hk_dropkey_config dkc = {b.attn, b.pad, HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP};
    hk_dropattn_config dac = {b.attn, b.pad, (hk_dropattn_variant)(kind - 1), 0.3, HK_ALLMASK_KEEP};
    hk_attn_hooks ah;
    if (kind == 0) hk_assert_ok(hk_dropkey_hooks(&ah, &dkc));
    else hk_assert_ok(hk_dropattn_hooks(&ah, &dac));
    hk_hiddencut_ctx hc = {b.hid, 1.0 / (1.0 - 0.2)};
    hk_hidden_hook hh;
    hk_assert_ok(hk_hiddencut_hook(&hh, &hc));
    hk_assert_ok(hk_enc_forward(b.y, &b.cache, b.x, &b.P, &ec, b.pad, lm, &ah, &hh));
    hk_assert_ok(hk_enc_backward(b.dx, &b.G, b.dy, &b.cache, b.x, &b.P, &ec, b.pad, lm, &ah, &hh));
    hk_fast_masks m = {.pad = b.pad, .lora_k = b.lora, .lora_v = lora_v, .lora_p = 0.25f,
                       .dropkey = kind == 0 ? b.attn : NULL, .dropattn = kind ? b.attn : NULL,
                       .dropattn_variant = kind - 1, .dropattn_p = 0.3f, .hidden = b.hid,
                       .hidden_scale = (float)(1.0 / (1.0 - 0.2)), .lora_b = lora_b};
    hk_fast_enc_forward(b.yf, &b.fcache, b.xf, &b.fp, &m);
    hk_fast_enc_backward(b.dxf, &b.fg, b.dyf, &b.fcache, &b.fp, &m);
    const char *kn[4] = {lora_b ? "dropkey, dylora b=2" : "dropkey", "dropattn classic", "dropattn norm_nograd",
                         "dropattn norm"};
    char what[64];
    const long NC = FB * FT * FC;
    snprintf(what, sizeof what, "block[%s] y", kn[kind]);
    check_close(b.yf, b.y, NC, what);
    snprintf(what, sizeof what, "block[%s] dx", kn[kind]);
    check_close(b.dxf, b.dx, NC, what);
    /* the forward without backward caches computes the same y, bit for bit */
    float *yi = calloc(NC, sizeof(float));
    ck_assert(yi != NULL);
    hk_fast_enc_infer(yi, &b.fcache, b.xf, &b.fp, &m);
    ck_assert(memcmp(yi, b.yf, sizeof(float) * NC) == 0 && b.fcache.grad == 0);
    /* the pooled forward: rows t = 0 as the full forward's (B rows through the
     * sgemms instead of B·T, so not necessarily the same bits), others untouched */
    for (long i = 0; i < NC; i++) yi[i] = 7.0f;
    hk_fast_enc_infer_pooled(yi, &b.fcache, b.xf, &b.fp, &m);
    double dmax = 0.0, ymax = 0.0;
    for (long i = 0; i < NC; i++) {
        if ((i / FC) % FT) {
            ck_assert(yi[i] == 7.0f);
            continue;
        }
        dmax = fmax(dmax, fabs((double)yi[i] - (double)b.yf[i]));
        ymax = fmax(ymax, fabs((double)b.yf[i]));
    }
    ck_assert_msg(dmax <= TAU * ymax, "pooled rows differ by %g (max|y| %g)", dmax, ymax);
    free(yi);
    double *rg[20];
    float *fg[20];
    long len[20];
    blk_arrays(&b, NULL, rg, NULL, fg, len);
    for (int j = 0; j < 20; j++) {
        snprintf(what, sizeof what, "block[%s] d%s", kn[kind], arr_name[j]);
        /* dbk is 0 in exact arithmetic (bk adds q·bk to every logit of a row:
         * softmax is shift invariant), so its error is measured against its
         * terms' scale, the dk that dWk = dk^T x sums as well */
        check_close_floor(fg[j], rg[j], len[j], what, j == 3 ? max_abs(rg[2], len[2]) : 0.0);
    }
    blk_free(&b);
}

START_TEST(block_dropkey_matches_reference) { block_case(0); }
END_TEST
START_TEST(block_dropattention_matches_reference) { for (int k = 1; k <= 3; k++) block_case(k); }
END_TEST
START_TEST(block_dylora_truncation_matches_reference) { block_case(4); }
END_TEST

/* ---- the training step over the stack, N steps per preset ---------------- */

static void copy_stack(hk_fast_stack *f, hk_stack *s)
{
    const long C = FC, F = FF, R = FR;
    for (long l = 0; l < FL; l++) {
        hk_enc_params *P = &s->P[l];
        hk_fast_params *p = &f->P[l];
        double *R_[20] = {P->attn.W[0], P->attn.b[0], P->attn.W[1], P->attn.b[1], P->attn.W[2], P->attn.b[2],
                          P->attn.W[3], P->attn.b[3], P->attn.A[1], P->attn.B[1], P->attn.A[2], P->attn.B[2],
                          P->ln1_w, P->ln1_b, P->W1, P->b1, P->W2, P->b2, P->ln2_w, P->ln2_b};
        float *F_[20] = {p->Wq, p->bq, p->Wk, p->bk, p->Wv, p->bv, p->Wo, p->bo, p->Ak, p->Bk,
                         p->Av, p->Bv, p->ln1_w, p->ln1_b, p->W1, p->b1, p->W2, p->b2, p->ln2_w, p->ln2_b};
        const long L[20] = {C * C, C, C * C, C, C * C, C, C * C, C, R * C, C * R, R * C, C * R,
                            C, C, F * C, F, C * F, C, C, C};
        for (int j = 0; j < 20; j++) round_copy(F_[j], R_[j], L[j]);
    }
    round_copy(f->Wc, s->Wc, FK * C);
    round_copy(f->bc, s->bc, FK);
    round_copy(f->x, s->x, FB * FT * C);
}

static void copy_masks(hk_fast_stack *f, const hk_stack *s, int pass)
{
    const long BTC = FB * FT * FC, LOG = FB * FNH * FT * FT;
    memcpy(f->m_input[pass], s->m_input[pass], BTC);
    memcpy(f->m_output[pass], s->m_output[pass], FB * FC);
    memcpy(f->m_lora[pass], s->m_lora[pass], FL * BTC);
    memcpy(f->m_logits[pass], s->m_logits[pass], FL * LOG);
    memcpy(f->m_weights[pass], s->m_weights[pass], FL * LOG);
    memcpy(f->m_hidden[pass], s->m_hidden[pass], FL * BTC);
}

/* The reference stack and the fast stack of the same shapes (alpha = 2r) for fw. */
static void pair_alloc(hk_stack *s, hk_fast_stack *f, const hk_framework *fw)
{
    hk_enc_config ec = {.attn = {.B = FB, .T = FT, .C = FC, .NH = FNH, .lora = HK_ATTN_LORA_KV, .r = FR, .alpha = 2.0 * FR},
                        .F = FF, .ln_eps = HK_LAYERNORM_EPS_DEFAULT, .gelu = HK_GELU_ERF};
    hk_fast_config fc = {.B = FB, .T = FT, .C = FC, .NH = FNH, .F = FF, .r = FR, .alpha = 2.0f * FR,
                         .ln_eps = (float)HK_LAYERNORM_EPS_DEFAULT};
    hk_assert_ok(hk_stack_alloc(s, &ec, FL, FK, fw));
    hk_assert_ok(hk_fast_stack_alloc(f, &fc, FL, FK, fw, 0, 0));
}

static void steps_case(const char *preset)
{
    hk_framework fw;
    hk_assert_ok(hk_preset_get(&fw, preset));
    /* rates well above the presets' 0.1 placeholders, so every mask drops something */
    for (int p = 0; p < HK_POS_COUNT; p++)
        if (fw.site[p].p > 0) fw.site[p].p = 0.3;
    hk_stack s;
    hk_fast_stack f;
    pair_alloc(&s, &f, &fw);
    gsl_rng *r = hk_rng_new(7);
    hk_assert_ok(hk_stack_init(&s, r));
    /* hk_stack_init's U(±0.6) weights with C = 16 saturate softmax and LayerNorm; scale
     * them to U(±1/sqrt(fan_in))-like magnitudes, as a pre-trained model has */
    for (long l = 0; l < FL; l++) {
        for (int i = 0; i < 4; i++)
            for (long k = 0; k < FC * FC; k++) s.P[l].attn.W[i][k] *= 0.4;
        for (long k = 0; k < FF * FC; k++) s.P[l].W1[k] *= 0.4, s.P[l].W2[k] *= 0.3;
    }
    copy_stack(&f, &s);
    hk_model ms, mf;
    hk_assert_ok(hk_stack_model(&s, &ms));
    hk_assert_ok(hk_fast_stack_model(&f, &mf));
    double *ws = calloc((size_t)hk_train_step_work_size(&ms), 8), *wf = calloc((size_t)hk_train_step_work_size(&mf), 8);
    /* AdamW state: reference params in place; fast path: f64 master copies of its LoRA arrays */
    const long n1 = FR * FC; /* A (r,C) and B (C,r) have the same count */
    double *ms_m = calloc(FL * 4 * n1, 8), *ms_v = calloc(FL * 4 * n1, 8), *mf_m = calloc(FL * 4 * n1, 8),
           *mf_v = calloc(FL * 4 * n1, 8), *master = calloc(FL * 4 * n1, 8), *gbuf = calloc(n1, 8);
    for (long l = 0; l < FL; l++)
        for (int k = 0; k < 4; k++) {
            float *fp = hk_fast_stack_lora(&f, l, k, 0, NULL);
            for (long i = 0; i < n1; i++) master[(l * 4 + k) * n1 + i] = fp[i];
        }
    const hk_adamw_hparams hp = {1e-3, 0.9, 0.999, 1e-8, 0.01};
    for (long step = 1; step <= NSTEPS; step++) {
        for (int p = 0; p < fw.passes; p++) {
            hk_assert_ok(hk_stack_sample_masks(&s, p, r));
            copy_masks(&f, &s, p);
        }
        for (long l = 0; l < FL; l++) hk_assert_ok(hk_enc_params_zero(&s.G[l], &s.enc));
        hk_fast_stack_zero_grads(&f);
        hk_step_result rs, rf;
        hk_assert_ok(hk_train_step(&rs, &fw, &ms, s.labels, s.targets, ws));
        hk_assert_ok(hk_train_step(&rf, &fw, &mf, s.labels, s.targets, wf));
        char what[64];
        float lf = (float)rf.total;
        snprintf(what, sizeof what, "%s step %ld loss", preset, step);
        check_close(&lf, &rs.total, 1, what);
        ck_assert_int_eq(rf.backward_passes, rs.backward_passes);
        for (long l = 0; l < FL; l++)
            for (int k = 0; k < 4; k++) {
                int proj = k < 2 ? HK_ATTN_K : HK_ATTN_V;
                double *rp = k % 2 ? s.P[l].attn.B[proj] : s.P[l].attn.A[proj];
                double *rg = k % 2 ? s.G[l].attn.B[proj] : s.G[l].attn.A[proj];
                float *fg = hk_fast_stack_lora(&f, l, k, 1, NULL), *fp = hk_fast_stack_lora(&f, l, k, 0, NULL);
                snprintf(what, sizeof what, "%s step %ld blk%ld d%s", preset, step, l, (const char *[]){"Ak", "Bk", "Av", "Bv"}[k]);
                check_close(fg, rg, n1, what);
                double *mm = master + (l * 4 + k) * n1;
                for (long i = 0; i < n1; i++) gbuf[i] = fg[i];
                hk_assert_ok(hk_adamw_step(rp, rg, ms_m + (l * 4 + k) * n1, ms_v + (l * 4 + k) * n1, n1, 1, step, &hp));
                hk_assert_ok(hk_adamw_step(mm, gbuf, mf_m + (l * 4 + k) * n1, mf_v + (l * 4 + k) * n1, n1, 1, step, &hp));
                for (long i = 0; i < n1; i++) fp[i] = (float)mm[i];
            }
    }
    /* HiddenKey's pass 2 (detached, no LoRA dropout) reused pass 1's block-0 Q, K, V every step */
    ck_assert_int_eq(f.qkv_reuses, strcmp(preset, "hiddenkey") ? 0 : NSTEPS);
    free(ws), free(wf), free(ms_m), free(ms_v), free(mf_m), free(mf_v), free(master), free(gbuf);
    hk_rng_free(r);
    hk_stack_free(&s);
    hk_fast_stack_free(&f);
}

START_TEST(steps_match_reference_every_preset)
{
    for (size_t i = 0; i < hk_preset_count(); i++) steps_case(hk_preset_name(i));
    if (getenv("HK_FAST_VERBOSE")) fprintf(stderr, "fast vs ref: worst relative difference %.3g (TAU %.3g)\n", worst_seen, TAU);
}
END_TEST

/* The fast sampler draws the reference's masks from the same seed (no
 * padding): every position with a rate, and HiddenCut's importance span
 * (ranked by the f32 attention here, the f64 one there). */
static void sampler_case(const char *preset, int extra)
{
    hk_framework fw;
    hk_assert_ok(hk_preset_get(&fw, preset));
    if (extra) {
        fw.site[HK_POS_LORA] = (hk_fw_site){.p = 0.2, .pattern = HK_PAT_ELEMENT, .rescale = HK_RESCALE_INVERTED};
        fw.site[HK_POS_WEIGHTS] = (hk_fw_site){.p = 0.3, .pattern = HK_PAT_ELEMENT, .rescale = HK_RESCALE_INVERTED};
        fw.site[HK_POS_INPUT].p = 0.1, fw.site[HK_POS_OUTPUT].p = 0.1;
    } else {
        fw.site[HK_POS_HIDDEN].p = 0.3; /* span of floor(0.3 T) = 2 tokens */
    }
    hk_assert_ok(hk_framework_validate(&fw));
    hk_stack s;
    hk_fast_stack f;
    pair_alloc(&s, &f, &fw);
    gsl_rng *r1 = hk_rng_new(11);
    hk_assert_ok(hk_stack_init(&s, r1));
    copy_stack(&f, &s);
    hk_rng_free(r1);
    r1 = hk_rng_new(12);
    gsl_rng *r2 = hk_rng_new(12);
    const long BTC = FB * FT * FC, LOG = FB * FNH * FT * FT;
    for (int p = 0; p < 2; p++) {
        hk_assert_ok(hk_stack_sample_masks(&s, p, r1));
        hk_assert_ok(hk_fast_stack_sample_masks(&f, p, r2));
        ck_assert(memcmp(f.m_input[p], s.m_input[p], BTC) == 0);
        ck_assert(memcmp(f.m_output[p], s.m_output[p], FB * FC) == 0);
        ck_assert(memcmp(f.m_lora[p], s.m_lora[p], FL * BTC) == 0);
        ck_assert(memcmp(f.m_logits[p], s.m_logits[p], FL * LOG) == 0);
        ck_assert(memcmp(f.m_weights[p], s.m_weights[p], FL * LOG) == 0);
        ck_assert(memcmp(f.m_hidden[p], s.m_hidden[p], FL * BTC) == 0);
        long ones = 0;
        for (long i = 0; i < FL * BTC; i++) ones += f.m_hidden[p][i];
        ck_assert(ones > 0); /* the comparison is not of two all-zero masks */
    }
    hk_rng_free(r1), hk_rng_free(r2);
    hk_stack_free(&s);
    hk_fast_stack_free(&f);
}

START_TEST(fast_sampler_draws_the_reference_masks)
{
    sampler_case("hiddenkey", 1);
    sampler_case("hiddencut", 0);
}
END_TEST

/* A reference / fast stack pair for `preset` and the fast one as an hk_model. */
static void pair_model(hk_stack *s, hk_fast_stack *f, hk_model *m, const char *preset)
{
    hk_framework fw;
    hk_assert_ok(hk_preset_get(&fw, preset));
    pair_alloc(s, f, &fw);
    hk_assert_ok(hk_fast_stack_model(f, m));
}

/* A pass the framework does not backpropagate (HiddenKey's detached pass 2)
 * and evaluation forwards keep no backward caches; a backward of such a
 * pass is refused with a message, not run on stale caches. */
START_TEST(backward_after_infer_is_refused)
{
    hk_stack s;
    hk_fast_stack f;
    hk_model m;
    pair_model(&s, &f, &m, "hiddenkey");
    double out[FB * FK], rep[FB * FC], dout[FB * FK] = {0}, drep[FB * FC] = {0};
    hk_assert_ok(m.forward(m.ctx, 0, 1, out, rep));
    hk_assert_ok(m.backward(m.ctx, 0, dout, drep));
    hk_assert_ok(m.forward(m.ctx, 1, 0, out, rep));
    ck_assert_int_eq(m.backward(m.ctx, 1, dout, drep), HK_EINVAL);
    f.infer = 1;
    hk_assert_ok(m.forward(m.ctx, 0, 1, out, rep));
    ck_assert_int_eq(m.backward(m.ctx, 0, dout, drep), HK_EINVAL);
    hk_stack_free(&s);
    hk_fast_stack_free(&f);
}
END_TEST

/* Pass 2 reuses pass 1's block-0 Q, K, V only when input and parameters are
 * unchanged; after a change it recomputes, and gives what a fresh pair of
 * forwards gives (the same sgemm calls on the same inputs: the same bits). */
START_TEST(qkv_reuse_only_when_unchanged)
{
    hk_stack s;
    hk_fast_stack f;
    hk_model m;
    pair_model(&s, &f, &m, "hiddenkey");
    gsl_rng *r = hk_rng_new(5);
    hk_assert_ok(hk_stack_init(&s, r));
    copy_stack(&f, &s);
    for (int p = 0; p < 2; p++) hk_assert_ok(hk_fast_stack_sample_masks(&f, p, r));
    double out[FB * FK], rep[FB * FC], out_a[FB * FK], out_b[FB * FK];
    hk_assert_ok(m.forward(m.ctx, 0, 0, out, rep));
    hk_assert_ok(m.forward(m.ctx, 1, 0, out, rep));
    ck_assert_int_eq(f.qkv_reuses, 1);
    f.P[0].Wk[3] += 0.25f; /* a parameter changed after pass 1's forward */
    hk_assert_ok(m.forward(m.ctx, 1, 0, out_a, rep));
    ck_assert_int_eq(f.qkv_reuses, 1);
    hk_assert_ok(m.forward(m.ctx, 0, 0, out, rep));
    hk_assert_ok(m.forward(m.ctx, 1, 0, out_b, rep));
    ck_assert_int_eq(f.qkv_reuses, 2);
    ck_assert(memcmp(out_a, out_b, sizeof out_a) == 0);
    f.x[7] += 0.5f; /* the input changed */
    hk_assert_ok(m.forward(m.ctx, 1, 0, out_a, rep));
    ck_assert_int_eq(f.qkv_reuses, 2);
    hk_rng_free(r);
    hk_stack_free(&s);
    hk_fast_stack_free(&f);
}
END_TEST

START_TEST(bad_fast_config_is_refused)
{
    hk_fast_config c = {.B = 2, .T = 4, .C = 6, .NH = 4, .F = 8, .r = 2, .alpha = 4, .ln_eps = 1e-5f};
    hk_assert_fails(hk_fast_config_check(&c), HK_ESHAPE, "divisible");
    c.NH = 2, c.r = 0;
    hk_assert_fails(hk_fast_config_check(&c), HK_EINVAL, "rank");
    c.r = 2, c.ln_eps = 0;
    hk_assert_fails(hk_fast_config_check(&c), HK_EDOM, "ln_eps");
}
END_TEST

/* ---- the golden encoder cases at F32 tolerance ----------------------------- */

/* A golden tensor as f32 in a new array (NULL if absent). */
static float *gold_f32(const hk_st_file *g, const char *name, long n)
{
    float *f = malloc(sizeof(float) * (size_t)n);
    if (hk_test_gold_f32(g, name, f, n)) return f;
    free(f);
    return NULL;
}

static const uint8_t *gold_mask(const hk_st_file *g, const char *name)
{
    const hk_st_tensor *t = hk_st_find(g, name);
    return t ? (const uint8_t *)t->data : NULL;
}

/* The fast block as an in-process golden backend (hk_golden_check_dir) for
 * golden/encoder cases: *out gets its F32 outputs, or NULL when the case needs
 * what the fast path does not have (LoRA without k and v, all-masked policy
 * zero): skipped, counted by the checker. */
static int golden_encoder_case(void *ctx, const hk_st_file *g, const char *path, hk_st_file **out)
{
    *out = NULL;
    json_error_t je;
    json_t *cfg = json_loads(hk_st_get_meta(g, "config"), 0, &je);
    ck_assert_ptr_nonnull(cfg);
    const char *lora = json_string_value(json_object_get(cfg, "lora")), *method = json_string_value(json_object_get(cfg, "method"));
    json_t *pol = json_object_get(cfg, "allmasked_policy");
    const int qo = !strcmp(lora, "qkvo"); /* LoRA on q and o as well */
    if ((strcmp(lora, "kv") != 0 && !qo) || (pol && strcmp(json_string_value(pol), "keep") != 0)) {
        json_decref(cfg);
        return HK_OK;
    }
#define CI(k) json_integer_value(json_object_get(cfg, k))
#define CR(k) json_number_value(json_object_get(cfg, k))
    const long B = CI("B"), T = CI("T"), C = CI("C"), NH = CI("NH"), F = CI("F"), r = CI("r");
    hk_fast_config fc = {.B = B, .T = T, .C = C, .NH = NH, .F = F, .r = r, .alpha = (float)CR("alpha"),
                         .ln_eps = (float)CR("ln_eps")};
    hk_fast_cache cache;
    hk_assert_ok(hk_fast_cache_alloc(&cache, &fc));
    static const char *const pn[24] = {"W_q", "b_q", "W_k", "b_k", "W_v", "b_v", "W_o", "b_o", "lora_A_k", "lora_B_k",
                                       "lora_A_v", "lora_B_v", "ln1_weight", "ln1_bias", "W1", "b1", "W2", "b2",
                                       "ln2_weight", "ln2_bias", "lora_A_q", "lora_B_q", "lora_A_o", "lora_B_o"};
    const long len[24] = {C * C, C, C * C, C, C * C, C, C * C, C, r * C, C * r, r * C, C * r,
                          C, C, F * C, F, C * F, C, C, C, r * C, C * r, r * C, C * r};
    const int np = qo ? 24 : 20;
    float *P[24] = {0}, *G[24] = {0};
    for (int j = 0; j < np; j++) {
        char n[48];
        snprintf(n, sizeof n, "param.%s", pn[j]);
        P[j] = gold_f32(g, n, len[j]);
        ck_assert_msg(P[j] != NULL, "%s: no %s", path, n);
        G[j] = calloc((size_t)len[j], sizeof(float));
    }
    hk_fast_params fp = {P[0],  P[1],  P[2],  P[3],  P[4],  P[5],  P[6],  P[7],  P[8],  P[9],  P[10], P[11],
                         P[12], P[13], P[14], P[15], P[16], P[17], P[18], P[19], P[20], P[21], P[22], P[23]};
    hk_fast_params fg = {G[0],  G[1],  G[2],  G[3],  G[4],  G[5],  G[6],  G[7],  G[8],  G[9],  G[10], G[11],
                         G[12], G[13], G[14], G[15], G[16], G[17], G[18], G[19], G[20], G[21], G[22], G[23]};
    const long NC = B * T * C;
    float *x = gold_f32(g, "in.x", NC), *dy = gold_f32(g, "in.d_y", NC), *y = malloc(4 * (size_t)NC),
          *dx = malloc(4 * (size_t)NC);
    const char *variant = json_string_value(json_object_get(cfg, "variant"));
    hk_fast_masks m = {.pad = gold_mask(g, "mask.pad"), .lora_k = gold_mask(g, "mask.lora_k"),
                       .lora_v = gold_mask(g, "mask.lora_v"), .lora_q = gold_mask(g, "mask.lora_q"),
                       .lora_o = gold_mask(g, "mask.lora_o"), .lora_p = (float)CR("lora_p"),
                       .hidden = gold_mask(g, "mask.hidden"), .hidden_scale = (float)CR("hidden_scale")};
    if (!strcmp(method, "dropkey")) m.dropkey = gold_mask(g, "mask.att");
    if (!strcmp(method, "dropattention")) {
        m.dropattn = gold_mask(g, "mask.att");
        m.dropattn_p = (float)CR("attn_p");
        m.dropattn_variant = !strcmp(variant, "classic") ? HK_FAST_DA_CLASSIC
                             : !strcmp(variant, "norm") ? HK_FAST_DA_NORM : HK_FAST_DA_NORM_NOGRAD;
    }
    hk_fast_enc_forward(y, &cache, x, &fp, &m);
    hk_fast_enc_backward(dx, &fg, dy, &cache, &fp, &m);
    hk_st_file *got;
    hk_assert_ok(hk_st_new(&got));
    long s3[3] = {B, T, C};
    hk_assert_ok(hk_st_add(got, "out.y", HK_ST_F32, 3, s3, y));
    hk_assert_ok(hk_st_add(got, "grad.x", HK_ST_F32, 3, s3, dx));
    for (int j = 0; j < np; j++) {
        char n[48];
        snprintf(n, sizeof n, "grad.%s", pn[j]);
        const hk_st_tensor *t = hk_st_find(g, n);
        if (t) hk_assert_ok(hk_st_add(got, n, HK_ST_F32, t->ndim, t->shape, G[j]));
    }
    *out = got;
    for (int j = 0; j < np; j++) free(P[j]), free(G[j]);
    free(x), free(dy), free(y), free(dx);
    hk_fast_cache_free(&cache);
    json_decref(cfg);
    return HK_OK;
#undef CI
#undef CR
}

/* Per case: a failure is reported with the checker's own first failing elements. */
static void report_fast_case(void *ctx, const hk_golden_case_report *r)
{
    double *worst = ctx;
    for (int i = 0; i < r->result->ntensors; i++) *worst = fmax(*worst, r->result->t[i].pct);
    ck_assert_msg(!r->failed, "%s: the fast path fails the golden check at F32 (%ld tensors)%s%s\n%s", r->rel,
                  r->result->failed_tensors, r->result->problem[0] ? ": " : "", r->result->problem, r->elements);
}

START_TEST(golden_encoder_cases_pass_at_f32)
{
    double worst = 0;
    hk_golden_dir_opts o = {.golden = "golden", .backend = golden_encoder_case, .dtype = HK_GOLDEN_F32,
                            .op = "encoder", .report = report_fast_case, .report_ctx = &worst};
    hk_golden_dir_summary sum;
    hk_assert_ok(hk_golden_check_dir(&o, &sum));
    if (getenv("HK_FAST_VERBOSE"))
        fprintf(stderr, "golden encoder: %ld cases on the fast path (worst %.1f%% of threshold), %ld skipped\n",
                sum.run, worst, sum.skipped);
    ck_assert_int_eq(sum.failed, 0);
    ck_assert_int_ge(sum.run, 5); /* every committed encoder case, LoRA on q, k, v, o included */
}
END_TEST

/* tools/fast/fast_gelu.h's f32 Phi, exp and GELU' against f64 libm on a
 * strided sweep of the f32 bit patterns with |u| < 20 (~220k values, both
 * signs), against the header's bounds, which a stride of 1 (every f32,
 * run once off-line) gave: 2.59e-7, 8.13e-8, 1.28e-7, rounded up.  The
 * sweep here measures 2.22e-7, 7.0e-8, 1.07e-7. */
START_TEST(fast_gelu_error_bounds)
{
    double e_phi = 0.0, e_exp = 0.0, e_grad = 0.0;
    for (uint32_t sign = 0; sign < 2; sign++)
        for (uint32_t b = 0; b < 0x41A00000u; b += 10007) {
            const uint32_t bits = b | sign << 31;
            float u;
            memcpy(&u, &bits, sizeof u);
            const double ud = u, phi = 0.5 * erfc(-ud / sqrt(2.0)), pdf = exp(-0.5 * ud * ud) / sqrt(2.0 * M_PI);
            e_phi = fmax(e_phi, fabs((double)hk_fast_phi(u) - phi));
            e_grad = fmax(e_grad, fabs((double)hk_fast_gelu_grad(u, (float)phi) - (phi + ud * pdf)));
            const float x = -0.5f * u * u;
            if (x >= -87.0f) e_exp = fmax(e_exp, fabs((double)hk_fast_exp(x) / exp((double)x) - 1.0));
        }
    if (getenv("HK_FAST_VERBOSE"))
        fprintf(stderr, "fast gelu: |Phi err| %.3g, |exp rel err| %.3g, |GELU' err| %.3g\n", e_phi, e_exp, e_grad);
    ck_assert_msg(e_phi <= 2.6e-7, "|Phi err| %.3g > 2.6e-7", e_phi);
    ck_assert_msg(e_exp <= 8.2e-8, "|exp rel err| %.3g > 8.2e-8", e_exp);
    ck_assert_msg(e_grad <= 1.3e-7, "|GELU' err| %.3g > 1.3e-7", e_grad);
    /* edges: Phi(±inf) = 0 / 1, NaN stays NaN, exp underflows to a normal, not 0 or inf */
    ck_assert(hk_fast_phi(-INFINITY) == 0.0f && hk_fast_phi(INFINITY) == 1.0f && isnan(hk_fast_phi(NAN)));
    ck_assert(hk_fast_exp(-1000.0f) > 0.0f && hk_fast_exp(-1000.0f) < 1e-37f && hk_fast_exp(0.0f) == 1.0f);
}
END_TEST

/* The Makefile drops -lgslcblas; the dynamic linker must bind cblas_sgemm to
 * OpenBLAS (libgsl.so still pulls libgslcblas.so in as its own dependency). */
START_TEST(sgemm_is_openblas)
{
    Dl_info info;
    ck_assert(dladdr((void *)cblas_sgemm, &info) != 0);
    ck_assert_msg(info.dli_fname && strstr(info.dli_fname, "openblas"), "cblas_sgemm comes from %s, not OpenBLAS",
                  info.dli_fname ? info.dli_fname : "?");
}
END_TEST

Suite *suite_fast(void)
{
    Suite *s = suite_create("fast");
    TCase *c = tcase_create("core");
    tcase_set_timeout(c, 60);
    tcase_add_test(c, block_dropkey_matches_reference);
    tcase_add_test(c, block_dropattention_matches_reference);
    tcase_add_test(c, block_dylora_truncation_matches_reference);
    tcase_add_test(c, steps_match_reference_every_preset);
    tcase_add_test(c, fast_sampler_draws_the_reference_masks);
    tcase_add_test(c, bad_fast_config_is_refused);
    tcase_add_test(c, sgemm_is_openblas);
    tcase_add_test(c, fast_gelu_error_bounds);
    tcase_add_test(c, backward_after_infer_is_refused);
    tcase_add_test(c, qkv_reuse_only_when_unchanged);
    tcase_add_test(c, golden_encoder_cases_pass_at_f32);
    suite_add_tcase(s, c);
    return s;
}
