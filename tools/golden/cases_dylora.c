/* hkref — golden cases: DyLoRA (EACL 2023).  The truncated LoRA layer at a
 * drawn rank b (A's first b rows, B's first b columns, scale alpha/b), frozen
 * mode (only row / column b-1 receive gradients), the individual loss L_b and
 * the nested loss sum_b p_B(b) L_b (MSE task loss, batch mean).
 * Tolerances: as LoRA (golden_lora.c) with r -> b; S from the op on |inputs|. */
#include "golden/case.h"

#include "ref/dylora.h"
#include "ref/error.h"
#include "ref/rng.h"

#include <math.h>

typedef struct {
    long N, IN, OUT, r_min, r_max;
    long b;        /* the rank; 0 = draw it uniformly from [r_min, r_max] with the case's generator */
    double p, alpha;
    int frozen;    /* 1: frozen mode, gradients of A rows < b-1 and B columns < b-1 are 0 */
    int loss;      /* 0: layer op "dylora"; 1: individual loss L_b; 2: nested loss (uniform p_B) */
} dy_arg;

typedef struct {
    double *x, *W0, *bias, *A, *B;
} dy_params;

static int draw_inputs(hk_case *g, const dy_arg *a, dy_params *P)
{
    long IN = a->IN, OUT = a->OUT, R = a->r_max;
    P->x = hk_case_in(g, "in.x", HK_SHAPE(a->N, IN));
    P->W0 = hk_case_in(g, "param.weight", HK_SHAPE(OUT, IN));
    P->bias = hk_case_in(g, "param.bias", HK_SHAPE(OUT));
    P->A = hk_case_in(g, "param.lora_A", HK_SHAPE(R, IN));
    P->B = hk_case_in(g, "param.lora_B", HK_SHAPE(OUT, R));
    hk_case_fill(g, P->x, a->N * IN, -2.0, 2.0);
    hk_case_fill(g, P->W0, OUT * IN, -1.0, 1.0);
    hk_case_fill(g, P->bias, OUT, -1.0, 1.0);
    hk_case_fill(g, P->A, R * IN, -0.5, 0.5);
    hk_case_fill(g, P->B, OUT * R, -0.5, 0.5);
    return P->x && P->W0 && P->bias && P->A && P->B ? HK_OK : HK_ENOMEM;
}

static void common_cfg(hk_case *g, const dy_arg *a)
{
    hk_case_cfg_int(g, "N", a->N);
    hk_case_cfg_int(g, "IN", a->IN);
    hk_case_cfg_int(g, "OUT", a->OUT);
    hk_case_cfg_int(g, "r_min", a->r_min);
    hk_case_cfg_int(g, "r_max", a->r_max);
    hk_case_cfg_real(g, "alpha", a->alpha);
}

/* Marks the LoRA gradients zeros_expected when truncation / freezing leaves
 * most of them zero by design. */
static void mark_sparse(hk_case *g, long trained_rows, long r_max)
{
    if (2 * trained_rows <= r_max) {
        hk_case_zeros_expected(g, "grad.lora_A");
        hk_case_zeros_expected(g, "grad.lora_B");
    }
}

