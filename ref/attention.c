/* hkref — plain scalar double reference: multi-head self-attention with LoRA
 * adapters and dropout hook points (see attention.h for the math).
 * Storage: x, Q, K, V, ctx, out (B,T,C) row-major, head h in columns
 * h*D .. h*D+D-1; logits / weights (B,NH,T,T) row-major. */
#include "attention.h"

#include "error.h"
#include "linear.h"
#include "lora.h"
#include "rng.h"
#include "softmax.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const proj_name[HK_ATTN_NPROJ] = {"q", "k", "v", "o"};

static int adapted(const hk_attn_config *cfg, int i) { return (cfg->lora & HK_ATTN_LORA_BIT(i)) != 0; }
static long ldb_of(const hk_attn_config *cfg) { return cfg->ldB ? cfg->ldB : cfg->r; }

int hk_attn_config_check(const hk_attn_config *cfg)
{
    HK_REQUIRE_PTR(cfg);
    HK_REQUIRE(cfg->B > 0 && cfg->T > 0 && cfg->C > 0 && cfg->NH > 0, HK_EINVAL,
               "attention cfg shape (B=%ld, T=%ld, C=%ld, NH=%ld) must be positive", cfg->B, cfg->T, cfg->C,
               cfg->NH);
    HK_REQUIRE(cfg->C % cfg->NH == 0, HK_ESHAPE, "attention cfg: C=%ld is not divisible by NH=%ld heads", cfg->C,
               cfg->NH);
    /* Keeps B*NH*T*T and B*T*C far from LONG_MAX (a reference runs tiny shapes). */
    HK_REQUIRE(cfg->B <= 1L << 12 && cfg->T <= 1L << 12 && cfg->C <= 1L << 14 && cfg->NH <= cfg->C, HK_ENOMEM,
               "attention cfg shape (B=%ld, T=%ld, C=%ld) is too large for the reference", cfg->B, cfg->T, cfg->C);
    HK_REQUIRE(cfg->lora < (1u << HK_ATTN_NPROJ), HK_EINVAL,
               "attention cfg.lora=0x%x has bits outside {q,k,v,o}", cfg->lora);
    if (cfg->lora) {
        HK_REQUIRE(cfg->r > 0 && cfg->r <= cfg->C, HK_EINVAL, "attention cfg: LoRA rank r=%ld must be in [1, C=%ld]",
                   cfg->r, cfg->C);
        HK_REQUIRE(cfg->ldB == 0 || cfg->ldB >= cfg->r, HK_EINVAL,
                   "attention cfg: ldB=%ld must be 0 (= r) or >= r=%ld", cfg->ldB, cfg->r);
        HK_REQUIRE(isfinite(cfg->alpha), HK_ENAN, "attention cfg: alpha=%g must be finite", cfg->alpha);
    }
    HK_TRY(hk_check_rate(cfg->lora_p, "attention cfg.lora_p"));
    return HK_OK;
}

/* ---- parameter and cache structs ---------------------------------------- */

static double *zalloc(long n) { return calloc((size_t)n, sizeof(double)); }

void hk_attn_params_free(hk_attn_params *p)
{
    if (!p) return;
    for (int i = 0; i < HK_ATTN_NPROJ; i++) {
        free(p->W[i]);
        free(p->b[i]);
        free(p->A[i]);
        free(p->B[i]);
        p->W[i] = p->b[i] = p->A[i] = p->B[i] = NULL;
    }
}

