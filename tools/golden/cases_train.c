/* hkref — golden cases: one training step of the unified framework
 * (2403.00812 §3.2-3.3, Fig. 3) per preset, on a tiny encoder stack + head
 * (ref/stack.h, ref/train.h): the masks of both passes, the expected task,
 * consistency and total loss, and the gradient of d_total * total with
 * respect to every LoRA factor.  Frozen weights have no expected gradient
 * (hk_train_step does not compute them).
 *
 * Tolerances: K = 2; the forward chain of one block (as in
 * golden_attention.c: 2C + r + D + 3T + C + 16, + R the logit range, + the
 * encoder's 4C + 12 + C + F + 12) times L, + the cutoff / output dropout (2),
 * + the head (C + 1), + the loss (3K + 12: log-softmax, KL terms, means);
 * gradients: twice that + B*T (sum over tokens) + 1 (the d_total product);
 * S = max|ref|. */
#include "golden/case.h"

#include "ref/error.h"
#include "ref/rng.h"
#include "ref/stack.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

enum { TR_MAX_FW = 16 };

typedef struct {
    char preset[32];
    long L, B, T, C, NH, r, F, K;
    unsigned lora;
    long regression;          /* rdrop variant: task regression, loss mse on the representations */
    double input_p, output_p; /* extra positions switched on (0 = as the preset) */
    double rate;              /* > 0: every active position of the preset at this rate (high p), and
                                 some DropKey row must be all-masked (policy keep through the step) */
    int init;                 /* 0 legacy (ref/stack.h's hk_stack_init), 1 scaled (as the attention op) */
    int nfw;                  /* framework fields set by name (hk_framework_set), applied last */
    char fw_key[TR_MAX_FW][40], fw_val[TR_MAX_FW][40];
} tr_arg;

static const char *const pname[HK_ATTN_NPROJ] = {"q", "k", "v", "o"};

static void cfg_site(hk_case *g, const hk_framework *fw, hk_position pos)
{
    char key[48];
    const hk_fw_site *s = &fw->site[pos];
    snprintf(key, sizeof key, "%s_p", hk_position_name(pos));
    hk_case_cfg_real(g, key, s->p);
    if (s->p <= 0) return;
    snprintf(key, sizeof key, "%s_pattern", hk_position_name(pos));
    hk_case_cfg_str(g, key, hk_pattern_kind_name(s->pattern));
    snprintf(key, sizeof key, "%s_rescale", hk_position_name(pos));
    hk_case_cfg_str(g, key, hk_rescale_name(s->rescale));
}

static void record_cfg(hk_case *g, const tr_arg *a, const hk_framework *fw)
{
    hk_case_cfg_str(g, "preset", a->preset);
    hk_case_cfg_int(g, "L", a->L);
    hk_case_cfg_int(g, "B", a->B);
    hk_case_cfg_int(g, "T", a->T);
    hk_case_cfg_int(g, "C", a->C);
    hk_case_cfg_int(g, "NH", a->NH);
    hk_case_cfg_int(g, "F", a->F);
    hk_case_cfg_int(g, "K", a->K);
    hk_case_cfg_lora(g, a->lora);
    hk_case_cfg_int(g, "r", a->r);
    hk_case_cfg_real(g, "alpha", 2.0 * (double)a->r);
    hk_case_cfg_real(g, "ln_eps", 1e-5);
    hk_case_cfg_str(g, "gelu", "erf");
    for (int p = 0; p < HK_POS_COUNT; p++) cfg_site(g, fw, (hk_position)p);
    hk_case_cfg_str(g, "loss", fw->loss == HK_LOSS_NONE ? "none" : hk_consistency_name((hk_consistency)fw->loss));
    hk_case_cfg_real(g, "weight", fw->weight);
    hk_case_cfg_int(g, "passes", fw->passes);
    hk_case_cfg_int(g, "second_clean", fw->second_clean);
    hk_case_cfg_int(g, "task_both", fw->task_both);
    hk_case_cfg_int(g, "detach_second", fw->detach_second);
    hk_case_cfg_str(g, "task", fw->task == HK_TASK_REGRESSION ? "regression" : "classification");
}

