/* hkref — plain scalar double reference: the unified framework's
 * configuration, its validation rules, and the named presets (framework.h). */
#include "framework.h"

#include "error.h"
#include "rng.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static const char *const pos_names[HK_POS_COUNT] = {"lora", "input", "logits", "weights", "hidden", "output"};
static const char *const pat_names[HK_PAT_COUNT] = {"element", "column", "span", "span_importance"};
static const char *const rs_names[HK_RESCALE_COUNT] = {"none", "inverted", "normalized"};
static const char *const task_names[2] = {"classification", "regression"}; /* hk_task */

const char *hk_position_name(hk_position pos) { return pos >= 0 && pos < HK_POS_COUNT ? pos_names[pos] : NULL; }
const char *hk_pattern_kind_name(hk_pattern_kind k) { return k >= 0 && k < HK_PAT_COUNT ? pat_names[k] : NULL; }
const char *hk_rescale_name(hk_rescale r) { return r >= 0 && r < HK_RESCALE_COUNT ? rs_names[r] : NULL; }

void hk_framework_init(hk_framework *cfg)
{
    if (!cfg) return;
    memset(cfg, 0, sizeof *cfg);
    cfg->loss = HK_LOSS_NONE;
    cfg->passes = 1;
    cfg->task = HK_TASK_CLASSIFICATION;
}

/* Which patterns and rescales each position supports, and why not others.
 * which: "site" (pass 1, and pass 2 without second_sites) or "site2". */
static int validate_site(const char *which, hk_position pos, const hk_fw_site *s)
{
    const char *pn = pos_names[pos];
    char pre[32], what[48];
    snprintf(pre, sizeof pre, "%s[%s]", which, pn);
    snprintf(what, sizeof what, "%s.p", pre);
    HK_TRY(hk_check_rate(s->p, what));
    HK_REQUIRE(s->pattern >= 0 && s->pattern < HK_PAT_COUNT, HK_EINVAL, "%s.pattern %d out of range", pre,
               (int)s->pattern);
    HK_REQUIRE(s->rescale >= 0 && s->rescale < HK_RESCALE_COUNT, HK_EINVAL, "%s.rescale %d out of range", pre,
               (int)s->rescale);
    if (s->p == 0.0) return HK_OK; /* inactive: pattern and rescale are ignored */
    const char *pat = pat_names[s->pattern], *rs = rs_names[s->rescale];
    if (s->pattern == HK_PAT_SPAN_IMPORTANCE && pos != HK_POS_HIDDEN)
        HK_ERROR(HK_EDOM, "%s.pattern span_importance: the importance sampler ranks tokens by the attention of the "
                          "same block, defined for the hidden position only", pre);
    if (s->rescale == HK_RESCALE_NORMALIZED && pos != HK_POS_WEIGHTS)
        HK_ERROR(HK_EDOM, "%s.rescale normalized: dividing by the row sum (Eq. 2) needs rows that sum to 1, "
                          "which only the attention weights have", pre);
    switch (pos) {
    case HK_POS_LORA:
        if (s->pattern != HK_PAT_ELEMENT || s->rescale != HK_RESCALE_INVERTED)
            HK_ERROR(HK_EDOM, "%s %s/%s: LoRA dropout (loralib/peft, ref/lora.h) is element-wise with 1/(1-p)",
                     pre, pat, rs);
        break;
    case HK_POS_LOGITS:
        if (s->pattern == HK_PAT_SPAN)
            HK_ERROR(HK_EDOM, "%s.pattern span: attention masks are element or column (key) patterns", pre);
        if (s->rescale != HK_RESCALE_NONE)
            HK_ERROR(HK_EDOM, "%s.rescale %s: DropKey adds -inf to logits and softmax renormalizes (Eq. 3-5); "
                              "a rescale has nothing to compensate", pre, rs);
        break;
    case HK_POS_WEIGHTS:
        if (s->pattern == HK_PAT_SPAN)
            HK_ERROR(HK_EDOM, "%s.pattern span: attention masks are element or column (key) patterns", pre);
        if (s->rescale == HK_RESCALE_NONE)
            HK_ERROR(HK_EDOM, "%s.rescale none: zeroed weights no longer sum to 1; DropAttention "
                              "(ref/dropattention.h) compensates by 1/(1-p) (inverted) or by the row sum (normalized)",
                     pre);
        break;
    default:
        break;
    }
    return HK_OK;
}

