/* hkref — golden cases: multi-head self-attention with LoRA adapters, key
 * padding and an attention-dropout method (DropKey / DropAttention), and the
 * post-LN encoder block around it (FFN with GELU, HiddenCut on the FFN
 * output).  Every input and parameter gets its expected gradient (frozen
 * weights too) except b_k, whose gradient is 0 identically (it adds q.b_k to
 * every logit of a row: softmax shift invariance).  Tolerances: K = 2; n sums
 * the rounding chain of the forward (projections + LoRA 2C + r, logits D,
 * softmax + rescale + context 3T + R with R = ceil(max |logit|), output
 * projection C, +16; encoder: + two LayerNorms 2(2C + 6), FFN C + F + 12),
 * doubled for gradients, + B*T for parameter gradients (a sum over tokens);
 * S = max|ref|. */
#include "golden/case.h"

#include "ref/dropattention.h"
#include "ref/dropkey.h"
#include "ref/encoder.h"
#include "ref/error.h"
#include "ref/hiddencut.h"
#include "ref/rng.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

typedef struct {
    int encoder;              /* fixed by the op: 0 attention, 1 encoder */
    long B, T, C, NH, r, F;
    unsigned lora;            /* HK_ATTN_LORA_BIT set */
    double alpha, lora_p;
    int method;               /* 0 none, 1 dropkey, 2 dropattention */
    int variant;              /* hk_dropattn_variant */
    int pat;                  /* hk_pattern */
    double attn_p;
    hk_counts pad_right, pad_left; /* padded keys per batch element, at the end / the start */
    int hpat;                 /* encoder: HiddenCut pattern (hk_hc_pattern) */
    double hidden_p;
    long hidden_rescale;
    int policy;               /* hk_allmask_policy: rows with no kept key (KEEP = 0 default) */
    int allmasked;            /* 0: no all-masked row allowed, 1: at least one required (high p), 2: either */
    int init;                 /* 0 legacy (the tiny committed set), 1 scaled (see scaled_init) */
    double logit_std;         /* scaled init: the std of a logit q.k/sqrt(D) from the frozen projections */
    double lora_ratio;        /* scaled init: std of the LoRA term / std of the frozen projection */
    long straddle;            /* > 0: some mask.att row drops keys straddle-1 and straddle (a tile edge) */
    hk_counts drop_keys;      /* lo:hi: these keys dropped in every mask.att row as well (a whole tile masked) */
} at_arg;

static const char *const pname[HK_ATTN_NPROJ] = {"q", "k", "v", "o"};

static double *param(hk_case *g, const char *what, const char *p, int ndim, const long *shape, double lo, double hi)
{
    char name[64];
    snprintf(name, sizeof name, "param.%s%s%s", what, p ? "_" : "", p ? p : "");
    long n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    double *x = hk_case_in(g, name, ndim, shape);
    hk_case_fill(g, x, n, lo, hi);
    return x;
}

static void record_cfg(hk_case *g, const at_arg *a)
{
    hk_case_cfg_int(g, "B", a->B);
    hk_case_cfg_int(g, "T", a->T);
    hk_case_cfg_int(g, "C", a->C);
    hk_case_cfg_int(g, "NH", a->NH);
    hk_case_cfg_lora(g, a->lora);
    hk_case_cfg_int(g, "r", a->r);
    hk_case_cfg_real(g, "alpha", a->alpha);
    hk_case_cfg_real(g, "lora_p", a->lora_p);
    hk_case_cfg_str(g, "method", a->method == 1 ? "dropkey" : a->method == 2 ? "dropattention" : "none");
    if (a->method) {
        hk_case_cfg_str(g, "pattern", hk_pattern_name((hk_pattern)a->pat));
        hk_case_cfg_real(g, "attn_p", a->attn_p);
        hk_case_cfg_str(g, "allmasked_policy", a->policy == HK_ALLMASK_ZERO ? "zero" : "keep");
    }
    if (a->method == 2) hk_case_cfg_str(g, "variant", hk_dropattn_variant_name((hk_dropattn_variant)a->variant));
    if (a->encoder) {
        hk_case_cfg_int(g, "F", a->F);
        hk_case_cfg_real(g, "ln_eps", 1e-5);
        hk_case_cfg_str(g, "gelu", "erf");
        hk_case_cfg_str(g, "hidden_pattern", hk_hc_pattern_name((hk_hc_pattern)a->hpat));
        hk_case_cfg_real(g, "hidden_p", a->hidden_p);
        hk_case_cfg_real(g, "hidden_scale", a->hidden_rescale ? 1.0 / (1.0 - a->hidden_p) : 1.0);
    }
}

