/* hkref — golden cases: structured dropout of a (B,T,C) representation —
 * HiddenCut on the FFN output, Cutoff on the input embeddings, standard
 * dropout on the output: out = in * (1 - mask) * scale, one op, three
 * positions.  Tolerances: K = 2, n = 3 (the product and the scale 1/(1-p)),
 * S = max|ref|. */
#include "golden/case.h"

#include "ref/error.h"
#include "ref/hiddencut.h"

#include <math.h>

typedef struct {
    const char *position; /* "hidden", "input", "output" (documentation only: same formula) */
    hk_hc_pattern pat;
    double p;
    int rescale;          /* 1: scale = 1/(1-p); 0: scale = 1 (official HiddenCut / Cutoff) */
    long B, T, C;
    int edge;             /* 1: high p, zeros expected; rows may be fully dropped */
} hc_arg;

static int build_hc(hk_case *g, const void *arg)
{
    const hc_arg *a = arg;
    long B = a->B, T = a->T, C = a->C, n = B * T * C;
    double *h = hk_case_in(g, "in.h", HK_SHAPE(B, T, C)), *dy = hk_case_in(g, "in.d_y", HK_SHAPE(B, T, C));
    uint8_t *m = hk_case_mask(g, "mask.h", HK_SHAPE(B, T, C));
    hk_case_fill(g, h, n, -2.0, 2.0);
    hk_case_fill(g, dy, n, -1.0, 1.0);
    if (!h || !dy || !m) return HK_ENOMEM;
    HK_TRY(hk_hiddencut_mask_sample(m, a->pat, a->p, B, T, C, hk_case_rng(g)));
    /* Non-edge cases: at least one feature kept per (b,t) row and one token kept per example. */
    for (long bt = 0; bt < B * T && !a->edge && a->pat != HK_HC_SPAN; bt++) {
        long kept = 0;
        for (long c = 0; c < C; c++) kept += !m[bt * C + c];
        HK_REQUIRE(kept > 0, HK_EDOM, "row %ld fully dropped in a non-edge case: choose another seed", bt);
    }
    double scale = a->rescale ? 1.0 / (1.0 - a->p) : 1.0;
    hk_case_cfg_str(g, "position", a->position);
    hk_case_cfg_str(g, "pattern", hk_hc_pattern_name(a->pat));
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

static const hc_arg a_el = {"hidden", HK_HC_ELEMENT, 0.125, 1, 2, 5, 6, 0},
                    a_col = {"hidden", HK_HC_COLUMN, 0.25, 0, 2, 3, 7, 0},
                    a_span = {"hidden", HK_HC_SPAN, 0.25, 0, 2, 8, 3, 0},
                    a_p0 = {"hidden", HK_HC_ELEMENT, 0.0, 1, 1, 3, 5, 0},
                    a_hi = {"hidden", HK_HC_ELEMENT, 0.875, 1, 2, 3, 4, 1},
                    a_cut = {"input", HK_HC_SPAN, 0.375, 0, 1, 8, 3, 0},
                    a_cutc = {"input", HK_HC_COLUMN, 0.25, 0, 2, 3, 5, 0},
                    a_out = {"output", HK_HC_ELEMENT, 0.1, 1, 2, 3, 5, 0};

static const hk_golden_case cases[] = {
    {"hiddencut", "hiddencut_element_p0.125_rescale_2x5x6", SRC_HC, 501, build_hc, &a_el},
    {"hiddencut", "hiddencut_column_p0.25_2x3x7", SRC_HC, 502, build_hc, &a_col},
    {"hiddencut", "hiddencut_span_p0.25_2x8x3", SRC_HC, 503, build_hc, &a_span},
    {"hiddencut", "hiddencut_element_p0_1x3x5", SRC_HC, 504, build_hc, &a_p0},
    {"hiddencut", "hiddencut_element_p0.875_highp_2x3x4", SRC_HC, 505, build_hc, &a_hi},
    {"hiddencut", "hiddencut_cutoff_input_span_p0.375_1x8x3", SRC_HC, 506, build_hc, &a_cut},
    {"hiddencut", "hiddencut_cutoff_input_column_p0.25_2x3x5", SRC_HC, 507, build_hc, &a_cutc},
    {"hiddencut", "hiddencut_output_dropout_p0.1_2x3x5", SRC_HC, 508, build_hc, &a_out},
};

const hk_golden_case *hk_golden_hiddencut(size_t *n)
{
    *n = sizeof cases / sizeof cases[0];
    return cases;
}