/* The rules on one pass's set of sites (both attention positions in a block). */
static int validate_sites(const char *which, const hk_fw_site *site)
{
    for (int pos = 0; pos < HK_POS_COUNT; pos++) HK_TRY(validate_site(which, (hk_position)pos, &site[pos]));
    /* Both attention positions in one block: DropKey's -inf logits give
     * weights that are exactly 0, so the keys normalized DropAttention keeps
     * can all be DropKey's, and its divisor (Eq. 2) is then 0 -- with
     * positive probability at any p > 0 (found by stack.combinations.pairs). */
    if (site[HK_POS_LOGITS].p > 0.0 && site[HK_POS_WEIGHTS].p > 0.0 &&
        site[HK_POS_WEIGHTS].rescale == HK_RESCALE_NORMALIZED)
        HK_ERROR(HK_EDOM, "%s[weights].rescale normalized with %s[logits] active: DropKey zeroes weights exactly, "
                          "so the kept weights' row sum (Eq. 2) can be 0; use rescale inverted, or one attention position",
                 which, which);
    return HK_OK;
}

int hk_framework_validate(const hk_framework *cfg)
{
    HK_REQUIRE_PTR(cfg);
    HK_TRY(validate_sites("site", cfg->site));
    HK_REQUIRE(cfg->second_sites == 0 || cfg->second_sites == 1, HK_EINVAL, "second_sites must be 0 or 1 (got %d)",
               cfg->second_sites);
    HK_REQUIRE(cfg->task_both >= HK_TASK_PASS1 && cfg->task_both <= HK_TASK_SUM, HK_EINVAL,
               "task_both must be 0 (pass 1), 1 (mean of both) or 2 (sum of both) (got %d)", cfg->task_both);
    if (cfg->second_sites) {
        HK_TRY(validate_sites("site2", cfg->site2));
    } else {
        for (int pos = 0; pos < HK_POS_COUNT; pos++)
            HK_REQUIRE(cfg->site2[pos].p == 0.0, HK_EDOM, "site2[%s].p = %g with second_sites 0: pass 2 would "
                                                          "silently use pass 1's sites; set second_sites 1",
                       pos_names[pos], cfg->site2[pos].p);
    }
    HK_REQUIRE(cfg->task == HK_TASK_CLASSIFICATION || cfg->task == HK_TASK_REGRESSION, HK_EINVAL,
               "task %d is neither classification nor regression", (int)cfg->task);
    HK_REQUIRE(cfg->passes == 1 || cfg->passes == 2, HK_EINVAL, "passes must be 1 or 2 (got %d)", cfg->passes);
    HK_REQUIRE(isfinite(cfg->weight) && cfg->weight >= 0.0, HK_EDOM, "weight must be finite and >= 0 (got %g)",
               cfg->weight);
    if (cfg->loss == HK_LOSS_NONE) {
        HK_REQUIRE(cfg->weight == 0.0, HK_EDOM, "weight %g without a loss: set loss or weight 0", cfg->weight);
        HK_REQUIRE(cfg->passes == 1, HK_EDOM, "passes 2 without a loss: a second pass is only compared by a "
                                              "consistency loss");
        HK_REQUIRE(!cfg->second_sites, HK_EDOM, "second_sites 1 without a loss: pass 2 only runs with passes 2");
        return HK_OK;
    }
    HK_REQUIRE(cfg->loss >= 0 && cfg->loss < HK_CONS_COUNT, HK_EINVAL, "loss %d out of range", cfg->loss);
    const char *ln = hk_consistency_name((hk_consistency)cfg->loss);
    HK_REQUIRE(cfg->passes == 2, HK_EDOM, "loss %s needs passes 2: a consistency loss compares two forward passes", ln);
    HK_REQUIRE(cfg->weight > 0.0, HK_EDOM, "loss %s with weight 0 does nothing: set loss none", ln);
    if (cfg->task == HK_TASK_REGRESSION)
        HK_REQUIRE(cfg->loss == HK_CONS_MSE, HK_EDOM, "loss %s on a regression task: divergences need distributions; "
                                                       "regression compares representations with mse (R-Drop)", ln);
    else
        HK_REQUIRE(cfg->loss != HK_CONS_MSE, HK_EDOM, "loss mse on a classification task: compare the classifier's "
                                                       "distributions with a divergence");
    if (cfg->loss == HK_CONS_JS_EQ12)
        HK_REQUIRE(cfg->second_clean, HK_EDOM, "loss js_eq12 needs second_clean 1: Eq. 12's Pbar is the inference "
                                               "(no-dropout) distribution");
    HK_REQUIRE(!(cfg->second_sites && cfg->second_clean), HK_EDOM, "second_sites 1 with second_clean 1: pass 2 "
                                                                   "either has its own sites or none; pick one");
    int active = 0;
    for (int pos = 0; pos < HK_POS_COUNT; pos++)
        active += cfg->site[pos].p > 0.0 || (cfg->second_sites && cfg->site2[pos].p > 0.0);
    HK_REQUIRE(active > 0, HK_EDOM, "loss %s with no active dropout position: both passes would be identical", ln);
    return HK_OK;
}