/* The ranges of every input, per init rule.  legacy: the tiny committed set
 * (x in +-2, nn.Linear's +-1/sqrt(fan_in) for the frozen weights, LoRA
 * factors +-0.5).  scaled (golden/README.md, "Initialisation at width"): x
 * of unit variance (+-sqrt 3, a LayerNorm'd embedding); W_v, W_o, W1, W2
 * variance 1/fan_in (+-sqrt(3/fan_in): a unit-variance input stays unit
 * variance); W_q, W_k variance logit_std/C, so q and k components have
 * variance logit_std and a logit q.k/sqrt(D) has std logit_std at any width;
 * LoRA A as loralib initialises it (+-1/sqrt C, so A x has variance 1/3) and
 * B with +-beta, beta = 3 lora_ratio sqrt(r v) / alpha, which gives the LoRA
 * term (alpha/r) B A x the std lora_ratio sqrt(v) of the frozen projection
 * (v its output variance: logit_std for q, k; 1 for v, o); biases +-0.1;
 * LayerNorm weights 0.8 .. 1.2. */
typedef struct {
    double x, W[HK_ATTN_NPROJ], b, A, B[HK_ATTN_NPROJ], lnw_lo, lnw_hi, lnb, W1, b1, W2, b2;
} ranges;

static void init_ranges(const at_arg *a, ranges *rg)
{
    const double C = (double)a->C, F = (double)a->F;
    if (!a->init) {
        const double wlim = 1.0 / sqrt(C); /* nn.Linear-like scale keeps activations O(1) */
        *rg = (ranges){2.0, {wlim, wlim, wlim, wlim}, 0.5, 0.5, {0.5, 0.5, 0.5, 0.5}, 0.5, 1.5, 0.5,
                       wlim, 0.5, 1.0 / sqrt(F > 0 ? F : 1.0), 0.5};
        return;
    }
    const double v[HK_ATTN_NPROJ] = {a->logit_std, a->logit_std, 1.0, 1.0};
    rg->x = sqrt(3.0);
    for (int i = 0; i < HK_ATTN_NPROJ; i++) {
        rg->W[i] = sqrt(3.0 * v[i] / C);
        rg->B[i] = 3.0 * a->lora_ratio * sqrt((double)a->r * v[i]) / fabs(a->alpha);
    }
    rg->b = 0.1;
    rg->A = 1.0 / sqrt(C);
    rg->lnw_lo = 0.8, rg->lnw_hi = 1.2, rg->lnb = 0.1;
    rg->W1 = sqrt(3.0 / C), rg->b1 = 0.1, rg->W2 = sqrt(3.0 / (F > 0 ? F : 1.0)), rg->b2 = 0.1;
}

/* A given mask that drops something at rate 0 contradicts the config. */
static int check_given_mask(hk_case *g, const uint8_t *m, long n, double p, const char *name)
{
    if (!hk_case_is_given(g, m) || p > 0) return HK_OK;
    for (long i = 0; i < n; i++)
        HK_REQUIRE(!m[i], HK_EDOM, "given %s[%ld] drops a unit but its rate is 0 (1 = dropped)", name, i);
    return HK_OK;
}

static int check_att_pad(hk_case *g, const uint8_t *m, const uint8_t *pad, long B, long NH, long T)
{
    if (!hk_case_is_given(g, m)) return HK_OK;
    for (long b = 0; b < B; b++)
        for (long i = 0; i < NH * T * T; i++)
            HK_REQUIRE(!(m[b * NH * T * T + i] && pad[b * T + i % T]), HK_EDOM,
                       "given mask.att drops padded key %ld of batch element %ld (masks are 0 at padded keys)",
                       i % T, b);
    return HK_OK;
}

/* Forward and backward one batch element at a time: the (NH,T,T) caches
 * then hold one element (memory / B), and the result is bit-identical to the
 * whole batch, since every parameter gradient is a sequential sum over the
 * rows n = b T + t in that order either way (ref/linear.c, lora.c,
 * layernorm.c accumulate directly). */
