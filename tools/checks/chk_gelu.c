/* hkref — finite-difference checks of GELU, exact (erf) and tanh forms.
 * Fixed-seed inputs; loss L = sum(out * dout). */
#include "checks.h"

#include "ref/error.h"
#include "ref/gelu.h"
#include "ref/rng.h"

#include <math.h>

enum { GE_N = 24 };

typedef struct {
    hk_gelu_kind kind;
    double x[GE_N], y[GE_N], dy[GE_N];
} ge_ctx;

static double ge_loss(void *p)
{
    ge_ctx *c = p;
    if (hk_gelu_forward(c->y, c->x, GE_N, c->kind)) return NAN;
    return hk_dot(c->y, c->dy, GE_N);
}

/* Inputs over [-6, 6] (both tails and the curved middle), plus -30 and 30 where
 * the erf form's phi term underflows and the tanh form saturates. */
static int ge_run(hk_check_result *res, hk_gelu_kind kind)
{
    ge_ctx c = {.kind = kind};
    gsl_rng *r = hk_rng_new(42);
    if (!r) return HK_ENOMEM;
    hk_rng_fill_uniform(c.x, GE_N, -6.0, 6.0, r);
    hk_rng_fill_uniform(c.dy, GE_N, -1.0, 1.0, r);
    hk_rng_free(r);
    c.x[0] = -30.0;
    c.x[1] = 30.0;
    double dx[GE_N] = {0};
    HK_TRY(hk_gelu_forward(c.y, c.x, GE_N, kind));
    HK_TRY(hk_gelu_backward(dx, c.dy, c.x, GE_N, kind));
    hk_gc_var v = {"dinp", c.x, dx, GE_N};
    hk_gc_report rep;
    HK_TRY(hk_gradcheck(ge_loss, &c, &v, 1, NULL, &rep));
    hk_check_from_gc(res, &rep);
    return HK_OK;
}

static int run_gelu(hk_check_result *res) { return ge_run(res, HK_GELU_ERF); }
static int run_gelu_tanh(hk_check_result *res) { return ge_run(res, HK_GELU_TANH); }

static const hk_check checks[] = {
    {"gradcheck", "gelu", "GELU (exact erf form) backward vs central FD on [-6,6] and +-30", run_gelu,
     "GELU (exact erf form): backward matches finite differences"},
    {"gradcheck", "gelu.tanh", "GELU (tanh approximation) backward vs central FD on [-6,6] and +-30", run_gelu_tanh,
     "GELU (tanh approximation): backward matches finite differences"},
};

const hk_check *hk_checks_gelu(size_t *n)
{
    *n = sizeof checks / sizeof checks[0];
    return checks;
}
