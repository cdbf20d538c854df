/* hkref — finite-difference checks of the LoRA linear backward (dx, dA, dB).
 * Fixed-seed inputs; B is non-zero (after init it is 0, which would hide dA
 * and most of dx); the loss is L = sum(y * dy) for a fixed random dy.
 * Variables are x, A and the whole B buffer (OUT,ldB): with ldB > r its
 * unused columns must get analytic 0 and finite differences 0, so the check
 * also proves the forward never reads them.  Default h / atol / rtol: the
 * loss is bilinear in each variable, so the 5-point rule is exact up to
 * rounding (~eps|L|/h ~ 1e-11 here). */
#include "checks.h"

#include "ref/error.h"
#include "ref/lora.h"
#include "ref/rng.h"

#include <math.h>

enum { LN = 3, LIN = 5, LOUT = 4, LR = 2, LLD_MAX = 4 };

typedef struct {
    long ldB;
    double p, scale;
    const uint8_t *mask;
    double x[LN * LIN], W0[LOUT * LIN], b[LOUT], A[LR * LIN], B[LOUT * LLD_MAX];
    double y[LN * LOUT], xa[LN * LR], dy[LN * LOUT];
} lora_ctx;

static double lora_loss(void *p)
{
    lora_ctx *c = p;
    if (hk_lora_forward(c->y, c->xa, c->x, c->W0, c->b, c->A, c->B, c->mask, c->p,
                        &(hk_lora_dims){LN, LIN, LOUT, LR, c->ldB, c->scale}))
        return NAN;
    return hk_dot(c->y, c->dy, LN * LOUT);
}

static int lora_run(hk_check_result *res, double p, long ldB)
{
    lora_ctx c = {.ldB = ldB, .p = p, .scale = 16.0 / LR}; /* alpha = 16, a common LoRA setting */
    uint8_t mask[LN * LIN];
    gsl_rng *r = hk_rng_new(21);
    if (!r) return HK_ENOMEM;
    hk_rng_fill_uniform(c.x, LN * LIN, -2.0, 2.0, r);
    hk_rng_fill_uniform(c.W0, LOUT * LIN, -1.0, 1.0, r);
    hk_rng_fill_uniform(c.b, LOUT, -1.0, 1.0, r);
    hk_rng_fill_uniform(c.A, LR * LIN, -0.5, 0.5, r);
    hk_rng_fill_uniform(c.B, LOUT * LLD_MAX, -0.5, 0.5, r);
    hk_rng_fill_uniform(c.dy, LN * LOUT, -1.0, 1.0, r);
    int s = hk_mask_bernoulli(mask, LN * LIN, p, r);
    hk_rng_free(r);
    HK_TRY(s);
    if (p > 0) c.mask = mask;
    double dx[LN * LIN] = {0}, dA[LR * LIN] = {0}, dB[LOUT * LLD_MAX] = {0};
    HK_TRY(hk_lora_forward(c.y, c.xa, c.x, c.W0, c.b, c.A, c.B, c.mask, p,
                           &(hk_lora_dims){LN, LIN, LOUT, LR, ldB, c.scale}));
    HK_TRY(hk_lora_backward(dx, dA, dB, c.dy, c.x, c.xa, c.W0, c.A, c.B, c.mask, p,
                            &(hk_lora_dims){LN, LIN, LOUT, LR, ldB, c.scale}));
    hk_gc_var v[] = {{"dx", c.x, dx, LN * LIN}, {"dA", c.A, dA, LR * LIN}, {"dB", c.B, dB, LOUT * ldB}};
    hk_gc_report rep;
    HK_TRY(hk_gradcheck(lora_loss, &c, v, 3, NULL, &rep));
    hk_check_from_gc(res, &rep);
    return HK_OK;
}

static int run_lora(hk_check_result *res) { return lora_run(res, 0.0, LR); }
static int run_lora_mask(hk_check_result *res) { return lora_run(res, 0.3, LR); }
static int run_lora_ldb(hk_check_result *res) { return lora_run(res, 0.3, LLD_MAX); }

static const hk_check checks[] = {
    {"gradcheck", "lora", "LoRA linear backward (dx, dA, dB) vs central FD, p = 0, no mask", run_lora,
     "LoRA linear layer: backward matches finite differences"},
    {"gradcheck", "lora.mask", "LoRA backward vs FD with a Bernoulli(0.3) input-dropout mask", run_lora_mask,
     "LoRA with input dropout: backward matches finite differences"},
    {"gradcheck", "lora.ldb", "LoRA backward vs FD with B row stride ldB = 4 > r = 2 (DyLoRA truncation layout)",
     run_lora_ldb,
     "LoRA with B row stride ldB > r (the DyLoRA layout): backward matches finite differences"},
};

const hk_check *hk_checks_lora(size_t *n)
{
    *n = sizeof checks / sizeof checks[0];
    return checks;
}