/* Declares `name` as a golden input holding a binary32-rounded copy of src
 * (and rounds src in place, so the stack computes with the stored values). */
static int put(hk_case *g, const char *name, double *src, int ndim, const long *shape)
{
    long n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    double *x = hk_case_in(g, name, ndim, shape);
    if (!x) return HK_ENOMEM;
    if (hk_case_is_given(g, x)) { /* the caller's values replace the drawn ones */
        memcpy(src, x, sizeof(double) * (size_t)n);
        return HK_OK;
    }
    hk_case_round32(src, n);
    memcpy(x, src, sizeof(double) * (size_t)n);
    return HK_OK;
}

/* Declares a mask tensor holding a copy of m; an active mask must drop
 * something (else the case would not test its position: another seed). */
static int put_mask(hk_case *g, const char *cname, const char *name, uint8_t *m, int ndim, const long *shape)
{
    long n = 1, dropped = 0;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    uint8_t *x = hk_case_mask(g, name, ndim, shape);
    if (!x) return HK_ENOMEM;
    if (hk_case_is_given(g, x)) {
        memcpy(m, x, (size_t)n); /* the caller's mask replaces the drawn one */
        return HK_OK;
    }
    memcpy(x, m, (size_t)n);
    for (long i = 0; i < n; i++) dropped += m[i];
    HK_REQUIRE(dropped > 0, HK_EDOM, "%s: mask %s drops nothing: choose another seed", cname, name);
    return HK_OK;
}

static int put_params(hk_case *g, hk_stack *s, const tr_arg *a)
{
    const long C = a->C, F = a->F, r = a->r;
    char nm[64];
    for (long l = 0; l < a->L; l++) {
        hk_enc_params *P = &s->P[l];
        for (int i = 0; i < HK_ATTN_NPROJ; i++) {
            snprintf(nm, sizeof nm, "param.l%ld.W_%s", l, pname[i]);
            HK_TRY(put(g, nm, P->attn.W[i], HK_SHAPE(C, C)));
            snprintf(nm, sizeof nm, "param.l%ld.b_%s", l, pname[i]);
            HK_TRY(put(g, nm, P->attn.b[i], HK_SHAPE(C)));
            if (!(a->lora & HK_ATTN_LORA_BIT(i))) continue;
            snprintf(nm, sizeof nm, "param.l%ld.lora_A_%s", l, pname[i]);
            HK_TRY(put(g, nm, P->attn.A[i], HK_SHAPE(r, C)));
            snprintf(nm, sizeof nm, "param.l%ld.lora_B_%s", l, pname[i]);
            HK_TRY(put(g, nm, P->attn.B[i], HK_SHAPE(C, r)));
        }
        struct {
            const char *n;
            double *p;
            long d0, d1;
        } fr[] = {{"ln1_weight", P->ln1_w, C, 0}, {"ln1_bias", P->ln1_b, C, 0}, {"W1", P->W1, F, C},
                  {"b1", P->b1, F, 0},           {"W2", P->W2, C, F},         {"b2", P->b2, C, 0},
                  {"ln2_weight", P->ln2_w, C, 0}, {"ln2_bias", P->ln2_b, C, 0}};
        for (size_t k = 0; k < sizeof fr / sizeof fr[0]; k++) {
            snprintf(nm, sizeof nm, "param.l%ld.%s", l, fr[k].n);
            if (fr[k].d1) HK_TRY(put(g, nm, fr[k].p, HK_SHAPE(fr[k].d0, fr[k].d1)));
            else HK_TRY(put(g, nm, fr[k].p, HK_SHAPE(fr[k].d0)));
        }
    }
    HK_TRY(put(g, "param.Wc", s->Wc, HK_SHAPE(a->K, C)));
    return put(g, "param.bc", s->bc, HK_SHAPE(a->K));
}

