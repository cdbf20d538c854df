/* hkref — plain scalar double reference: structured dropout of a (B,T,C)
 * representation — HiddenCut and the input / output dropping positions.
 *
 * One operation serves three dropping positions of the unified framework
 * (2403.00812 §3.2, §4.3); only where it is applied differs:
 *   hidden  HiddenCut (Chen et al. 2021): the FFN hidden representation, i.e.
 *           the output of the FFN's second linear, before residual + LayerNorm
 *           (as in the official code), via the hk_hidden_hook adapter below;
 *   input   Cutoff on the embeddings: element / token-span (HK_HC_SPAN) /
 *           feature-column (HK_HC_COLUMN);
 *   output  standard dropout on the last block's output (HK_HC_ELEMENT, 1/(1-p)).
 *
 * Masks are uint8_t (B,T,C), 1 = dropped, sampled here from the caller's
 * generator and passed to the forward as plain inputs (a forward never draws).
 *
 * Patterns (per example b):
 *   HK_HC_ELEMENT  each (t,c) dropped independently with probability p;
 *   HK_HC_COLUMN   each feature c dropped with probability p for EVERY token t;
 *   HK_HC_SPAN     one span of L = max(1, floor(p·T)) contiguous tokens, all
 *                  features; start uniform in [0, T-L] (official HiddenCut's
 *                  length rule; the official start rule is the importance
 *                  sampler below).
 * Policy p = 0: every pattern returns an all-zero mask and draws nothing
 * (the official span code would still cut max(1, ·) = 1 token at ratio 0).
 *
 * Compensation: out = in · (1 - mask) · scale, scale = 1 (official
 * HiddenCut and Cutoff: zero, no rescale) or 1/(1-p) (vanilla dropout, as the
 * HiddenKey paper's §3.1 describes HiddenCut).  The scale is an input. */
#ifndef HK_HIDDENCUT_H
#define HK_HIDDENCUT_H

#include "hooks.h"

#include <gsl/gsl_rng.h>
#include <stdint.h>

typedef enum { HK_HC_ELEMENT = 0, HK_HC_COLUMN, HK_HC_SPAN, HK_HC_COUNT } hk_hc_pattern;

const char *hk_hc_pattern_name(hk_hc_pattern pat); /* "element", "column", "span" */

// -> mask (B,T,C) of {0,1}, 1 = dropped; p in [0,1)
int hk_hiddencut_mask_sample(uint8_t *mask, hk_hc_pattern pat, double p, long B, long T, long C, gsl_rng *r);

/* The official code's attention-importance span selection ("attn_span_cutoff"
 * of SALT-NLP/HiddenCut), as mask SAMPLING from given importance scores:
 *   L = max(1, floor(p·T)), k = max(1, floor(top_frac·T)) (official top_frac 0.4);
 *   the span START is drawn uniformly among the k tokens of highest importance
 *   (ties: lower index ranks first); a span running past T is truncated
 *   (L = T - start), as in the official code.  p = 0: no cut, nothing drawn.
 * importance (B,T) -> mask (B,T,C), 1 = dropped. */
int hk_hiddencut_mask_sample_importance(uint8_t *mask, const double *importance, double p, double top_frac,
                                        long B, long T, long C, gsl_rng *r);
/* Importance of each key token as the official code computes it: attention
 * received, summed over queries and heads, divided by NH (the official code
 * divides by a fixed 12 = NH of BERT-base; the ranking is the same).
 * att (B,NH,T,T) post-softmax -> importance (B,T). */
int hk_hiddencut_importance(double *importance, const double *att, long B, long NH, long T);

// in (B,T,C), mask (B,T,C) of {0,1} 1 = dropped, scale > 0 -> out (B,T,C) = in·(1-mask)·scale
int hk_hiddencut_forward(double *out, const double *in, const uint8_t *mask, double scale, long B, long T, long C);
// dout (B,T,C) -> din (B,T,C) += dout·(1-mask)·scale
int hk_hiddencut_backward(double *din, const double *dout, const uint8_t *mask, double scale, long B, long T, long C);

/* hk_hidden_hook adapter: the encoder block calls h.forward / h.backward on
 * the FFN output.  ctx must outlive the hook; mask is (B,T,C), 1 = dropped. */
typedef struct {
    const uint8_t *mask;
    double scale;
} hk_hiddencut_ctx;
int hk_hiddencut_hook(hk_hidden_hook *hook, hk_hiddencut_ctx *ctx);

#endif