double hk_fw_site_scale(const hk_fw_site *s)
{
    if (!s) return NAN; /* no site: a NaN that poisons every product it enters, never a plausible scale */
    return s->rescale == HK_RESCALE_INVERTED ? 1.0 / (1.0 - s->p) : 1.0;
}

double hk_framework_scale(const hk_framework *cfg, hk_position pos) { return hk_fw_site_scale(&cfg->site[pos]); }

const hk_fw_site *hk_framework_pass_site(const hk_framework *cfg, int pass, hk_position pos)
{
    if (!cfg) return NULL;
    return pass == 1 && cfg->second_sites ? &cfg->site2[pos] : &cfg->site[pos];
}

void hk_framework_pass_view(const hk_framework *cfg, int pass, hk_framework *view)
{
    if (!cfg || !view) return;
    *view = *cfg;
    if (pass == 1 && cfg->second_sites) memcpy(view->site, cfg->site2, sizeof view->site);
}

int hk_framework_describe(const hk_framework *cfg, char *buf, size_t size)
{
    HK_REQUIRE_PTR(cfg);
    HK_REQUIRE_PTR(buf);
    HK_REQUIRE(size > 0, HK_EINVAL, "size must be > 0");
    size_t used = 0;
    buf[0] = '\0';
#define PUT(...)                                                                                 \
    do {                                                                                         \
        int w_ = snprintf(buf + used, size - used, __VA_ARGS__);                                 \
        if (w_ < 0 || (size_t)w_ >= size - used) HK_ERROR(HK_ENOMEM, "describe: buffer of %zu too small", size); \
        used += (size_t)w_;                                                                      \
    } while (0)
    for (int pos = 0; pos < HK_POS_COUNT; pos++) {
        const hk_fw_site *s = &cfg->site[pos];
        if (s->p > 0.0)
            PUT("  %-8s p=%.2f pattern=%s rescale=%s\n", pos_names[pos], s->p, hk_pattern_kind_name(s->pattern),
                hk_rescale_name(s->rescale));
        else
            PUT("  %-8s off\n", pos_names[pos]);
    }
    for (int pos = 0; pos < HK_POS_COUNT && cfg->second_sites; pos++) { /* pass 2's own sites */
        const hk_fw_site *s = &cfg->site2[pos];
        if (s->p > 0.0)
            PUT("  pass2.%-8s p=%.2f pattern=%s rescale=%s\n", pos_names[pos], s->p, hk_pattern_kind_name(s->pattern),
                hk_rescale_name(s->rescale));
        else
            PUT("  pass2.%-8s off\n", pos_names[pos]);
    }
    PUT("  loss     %s weight=%.2f passes=%d second_clean=%d task_both=%d detach_second=%d task=%s%s\n",
        cfg->loss == HK_LOSS_NONE ? "none" : hk_consistency_name((hk_consistency)cfg->loss), cfg->weight, cfg->passes,
        cfg->second_clean, cfg->task_both, cfg->detach_second,
        task_names[cfg->task == HK_TASK_REGRESSION], cfg->second_sites ? " second_sites=1" : "");
#undef PUT
    return HK_OK;
}

