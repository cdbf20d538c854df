/* hkref — plain scalar double reference: a small stack of post-LN encoder
 * blocks (ref/encoder.h) + a linear head, driven by a framework config
 * (ref/framework.h) and run by hk_train_step (ref/train.h) as an hk_model.
 *
 *   a_0 = cutoff(x)                               input position (B,T,C)
 *   a_{l+1} = Block_l(a_l; LoRA-input masks, DropKey / DropAttention hooks,
 *                      HiddenCut hook)             lora / logits / weights / hidden
 *   pooled = a_L[:, 0, :]                          first token (RoBERTa <s>), (B,C)
 *   rep = dropout(pooled)                          output position; the "last layer's
 *                                                  representation" D = C
 *   out = rep Wc^T + bc                            head (B,K): logits, or K = 1 regression
 *
 * Trainable: the LoRA factors A, B of every block (cfg.attn.lora projections);
 * everything else frozen.  Masks, 1 = dropped, are sampled per pass by
 * hk_stack_sample_masks from the caller's generator (the draws themselves:
 * ref/stackmask.h, shared with the fast path) and held by the stack;
 * the forward never draws.  Attention masks use ref/attnmask.h's samplers;
 * DropKey uses the -inf form and DropAttention CLASSIC (rescale inverted) or
 * NORM_NOGRAD (rescale normalized, Eq. 1-2); all-masked rows: policy KEEP.
 * The importance span (hidden, span_importance) ranks tokens by the
 * attention of a clean forward of the same block (official code: the same
 * pass's pre-dropout attention; identical for the first block, and for every
 * block when no earlier position drops anything). */
#ifndef HK_STACK_H
#define HK_STACK_H

#include "dropattention.h"
#include "dropkey.h"
#include "encoder.h"
#include "framework.h"
#include "hiddencut.h"
#include "train.h"

#include <gsl/gsl_rng.h>
#include <stdint.h>

typedef struct {
    hk_attn_hooks dk, da; /* DropKey logits pair, DropAttention weights pair */
} hk_stack_attn_pair;

typedef struct {
    hk_enc_config enc;      /* shared by every block; enc.attn.lora_p is set per pass */
    long L, K;
    hk_framework fw;
    hk_enc_params *P;       /* L blocks: frozen weights + LoRA A, B */
    hk_enc_params *G;       /* L gradients: LoRA A, B only (accumulated by backward) */
    double *Wc, *bc;        /* (K,C), (K): frozen head */
    double *x;              /* (B,T,C) input embeddings */
    long *labels;           /* (B) */
    double *targets;        /* (B) */
    /* per pass p = 0, 1 (1 = dropped) */
    uint8_t *m_input[2];    /* (B,T,C) */
    uint8_t *m_lora[2];     /* L x (B*T,C), one mask shared by the adapted projections of a block */
    uint8_t *m_logits[2];   /* L x (B,NH,T,T) */
    uint8_t *m_weights[2];  /* L x (B,NH,T,T) */
    uint8_t *m_hidden[2];   /* L x (B,T,C) */
    uint8_t *m_output[2];   /* (B,C) */
    hk_enc_cache *cache[2]; /* L each */
    double *act[2];         /* (L+1) x (B,T,C) */
    double *pooled[2], *rep[2]; /* (B,C) */
    int clean[2];
    double *dy, *dx;        /* (B,T,C) scratch */
    hk_dropkey_config *dk[2];
    hk_dropattn_config *da[2];
    hk_stack_attn_pair *pair[2];
    hk_hiddencut_ctx *hc[2];
} hk_stack;

/* Allocates everything (zeroed) for L blocks of `enc` and a K-output head;
 * fw is copied and validated (the stack supports every valid config). */
int hk_stack_alloc(hk_stack *s, const hk_enc_config *enc, long L, long K, const hk_framework *fw);
void hk_stack_free(hk_stack *s);
/* Frozen weights, LayerNorms (1 + small), head, LoRA A and B (B NON-zero:
 * loralib's B = 0 would make dA vanish and hide errors), input x, labels /
 * targets, all from the caller's generator. */
int hk_stack_init(hk_stack *s, gsl_rng *r);
/* Samples pass `pass`'s masks for every active position of s->fw (r may be NULL
 * only when no position is active: nothing is drawn). */
int hk_stack_sample_masks(hk_stack *s, int pass, gsl_rng *r);
/* The stack as a model for hk_train_step (N = B, D = C). */
int hk_stack_model(hk_stack *s, hk_model *m);

/* The same model with each active DropAttention weights hook replaced by a
 * caller's: weights[pass·L + l] for block l in pass `pass` (2·L pairs), or
 * the stack's own hooks while weights is NULL.  For checks that need another
 * function at that position: the NoGrad backward is by design not the
 * derivative of its forward, so finite differences check it against the
 * forward with each row's denominator frozen (tools/checks/chk_stack.c).  The
 * caller owns *o, the model's ctx: it must outlive m. */
typedef struct {
    hk_stack *s;
    const hk_attn_hooks *weights;
} hk_stack_override;
int hk_stack_model_override(hk_stack_override *o, hk_model *m);

#endif
