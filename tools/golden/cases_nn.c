/* hkref — golden cases: LayerNorm, GELU (erf and tanh), cross-entropy.
 * Tolerances: K = 2; n and S per output in the notes (golden/README.md). */
#include "golden/case.h"

#include "ref/crossentropy.h"
#include "ref/error.h"
#include "ref/gelu.h"
#include "ref/layernorm.h"

#include <math.h>
#include <stddef.h>

/* ---- LayerNorm ---- */

typedef struct {
    long N, C;
    double lo, hi, offset, eps;
    long const_row; /* 1: row 1 is constant (variance 0, rstd = 1/sqrt(eps)) */
} ln_arg;

static int build_ln(hk_case *g, const void *arg)
{
    const ln_arg *a = arg;
    long N = a->N, C = a->C;
    double *x = hk_case_in(g, "in.x", HK_SHAPE(N, C)), *w = hk_case_in(g, "param.weight", HK_SHAPE(C));
    double *b = hk_case_in(g, "param.bias", HK_SHAPE(C)), *dy = hk_case_in(g, "in.d_y", HK_SHAPE(N, C));
    hk_case_fill(g, x, N * C, a->lo, a->hi);
    hk_case_fill(g, w, C, 0.5, 1.5);
    hk_case_fill(g, b, C, -0.5, 0.5);
    hk_case_fill(g, dy, N * C, -1.0, 1.0);
    double *mean = hk_case_scratch(g, N), *rstd = hk_case_scratch(g, N);
    if (!x || !w || !b || !dy || !rstd) return HK_ENOMEM;
    if (!hk_case_is_given(g, x)) {
        for (long i = 0; i < N * C; i++) x[i] += a->offset;
        if (a->const_row)
            for (long c = 0; c < C; c++) x[C + c] = x[C];
        hk_case_round32(x, N * C);
    }
    /* kappa = max_n max_c |x| * rstd_n: how much larger the inputs are than
     * their spread; the mean's rounding error (C u |x|) is amplified by rstd. */
    double kappa = 1.0, wmax = hk_case_maxabs(w, C), dymax = hk_case_maxabs(dy, N * C), rmax = 0.0;
    for (long n = 0; n < N; n++) {
        double m = 0.0, v = 0.0;
        for (long c = 0; c < C; c++) m += x[n * C + c] / (double)C;
        for (long c = 0; c < C; c++) v += (x[n * C + c] - m) * (x[n * C + c] - m) / (double)C;
        double r = 1.0 / sqrt(v + a->eps);
        rmax = fmax(rmax, r);
        kappa = fmax(kappa, hk_case_maxabs(x + n * C, C) * r);
    }
    hk_case_cfg_int(g, "N", N);
    hk_case_cfg_int(g, "C", C);
    hk_case_cfg_real(g, "eps", a->eps);
    double *y = hk_case_out(g, "out.y", HK_SHAPE(N, C), 2, (2.0 * C + 6) * kappa, 0,
                          "mean and variance sums (2C) + sqrt, div, mul, add (6), times kappa = max |x| rstd; S = max|ref|");
    double *dx = hk_case_out(g, "grad.x", HK_SHAPE(N, C), 2, (4.0 * C + 8) * kappa, 3.0 * rmax * wmax * dymax,
                           "rstd (dyw - mean(dyw) - xhat mean(dyw xhat)): 4C + 8, times kappa; S = 3 max rstd max|w| max|dy|");
    double *dw = hk_case_out(g, "grad.weight", HK_SHAPE(C), 2, (2.0 * C + 6) * kappa + N, 0,
                           "sum_n dy xhat: N terms + xhat's error (2C + 6) kappa; S = max|ref|");
    double *db = hk_case_out(g, "grad.bias", HK_SHAPE(C), 2, (double)N, 0, "sum_n dy: N terms; S = max|ref|");
    if (!y || !dx || !dw || !db) return HK_ENOMEM;
    HK_TRY(hk_layernorm_forward(y, mean, rstd, x, w, b, a->eps, N, C));
    HK_TRY(hk_layernorm_backward(dx, dw, db, dy, x, w, mean, rstd, N, C));
    /* S of grad.weight: sum_n |dy| |xhat| bounded by N max|dy| max|xhat| */
    double xh = 0.0;
    for (long n = 0; n < N; n++)
        for (long c = 0; c < C; c++) xh = fmax(xh, fabs(x[n * C + c] - mean[n]) * rstd[n]);
    hk_case_set_scale(g, "grad.weight", (double)N * dymax * xh);
    hk_case_set_scale(g, "grad.bias", (double)N * dymax);
    return HK_OK;
}

/* ---- GELU ---- */

typedef struct {
    int kind; /* hk_gelu_kind */
    long N, C;
    double lim;
} gelu_arg;

