/* hkref — the f32 fast path: post-LN encoder block (see fast_encoder.h).
 * Storage row-major: (N,C) / (N,F) activations, N = B*T; head h of Q, K, V,
 * ctx in columns h*D .. h*D+D-1 (row stride C), logits / weights (B,NH,T,T).
 * Every matmul is one cblas_sgemm; the per-(b,h) attention products use the
 * head's column block through the leading dimension C, without copies. */
#include "fast_encoder.h"

#include "fast_gelu.h"

#include "ref/error.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static long ldb_of(const hk_fast_config *c) { return c->ldB ? c->ldB : c->r; }

int hk_fast_config_check(const hk_fast_config *c)
{
    HK_REQUIRE_PTR(c);
    HK_REQUIRE(c->B > 0 && c->T > 0 && c->C > 0 && c->NH > 0 && c->F > 0, HK_EINVAL,
               "fast config shape (B=%ld, T=%ld, C=%ld, NH=%ld, F=%ld) must be positive", c->B, c->T, c->C, c->NH,
               c->F);
    HK_REQUIRE(c->C % c->NH == 0, HK_ESHAPE, "fast config: C=%ld is not divisible by NH=%ld", c->C, c->NH);
    HK_REQUIRE(c->B <= 1L << 14 && c->T <= 1L << 12 && c->C <= 1L << 14 && c->F <= 1L << 16, HK_ENOMEM,
               "fast config shape (B=%ld, T=%ld, C=%ld, F=%ld) is too large", c->B, c->T, c->C, c->F);
    HK_REQUIRE(c->r >= 1 && c->r <= c->C, HK_EINVAL, "fast config: LoRA rank r=%ld must be in [1, C=%ld]", c->r, c->C);
    HK_REQUIRE(c->ldB == 0 || c->ldB >= c->r, HK_EINVAL, "fast config: ldB=%ld must be 0 or >= r=%ld", c->ldB, c->r);
    HK_REQUIRE(isfinite(c->alpha) && isfinite(c->ln_eps) && c->ln_eps > 0, HK_EDOM,
               "fast config: alpha=%g must be finite and ln_eps=%g finite and > 0", (double)c->alpha,
               (double)c->ln_eps);
    return HK_OK;
}

void hk_fast_cache_free(hk_fast_cache *c)
{
    if (!c) return;
    free(c->mrow), c->mrow = NULL;
    float **b[] = {&c->x,  &c->xd[0], &c->xd[1], &c->xd[2], &c->xd[3], &c->xa[0], &c->xa[1], &c->xa[2], &c->xa[3],
                   &c->q,  &c->k,  &c->v,  &c->ctx,
                   &c->w_pre, &c->w, &c->xhat1, &c->rstd1, &c->x1, &c->u,  &c->gu, &c->gp, &c->h,  &c->xhat2,
                   &c->rstd2, &c->t0, &c->t1, &c->dq,   &c->dk,   &c->dv,  &c->dF, &c->dT, &c->dr};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) free(*b[i]), *b[i] = NULL;
}

int hk_fast_cache_alloc(hk_fast_cache *c, const hk_fast_config *cfg)
{
    HK_REQUIRE_PTR(c);
    memset(c, 0, sizeof *c);
    HK_TRY(hk_fast_config_check(cfg));
    c->cfg = *cfg;
    const long N = cfg->B * cfg->T, NC = N * cfg->C, NF = N * cfg->F, L = cfg->B * cfg->NH * cfg->T * cfg->T;
    const long Nr = N * cfg->r;
    struct { float **p; long n; } b[] = {
        {&c->x, NC},     {&c->xd[0], NC}, {&c->xd[1], NC}, {&c->xd[2], NC}, {&c->xd[3], NC},
        {&c->xa[0], Nr}, {&c->xa[1], Nr}, {&c->xa[2], Nr}, {&c->xa[3], Nr}, {&c->q, NC},
        {&c->k, NC},     {&c->v, NC},     {&c->ctx, NC},  {&c->w_pre, L},  {&c->w, L},     {&c->xhat1, NC},
        {&c->rstd1, N},  {&c->x1, NC},    {&c->u, NF},    {&c->gu, NF},   {&c->gp, NF},    {&c->h, NC},    {&c->xhat2, NC},
        {&c->rstd2, N},  {&c->t0, NC},    {&c->t1, NC},   {&c->dq, NC},    {&c->dk, NC},   {&c->dv, NC},
        {&c->dF, NF},    {&c->dT, cfg->T * cfg->T},       {&c->dr, 4 * Nr}};
    c->mrow = calloc((size_t)(cfg->B * cfg->C), 1);
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
        if (!c->mrow || !(*b[i].p = calloc((size_t)b[i].n, sizeof(float)))) {
            hk_fast_cache_free(c);
            HK_ERROR(HK_ENOMEM, "fast cache allocation failed (N=%ld, F=%ld)", N, cfg->F);
        }
    return HK_OK;
}