int hk_attn_params_alloc(hk_attn_params *p, const hk_attn_config *cfg, int with_frozen)
{
    HK_REQUIRE_PTR(p);
    HK_TRY(hk_attn_config_check(cfg));
    memset(p, 0, sizeof *p);
    const long C = cfg->C;
    int ok = 1;
    for (int i = 0; i < HK_ATTN_NPROJ; i++) {
        if (with_frozen) {
            ok &= (p->W[i] = zalloc(C * C)) != NULL;
            ok &= (p->b[i] = zalloc(C)) != NULL;
        }
        if (adapted(cfg, i)) {
            ok &= (p->A[i] = zalloc(cfg->r * C)) != NULL;
            ok &= (p->B[i] = zalloc(C * ldb_of(cfg))) != NULL;
        }
    }
    if (!ok) {
        hk_attn_params_free(p);
        HK_ERROR(HK_ENOMEM, "attention parameter allocation failed (C=%ld)", C);
    }
    return HK_OK;
}

int hk_attn_params_zero(hk_attn_params *p, const hk_attn_config *cfg)
{
    HK_REQUIRE_PTR(p);
    HK_TRY(hk_attn_config_check(cfg));
    const long C = cfg->C;
    for (int i = 0; i < HK_ATTN_NPROJ; i++) {
        if (p->W[i]) memset(p->W[i], 0, sizeof(double) * (size_t)(C * C));
        if (p->b[i]) memset(p->b[i], 0, sizeof(double) * (size_t)C);
        if (adapted(cfg, i) && p->A[i]) memset(p->A[i], 0, sizeof(double) * (size_t)(cfg->r * C));
        if (adapted(cfg, i) && p->B[i]) memset(p->B[i], 0, sizeof(double) * (size_t)(C * ldb_of(cfg)));
    }
    return HK_OK;
}

void hk_attn_cache_free(hk_attn_cache *c)
{
    if (!c) return;
    double **bufs[] = {&c->q, &c->k, &c->v, &c->g_pre, &c->g, &c->w_pre, &c->w, &c->ctx};
    for (size_t j = 0; j < sizeof bufs / sizeof bufs[0]; j++) {
        free(*bufs[j]);
        *bufs[j] = NULL;
    }
    for (int i = 0; i < HK_ATTN_NPROJ; i++) {
        free(c->xa[i]);
        c->xa[i] = NULL;
    }
}

int hk_attn_cache_alloc(hk_attn_cache *c, const hk_attn_config *cfg)
{
    HK_REQUIRE_PTR(c);
    HK_TRY(hk_attn_config_check(cfg));
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    const long BTC = cfg->B * cfg->T * cfg->C, L = cfg->B * cfg->NH * cfg->T * cfg->T;
    int ok = (c->q = zalloc(BTC)) && (c->k = zalloc(BTC)) && (c->v = zalloc(BTC)) && (c->ctx = zalloc(BTC)) &&
             (c->g_pre = zalloc(L)) && (c->g = zalloc(L)) && (c->w_pre = zalloc(L)) && (c->w = zalloc(L));
    for (int i = 0; ok && i < HK_ATTN_NPROJ; i++)
        if (adapted(cfg, i)) ok = (c->xa[i] = zalloc(cfg->B * cfg->T * cfg->r)) != NULL;
    if (!ok) {
        hk_attn_cache_free(c);
        HK_ERROR(HK_ENOMEM, "attention cache allocation failed (B=%ld, NH=%ld, T=%ld)", cfg->B, cfg->NH, cfg->T);
    }
    return HK_OK;
}

/* ---- argument validation shared by forward and backward ----------------- */

static int check_params(const hk_attn_params *p, const hk_attn_config *cfg)
{
    HK_REQUIRE_PTR(p);
    const long C = cfg->C;
    for (int i = 0; i < HK_ATTN_NPROJ; i++) {
        char what[32];
        HK_REQUIRE(p->W[i] != NULL, HK_EINVAL, "attention parameter 'W[%s]' is NULL", proj_name[i]);
        snprintf(what, sizeof what, "attention W[%s]", proj_name[i]);
        HK_TRY(hk_check_finite(p->W[i], C * C, what));
        if (p->b[i]) {
            snprintf(what, sizeof what, "attention b[%s]", proj_name[i]);
            HK_TRY(hk_check_finite(p->b[i], C, what));
        }
        if (!adapted(cfg, i)) continue;
        HK_REQUIRE(p->A[i] != NULL && p->B[i] != NULL, HK_EINVAL,
                   "attention LoRA parameter 'A[%s]' or 'B[%s]' is NULL but cfg.lora adapts %s", proj_name[i],
                   proj_name[i], proj_name[i]);
        snprintf(what, sizeof what, "attention A[%s]", proj_name[i]);
        HK_TRY(hk_check_finite(p->A[i], cfg->r * C, what));
        snprintf(what, sizeof what, "attention B[%s]", proj_name[i]);
        HK_TRY(hk_check_finite(p->B[i], C * ldb_of(cfg), what));
    }
    return HK_OK;
}