static int build_gelu(hk_case *g, const void *arg)
{
    const gelu_arg *a = arg;
    long N = a->N, C = a->C;
    double *x = hk_case_in(g, "in.x", HK_SHAPE(N, C)), *dy = hk_case_in(g, "in.d_y", HK_SHAPE(N, C));
    hk_case_fill(g, x, N * C, -a->lim, a->lim);
    hk_case_fill(g, dy, N * C, -1.0, 1.0);
    if (!x || !dy) return HK_ENOMEM;
    double xm = hk_case_maxabs(x, N * C);
    hk_case_cfg_str(g, "kind", a->kind == HK_GELU_ERF ? "erf" : "tanh");
    hk_case_cfg_int(g, "N", N);
    hk_case_cfg_int(g, "C", C);
    double *y = hk_case_out(g, "out.y", HK_SHAPE(N, C), 2, 12 + xm, 0,
                          "12 steps (scale, erf/tanh, cube, add, halves) + max|x| (argument rounding u|x| times "
                          "erf' <= 1.13, times x, relative to S = max|ref|)");
    double *dx = hk_case_out(g, "grad.x", HK_SHAPE(N, C), 2, 16 + xm * xm, 0,
                           "dy (Phi + x phi): 16 steps + max x^2 (phi's argument x^2/2 rounded); S = max|ref|");
    if (!y || !dx) return HK_ENOMEM;
    HK_TRY(hk_gelu_forward(y, x, N * C, (hk_gelu_kind)a->kind));
    HK_TRY(hk_gelu_backward(dx, dy, x, N * C, (hk_gelu_kind)a->kind));
    return HK_OK;
}

/* ---- cross-entropy ---- */

typedef struct {
    long N, C;
    long edge; /* 1: rows shifted by +800 / -800; 2: -inf logits on non-label classes */
} ce_arg;

static int build_ce(hk_case *g, const void *arg)
{
    const ce_arg *a = arg;
    long N = a->N, C = a->C;
    double *z = hk_case_in(g, "in.logits", HK_SHAPE(N, C)), *dl = hk_case_in(g, "in.d_loss", 0, NULL);
    int64_t *lab = hk_case_int(g, "in.labels", HK_SHAPE(N));
    double *logp = hk_case_scratch(g, N * C);
    hk_case_fill(g, z, N * C, -3.0, 3.0);
    hk_case_fill(g, dl, 1, 0.5, 1.5);
    if (!z || !dl || !lab || !logp) return HK_ENOMEM;
    int given = hk_case_is_given(g, z);
    if (!hk_case_is_given(g, lab))
        for (long n = 0; n < N; n++) lab[n] = (int64_t)gsl_rng_uniform_int(hk_case_rng(g), (unsigned long)C);
    for (long n = 0; n < N; n++) {
        HK_REQUIRE(lab[n] >= 0 && lab[n] < C, HK_EDOM, "in.labels[%ld] = %lld is not a class in [0, C=%ld)", n,
                   (long long)lab[n], C);
        HK_REQUIRE(isfinite(z[n * C + lab[n]]), HK_EDOM, "in.logits[%ld, label %lld] must be finite", n,
                   (long long)lab[n]);
    }
    if (a->edge == 1 && !given)
        for (long n = 0; n < N; n++)
            for (long c = 0; c < C; c++) z[n * C + c] += n % 3 == 1 ? 800.0 : n % 3 == 2 ? -800.0 : 0.0;
    if (a->edge == 2 && !given) /* padding classes: the last n classes of row n, never the label */
        for (long n = 0; n < N; n++)
            for (long c = C - n; c < C; c++)
                if (c != lab[n]) z[n * C + c] = -INFINITY;
    hk_case_round32(z, N * C);
    double R = 0.0;
    for (long n = 0; n < N; n++) {
        double hi = -INFINITY, lo = INFINITY;
        for (long c = 0; c < C; c++)
            if (isfinite(z[n * C + c])) hi = fmax(hi, z[n * C + c]), lo = fmin(lo, z[n * C + c]);
        R = fmax(R, hi - lo);
    }
    hk_case_cfg_int(g, "N", N);
    hk_case_cfg_int(g, "C", C);
    hk_case_cfg_str(g, "reduction", "mean");
    double *loss = hk_case_out(g, "out.loss", 0, NULL, 2, (double)(N + C) + R + 6, 0,
                             "mean of N log-probs (N) + logsumexp (C + R) + 6; S = |loss| (terms of one sign)");
    double *d = hk_case_out(g, "grad.logits", HK_SHAPE(N, C), 2, (double)C + R + 6, fabs(*dl) / (double)N,
                          "(d_loss/N)(softmax - onehot): C + R + 6; S = |d_loss|/N");
    if (!loss || !d) return HK_ENOMEM;
    HK_TRY(hk_crossentropy_forward(loss, logp, z, lab, N, C));
    HK_TRY(hk_crossentropy_backward(d, *dl, logp, lab, N, C));
    return HK_OK;
}

#define SRC_LN "LayerNorm over the last axis (torch.nn.LayerNorm): (x - mean) / sqrt(var_biased + eps) * w + b"
#define SRC_GELU "GELU: erf x Phi(x) (torch default) or tanh approximation (approximate='tanh')"
#define SRC_CE "cross-entropy from logits, mean over N (torch.nn.functional.cross_entropy)"

