/* hkref — the f32 fast path (tools/fast/): the post-LN encoder block of
 * ref/encoder.h in single precision, every matmul a CBLAS sgemm (OpenBLAS).
 * A second backend, checked against the f64 reference (tests/test_fast.c);
 * the math and its policies live in ref/, this file re-expresses them for speed:
 *
 *   Q = x Wq^T + bq [+ s·drop(x) Aq^T Bq^T when Aq is given]
 *   K = x Wk^T + bk + s·drop(x) Ak^T Bk^T,  V likewise (LoRA on k and v,
 *       s = alpha/r, drop(x) = 0 where the mask is 1, else x/(1-p); ref/lora.h;
 *       B has row stride ldB >= r, so DyLoRA's rank-b truncation is r = b,
 *       ldB = r_max, alpha/b: ref/dylora.h)
 *   g = Q_h K_h^T / sqrt(D); -inf at padded keys and (DropKey, -inf form,
 *       HK Eq. 3) at dropped keys; a row with no kept key keeps its logits
 *       (policy KEEP, ref/dropkey.h)
 *   w = DropAttention(softmax(g)) (CLASSIC w/(1-p); NORM_NOGRAD / NORM w/Z,
 *       Z = kept sum, HK Eq. 1-2; all-masked rows copied: KEEP; NORM* rows
 *       without a dropped key copied; ref/dropattention.h)
 *   ctx = (w V_h)_h;  a = ctx Wo^T + bo [+ s·drop(ctx) Ao^T Bo^T when Ao is given]
 *   x1 = LN1(x + a);  u = x1 W1^T + b1
 *   h = GELU_erf(u) W2^T + b2;  h' = HiddenCut(h) = 0 / h·scale;  y = LN2(x1 + h')
 *
 * Masks are inputs, uint8_t, 1 = dropped; nothing here draws random numbers.
 * Inputs are trusted (tools-internal backend): shapes come from a config
 * checked once by hk_fast_config_check; mask values other than 0/1 are
 * treated as 1.  -ffp-contract=off as everywhere; OpenBLAS's own kernels do
 * use FMA, which is within the f32 tolerances of tests/test_fast.c. */
#ifndef HK_FAST_ENCODER_H
#define HK_FAST_ENCODER_H

#include <stdint.h>

typedef struct {
    long B, T, C, NH, F; /* batch, length, model dim, heads (C % NH == 0), FFN dim */
    long r, ldB;         /* LoRA rank on k and v (>= 1); row stride of Bk, Bv (0 = r) */
    float alpha;         /* LoRA scale = alpha / r */
    float ln_eps;        /* LayerNorm eps (RoBERTa 1e-5) */
    int lora_qo;         /* the stack (fast_stack.h) adapts q and o too; the block itself adapts
                            q / o whenever Aq / Ao are given */
} hk_fast_config;

/* Parameters, or gradients with the same layout (as gradients every pointer
 * may be NULL to skip it; usually only Ak, Bk, Av, Bv are wanted). */
typedef struct {
    float *Wq, *bq, *Wk, *bk, *Wv, *bv, *Wo, *bo;             /* (C,C), (C) */
    float *Ak, *Bk, *Av, *Bv;                                 /* (r,C), (C,ldB) */
    float *ln1_w, *ln1_b, *W1, *b1, *W2, *b2, *ln2_w, *ln2_b; /* (C); (F,C), (F); (C,F), (C); (C) */
    float *Aq, *Bq, *Ao, *Bo; /* (r,C), (C,ldB): LoRA on q and o; NULL (as parameters) = not adapted */
} hk_fast_params;

/* Same numbering as ref/dropattention.h's hk_dropattn_variant. */
enum { HK_FAST_DA_CLASSIC = 0, HK_FAST_DA_NORM_NOGRAD = 1, HK_FAST_DA_NORM = 2 };