/* ---- setting one field by name ---------------------------------------- */

static int lookup(const char *const *names, int n, const char *value, const char *key, int *out)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], value)) return *out = i, HK_OK;
    char list[128] = "";
    for (int i = 0; i < n; i++) {
        strncat(list, names[i], sizeof list - strlen(list) - 1);
        if (i + 1 < n) strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    HK_ERROR(HK_EDOM, "%s: unknown value '%s' (one of: %s)", key, value, list);
}

/* A whole-string decimal number, finite, in [lo, hi]. */
static int parse_num(const char *key, const char *value, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(value, &end);
    HK_REQUIRE(end != value && *end == '\0' && errno == 0 && isfinite(x), HK_EDOM, "%s: '%s' is not a finite number",
               key, value);
    HK_REQUIRE(x >= lo && x <= hi, HK_EDOM, "%s: %g outside [%g, %g]", key, x, lo, hi);
    *out = x;
    return HK_OK;
}

static int parse_flag(const char *key, const char *value, int *out)
{
    HK_REQUIRE(!strcmp(value, "0") || !strcmp(value, "1"), HK_EDOM, "%s: '%s' is not 0 or 1", key, value);
    *out = value[0] == '1';
    return HK_OK;
}

int hk_framework_set(hk_framework *cfg, const char *key, const char *value)
{
    HK_REQUIRE_PTR(cfg);
    HK_REQUIRE_PTR(key);
    HK_REQUIRE_PTR(value);
    int v;
    double x;
    hk_fw_site *sites = cfg->site;
    const char *skey = key; /* SITE.FIELD, after an optional "pass2." */
    if (!strncmp(key, "pass2.", 6)) sites = cfg->site2, skey = key + 6;
    const char *dot = strchr(skey, '.');
    HK_REQUIRE(dot || sites == cfg->site, HK_ENOTFOUND, "%s: expected pass2.SITE.FIELD", key);
    if (dot) {
        int pos = -1;
        for (int i = 0; i < HK_POS_COUNT; i++)
            if (strlen(pos_names[i]) == (size_t)(dot - skey) && !strncmp(pos_names[i], skey, (size_t)(dot - skey)))
                pos = i;
        HK_REQUIRE(pos >= 0, HK_ENOTFOUND, "%s: unknown position (lora, input, logits, weights, hidden, output)", key);
        hk_fw_site *s = &sites[pos];
        const char *f = dot + 1;
        if (!strcmp(f, "p")) {
            HK_TRY(parse_num(key, value, 0.0, 1.0, &x));
            HK_TRY(hk_check_rate(x, key));
            s->p = x;
        } else if (!strcmp(f, "pattern")) {
            HK_TRY(lookup(pat_names, HK_PAT_COUNT, value, key, &v));
            s->pattern = (hk_pattern_kind)v;
        } else if (!strcmp(f, "rescale")) {
            HK_TRY(lookup(rs_names, HK_RESCALE_COUNT, value, key, &v));
            s->rescale = (hk_rescale)v;
        } else
            HK_ERROR(HK_ENOTFOUND, "%s: unknown field '%s' (p, pattern, rescale)", key, f);
        return HK_OK;
    }
    if (!strcmp(key, "loss")) {
        if (!strcmp(value, "none")) return cfg->loss = HK_LOSS_NONE, HK_OK;
        hk_consistency k;
        HK_TRY(hk_consistency_parse(&k, value));
        cfg->loss = (int)k;
    } else if (!strcmp(key, "weight")) {
        HK_TRY(parse_num(key, value, 0.0, 1e6, &x));
        cfg->weight = x;
    } else if (!strcmp(key, "passes")) {
        HK_REQUIRE(!strcmp(value, "1") || !strcmp(value, "2"), HK_EDOM, "passes: '%s' is not 1 or 2", value);
        cfg->passes = value[0] - '0';
    } else if (!strcmp(key, "second_clean"))
        HK_TRY(parse_flag(key, value, &cfg->second_clean));
    else if (!strcmp(key, "second_sites"))
        HK_TRY(parse_flag(key, value, &cfg->second_sites));
    else if (!strcmp(key, "task_both")) {
        HK_REQUIRE(!strcmp(value, "0") || !strcmp(value, "1") || !strcmp(value, "2"), HK_EDOM,
                   "task_both: '%s' is not 0 (pass 1), 1 (mean of both) or 2 (sum of both)", value);
        cfg->task_both = value[0] - '0';
    }
    else if (!strcmp(key, "detach_second"))
        HK_TRY(parse_flag(key, value, &cfg->detach_second));
    else if (!strcmp(key, "task")) {
        HK_TRY(lookup(task_names, 2, value, key, &v));
        cfg->task = (hk_task)v;
    } else
        HK_ERROR(HK_ENOTFOUND, "unknown key '%s' (SITE.p, SITE.pattern, SITE.rescale, pass2.SITE.*, loss, weight, "
                               "passes, second_clean, second_sites, task_both, detach_second, task)", key);
    return HK_OK;
}