static int put_masks(hk_case *g, const char *cname, hk_stack *s, const tr_arg *a, int pass)
{
    const long B = a->B, T = a->T, C = a->C, NH = a->NH, BTC = B * T * C, LOG = B * NH * T * T;
    const hk_framework *fw = &s->fw;
    char nm[64];
    if (fw->site[HK_POS_INPUT].p > 0) {
        snprintf(nm, sizeof nm, "mask.pass%d.input", pass + 1);
        HK_TRY(put_mask(g, cname, nm, s->m_input[pass], HK_SHAPE(B, T, C)));
    }
    for (long l = 0; l < a->L; l++) {
        if (fw->site[HK_POS_LORA].p > 0) {
            snprintf(nm, sizeof nm, "mask.pass%d.l%ld.lora", pass + 1, l);
            HK_TRY(put_mask(g, cname, nm, s->m_lora[pass] + l * BTC, HK_SHAPE(B, T, C)));
        }
        if (fw->site[HK_POS_LOGITS].p > 0) {
            snprintf(nm, sizeof nm, "mask.pass%d.l%ld.logits", pass + 1, l);
            HK_TRY(put_mask(g, cname, nm, s->m_logits[pass] + l * LOG, HK_SHAPE(B, NH, T, T)));
        }
        if (fw->site[HK_POS_WEIGHTS].p > 0) {
            snprintf(nm, sizeof nm, "mask.pass%d.l%ld.weights", pass + 1, l);
            HK_TRY(put_mask(g, cname, nm, s->m_weights[pass] + l * LOG, HK_SHAPE(B, NH, T, T)));
        }
        if (fw->site[HK_POS_HIDDEN].p > 0) {
            snprintf(nm, sizeof nm, "mask.pass%d.l%ld.hidden", pass + 1, l);
            HK_TRY(put_mask(g, cname, nm, s->m_hidden[pass] + l * BTC, HK_SHAPE(B, T, C)));
        }
    }
    if (fw->site[HK_POS_OUTPUT].p > 0) {
        snprintf(nm, sizeof nm, "mask.pass%d.output", pass + 1);
        HK_TRY(put_mask(g, cname, nm, s->m_output[pass], HK_SHAPE(B, C)));
    }
    return HK_OK;
}

/* ceil(max |g|) over the finite logits of every block and pass that ran. */
static double logit_range(const hk_stack *s, int passes)
{
    const long n = s->enc.attn.B * s->enc.attn.NH * s->enc.attn.T * s->enc.attn.T;
    double R = 0;
    for (int p = 0; p < passes; p++)
        for (long l = 0; l < s->L; l++) R = hk_case_logit_range(s->cache[p][l].attn.g_pre, n, R);
    return R;
}

/* init=scaled: the attention op's rule (golden/README.md, "Initialisation at
 * width") for every block, drawn after hk_stack_init's legacy values: x of
 * unit variance, frozen weights of variance 1/fan_in (q, k: 2/C, logit std
 * 2), LoRA A +-1/sqrt(C) and B sized for a LoRA term half the frozen one,
 * biases +-0.1, head +-sqrt(3/C). */
static int scaled_init(hk_stack *s, const tr_arg *a, gsl_rng *rng)
{
    const double C = (double)a->C, F = (double)a->F, lstd = 2.0, ratio = 0.5, alpha = 2.0 * (double)a->r;
    const double v[HK_ATTN_NPROJ] = {lstd, lstd, 1.0, 1.0};
    const long ldB = a->r;
    for (long l = 0; l < a->L; l++) {
        hk_enc_params *P = &s->P[l];
        for (int i = 0; i < HK_ATTN_NPROJ; i++) {
            double w = sqrt(3.0 * v[i] / C), bb = 3.0 * ratio * sqrt((double)a->r * v[i]) / alpha;
            HK_TRY(hk_rng_fill_uniform(P->attn.W[i], a->C * a->C, -w, w, rng));
            HK_TRY(hk_rng_fill_uniform(P->attn.b[i], a->C, -0.1, 0.1, rng));
            if (!(a->lora & HK_ATTN_LORA_BIT(i))) continue;
            HK_TRY(hk_rng_fill_uniform(P->attn.A[i], a->r * a->C, -1.0 / sqrt(C), 1.0 / sqrt(C), rng));
            HK_TRY(hk_rng_fill_uniform(P->attn.B[i], a->C * ldB, -bb, bb, rng));
        }
        HK_TRY(hk_rng_fill_uniform(P->W1, a->F * a->C, -sqrt(3.0 / C), sqrt(3.0 / C), rng));
        HK_TRY(hk_rng_fill_uniform(P->b1, a->F, -0.1, 0.1, rng));
        HK_TRY(hk_rng_fill_uniform(P->W2, a->C * a->F, -sqrt(3.0 / F), sqrt(3.0 / F), rng));
        HK_TRY(hk_rng_fill_uniform(P->b2, a->C, -0.1, 0.1, rng));
    }
    HK_TRY(hk_rng_fill_uniform(s->Wc, a->K * a->C, -sqrt(3.0 / C), sqrt(3.0 / C), rng));
    return hk_rng_fill_uniform(s->x, a->B * a->T * a->C, -sqrt(3.0), sqrt(3.0), rng);
}