/* pad (B,T) of {0,1}, 1 = padded key; every batch element keeps >= 1 key. */
static int check_pad(const uint8_t *pad, long B, long T)
{
    if (!pad) return HK_OK;
    for (long b = 0; b < B; b++) {
        long kept = 0;
        for (long s = 0; s < T; s++) {
            uint8_t m = pad[b * T + s];
            HK_REQUIRE(m <= 1, HK_EDOM, "attention pad[b=%ld,s=%ld] = %u; entries must be 0 (key) or 1 (padded)", b,
                       s, (unsigned)m);
            kept += !m;
        }
        HK_REQUIRE(kept > 0, HK_EDOM,
                   "attention pad: batch element b=%ld has every key padded (no key to attend to)", b);
    }
    return HK_OK;
}

static const uint8_t *mask_of(const uint8_t *const *lora_mask, int i)
{
    return lora_mask ? lora_mask[i] : NULL;
}

static int check_masks(const uint8_t *const *lora_mask, const hk_attn_config *cfg)
{
    for (int i = 0; i < HK_ATTN_NPROJ; i++)
        if (adapted(cfg, i))
            HK_REQUIRE(mask_of(lora_mask, i) != NULL || cfg->lora_p == 0.0, HK_EINVAL,
                       "attention lora_mask[%s] is NULL but cfg.lora_p=%g > 0 (1 = dropped masks are inputs)",
                       proj_name[i], cfg->lora_p);
    return HK_OK;
}

/* A hook is a forward/backward pair: one without the other would make the
 * backward silently treat a transformed quantity as the identity. */
static int check_hooks(const hk_attn_hooks *h)
{
    if (!h) return HK_OK;
    HK_REQUIRE(!h->logits_forward == !h->logits_backward, HK_EINVAL,
               "attention hooks: logits_forward and logits_backward must both be set or both NULL");
    HK_REQUIRE(!h->weights_forward == !h->weights_backward, HK_EINVAL,
               "attention hooks: weights_forward and weights_backward must both be set or both NULL");
    return HK_OK;
}

static int check_common(const hk_attn_params *p, const hk_attn_config *cfg, const uint8_t *pad,
                        const uint8_t *const *lora_mask, const hk_attn_hooks *hooks)
{
    HK_TRY(check_hooks(hooks));
    HK_TRY(hk_attn_config_check(cfg));
    HK_TRY(check_params(p, cfg));
    HK_TRY(check_pad(pad, cfg->B, cfg->T));
    HK_TRY(check_masks(lora_mask, cfg));
    return HK_OK;
}

/* c is non-NULL (checked by the callers, whose argument is 'cache'). */
static int check_cache(const hk_attn_cache *c, const hk_attn_config *cfg)
{
    HK_REQUIRE(c->q && c->k && c->v && c->g_pre && c->g && c->w_pre && c->w && c->ctx, HK_EINVAL,
               "attention cache has NULL buffers: allocate it with hk_attn_cache_alloc");
    const hk_attn_config *a = &c->cfg;
    HK_REQUIRE(a->B == cfg->B && a->T == cfg->T && a->C == cfg->C && a->NH == cfg->NH && a->lora == cfg->lora &&
                   a->r == cfg->r,
               HK_ESHAPE, "attention cache was allocated for (B=%ld,T=%ld,C=%ld,NH=%ld,lora=0x%x,r=%ld), not cfg",
               a->B, a->T, a->C, a->NH, a->lora, a->r);
    return HK_OK;
}

