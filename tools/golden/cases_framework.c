/* hkref — golden cases: the unified framework's loss head (2403.00812
 * Sec. 3.2-3.3, Fig. 3) for named presets: task loss on pass 1 (or the mean
 * of both passes), plus alpha times a consistency loss between the passes
 * (mean over rows), pass 2 optionally a constant (detach).
 * Tolerances: K = 2; n and S combine the cross-entropy and consistency
 * derivations (golden_nn.c, golden_consistency.c), +3 for the weighted sum
 * and the d_total product. */
#include "golden/case.h"

#include "ref/error.h"
#include "ref/framework.h"
#include "ref/train.h"

#include <math.h>
#include <stddef.h>

typedef struct {
    char preset[32];
    long regression;                /* 1: task regression (K = 1), consistency mse on representations */
    double weight;                  /* > 0 overrides the preset's alpha */
    long task_both, detach_second;  /* -1: the preset's choice */
    long N, K, D;
} fw_arg;

static void record_cfg(hk_case *g, const fw_arg *a, const hk_framework *cfg, long K)
{
    hk_case_cfg_str(g, "preset", a->preset);
    hk_case_cfg_str(g, "task", cfg->task == HK_TASK_REGRESSION ? "regression" : "classification");
    hk_case_cfg_str(g, "loss", cfg->loss == HK_LOSS_NONE ? "none" : hk_consistency_name((hk_consistency)cfg->loss));
    hk_case_cfg_real(g, "weight", cfg->weight);
    hk_case_cfg_int(g, "passes", cfg->passes);
    hk_case_cfg_int(g, "task_both", cfg->task_both);
    hk_case_cfg_int(g, "detach_second", cfg->detach_second);
    hk_case_cfg_int(g, "N", a->N);
    hk_case_cfg_int(g, "K", K);
    if (a->regression) hk_case_cfg_int(g, "D", a->D);
}