static int run_case(hk_case *g, hk_stack *s, const tr_arg *a, const hk_framework *fw)
{
    const long B = a->B, T = a->T, C = a->C, K = a->K, r = a->r;
    const char *cname = a->preset;
    HK_TRY(hk_stack_init(s, hk_case_rng(g)));
    if (a->init) HK_TRY(scaled_init(s, a, hk_case_rng(g)));
    HK_TRY(put_params(g, s, a));
    HK_TRY(put(g, "in.x", s->x, HK_SHAPE(B, T, C)));
    if (a->regression) {
        HK_TRY(put(g, "in.targets", s->targets, HK_SHAPE(B)));
    } else {
        int64_t *lab = hk_case_int(g, "in.labels", HK_SHAPE(B));
        if (!lab) return HK_ENOMEM;
        for (long b = 0; b < B; b++) {
            if (hk_case_is_given(g, lab)) {
                HK_REQUIRE(lab[b] >= 0 && lab[b] < K, HK_EDOM, "in.labels[%ld] = %lld is not a class in [0, K=%ld)", b,
                           (long long)lab[b], K);
                s->labels[b] = (long)lab[b];
            }
            lab[b] = s->labels[b];
        }
    }
    long allmasked = 0;
    for (int p = 0; p < fw->passes; p++) {
        if (p == 1 && fw->second_clean) break; /* the inference pass has no masks */
        HK_TRY(hk_stack_sample_masks(s, p, hk_case_rng(g)));
        HK_TRY(put_masks(g, cname, s, a, p));
        for (long l = 0; l < a->L && fw->site[HK_POS_LOGITS].p > 0; l++)
            allmasked += hk_case_allmasked_rows(s->m_logits[p] + l * B * a->NH * T * T, NULL, B, a->NH, T);
    }
    HK_REQUIRE(a->rate <= 0 || allmasked > 0, HK_EDOM, "%s: high-p case without an all-masked row: another seed",
               cname);
    double *dt = hk_case_in(g, "in.d_total", 0, NULL);
    if (!dt) return HK_ENOMEM;
    if (!hk_case_is_given(g, dt)) *dt = 0.75; /* not 1: a backend that ignores d_total fails */
    record_cfg(g, a, fw);
    double nblock = (double)(2 * C + r + C / a->NH + 3 * T + C + 16 + 4 * C + 12 + C + a->F + 12);
    double nf = (double)a->L * nblock + 2 + (double)(C + 1) + (double)(3 * K + 12);
    const char *note = "L x block chain (attention 2C + r + D + 3T + C + 16 + R, encoder 4C + 24 + C + F) + cutoff / "
                       "output dropout 2 + head C + 1 + loss 3K + 12; S = |ref|, for consistency and total the sum of the "
                       "loss's |terms| (hk_case_cons_bounds)";
    const char *gnote = "twice the forward chain + B*T (sum over tokens) + 1 (times d_total); S = max|ref|";
    double *tot = hk_case_out(g, "out.total", 0, NULL, 2, nf, 0, note);
    double *task = hk_case_out(g, "out.task", 0, NULL, 2, nf, 0, note);
    double *cons = fw->passes == 2 ? hk_case_out(g, "out.consistency", 0, NULL, 2, nf, 0, note) : NULL;
    double *gr[64];
    int ng = 0;
    char nm[64];
    for (long l = 0; l < a->L; l++)
        for (int i = 0; i < HK_ATTN_NPROJ; i++) {
            if (!(a->lora & HK_ATTN_LORA_BIT(i))) continue;
            snprintf(nm, sizeof nm, "grad.l%ld.lora_A_%s", l, pname[i]);
            gr[ng++] = hk_case_out(g, nm, HK_SHAPE(r, C), 2, 2 * nf + B * T + 1, 0, gnote);
            snprintf(nm, sizeof nm, "grad.l%ld.lora_B_%s", l, pname[i]);
            gr[ng++] = hk_case_out(g, nm, HK_SHAPE(C, r), 2, 2 * nf + B * T + 1, 0, gnote);
        }
    if (!tot || !task || (fw->passes == 2 && !cons)) return HK_ENOMEM;
    hk_model m;
    HK_TRY(hk_stack_model(s, &m));
    double *work = hk_case_scratch(g, hk_train_step_work_size(&m));
    if (!work) return HK_ENOMEM;
    hk_step_result res;
    HK_TRY(hk_train_step(&res, fw, &m, s->labels, s->targets, work));
    *tot = res.total, *task = res.task;
    if (cons) {
        /* Two nearby passes: the loss is small while its terms are not (a KL
         * of log-probabilities ~1 apart by ~0.01), so S is the sum of |terms|
         * (hk_case_cons_bounds on the passes' outputs, as framework_loss). */
        const long N = B, W = a->regression ? C : K;
        const double *o1 = work, *o2 = work + N * K, *r1 = work + 4 * N * K, *r2 = r1 + N * C;
        double Sl = 0, Sg = 0, Rc = 0;
        hk_case_cons_bounds(fw->loss, a->regression ? r1 : o1, a->regression ? r2 : o2, N, W, &Sl, &Sg, &Rc);
        *cons = res.consistency;
        hk_case_set_scale(g, "out.consistency", Sl / (double)N);
        hk_case_set_scale(g, "out.total", fabs(res.task) + fw->weight * Sl / (double)N);
    }
    double R = logit_range(s, fw->passes);
    hk_case_add_terms(g, "out.", R * (double)a->L);
    hk_case_add_terms(g, "grad.", 2 * R * (double)a->L);
    /* The step back-propagates d(total) = 1; the golden convention is d_total * total. */
    int k = 0;
    for (long l = 0; l < a->L; l++)
        for (int i = 0; i < HK_ATTN_NPROJ; i++) {
            if (!(a->lora & HK_ATTN_LORA_BIT(i))) continue;
            const double *ga = s->G[l].attn.A[i], *gb = s->G[l].attn.B[i];
            for (long j = 0; j < r * C; j++) gr[k][j] = *dt * ga[j];
            for (long j = 0; j < C * r; j++) gr[k + 1][j] = *dt * gb[j];
            k += 2;
        }
    return HK_OK;
}