/* ---- one projection: frozen linear, or LoRA linear ---------------------- */

// u (N,C) -> y (N,C); xa (N,r) saved when adapted
static int proj_forward(double *y, double *xa, const double *u, const hk_attn_params *p, int i,
                        const hk_attn_config *cfg, const uint8_t *const *lora_mask)
{
    const long N = cfg->B * cfg->T, C = cfg->C;
    if (!adapted(cfg, i)) return hk_linear_forward(y, u, p->W[i], p->b[i], N, C, C);
    const hk_lora_dims d = {N, C, C, cfg->r, ldb_of(cfg), cfg->alpha / (double)cfg->r};
    return hk_lora_forward(y, xa, u, p->W[i], p->b[i], p->A[i], p->B[i], mask_of(lora_mask, i), cfg->lora_p, &d);
}

// dy (N,C) -> du (N,C) +=, grad W, b, A, B += (each may be NULL)
static int proj_backward(double *du, hk_attn_params *grad, const double *dy, const double *u, const double *xa,
                         const hk_attn_params *p, int i, const hk_attn_config *cfg, const uint8_t *const *lora_mask)
{
    const long N = cfg->B * cfg->T, C = cfg->C;
    double *gW = grad ? grad->W[i] : NULL, *gb = grad ? grad->b[i] : NULL;
    if (!adapted(cfg, i)) return hk_linear_backward(du, gW, gb, dy, u, p->W[i], N, C, C);
    /* Frozen W, b see the undropped input: their gradient is the plain linear one. */
    if (gW || gb) HK_TRY(hk_linear_backward(NULL, gW, gb, dy, u, p->W[i], N, C, C));
    const hk_lora_dims d = {N, C, C, cfg->r, ldb_of(cfg), cfg->alpha / (double)cfg->r};
    return hk_lora_backward(du, grad ? grad->A[i] : NULL, grad ? grad->B[i] : NULL, dy, u, xa, p->W[i], p->A[i],
                            p->B[i], mask_of(lora_mask, i), cfg->lora_p, &d);
}

/* ---- forward / backward -------------------------------------------------- */

/* HK Eq. 3 notation: g = logits, w = weights.  For each (b,h):
 *   g_pre[t,s] = (sum_d Q[b,t,hD+d] K[b,s,hD+d]) / sqrt(D), or -inf if pad[b,s]
 *   g = hook(g_pre); w_pre = softmax_s(g); w = hook(w_pre)
 *   ctx[b,t,hD+d] = sum_s w[t,s] V[b,s,hD+d];   out = proj_o(ctx).
 * Storage as in the banner; every intermediate lands in the cache. */
