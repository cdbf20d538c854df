/* hkref — golden cases: consistency losses between two passes' logits
 * (kl_bidir, js_eq12, js_mixture, js_textbook) or outputs (mse).
 * Tolerances: K = 2.  Loss: n = N*C (the total) + C (each row's logsumexp)
 * + R (exp of rounded log-probs, R = largest |log-prob|) + 8 (exp, log1p,
 * products); S = the sum of |terms| bound below.  Gradients: n = 2C + R + 8,
 * S = |d_loss| * (1/N for mean) * the largest row sum of |term partials|. */
#include "golden/case.h"

#include "ref/consistency.h"
#include "ref/error.h"

#include <math.h>
#include <stddef.h>

typedef struct {
    int kind;  /* hk_consistency */
    int red;   /* hk_reduction */
    long N, C;
    long edge; /* 1: a row shifted by +800 in both passes; 2: z2 = z1 exactly (loss 0) */
} cons_arg;

static double lse(const double *z, long C)
{
    double m = -INFINITY, s = 0.0;
    for (long c = 0; c < C; c++) m = fmax(m, z[c]);
    for (long c = 0; c < C; c++) s += exp(z[c] - m);
    return m + log(s);
}

/* Bounds of sum |terms| for the loss (*Sl), of a row's gradient (*Sg), and the largest |log-prob| (*R). */
void hk_case_cons_bounds(int kind, const double *z1, const double *z2, long N, long C, double *Sl,
                       double *Sg, double *R)
{
    *Sl = *Sg = *R = 0.0;
    for (long n = 0; n < N; n++) {
        const double *x = z1 + n * C, *y = z2 + n * C;
        double l1 = kind == HK_CONS_MSE ? 0 : lse(x, C), l2 = kind == HK_CONS_MSE ? 0 : lse(y, C), row = 0.0;
        for (long c = 0; c < C; c++) {
            double t;
            if (kind == HK_CONS_MSE) {
                t = fabs(x[c]) + fabs(y[c]);
                *Sl += t * t;
                row = fmax(row, 2.0 * t);
                continue;
            }
            double la = x[c] - l1, lb = y[c] - l2;
            *R = fmax(*R, fmax(fabs(la), fabs(lb)));
            t = (exp(la) + exp(lb)) * (fabs(la) + fabs(lb) + 2.0);
            *Sl += t;
            row += t;
        }
        *Sg = fmax(*Sg, row);
    }
}

static int build_cons(hk_case *g, const void *arg)
{
    const cons_arg *a = arg;
    long N = a->N, C = a->C;
    double *z1 = hk_case_in(g, "in.z1", HK_SHAPE(N, C)), *z2 = hk_case_in(g, "in.z2", HK_SHAPE(N, C));
    double *dl = hk_case_in(g, "in.d_loss", 0, NULL);
    hk_case_fill(g, z1, N * C, -3.0, 3.0);
    hk_case_fill(g, z2, N * C, -1.0, 1.0); /* z2 = z1 + noise: two dropout passes disagree moderately */
    hk_case_fill(g, dl, 1, 0.5, 1.5);
    if (!z1 || !z2 || !dl) return HK_ENOMEM;
    int g1 = hk_case_is_given(g, z1), g2 = hk_case_is_given(g, z2);
    for (long i = 0; !g2 && i < N * C; i++) z2[i] = a->edge == 2 ? z1[i] : z1[i] + z2[i];
    if (a->edge == 1)
        for (long c = 0; c < C; c++) {
            if (!g1) z1[C + c] += 800.0;
            if (!g2) z2[C + c] += 800.0;
        }
    hk_case_round32(z2, N * C);
    hk_case_round32(z1, N * C);
    const hk_consistency kind = (hk_consistency)a->kind;
    hk_case_cfg_str(g, "kind", hk_consistency_name(kind));
    hk_case_cfg_str(g, "reduction", a->red == HK_RED_MEAN ? "mean" : "sum");
    hk_case_cfg_int(g, "N", N);
    hk_case_cfg_int(g, "C", C);
    double Sl, Sg, R, red = a->red == HK_RED_MEAN ? 1.0 / (double)N : 1.0;
    hk_case_cons_bounds(kind, z1, z2, N, C, &Sl, &Sg, &R);
    double nl = kind == HK_CONS_MSE ? (double)(N * C + 3) : (double)(N * C + C) + R + 8;
    double ng = kind == HK_CONS_MSE ? 4.0 : 2.0 * C + R + 8;
    double *loss = hk_case_out(g, "out.loss", 0, NULL, 2, nl, Sl * red,
                             "N*C-term total + C (logsumexp) + R (exp of log-probs) + 8; S = sum (p+q)(|log p|+|log q|+2) "
                             "(mse: N*C + 3, S = sum (|z1|+|z2|)^2), /N for mean");
    double *d1 = hk_case_out(g, "grad.z1", HK_SHAPE(N, C), 2, ng, Sg * red * fabs(*dl),
                           "partials + log-softmax pull-back: 2C + R + 8 (mse: 4); S = |d_loss| red * max row sum of |partials|");
    double *d2 = hk_case_out(g, "grad.z2", HK_SHAPE(N, C), 2, ng, Sg * red * fabs(*dl), "as grad.z1");
    if (!loss || !d1 || !d2) return HK_ENOMEM;
    HK_TRY(hk_consistency_forward(loss, kind, z1, z2, N, C, (hk_reduction)a->red));
    HK_TRY(hk_consistency_backward(d1, d2, *dl, kind, z1, z2, N, C, (hk_reduction)a->red));
    if (a->edge == 2) {
        hk_case_zeros_expected(g, "out.loss");
        hk_case_zeros_expected(g, "grad.z1");
        hk_case_zeros_expected(g, "grad.z2");
    }
    return HK_OK;
}

