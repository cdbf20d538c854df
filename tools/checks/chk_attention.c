/* hkref — finite-difference checks of multi-head attention backward: dx and
 * every parameter (frozen W, b of q/k/v/o and LoRA A, B of adapted ones).
 * Shape B=2, T=5, C=6, NH=2 (D=3): nothing is a power of two, so a stride
 * or head-offset mix-up cannot hide.  Fixed seed; LoRA B non-zero; the loss
 * is L = sum(out * dout) for a fixed random dout.  Default h / atol / rtol
 * (ref/gradcheck.h): the loss is smooth (softmax of O(1) logits, products
 * of O(1) values), so the 5-point rule's rounding error ~eps|L|/h ~ 1e-11
 * dominates, far below atol = 1e-8. */
#include "checks.h"
#include "fixtures.h"

#include "ref/attention.h"
#include "ref/error.h"
#include "ref/rng.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

enum { AB = 2, AT = 5, AC = 6, ANH = 2, AR = 2, ALDB = 3 };
enum { BTC = AB * AT * AC, LOG = AB * ANH * AT * AT };

typedef struct {
    unsigned lora;
    int pad, hooks;
    double p;   /* LoRA input-dropout rate (masks drawn when > 0) */
    long ldB;
} attn_case;

typedef struct {
    hk_attn_config cfg;
    hk_attn_params P;
    hk_attn_cache cache;
    const uint8_t *pad;
    const uint8_t *const *masks;
    const hk_attn_hooks *hooks;
    double x[BTC], out[BTC], dout[BTC];
} attn_ctx;

static double attn_loss(void *p)
{
    attn_ctx *c = p;
    if (hk_attn_forward(c->out, &c->cache, c->x, &c->P, &c->cfg, c->pad, c->masks, c->hooks)) return NAN;
    return hk_dot(c->out, c->dout, BTC);
}

static int run_case(hk_check_result *res, const attn_case *k)
{
    /* Padding: b=0 drops its last two keys, b=1 its first (a leading pad). */
    static const uint8_t pad[AB * AT] = {0, 0, 0, 1, 1, 1, 0, 0, 0, 0};
    static uint8_t mask_store[HK_ATTN_NPROJ][BTC];
    const uint8_t *masks[HK_ATTN_NPROJ] = {mask_store[0], mask_store[1], mask_store[2], mask_store[3]};
    double add[LOG], mul[LOG];
    hk_fixed_hooks fx = {.add = add, .mul = mul, .n_attn = LOG};
    hk_attn_hooks hooks;
    hk_fixed_attn_hooks(&hooks, &fx);

    attn_ctx c;
    memset(&c, 0, sizeof c);
    c.cfg = (hk_attn_config){.B = AB, .T = AT, .C = AC, .NH = ANH, .lora = k->lora, .r = AR, .ldB = k->ldB,
                             .alpha = 4.0, .lora_p = k->p};
    c.pad = k->pad ? pad : NULL;
    c.masks = k->p > 0 ? masks : NULL;
    c.hooks = k->hooks ? &hooks : NULL;
    hk_attn_params G;
    memset(&G, 0, sizeof G);
    int st = hk_attn_params_alloc(&c.P, &c.cfg, 1);
    if (!st) st = hk_attn_params_alloc(&G, &c.cfg, 1);
    if (!st) st = hk_attn_cache_alloc(&c.cache, &c.cfg);
    gsl_rng *r = st ? NULL : hk_rng_new(31);
    if (!st && !r) st = HK_ENOMEM;
    if (!st) st = hk_fixture_attn_params(&c.P, &c.cfg, r);
    if (!st) st = hk_rng_fill_uniform(c.x, BTC, -1.0, 1.0, r);
    if (!st) st = hk_rng_fill_uniform(c.dout, BTC, -1.0, 1.0, r);
    /* Hook terms: add in [-1,1] shifts logits; mul in [0.5,1.5] keeps weights positive. */
    if (!st) st = hk_rng_fill_uniform(add, LOG, -1.0, 1.0, r);
    if (!st) st = hk_rng_fill_uniform(mul, LOG, 0.5, 1.5, r);
    for (int i = 0; !st && i < HK_ATTN_NPROJ; i++) st = hk_mask_bernoulli(mask_store[i], BTC, k->p, r);
    hk_rng_free(r);
    double dx[BTC] = {0};
    if (!st) st = hk_attn_forward(c.out, &c.cache, c.x, &c.P, &c.cfg, c.pad, c.masks, c.hooks);
    if (!st) st = hk_attn_backward(dx, &G, c.dout, &c.cache, c.x, &c.P, &c.cfg, c.pad, c.masks, c.hooks);
    if (!st) {
        hk_gc_var v[1 + 4 * HK_ATTN_NPROJ];
        int nv = 0;
        v[nv++] = (hk_gc_var){"dx", c.x, dx, BTC};
        nv += hk_fixture_attn_gc_vars(v + nv, &c.P, &G, &c.cfg);
        hk_gc_report rep;
        st = hk_gradcheck(attn_loss, &c, v, nv, NULL, &rep);
        if (!st) hk_check_from_gc(res, &rep);
    }
    hk_attn_cache_free(&c.cache);
    hk_attn_params_free(&c.P);
    hk_attn_params_free(&G);
    return st;
}

static int run_plain(hk_check_result *res) { return run_case(res, &(attn_case){0}); }
static int run_lora_kv(hk_check_result *res) { return run_case(res, &(attn_case){.lora = HK_ATTN_LORA_KV}); }
static int run_pad(hk_check_result *res) { return run_case(res, &(attn_case){.lora = HK_ATTN_LORA_KV, .pad = 1}); }
static int run_hooks(hk_check_result *res)
{
    return run_case(res, &(attn_case){.lora = HK_ATTN_LORA_KV, .pad = 1, .hooks = 1});
}
static int run_lora_all(hk_check_result *res)
{
    return run_case(res, &(attn_case){.lora = 0xF, .p = 0.25, .ldB = ALDB});
}

static const hk_check checks[] = {
    {"gradcheck", "attention", "MHA backward (dx, W/b of q,k,v,o) vs FD, no LoRA, B=2 T=5 C=6 NH=2", run_plain,
     "Multi-head attention: backward matches finite differences"},
    {"gradcheck", "attention.lora_kv", "MHA backward vs FD, LoRA on k,v (r=2, alpha=4, B != 0), + frozen grads",
     run_lora_kv,
     "Attention with LoRA on k and v: backward matches finite differences"},
    {"gradcheck", "attention.pad", "MHA backward vs FD with key padding (trailing and leading pads), LoRA k,v",
     run_pad,
     "Attention with key padding: backward matches finite differences"},
    {"gradcheck", "attention.hooks",
     "MHA backward vs FD through fixed hooks: logits + add, weights * mul (positive), with padding", run_hooks,
     "Attention through logits and weights hooks: backward matches finite differences"},
    {"gradcheck", "attention.lora_all",
     "MHA backward vs FD, LoRA on q,k,v,o with Bernoulli(0.25) input masks and ldB=3 > r=2", run_lora_all,
     "Attention with LoRA on q, k, v, o and input dropout: backward matches finite differences"},
};

const hk_check *hk_checks_attention(size_t *n)
{
    *n = sizeof checks / sizeof checks[0];
    return checks;
}