/* ---- presets ---------------------------------------------------------- */

/* Rates: p = 0.1 everywhere is a placeholder of this reference (the paper
 * sweeps p per dataset, Fig. 4); α = 1 likewise (R-Drop's scripts use
 * several values). Sources are PAPER_NOTES.md rows. */
typedef struct {
    const char *name, *source;
    void (*fill)(hk_framework *cfg);
} preset;

static void site(hk_framework *c, hk_position pos, hk_pattern_kind pat, hk_rescale rs)
{
    c->site[pos].p = 0.1;
    c->site[pos].pattern = pat;
    c->site[pos].rescale = rs;
}

static void two_pass(hk_framework *c, hk_consistency loss, int second_clean, int task_both, int detach_second)
{
    c->loss = (int)loss;
    c->weight = 1.0;
    c->passes = 2;
    c->second_clean = second_clean;
    c->task_both = task_both;
    c->detach_second = detach_second;
}

static void fill_lora(hk_framework *c) { site(c, HK_POS_LORA, HK_PAT_ELEMENT, HK_RESCALE_INVERTED); }
static void fill_dropkey(hk_framework *c) { site(c, HK_POS_LOGITS, HK_PAT_ELEMENT, HK_RESCALE_NONE); }
static void fill_dropattention(hk_framework *c) { site(c, HK_POS_WEIGHTS, HK_PAT_ELEMENT, HK_RESCALE_NORMALIZED); }
/* The legacy objective (the train_step_hiddencut-clean_* golden): the cut
 * on pass 1, which alone carries the CE; pass 2 clean; mixture JS. */
static void fill_hiddencut_clean(hk_framework *c)
{
    site(c, HK_POS_HIDDEN, HK_PAT_SPAN_IMPORTANCE, HK_RESCALE_NONE);
    two_pass(c, HK_CONS_JS_MIXTURE, 1, 0, 0);
}
/* SALT-NLP/HiddenCut, transformers/trainer.py _training_step_with_attn_span_cutoff:
 * loss = CE(ori) + aug_ce_loss·CE(cut) + aug_js_loss·js_div(p, q), both
 * passes in train mode and differentiated; modeling_bert.py BertOutput: the
 * FFN output gets standard dropout (nn.Dropout, hidden_dropout_prob) on the
 * ori pass and the importance span INSTEAD of it on the cut pass;
 * run_glue_hidden_cutoff.sh: aug_cutoff_ratio 0.1, aug_ce_loss = aug_js_loss = 1. */
