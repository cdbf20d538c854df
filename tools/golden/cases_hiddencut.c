/* hkref — golden cases: structured dropout of a (B,T,C) representation —
 * HiddenCut on the FFN output, Cutoff on the input embeddings, standard
 * dropout on the output: out = in * (1 - mask) * scale, one op, three
 * positions.  Tolerances: K = 2, n = 3 (the product and the scale 1/(1-p)),
 * S = max|ref|. */
#include "golden/case.h"

#include "ref/error.h"
#include "ref/hiddencut.h"

#include <math.h>
#include <stddef.h>

typedef struct {
    int position;         /* hidden, input, output (documentation only: same formula) */
    int pat;              /* hk_hc_pattern */
    double p;
    long rescale;         /* 1: scale = 1/(1-p); 0: scale = 1 (official HiddenCut / Cutoff) */
    long B, T, C;
    long edge;            /* 1: high p, zeros expected; rows may be fully dropped */
} hc_arg;

static const char *const hc_positions[] = {"hidden", "input", "output", NULL};

static int build_hc(hk_case *g, const void *arg)
{
    const hc_arg *a = arg;
    long B = a->B, T = a->T, C = a->C, n = B * T * C;
    double *h = hk_case_in(g, "in.h", HK_SHAPE(B, T, C)), *dy = hk_case_in(g, "in.d_y", HK_SHAPE(B, T, C));
    uint8_t *m = hk_case_mask(g, "mask.h", HK_SHAPE(B, T, C));
    hk_case_fill(g, h, n, -2.0, 2.0);
    hk_case_fill(g, dy, n, -1.0, 1.0);
    if (!h || !dy || !m) return HK_ENOMEM;
    if (!hk_case_is_given(g, m)) HK_TRY(hk_hiddencut_mask_sample(m, (hk_hc_pattern)a->pat, a->p, B, T, C, hk_case_rng(g)));
    /* Non-edge cases: at least one feature kept per (b,t) row and one token kept per example. */
    for (long bt = 0; bt < B * T && !a->edge && a->pat != HK_HC_SPAN; bt++) {
        long kept = 0;
        for (long c = 0; c < C; c++) kept += !m[bt * C + c];
        HK_REQUIRE(kept > 0, HK_EDOM, "row %ld fully dropped in a non-edge case: choose another seed", bt);
    }
    double scale = a->rescale ? 1.0 / (1.0 - a->p) : 1.0;
    hk_case_cfg_str(g, "position", hc_positions[a->position]);
    hk_case_cfg_str(g, "pattern", hk_hc_pattern_name((hk_hc_pattern)a->pat));
    hk_case_cfg_real(g, "p", a->p);
    hk_case_cfg_int(g, "rescale", a->rescale);
    hk_case_cfg_real(g, "scale", scale);
    hk_case_cfg_int(g, "B", B);
    hk_case_cfg_int(g, "T", T);
    hk_case_cfg_int(g, "C", C);
    double *y = hk_case_out(g, "out.y", HK_SHAPE(B, T, C), 2, 3, 0, "in*(1-mask)*scale: n = 3 (product, scale); S = max|ref|");
    double *dh = hk_case_out(g, "grad.h", HK_SHAPE(B, T, C), 2, 3, 0, "d_y*(1-mask)*scale: n = 3; S = max|ref|");
    if (!y || !dh) return HK_ENOMEM;
    HK_TRY(hk_hiddencut_forward(y, h, m, scale, B, T, C));
    HK_TRY(hk_hiddencut_backward(dh, dy, m, scale, B, T, C));
    if (a->edge) {
        hk_case_zeros_expected(g, "out.y");
        hk_case_zeros_expected(g, "grad.h");
    }
    return HK_OK;
}

#define SRC_HC "HiddenCut (Chen et al. 2021) / Cutoff / dropout on (B,T,C): out = in (1 - mask) scale; 2403.00812 Sec. 3.2"

static const char *const hc_patterns[] = {"element", "column", "span", NULL};
static const hc_arg hc_defaults = {0, HK_HC_ELEMENT, 0.125, 1, 2, 5, 6, 0};
static const hk_golden_param hc_params[] = {
    HK_P_ENUM(hc_arg, position, "position", hc_positions, "where the framework applies it (documentation)"),
    HK_P_ENUM(hc_arg, pat, "pattern", hc_patterns, "how mask.h is drawn"),
    HK_P_RATE(hc_arg, p, "p", "drop rate"),
    HK_P_INT(hc_arg, rescale, "rescale", 0, 1, "1: kept units times 1/(1-p)"),
    HK_P_INT(hc_arg, B, "B", 1, 1 << 12, "batch"),
    HK_P_INT(hc_arg, T, "T", 1, 1 << 16, "tokens"),
    HK_P_INT(hc_arg, C, "C", 1, 1 << 16, "features"),
    HK_P_INT(hc_arg, edge, "edge", 0, 1, "1: high p: rows may be fully dropped (zeros expected)"),
};
static const hk_golden_op op_hc = {"hiddencut", SRC_HC, sizeof(hc_arg), &hc_defaults, hc_params,
                                   HK_NPARAMS(hc_params), NULL, NULL, NULL, NULL, build_hc};

static const hk_golden_case cases[] = {
    {&op_hc, "hiddencut_element_p0.125_rescale_2x5x6", 501, "pattern=element,p=0.125,rescale=1,B=2,T=5,C=6"},
    {&op_hc, "hiddencut_column_p0.25_2x3x7", 502, "pattern=column,p=0.25,rescale=0,B=2,T=3,C=7"},
    {&op_hc, "hiddencut_span_p0.25_2x8x3", 503, "pattern=span,p=0.25,rescale=0,B=2,T=8,C=3"},
    {&op_hc, "hiddencut_element_p0_1x3x5", 504, "pattern=element,p=0,rescale=1,B=1,T=3,C=5"},
    {&op_hc, "hiddencut_element_p0.875_highp_2x3x4", 505, "pattern=element,p=0.875,rescale=1,B=2,T=3,C=4,edge=1"},
    {&op_hc, "hiddencut_cutoff_input_span_p0.375_1x8x3", 506, "position=input,pattern=span,p=0.375,rescale=0,B=1,T=8,C=3"},
    {&op_hc, "hiddencut_cutoff_input_column_p0.25_2x3x5", 507, "position=input,pattern=column,p=0.25,rescale=0,B=2,T=3,C=5"},
    {&op_hc, "hiddencut_output_dropout_p0.1_2x3x5", 508, "position=output,pattern=element,p=0.1,rescale=1,B=2,T=3,C=5"},
};

const hk_golden_case *hk_golden_hiddencut(size_t *n)
{
    *n = sizeof cases / sizeof cases[0];
    return cases;
}