static int build_layer(hk_case *g, const dy_arg *a, const dy_params *P, long b)
{
    long N = a->N, IN = a->IN, OUT = a->OUT, R = a->r_max;
    hk_dylora_dims d = {IN, OUT, a->r_min, a->r_max, a->alpha};
    uint8_t *mask = hk_case_mask(g, "mask.x", HK_SHAPE(N, IN));
    double *dy = hk_case_in(g, "in.d_y", HK_SHAPE(N, OUT));
    hk_case_fill(g, dy, N * OUT, -1.0, 1.0);
    double *y = hk_case_out(g, "out.y", HK_SHAPE(N, OUT), 2, (double)(2 * IN + b + 3), 0,
                          "W0 path IN + LoRA path IN + b + 3; S from |inputs|");
    double *dx = hk_case_out(g, "grad.x", HK_SHAPE(N, IN), 2, (double)(2 * OUT + b + 3), 0,
                           "dy W0 (OUT) + (alpha/b)(dy B_b)(OUT) A_b (b) + 3; S from |inputs|");
    double *dA = hk_case_out(g, "grad.lora_A", HK_SHAPE(R, IN), 2, (double)(OUT + N + 3), 0,
                           "rows < b: OUT + N + 3, other rows exactly 0; S from |inputs|");
    double *dB = hk_case_out(g, "grad.lora_B", HK_SHAPE(OUT, R), 2, (double)(N + IN + 3), 0,
                           "columns < b: N + IN + 3, other columns exactly 0; S from |inputs|");
    double *xa = hk_case_scratch(g, N * R), *ya = hk_case_scratch(g, N * OUT), *xaa = hk_case_scratch(g, N * R);
    double *dxa = hk_case_scratch(g, N * IN), *dAa = hk_case_scratch(g, R * IN), *dBa = hk_case_scratch(g, OUT * R);
    double *ax = hk_case_abs_copy(g, P->x, N * IN), *aW = hk_case_abs_copy(g, P->W0, OUT * IN);
    double *ab = hk_case_abs_copy(g, P->bias, OUT), *aA = hk_case_abs_copy(g, P->A, R * IN);
    double *aB = hk_case_abs_copy(g, P->B, OUT * R), *ady = hk_case_abs_copy(g, dy, N * OUT);
    if (!mask || !dy || !y || !dx || !dA || !dB || !ady) return HK_ENOMEM;
    HK_TRY(hk_mask_bernoulli(mask, N * IN, a->p, hk_case_rng(g)));
    hk_case_cfg_real(g, "p", a->p);
    hk_case_cfg_int(g, "frozen", a->frozen);
    HK_TRY(hk_dylora_forward(y, xa, P->x, P->W0, P->bias, P->A, P->B, mask, a->p, N, b, &d));
    HK_TRY(hk_dylora_backward(dx, dA, dB, dy, P->x, xa, P->W0, P->A, P->B, mask, a->p, N, b, &d));
    if (a->frozen) HK_TRY(hk_dylora_frozen_mask_grad(dA, dB, b, &d));
    HK_TRY(hk_dylora_forward(ya, xaa, ax, aW, ab, aA, aB, mask, a->p, N, b, &d));
    HK_TRY(hk_dylora_backward(dxa, dAa, dBa, ady, ax, xaa, aW, aA, aB, mask, a->p, N, b, &d));
    hk_case_set_scale(g, "out.y", hk_case_maxabs(ya, N * OUT));
    hk_case_set_scale(g, "grad.x", hk_case_maxabs(dxa, N * IN));
    hk_case_set_scale(g, "grad.lora_A", hk_case_maxabs(dAa, R * IN));
    hk_case_set_scale(g, "grad.lora_B", hk_case_maxabs(dBa, OUT * R));
    mark_sparse(g, a->frozen ? 1 : b, R);
    return HK_OK;
}