/* ---- small helpers ------------------------------------------------------ */

/* The hot elementwise loops are compiled for AVX-512 and AVX2 too, the
 * variant picked at load time for the CPU (GCC function multiversioning);
 * every variant does the same IEEE f32 operations in the same order (no FMA
 * contraction, no reassociation), so the results are identical bit for bit,
 * only the vector width differs. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__clang__)
#define HK_FAST_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define HK_FAST_CLONES
#endif

/* Reductions in LANES fixed lanes (lane j sums the terms j, j + LANES, ...),
 * then the lanes and the tail in order: the compiler can vectorise them (it
 * may not reorder a plain f32 sum), and the order is fixed by the source, so
 * every variant of HK_FAST_CLONES gives the same bits.  Any summation order
 * obeys the gamma_n bound of tests/test_fast.c's tolerance. */
enum { LANES = 16 };
static inline float lanes_total(const float *acc, float tail)
{
    float s = 0.0f;
    for (int j = 0; j < LANES; j++) s += acc[j];
    return s + tail;
}
// sum of x[0..n)
static inline float lane_sum(const float *x, long n)
{
    float acc[LANES] = {0}, tail = 0.0f;
    long i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += x[i + j];
    for (; i < n; i++) tail += x[i];
    return lanes_total(acc, tail);
}
// sum of x[i] y[i]
static inline float lane_dot(const float *x, const float *y, long n)
{
    float acc[LANES] = {0}, tail = 0.0f;
    long i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += x[i + j] * y[i + j];
    for (; i < n; i++) tail += x[i] * y[i];
    return lanes_total(acc, tail);
}
// sum of (x[i] - m)²
static inline float lane_sqdev(const float *x, float m, long n)
{
    float acc[LANES] = {0}, tail = 0.0f;
    long i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += (x[i + j] - m) * (x[i + j] - m);
    for (; i < n; i++) tail += (x[i] - m) * (x[i] - m);
    return lanes_total(acc, tail);
}
// max of x[0..n), n >= 1 (exact in any order; NaNs are skipped by the comparison in every order)
static inline float lane_max(const float *x, long n)
{
    float acc[LANES], mx = x[0];
    for (int j = 0; j < LANES; j++) acc[j] = x[0];
    long i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    for (int j = 0; j < LANES; j++) mx = acc[j] > mx ? acc[j] : mx;
    return mx;
}

// y (N,OUT) = x (N,IN) W^T + b   (W (OUT,IN) nn.Linear layout; b may be NULL)
static void linear(float *y, const float *x, const float *W, const float *b, long N, long IN, long OUT)
{
    if (b)
        for (long n = 0; n < N; n++) memcpy(y + n * OUT, b, sizeof(float) * (size_t)OUT);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)OUT, (int)IN, 1.0f, x, (int)IN, W, (int)IN,
                b ? 1.0f : 0.0f, y, (int)OUT);
}

// dy (N,OUT), x (N,IN) -> dW (OUT,IN) +=, db (OUT) += (each may be NULL)
static void linear_wgrad(float *dW, float *db, const float *dy, const float *x, long N, long IN, long OUT)
{
    if (dW)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)OUT, (int)IN, (int)N, 1.0f, dy, (int)OUT, x,
                    (int)IN, 1.0f, dW, (int)IN);
    if (db)
        for (long n = 0; n < N; n++)
            for (long o = 0; o < OUT; o++) db[o] += dy[n * OUT + o];
}

// dx (N,IN) (+)= dy (N,OUT) W (OUT,IN); beta 0 overwrites, 1 accumulates
static void linear_dgrad(float *dx, const float *dy, const float *W, long N, long IN, long OUT, float beta)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)IN, (int)OUT, 1.0f, dy, (int)OUT, W, (int)IN,
                beta, dx, (int)IN);
}

