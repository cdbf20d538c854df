/* hkref — golden cases: softmax and log-softmax over the last axis.
 * Tolerances (golden/README.md, "Tolerances"): K = 2; n counts the C-term
 * row sum, the exp/log/division steps, and R = the largest |x - rowmax| over
 * finite logits (the exp argument is rounded with relative error u, so exp
 * carries R*u). */
#include "golden/case.h"

#include "ref/error.h"
#include "ref/softmax.h"

#include <math.h>

typedef struct {
    long N, C;
    int log;        /* 0 softmax, 1 log-softmax */
    int edges;      /* 1: rows shifted by +800, -800 (max < 0), +90: a naive exp overflows in F64 (> 709.78) and F32 (> 88.72), a tie row */
    int padding;    /* 1: some logits are -inf (padded / dropped keys), >= 1 finite per row */
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
    if (a->edges) {
        static const double shift[] = {0.0, 800.0, -800.0, 90.0};
        for (long n = 0; n < N; n++)
            for (long c = 0; c < C; c++) x[n * C + c] += shift[n % 4];
        if (N > 4)
            for (long c = 0; c < C; c++) x[4 * C + c] = c < 2 ? 1.625 : 1.625 - 0.375 * (double)c; /* a tied max */
        hk_case_round32(x, N * C);
    }
    if (a->padding) /* keys c >= C - n of row n are padding: row 0 keeps all, row n loses n */
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
                      "n = C (row sum) + R (exp of a rounded argument, R = max |x - rowmax|) + 4 (exp, sub, div); S = max|y|");
        dx = hk_case_out(g, "grad.x", HK_SHAPE(N, C), 2, 2.0 * C + R + 4, dymax,
                       "dx = y*(dy - sum dy*y): n = 2C + R + 4 (the sum and y's own error); S = max|dy| bounds |dy - s| per unit y");
        if (!y || !dx) return HK_ENOMEM;
        HK_TRY(hk_softmax_forward(y, x, N, C));
        HK_TRY(hk_softmax_backward(dx, dy, y, N, C));
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

static const sm_arg a_sm = {3, 7, 0, 0, 0}, a_sm_edge = {5, 6, 0, 1, 0}, a_sm_pad = {3, 5, 0, 0, 1},
                    a_lsm = {3, 7, 1, 0, 0}, a_lsm_edge = {5, 6, 1, 1, 0};

static const hk_golden_case cases[] = {
    {"softmax", "softmax_3x7", SRC_SM, 101, build_sm, &a_sm},
    {"softmax", "softmax_large_logits_ties_5x6", SRC_SM, 102, build_sm, &a_sm_edge},
    {"softmax", "softmax_neginf_padding_3x5", SRC_SM, 103, build_sm, &a_sm_pad},
    {"logsoftmax", "logsoftmax_3x7", SRC_LSM, 111, build_sm, &a_lsm},
    {"logsoftmax", "logsoftmax_large_logits_ties_5x6", SRC_LSM, 112, build_sm, &a_lsm_edge},
};

const hk_golden_case *hk_golden_softmax(size_t *n)
{
    *n = sizeof cases / sizeof cases[0];
    return cases;
}
