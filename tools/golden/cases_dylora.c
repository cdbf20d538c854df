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
#include <stddef.h>

typedef struct {
    long N, IN, OUT, r_min, r_max;
    long b;        /* the rank; 0 = draw it uniformly from [r_min, r_max] with the case's generator */
    double p, alpha;
    long frozen;   /* 1: frozen mode, gradients of A rows < b-1 and B columns < b-1 are 0 */
    int loss_op;   /* 0: the layer op "dylora"; 1: the op "dylora_loss" (fixed by the op) */
    int loss_kind; /* dylora_loss: 0 individual loss L_b, 1 nested loss (uniform p_B) */
    int loss;      /* derived by check_dy: 0 layer, 1 individual, 2 nested */
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
    if (!hk_case_is_given(g, mask)) HK_TRY(hk_mask_bernoulli(mask, N * IN, a->p, hk_case_rng(g)));
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
    int64_t *bt = a->loss != 2 ? hk_case_int(g, "in.b", 0, NULL) : NULL;
    if (a->loss != 2 && !bt) return HK_ENOMEM;
    if (bt && hk_case_is_given(g, bt)) {
        HK_REQUIRE(*bt >= a->r_min && *bt <= a->r_max, HK_EDOM, "in.b = %lld is outside [r_min=%ld, r_max=%ld]",
                   (long long)*bt, a->r_min, a->r_max);
        b = (long)*bt;
    } else {
        /* (nested losses use no b, but draw one all the same: the committed files' generator state) */
        if (b == 0) HK_TRY(hk_dylora_rank_sample(&b, a->r_min, a->r_max, HK_DYLORA_UNIFORM, 0.0, hk_case_rng(g)));
        if (bt) *bt = b;
    }
    common_cfg(g, a);
    return a->loss ? build_loss(g, a, &P, b) : build_layer(g, a, &P, b);
}

#define SRC_DY "DyLoRA (EACL 2023) Eq. 5/7: y_b = x W0^T + bias + (alpha/b) dropout(x) A[:b]^T B[:,:b]^T"
#define SRC_DYF "DyLoRA frozen mode (Eq. 10): gradients only to A[b-1,:] and B[:,b-1] (official detach)"
#define SRC_DYL "DyLoRA losses: L_b = (1/N) sum ||y_b - t||^2 (Eq. 9); nested sum_b p_B(b) L_b"

static int check_dy(void *arg)
{
    dy_arg *a = arg;
    a->loss = a->loss_op ? 1 + a->loss_kind : 0;
    HK_REQUIRE(a->r_min <= a->r_max, HK_EDOM, "dylora: r_min=%ld > r_max=%ld", a->r_min, a->r_max);
    HK_REQUIRE(a->b == 0 || (a->b >= a->r_min && a->b <= a->r_max), HK_EDOM,
               "dylora: b=%ld must be 0 (drawn) or in [r_min=%ld, r_max=%ld]", a->b, a->r_min, a->r_max);
    HK_REQUIRE(!a->frozen || a->loss == 0, HK_EINVAL, "dylora_loss: frozen mode is an option of the dylora layer op");
    HK_REQUIRE(a->loss == 0 || a->p == 0, HK_EINVAL, "dylora_loss: the losses have no dropout (p = 0)");
    return HK_OK;
}

static const char *const dy_losses[] = {"individual", "nested", NULL};
static const dy_arg dy_defaults = {3, 6, 4, 1, 4, 0, 0.25, 8.0, 0, 0, 0, 0},
                    dyl_defaults = {4, 5, 3, 1, 4, 0, 0.0, 6.0, 0, 1, 0, 1};
