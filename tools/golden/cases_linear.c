/* hkref — golden cases: the dense linear layer (PyTorch nn.Linear layout).
 * Tolerances: K = 2, n = the length of the dot product (+1 for the bias),
 * S = the largest sum of |terms| of any element of that tensor (computed
 * here), so cancellation inside a dot product is covered by atol. */
#include "golden/case.h"

#include "ref/error.h"
#include "ref/linear.h"

#include <math.h>
#include <stddef.h>

typedef struct {
    long N, IN, OUT;
    long bias;
} lin_arg;

/* max over (i,k) of sum_j |a[i,j] * b[j,k]| with strides: a (I,J) as a[i*ai + j*aj], b likewise. */
static double abs_scale(const double *a, long ai, long aj, const double *b, long bj, long bk, long I, long J, long K)
{
    double S = 0.0;
    for (long i = 0; i < I; i++)
        for (long k = 0; k < K; k++) {
            double s = 0.0;
            for (long j = 0; j < J; j++) s += fabs(a[i * ai + j * aj] * b[j * bj + k * bk]);
            S = fmax(S, s);
        }
    return S;
}

static int build_linear(hk_case *g, const void *arg)
{
    const lin_arg *a = arg;
    long N = a->N, IN = a->IN, OUT = a->OUT;
    double *x = hk_case_in(g, "in.x", HK_SHAPE(N, IN));
    double *w = hk_case_in(g, "param.weight", HK_SHAPE(OUT, IN));
    double *b = a->bias ? hk_case_in(g, "param.bias", HK_SHAPE(OUT)) : NULL;
    double *dy = hk_case_in(g, "in.d_y", HK_SHAPE(N, OUT));
    hk_case_fill(g, x, N * IN, -2.0, 2.0);
    hk_case_fill(g, w, OUT * IN, -1.0, 1.0);
    if (b) hk_case_fill(g, b, OUT, -1.0, 1.0);
    hk_case_fill(g, dy, N * OUT, -1.0, 1.0);
    if (!x || !w || !dy || (a->bias && !b)) return HK_ENOMEM;
    hk_case_cfg_int(g, "N", N);
    hk_case_cfg_int(g, "IN", IN);
    hk_case_cfg_int(g, "OUT", OUT);
    hk_case_cfg_int(g, "bias", a->bias);
    double bmax = 0.0;
    for (long o = 0; b && o < OUT; o++) bmax = fmax(bmax, fabs(b[o]));
    /* out[n,o] = sum_i x[n,i] w[o,i]: a = x (N,IN), b = w^T (IN,OUT) */
    double Sy = abs_scale(x, IN, 1, w, 1, IN, N, IN, OUT) + bmax;
    double Sdx = abs_scale(dy, OUT, 1, w, IN, 1, N, OUT, IN);   /* dx[n,i] = sum_o dy[n,o] w[o,i] */
    double Sdw = abs_scale(dy, 1, OUT, x, IN, 1, OUT, N, IN);   /* dw[o,i] = sum_n dy[n,o] x[n,i] */
    double *y = hk_case_out(g, "out.y", HK_SHAPE(N, OUT), 2, (double)IN + 1, Sy,
                          "IN-term dot product + bias: n = IN + 1; S = max_(n,o) |b_o| + sum_i |x w|");
    double *dx = hk_case_out(g, "grad.x", HK_SHAPE(N, IN), 2, (double)OUT, Sdx, "n = OUT terms; S = max sum_o |dy w|");
    double *dw = hk_case_out(g, "grad.weight", HK_SHAPE(OUT, IN), 2, (double)N, Sdw, "n = N terms; S = max sum_n |dy x|");
    double *db = NULL;
    if (b) db = hk_case_out(g, "grad.bias", HK_SHAPE(OUT), 2, (double)N, 0, "n = N terms (sum of dy over rows); S = max|ref|");
    if (!y || !dx || !dw || (b && !db)) return HK_ENOMEM;
    HK_TRY(hk_linear_forward(y, x, w, b, N, IN, OUT));
    HK_TRY(hk_linear_backward(dx, dw, db, dy, x, w, N, IN, OUT));
    return HK_OK;
}

#define SRC_LIN "linear: y = x W^T + b (nn.Linear layout, W (OUT,IN)); dx = dy W, dW = dy^T x, db = sum_n dy"

static const lin_arg lin_defaults = {3, 5, 4, 1};
static const hk_golden_param lin_params[] = {
    HK_P_INT(lin_arg, N, "N", 1, 1 << 20, "rows"),
    HK_P_INT(lin_arg, IN, "IN", 1, 1 << 16, "input features"),
    HK_P_INT(lin_arg, OUT, "OUT", 1, 1 << 16, "output features"),
    HK_P_INT(lin_arg, bias, "bias", 0, 1, "1: with param.bias"),
};
static const hk_golden_op op_linear = {"linear", SRC_LIN, sizeof(lin_arg), &lin_defaults, lin_params,
                                       HK_NPARAMS(lin_params), NULL, NULL, NULL, NULL, build_linear};

static const hk_golden_case cases[] = {
    {&op_linear, "linear_3x5to4", 201, "N=3,IN=5,OUT=4,bias=1"},
    {&op_linear, "linear_n1_6to3", 202, "N=1,IN=6,OUT=3,bias=1"},
    {&op_linear, "linear_nobias_5x6to3", 203, "N=5,IN=6,OUT=3,bias=0"},
};

const hk_golden_case *hk_golden_linear(size_t *n)
{
    *n = sizeof cases / sizeof cases[0];
    return cases;
}