typedef struct {
    const uint8_t *pad;             /* (B,T) 1 = padded key, or NULL */
    const uint8_t *lora_k, *lora_v; /* (B*T,C) LoRA input dropout, or NULL (no dropout) */
    const uint8_t *lora_q, *lora_o; /* the same for q and o when adapted (o's input is the attention context) */
    float lora_p;                   /* their rate, [0,1) */
    const uint8_t *dropkey;         /* (B,NH,T,T) 1 = dropped key, or NULL */
    const uint8_t *dropattn;        /* (B,NH,T,T) 1 = dropped weight, or NULL */
    int dropattn_variant;           /* HK_FAST_DA_* */
    float dropattn_p;               /* CLASSIC's 1/(1-p) */
    const uint8_t *hidden;          /* (B,T,C) HiddenCut on the FFN output, or NULL */
    float hidden_scale;             /* 1 (rescale none) or 1/(1-p) (inverted) */
    long lora_b;                    /* DyLoRA rank b in [1, cfg.r] (A's first b rows, B's first b
                                       columns, scale alpha/b, DY Eq. 7); 0 = the full rank cfg.r */
} hk_fast_masks;

/* Forward activations and backward scratch, allocated for one config. */
typedef struct {
    hk_fast_config cfg;
    float *x;                           /* (N,C) the forward's input (copied) */
    float *xd[4], *xa[4];               /* q, k, v, o: (N,C) dropped LoRA inputs, (N,r) x A^T */
    float *q, *k, *v, *ctx;             /* (N,C) */
    float *w_pre, *w;                   /* (B,NH,T,T) softmax output, post-DropAttention */
    float *xhat1, *rstd1, *x1;          /* (N,C), (N), (N,C) */
    float *u, *gu, *gp;                 /* (N,F) GELU input, output, GELU'(u) (for the backward) */
    float *h;                           /* (N,C) FFN output (HiddenCut input) */
    float *xhat2, *rstd2;               /* (N,C), (N) */
    float *t0, *t1, *dq, *dk, *dv;      /* scratch (N,C) */
    float *dF;                          /* scratch (N,F) */
    float *dT;                          /* scratch (T,T) */
    float *dr;                          /* scratch (4,N,r) */
    uint8_t *mrow;                      /* scratch (B,C): HiddenCut's mask rows t = 0 (pooled infer) */
    int grad;                           /* 1 after hk_fast_enc_forward, 0 after an infer forward */
} hk_fast_cache;

/* 0 when the config is usable, else HK_EINVAL / HK_ESHAPE with a message. */
int hk_fast_config_check(const hk_fast_config *cfg);
int hk_fast_cache_alloc(hk_fast_cache *c, const hk_fast_config *cfg);
void hk_fast_cache_free(hk_fast_cache *c);

// x (B,T,C) -> y (B,T,C); cache filled for the backward.  m NULL = no masks.  y may alias x.
void hk_fast_enc_forward(float *y, hk_fast_cache *c, const float *x, const hk_fast_params *p, const hk_fast_masks *m);
// The same y without what only the backward needs (x's copy, LayerNorm's xhat, GELU'):
// for passes that are not backpropagated.  The attention weights (w_pre, w) are still kept.
void hk_fast_enc_infer(float *y, hk_fast_cache *c, const float *x, const hk_fast_params *p, const hk_fast_masks *m);
// hk_fast_enc_infer with Q, K, V (LoRA included) taken from qkv, a cache that a forward
// filled from the same x, the same Wq..bv and LoRA factors, rank b and LoRA-input masks
// (the caller guarantees it; the stack checks it, fast_stack.c): nothing of x is read
// except through the residual.
void hk_fast_enc_infer_reuse(float *y, hk_fast_cache *c, const float *x, const hk_fast_params *p,
                             const hk_fast_masks *m, const hk_fast_cache *qkv);
// Only y's rows t = 0 (the other rows of y are left unchanged): a last block
// under first-token pooling.  K and V for all T tokens, the rest for B rows.
// With LoRA on q or o it is hk_fast_enc_infer (every row computed).
void hk_fast_enc_infer_pooled(float *y, hk_fast_cache *c, const float *x, const hk_fast_params *p,
                              const hk_fast_masks *m);
// dy (B,T,C) -> dx (B,T,C) = (overwritten; may alias dy; NULL = not wanted, which also skips
// dQ unless Wq's gradient is wanted), g members += (each may be NULL).  After hk_fast_enc_forward
// (not _infer), same p, m.
void hk_fast_enc_backward(float *dx, hk_fast_params *g, const float *dy, hk_fast_cache *c, const hk_fast_params *p,
                          const hk_fast_masks *m);

/* Multiply-adds of the matmuls of one forward / one backward (LoRA gradients
 * only, as in fine-tuning), for GFLOP/s (2 flops each). */
double hk_fast_enc_fwd_macs(const hk_fast_config *cfg);
double hk_fast_enc_bwd_macs(const hk_fast_config *cfg);

#endif