/* out (N,C) = LN(res + a') w + b with a' = a, or HiddenCut(a) = 0 / a·hs where hid
 * (N,C) is 1 (hid NULL: none): the residual add fused into the LayerNorm.
 * xhat (N,C), rstd (N) saved (xhat also holds the sum while the row is
 * normalised).  Two-pass statistics, as ref/layernorm.c. */
HK_FAST_CLONES static void ln_forward(float *out, float *xhat, float *rstd, const float *a, const float *res,
                                      const uint8_t *hid, float hs, const float *w, const float *b, float eps, long N,
                                      long C)
{
    for (long n = 0; n < N; n++) {
        float *x = xhat + n * C;
        const float *an = a + n * C, *rn = res + n * C;
        if (hid) {
            const uint8_t *hn = hid + n * C;
            for (long c = 0; c < C; c++) x[c] = rn[c] + (hn[c] ? 0.0f : an[c] * hs);
        } else
            for (long c = 0; c < C; c++) x[c] = rn[c] + an[c];
        const float m = lane_sum(x, C) / (float)C;
        const float v = lane_sqdev(x, m, C) / (float)C;
        const float s = 1.0f / sqrtf(v + eps);
        float *o = out + n * C;
        for (long c = 0; c < C; c++) {
            const float xh = (x[c] - m) * s;
            x[c] = xh;
            o[c] = xh * w[c] + b[c];
        }
        rstd[n] = s;
    }
}

// dout (N,C) -> din (N,C) = rstd (g - mean(g) - xhat mean(g xhat)), g = dout w; dw, db += (may be NULL)
HK_FAST_CLONES static void ln_backward(float *din, float *dw, float *db, const float *dout, const float *xhat,
                                       const float *rstd, const float *w, long N, long C)
{
    for (long n = 0; n < N; n++) {
        const float *dy = dout + n * C, *xh = xhat + n * C;
        float *g = din + n * C; /* g = dout w first (din may not alias dout) */
        for (long c = 0; c < C; c++) g[c] = dy[c] * w[c];
        const float gm = lane_sum(g, C) / (float)C, gxm = lane_dot(g, xh, C) / (float)C;
        if (db)
            for (long c = 0; c < C; c++) db[c] += dy[c];
        if (dw)
            for (long c = 0; c < C; c++) dw[c] += dy[c] * xh[c];
        const float rs = rstd[n];
        for (long c = 0; c < C; c++) g[c] = rs * (g[c] - gm - xh[c] * gxm);
    }
}

/* GELU, exact form u·Phi(u) (ref/gelu.c), Phi and exp from fast_gelu.h
 * (branch-free, so these loops vectorise; error bounds there).  A training
 * forward also stores GELU'(u) = Phi(u) + u·phi(u) for the backward. */
HK_FAST_CLONES static void gelu_forward(float *gu, float *gp, const float *u, long n)
{
    if (gp)
        for (long i = 0; i < n; i++) {
            const float ph = hk_fast_phi(u[i]);
            gu[i] = u[i] * ph;
            gp[i] = hk_fast_gelu_grad(u[i], ph);
        }
    else
        for (long i = 0; i < n; i++) gu[i] = u[i] * hk_fast_phi(u[i]);
}

/* LoRA input dropout: xd = 0 where dropped, x/(1-p) elsewhere (ref/lora.h); m non-NULL. */
static void lora_drop(float *xd, const float *x, const uint8_t *m, float p, long n)
{
    const float keep = 1.0f / (1.0f - p);
    for (long i = 0; i < n; i++) xd[i] = m[i] ? 0.0f : x[i] * keep;
}

// y (N,C) += s · xd A^T B^T, xa (N,r) = xd A^T saved
static void lora_forward(float *y, float *xa, const float *xd, const float *A, const float *Bm, long N, long C, long r,
                         long ldB, float s)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)r, (int)C, 1.0f, xd, (int)C, A, (int)C, 0.0f, xa,
                (int)r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)C, (int)r, s, xa, (int)r, Bm, (int)ldB, 1.0f, y,
                (int)C);
}

/* dy (N,C) -> dA (r,C) +=, dB (C,ldB) += (may be NULL); g = s dy B (N,r) (kept for the input gradient);
 * dA += g^T xd; dB += s dy^T xa. */
static void lora_backward(float *dA, float *dB, float *g, const float *dy, const float *xd, const float *xa,
                          const float *Bm, long N, long C, long r, long ldB, float s)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)r, (int)C, s, dy, (int)C, Bm, (int)ldB, 0.0f,
                g, (int)r);
    if (dA)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)r, (int)C, (int)N, 1.0f, g, (int)r, xd, (int)C, 1.0f,
                    dA, (int)C);
    if (dB)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)C, (int)r, (int)N, s, dy, (int)C, xa, (int)r, 1.0f,
                    dB, (int)ldB);
}