typedef struct {
    const at_arg *a;
    const hk_enc_params *P;
    hk_enc_params *G;
    const double *x, *dy;
    double *y, *dx;
    const uint8_t *pad, *att, *hidden;
    const uint8_t *lmask[HK_ATTN_NPROJ];
} at_run;

static int run_by_batch(const at_run *u, double *R)
{
    const at_arg *a = u->a;
    const long T = a->T, C = a->C, NH = a->NH, TC = T * C, HTT = NH * T * T;
    hk_enc_config ec = {{1, T, C, a->NH, a->lora, a->r, a->r, a->alpha, a->lora_p}, a->F, 1e-5, HK_GELU_ERF};
    hk_enc_cache ecache;
    hk_attn_cache acache;
    if (a->encoder) HK_TRY(hk_enc_cache_alloc(&ecache, &ec));
    else HK_TRY(hk_attn_cache_alloc(&acache, &ec.attn));
    int st = HK_OK;
    for (long b = 0; b < a->B && !st; b++) {
        const uint8_t *lm[HK_ATTN_NPROJ], *pad = u->pad + b * T;
        for (int i = 0; i < HK_ATTN_NPROJ; i++) lm[i] = u->lmask[i] ? u->lmask[i] + b * TC : NULL;
        hk_attn_hooks hooks;
        memset(&hooks, 0, sizeof hooks);
        hk_dropkey_config dk;
        hk_dropattn_config da;
        if (a->method == 1) {
            dk = (hk_dropkey_config){u->att + b * HTT, pad, HK_DROPKEY_NEGINF, (hk_allmask_policy)a->policy};
            st = hk_dropkey_hooks(&hooks, &dk);
        } else if (a->method == 2) {
            da = (hk_dropattn_config){u->att + b * HTT, pad, (hk_dropattn_variant)a->variant, a->attn_p,
                                      (hk_allmask_policy)a->policy};
            st = hk_dropattn_hooks(&hooks, &da);
        }
        hk_hidden_hook hh;
        hk_hiddencut_ctx hc;
        memset(&hh, 0, sizeof hh);
        if (!st && a->encoder) {
            hc = (hk_hiddencut_ctx){u->hidden + b * TC, a->hidden_rescale ? 1.0 / (1.0 - a->hidden_p) : 1.0};
            st = hk_hiddencut_hook(&hh, &hc);
        }
        const double *xb = u->x + b * TC, *dyb = u->dy + b * TC;
        double *yb = u->y + b * TC, *dxb = u->dx + b * TC;
        if (st) break;
        if (a->encoder) {
            st = hk_enc_forward(yb, &ecache, xb, u->P, &ec, pad, lm, &hooks, &hh);
            if (!st) st = hk_enc_backward(dxb, u->G, dyb, &ecache, xb, u->P, &ec, pad, lm, &hooks, &hh);
            if (!st) *R = hk_case_logit_range(ecache.attn.g_pre, HTT, *R);
        } else {
            st = hk_attn_forward(yb, &acache, xb, &u->P->attn, &ec.attn, pad, lm, &hooks);
            if (!st) st = hk_attn_backward(dxb, &u->G->attn, dyb, &acache, xb, &u->P->attn, &ec.attn, pad, lm, &hooks);
            if (!st) *R = hk_case_logit_range(acache.g_pre, HTT, *R);
        }
    }
    if (a->encoder) hk_enc_cache_free(&ecache);
    else hk_attn_cache_free(&acache);
    return st;
}