/* The framework of the case: the preset, the case's overrides, then the
 * fields set by name; validated (the framework's own messages). */
static int case_framework(const tr_arg *a, hk_framework *fw)
{
    HK_TRY(hk_preset_get(fw, a->preset));
    for (int p = 0; p < HK_POS_COUNT && a->rate > 0; p++)
        if (fw->site[p].p > 0) fw->site[p].p = a->rate;
    if (a->regression) fw->task = HK_TASK_REGRESSION, fw->loss = HK_CONS_MSE, fw->weight = 0.5;
    if (a->input_p > 0) fw->site[HK_POS_INPUT] = (hk_fw_site){a->input_p, HK_PAT_SPAN, HK_RESCALE_NONE};
    if (a->output_p > 0) fw->site[HK_POS_OUTPUT] = (hk_fw_site){a->output_p, HK_PAT_ELEMENT, HK_RESCALE_INVERTED};
    for (int i = 0; i < a->nfw; i++) HK_TRY(hk_framework_set(fw, a->fw_key[i], a->fw_val[i]));
    return hk_framework_validate(fw);
}

static int build_tr(hk_case *g, const void *arg)
{
    const tr_arg *a = arg;
    hk_framework fw;
    HK_TRY(case_framework(a, &fw));
    hk_enc_config ec = {{a->B, a->T, a->C, a->NH, a->lora, a->r, a->r, 2.0 * (double)a->r, 0.0}, a->F, 1e-5,
                        HK_GELU_ERF};
    hk_stack s;
    HK_TRY(hk_stack_alloc(&s, &ec, a->L, a->K, &fw));
    int st = run_case(g, &s, a, &fw);
    hk_stack_free(&s);
    return st;
}

