/* hkref — golden cases: the LoRA linear layer with input dropout.
 *   y = x W0^T + bias + scale * (dropout(x) A^T) B^T,  scale = alpha / r,
 *   dropout(x) = x * (1 - mask) / (1 - p), mask (N,IN), 1 = dropped.
 * Tolerances: K = 2; n = the longest chain of dot products (+3 for the
 * dropout rescale, the scale and the final add); S = max of the same op run
 * on |inputs| (the op is multilinear, so that is the largest sum of |terms|). */
#include "golden/case.h"

#include "ref/error.h"
#include "ref/lora.h"
#include "ref/rng.h"

#include <math.h>
#include <stddef.h>

typedef struct {
    long N, IN, OUT, r;
    double p, alpha;
    long bias;
} lora_arg;

static int build_lora(hk_case *g, const void *arg)
{
    const lora_arg *a = arg;
    long N = a->N, IN = a->IN, OUT = a->OUT, r = a->r;
    double s = a->alpha / (double)r;
    double *x = hk_case_in(g, "in.x", HK_SHAPE(N, IN));
    double *W0 = hk_case_in(g, "param.weight", HK_SHAPE(OUT, IN));
    double *bias = a->bias ? hk_case_in(g, "param.bias", HK_SHAPE(OUT)) : NULL;
    double *A = hk_case_in(g, "param.lora_A", HK_SHAPE(r, IN));
    double *B = hk_case_in(g, "param.lora_B", HK_SHAPE(OUT, r));
    uint8_t *mask = hk_case_mask(g, "mask.x", HK_SHAPE(N, IN));
    double *dy = hk_case_in(g, "in.d_y", HK_SHAPE(N, OUT));
    hk_case_fill(g, x, N * IN, -2.0, 2.0);
    hk_case_fill(g, W0, OUT * IN, -1.0, 1.0);
    if (bias) hk_case_fill(g, bias, OUT, -1.0, 1.0);
    hk_case_fill(g, A, r * IN, -0.5, 0.5);
    hk_case_fill(g, B, OUT * r, -0.5, 0.5); /* not the B = 0 init: the LoRA path must matter */
    hk_case_fill(g, dy, N * OUT, -1.0, 1.0);
    double *y = hk_case_out(g, "out.y", HK_SHAPE(N, OUT), 2, (double)(2 * IN + r + 3), 0,
                          "W0 path IN terms + LoRA path IN (x A^T) + r (B) + 3 (rescale, scale, add); S from |inputs|");
    double *dx = hk_case_out(g, "grad.x", HK_SHAPE(N, IN), 2, (double)(2 * OUT + r + 3), 0,
                           "dy W0 (OUT) + scale*(dy B) (OUT) A (r) * keep/(1-p) + 3; S from |inputs|");
    double *dA = hk_case_out(g, "grad.lora_A", HK_SHAPE(r, IN), 2, (double)(OUT + N + 3), 0,
                           "dA = (scale dy B)^T dropout(x): OUT + N terms + 3; S from |inputs|");
    double *dB = hk_case_out(g, "grad.lora_B", HK_SHAPE(OUT, r), 2, (double)(N + IN + 3), 0,
                           "dB = scale dy^T (dropout(x) A^T): N + IN terms + 3; S from |inputs|");
    double *xa = hk_case_scratch(g, N * r), *ya = hk_case_scratch(g, N * OUT), *xaa = hk_case_scratch(g, N * r);
    double *dxa = hk_case_scratch(g, N * IN), *dAa = hk_case_scratch(g, r * IN), *dBa = hk_case_scratch(g, OUT * r);
    if (!x || !W0 || !A || !B || !mask || !dy || !y || !dx || !dA || !dB || !dBa || (a->bias && !bias))
        return HK_ENOMEM;
    if (!hk_case_is_given(g, mask)) HK_TRY(hk_mask_bernoulli(mask, N * IN, a->p, hk_case_rng(g)));
    for (long i = 0; a->p == 0 && i < N * IN; i++)
        HK_REQUIRE(!mask[i], HK_EDOM, "mask.x[%ld] drops an element but p = 0 (no dropout: an all-zero mask)", i);
    hk_case_cfg_int(g, "N", N);
    hk_case_cfg_int(g, "IN", IN);
    hk_case_cfg_int(g, "OUT", OUT);
    hk_case_cfg_int(g, "r", r);
    hk_case_cfg_real(g, "alpha", a->alpha);
    hk_case_cfg_real(g, "scale", s);
    hk_case_cfg_real(g, "p", a->p);
    hk_case_cfg_int(g, "bias", a->bias);
    HK_TRY(hk_lora_forward(y, xa, x, W0, bias, A, B, mask, a->p, &(hk_lora_dims){N, IN, OUT, r, r, s}));
    HK_TRY(hk_lora_backward(dx, dA, dB, dy, x, xa, W0, A, B, mask, a->p, &(hk_lora_dims){N, IN, OUT, r, r, s}));
    /* The same op on |inputs|: every element's sum of |terms|. */
    double *ax = hk_case_abs_copy(g, x, N * IN), *aW = hk_case_abs_copy(g, W0, OUT * IN);
    double *ab = bias ? hk_case_abs_copy(g, bias, OUT) : NULL, *aA = hk_case_abs_copy(g, A, r * IN);
    double *aB = hk_case_abs_copy(g, B, OUT * r), *ady = hk_case_abs_copy(g, dy, N * OUT);
    if (!ax || !aW || !aA || !aB || !ady) return HK_ENOMEM;
    HK_TRY(hk_lora_forward(ya, xaa, ax, aW, ab, aA, aB, mask, a->p, &(hk_lora_dims){N, IN, OUT, r, r, s}));
    HK_TRY(hk_lora_backward(dxa, dAa, dBa, ady, ax, xaa, aW, aA, aB, mask, a->p, &(hk_lora_dims){N, IN, OUT, r, r, s}));
    hk_case_set_scale(g, "out.y", hk_case_maxabs(ya, N * OUT));
    hk_case_set_scale(g, "grad.x", hk_case_maxabs(dxa, N * IN));
    hk_case_set_scale(g, "grad.lora_A", hk_case_maxabs(dAa, r * IN));
    hk_case_set_scale(g, "grad.lora_B", hk_case_maxabs(dBa, OUT * r));
    if (a->p >= 0.5) hk_case_zeros_expected(g, "grad.lora_A"); /* columns dropped in every row get dA = 0 */
    return HK_OK;
}

