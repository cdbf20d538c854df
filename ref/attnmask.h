/* hkref — plain scalar double reference: attention-dropout masks and the
 * all-masked-row policy shared by DropKey and DropAttention.
 *
 * A mask is (B,NH,Tq,Tk) of uint8_t, 1 = dropped, 0 = not dropped.  Key
 * padding pad (B,Tk) of {0,1}, 1 = padded, may be NULL (no padding).  A key
 * of row (b,h,q) is
 *   kept     iff pad[b,k] = 0 and mask[b,h,q,k] = 0,
 *   dropped  iff pad[b,k] = 0 and mask[b,h,q,k] = 1,
 *   padded   iff pad[b,k] = 1 (never kept, whatever the mask says).
 * The samplers write 0 at padded keys and draw only over non-padded keys, so
 * p is the rate among real keys and p = 0 gives the all-zero mask (no random
 * numbers drawn).  Sampling is separate from applying: the methods take the
 * mask as a plain input and never draw. */
#ifndef HK_ATTNMASK_H
#define HK_ATTNMASK_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

typedef enum {
    HK_PATTERN_ELEMENT = 0, /* each (query, key) independently, P(drop) = p */
    HK_PATTERN_COLUMN = 1,  /* each key of (b,h) independently, for every query of that (b,h) */
    HK_PATTERN_SPAN = 2     /* one contiguous run of keys per (b,h), for every query; see below */
} hk_pattern;

/* What a method does with a row in which every non-padded key is dropped.
 * Default HK_ALLMASK_KEEP, for both methods (see PAPER_NOTES.md and
 * proofs/dropkey_dropattention.md, "All-masked rows"). */
typedef enum {
    HK_ALLMASK_KEEP = 0,  /* the row is left undropped (identity on that row) */
    HK_ALLMASK_ZERO = 1,  /* the row's output weights are all 0 (no gradient) */
    HK_ALLMASK_ERROR = 2  /* HK_EDOM naming the row */
} hk_allmask_policy;

const char *hk_pattern_name(hk_pattern pat);        /* "element", "column", "span"; NULL if invalid */
const char *hk_allmask_name(hk_allmask_policy pol); /* "keep", "zero", "error"; NULL if invalid */

/* Draws a mask from the caller's generator.
 * span: for each (b,h) with n non-padded keys, length L = floor(p n) + J
 * where J ~ Bernoulli(frac(p n)), so E[L] = p n exactly (the rate p holds in
 * expectation even for short rows); if L > 0 the start s is uniform on
 * {0..n-L} and the non-padded keys of rank s..s+L-1 (rank = position among
 * non-padded keys, i.e. contiguous positions for left or right padding) are
 * dropped for every query.  L may equal n (all keys dropped: the all-masked
 * row policy applies).
 * p must be finite in [0,1) (HK_EDOM); r may be NULL only when p = 0. */
// pad (B,Tk)|NULL -> mask (B,NH,Tq,Tk) of {0,1}, 1 = dropped
int hk_attnmask_sample(uint8_t *mask, hk_pattern pat, double p, const uint8_t *pad, long B, long NH, long Tq,
                       long Tk, gsl_rng *r);

/* Counts the kept and the dropped keys of one row (Tk entries of mask,
 * padrow NULL = no padding).  Either output may be NULL. */
void hk_attnmask_row_count(long *kept, long *dropped, const uint8_t *mrow, const uint8_t *padrow, long Tk);

/* Common argument check of the methods: pointers, positive sizes, a valid
 * policy.  `who` names the caller in messages. */
int hk_attnmask_check_args(const void *out, const void *in, const uint8_t *mask, hk_allmask_policy pol, long B,
                           long NH, long Tq, long Tk, const char *who);

/* Applies the policy to a row with no kept key: HK_OK for KEEP / ZERO (the
 * caller acts), HK_EDOM naming (b,h,q) for ERROR. */
int hk_attnmask_allmasked(hk_allmask_policy pol, long row, long NH, long Tq, const char *who);

#endif