static void fill_hiddencut_official(hk_framework *c)
{
    site(c, HK_POS_HIDDEN, HK_PAT_ELEMENT, HK_RESCALE_INVERTED);
    c->second_sites = 1;
    c->site2[HK_POS_HIDDEN] = (hk_fw_site){0.1, HK_PAT_SPAN_IMPORTANCE, HK_RESCALE_NONE};
    two_pass(c, HK_CONS_JS_MIXTURE, 0, HK_TASK_SUM, 0);
}
static void fill_rdrop(hk_framework *c)
{
    site(c, HK_POS_HIDDEN, HK_PAT_ELEMENT, HK_RESCALE_INVERTED);
    two_pass(c, HK_CONS_KL_BIDIR, 0, 1, 0);
}
static void fill_hiddenkey_minus(hk_framework *c)
{
    site(c, HK_POS_LOGITS, HK_PAT_COLUMN, HK_RESCALE_NONE);
    site(c, HK_POS_HIDDEN, HK_PAT_ELEMENT, HK_RESCALE_INVERTED);
}
static void fill_hiddenkey(hk_framework *c)
{
    fill_hiddenkey_minus(c);
    two_pass(c, HK_CONS_KL_BIDIR, 0, 0, 1);
}

static const preset presets[] = {
    {"lora", "loralib/peft: element dropout on the LoRA input, x(1-m)/(1-p) (HK §4.1 baseline)", fill_lora},
    {"dropkey", "DropKey (Li et al. 2023), HK Eq. 3: -inf on element-wise dropped logits, no rescale", fill_dropkey},
    {"dropattention", "DropAttention (Zehui et al. 2019), HK Eq. 1-2: element-wise weights, NoGrad normalized rescale",
     fill_dropattention},
    {"hiddencut-official", "HiddenCut (Chen et al. 2021) official objective (SALT-NLP/HiddenCut trainer.py "
                           "attn_span_cutoff): pass 1 standard dropout on the FFN output, pass 2 the importance span "
                           "there instead (zero, no rescale); CE1 + CE2 + mixture JS, both passes differentiated",
     fill_hiddencut_official},
    {"hiddencut-clean", "HiddenCut's importance span and mixture JS, but NOT its objective: the cut pass alone carries "
                        "the CE and is compared with a clean (no-dropout) pass", fill_hiddencut_clean},
    {"hiddencut", "legacy name of hiddencut-clean (kept for command lines and scripts that name it); HiddenCut's "
                  "official objective is hiddencut-official", fill_hiddencut_clean},
    {"rdrop", "R-Drop (Wu et al. 2021), HK Eq. 11: standard dropout, bidirectional KL, CE on both passes",
     fill_rdrop},
    {"hiddenkey-", "HK §4.2: column DropKey + element HiddenCut (1/(1-p), HK §3.1), no extra loss",
     fill_hiddenkey_minus},
    {"hiddenkey", "HK §3.3, Fig. 3: HiddenKey- + bidirectional KL (Eq. 11), two passes, backprop through one branch",
     fill_hiddenkey},
};

size_t hk_preset_count(void) { return sizeof presets / sizeof presets[0]; }
const char *hk_preset_name(size_t i) { return i < hk_preset_count() ? presets[i].name : NULL; }
const char *hk_preset_source(size_t i) { return i < hk_preset_count() ? presets[i].source : NULL; }

int hk_preset_get(hk_framework *cfg, const char *name)
{
    HK_REQUIRE_PTR(cfg);
    HK_REQUIRE_PTR(name);
    for (size_t i = 0; i < hk_preset_count(); i++)
        if (!strcmp(name, presets[i].name)) {
            hk_framework_init(cfg);
            presets[i].fill(cfg);
            return HK_OK;
        }
    HK_ERROR(HK_ENOTFOUND, "preset '%s' unknown (lora, dropkey, dropattention, hiddencut-official, "
                           "hiddencut-clean, hiddencut, rdrop, hiddenkey-, hiddenkey)", name);
}