// out (N,C) (+)= g (N,r) A (r,C): the LoRA branch's gradient of its (dropped) input; beta 0 or 1
static void lora_dgrad(float *out, const float *g, const float *A, long N, long C, long r, float beta)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)C, (int)r, 1.0f, g, (int)r, A, (int)C, beta,
                out, (int)C);
}

// dx (N,C) += [kept] t / (1-p): through LoRA's input dropout
static void lora_drop_backward(float *dx, const float *t, const uint8_t *m, float p, long n)
{
    const float keep = 1.0f / (1.0f - p);
    for (long i = 0; i < n; i++) dx[i] += m[i] ? 0.0f : t[i] * keep;
}

/* ---- attention rows ------------------------------------------------------ */

/* Kept / dropped counts of one row (mask m) over non-padded keys (ref/attnmask.c). */
static inline void row_count(long *kept, long *dropped, const uint8_t *m, const uint8_t *pad, long T)
{
    long nk = 0, nd = 0;
    for (long s = 0; s < T; s++) {
        const long live = !(pad && pad[s]), drop = m[s] != 0;
        nd += live & drop;
        nk += live & !drop;
    }
    *kept = nk, *dropped = nd;
}

/* One softmax row, in place on g -> w; -inf entries give exactly 0. */
static inline void softmax_row(float *w, long T)
{
    const float mx = lane_max(w, T);
    for (long s = 0; s < T; s++) w[s] = w[s] == -INFINITY ? 0.0f : hk_fast_exp(w[s] - mx);
    const float inv = 1.0f / lane_sum(w, T);
    for (long s = 0; s < T; s++) w[s] *= inv;
}

/* DropAttention forward on one row (see the banner). */
static inline void dropattn_row(float *wo, const float *wi, const uint8_t *m, const uint8_t *pad, int variant, float p, long T)
{
    long kept, dropped;
    row_count(&kept, &dropped, m, pad, T);
    if (kept == 0 || (variant != HK_FAST_DA_CLASSIC && dropped == 0)) {
        memcpy(wo, wi, sizeof(float) * (size_t)T);
        return;
    }
    float Z = 0.0f;
    if (variant != HK_FAST_DA_CLASSIC)
        for (long s = 0; s < T; s++) Z += (m[s] || (pad && pad[s])) ? 0.0f : wi[s];
    const float sc = variant == HK_FAST_DA_CLASSIC ? 1.0f / (1.0f - p) : 1.0f / Z;
    for (long s = 0; s < T; s++) wo[s] = (m[s] || (pad && pad[s])) ? 0.0f : wi[s] * sc;
}

/* Its backward, in place on d (dw' -> dw). */
static inline void dropattn_row_backward(float *d, const float *wi, const float *wo, const uint8_t *m, const uint8_t *pad,
                                  int variant, float p, long T)
{
    long kept, dropped;
    row_count(&kept, &dropped, m, pad, T);
    if (kept == 0 || (variant != HK_FAST_DA_CLASSIC && dropped == 0)) return;
    float Z = 0.0f, dot = 0.0f;
    if (variant != HK_FAST_DA_CLASSIC)
        for (long s = 0; s < T; s++) Z += (m[s] || (pad && pad[s])) ? 0.0f : wi[s];
    if (variant == HK_FAST_DA_NORM)
        for (long s = 0; s < T; s++) dot += d[s] * wo[s];
    const float sc = variant == HK_FAST_DA_CLASSIC ? 1.0f / (1.0f - p) : 1.0f / Z;
    for (long s = 0; s < T; s++) d[s] = (m[s] || (pad && pad[s])) ? 0.0f : (d[s] - dot) * sc;
}

/* One (b,h)'s (T,T) logits g (its first `rows` rows) -> softmax in place, DropKey (dk, -inf form;
 * rows with no kept key keep their logits) and padding applied first; with
 * DropAttention (da) its output to w.  Masks (T,T) or NULL; pad (T) or NULL. */