static int build_at(hk_case *g, const void *arg)
{
    const at_arg *a = arg;
    long B = a->B, T = a->T, C = a->C, NH = a->NH, r = a->r, F = a->F, BTC = B * T * C;
    hk_enc_params P, G;
    memset(&P, 0, sizeof P);
    memset(&G, 0, sizeof G);
    ranges rg;
    init_ranges(a, &rg);
    double *x = hk_case_in(g, "in.x", HK_SHAPE(B, T, C)), *dy = hk_case_in(g, "in.d_y", HK_SHAPE(B, T, C));
    hk_case_fill(g, x, BTC, -rg.x, rg.x);
    hk_case_fill(g, dy, BTC, -1.0, 1.0);
    for (int i = 0; i < HK_ATTN_NPROJ; i++) {
        P.attn.W[i] = param(g, "W", pname[i], HK_SHAPE(C, C), -rg.W[i], rg.W[i]);
        P.attn.b[i] = param(g, "b", pname[i], HK_SHAPE(C), -rg.b, rg.b);
        if (a->lora & HK_ATTN_LORA_BIT(i)) {
            P.attn.A[i] = param(g, "lora_A", pname[i], HK_SHAPE(r, C), -rg.A, rg.A);
            P.attn.B[i] = param(g, "lora_B", pname[i], HK_SHAPE(C, r), -rg.B[i], rg.B[i]);
        }
    }
    if (a->encoder) {
        P.ln1_w = param(g, "ln1_weight", NULL, HK_SHAPE(C), rg.lnw_lo, rg.lnw_hi);
        P.ln1_b = param(g, "ln1_bias", NULL, HK_SHAPE(C), -rg.lnb, rg.lnb);
        P.W1 = param(g, "W1", NULL, HK_SHAPE(F, C), -rg.W1, rg.W1);
        P.b1 = param(g, "b1", NULL, HK_SHAPE(F), -rg.b1, rg.b1);
        P.W2 = param(g, "W2", NULL, HK_SHAPE(C, F), -rg.W2, rg.W2);
        P.b2 = param(g, "b2", NULL, HK_SHAPE(C), -rg.b2, rg.b2);
        P.ln2_w = param(g, "ln2_weight", NULL, HK_SHAPE(C), rg.lnw_lo, rg.lnw_hi);
        P.ln2_b = param(g, "ln2_bias", NULL, HK_SHAPE(C), -rg.lnb, rg.lnb);
    }
    uint8_t *pad = hk_case_mask(g, "mask.pad", HK_SHAPE(B, T));
    if (!x || !dy || !pad) return HK_ENOMEM;
    HK_TRY(hk_case_padding(g, pad, B, T, &a->pad_right, &a->pad_left));
    const uint8_t *lmask[HK_ATTN_NPROJ] = {NULL, NULL, NULL, NULL}, *att = NULL, *hidden = NULL;
    for (int i = 0; i < HK_ATTN_NPROJ; i++)
        if (a->lora & HK_ATTN_LORA_BIT(i)) {
            char name[32];
            snprintf(name, sizeof name, "mask.lora_%s", pname[i]);
            uint8_t *m = hk_case_mask(g, name, HK_SHAPE(B, T, C));
            if (!m) return HK_ENOMEM;
            if (!hk_case_is_given(g, m)) HK_TRY(hk_mask_bernoulli(m, BTC, a->lora_p, hk_case_rng(g)));
            HK_TRY(check_given_mask(g, m, BTC, a->lora_p, name));
            lmask[i] = m;
        }
    if (a->method) {
        uint8_t *m = hk_case_mask(g, "mask.att", HK_SHAPE(B, NH, T, T));
        if (!m) return HK_ENOMEM;
        int given = hk_case_is_given(g, m);
        if (!given) {
            HK_TRY(hk_attnmask_sample(m, (hk_pattern)a->pat, a->attn_p, pad, B, NH, T, T, hk_case_rng(g)));
            HK_TRY(hk_case_drop_keys(m, pad, B, NH, T, &a->drop_keys));
        }
        HK_TRY(check_given_mask(g, m, B * NH * T * T, a->attn_p, "mask.att"));
        HK_TRY(check_att_pad(g, m, pad, B, NH, T));
        long allmasked = hk_case_allmasked_rows(m, pad, B, NH, T);
        HK_REQUIRE(given || a->allmasked != 0 || allmasked == 0, HK_EDOM,
                   "%ld all-masked rows in a non-edge case: another seed (or allmasked=any)", allmasked);
        HK_REQUIRE(given || a->allmasked != 1 || allmasked > 0, HK_EDOM,
                   "edge case without an all-masked row: another seed");
        HK_REQUIRE(given || !a->straddle || hk_case_straddles(m, pad, B, NH, T, a->straddle), HK_EDOM,
                   "no mask.att row drops both keys %ld and %ld (straddle=%ld): another seed", a->straddle - 1,
                   a->straddle, a->straddle);
        att = m;
    }
    if (a->encoder) {
        uint8_t *m = hk_case_mask(g, "mask.hidden", HK_SHAPE(B, T, C));
        if (!m) return HK_ENOMEM;
        if (!hk_case_is_given(g, m))
            HK_TRY(hk_hiddencut_mask_sample(m, (hk_hc_pattern)a->hpat, a->hidden_p, B, T, C, hk_case_rng(g)));
        HK_TRY(check_given_mask(g, m, BTC, a->hidden_p, "mask.hidden"));
        hidden = m;
    }
    record_cfg(g, a);
    double nat = (double)(2 * C + r + C / NH + 3 * T + C + 16);
    double nenc = a->encoder ? (double)(4 * C + 12 + C + F + 12) : 0;
    const char *note = "forward chain: projections + LoRA (2C + r), logits (D), softmax + rescale + context (3T + R), "
                       "output projection (C), +16; encoder: + LayerNorms 2(2C + 6) + FFN (C + F) + 12; S = max|ref|";
    const char *gnote = "twice the forward chain, R included (backward retraces it); LoRA and weight gradients: "
                        "+ B*T (sum over tokens); S = max|ref|";
    double *y = hk_case_out(g, "out.y", HK_SHAPE(B, T, C), 2, nat + nenc, 0, note);
    double *dx = hk_case_out(g, "grad.x", HK_SHAPE(B, T, C), 2, 2 * (nat + nenc), 0, gnote);
    for (int i = 0; i < HK_ATTN_NPROJ; i++)
        if (a->lora & HK_ATTN_LORA_BIT(i)) {
            char name[32];
            snprintf(name, sizeof name, "grad.lora_A_%s", pname[i]);
            G.attn.A[i] = hk_case_out(g, name, HK_SHAPE(r, C), 2, 2 * (nat + nenc) + B * T, 0, gnote);
            snprintf(name, sizeof name, "grad.lora_B_%s", pname[i]);
            G.attn.B[i] = hk_case_out(g, name, HK_SHAPE(C, r), 2, 2 * (nat + nenc) + B * T, 0, gnote);
        }
    /* Frozen weights too (the format asks for the gradient of every
     * parameter; a backend that trains them, or fine-tunes fully, needs
     * them): one more sum over the B*T tokens than grad.x. */
    double nw = 2 * (nat + nenc) + B * T;
    for (int i = 0; i < HK_ATTN_NPROJ; i++) {
        char name[32];
        snprintf(name, sizeof name, "grad.W_%s", pname[i]);
        G.attn.W[i] = hk_case_out(g, name, HK_SHAPE(C, C), 2, nw, 0, gnote);
        if (i == HK_ATTN_K) continue; /* d b_k = 0 identically (README: softmax shift invariance) */
        snprintf(name, sizeof name, "grad.b_%s", pname[i]);
        G.attn.b[i] = hk_case_out(g, name, HK_SHAPE(C), 2, nw, 0, gnote);
    }
    if (a->encoder) {
        G.ln1_w = hk_case_out(g, "grad.ln1_weight", HK_SHAPE(C), 2, nw, 0, gnote);
        G.ln1_b = hk_case_out(g, "grad.ln1_bias", HK_SHAPE(C), 2, nw, 0, gnote);
        G.W1 = hk_case_out(g, "grad.W1", HK_SHAPE(F, C), 2, nw, 0, gnote);
        G.b1 = hk_case_out(g, "grad.b1", HK_SHAPE(F), 2, nw, 0, gnote);
        G.W2 = hk_case_out(g, "grad.W2", HK_SHAPE(C, F), 2, nw, 0, gnote);
        G.b2 = hk_case_out(g, "grad.b2", HK_SHAPE(C), 2, nw, 0, gnote);
        G.ln2_w = hk_case_out(g, "grad.ln2_weight", HK_SHAPE(C), 2, nw, 0, gnote);
        G.ln2_b = hk_case_out(g, "grad.ln2_bias", HK_SHAPE(C), 2, nw, 0, gnote);
    }
    if (!y || !dx) return HK_ENOMEM;
    at_run u = {a, &P, &G, x, dy, y, dx, pad, att, hidden, {lmask[0], lmask[1], lmask[2], lmask[3]}};
    double R = 0; /* the logit range: exp carries R rounding steps (golden/README.md, Tolerances) */
    HK_TRY(run_by_batch(&u, &R));
    hk_case_add_terms(g, "out.", R);
    hk_case_add_terms(g, "grad.", 2 * R);
    return HK_OK;
}

