/* hkref — plain scalar double reference: post-LN encoder block (see
 * encoder.h for the math).  Storage row-major: (B,T,C) activations, (B,T,F)
 * FFN inner activations; N = B*T rows for the position-wise parts. */
#include "encoder.h"

#include "error.h"
#include "layernorm.h"
#include "linear.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The frozen non-attention arrays of a params struct, with their lengths. */
enum { ENC_NFROZEN = 8 };
static void frozen_list(double **slot[ENC_NFROZEN], long len[ENC_NFROZEN], const char *name[ENC_NFROZEN],
                        hk_enc_params *p, const hk_enc_config *cfg)
{
    const long C = cfg->attn.C, F = cfg->F;
    double **s[ENC_NFROZEN] = {&p->ln1_w, &p->ln1_b, &p->W1, &p->b1, &p->W2, &p->b2, &p->ln2_w, &p->ln2_b};
    const long l[ENC_NFROZEN] = {C, C, F * C, F, C * F, C, C, C};
    static const char *const nm[ENC_NFROZEN] = {"ln1_w", "ln1_b", "W1", "b1", "W2", "b2", "ln2_w", "ln2_b"};
    for (int j = 0; j < ENC_NFROZEN; j++) {
        slot[j] = s[j];
        len[j] = l[j];
        if (name) name[j] = nm[j];
    }
}

int hk_enc_config_check(const hk_enc_config *cfg)
{
    HK_REQUIRE_PTR(cfg);
    HK_TRY(hk_attn_config_check(&cfg->attn));
    HK_REQUIRE(cfg->F > 0 && cfg->F <= 1L << 16, HK_EINVAL, "encoder cfg: FFN dim F=%ld must be in [1, 65536]",
               cfg->F);
    HK_REQUIRE(isfinite(cfg->ln_eps) && cfg->ln_eps > 0, HK_EDOM,
               "encoder cfg: ln_eps=%g must be finite and > 0 (RoBERTa: 1e-5)", cfg->ln_eps);
    HK_REQUIRE(cfg->gelu == HK_GELU_ERF || cfg->gelu == HK_GELU_TANH, HK_EINVAL,
               "encoder cfg: gelu=%d must be HK_GELU_ERF or HK_GELU_TANH", (int)cfg->gelu);
    return HK_OK;
}

void hk_enc_params_free(hk_enc_params *p)
{
    if (!p) return;
    hk_attn_params_free(&p->attn);
    free(p->ln1_w), free(p->ln1_b), free(p->W1), free(p->b1);
    free(p->W2), free(p->b2), free(p->ln2_w), free(p->ln2_b);
    p->ln1_w = p->ln1_b = p->W1 = p->b1 = p->W2 = p->b2 = p->ln2_w = p->ln2_b = NULL;
}

int hk_enc_params_alloc(hk_enc_params *p, const hk_enc_config *cfg, int with_frozen)
{
    HK_REQUIRE_PTR(p);
    HK_TRY(hk_enc_config_check(cfg));
    memset(p, 0, sizeof *p);
    HK_TRY(hk_attn_params_alloc(&p->attn, &cfg->attn, with_frozen));
    if (!with_frozen) return HK_OK;
    double **slot[ENC_NFROZEN];
    long len[ENC_NFROZEN];
    frozen_list(slot, len, NULL, p, cfg);
    for (int j = 0; j < ENC_NFROZEN; j++)
        if (!(*slot[j] = calloc((size_t)len[j], sizeof(double)))) {
            hk_enc_params_free(p);
            HK_ERROR(HK_ENOMEM, "encoder parameter allocation failed (F=%ld)", cfg->F);
        }
    return HK_OK;
}

int hk_enc_params_zero(hk_enc_params *p, const hk_enc_config *cfg)
{
    HK_REQUIRE_PTR(p);
    HK_TRY(hk_enc_config_check(cfg));
    HK_TRY(hk_attn_params_zero(&p->attn, &cfg->attn));
    double **slot[ENC_NFROZEN];
    long len[ENC_NFROZEN];
    frozen_list(slot, len, NULL, p, cfg);
    for (int j = 0; j < ENC_NFROZEN; j++)
        if (*slot[j]) memset(*slot[j], 0, sizeof(double) * (size_t)len[j]);
    return HK_OK;
}

/* The cache's own buffers (attention cache aside), with their lengths. */
enum { ENC_NCACHE = 12 };
static void cache_list(double **slot[ENC_NCACHE], long len[ENC_NCACHE], hk_enc_cache *c, const hk_enc_config *cfg)
{
    const long N = cfg->attn.B * cfg->attn.T, NC = N * cfg->attn.C, NF = N * cfg->F;
    double **s[ENC_NCACHE] = {&c->a,  &c->r1, &c->ln1_mean, &c->ln1_rstd, &c->x1,       &c->u,
                              &c->gu, &c->h,  &c->hh,       &c->r2,       &c->ln2_mean, &c->ln2_rstd};
    const long l[ENC_NCACHE] = {NC, NC, N, N, NC, NF, NF, NC, NC, NC, N, N};
    for (int j = 0; j < ENC_NCACHE; j++) slot[j] = s[j], len[j] = l[j];
}

