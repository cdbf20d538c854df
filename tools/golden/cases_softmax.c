/* hkref — golden cases: softmax and log-softmax over the last axis.
 * Tolerances (golden/README.md, "Tolerances"): K = 2; n counts the C-term
 * row sum, the exp/log/division steps, and R = the largest |x - rowmax| over
 * finite logits (the exp argument is rounded with relative error u, so exp
 * carries R*u).  softmax: y relative-error only, dx one scale per row. */
#include "golden/case.h"

#include "ref/error.h"
#include "ref/softmax.h"

#include <math.h>
#include <stddef.h>

typedef struct {
    long N, C;
    int log;        /* 0 softmax, 1 log-softmax (fixed by the op) */
    long edges;     /* 1: rows shifted by +800, -800 (max < 0), +90: a naive exp overflows in F64 (> 709.78) and F32 (> 88.72), a tie row */
    long padding;   /* 1: some logits are -inf (padded / dropped keys), >= 1 finite per row */
} sm_arg;

static double max_range(const double *x, long N, long C)
{
    double R = 0.0;
    for (long n = 0; n < N; n++) {
        double hi = -INFINITY, lo = INFINITY;
        for (long c = 0; c < C; c++)
            if (isfinite(x[n * C + c])) {
                hi = fmax(hi, x[n * C + c]);
                lo = fmin(lo, x[n * C + c]);
            }
        R = fmax(R, hi - lo);
    }
    return R;
}

static int build_sm(hk_case *g, const void *arg)
{
    const sm_arg *a = arg;
    long N = a->N, C = a->C;
    double *x = hk_case_in(g, "in.x", HK_SHAPE(N, C));
    double *dy = hk_case_in(g, "in.d_y", HK_SHAPE(N, C));
    hk_case_fill(g, x, N * C, -3.0, 3.0);
    hk_case_fill(g, dy, N * C, -1.0, 1.0);
    if (!x || !dy) return HK_ENOMEM;
    int given = hk_case_is_given(g, x);
    if (given) {
        for (long n = 0; n < N; n++) {
            long finite = 0;
            for (long c = 0; c < C; c++) {
                HK_REQUIRE(!isnan(x[n * C + c]) && x[n * C + c] != INFINITY, HK_EDOM, "in.x[%ld,%ld] = %g: logits "
                           "are finite or -inf", n, c, x[n * C + c]);
                finite += isfinite(x[n * C + c]);
            }
            HK_REQUIRE(finite > 0 || a->log, HK_EDOM, "in.x row %ld has no finite logit", n);
            HK_REQUIRE(finite == C || !a->log, HK_EDOM, "in.x row %ld: log-softmax logits are finite", n);
        }
    }
    if (a->edges && !given) {
        static const double shift[] = {0.0, 800.0, -800.0, 90.0};
        for (long n = 0; n < N; n++)
            for (long c = 0; c < C; c++) x[n * C + c] += shift[n % 4];
        if (N > 4)
            for (long c = 0; c < C; c++) x[4 * C + c] = c < 2 ? 1.625 : 1.625 - 0.375 * (double)c; /* a tied max */
        hk_case_round32(x, N * C);
    }
    if (a->padding && !given) /* keys c >= C - n of row n are padding: row 0 keeps all, row n loses n */
        for (long n = 0; n < N; n++)
            for (long c = C - n; c < C; c++) x[n * C + c] = -INFINITY;
    double R = max_range(x, N, C), dymax = 0.0, rowabs = 0.0;
    for (long n = 0; n < N; n++) {
        double s = 0.0;
        for (long c = 0; c < C; c++) {
            dymax = fmax(dymax, fabs(dy[n * C + c]));
            s += fabs(dy[n * C + c]);
        }
        rowabs = fmax(rowabs, s);
    }
    hk_case_cfg_int(g, "N", N);
    hk_case_cfg_int(g, "C", C);
    hk_case_cfg_str(g, "axis", "last");
    double *y, *dx;
    if (!a->log) {
        y = hk_case_out(g, "out.y", HK_SHAPE(N, C), 2, (double)C + R + 4, 0,
                      "n = C (row sum) + R (exp of a rounded argument, R = max |x - rowmax|) + 4 (exp, sub, div); "
                      "relative (exp, a sum of positive terms, a division): atol is the underflow floor");
        dx = hk_case_out(g, "grad.x", HK_SHAPE(N, C), 2, 2.0 * C + R + 4, dymax,
                       "dx = y*(dy - sum dy*y): n = 2C + R + 4 (the sum and y's own error); row scales "
                       "S_r = max_c y_c (sum_k y_k |dy_k| + |dy_c - s|), s = sum_k y_k dy_k: the error of s and of the "
                       "subtraction and y's relative error, per element (dy is exact)");
        double *S = hk_case_scratch(g, N);
        if (!y || !dx || !S) return HK_ENOMEM;
        HK_TRY(hk_softmax_forward(y, x, N, C));
        HK_TRY(hk_softmax_backward(dx, dy, y, N, C));
        for (long n = 0; n < N; n++) S[n] = hk_case_softmax_grad_scale(y + n * C, dy + n * C, NULL, C);
        hk_case_relative(g, "out.y");
        hk_case_row_scale(g, "grad.x", S, N);
    } else {
        y = hk_case_out(g, "out.y", HK_SHAPE(N, C), 2, (double)C + R + 4, 0,
                      "y = x - max - log(sum exp): n = C (sum) + R (exp arguments) + 4 (exp, log, two subs); S = max|y|");
        dx = hk_case_out(g, "grad.x", HK_SHAPE(N, C), 2, (double)C + R + 4, rowabs,
                       "dx = dy - exp(y)*sum dy: n = C + R + 4; S = max row sum |dy| (the size of sum dy)");
        if (!y || !dx) return HK_ENOMEM;
        HK_TRY(hk_logsoftmax_forward(y, x, N, C));
        HK_TRY(hk_logsoftmax_backward(dx, dy, y, N, C));
    }
    return HK_OK;
}