// x (B,T,C), pad (B,T)|NULL, lora_mask[4] (B*T,C)|NULL -> out (B,T,C), cache
int hk_attn_forward(double *out, hk_attn_cache *cache, const double *x, const hk_attn_params *p,
                    const hk_attn_config *cfg, const uint8_t *pad, const uint8_t *const *lora_mask,
                    const hk_attn_hooks *hooks)
{
    HK_REQUIRE_PTR(out);
    HK_REQUIRE_PTR(cache);
    HK_REQUIRE_PTR(x);
    HK_TRY(check_common(p, cfg, pad, lora_mask, hooks));
    HK_TRY(check_cache(cache, cfg));
    const long B = cfg->B, T = cfg->T, C = cfg->C, NH = cfg->NH, D = C / NH;
    const long L = B * NH * T * T;
    HK_TRY(hk_check_finite(x, B * T * C, "attention input x"));
    HK_TRY(proj_forward(cache->q, cache->xa[HK_ATTN_Q], x, p, HK_ATTN_Q, cfg, lora_mask));
    HK_TRY(proj_forward(cache->k, cache->xa[HK_ATTN_K], x, p, HK_ATTN_K, cfg, lora_mask));
    HK_TRY(proj_forward(cache->v, cache->xa[HK_ATTN_V], x, p, HK_ATTN_V, cfg, lora_mask));
    const double sqrtD = sqrt((double)D); /* divide, as HF RoBERTa does: scores / sqrt(head_size) */
    for (long b = 0; b < B; b++)
        for (long h = 0; h < NH; h++)
            for (long t = 0; t < T; t++) {
                const double *qr = cache->q + (b * T + t) * C + h * D;
                double *gr = cache->g_pre + ((b * NH + h) * T + t) * T;
                for (long s = 0; s < T; s++) {
                    if (pad && pad[b * T + s]) {
                        gr[s] = -INFINITY;
                        continue;
                    }
                    const double *kr = cache->k + (b * T + s) * C + h * D;
                    double dot = 0.0;
                    for (long d = 0; d < D; d++) dot += qr[d] * kr[d];
                    gr[s] = dot / sqrtD;
                }
            }
    if (hooks && hooks->logits_forward)
        HK_TRY(hooks->logits_forward(hooks->ctx, cache->g, cache->g_pre, B, NH, T));
    else
        memcpy(cache->g, cache->g_pre, sizeof(double) * (size_t)L);
    HK_TRY(hk_softmax_forward(cache->w_pre, cache->g, B * NH * T, T));
    if (hooks && hooks->weights_forward)
        HK_TRY(hooks->weights_forward(hooks->ctx, cache->w, cache->w_pre, B, NH, T));
    else
        memcpy(cache->w, cache->w_pre, sizeof(double) * (size_t)L);
    for (long b = 0; b < B; b++)
        for (long h = 0; h < NH; h++)
            for (long t = 0; t < T; t++) {
                const double *wr = cache->w + ((b * NH + h) * T + t) * T;
                double *cr = cache->ctx + (b * T + t) * C + h * D;
                for (long d = 0; d < D; d++) cr[d] = 0.0;
                for (long s = 0; s < T; s++) {
                    const double *vr = cache->v + (b * T + s) * C + h * D;
                    for (long d = 0; d < D; d++) cr[d] += wr[s] * vr[d];
                }
            }
    return proj_forward(out, cache->xa[HK_ATTN_O], cache->ctx, p, HK_ATTN_O, cfg, lora_mask);
}

/* Reverse of the forward, stage by stage:
 *   dctx = proj_o^T(dout);  dw[t,s] = sum_d dctx[t,hD+d] V[s,hD+d];  dV[s] += sum_t w[t,s] dctx[t]
 *   dw_pre = weights-hook^T(dw);  dg = softmax^T(dw_pre);  dg_pre = logits-hook^T(dg)
 *   for keys s not padded (g_pre finite; a hook's -inf entries get dg = 0 from softmax^T):
 *     dQ[t] += dg_pre[t,s] K[s] / sqrt(D),  dK[s] += dg_pre[t,s] Q[t] / sqrt(D)
 *   dx += proj_q^T(dQ) + proj_k^T(dK) + proj_v^T(dV). */
