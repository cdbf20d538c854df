/* hkref — finite-difference checks of cross-entropy (dlogits).
 * Fixed-seed logits; the scalar loss is L = dloss * loss with dloss = 1.7 (not
 * 1, so a dropped upstream factor shows). */
#include "checks.h"

#include "ref/crossentropy.h"
#include "ref/error.h"
#include "ref/rng.h"

#include <math.h>

enum { CE_N = 4, CE_C = 5 };
#define CE_DLOSS 1.7

typedef struct {
    double x[CE_N * CE_C], logp[CE_N * CE_C];
    int64_t labels[CE_N];
} ce_ctx;

static double ce_loss(void *p)
{
    ce_ctx *c = p;
    double loss;
    if (hk_crossentropy_forward(&loss, c->logp, c->x, c->labels, CE_N, CE_C)) return NAN;
    return CE_DLOSS * loss;
}

/* extreme = 1: row 1 shifted by +700, row 2 by -700 (naive exp overflows /
 * underflows), row 3 holds +700 and -700 next to O(1) logits with the label on
 * an O(1) class (loss ~ 700 / N, gradients ~ 1/N and ~ e^-700 ~ 0).  L is
 * then ~ 300, beyond the |L| <= 100 the default atol assumes (gradcheck.h):
 * GSL's rounding estimate grows to ~4e-9, over the inconclusive threshold
 * atol/4.  So atol scales with the loss, atol = 1e-8 max(1, |L|/100) (3e-8
 * here); a wrong formula still errs by O(1/N), 1e6 x over it. */
static int ce_run(hk_check_result *res, int extreme)
{
    ce_ctx c = {.labels = {2, 0, 4, 1}};
    gsl_rng *r = hk_rng_new(61);
    if (!r) return HK_ENOMEM;
    hk_rng_fill_uniform(c.x, CE_N * CE_C, -3.0, 3.0, r);
    hk_rng_free(r);
    if (extreme) {
        for (int j = 0; j < CE_C; j++) {
            c.x[1 * CE_C + j] += 700.0;
            c.x[2 * CE_C + j] -= 700.0;
        }
        c.x[3 * CE_C + 0] = 700.0;
        c.x[3 * CE_C + 3] = -700.0;
    }
    double loss, dx[CE_N * CE_C] = {0};
    HK_TRY(hk_crossentropy_forward(&loss, c.logp, c.x, c.labels, CE_N, CE_C));
    HK_TRY(hk_crossentropy_backward(dx, CE_DLOSS, c.logp, c.labels, CE_N, CE_C));
    hk_gc_var v = {"dlogits", c.x, dx, CE_N * CE_C};
    hk_gc_opts o = {HK_GC_DEFAULT_H, HK_GC_DEFAULT_ATOL * fmax(1.0, fabs(CE_DLOSS * loss) / 100.0),
                    HK_GC_DEFAULT_RTOL};
    hk_gc_report rep;
    HK_TRY(hk_gradcheck(ce_loss, &c, &v, 1, &o, &rep));
    hk_check_from_gc(res, &rep);
    return HK_OK;
}

static int run_ce(hk_check_result *res) { return ce_run(res, 0); }
static int run_ce_extreme(hk_check_result *res) { return ce_run(res, 1); }

static const hk_check checks[] = {
    {"gradcheck", "crossentropy", "cross-entropy backward (dlogits) vs central FD, logits in [-3,3]", run_ce,
     "Cross-entropy: backward matches finite differences"},
    {"gradcheck", "crossentropy.extreme", "cross-entropy backward vs FD with rows at +-700 and a +700/-700 row",
     run_ce_extreme,
     "Cross-entropy at logits +-700: backward matches finite differences"},
};

const hk_check *hk_checks_crossentropy(size_t *n)
{
    *n = sizeof checks / sizeof checks[0];
    return checks;
}