/* S of L_b and its gradients: the layer on |inputs| with upstream 2(|y|+|t|)/N. */
static int loss_scale(hk_case *g, const dy_arg *a, const dy_params *P, const double *t, long b, double *Sl,
                      double *SA, double *SB)
{
    long N = a->N, IN = a->IN, OUT = a->OUT, R = a->r_max;
    hk_dylora_dims d = {IN, OUT, a->r_min, a->r_max, a->alpha};
    double *ax = hk_case_abs_copy(g, P->x, N * IN), *aW = hk_case_abs_copy(g, P->W0, OUT * IN);
    double *ab = hk_case_abs_copy(g, P->bias, OUT), *aA = hk_case_abs_copy(g, P->A, R * IN);
    double *aB = hk_case_abs_copy(g, P->B, OUT * R), *ya = hk_case_scratch(g, N * OUT), *xa = hk_case_scratch(g, N * R);
    double *dAa = hk_case_scratch(g, R * IN), *dBa = hk_case_scratch(g, OUT * R);
    if (!xa || !dBa) return HK_ENOMEM;
    HK_TRY(hk_dylora_forward(ya, xa, ax, aW, ab, aA, aB, NULL, 0.0, N, b, &d));
    double s = 0.0;
    for (long i = 0; i < N * OUT; i++) {
        double e = ya[i] + fabs(t[i]);
        s += e * e / (double)N;
        ya[i] = 2.0 * e / (double)N; /* reused as the |upstream gradient| */
    }
    HK_TRY(hk_dylora_backward(NULL, dAa, dBa, ya, ax, xa, aW, aA, aB, NULL, 0.0, N, b, &d));
    *Sl = fmax(*Sl, s);
    *SA = fmax(*SA, hk_case_maxabs(dAa, R * IN));
    *SB = fmax(*SB, hk_case_maxabs(dBa, OUT * R));
    return HK_OK;
}

static int build_loss(hk_case *g, const dy_arg *a, const dy_params *P, long b)
{
    long N = a->N, IN = a->IN, OUT = a->OUT, R = a->r_max, nb = a->r_max - a->r_min + 1;
    hk_dylora_dims d = {IN, OUT, a->r_min, a->r_max, a->alpha};
    double *t = hk_case_in(g, "in.target", HK_SHAPE(N, OUT)), *dl = hk_case_in(g, "in.d_loss", 0, NULL);
    double *pmf = a->loss == 2 ? hk_case_in(g, "in.pmf", HK_SHAPE(nb)) : NULL;
    hk_case_fill(g, t, N * OUT, -2.0, 2.0);
    hk_case_fill(g, dl, 1, 0.5, 1.5);
    double nl = (double)(2 * IN + R + 3 + OUT + N + 3 + (a->loss == 2 ? nb : 0));
    double *loss = hk_case_out(g, "out.loss", 0, NULL, 2, nl, 0,
                             "y (2 IN + b + 3) + squared error sum OUT + N + 3 (+ number of ranks when nested); "
                             "S = sum (|y|+|t|)^2 / N from |inputs|");
    double *dA = hk_case_out(g, "grad.lora_A", HK_SHAPE(R, IN), 2, nl + OUT + N, 0,
                           "loss chain + (2/N)(y - t) pulled back: + OUT + N; S from |inputs|");
    double *dB = hk_case_out(g, "grad.lora_B", HK_SHAPE(OUT, R), 2, nl + N + IN, 0,
                           "loss chain + N + IN; S from |inputs|");
    double *gA = hk_case_scratch(g, R * IN), *gB = hk_case_scratch(g, OUT * R);
    if (!t || !dl || !loss || !dA || !dB || !gB || (a->loss == 2 && !pmf)) return HK_ENOMEM;
    double Sl = 0, SA = 0, SB = 0;
    if (a->loss == 1) {
        HK_TRY(hk_dylora_loss_forward(loss, P->x, t, P->W0, P->bias, P->A, P->B, N, b, &d));
        HK_TRY(hk_dylora_loss_backward(gA, gB, P->x, t, P->W0, P->bias, P->A, P->B, N, b, &d));
        HK_TRY(loss_scale(g, a, P, t, b, &Sl, &SA, &SB));
        mark_sparse(g, b, R);
    } else {
        HK_TRY(hk_dylora_rank_pmf(pmf, a->r_min, a->r_max, HK_DYLORA_UNIFORM, 0.0));
        HK_TRY(hk_dylora_nested_loss_forward(loss, P->x, t, P->W0, P->bias, P->A, P->B, pmf, N, &d));
        HK_TRY(hk_dylora_nested_loss_backward(gA, gB, P->x, t, P->W0, P->bias, P->A, P->B, pmf, N, &d));
        for (long k = a->r_min; k <= a->r_max; k++) HK_TRY(loss_scale(g, a, P, t, k, &Sl, &SA, &SB));
        hk_case_cfg_str(g, "distribution", "uniform");
    }
    /* The losses' backward is dL/dA; the golden gradient is d_loss * dL/dA (one more rounding, in n). */
    for (long i = 0; i < R * IN; i++) dA[i] = *dl * gA[i];
    for (long i = 0; i < OUT * R; i++) dB[i] = *dl * gB[i];
    hk_case_set_scale(g, "out.loss", Sl);
    hk_case_set_scale(g, "grad.lora_A", SA * fabs(*dl));
    hk_case_set_scale(g, "grad.lora_B", SB * fabs(*dl));
    hk_case_cfg_str(g, "loss", a->loss == 1 ? "individual" : "nested");
    return HK_OK;
}

