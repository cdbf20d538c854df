/* hkref — finite-difference checks of LayerNorm (dinp, dweight, dbias).
 * Fixed-seed inputs, non-trivial weight and bias; loss L = sum(out * dout). */
#include "checks.h"

#include "ref/error.h"
#include "ref/layernorm.h"
#include "ref/rng.h"

#include <math.h>

enum { LN_N = 3, LN_C = 6 };

typedef struct {
    double eps;
    double x[LN_N * LN_C], w[LN_C], b[LN_C], y[LN_N * LN_C], dy[LN_N * LN_C], mean[LN_N], rstd[LN_N];
} ln_ctx;

static double ln_loss(void *p)
{
    ln_ctx *c = p;
    if (hk_layernorm_forward(c->y, c->mean, c->rstd, c->x, c->w, c->b, c->eps, LN_N, LN_C)) return NAN;
    return hk_dot(c->y, c->dy, LN_N * LN_C);
}

/* Row 1 is scaled by `row1_scale` and shifted by 3.5: with scale 3e-3 its
 * variance (~1e-5) is comparable to eps, so the eps term in the derivative
 * matters.  Its normalization scale sqrt(var + eps) ~ 4e-3 is 40 h, so the
 * 5-point rule's truncation error (h/sigma)^4 ~ 4e-7 relative stays under rtol. */
static int ln_run(hk_check_result *res, double row1_scale)
{
    ln_ctx c = {.eps = HK_LAYERNORM_EPS_DEFAULT};
    gsl_rng *r = hk_rng_new(41);
    if (!r) return HK_ENOMEM;
    hk_rng_fill_uniform(c.x, LN_N * LN_C, -2.0, 2.0, r);
    hk_rng_fill_uniform(c.w, LN_C, 0.5, 1.5, r);
    hk_rng_fill_uniform(c.b, LN_C, -1.0, 1.0, r);
    hk_rng_fill_uniform(c.dy, LN_N * LN_C, -1.0, 1.0, r);
    hk_rng_free(r);
    for (int j = 0; j < LN_C; j++) c.x[LN_C + j] = 3.5 + row1_scale * c.x[LN_C + j];
    double dx[LN_N * LN_C] = {0}, dw[LN_C] = {0}, db[LN_C] = {0};
    HK_TRY(hk_layernorm_forward(c.y, c.mean, c.rstd, c.x, c.w, c.b, c.eps, LN_N, LN_C));
    HK_TRY(hk_layernorm_backward(dx, dw, db, c.dy, c.x, c.w, c.mean, c.rstd, LN_N, LN_C));
    hk_gc_var v[] = {{"dinp", c.x, dx, LN_N * LN_C}, {"dweight", c.w, dw, LN_C}, {"dbias", c.b, db, LN_C}};
    hk_gc_report rep;
    HK_TRY(hk_gradcheck(ln_loss, &c, v, 3, NULL, &rep));
    hk_check_from_gc(res, &rep);
    return HK_OK;
}

static int run_layernorm(hk_check_result *res) { return ln_run(res, 1.0); }
static int run_layernorm_smallvar(hk_check_result *res) { return ln_run(res, 3e-3); }

static const hk_check checks[] = {
    {"gradcheck", "layernorm", "LayerNorm backward (dinp, dweight, dbias) vs central FD, eps 1e-5, affine weight/bias",
     run_layernorm,
     "LayerNorm: backward matches finite differences"},
    {"gradcheck", "layernorm.smallvar",
     "LayerNorm backward vs FD with a row of variance ~ eps, offset 3.5 (eps term matters)", run_layernorm_smallvar,
     "LayerNorm with a variance near eps: backward matches finite differences"},
};

const hk_check *hk_checks_layernorm(size_t *n)
{
    *n = sizeof checks / sizeof checks[0];
    return checks;
}