#define SRC_AT                                                                                                         \
    "multi-head attention with LoRA (ref/attention.h): softmax(QK^T/sqrt(D) [+ DropKey m]) [DropAttention] V, HK "   \
    "Eq. 1-5"
#define SRC_EN                                                                                                         \
    "post-LN encoder block (RoBERTa): LN2(x1 + HiddenCut(FFN(x1))), x1 = LN1(x + Attn(x)); HiddenKey Sec. 3.3"

static int check_at(void *arg)
{
    const at_arg *a = arg;
    const char *op = a->encoder ? "encoder" : "attention";
    HK_REQUIRE(a->C % a->NH == 0, HK_ESHAPE, "%s: C=%ld is not divisible by NH=%ld heads", op, a->C, a->NH);
    HK_REQUIRE(!a->lora || a->r <= a->C, HK_EDOM, "%s: LoRA rank r=%ld must be <= C=%ld", op, a->r, a->C);
    HK_REQUIRE(a->lora || a->lora_p == 0, HK_EINVAL, "%s: lora_p=%g but lora=none (no adapter to drop into)", op,
               a->lora_p);
    HK_REQUIRE(a->method || a->attn_p == 0, HK_EINVAL, "%s: attn_p=%g needs method=dropkey or dropattention", op,
               a->attn_p);
    HK_REQUIRE(a->method == 2 || a->variant == HK_DROPATTN_CLASSIC, HK_EINVAL,
               "%s: variant applies to method=dropattention only", op);
    HK_REQUIRE(a->method || (a->allmasked == 0 && a->straddle == 0 && a->policy == HK_ALLMASK_KEEP &&
                             a->drop_keys.n == 0),
               HK_EINVAL, "%s: allmasked, straddle, drop_keys and allmasked_policy need an attention-dropout method", op);
    HK_REQUIRE(a->drop_keys.n == 0 || a->attn_p > 0, HK_EDOM, "%s: drop_keys needs attn_p > 0", op);
    HK_REQUIRE(a->straddle < a->T, HK_EDOM, "%s: straddle=%ld must be < T=%ld", op, a->straddle, a->T);
    HK_REQUIRE(!a->encoder || a->F >= 1, HK_EDOM, "encoder: the FFN width F must be >= 1");
    HK_REQUIRE(a->encoder || (a->hidden_p == 0 && a->hidden_rescale == 0), HK_EINVAL,
               "attention: hidden_p / hidden_rescale are encoder settings");
    HK_REQUIRE(!a->init || (a->alpha != 0 && a->logit_std > 0), HK_EDOM,
               "%s: init=scaled needs alpha != 0 and logit_std > 0", op);
    hk_attn_config c = {a->B, a->T, a->C, a->NH, a->lora, a->r, a->r, a->alpha, a->lora_p};
    return hk_attn_config_check(&c); /* the reference's own limits and messages */
}

