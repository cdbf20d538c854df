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
#include <string.h>

typedef struct {
    int encoder;
    long B, T, C, NH, r, F;
    unsigned lora;            /* HK_ATTN_LORA_BIT set */
    double alpha, lora_p;
    int method;               /* 0 none, 1 dropkey, 2 dropattention */
    hk_dropattn_variant variant;
    hk_pattern pat;
    double attn_p;
    int pad;                  /* 1: batch 1's last key padded (and batch 0's last two when T > 5) */
    hk_hc_pattern hpat;       /* encoder: HiddenCut pattern */
    double hidden_p;
    int hidden_rescale;
    hk_allmask_policy policy; /* rows with no kept key (KEEP = 0 default) */
    int edge;                 /* 1: the case must contain an all-masked row (high p) */
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
        hk_case_cfg_str(g, "pattern", hk_pattern_name(a->pat));
        hk_case_cfg_real(g, "attn_p", a->attn_p);
        hk_case_cfg_str(g, "allmasked_policy", a->policy == HK_ALLMASK_ZERO ? "zero" : "keep");
    }
    if (a->method == 2) hk_case_cfg_str(g, "variant", hk_dropattn_variant_name(a->variant));
    if (a->encoder) {
        hk_case_cfg_int(g, "F", a->F);
        hk_case_cfg_real(g, "ln_eps", 1e-5);
        hk_case_cfg_str(g, "gelu", "erf");
        hk_case_cfg_str(g, "hidden_pattern", hk_hc_pattern_name(a->hpat));
        hk_case_cfg_real(g, "hidden_p", a->hidden_p);
        hk_case_cfg_real(g, "hidden_scale", a->hidden_rescale ? 1.0 / (1.0 - a->hidden_p) : 1.0);
    }
}

static int build_at(hk_case *g, const void *arg)
{
    const at_arg *a = arg;
    long B = a->B, T = a->T, C = a->C, NH = a->NH, r = a->r, F = a->F, BTC = B * T * C;
    hk_enc_config ec = {{B, T, C, NH, a->lora, r, r, a->alpha, a->lora_p}, F, 1e-5, HK_GELU_ERF};
    hk_enc_params P, G;
    memset(&P, 0, sizeof P);
    memset(&G, 0, sizeof G);
    double *x = hk_case_in(g, "in.x", HK_SHAPE(B, T, C)), *dy = hk_case_in(g, "in.d_y", HK_SHAPE(B, T, C));
    hk_case_fill(g, x, BTC, -2.0, 2.0);
    hk_case_fill(g, dy, BTC, -1.0, 1.0);
    double wlim = 1.0 / sqrt((double)C); /* nn.Linear-like scale keeps activations O(1) */
    for (int i = 0; i < HK_ATTN_NPROJ; i++) {
        P.attn.W[i] = param(g, "W", pname[i], HK_SHAPE(C, C), -wlim, wlim);
        P.attn.b[i] = param(g, "b", pname[i], HK_SHAPE(C), -0.5, 0.5);
        if (a->lora & HK_ATTN_LORA_BIT(i)) {
            P.attn.A[i] = param(g, "lora_A", pname[i], HK_SHAPE(r, C), -0.5, 0.5);
            P.attn.B[i] = param(g, "lora_B", pname[i], HK_SHAPE(C, r), -0.5, 0.5);
        }
    }
    if (a->encoder) {
        P.ln1_w = param(g, "ln1_weight", NULL, HK_SHAPE(C), 0.5, 1.5);
        P.ln1_b = param(g, "ln1_bias", NULL, HK_SHAPE(C), -0.5, 0.5);
        P.W1 = param(g, "W1", NULL, HK_SHAPE(F, C), -wlim, wlim);
        P.b1 = param(g, "b1", NULL, HK_SHAPE(F), -0.5, 0.5);
        P.W2 = param(g, "W2", NULL, HK_SHAPE(C, F), -1.0 / sqrt((double)F), 1.0 / sqrt((double)F));
        P.b2 = param(g, "b2", NULL, HK_SHAPE(C), -0.5, 0.5);
        P.ln2_w = param(g, "ln2_weight", NULL, HK_SHAPE(C), 0.5, 1.5);
        P.ln2_b = param(g, "ln2_bias", NULL, HK_SHAPE(C), -0.5, 0.5);
    }
    uint8_t *pad = hk_case_mask(g, "mask.pad", HK_SHAPE(B, T));
    if (!x || !dy || !pad) return HK_ENOMEM;
    if (a->pad) {
        pad[B > 1 ? T + T - 1 : T - 1] = 1;
        if (T > 5) pad[T - 1] = pad[T - 2] = 1;
    }
    const uint8_t *lmask[HK_ATTN_NPROJ] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < HK_ATTN_NPROJ; i++)
        if (a->lora & HK_ATTN_LORA_BIT(i)) {
            char name[32];
            snprintf(name, sizeof name, "mask.lora_%s", pname[i]);
            uint8_t *m = hk_case_mask(g, name, HK_SHAPE(B, T, C));
            if (!m) return HK_ENOMEM;
            HK_TRY(hk_mask_bernoulli(m, BTC, a->lora_p, hk_case_rng(g)));
            lmask[i] = m;
        }
    hk_attn_hooks hooks;
    memset(&hooks, 0, sizeof hooks);
    hk_dropkey_config dk;
    hk_dropattn_config da;
    if (a->method) {
        uint8_t *m = hk_case_mask(g, "mask.att", HK_SHAPE(B, NH, T, T));
        if (!m) return HK_ENOMEM;
        HK_TRY(hk_attnmask_sample(m, a->pat, a->attn_p, pad, B, NH, T, T, hk_case_rng(g)));
        long allmasked = hk_case_allmasked_rows(m, pad, B, NH, T);
        HK_REQUIRE(a->edge || allmasked == 0, HK_EDOM, "%ld all-masked rows in a non-edge case: another seed",
                   allmasked);
        HK_REQUIRE(!a->edge || allmasked > 0, HK_EDOM, "edge case without an all-masked row: another seed");
        if (a->method == 1) {
            dk = (hk_dropkey_config){m, pad, HK_DROPKEY_NEGINF, a->policy};
            HK_TRY(hk_dropkey_hooks(&hooks, &dk));
        } else {
            da = (hk_dropattn_config){m, pad, a->variant, a->attn_p, a->policy};
            HK_TRY(hk_dropattn_hooks(&hooks, &da));
        }
    }
    hk_hidden_hook hh;
    hk_hiddencut_ctx hc;
    memset(&hh, 0, sizeof hh);
    if (a->encoder) {
        uint8_t *m = hk_case_mask(g, "mask.hidden", HK_SHAPE(B, T, C));
        if (!m) return HK_ENOMEM;
        HK_TRY(hk_hiddencut_mask_sample(m, a->hpat, a->hidden_p, B, T, C, hk_case_rng(g)));
        hc = (hk_hiddencut_ctx){m, a->hidden_rescale ? 1.0 / (1.0 - a->hidden_p) : 1.0};
        HK_TRY(hk_hiddencut_hook(&hh, &hc));
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
    int st;
    double R = 0; /* the logit range: exp carries R rounding steps (golden/README.md, Tolerances) */
    if (a->encoder) {
        hk_enc_cache cache;
        HK_TRY(hk_enc_cache_alloc(&cache, &ec));
        st = hk_enc_forward(y, &cache, x, &P, &ec, pad, lmask, &hooks, &hh);
        if (!st) st = hk_enc_backward(dx, &G, dy, &cache, x, &P, &ec, pad, lmask, &hooks, &hh);
        if (!st) R = hk_case_logit_range(cache.attn.g_pre, B * NH * T * T, 0);
        hk_enc_cache_free(&cache);
    } else {
        hk_attn_cache cache;
        HK_TRY(hk_attn_cache_alloc(&cache, &ec.attn));
        st = hk_attn_forward(y, &cache, x, &P.attn, &ec.attn, pad, lmask, &hooks);
        if (!st) st = hk_attn_backward(dx, &G.attn, dy, &cache, x, &P.attn, &ec.attn, pad, lmask, &hooks);
        if (!st) R = hk_case_logit_range(cache.g_pre, B * NH * T * T, 0);
        hk_attn_cache_free(&cache);
    }
    hk_case_add_terms(g, "out.", R);
    hk_case_add_terms(g, "grad.", 2 * R);
    return st;
}