static const hk_golden_param dy_settings[] = {
    HK_P_INT(dy_arg, N, "N", 1, 1 << 20, "rows"),
    HK_P_INT(dy_arg, IN, "IN", 1, 1 << 16, "input features"),
    HK_P_INT(dy_arg, OUT, "OUT", 1, 1 << 16, "output features"),
    HK_P_INT(dy_arg, r_min, "r_min", 1, 1 << 12, "smallest rank"),
    HK_P_INT(dy_arg, r_max, "r_max", 1, 1 << 12, "largest rank (the stored factors)"),
    HK_P_INT(dy_arg, b, "b", 0, 1 << 12, "the rank (0: drawn uniformly from [r_min, r_max])"),
    HK_P_REAL(dy_arg, alpha, "alpha", -1e6, 1e6, "scale numerator (scale = alpha / b)"),
    HK_P_RATE(dy_arg, p, "p", "input dropout rate (layer op only)"),
    HK_P_INT(dy_arg, frozen, "frozen", 0, 1, "1: frozen mode (only row / column b-1 trained)"),
};
static const hk_golden_param dyl_params[] = {
    HK_P_INT(dy_arg, N, "N", 1, 1 << 20, "rows"),
    HK_P_INT(dy_arg, IN, "IN", 1, 1 << 16, "input features"),
    HK_P_INT(dy_arg, OUT, "OUT", 1, 1 << 16, "output features"),
    HK_P_INT(dy_arg, r_min, "r_min", 1, 1 << 12, "smallest rank"),
    HK_P_INT(dy_arg, r_max, "r_max", 1, 1 << 12, "largest rank"),
    HK_P_INT(dy_arg, b, "b", 0, 1 << 12, "individual: the rank (0: drawn)"),
    HK_P_REAL(dy_arg, alpha, "alpha", -1e6, 1e6, "scale numerator (scale = alpha / b)"),
    HK_P_ENUM(dy_arg, loss_kind, "loss", dy_losses, "individual L_b or nested sum_b p(b) L_b"),
};
static const char *source_dy(const void *arg)
{
    const dy_arg *a = arg;
    return a->frozen ? SRC_DYF : SRC_DY;
}

static const hk_golden_op op_dy = {"dylora", SRC_DY, sizeof(dy_arg), &dy_defaults, dy_settings, HK_NPARAMS(dy_settings),
                                   NULL, NULL, check_dy, source_dy, build_dy};
static const hk_golden_op op_dyl = {"dylora_loss", SRC_DYL, sizeof(dy_arg), &dyl_defaults, dyl_params,
                                    HK_NPARAMS(dyl_params), NULL, NULL, check_dy, NULL, build_dy};

static const hk_golden_case cases[] = {
    {&op_dy, "dylora_b1_rmax4_p0.25_3x6to4", 701, "N=3,IN=6,OUT=4,r_min=1,r_max=4,b=1,p=0.25,alpha=8"},
    {&op_dy, "dylora_b_eq_r_rmax4_p0.25_3x6to4", 702, "N=3,IN=6,OUT=4,r_min=1,r_max=4,b=4,p=0.25,alpha=8"},
    {&op_dy, "dylora_sampled_b_rmax5_p0.125_2x7to3", 703, "N=2,IN=7,OUT=3,r_min=1,r_max=5,b=0,p=0.125,alpha=4"},
    {&op_dy, "dylora_frozen_b3_rmax4_3x5to4", 704, "N=3,IN=5,OUT=4,r_min=1,r_max=4,b=3,p=0,alpha=8,frozen=1"},
    {&op_dyl, "dylora_loss_individual_b2_rmax4_4x5to3", 711, "N=4,IN=5,OUT=3,r_min=1,r_max=4,b=2,alpha=6,loss=individual"},
    {&op_dyl, "dylora_loss_nested_uniform_r1to4_3x5to3", 712, "N=3,IN=5,OUT=3,r_min=1,r_max=4,alpha=6,loss=nested"},
    {&op_dyl, "dylora_loss_nested_uniform_r2to3_3x4to3", 713, "N=3,IN=4,OUT=3,r_min=2,r_max=3,alpha=3,loss=nested"},
};

const hk_golden_case *hk_golden_dylora(size_t *n)
{
    *n = sizeof cases / sizeof cases[0];
    return cases;
}