#define SRC_TR                                                                                                         \
    "one training step (ref/train.h hk_train_step on ref/stack.h): 2403.00812 Sec. 3.2-3.3, Fig. 3; preset: hkref "  \
    "presets"
/* A framework field by name ("logits.p", "loss", ...): checked against a
 * fresh framework now (so a typo fails at parse time), applied in build. */
static int extra_tr(void *arg, const char *key, const char *value)
{
    tr_arg *a = arg;
    hk_framework probe;
    hk_framework_init(&probe);
    HK_TRY(hk_framework_set(&probe, key, value));
    HK_REQUIRE(a->nfw < TR_MAX_FW, HK_EINVAL, "train_step: at most %d framework fields", TR_MAX_FW);
    HK_REQUIRE(strlen(key) < sizeof a->fw_key[0] && strlen(value) < sizeof a->fw_val[0], HK_EINVAL,
               "train_step: framework field %s=%s is too long", key, value);
    snprintf(a->fw_key[a->nfw], sizeof a->fw_key[0], "%s", key);
    snprintf(a->fw_val[a->nfw], sizeof a->fw_val[0], "%s", value);
    a->nfw++;
    return HK_OK;
}

static int check_tr(void *arg)
{
    const tr_arg *a = arg;
    hk_framework fw;
    HK_TRY(case_framework(a, &fw));
    HK_REQUIRE(a->C % a->NH == 0, HK_ESHAPE, "train_step: C=%ld is not divisible by NH=%ld heads", a->C, a->NH);
    HK_REQUIRE(a->lora != 0, HK_EINVAL, "train_step: the trained parameters are LoRA factors: lora must not be none");
    HK_REQUIRE(!a->regression || a->K == 1, HK_EINVAL, "train_step: regression has one output (K = 1)");
    HK_REQUIRE(a->regression || a->K >= 2, HK_EINVAL, "train_step: classification needs K >= 2 classes");
    return HK_OK;
}

static const char *const tr_inits[] = {"legacy", "scaled", NULL};
#define KV (HK_ATTN_LORA_BIT(HK_ATTN_K) | HK_ATTN_LORA_BIT(HK_ATTN_V))
static const tr_arg tr_defaults = {.preset = "hiddenkey", .L = 1, .B = 2, .T = 5, .C = 6, .NH = 2, .r = 2, .F = 8,
                                   .K = 3, .lora = KV, .init = 1};
static const hk_golden_param tr_params[] = {
    HK_P_STR(tr_arg, preset, "preset", "a preset of hkref presets (the framework before overrides)"),
    HK_P_INT(tr_arg, L, "L", 1, 64, "encoder blocks"),
    HK_P_INT(tr_arg, B, "B", 1, 4096, "batch"),
    HK_P_INT(tr_arg, T, "T", 1, 4096, "tokens"),
    HK_P_INT(tr_arg, C, "C", 1, 16384, "model width"),
    HK_P_INT(tr_arg, NH, "NH", 1, 16384, "heads"),
    HK_P_INT(tr_arg, r, "r", 1, 16384, "LoRA rank (alpha = 2 r)"),
    HK_P_INT(tr_arg, F, "F", 1, 1 << 16, "FFN width"),
    HK_P_INT(tr_arg, K, "K", 1, 1 << 16, "classes (regression: 1)"),
    HK_P_LORA(tr_arg, lora, "lora", "the adapted projections"),
    HK_P_INT(tr_arg, regression, "regression", 0, 1, "1: regression task, mse consistency on rep, weight 0.5"),
    HK_P_RATE(tr_arg, input_p, "input_p", "> 0: span Cutoff on the input at this rate"),
    HK_P_RATE(tr_arg, output_p, "output_p", "> 0: output dropout at this rate"),
    HK_P_RATE(tr_arg, rate, "rate", "> 0: every active position of the preset at this rate (needs all-masked rows)"),
    HK_P_ENUM(tr_arg, init, "init", tr_inits, "legacy (hk_stack_init) or scaled"),
};
static const hk_golden_op op_tr = {"train_step", SRC_TR, sizeof(tr_arg), &tr_defaults, tr_params,
                                   HK_NPARAMS(tr_params), extra_tr,
                                   "and any framework field by name: SITE.p, SITE.pattern, SITE.rescale (SITE: lora, "
                                   "input, logits, weights, hidden, output), loss, weight, passes, second_clean, "
                                   "task_both, detach_second, task (hkref presets NAME shows them)",
                                   check_tr, NULL, build_tr};

