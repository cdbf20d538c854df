/* hkref — finite-difference checks of the post-LN encoder block backward: dx
 * and every parameter (attention W/b and LoRA A/B on k,v; LayerNorms; FFN).
 * Shape B=2, T=3, C=4, NH=2 (D=2), F=6, r=2.  Fixed seed; LoRA B non-zero;
 * L = sum(y * dy) for a fixed random dy.  Default h / atol / rtol
 * (ref/gradcheck.h): every stage is smooth (LayerNorm variances are O(0.1)
 * or more here, far above eps = 1e-5; GELU's erf form is analytic), so the
 * 5-point rule's error is the rounding term ~eps|L|/h ~ 1e-11. */
#include "checks.h"
#include "fixtures.h"

#include "ref/encoder.h"
#include "ref/error.h"
#include "ref/layernorm.h"
#include "ref/rng.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

enum { EB = 2, ET = 3, EC = 4, ENH = 2, EF = 6, ER = 2 };
enum { BTC = EB * ET * EC, LOG = EB * ENH * ET * ET };

typedef struct {
    int pad, hooks;
    hk_gelu_kind gelu;
} enc_case;

typedef struct {
    hk_enc_config cfg;
    hk_enc_params P;
    hk_enc_cache cache;
    const uint8_t *pad;
    const hk_attn_hooks *ah;
    const hk_hidden_hook *hh;
    double x[BTC], y[BTC], dy[BTC];
} enc_ctx;

static double enc_loss(void *p)
{
    enc_ctx *c = p;
    if (hk_enc_forward(c->y, &c->cache, c->x, &c->P, &c->cfg, c->pad, NULL, c->ah, c->hh)) return NAN;
    return hk_dot(c->y, c->dy, BTC);
}

static int run_case(hk_check_result *res, const enc_case *k)
{
    static const uint8_t pad[EB * ET] = {0, 0, 1, 1, 0, 0}; /* one trailing, one leading pad */
    double add[LOG], mul[LOG], hmul[BTC], hadd[BTC];
    hk_fixed_hooks fx = {.add = add, .mul = mul, .n_attn = LOG, .hmul = hmul, .hadd = hadd, .n_hidden = BTC};
    hk_attn_hooks ah;
    hk_hidden_hook hh;
    hk_fixed_attn_hooks(&ah, &fx);
    hk_fixed_hidden_hook(&hh, &fx);

    enc_ctx c;
    memset(&c, 0, sizeof c);
    c.cfg = (hk_enc_config){
        .attn = {.B = EB, .T = ET, .C = EC, .NH = ENH, .lora = HK_ATTN_LORA_KV, .r = ER, .alpha = 4.0},
        .F = EF,
        .ln_eps = HK_LAYERNORM_EPS_DEFAULT,
        .gelu = k->gelu};
    c.pad = k->pad ? pad : NULL;
    c.ah = k->hooks ? &ah : NULL;
    c.hh = k->hooks ? &hh : NULL;
    hk_enc_params G;
    memset(&G, 0, sizeof G);
    int st = hk_enc_params_alloc(&c.P, &c.cfg, 1);
    if (!st) st = hk_enc_params_alloc(&G, &c.cfg, 1);
    if (!st) st = hk_enc_cache_alloc(&c.cache, &c.cfg);
    gsl_rng *r = st ? NULL : hk_rng_new(37);
    if (!st && !r) st = HK_ENOMEM;
    if (!st) st = hk_fixture_enc_params(&c.P, &c.cfg, r);
    if (!st) st = hk_rng_fill_uniform(c.x, BTC, -1.0, 1.0, r);
    if (!st) st = hk_rng_fill_uniform(c.dy, BTC, -1.0, 1.0, r);
    /* Hook terms: logits + [-1,1], weights * [0.5,1.5], hidden * [0.5,1.5] + [-0.3,0.3]. */
    if (!st) st = hk_rng_fill_uniform(add, LOG, -1.0, 1.0, r);
    if (!st) st = hk_rng_fill_uniform(mul, LOG, 0.5, 1.5, r);
    if (!st) st = hk_rng_fill_uniform(hmul, BTC, 0.5, 1.5, r);
    if (!st) st = hk_rng_fill_uniform(hadd, BTC, -0.3, 0.3, r);
    hk_rng_free(r);
    double dx[BTC] = {0};
    if (!st) st = hk_enc_forward(c.y, &c.cache, c.x, &c.P, &c.cfg, c.pad, NULL, c.ah, c.hh);
    if (!st) st = hk_enc_backward(dx, &G, c.dy, &c.cache, c.x, &c.P, &c.cfg, c.pad, NULL, c.ah, c.hh);
    if (!st) {
        const long C = EC, F = EF;
        hk_gc_var v[1 + 4 * HK_ATTN_NPROJ + 8] = {
            {"dx", c.x, dx, BTC},           {"ln1_w", c.P.ln1_w, G.ln1_w, C}, {"ln1_b", c.P.ln1_b, G.ln1_b, C},
            {"W1", c.P.W1, G.W1, F * C},    {"b1", c.P.b1, G.b1, F},          {"W2", c.P.W2, G.W2, C * F},
            {"b2", c.P.b2, G.b2, C},        {"ln2_w", c.P.ln2_w, G.ln2_w, C}, {"ln2_b", c.P.ln2_b, G.ln2_b, C}};
        int nv = 9 + hk_fixture_attn_gc_vars(v + 9, &c.P.attn, &G.attn, &c.cfg.attn);
        hk_gc_report rep;
        st = hk_gradcheck(enc_loss, &c, v, nv, NULL, &rep);
        if (!st) hk_check_from_gc(res, &rep);
    }
    hk_enc_cache_free(&c.cache);
    hk_enc_params_free(&c.P);
    hk_enc_params_free(&G);
    return st;
}

static int run_lora_kv(hk_check_result *res) { return run_case(res, &(enc_case){0}); }
static int run_pad(hk_check_result *res) { return run_case(res, &(enc_case){.pad = 1}); }
static int run_hooks(hk_check_result *res) { return run_case(res, &(enc_case){.pad = 1, .hooks = 1}); }
static int run_tanh(hk_check_result *res) { return run_case(res, &(enc_case){.gelu = HK_GELU_TANH}); }

static const hk_check checks[] = {
    {"gradcheck", "encoder.lora_kv",
     "post-LN encoder block backward (dx, LoRA k,v, attention W/b, LN1/LN2, FFN) vs FD; B=2 T=3 C=4 NH=2 F=6 r=2",
     run_lora_kv,
     "Encoder block with LoRA on k and v: backward matches finite differences"},
    {"gradcheck", "encoder.pad", "encoder block backward vs FD with key padding", run_pad,
     "Encoder block with key padding: backward matches finite differences"},
    {"gradcheck", "encoder.hooks",
     "encoder block backward vs FD through fixed logits/weights hooks and a hidden hook (h*mul + add), padded",
     run_hooks,
     "Encoder block through logits, weights and hidden hooks: backward matches finite differences"},
    {"gradcheck", "encoder.gelu_tanh", "encoder block backward vs FD with the tanh GELU", run_tanh,
     "Encoder block with the tanh GELU: backward matches finite differences"},
};

const hk_check *hk_checks_encoder(size_t *n)
{
    *n = sizeof checks / sizeof checks[0];
    return checks;
}