static const char *const at_methods[] = {"none", "dropkey", "dropattention", NULL};
static const char *const at_variants[] = {"classic", "norm_nograd", "norm", NULL};   /* hk_dropattn_variant */
static const char *const at_patterns[] = {"element", "column", "span", NULL};       /* hk_pattern */
static const char *const at_hpatterns[] = {"element", "column", "span", NULL};      /* hk_hc_pattern */
static const char *const at_policies[] = {"keep", "zero", NULL};                    /* hk_allmask_policy */
static const char *const at_allmasked[] = {"none", "some", "any", NULL};
static const char *const at_inits[] = {"legacy", "scaled", NULL};

#define KV (HK_ATTN_LORA_BIT(HK_ATTN_K) | HK_ATTN_LORA_BIT(HK_ATTN_V))
static const at_arg at_defaults = {.B = 2, .T = 5, .C = 8, .NH = 2, .r = 2, .lora = KV, .alpha = 4.0, .init = 1,
                                   .logit_std = 2.0, .lora_ratio = 0.5},
                    en_defaults = {.encoder = 1, .B = 2, .T = 5, .C = 8, .NH = 2, .r = 2, .F = 32, .lora = KV,
                                   .alpha = 4.0, .init = 1, .logit_std = 2.0, .lora_ratio = 0.5};