static int build_fw(hk_case *g, const void *arg)
{
    const fw_arg *a = arg;
    hk_framework cfg;
    HK_TRY(hk_preset_get(&cfg, a->preset));
    if (a->regression) {
        cfg.task = HK_TASK_REGRESSION;
        cfg.loss = HK_CONS_MSE;
    }
    if (a->weight > 0) cfg.weight = a->weight;
    if (a->task_both >= 0) cfg.task_both = a->task_both;
    if (a->detach_second >= 0) cfg.detach_second = a->detach_second;
    HK_TRY(hk_framework_validate(&cfg));
    long N = a->N, K = a->regression ? 1 : a->K, D = a->regression ? a->D : 0, W = a->regression ? D : K;
    int two = cfg.passes == 2, reg = a->regression;
    double *o1 = hk_case_in(g, "in.out1", HK_SHAPE(N, K)), *o2 = two ? hk_case_in(g, "in.out2", HK_SHAPE(N, K)) : NULL;
    double *r1 = reg ? hk_case_in(g, "in.rep1", HK_SHAPE(N, D)) : NULL, *r2 = reg ? hk_case_in(g, "in.rep2", HK_SHAPE(N, D)) : NULL;
    double *tg = reg ? hk_case_in(g, "in.targets", HK_SHAPE(N)) : NULL;
    int64_t *lab = reg ? NULL : hk_case_int(g, "in.labels", HK_SHAPE(N));
    double *dt = hk_case_in(g, "in.d_total", 0, NULL);
    hk_case_fill(g, o1, N * K, -3.0, 3.0);
    hk_case_fill(g, o2, N * K, -1.0, 1.0);
    hk_case_fill(g, r1, N * D, -2.0, 2.0);
    hk_case_fill(g, r2, N * D, -1.0, 1.0);
    hk_case_fill(g, tg, N, -3.0, 3.0);
    hk_case_fill(g, dt, 1, 0.5, 1.5);
    long *labels = hk_case_alloc(g, sizeof(long) * (size_t)N);
    if (!o1 || !dt || !labels || (two && !o2) || (reg && (!r1 || !r2 || !tg)) || (!reg && !lab))
        return HK_ENOMEM;
    for (long i = 0; two && !hk_case_is_given(g, o2) && i < N * K; i++) o2[i] += o1[i]; /* pass 2 = pass 1 + noise */
    for (long i = 0; reg && !hk_case_is_given(g, r2) && i < N * D; i++) r2[i] += r1[i];
    if (o2) hk_case_round32(o2, N * K);
    if (r2) hk_case_round32(r2, N * D);
    for (long n = 0; !reg && n < N; n++) {
        if (!hk_case_is_given(g, lab)) lab[n] = (int64_t)gsl_rng_uniform_int(hk_case_rng(g), (unsigned long)K);
        HK_REQUIRE(lab[n] >= 0 && lab[n] < K, HK_EDOM, "in.labels[%ld] = %lld is not a class in [0, K=%ld)", n,
                   (long long)lab[n], K);
        labels[n] = (long)lab[n];
    }
    record_cfg(g, a, &cfg, K);
    /* Bounds: task (C + R + N + 6 or N + 3) and consistency (N W + W + R + 8). */
    double Sl = 0, Sg = 0, R = 0;
    const double *ca = reg ? r1 : o1, *cb = reg ? r2 : o2;
    if (two) hk_case_cons_bounds(cfg.loss, ca, cb, N, W, &Sl, &Sg, &R);
    double Rt = 0.0;
    for (long n = 0; !reg && n < N; n++) {
        double hi = -INFINITY, lo = INFINITY;
        for (long k = 0; k < K; k++) hi = fmax(hi, o1[n * K + k]), lo = fmin(lo, o1[n * K + k]);
        Rt = fmax(Rt, hi - lo + 2.0);
    }
    double nt = reg ? (double)(N + 3) : (double)(N + K) + Rt + 6, nc = two ? (double)(N * W + W) + R + 8 : 0;
    double *tot = hk_case_out(g, "out.total", 0, NULL, 2, nt + nc + 3, 0,
                            "task (CE: N + K + R + 6; squared error: N + 3) + consistency (N W + W + R + 8) + 3; "
                            "S = |task| + alpha * consistency bound");
    double *task = hk_case_out(g, "out.task", 0, NULL, 2, nt + 2, 0, "as the task part of out.total; S = |task|");
    double *cons = two ? hk_case_out(g, "out.consistency", 0, NULL, 2, nc + 1, Sl / (double)N,
                                   "consistency loss, mean over rows: N W + W + R + 8; S = its sum |terms| bound / N")
                       : NULL;
    double gS = fabs(*dt) * (2.0 / (double)N + cfg.weight * Sg / (double)N);
    double *d1 = hk_case_out(g, "grad.out1", HK_SHAPE(N, K), 2, (reg ? 4.0 : 2.0 * K + Rt + 8) + (two && !reg ? 2.0 * W + R + 8 : 0) + 3,
                           reg ? 0 : gS, "task gradient + alpha * consistency gradient + 3; S = |d_total| (2/N + alpha Sg/N)");
    double *d2 = two ? hk_case_out(g, "grad.out2", HK_SHAPE(N, K), 2, (reg ? 4.0 : 2.0 * K + Rt + 8) + (!reg ? 2.0 * W + R + 8 : 0) + 3,
                                 reg ? 0 : gS, "as grad.out2; all zero when pass 2 is detached and its task loss unused")
                     : NULL;
    double *dr1 = reg ? hk_case_out(g, "grad.rep1", HK_SHAPE(N, D), 2, 8, fabs(*dt) * cfg.weight * Sg / (double)N,
                                  "alpha * 2 (rep1 - rep2) / N * d_total: 8; S = |d_total| alpha max 2(|r1|+|r2|) / N")
                      : NULL;
    double *dr2 = reg ? hk_case_out(g, "grad.rep2", HK_SHAPE(N, D), 2, 8, fabs(*dt) * cfg.weight * Sg / (double)N, "as grad.rep1")
                      : NULL;
    double *g1 = hk_case_scratch(g, N * K), *g2 = hk_case_scratch(g, N * K), *gr1 = hk_case_scratch(g, N * D + 1),
           *gr2 = hk_case_scratch(g, N * D + 1);
    if (!tot || !task || !d1 || !gr2 || (two && (!cons || !d2)) || (reg && (!dr1 || !dr2))) return HK_ENOMEM;
    hk_step_result res;
    HK_TRY(hk_framework_loss_forward(&res, &cfg, o1, r1, o2, r2, reg ? NULL : labels, tg, N, K, D));
    HK_TRY(hk_framework_loss_backward(g1, reg ? gr1 : NULL, two ? g2 : NULL, reg ? gr2 : NULL, &cfg, o1, r1, o2, r2,
                                      reg ? NULL : labels, tg, N, K, D));
    *tot = res.total;
    *task = res.task;
    if (cons) *cons = res.consistency;
    hk_case_set_scale(g, "out.total", fabs(res.task) + cfg.weight * Sl / (double)N);
    /* The head's backward is d total; the golden gradient is d_total * that. */
    for (long i = 0; i < N * K; i++) {
        d1[i] = *dt * g1[i];
        if (d2) d2[i] = *dt * g2[i];
    }
    for (long i = 0; reg && i < N * D; i++) {
        dr1[i] = *dt * gr1[i];
        dr2[i] = *dt * gr2[i];
    }
    /* Pass 2 gets no gradient at all when its task loss is unused and it is
     * a constant in the consistency loss (HiddenKey, Fig. 3): zeros by design. */
    if (two && !cfg.task_both && (reg || cfg.detach_second)) hk_case_zeros_expected(g, "grad.out2");
    if (reg && two && cfg.detach_second) hk_case_zeros_expected(g, "grad.rep2");
    return HK_OK;
}

