/* hkref — finite-difference checks of softmax, log-softmax and linear.
 * Inputs are drawn from a fixed seed; the loss is L = sum(out * dout) with a
 * fixed random dout, so every output's gradient is exercised. */
#include "checks.h"

#include "ref/error.h"
#include "ref/linear.h"
#include "ref/rng.h"
#include "ref/softmax.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { SM_N = 3, SM_C = 7, LIN_N = 3, LIN_IN = 5, LIN_OUT = 4 };

typedef struct {
    int log;             /* 0 softmax, 1 log-softmax */
    double x[SM_N * SM_C], y[SM_N * SM_C], dy[SM_N * SM_C];
} sm_ctx;

static double sm_loss(void *p)
{
    sm_ctx *c = p;
    int s = c->log ? hk_logsoftmax_forward(c->y, c->x, SM_N, SM_C) : hk_softmax_forward(c->y, c->x, SM_N, SM_C);
    return s ? NAN : hk_dot(c->y, c->dy, SM_N * SM_C);
}

static int sm_run(hk_check_result *res, int log, double offset)
{
    sm_ctx c = {.log = log};
    gsl_rng *r = hk_rng_new(11);
    if (!r) return HK_ENOMEM;
    hk_rng_fill_uniform(c.x, SM_N * SM_C, -3.0, 3.0, r);
    hk_rng_fill_uniform(c.dy, SM_N * SM_C, -1.0, 1.0, r);
    hk_rng_free(r);
    /* Row 1 is shifted by `offset`: with offset 700 a naive exp overflows. */
    for (int j = 0; j < SM_C; j++) c.x[SM_C + j] += offset;
    double dx[SM_N * SM_C] = {0};
    HK_TRY(log ? hk_logsoftmax_forward(c.y, c.x, SM_N, SM_C) : hk_softmax_forward(c.y, c.x, SM_N, SM_C));
    HK_TRY(log ? hk_logsoftmax_backward(dx, c.dy, c.y, SM_N, SM_C) : hk_softmax_backward(dx, c.dy, c.y, SM_N, SM_C));
    hk_gc_var v = {"dx", c.x, dx, SM_N * SM_C};
    hk_gc_report rep;
    HK_TRY(hk_gradcheck(sm_loss, &c, &v, 1, NULL, &rep));
    hk_check_from_gc(res, &rep);
    return HK_OK;
}

static int run_softmax(hk_check_result *res) { return sm_run(res, 0, 0.0); }
static int run_softmax_large(hk_check_result *res) { return sm_run(res, 0, 700.0); }
static int run_logsoftmax(hk_check_result *res) { return sm_run(res, 1, 0.0); }
static int run_logsoftmax_large(hk_check_result *res) { return sm_run(res, 1, 700.0); }

typedef struct {
    double x[LIN_N * LIN_IN], w[LIN_OUT * LIN_IN], b[LIN_OUT], y[LIN_N * LIN_OUT], dy[LIN_N * LIN_OUT];
} lin_ctx;

static double lin_loss(void *p)
{
    lin_ctx *c = p;
    if (hk_linear_forward(c->y, c->x, c->w, c->b, LIN_N, LIN_IN, LIN_OUT)) return NAN;
    return hk_dot(c->y, c->dy, LIN_N * LIN_OUT);
}

static int run_linear(hk_check_result *res)
{
    lin_ctx c;
    gsl_rng *r = hk_rng_new(12);
    if (!r) return HK_ENOMEM;
    hk_rng_fill_uniform(c.x, LIN_N * LIN_IN, -2.0, 2.0, r);
    hk_rng_fill_uniform(c.w, LIN_OUT * LIN_IN, -1.0, 1.0, r);
    hk_rng_fill_uniform(c.b, LIN_OUT, -1.0, 1.0, r);
    hk_rng_fill_uniform(c.dy, LIN_N * LIN_OUT, -1.0, 1.0, r);
    hk_rng_free(r);
    double dx[LIN_N * LIN_IN] = {0}, dw[LIN_OUT * LIN_IN] = {0}, db[LIN_OUT] = {0};
    HK_TRY(hk_linear_forward(c.y, c.x, c.w, c.b, LIN_N, LIN_IN, LIN_OUT));
    HK_TRY(hk_linear_backward(dx, dw, db, c.dy, c.x, c.w, LIN_N, LIN_IN, LIN_OUT));
    hk_gc_var v[] = {{"dinp", c.x, dx, LIN_N * LIN_IN}, {"dw", c.w, dw, LIN_OUT * LIN_IN}, {"dbias", c.b, db, LIN_OUT}};
    hk_gc_report rep;
    HK_TRY(hk_gradcheck(lin_loss, &c, v, 3, NULL, &rep));
    hk_check_from_gc(res, &rep);
    return HK_OK;
}

static const hk_check checks[] = {
    {"gradcheck", "softmax", "softmax backward vs central FD, (3,7) logits in [-3,3]", run_softmax,
     "Softmax: backward matches finite differences"},
    {"gradcheck", "softmax.large", "softmax backward vs FD with a row shifted by +700 (naive exp overflows)",
     run_softmax_large,
     "Softmax at logits +700: backward matches finite differences"},
    {"gradcheck", "logsoftmax", "log-softmax backward vs central FD", run_logsoftmax,
     "Log-softmax: backward matches finite differences"},
    {"gradcheck", "logsoftmax.large", "log-softmax backward vs FD with a row shifted by +700", run_logsoftmax_large,
     "Log-softmax at logits +700: backward matches finite differences"},
    {"gradcheck", "linear", "linear backward (dinp, dw, dbias) vs central FD", run_linear,
     "Linear layer: backward matches finite differences"},
};

const hk_check *hk_checks_softmax(size_t *n)
{
    *n = sizeof checks / sizeof checks[0];
    return checks;
}