#define SRC_LORA "LoRA (Hu et al. 2021; loralib/peft): y = x W0^T + b + (alpha/r) dropout(x) A^T B^T; W0, b frozen"

static const lora_arg lora_defaults = {4, 6, 5, 2, 0.0, 3.0, 1};
static const hk_golden_param lora_params[] = {
    HK_P_INT(lora_arg, N, "N", 1, 1 << 20, "rows"),
    HK_P_INT(lora_arg, IN, "IN", 1, 1 << 16, "input features"),
    HK_P_INT(lora_arg, OUT, "OUT", 1, 1 << 16, "output features"),
    HK_P_INT(lora_arg, r, "r", 1, 1 << 12, "LoRA rank"),
    HK_P_RATE(lora_arg, p, "p", "LoRA input dropout rate"),
    HK_P_REAL(lora_arg, alpha, "alpha", -1e6, 1e6, "LoRA scale numerator (scale = alpha / r)"),
    HK_P_INT(lora_arg, bias, "bias", 0, 1, "1: with param.bias"),
};
static const hk_golden_op op_lora = {"lora", SRC_LORA, sizeof(lora_arg), &lora_defaults, lora_params,
                                     HK_NPARAMS(lora_params), NULL, NULL, NULL, NULL, build_lora};

static const hk_golden_case cases[] = {
    {&op_lora, "lora_p0_4x6to5_r2", 301, "N=4,IN=6,OUT=5,r=2,p=0,alpha=3,bias=1"},
    {&op_lora, "lora_p0.25_5x7to3_r3", 302, "N=5,IN=7,OUT=3,r=3,p=0.25,alpha=6,bias=1"},
    {&op_lora, "lora_p0.75_highp_nobias_3x6to4_r4", 303, "N=3,IN=6,OUT=4,r=4,p=0.75,alpha=8,bias=0"},
    {&op_lora, "lora_r1_n1_5to3", 304, "N=1,IN=5,OUT=3,r=1,p=0.125,alpha=2,bias=1"},
};

const hk_golden_case *hk_golden_lora(size_t *n)
{
    *n = sizeof cases / sizeof cases[0];
    return cases;
}