static int check_ln(void *arg)
{
    const ln_arg *a = arg;
    HK_REQUIRE(a->lo < a->hi, HK_EDOM, "layernorm: the input range lo=%g .. hi=%g is empty", a->lo, a->hi);
    HK_REQUIRE(!a->const_row || a->N >= 2, HK_EDOM, "layernorm: const_row=1 makes row 1 constant: needs N >= 2");
    return HK_OK;
}

static int check_ce(void *arg)
{
    const ce_arg *a = arg;
    HK_REQUIRE(a->edge != 2 || a->N <= a->C, HK_EDOM,
               "crossentropy: edge=2 pads the last n classes of row n: needs N=%ld <= C=%ld", a->N, a->C);
    return HK_OK;
}

static const char *const gelu_kinds[] = {"erf", "tanh", NULL};
static const ln_arg ln_defaults = {3, 7, -2.0, 2.0, 0.0, 1e-5, 0};
static const hk_golden_param ln_params[] = {
    HK_P_INT(ln_arg, N, "N", 1, 1 << 20, "rows"),
    HK_P_INT(ln_arg, C, "C", 1, 1 << 16, "features (the normalised axis)"),
    HK_P_REAL(ln_arg, lo, "lo", -1e6, 1e6, "inputs uniform in [lo, hi)"),
    HK_P_REAL(ln_arg, hi, "hi", -1e6, 1e6, "inputs uniform in [lo, hi)"),
    HK_P_REAL(ln_arg, offset, "offset", -1e6, 1e6, "added to every input (mean >> spread)"),
    HK_P_REAL(ln_arg, eps, "eps", 1e-30, 1e6, "LayerNorm eps"),
    HK_P_INT(ln_arg, const_row, "const_row", 0, 1, "1: row 1 constant (variance 0)"),
};
static const gelu_arg gelu_defaults = {HK_GELU_ERF, 4, 6, 4.0};
static const hk_golden_param gelu_params[] = {
    HK_P_ENUM(gelu_arg, kind, "kind", gelu_kinds, "exact erf form or the tanh approximation"),
    HK_P_INT(gelu_arg, N, "N", 1, 1 << 20, "rows"),
    HK_P_INT(gelu_arg, C, "C", 1, 1 << 20, "columns"),
    HK_P_REAL(gelu_arg, lim, "lim", 1e-6, 30, "inputs uniform in [-lim, lim)"),
};
static const ce_arg ce_defaults = {3, 5, 0};
static const hk_golden_param ce_params[] = {
    HK_P_INT(ce_arg, N, "N", 1, 1 << 20, "rows"),
    HK_P_INT(ce_arg, C, "C", 1, 1 << 20, "classes"),
    HK_P_INT(ce_arg, edge, "edge", 0, 2, "1: rows shifted by +-800; 2: -inf on the last n classes of row n"),
};
static const hk_golden_op op_ln = {"layernorm", SRC_LN, sizeof(ln_arg), &ln_defaults, ln_params,
                                   HK_NPARAMS(ln_params), NULL, NULL, check_ln, NULL, build_ln};
static const hk_golden_op op_gelu = {"gelu", SRC_GELU, sizeof(gelu_arg), &gelu_defaults, gelu_params,
                                     HK_NPARAMS(gelu_params), NULL, NULL, NULL, NULL, build_gelu};
static const hk_golden_op op_ce = {"crossentropy", SRC_CE, sizeof(ce_arg), &ce_defaults, ce_params,
                                   HK_NPARAMS(ce_params), NULL, NULL, check_ce, NULL, build_ce};

static const hk_golden_case cases[] = {
    {&op_ln, "layernorm_3x7", 601, "N=3,C=7,lo=-2,hi=2"},
    {&op_ln, "layernorm_var_near_eps_const_row_3x6", 602, "N=3,C=6,lo=-0.003,hi=0.003,const_row=1"},
    {&op_ln, "layernorm_offset6_2x5", 603, "N=2,C=5,lo=-1,hi=1,offset=6"},
    {&op_ln, "layernorm_eps0.25_2x6", 604, "N=2,C=6,lo=-1,hi=1,eps=0.25"},
    {&op_gelu, "gelu_erf_4x6", 611, "kind=erf,N=4,C=6,lim=4"},
    {&op_gelu, "gelu_tanh_4x6", 612, "kind=tanh,N=4,C=6,lim=4"},
    {&op_gelu, "gelu_erf_wide_range_2x5", 613, "kind=erf,N=2,C=5,lim=9"},
    {&op_ce, "crossentropy_3x5", 621, "N=3,C=5"},
    {&op_ce, "crossentropy_large_logits_3x6", 622, "N=3,C=6,edge=1"},
    {&op_ce, "crossentropy_neginf_padding_3x5", 623, "N=3,C=5,edge=2"},
    {&op_ce, "crossentropy_n1_7", 624, "N=1,C=7"},
};

const hk_golden_case *hk_golden_nn(size_t *n)
{
    *n = sizeof cases / sizeof cases[0];
    return cases;
}