HK_FAST_CLONES static void attn_rows_forward(float *g, float *w, const uint8_t *dk, const uint8_t *da,
                                             const uint8_t *pad, int variant, float p, long rows, long T)
{
    for (long t = 0; t < rows; t++) {
        float *gr = g + t * T;
        const uint8_t *dkr = dk ? dk + t * T : NULL;
        long kept = 1, dropped;
        if (dkr) row_count(&kept, &dropped, dkr, pad, T);
        if (dkr && kept > 0 && pad)
            for (long u = 0; u < T; u++) gr[u] = (pad[u] | dkr[u]) ? -INFINITY : gr[u];
        else if (dkr && kept > 0)
            for (long u = 0; u < T; u++) gr[u] = dkr[u] ? -INFINITY : gr[u];
        else if (pad)
            for (long u = 0; u < T; u++) gr[u] = pad[u] ? -INFINITY : gr[u];
        softmax_row(gr, T);
        if (da) dropattn_row(w + t * T, gr, da + t * T, pad, variant, p, T);
    }
}

/* Its backward, in place on d (T,T): dw' -> dg.  wp the softmax output, w
 * DropAttention's (= wp without it). */
HK_FAST_CLONES static void attn_rows_backward(float *d, const float *wp, const float *w, const uint8_t *da,
                                              const uint8_t *pad, int variant, float p, long T)
{
    for (long t = 0; t < T; t++) {
        float *dr = d + t * T;
        const float *wr = wp + t * T;
        if (da) dropattn_row_backward(dr, wr, w + t * T, da + t * T, pad, variant, p, T);
        /* softmax^T; -inf logits (padded, DropKey-dropped) have w = 0, so dg = 0 there */
        const float dot = lane_dot(dr, wr, T);
        for (long u = 0; u < T; u++) dr[u] = wr[u] * (dr[u] - dot);
    }
}

/* ---- forward / backward -------------------------------------------------- */

static const hk_fast_masks no_masks = {0};

/* The LoRA branches on x: projections q (if adapted), k, v with their A, B
 * and input-dropout masks; o's input is ctx, handled on its own. */
enum { LQ, LK, LV, LO };
typedef struct {
    const float *A[3], *Bm[3];
    const uint8_t *m[3];
} lora_x;
static lora_x lora_x_of(const hk_fast_params *p, const hk_fast_masks *m)
{
    return (lora_x){{p->Aq, p->Ak, p->Av}, {p->Bq, p->Bk, p->Bv}, {m->lora_q, m->lora_k, m->lora_v}};
}
/* Each branch's dropped input: x without a mask; a branch whose mask equals
 * an earlier one's shares its buffer (the stack passes one mask for k, v). */
static void lora_x_inputs(const float *xd[3], int own[3], const hk_fast_cache *c, const float *x, const lora_x *lx)
{
    for (int j = 0; j < 3; j++) {
        xd[j] = lx->m[j] ? c->xd[j] : x;
        own[j] = lx->A[j] && lx->m[j];
        for (int i = 0; i < j && own[j]; i++)
            if (lx->A[i] && lx->m[i] == lx->m[j]) xd[j] = xd[i], own[j] = 0;
    }
}

enum { FWD_GRAD, FWD_INFER, FWD_POOLED };
enum { FFN_ROWS = 512 };

/* FWD_GRAD keeps what the backward needs (x's copy, GELU'); FWD_INFER does
 * not; FWD_POOLED computes only the rows t = 0 of y (K and V still for every
 * token: the first token attends to all of them; its query, attention row,
 * output projection, LayerNorms and FFN for B rows instead of B·T). */