#define SRC_SM "softmax over the last axis: y = exp(x - max) / sum exp(x - max); dx = y*(dy - sum(dy*y))"
#define SRC_LSM "log-softmax over the last axis: y = x - max - log sum exp(x - max); dx = dy - exp(y) sum dy"

static int check_sm(void *arg)
{
    const sm_arg *a = arg;
    HK_REQUIRE(!a->padding || a->N <= a->C, HK_EDOM,
               "softmax: padding=1 pads the last n logits of row n, so it needs N=%ld <= C=%ld", a->N, a->C);
    HK_REQUIRE(!(a->padding && a->log), HK_EINVAL, "logsoftmax: logits are finite (no padding)");
    return HK_OK;
}

static const sm_arg sm_defaults = {3, 7, 0, 0, 0}, lsm_defaults = {3, 7, 1, 0, 0};
static const hk_golden_param sm_params[] = {
    HK_P_INT(sm_arg, N, "N", 1, 1 << 20, "rows"),
    HK_P_INT(sm_arg, C, "C", 1, 1 << 20, "logits per row (the softmax axis)"),
    HK_P_INT(sm_arg, edges, "edges", 0, 1, "1: rows shifted by +800, -800, +90 (naive exp overflows), row 4 a tie"),
    HK_P_INT(sm_arg, padding, "padding", 0, 1, "1: the last n logits of row n are -inf (needs N <= C)"),
};
static const hk_golden_op op_softmax = {"softmax", SRC_SM, sizeof(sm_arg), &sm_defaults, sm_params,
                                        HK_NPARAMS(sm_params), NULL, NULL, check_sm, NULL, build_sm};
static const hk_golden_op op_logsoftmax = {"logsoftmax", SRC_LSM, sizeof(sm_arg), &lsm_defaults, sm_params,
                                           HK_NPARAMS(sm_params) - 1, NULL, NULL, check_sm, NULL, build_sm};

static const hk_golden_case cases[] = {
    {&op_softmax, "softmax_3x7", 101, "N=3,C=7"},
    {&op_softmax, "softmax_large_logits_ties_5x6", 102, "N=5,C=6,edges=1"},
    {&op_softmax, "softmax_neginf_padding_3x5", 103, "N=3,C=5,padding=1"},
    {&op_logsoftmax, "logsoftmax_3x7", 111, "N=3,C=7"},
    {&op_logsoftmax, "logsoftmax_large_logits_ties_5x6", 112, "N=5,C=6,edges=1"},
};

const hk_golden_case *hk_golden_softmax(size_t *n)
{
    *n = sizeof cases / sizeof cases[0];
    return cases;
}