static int build_dy(hk_case *g, const void *arg)
{
    const dy_arg *a = arg;
    dy_params P;
    HK_TRY(draw_inputs(g, a, &P));
    long b = a->b;
    if (b == 0) HK_TRY(hk_dylora_rank_sample(&b, a->r_min, a->r_max, HK_DYLORA_UNIFORM, 0.0, hk_case_rng(g)));
    if (a->loss != 2) {
        int64_t *bt = hk_case_int(g, "in.b", 0, NULL);
        if (!bt) return HK_ENOMEM;
        *bt = b;
    }
    common_cfg(g, a);
    return a->loss ? build_loss(g, a, &P, b) : build_layer(g, a, &P, b);
}

#define SRC_DY "DyLoRA (EACL 2023) Eq. 5/7: y_b = x W0^T + bias + (alpha/b) dropout(x) A[:b]^T B[:,:b]^T"
#define SRC_DYF "DyLoRA frozen mode (Eq. 10): gradients only to A[b-1,:] and B[:,b-1] (official detach)"
#define SRC_DYL "DyLoRA losses: L_b = (1/N) sum ||y_b - t||^2 (Eq. 9); nested sum_b p_B(b) L_b"

static const dy_arg d_b1 = {3, 6, 4, 1, 4, 1, 0.25, 8.0, 0, 0}, d_br = {3, 6, 4, 1, 4, 4, 0.25, 8.0, 0, 0},
                    d_smp = {2, 7, 3, 1, 5, 0, 0.125, 4.0, 0, 0}, d_frz = {3, 5, 4, 1, 4, 3, 0.0, 8.0, 1, 0},
                    d_l2 = {4, 5, 3, 1, 4, 2, 0.0, 6.0, 0, 1}, d_nest = {3, 5, 3, 1, 4, 0, 0.0, 6.0, 0, 2},
                    d_nest2 = {3, 4, 3, 2, 3, 0, 0.0, 3.0, 0, 2};

static const hk_golden_case cases[] = {
    {"dylora", "dylora_b1_rmax4_p0.25_3x6to4", SRC_DY, 701, build_dy, &d_b1},
    {"dylora", "dylora_b_eq_r_rmax4_p0.25_3x6to4", SRC_DY, 702, build_dy, &d_br},
    {"dylora", "dylora_sampled_b_rmax5_p0.125_2x7to3", SRC_DY, 703, build_dy, &d_smp},
    {"dylora", "dylora_frozen_b3_rmax4_3x5to4", SRC_DYF, 704, build_dy, &d_frz},
    {"dylora_loss", "dylora_loss_individual_b2_rmax4_4x5to3", SRC_DYL, 711, build_dy, &d_l2},
    {"dylora_loss", "dylora_loss_nested_uniform_r1to4_3x5to3", SRC_DYL, 712, build_dy, &d_nest},
    {"dylora_loss", "dylora_loss_nested_uniform_r2to3_3x4to3", SRC_DYL, 713, build_dy, &d_nest2},
};

const hk_golden_case *hk_golden_dylora(size_t *n)
{
    *n = sizeof cases / sizeof cases[0];
    return cases;
}