static void enc_forward(float *y, hk_fast_cache *c, const float *x, const hk_fast_params *p, const hk_fast_masks *m,
                        int mode, const hk_fast_cache *qkv)
{
    const hk_fast_config *cf = &c->cfg;
    if (!m) m = &no_masks;
    const long B = cf->B, T = cf->T, C = cf->C, NH = cf->NH, F = cf->F, D = C / NH, N = B * T;
    const long r = m->lora_b > 0 && m->lora_b < cf->r ? m->lora_b : cf->r, ldB = ldb_of(cf);
    const float s = cf->alpha / (float)r, isD = 1.0f / sqrtf((float)D);
    /* pooled only without q/o LoRA and without reused projections (else all rows) */
    const int grad = mode == FWD_GRAD, pooled = mode == FWD_POOLED && !p->Aq && !p->Ao && !qkv;
    const long TQ = pooled ? 1 : T, NQ = B * TQ; /* query rows per sequence, in all */
    c->grad = grad;
    if (grad) { /* the backward needs x; y may alias it (otherwise x is last read before y is written) */
        memcpy(c->x, x, sizeof(float) * (size_t)(N * C));
        x = c->x;
    }
    const float *qp = qkv ? qkv->q : c->q, *kp = qkv ? qkv->k : c->k, *vp = qkv ? qkv->v : c->v;
    const lora_x lx = lora_x_of(p, m);
    const float *xd[3];
    int own[3];
    lora_x_inputs(xd, own, c, x, &lx);
    if (!qkv) {
        for (int j = 0; j < 3; j++)
            if (own[j]) lora_drop(c->xd[j], x, lx.m[j], m->lora_p, N * C);
        linear(c->k, x, p->Wk, p->bk, N, C, C);
        linear(c->v, x, p->Wv, p->bv, N, C, C);
        lora_forward(c->k, c->xa[LK], xd[LK], p->Ak, p->Bk, N, C, r, ldB, s);
        lora_forward(c->v, c->xa[LV], xd[LV], p->Av, p->Bv, N, C, r, ldB, s);
    }
    const float *xq = x;             /* the query rows of x (NQ,C) */
    const uint8_t *hid = m->hidden; /* and of HiddenCut's mask */
    if (pooled) {
        for (long b = 0; b < B; b++) memcpy(c->t1 + b * C, x + b * T * C, sizeof(float) * (size_t)C);
        xq = c->t1;
        if (hid) {
            for (long b = 0; b < B; b++) memcpy(c->mrow + b * C, m->hidden + b * T * C, (size_t)C);
            hid = c->mrow;
        }
    }
    if (!qkv) {
        linear(c->q, xq, p->Wq, p->bq, NQ, C, C);
        if (p->Aq) lora_forward(c->q, c->xa[LQ], xd[LQ], p->Aq, p->Bq, N, C, r, ldB, s); /* not pooled: xq = x */
    }
    for (long b = 0; b < B; b++) {
        const uint8_t *pad = m->pad ? m->pad + b * T : NULL;
        for (long h = 0; h < NH; h++) {
            const long bh = (b * NH + h) * T * T, qoff = b * TQ * C + h * D, koff = b * T * C + h * D;
            float *g = c->w_pre + bh; /* its first TQ rows */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)TQ, (int)T, (int)D, isD, qp + qoff, (int)C,
                        kp + koff, (int)C, 0.0f, g, (int)T);
            attn_rows_forward(g, c->w + bh, m->dropkey ? m->dropkey + bh : NULL,
                              m->dropattn ? m->dropattn + bh : NULL, pad, m->dropattn_variant, m->dropattn_p, TQ, T);
            const float *w = m->dropattn ? c->w + bh : g;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)TQ, (int)D, (int)T, 1.0f, w, (int)T,
                        vp + koff, (int)C, 0.0f, c->ctx + qoff, (int)C);
        }
    }
    linear(c->t0, c->ctx, p->Wo, p->bo, NQ, C, C);
    if (p->Ao) { /* LoRA on o, on the attention context (not pooled: NQ = N) */
        const float *xo = c->ctx;
        if (m->lora_o) lora_drop(c->xd[LO], c->ctx, m->lora_o, m->lora_p, N * C), xo = c->xd[LO];
        lora_forward(c->t0, c->xa[LO], xo, p->Ao, p->Bo, N, C, r, ldB, s);
    }
    ln_forward(c->x1, c->xhat1, c->rstd1, c->t0, xq, NULL, 1.0f, p->ln1_w, p->ln1_b, cf->ln_eps, NQ, C);
    /* FFN in blocks of FFN_ROWS rows, so u and GELU(u) are read back from
     * cache right after they are written (same products, row by row) */
    for (long r0 = 0; r0 < NQ; r0 += FFN_ROWS) {
        const long nr = NQ - r0 < FFN_ROWS ? NQ - r0 : FFN_ROWS;
        linear(c->u + r0 * F, c->x1 + r0 * C, p->W1, p->b1, nr, C, F);
        gelu_forward(c->gu + r0 * F, grad ? c->gp + r0 * F : NULL, c->u + r0 * F, nr * F);
        linear(c->h + r0 * C, c->gu + r0 * F, p->W2, p->b2, nr, F, C);
    }
    float *yq = pooled ? c->dq : y;
    ln_forward(yq, c->xhat2, c->rstd2, c->h, c->x1, hid, m->hidden_scale, p->ln2_w, p->ln2_b, cf->ln_eps, NQ, C);
    if (pooled)
        for (long b = 0; b < B; b++) memcpy(y + b * T * C, yq + b * C, sizeof(float) * (size_t)C);
}

