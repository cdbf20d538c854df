/* hkref — plain scalar double reference: the post-LN transformer encoder
 * block, as in BERT / RoBERTa (HF RobertaLayer):
 *
 *   a  = Attn(x)                         (ref/attention.h: LoRA, padding, attention hooks)
 *   x1 = LN1(x + a)
 *   u  = x1 W1^T + b1                    (B,T,F)
 *   h  = GELU(u) W2^T + b2               (B,T,C)  output of the FFN's second linear
 *   h' = hidden_hook(h)                  (HiddenCut acts here: before residual + LayerNorm)
 *   y  = LN2(x1 + h')
 *
 * Shapes: x, y (B,T,C); W1 (F,C), b1 (F); W2 (C,F), b2 (C); LayerNorm
 * weight / bias (C).  The FFN and LayerNorms are frozen pre-trained weights
 * (LoRA adapts attention projections only, as in the papers' baseline);
 * their gradients are optional outputs. */
#ifndef HK_ENCODER_H
#define HK_ENCODER_H

#include "attention.h"
#include "gelu.h"
#include "hooks.h"

#include <stdint.h>

typedef struct {
    hk_attn_config attn; /* B, T, C, NH and the LoRA setting */
    long F;              /* FFN inner dim (RoBERTa: 4C) */
    double ln_eps;       /* LayerNorm eps, > 0 (RoBERTa: 1e-5, HK_LAYERNORM_EPS_DEFAULT) */
    hk_gelu_kind gelu;   /* HK_GELU_ERF for RoBERTa */
} hk_enc_config;

/* Parameters or gradients (same layout).  As gradients any pointer may be
 * NULL to skip it (usually every frozen one, keeping only attn.A / attn.B). */
typedef struct {
    hk_attn_params attn;
    double *ln1_w, *ln1_b; /* (C) */
    double *W1, *b1;       /* (F,C), (F) */
    double *W2, *b2;       /* (C,F), (C) */
    double *ln2_w, *ln2_b; /* (C) */
} hk_enc_params;

typedef struct {
    hk_enc_config cfg;
    hk_attn_cache attn;
    double *a;                   /* (B,T,C) attention output */
    double *r1;                  /* (B,T,C) x + a (LN1 input) */
    double *ln1_mean, *ln1_rstd; /* (B*T) */
    double *x1;                  /* (B,T,C) LN1 output */
    double *u;                   /* (B,T,F) GELU input */
    double *gu;                  /* (B,T,F) GELU output */
    double *h;                   /* (B,T,C) FFN output (hidden-hook input) */
    double *hh;                  /* (B,T,C) hidden-hook output h' */
    double *r2;                  /* (B,T,C) x1 + h' (LN2 input) */
    double *ln2_mean, *ln2_rstd; /* (B*T) */
} hk_enc_cache;

int hk_enc_config_check(const hk_enc_config *cfg);

/* Zeroed arrays; frozen ones (attention W/b, FFN, LayerNorms) only when
 * with_frozen != 0.  On error nothing stays allocated.  _free NULLs all. */
int hk_enc_params_alloc(hk_enc_params *p, const hk_enc_config *cfg, int with_frozen);
void hk_enc_params_free(hk_enc_params *p);
int hk_enc_params_zero(hk_enc_params *p, const hk_enc_config *cfg);

int hk_enc_cache_alloc(hk_enc_cache *c, const hk_enc_config *cfg);
void hk_enc_cache_free(hk_enc_cache *c);

/* Forward (math above).  pad (B,T) 1 = padded key or NULL; lora_mask as in
 * hk_attn_forward (1 = dropped); attn_hooks / hidden NULL (or a NULL
 * forward/backward pair) = identity; half a pair is an error.  x (B,T,C) -> y (B,T,C), cache filled. */
int hk_enc_forward(double *y, hk_enc_cache *cache, const double *x, const hk_enc_params *p,
                   const hk_enc_config *cfg, const uint8_t *pad, const uint8_t *const *lora_mask,
                   const hk_attn_hooks *attn_hooks, const hk_hidden_hook *hidden);
/* Backward of the forward that filled `cache` (same inputs).
 * dy (B,T,C) -> dx (B,T,C) += (may be NULL), grad members += (each may be NULL;
 * grad itself may be NULL: dx only). */
int hk_enc_backward(double *dx, hk_enc_params *grad, const double *dy, const hk_enc_cache *cache,
                    const double *x, const hk_enc_params *p, const hk_enc_config *cfg, const uint8_t *pad,
                    const uint8_t *const *lora_mask, const hk_attn_hooks *attn_hooks,
                    const hk_hidden_hook *hidden);

#endif
