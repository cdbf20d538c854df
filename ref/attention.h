/* hkref — plain scalar double reference: multi-head self-attention with LoRA
 * adapters and the dropout hook points of ref/hooks.h.
 *
 * Shapes (row-major): x, out (B,T,C); Q, K, V, ctx (B,T,C) with head h in
 * columns h*D .. h*D+D-1, D = C/NH; logits g and weights w (B,NH,T,T), one
 * softmax per (b,h,query t) row over the T keys s.
 *
 *   Q = proj_q(x), K = proj_k(x), V = proj_v(x)
 *   g_pre[b,h,t,s] = Q[b,t,h,:] . K[b,s,h,:] / sqrt(D)       (HK Eq. 3: g_j)
 *                    (-inf where pad[b,s] = 1: padded key, weight exactly 0)
 *   g     = logits hook(g_pre)          (DropKey: g'_j = m + g_j, HK Eq. 3)
 *   w_pre = softmax(g) per row
 *   w     = weights hook(w_pre)         (DropAttention: w'_j, HK Eq. 1-2)
 *   ctx[b,t,h,:] = sum_s w[b,h,t,s] V[b,s,h,:]
 *   out = proj_o(ctx)
 *
 * proj_i(u) = u W_i^T + b_i, plus, for i in cfg->lora, the LoRA term of
 * ref/lora.h: scale * dropout(u) A_i^T B_i^T, scale = alpha / r.  W_i (C,C),
 * b_i (C) are frozen pre-trained weights; A_i (r,C), B_i (C,ldB) are trained.
 * LoRA input-dropout masks (B*T,C) per projection, 1 = dropped, are optional
 * inputs; the forward never draws random numbers. */
#ifndef HK_ATTENTION_H
#define HK_ATTENTION_H

#include "hooks.h"

#include <stdint.h>

/* Index of a projection in the arrays below. */
enum { HK_ATTN_Q = 0, HK_ATTN_K = 1, HK_ATTN_V = 2, HK_ATTN_O = 3, HK_ATTN_NPROJ = 4 };
#define HK_ATTN_LORA_BIT(i) (1u << (i))
/* The papers' baseline (HK §4, loralib's RoBERTa setting): LoRA on k and v. */
#define HK_ATTN_LORA_KV (HK_ATTN_LORA_BIT(HK_ATTN_K) | HK_ATTN_LORA_BIT(HK_ATTN_V))

typedef struct {
    long B, T, C, NH;  /* batch, length, model dim, heads; C % NH == 0 */
    unsigned lora;     /* bit set of adapted projections (HK_ATTN_LORA_BIT), 0 = none */
    long r;            /* LoRA rank (>= 1 when lora != 0) */
    long ldB;          /* row stride of every B_i, >= r; 0 means r (DyLoRA: r = b, ldB = r_max) */
    double alpha;      /* LoRA scale = alpha / r (papers' baseline: r = 8, alpha = 16) */
    double lora_p;     /* LoRA input-dropout rate; > 0 requires masks */
} hk_attn_config;

/* Parameters, or their gradients (same layout).  Arrays indexed by
 * HK_ATTN_Q..HK_ATTN_O.  As parameters: W[i] required, b[i] may be NULL (no
 * bias), A[i]/B[i] required exactly for adapted projections.  As gradients:
 * any pointer may be NULL to skip that gradient (frozen W, b usually are). */
typedef struct {
    double *W[HK_ATTN_NPROJ]; /* (C,C), PyTorch nn.Linear layout (out,in) */
    double *b[HK_ATTN_NPROJ]; /* (C) */
    double *A[HK_ATTN_NPROJ]; /* (r,C) */
    double *B[HK_ATTN_NPROJ]; /* (C,ldB) */
} hk_attn_params;

/* What the forward saves for the backward. */
typedef struct {
    hk_attn_config cfg;          /* the configuration it was allocated for */
    double *q, *k, *v;           /* (B,T,C) projections */
    double *g_pre;               /* (B,NH,T,T) scaled + padded logits (logits-hook input) */
    double *g;                   /* (B,NH,T,T) post-hook logits (softmax input) */
    double *w_pre;               /* (B,NH,T,T) softmax output (weights-hook input) */
    double *w;                   /* (B,NH,T,T) post-hook weights */
    double *ctx;                 /* (B,T,C) weights . V, input of the O projection */
    double *xa[HK_ATTN_NPROJ];   /* (B*T,r) LoRA intermediates, adapted projections only */
} hk_attn_cache;

/* Validates the configuration (C % NH, positive sizes, r, ldB, alpha, p). */
int hk_attn_config_check(const hk_attn_config *cfg);

/* Allocates zeroed parameter (or gradient) arrays: A/B for the adapted
 * projections always, W/b only when with_frozen != 0 (otherwise NULL, which
 * as a gradient struct means "skip frozen gradients").  On error nothing
 * stays allocated.  hk_attn_params_free frees and NULLs every pointer. */
int hk_attn_params_alloc(hk_attn_params *p, const hk_attn_config *cfg, int with_frozen);
void hk_attn_params_free(hk_attn_params *p);
/* Sets every non-NULL array to 0 (e.g. gradients before a backward). */
int hk_attn_params_zero(hk_attn_params *p, const hk_attn_config *cfg);

int hk_attn_cache_alloc(hk_attn_cache *c, const hk_attn_config *cfg);
void hk_attn_cache_free(hk_attn_cache *c);

/* Forward (math above).
 * x (B,T,C); pad (B,T) of {0,1}, 1 = padded key, or NULL; a batch element
 * with every key padded is an error (HK_EDOM, argument "pad").
 * lora_mask: NULL (no LoRA dropout; requires cfg->lora_p = 0) or an array of
 * HK_ATTN_NPROJ pointers, entry i the (B*T,C) mask of projection i's LoRA
 * input (1 = dropped), read only for adapted projections (may be NULL there
 * when lora_p = 0).  hooks NULL, or a NULL forward/backward pair, mean
 * identity; half a pair is an error (HK_EINVAL).  The logits hook sees padded
 * keys as -inf.  An error of softmax (a hook left a row with no finite
 * logit: DropKey owns that policy) is propagated unchanged.
 * -> out (B,T,C), cache filled. */
int hk_attn_forward(double *out, hk_attn_cache *cache, const double *x, const hk_attn_params *p,
                    const hk_attn_config *cfg, const uint8_t *pad, const uint8_t *const *lora_mask,
                    const hk_attn_hooks *hooks);
/* Backward of the forward that filled `cache` (same x, p, pad, lora_mask, hooks).
 * dout (B,T,C) -> dx (B,T,C) += (may be NULL), grad->{W,b,A,B}[i] += (each may be NULL;
 * grad itself may be NULL: dx only).
 * Padded keys receive no gradient (their -inf logit is a constant).
 * Scratch memory is allocated internally (HK_ENOMEM if that fails). */
int hk_attn_backward(double *dx, hk_attn_params *grad, const double *dout, const hk_attn_cache *cache,
                     const double *x, const hk_attn_params *p, const hk_attn_config *cfg, const uint8_t *pad,
                     const uint8_t *const *lora_mask, const hk_attn_hooks *hooks);

#endif
