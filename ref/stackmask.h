/* hkref — the mask draws of one pass of an L-block stack (ref/stack.h's
 * layout), shared by the reference stack (ref/stack.c) and the f32 fast path
 * (tools/fast/fast_stack.c) so that one seed gives both the same masks.
 *
 * Order of the draws (fixed; changing it changes every seeded run):
 *   input (B,T,C) if its rate > 0; output (B,1,C) if > 0; then per block l:
 *   lora (B*T,C) Bernoulli, logits (B,NH,T,T), weights (B,NH,T,T)
 *   (ref/attnmask.h, element or column), hidden (B,T,C) (ref/hiddencut.h;
 *   span_importance with the caller's importance and 0.4, as the official code).
 * A position whose rate is 0 draws nothing and leaves its mask as it is.
 * The importance ranking needs a clean forward, which only the caller can
 * run: hk_stackmask_needs_importance says when, and no draw precedes it in
 * a way that matters (the clean forward draws nothing). */
#ifndef HK_STACKMASK_H
#define HK_STACKMASK_H

#include "framework.h"
#include "rng.h"

#include <gsl/gsl_rng.h>
#include <stdint.h>

typedef struct {
    uint8_t *input;  /* (B,T,C) */
    uint8_t *output; /* (B,C) */
    uint8_t *lora;   /* L x (B*T,C) */
    uint8_t *logits; /* L x (B,NH,T,T) */
    uint8_t *weights;
    uint8_t *hidden; /* L x (B,T,C) */
} hk_stackmask;

typedef struct {
    long L, B, T, C, NH;
} hk_stackmask_shape;

/* 1 when fw's hidden position samples the importance span (needs imp). */
int hk_stackmask_needs_importance(const hk_framework *fw);
/* Draws the masks of every position with a rate > 0, in the order above.
 * pad (B,T) 1 = padded key, or NULL (attention masks never drop a padded key).
 * imp (L,B,T): attention received per token, required when
 * hk_stackmask_needs_importance(fw), else ignored.
 * bernoulli draws the element-wise Bernoulli masks (lora, and the element
 * pattern of input / output / hidden); NULL = ref's hk_mask_bernoulli, the
 * fast path passes its in-place sampler (tools/fast/fast_rng.h, same draws). */
int hk_stackmask_sample(const hk_stackmask *m, const hk_framework *fw, const hk_stackmask_shape *sh,
                        const uint8_t *pad, const double *imp, hk_bernoulli_fn bernoulli, gsl_rng *r);

#endif