static const hk_golden_param at_params[] = {
    HK_P_INT(at_arg, B, "B", 1, 4096, "batch"),
    HK_P_INT(at_arg, T, "T", 1, 4096, "sequence length (queries = keys)"),
    HK_P_INT(at_arg, C, "C", 1, 16384, "model width, C = NH * D"),
    HK_P_INT(at_arg, NH, "NH", 1, 16384, "heads"),
    HK_P_LORA(at_arg, lora, "lora", "the adapted projections"),
    HK_P_INT(at_arg, r, "r", 1, 16384, "LoRA rank"),
    HK_P_REAL(at_arg, alpha, "alpha", -1e6, 1e6, "LoRA scale numerator (scale = alpha / r)"),
    HK_P_RATE(at_arg, lora_p, "lora_p", "LoRA input dropout rate"),
    HK_P_ENUM(at_arg, method, "method", at_methods, "attention dropout"),
    HK_P_ENUM(at_arg, variant, "variant", at_variants, "DropAttention variant"),
    HK_P_ENUM(at_arg, pat, "pattern", at_patterns, "how mask.att is drawn"),
    HK_P_RATE(at_arg, attn_p, "attn_p", "attention dropout rate"),
    HK_P_ENUM(at_arg, policy, "allmasked_policy", at_policies, "rows with no kept key"),
    HK_P_COUNTS(at_arg, pad_right, "pad_right", 0, 4096, "padded keys at the end, per batch element"),
    HK_P_COUNTS(at_arg, pad_left, "pad_left", 0, 4096, "padded keys at the start, per batch element"),
    HK_P_ENUM(at_arg, allmasked, "allmasked", at_allmasked, "all-masked rows: none allowed, some required, any"),
    HK_P_INT(at_arg, straddle, "straddle", 0, 4095, "> 0: a mask.att row drops keys straddle-1 and straddle"),
    HK_P_COUNTS(at_arg, drop_keys, "drop_keys", 0, 4096, "lo:hi: keys lo..hi-1 dropped in every mask.att row too"),
    HK_P_ENUM(at_arg, init, "init", at_inits, "input ranges (golden/README.md, Initialisation at width)"),
    HK_P_REAL(at_arg, logit_std, "logit_std", 0, 100, "init=scaled: std of a logit from the frozen q, k"),
    HK_P_REAL(at_arg, lora_ratio, "lora_ratio", 0, 100, "init=scaled: LoRA term std / frozen projection std"),
    /* encoder only (the last four) */
    HK_P_INT(at_arg, F, "F", 1, 1 << 16, "FFN width"),
    HK_P_ENUM(at_arg, hpat, "hidden_pattern", at_hpatterns, "how mask.hidden is drawn"),
    HK_P_RATE(at_arg, hidden_p, "hidden_p", "HiddenCut rate on the FFN output"),
    HK_P_INT(at_arg, hidden_rescale, "hidden_rescale", 0, 1, "1: kept units times 1/(1 - hidden_p)"),
};
static const hk_golden_op op_at = {"attention", SRC_AT, sizeof(at_arg), &at_defaults, at_params,
                                   HK_NPARAMS(at_params) - 4, NULL, NULL, check_at, NULL, build_at};
static const hk_golden_op op_en = {"encoder", SRC_EN, sizeof(at_arg), &en_defaults, at_params, HK_NPARAMS(at_params),
                                   NULL, NULL, check_at, NULL, build_at};