#define SRC_AT                                                                                                         \
    "multi-head attention with LoRA (ref/attention.h): softmax(QK^T/sqrt(D) [+ DropKey m]) [DropAttention] V, HK "   \
    "Eq. 1-5"
#define SRC_EN                                                                                                         \
    "post-LN encoder block (RoBERTa): LN2(x1 + HiddenCut(FFN(x1))), x1 = LN1(x + Attn(x)); HiddenKey Sec. 3.3"

#define KV (HK_ATTN_LORA_BIT(HK_ATTN_K) | HK_ATTN_LORA_BIT(HK_ATTN_V))
#define QKVO 15u
static const at_arg
    t_kv = {.B = 2, .T = 5, .C = 8, .NH = 2, .r = 2, .lora = KV, .alpha = 4.0},
    t_all = {.B = 2, .T = 6, .C = 6, .NH = 2, .r = 3, .lora = QKVO, .alpha = 6.0, .lora_p = 0.25, .pad = 1},
    t_dk = {.B = 2, .T = 6, .C = 8, .NH = 2, .r = 2, .lora = KV, .alpha = 4.0, .method = 1, .pat = HK_PATTERN_COLUMN,
            .attn_p = 0.25, .pad = 1},
    t_da = {.B = 2, .T = 5, .C = 6, .NH = 2, .r = 2, .lora = KV, .alpha = 4.0, .method = 2,
            .variant = HK_DROPATTN_NORM_NOGRAD, .pat = HK_PATTERN_ELEMENT, .attn_p = 0.25},
    t_b1 = {.B = 1, .T = 8, .C = 4, .NH = 1, .r = 1, .lora = KV, .alpha = 2.0, .lora_p = 0.125, .method = 1,
            .pat = HK_PATTERN_ELEMENT, .attn_p = 0.375, .pad = 1},
    e_plain = {.encoder = 1, .B = 2, .T = 4, .C = 8, .NH = 2, .r = 2, .F = 12, .lora = KV, .alpha = 4.0,
               .hpat = HK_HC_ELEMENT, .hidden_rescale = 1},
    e_hk = {.encoder = 1, .B = 2, .T = 6, .C = 8, .NH = 2, .r = 2, .F = 16, .lora = KV, .alpha = 4.0, .lora_p = 0.1,
            .method = 1, .pat = HK_PATTERN_COLUMN, .attn_p = 0.25, .pad = 1, .hpat = HK_HC_ELEMENT,
            .hidden_p = 0.125, .hidden_rescale = 1},
    e_span = {.encoder = 1, .B = 1, .T = 7, .C = 6, .NH = 2, .r = 2, .F = 10, .lora = KV, .alpha = 4.0, .method = 2,
              .variant = HK_DROPATTN_NORM_NOGRAD, .pat = HK_PATTERN_ELEMENT, .attn_p = 0.25, .hpat = HK_HC_SPAN,
              .hidden_p = 0.25},
    /* edges: high p with all-masked rows under both policies, NH = 3, the
     * differentiated normalized variant, high-p HiddenCut without rescale */
    t_hi_dk = {.B = 2, .T = 3, .C = 4, .NH = 2, .r = 1, .lora = KV, .alpha = 2.0, .method = 1,
               .pat = HK_PATTERN_ELEMENT, .attn_p = 0.75, .policy = HK_ALLMASK_ZERO, .edge = 1},
    t_hi_da = {.B = 2, .T = 3, .C = 6, .NH = 2, .r = 2, .lora = KV, .alpha = 4.0, .method = 2,
               .variant = HK_DROPATTN_CLASSIC, .pat = HK_PATTERN_ELEMENT, .attn_p = 0.75, .pad = 1,
               .policy = HK_ALLMASK_KEEP, .edge = 1},
    t_norm = {.B = 2, .T = 7, .C = 6, .NH = 3, .r = 2, .lora = QKVO, .alpha = 4.0, .method = 2,
              .variant = HK_DROPATTN_NORM, .pat = HK_PATTERN_ELEMENT, .attn_p = 0.25, .pad = 1},
    e_hi = {.encoder = 1, .B = 2, .T = 3, .C = 4, .NH = 2, .r = 1, .F = 6, .lora = QKVO, .alpha = 2.0,
            .lora_p = 0.25, .hpat = HK_HC_ELEMENT, .hidden_p = 0.75, .hidden_rescale = 0},
    e_col = {.encoder = 1, .B = 2, .T = 5, .C = 6, .NH = 2, .r = 2, .F = 8, .lora = KV, .alpha = 4.0, .method = 2,
             .variant = HK_DROPATTN_CLASSIC, .pat = HK_PATTERN_COLUMN, .attn_p = 0.25, .pad = 1,
             .hpat = HK_HC_COLUMN, .hidden_p = 0.25, .hidden_rescale = 1};