// dout (B,T,C) -> dx (B,T,C) +=, grad += (any member NULL to skip)
int hk_attn_backward(double *dx, hk_attn_params *grad, const double *dout, const hk_attn_cache *cache,
                     const double *x, const hk_attn_params *p, const hk_attn_config *cfg, const uint8_t *pad,
                     const uint8_t *const *lora_mask, const hk_attn_hooks *hooks)
{
    HK_REQUIRE_PTR(dout);
    HK_REQUIRE_PTR(cache);
    HK_REQUIRE_PTR(x);
    HK_TRY(check_common(p, cfg, pad, lora_mask, hooks));
    HK_TRY(check_cache(cache, cfg));
    const long B = cfg->B, T = cfg->T, C = cfg->C, NH = cfg->NH, D = C / NH;
    const long BTC = B * T * C, L = B * NH * T * T;
    HK_TRY(hk_check_finite(dout, BTC, "attention upstream gradient dout"));
    /* One zeroed block: dctx, dq, dk, dv (B,T,C); two (B,NH,T,T) buffers, dw then
     * dg in the first, dw_pre then dg_pre in the second (each re-zeroed when its
     * first use is over: the backward holds 2, not 4, of the T x T tensors). */
    double *work = calloc((size_t)(4 * BTC + 2 * L), sizeof(double));
    if (!work) HK_ERROR(HK_ENOMEM, "attention backward scratch allocation failed (B=%ld, T=%ld)", B, T);
    double *dctx = work, *dq = dctx + BTC, *dk = dq + BTC, *dv = dk + BTC;
    double *dw = dv + BTC, *dw_pre = dw + L, *dg = dw, *dg_pre = dw_pre;
    int st = proj_backward(dctx, grad, dout, cache->ctx, cache->xa[HK_ATTN_O], p, HK_ATTN_O, cfg, lora_mask);
    if (st) goto done;
    for (long b = 0; b < B; b++)
        for (long h = 0; h < NH; h++)
            for (long t = 0; t < T; t++) {
                const long row = ((b * NH + h) * T + t) * T;
                const double *dcr = dctx + (b * T + t) * C + h * D;
                for (long s = 0; s < T; s++) {
                    const double *vr = cache->v + (b * T + s) * C + h * D;
                    double *dvr = dv + (b * T + s) * C + h * D;
                    double acc = 0.0, ws = cache->w[row + s];
                    for (long d = 0; d < D; d++) {
                        acc += dcr[d] * vr[d];
                        dvr[d] += ws * dcr[d];
                    }
                    dw[row + s] = acc;
                }
            }
    if (hooks && hooks->weights_backward)
        st = hooks->weights_backward(hooks->ctx, dw_pre, dw, cache->w_pre, cache->w, B, NH, T);
    else
        memcpy(dw_pre, dw, sizeof(double) * (size_t)L);
    if (st) goto done;
    memset(dg, 0, sizeof(double) * (size_t)L); /* dw is used up */
    if ((st = hk_softmax_backward(dg, dw_pre, cache->w_pre, B * NH * T, T))) goto done;
    memset(dg_pre, 0, sizeof(double) * (size_t)L); /* dw_pre is used up */
    if (hooks && hooks->logits_backward)
        st = hooks->logits_backward(hooks->ctx, dg_pre, dg, cache->g_pre, B, NH, T);
    else
        memcpy(dg_pre, dg, sizeof(double) * (size_t)L);
    if (st) goto done;
    const double sqrtD = sqrt((double)D);
    for (long b = 0; b < B; b++)
        for (long h = 0; h < NH; h++)
            for (long t = 0; t < T; t++) {
                const long row = ((b * NH + h) * T + t) * T;
                const double *qr = cache->q + (b * T + t) * C + h * D;
                double *dqr = dq + (b * T + t) * C + h * D;
                for (long s = 0; s < T; s++) {
                    /* A padded key's -inf logit is a constant, not a function of Q, K. */
                    if (cache->g_pre[row + s] == -INFINITY) continue;
                    const double gsc = dg_pre[row + s] / sqrtD;
                    const double *kr = cache->k + (b * T + s) * C + h * D;
                    double *dkr = dk + (b * T + s) * C + h * D;
                    for (long d = 0; d < D; d++) {
                        dqr[d] += gsc * kr[d];
                        dkr[d] += gsc * qr[d];
                    }
                }
            }
    const double *dproj[3] = {dq, dk, dv};
    for (int i = HK_ATTN_Q; i <= HK_ATTN_V && !st; i++)
        st = proj_backward(dx, grad, dproj[i], x, cache->xa[i], p, i, cfg, lora_mask);
done:
    free(work);
    return st;
}