void hk_enc_cache_free(hk_enc_cache *c)
{
    if (!c) return;
    hk_attn_cache_free(&c->attn);
    double **slot[ENC_NCACHE];
    long len[ENC_NCACHE];
    cache_list(slot, len, c, &c->cfg);
    for (int j = 0; j < ENC_NCACHE; j++) free(*slot[j]), *slot[j] = NULL;
}

int hk_enc_cache_alloc(hk_enc_cache *c, const hk_enc_config *cfg)
{
    HK_REQUIRE_PTR(c);
    HK_TRY(hk_enc_config_check(cfg));
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    HK_TRY(hk_attn_cache_alloc(&c->attn, &cfg->attn));
    double **slot[ENC_NCACHE];
    long len[ENC_NCACHE];
    cache_list(slot, len, c, cfg);
    int ok = 1;
    for (int j = 0; ok && j < ENC_NCACHE; j++) ok = (*slot[j] = calloc((size_t)len[j], sizeof(double))) != NULL;
    if (!ok) {
        hk_enc_cache_free(c);
        HK_ERROR(HK_ENOMEM, "encoder cache allocation failed (F=%ld)", cfg->F);
    }
    return HK_OK;
}

static int check_frozen(const hk_enc_params *p, const hk_enc_config *cfg)
{
    HK_REQUIRE_PTR(p);
    double **slot[ENC_NFROZEN];
    long len[ENC_NFROZEN];
    const char *name[ENC_NFROZEN];
    frozen_list(slot, len, name, (hk_enc_params *)p, cfg); /* read only: the cast only lists the fields */
    for (int j = 0; j < ENC_NFROZEN; j++) {
        HK_REQUIRE(*slot[j] != NULL, HK_EINVAL, "encoder parameter '%s' is NULL", name[j]);
        char what[32];
        snprintf(what, sizeof what, "encoder %s", name[j]);
        HK_TRY(hk_check_finite(*slot[j], len[j], what));
    }
    return HK_OK;
}

/* c is non-NULL (checked by the callers, whose argument is 'cache'). */
static int check_cache(const hk_enc_cache *c, const hk_enc_config *cfg)
{
    HK_REQUIRE(c->a && c->x1 && c->u && c->h && c->hh && c->r2 && c->ln2_rstd, HK_EINVAL,
               "encoder cache has NULL buffers: allocate it with hk_enc_cache_alloc");
    HK_REQUIRE(c->cfg.F == cfg->F, HK_ESHAPE, "encoder cache was allocated for F=%ld, cfg has F=%ld", c->cfg.F,
               cfg->F);
    return HK_OK; /* the attention cache checks B, T, C, NH, LoRA itself */
}

/* Checks shared by forward and backward (pad, masks, attention hooks: checked by attention). */
static int check_call(const hk_enc_cache *c, const hk_enc_params *p, const hk_enc_config *cfg,
                      const hk_hidden_hook *hidden)
{
    HK_REQUIRE(!hidden || !hidden->forward == !hidden->backward, HK_EINVAL,
               "encoder hidden hook: forward and backward must both be set or both NULL");
    HK_TRY(hk_enc_config_check(cfg));
    HK_TRY(check_frozen(p, cfg));
    return check_cache(c, cfg);
}

/* Post-LN block (RoBERTa):  a = Attn(x);  x1 = LN1(x + a);
 *   h = GELU(x1 W1^T + b1) W2^T + b2;  h' = hidden_hook(h);  y = LN2(x1 + h').
 * Storage (B,T,C) / (B,T,F) row-major; every intermediate lands in the cache. */
