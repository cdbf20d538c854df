/* hkref — the f32 fast path: the encoder stack + head of ref/stack.h (same
 * math, same mask layout, same framework positions), as an hk_model, so
 * ref/train.h's hk_train_step runs the fast path's step exactly as it runs
 * the reference's (the loss head works on the (B,K) logits and (B,C)
 * representations, converted to double at the model's boundary).
 *
 *   a_0 = cutoff(x);  a_{l+1} = Block_l(a_l) (tools/fast/fast_encoder.h);
 *   pooled = a_L[:,0,:];  rep = dropout(pooled);  out = rep Wc^T + bc
 *
 * Masks (1 = dropped) are held by the stack per pass in ref/stack.h's layout
 * and filled by the caller: hk_fast_stack_sample_masks, or copied from an
 * hk_stack (tests/test_fast.c).  pad (B,T) 1 = padded key applies to every
 * pass (the reference stack has no padding; the cross-check runs without).
 * LoRA on k and v, and with cfg.lora_qo on q and o too (one LoRA-input mask
 * per block shared by the adapted projections, as ref/stack.h; o's input is
 * the attention context).
 * Gradients: f32 accumulators G (LoRA A, B of k and v [q, o]; with full = 1 also
 * every other block weight, and dx, the input embeddings' gradient, for
 * pre-training) and gWc, gbc (the head). */
#ifndef HK_FAST_STACK_H
#define HK_FAST_STACK_H

#include "fast_encoder.h"

#include "ref/framework.h"
#include "ref/train.h"

#include <gsl/gsl_rng.h>
#include <stdint.h>

typedef struct {
    hk_fast_config cfg;
    long L, K;
    hk_framework fw;
    int full;                /* 1: G holds every parameter's gradient */
    int infer;               /* 1: forwards keep no backward caches (evaluation); backward then fails */
    long lora_b;             /* DyLoRA rank of the next step, every block (0 = full r) */
    hk_fast_params *P, *G;   /* L blocks */
    float *Wc, *bc;          /* (K,C), (K) head */
    float *gWc, *gbc;        /* head gradients */
    float *x;                /* (B,T,C) input embeddings */
    float *dx;               /* (B,T,C) gradient of x after backward (full only) */
    uint8_t *pad;            /* (B,T) or NULL (no padding) */
    uint8_t *m_input[2], *m_lora[2], *m_logits[2], *m_weights[2], *m_hidden[2], *m_output[2]; /* as hk_stack */
    hk_fast_cache *cache[2]; /* L each */
    float *act[2];           /* (B,T,C) working activation per pass */
    float *pooled[2], *rep[2]; /* (B,C) */
    int clean[2];
    float *dy;               /* (B,T,C) scratch */
    float *drp, *dout;       /* (B,C), (B,K) scratch */
    float *snap0;            /* block 0's Wq..bv, Ak..Bv at the last pass-0 forward (see qkv_reusable) */
    int snap_ok;             /* cache[0][0] holds Q, K, V of snap0 and its input */
    long snap_lora_b;
    long qkv_reuses;         /* how often pass 1's block 0 reused pass 0's Q, K, V */
} hk_fast_stack;

/* Zeroed arrays for L blocks and a K-output head; fw validated (every valid
 * config runs); pad allocated when with_pad. */
int hk_fast_stack_alloc(hk_fast_stack *s, const hk_fast_config *cfg, long L, long K, const hk_framework *fw,
                        int full, int with_pad);
void hk_fast_stack_free(hk_fast_stack *s);
/* Zeroes every gradient accumulator. */
void hk_fast_stack_zero_grads(hk_fast_stack *s);
/* Samples pass `pass`'s masks for every active position (ref samplers, same
 * draws in the same order as hk_stack_sample_masks; span_importance ranks
 * tokens by a clean f32 forward of the same slot, as ref/stack.c does). */
int hk_fast_stack_sample_masks(hk_fast_stack *s, int pass, gsl_rng *r);
/* The stack as a model for hk_train_step (N = B, D = C); labels are the caller's. */
int hk_fast_stack_model(hk_fast_stack *s, hk_model *m);
/* Number of float elements and pointers of the trainable LoRA arrays of
 * block l: k = 0..3 -> Ak, Bk, Av, Bv, with cfg.lora_qo also k = 4..7 -> Aq, Bq,
 * Ao, Bo (NULL without it) (n = r*C or C*ldB). */
float *hk_fast_stack_lora(const hk_fast_stack *s, long l, int k, int grad, long *n);

#endif