void hk_fast_enc_forward(float *y, hk_fast_cache *c, const float *x, const hk_fast_params *p, const hk_fast_masks *m)
{
    enc_forward(y, c, x, p, m, FWD_GRAD, NULL);
}

void hk_fast_enc_infer(float *y, hk_fast_cache *c, const float *x, const hk_fast_params *p, const hk_fast_masks *m)
{
    enc_forward(y, c, x, p, m, FWD_INFER, NULL);
}

void hk_fast_enc_infer_reuse(float *y, hk_fast_cache *c, const float *x, const hk_fast_params *p,
                             const hk_fast_masks *m, const hk_fast_cache *qkv)
{
    enc_forward(y, c, x, p, m, FWD_INFER, qkv);
}

void hk_fast_enc_infer_pooled(float *y, hk_fast_cache *c, const float *x, const hk_fast_params *p,
                              const hk_fast_masks *m)
{
    enc_forward(y, c, x, p, m, FWD_POOLED, NULL);
}

void hk_fast_enc_backward(float *dx, hk_fast_params *g, const float *dy, hk_fast_cache *c, const hk_fast_params *p,
                          const hk_fast_masks *m)
{
    const hk_fast_config *cf = &c->cfg;
    if (!m) m = &no_masks;
    hk_fast_params none = {0};
    if (!g) g = &none;
    const long B = cf->B, T = cf->T, C = cf->C, NH = cf->NH, F = cf->F, D = C / NH, N = B * T;
    const long r = m->lora_b > 0 && m->lora_b < cf->r ? m->lora_b : cf->r, ldB = ldb_of(cf);
    const float s = cf->alpha / (float)r, isD = 1.0f / sqrtf((float)D);
    /* dQ feeds only dx and the gradients of Wq, bq and q's LoRA */
    const int want_dq = dx || g->Wq || g->bq || (p->Aq && (g->Aq || g->Bq));
    float *gr[4] = {c->dr, c->dr + N * r, c->dr + 2 * N * r, c->dr + 3 * N * r}; /* (N,r) each, LoRA's s dy B */
    float *t0 = c->t0, *t1 = c->t1;
    /* LN2, HiddenCut, FFN: t0 = dr2 -> dx1; t1 = dh */
    ln_backward(t0, g->ln2_w, g->ln2_b, dy, c->xhat2, c->rstd2, p->ln2_w, N, C);
    if (m->hidden) {
        const float hs = m->hidden_scale;
        for (long i = 0; i < N * C; i++) t1[i] = m->hidden[i] ? 0.0f : t0[i] * hs;
    }
    const float *dh = m->hidden ? t1 : t0;
    linear_wgrad(g->W2, g->b2, dh, c->gu, N, F, C);
    linear_dgrad(c->dF, dh, p->W2, N, F, C, 0.0f);
    for (long i = 0; i < N * F; i++) c->dF[i] *= c->gp[i];
    linear_wgrad(g->W1, g->b1, c->dF, c->x1, N, C, F);
    linear_dgrad(t0, c->dF, p->W1, N, C, F, 1.0f); /* dx1 = dr2 + du W1 */
    /* LN1: t1 = dr1 (gradient of the residual input and of the attention output) */
    ln_backward(t1, g->ln1_w, g->ln1_b, t0, c->xhat1, c->rstd1, p->ln1_w, N, C);
    /* Output projection: t0 = dctx */
    linear_wgrad(g->Wo, g->bo, t1, c->ctx, N, C, C);
    linear_dgrad(t0, t1, p->Wo, N, C, C, 0.0f);
    if (p->Ao) { /* o's LoRA: its A, B gradients, and dctx += its input gradient (dq as scratch) */
        const float *xo = m->lora_o ? c->xd[LO] : c->ctx;
        lora_backward(g->Ao, g->Bo, gr[LO], t1, xo, c->xa[LO], p->Bo, N, C, r, ldB, s);
        if (m->lora_o) {
            lora_dgrad(c->dq, gr[LO], p->Ao, N, C, r, 0.0f);
            lora_drop_backward(t0, c->dq, m->lora_o, m->lora_p, N * C);
        } else
            lora_dgrad(t0, gr[LO], p->Ao, N, C, r, 1.0f);
    }
    for (long b = 0; b < B; b++) {
        const uint8_t *pad = m->pad ? m->pad + b * T : NULL;
        for (long h = 0; h < NH; h++) {
            const long bh = (b * NH + h) * T * T, off = b * T * C + h * D;
            const float *wp = c->w_pre + bh, *w = m->dropattn ? c->w + bh : wp;
            float *dT = c->dT;
            /* dw = dctx_h V_h^T (T,T); dV_h = w^T dctx_h */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)D, 1.0f, t0 + off, (int)C,
                        c->v + off, (int)C, 0.0f, dT, (int)T);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)D, (int)T, 1.0f, w, (int)T, t0 + off,
                        (int)C, 0.0f, c->dv + off, (int)C);
            attn_rows_backward(dT, wp, w, m->dropattn ? m->dropattn + bh : NULL, pad, m->dropattn_variant,
                               m->dropattn_p, T);
            /* dQ_h = dg K_h / sqrt(D); dK_h = dg^T Q_h / sqrt(D) */
            if (want_dq)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)D, (int)T, isD, dT, (int)T,
                            c->k + off, (int)C, 0.0f, c->dq + off, (int)C);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)D, (int)T, isD, dT, (int)T, c->q + off,
                        (int)C, 0.0f, c->dk + off, (int)C);
        }
    }
    const float *x = c->x;
    const lora_x lx = lora_x_of(p, m);
    const float *xd[3];
    int own[3];
    lora_x_inputs(xd, own, c, x, &lx);
    linear_wgrad(g->Wq, g->bq, c->dq, x, N, C, C);
    linear_wgrad(g->Wk, g->bk, c->dk, x, N, C, C);
    linear_wgrad(g->Wv, g->bv, c->dv, x, N, C, C);
    const float *dproj[3] = {c->dq, c->dk, c->dv};
    float *dA[3] = {g->Aq, g->Ak, g->Av}, *dB[3] = {g->Bq, g->Bk, g->Bv};
    for (int j = 0; j < 3; j++)
        if (lx.A[j]) lora_backward(dA[j], dB[j], gr[j], dproj[j], xd[j], c->xa[j], lx.Bm[j], N, C, r, ldB, s);
    if (!dx) return;
    /* dx = dr1 (residual) + the three projections' input gradients + the LoRA branches */
    memmove(dx, t1, sizeof(float) * (size_t)(N * C));
    linear_dgrad(dx, c->dq, p->Wq, N, C, C, 1.0f);
    linear_dgrad(dx, c->dk, p->Wk, N, C, C, 1.0f);
    linear_dgrad(dx, c->dv, p->Wv, N, C, C, 1.0f);
    /* LoRA branches: straight into dx without input dropout; branches with one
     * mask summed first (t0 is free now), then through the dropout once */
    int done[3] = {0, 0, 0};
    for (int j = 0; j < 3; j++)
        if (lx.A[j] && !lx.m[j]) lora_dgrad(dx, gr[j], lx.A[j], N, C, r, 1.0f);
    for (int j = 0; j < 3; j++) {
        if (!lx.A[j] || !lx.m[j] || done[j]) continue;
        lora_dgrad(t0, gr[j], lx.A[j], N, C, r, 0.0f);
        for (int i = j + 1; i < 3; i++)
            if (lx.A[i] && lx.m[i] == lx.m[j]) lora_dgrad(t0, gr[i], lx.A[i], N, C, r, 1.0f), done[i] = 1;
        lora_drop_backward(dx, t0, lx.m[j], m->lora_p, N * C);
    }
}

double hk_fast_enc_fwd_macs(const hk_fast_config *c)
{
    const double N = (double)(c->B * c->T), C = (double)c->C, F = (double)c->F, T = (double)c->T, r = (double)c->r;
    /* q,k,v,o projections; LoRA k,v (two products each); QK^T and wV; FFN */
    return 4 * N * C * C + 2 * 2 * N * C * r + 2 * N * T * C + 2 * N * C * F;
}

double hk_fast_enc_bwd_macs(const hk_fast_config *c)
{
    const double N = (double)(c->B * c->T), C = (double)c->C, F = (double)c->F, T = (double)c->T, r = (double)c->r;
    /* input gradients of 4 projections; FFN: input gradients of both + their
     * weight gradients are skipped in fine-tuning, but dx needs W1, W2: 2 N C F;
     * attention: dw, dV, dQ, dK (4 N T C); LoRA k,v: g, dA, dB, g A (4 N C r each) */
    return 4 * N * C * C + 2 * N * C * F + 4 * N * T * C + 2 * 4 * N * C * r;
}