#define SRC_CONS "2403.00812 Sec. 3.2 consistency losses: Eq. 11 (kl_bidir), Eq. 12 (js_eq12), HiddenCut mixture JS, textbook JS, MSE"

static int check_cons(void *arg)
{
    const cons_arg *a = arg;
    HK_REQUIRE(a->edge != 1 || a->N >= 2, HK_EDOM, "consistency: edge=1 shifts row 1: needs N >= 2");
    return HK_OK;
}

/* Index order = enum hk_consistency / hk_reduction (ref/consistency.h). */
static const char *const cons_kinds[] = {"kl_bidir", "js_eq12", "js_mixture", "js_textbook", "mse", NULL};
static const char *const cons_reds[] = {"sum", "mean", NULL};
static const cons_arg cons_defaults = {HK_CONS_KL_BIDIR, HK_RED_MEAN, 3, 5, 0};
static const hk_golden_param cons_params[] = {
    HK_P_ENUM(cons_arg, kind, "kind", cons_kinds, "the consistency loss"),
    HK_P_ENUM(cons_arg, red, "reduction", cons_reds, "over the N rows"),
    HK_P_INT(cons_arg, N, "N", 1, 1 << 20, "rows"),
    HK_P_INT(cons_arg, C, "C", 1, 1 << 20, "classes"),
    HK_P_INT(cons_arg, edge, "edge", 0, 2, "1: row 1 shifted by +800 in both passes; 2: identical passes"),
};
static const hk_golden_op op_cons = {"consistency", SRC_CONS, sizeof(cons_arg), &cons_defaults, cons_params,
                                     HK_NPARAMS(cons_params), NULL, NULL, check_cons, NULL, build_cons};

static const hk_golden_case cases[] = {
    {&op_cons, "consistency_kl_bidir_mean_3x5", 401, "kind=kl_bidir,reduction=mean,N=3,C=5"},
    {&op_cons, "consistency_kl_bidir_sum_large_logits_3x6", 402, "kind=kl_bidir,reduction=sum,N=3,C=6,edge=1"},
    {&op_cons, "consistency_kl_bidir_identical_passes_2x5", 403, "kind=kl_bidir,reduction=mean,N=2,C=5,edge=2"},
    {&op_cons, "consistency_js_eq12_mean_3x5", 404, "kind=js_eq12,reduction=mean,N=3,C=5"},
    {&op_cons, "consistency_js_mixture_mean_3x5", 405, "kind=js_mixture,reduction=mean,N=3,C=5"},
    {&op_cons, "consistency_js_textbook_sum_large_logits_2x7", 406, "kind=js_textbook,reduction=sum,N=2,C=7,edge=1"},
    {&op_cons, "consistency_mse_mean_4x3", 407, "kind=mse,reduction=mean,N=4,C=3"},
};

const hk_golden_case *hk_golden_consistency(size_t *n)
{
    *n = sizeof cases / sizeof cases[0];
    return cases;
}