#define TLEG "init=legacy,"
static const hk_golden_case cases[] = {
    {&op_tr, "train_step_lora_2x5_c6_l1", 1201, TLEG "preset=lora,L=1,B=2,T=5,C=6,NH=2,r=2,F=8,K=3,lora=kv"},
    {&op_tr, "train_step_dropkey_2x5_c6_l1", 1202, TLEG "preset=dropkey,L=1,B=2,T=5,C=6,NH=2,r=2,F=8,K=3,lora=kv"},
    {&op_tr, "train_step_dropattention_2x5_c6_l1", 1203,
     TLEG "preset=dropattention,L=1,B=2,T=5,C=6,NH=2,r=2,F=8,K=3,lora=kv"},
    {&op_tr, "train_step_hiddencut_2x6_c4_l2", 1204, TLEG "preset=hiddencut,L=2,B=2,T=6,C=4,NH=2,r=2,F=6,K=3,lora=kv"},
    {&op_tr, "train_step_rdrop_2x5_c6_l1", 1205, TLEG "preset=rdrop,L=1,B=2,T=5,C=6,NH=2,r=2,F=8,K=3,lora=kv"},
    {&op_tr, "train_step_hiddenkey-_2x5_c6_l1", 1206, TLEG "preset=hiddenkey-,L=1,B=2,T=5,C=6,NH=2,r=2,F=8,K=3,lora=kv"},
    {&op_tr, "train_step_hiddenkey_2x5_c6_l1", 12070, TLEG "preset=hiddenkey,L=1,B=2,T=5,C=6,NH=2,r=2,F=8,K=3,lora=kv"},
    {&op_tr, "train_step_hiddenkey_lora_qkvo_1x6_c4_l2", 12089,
     TLEG "preset=hiddenkey,L=2,B=1,T=6,C=4,NH=2,r=1,F=6,K=2,lora=qkvo"},
    {&op_tr, "train_step_hiddenkey_p0.5_allmasked_2x4_c6_l1", 1217,
     TLEG "preset=hiddenkey,L=1,B=2,T=4,C=6,NH=2,r=2,F=8,K=3,lora=kv,rate=0.5"},
    {&op_tr, "train_step_rdrop_regression_cutoff_outdrop_3x3_c4_l1", 12090,
     TLEG "preset=rdrop,L=1,B=3,T=3,C=4,NH=2,r=1,F=6,K=1,lora=kv,regression=1,input_p=0.25,output_p=0.25"},
    /* the tile tier: HiddenKey's column DropKey and a normalized DropAttention across 64-key tiles */
    {&op_tr, "train_step_tile_hiddenkey_2x65_c36_l1", 1231, "preset=hiddenkey,L=1,B=2,T=65,C=36,NH=3,r=4,F=72,K=3,lora=kv"},
    {&op_tr, "train_step_tile_dropattention_2x65_c36_l1", 1232,
     "preset=dropattention,L=1,B=2,T=65,C=36,NH=3,r=4,F=72,K=3,lora=kv,weights.rescale=normalized"},
};

const hk_golden_case *hk_golden_train(size_t *n)
{
    *n = sizeof cases / sizeof cases[0];
    return cases;
}