// x (B,T,C), pad (B,T)|NULL, lora_mask[4]|NULL -> y (B,T,C), cache
int hk_enc_forward(double *y, hk_enc_cache *cache, const double *x, const hk_enc_params *p,
                   const hk_enc_config *cfg, const uint8_t *pad, const uint8_t *const *lora_mask,
                   const hk_attn_hooks *attn_hooks, const hk_hidden_hook *hidden)
{
    HK_REQUIRE_PTR(y);
    HK_REQUIRE_PTR(cache);
    HK_REQUIRE_PTR(x);
    HK_TRY(check_call(cache, p, cfg, hidden));
    const long B = cfg->attn.B, T = cfg->attn.T, C = cfg->attn.C, F = cfg->F, N = B * T;
    HK_TRY(hk_attn_forward(cache->a, &cache->attn, x, &p->attn, &cfg->attn, pad, lora_mask, attn_hooks));
    for (long i = 0; i < N * C; i++) cache->r1[i] = x[i] + cache->a[i];
    HK_TRY(hk_layernorm_forward(cache->x1, cache->ln1_mean, cache->ln1_rstd, cache->r1, p->ln1_w, p->ln1_b,
                                cfg->ln_eps, N, C));
    HK_TRY(hk_linear_forward(cache->u, cache->x1, p->W1, p->b1, N, C, F));
    HK_TRY(hk_gelu_forward(cache->gu, cache->u, N * F, cfg->gelu));
    HK_TRY(hk_linear_forward(cache->h, cache->gu, p->W2, p->b2, N, F, C));
    if (hidden && hidden->forward)
        HK_TRY(hidden->forward(hidden->ctx, cache->hh, cache->h, B, T, C));
    else
        memcpy(cache->hh, cache->h, sizeof(double) * (size_t)(N * C));
    for (long i = 0; i < N * C; i++) cache->r2[i] = cache->x1[i] + cache->hh[i];
    return hk_layernorm_forward(y, cache->ln2_mean, cache->ln2_rstd, cache->r2, p->ln2_w, p->ln2_b, cfg->ln_eps,
                                N, C);
}

/* Reverse order:  dr2 = LN2^T(dy);  dh = hook^T(dr2);  dgu = W2-linear^T(dh);
 *   du = GELU'(u) dgu;  dx1 = dr2 + W1-linear^T(du);  dr1 = LN1^T(dx1);
 *   dx += dr1 + Attn^T(dr1). */
// dy (B,T,C) -> dx (B,T,C) +=, grad += (any member NULL to skip)
int hk_enc_backward(double *dx, hk_enc_params *grad, const double *dy, const hk_enc_cache *cache,
                    const double *x, const hk_enc_params *p, const hk_enc_config *cfg, const uint8_t *pad,
                    const uint8_t *const *lora_mask, const hk_attn_hooks *attn_hooks,
                    const hk_hidden_hook *hidden)
{
    HK_REQUIRE_PTR(dy);
    HK_REQUIRE_PTR(cache);
    HK_REQUIRE_PTR(x);
    HK_TRY(check_call(cache, p, cfg, hidden));
    const long B = cfg->attn.B, T = cfg->attn.T, C = cfg->attn.C, F = cfg->F, N = B * T;
    HK_TRY(hk_check_finite(dy, N * C, "encoder upstream gradient dy"));
    /* One zeroed block: dr2, dh, dx1, dr1 (N,C); dgu, du (N,F). */
    double *work = calloc((size_t)(4 * N * C + 2 * N * F), sizeof(double));
    if (!work) HK_ERROR(HK_ENOMEM, "encoder backward scratch allocation failed (N=%ld, F=%ld)", N, F);
    double *dr2 = work, *dh = dr2 + N * C, *dx1 = dh + N * C, *dr1 = dx1 + N * C, *dgu = dr1 + N * C,
           *du = dgu + N * F;
    hk_enc_params none = {0};
    hk_enc_params *g = grad ? grad : &none;
    int st = hk_layernorm_backward(dr2, g->ln2_w, g->ln2_b, dy, cache->r2, p->ln2_w, cache->ln2_mean,
                                   cache->ln2_rstd, N, C);
    if (st) goto done;
    if (hidden && hidden->backward)
        st = hidden->backward(hidden->ctx, dh, dr2, cache->h, B, T, C);
    else
        memcpy(dh, dr2, sizeof(double) * (size_t)(N * C));
    if (st) goto done;
    memcpy(dx1, dr2, sizeof(double) * (size_t)(N * C)); /* residual x1 -> r2 */
    if ((st = hk_linear_backward(dgu, g->W2, g->b2, dh, cache->gu, p->W2, N, F, C))) goto done;
    if ((st = hk_gelu_backward(du, dgu, cache->u, N * F, cfg->gelu))) goto done;
    if ((st = hk_linear_backward(dx1, g->W1, g->b1, du, cache->x1, p->W1, N, C, F))) goto done;
    if ((st = hk_layernorm_backward(dr1, g->ln1_w, g->ln1_b, dx1, cache->r1, p->ln1_w, cache->ln1_mean,
                                    cache->ln1_rstd, N, C)))
        goto done;
    if (dx)
        for (long i = 0; i < N * C; i++) dx[i] += dr1[i]; /* residual x -> r1 */
    st = hk_attn_backward(dx, &g->attn, dr1, &cache->attn, x, &p->attn, &cfg->attn, pad, lora_mask, attn_hooks);
done:
    free(work);
    return st;
}