static const hk_golden_case cases[] = {
    {"attention", "attention_lora_kv_2x5_c8_nh2", SRC_AT, 1001, build_at, &t_kv},
    {"attention", "attention_lora_qkvo_dropout_padding_2x6_c6_nh2", SRC_AT, 1002, build_at, &t_all},
    {"attention", "attention_dropkey_column_padding_2x6_c8_nh2", SRC_AT, 1003, build_at, &t_dk},
    {"attention", "attention_dropattention_norm_nograd_2x5_c6_nh2", SRC_AT, 1004, build_at, &t_da},
    {"attention", "attention_b1_nh1_dropkey_element_padding_1x8_c4", SRC_AT, 1005, build_at, &t_b1},
    {"encoder", "encoder_lora_kv_2x4_c8_f12", SRC_EN, 1101, build_at, &e_plain},
    {"encoder", "encoder_hiddenkey_dropkey_column_hiddencut_element_padding_2x6_c8", SRC_EN, 1102, build_at, &e_hk},
    {"encoder", "encoder_dropattention_hiddencut_span_1x7_c6", SRC_EN, 1103, build_at, &e_span},
    {"attention", "attention_dropkey_p0.75_allmasked_zero_2x3_c4_nh2", SRC_AT, 1006, build_at, &t_hi_dk},
    {"attention", "attention_dropattention_classic_p0.75_allmasked_keep_padding_2x3_c6", SRC_AT, 1007, build_at,
     &t_hi_da},
    {"attention", "attention_dropattention_norm_lora_qkvo_padding_2x7_c6_nh3", SRC_AT, 1008, build_at, &t_norm},
    {"encoder", "encoder_lora_qkvo_dropout_hiddencut_p0.75_norescale_2x3_c4_f6", SRC_EN, 1104, build_at, &e_hi},
    {"encoder", "encoder_dropattention_classic_column_hiddencut_column_padding_2x5_c6_f8", SRC_EN, 1105, build_at,
     &e_col},
};

const hk_golden_case *hk_golden_attention(size_t *n)
{
    *n = sizeof cases / sizeof cases[0];
    return cases;
}