#define SRC_FW "2403.00812 Sec. 3.2-3.3, Fig. 3: total = task + alpha * consistency(pass 1, pass 2), presets of ref/framework.c"

static int check_fw(void *arg)
{
    const fw_arg *a = arg;
    hk_framework cfg;
    HK_TRY(hk_preset_get(&cfg, a->preset));
    HK_REQUIRE(!a->regression || a->D >= 1, HK_EDOM, "framework_loss: regression needs the representation width D >= 1");
    return HK_OK;
}

static const fw_arg fw_defaults = {"rdrop", 0, 0, -1, -1, 3, 4, 0};
static const hk_golden_param fw_params[] = {
    HK_P_STR(fw_arg, preset, "preset", "a preset of hkref presets"),
    HK_P_INT(fw_arg, regression, "regression", 0, 1, "1: regression task (K = 1), mse consistency on rep"),
    HK_P_REAL(fw_arg, weight, "weight", 0, 1e6, "> 0: the consistency weight alpha (0: the preset's)"),
    HK_P_INT(fw_arg, task_both, "task_both", -1, 1, "-1: the preset's; 1: task loss on both passes"),
    HK_P_INT(fw_arg, detach_second, "detach_second", -1, 1, "-1: the preset's; 1: pass 2 a constant"),
    HK_P_INT(fw_arg, N, "N", 1, 1 << 20, "rows"),
    HK_P_INT(fw_arg, K, "K", 1, 1 << 16, "classes"),
    HK_P_INT(fw_arg, D, "D", 0, 1 << 16, "regression: representation width"),
};
static const hk_golden_op op_fw = {"framework_loss", SRC_FW, sizeof(fw_arg), &fw_defaults, fw_params,
                                   HK_NPARAMS(fw_params), NULL, NULL, check_fw, NULL, build_fw};

static const hk_golden_case cases[] = {
    {&op_fw, "framework_loss_rdrop_3x4", 801, "preset=rdrop,N=3,K=4"},
    {&op_fw, "framework_loss_hiddenkey_detached_3x4", 802, "preset=hiddenkey,N=3,K=4"},
    {&op_fw, "framework_loss_hiddenkey_undetached_alpha0.75_3x5", 803, "preset=hiddenkey,weight=0.75,detach_second=0,N=3,K=5"},
    {&op_fw, "framework_loss_hiddencut_js_mixture_2x5", 804, "preset=hiddencut,N=2,K=5"},
    {&op_fw, "framework_loss_lora_one_pass_3x4", 805, "preset=lora,N=3,K=4"},
    {&op_fw, "framework_loss_rdrop_regression_mse_3_d4", 806, "preset=rdrop,regression=1,weight=0.5,N=3,K=1,D=4"},
    {&op_fw, "framework_loss_rdrop_n1_6", 807, "preset=rdrop,N=1,K=6"},
};

const hk_golden_case *hk_golden_framework(size_t *n)
{
    *n = sizeof cases / sizeof cases[0];
    return cases;
}