#define LEG "init=legacy,"
static const hk_golden_case cases[] = {
    {&op_at, "attention_lora_kv_2x5_c8_nh2", 1001, LEG "B=2,T=5,C=8,NH=2,r=2,lora=kv,alpha=4"},
    {&op_at, "attention_lora_qkvo_dropout_padding_2x6_c6_nh2", 1002,
     LEG "B=2,T=6,C=6,NH=2,r=3,lora=qkvo,alpha=6,lora_p=0.25,pad_right=2:1"},
    {&op_at, "attention_dropkey_column_padding_2x6_c8_nh2", 1003,
     LEG "B=2,T=6,C=8,NH=2,r=2,lora=kv,alpha=4,method=dropkey,pattern=column,attn_p=0.25,pad_right=2:1"},
    {&op_at, "attention_dropattention_norm_nograd_2x5_c6_nh2", 1004,
     LEG "B=2,T=5,C=6,NH=2,r=2,lora=kv,alpha=4,method=dropattention,variant=norm_nograd,attn_p=0.25"},
    {&op_at, "attention_b1_nh1_dropkey_element_padding_1x8_c4", 1005,
     LEG "B=1,T=8,C=4,NH=1,r=1,lora=kv,alpha=2,lora_p=0.125,method=dropkey,attn_p=0.375,pad_right=2"},
    {&op_en, "encoder_lora_kv_2x4_c8_f12", 1101, LEG "B=2,T=4,C=8,NH=2,r=2,F=12,lora=kv,alpha=4,hidden_rescale=1"},
    {&op_en, "encoder_hiddenkey_dropkey_column_hiddencut_element_padding_2x6_c8", 1102,
     LEG "B=2,T=6,C=8,NH=2,r=2,F=16,lora=kv,alpha=4,lora_p=0.1,method=dropkey,pattern=column,attn_p=0.25,"
         "pad_right=2:1,hidden_pattern=element,hidden_p=0.125,hidden_rescale=1"},
    {&op_en, "encoder_dropattention_hiddencut_span_1x7_c6", 1103,
     LEG "B=1,T=7,C=6,NH=2,r=2,F=10,lora=kv,alpha=4,method=dropattention,variant=norm_nograd,attn_p=0.25,"
         "hidden_pattern=span,hidden_p=0.25"},
    /* edges: high p with all-masked rows under both policies, NH = 3, the
     * differentiated normalized variant, high-p HiddenCut without rescale */
    {&op_at, "attention_dropkey_p0.75_allmasked_zero_2x3_c4_nh2", 1006,
     LEG "B=2,T=3,C=4,NH=2,r=1,lora=kv,alpha=2,method=dropkey,attn_p=0.75,allmasked_policy=zero,allmasked=some"},
    {&op_at, "attention_dropattention_classic_p0.75_allmasked_keep_padding_2x3_c6", 1007,
     LEG "B=2,T=3,C=6,NH=2,r=2,lora=kv,alpha=4,method=dropattention,variant=classic,attn_p=0.75,pad_right=0:1,"
         "allmasked=some"},
    {&op_at, "attention_dropattention_norm_lora_qkvo_padding_2x7_c6_nh3", 1008,
     LEG "B=2,T=7,C=6,NH=3,r=2,lora=qkvo,alpha=4,method=dropattention,variant=norm,attn_p=0.25,pad_right=2:1"},
    {&op_en, "encoder_lora_qkvo_dropout_hiddencut_p0.75_norescale_2x3_c4_f6", 1104,
     LEG "B=2,T=3,C=4,NH=2,r=1,F=6,lora=qkvo,alpha=2,lora_p=0.25,hidden_p=0.75"},
    {&op_en, "encoder_dropattention_classic_column_hiddencut_column_padding_2x5_c6_f8", 1105,
     LEG "B=2,T=5,C=6,NH=2,r=2,F=8,lora=kv,alpha=4,method=dropattention,variant=classic,pattern=column,attn_p=0.25,"
         "pad_right=0:1,hidden_pattern=column,hidden_p=0.25,hidden_rescale=1"},
    /* the tile tier (golden/README.md, "The tile tier"): T across the 64-key tiles, C = 36 and head size 12
     * (neither a power of two), batch element 1's first key tile wholly padded, scaled initialisation */
    {&op_at, "attention_tile_dropkey_padleft64_2x130_c36_nh3", 1021,
     "B=2,T=130,C=36,NH=3,r=4,lora=qkvo,alpha=8,lora_p=0.1,method=dropkey,attn_p=0.1,pad_left=0:64,pad_right=1"},
    {&op_at, "attention_tile_dropattention_norm_2x65_c36_nh3", 1022,
     "B=2,T=65,C=36,NH=3,r=4,lora=kv,alpha=8,method=dropattention,variant=norm,attn_p=0.25,pad_right=0:1"},
    {&op_at, "attention_tile_plain_padleft64_1x129_c36_nh3", 1023, "B=1,T=129,C=36,NH=3,r=4,lora=kv,alpha=8,pad_left=64"},
    {&op_en, "encoder_tile_hiddenkey_padleft64_2x130_c36_f72", 1121,
     "B=2,T=130,C=36,NH=3,r=4,F=72,lora=kv,alpha=8,lora_p=0.1,method=dropkey,pattern=column,attn_p=0.1,"
     "pad_left=0:64,hidden_pattern=element,hidden_p=0.1,hidden_rescale=1"},
    {&op_en, "encoder_tile_dropattention_norm_nograd_2x65_c36_f72", 1122,
     "B=2,T=65,C=36,NH=3,r=4,F=72,lora=kv,alpha=8,method=dropattention,variant=norm_nograd,pattern=span,attn_p=0.25,"
     "straddle=64,hidden_pattern=span,hidden_p=0.1"},
};

const hk_golden_case *hk_golden_attention(size_t *n)
{
    *n = sizeof cases / sizeof cases[0];
    return cases;
}
