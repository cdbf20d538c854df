/* hkref — plain scalar double reference: the unified dropout framework of
 * 2403.00812 §3.2 (dropping position × structural pattern × compensation)
 * and its named presets (§3.3 HiddenKey and the methods it unifies).
 *
 * A configuration is data only; hk_framework_validate says whether it is a
 * combination the reference can run, and if not, why (HK_EDOM / HK_EINVAL,
 * the message naming the field and the reason).
 *
 * Positions (where the mask applies; p = 0 = inactive):
 *   lora     the LoRA input x (loralib/peft dropout; ref/lora.h): element, 1/(1-p)
 *   input    the embeddings, Cutoff (ref/hiddencut.h): element/column/span
 *   logits   attention logits before softmax, DropKey (Eq. 3): element/column
 *   weights  attention weights after softmax, DropAttention (Eq. 1-2): element/column,
 *            rescale inverted (classic) or normalized (NoGrad row sum)
 *   hidden   FFN output before residual+LayerNorm, HiddenCut: element/column/span/
 *            span_importance
 *   output   the last block's output, standard dropout: element/column/span
 * Rescale (per position): none, inverted (×1/(1-p)), normalized (divide by
 * the NoGrad row sum, Eq. 2: weights only).
 * Loss compensation: none or one of ref/consistency.h, weight α, two passes.
 *
 * Per-pass dropout: with second_sites = 1, pass 2 uses its own sites site2[]
 * (pass 1 keeps site[]); otherwise both passes use site[] with independently
 * sampled masks (second_clean = 1: pass 2 drops nothing).  HiddenCut's
 * official objective needs it: standard dropout on pass 1, the cut on pass 2
 * (SALT-NLP/HiddenCut transformers/trainer.py, modeling_bert.py BertOutput).
 *
 * Gradient choices for the two-pass losses (documented in PAPER_NOTES.md):
 *   task_both = 0  task loss on pass 1 only (the paper's Fig. 3: "backprop on
 *                  one of the two branches");  1: ½(task1 + task2) (R-Drop code);
 *               2  task1 + task2 (HiddenCut code: loss = CE1 + aug_ce_loss·CE2,
 *                  aug_ce_loss = 1 in its run_glue_hidden_cutoff.sh).
 *   detach_second = 1  P2 is a constant in the consistency loss: ∂L_cons/∂θ flows
 *                  through pass 1 only;  0: through both passes.
 *   With task_both = 0 and detach_second = 1, pass 2 needs no backward at all
 *   (HiddenKey's ~50% extra cost, §6). */
#ifndef HK_FRAMEWORK_H
#define HK_FRAMEWORK_H

#include "consistency.h"

#include <stddef.h>

typedef enum { HK_POS_LORA = 0, HK_POS_INPUT, HK_POS_LOGITS, HK_POS_WEIGHTS, HK_POS_HIDDEN, HK_POS_OUTPUT, HK_POS_COUNT } hk_position;
typedef enum { HK_PAT_ELEMENT = 0, HK_PAT_COLUMN, HK_PAT_SPAN, HK_PAT_SPAN_IMPORTANCE, HK_PAT_COUNT } hk_pattern_kind;
typedef enum { HK_RESCALE_NONE = 0, HK_RESCALE_INVERTED, HK_RESCALE_NORMALIZED, HK_RESCALE_COUNT } hk_rescale;
typedef enum { HK_TASK_CLASSIFICATION = 0, HK_TASK_REGRESSION } hk_task;
/* hk_framework.task_both */
enum { HK_TASK_PASS1 = 0, HK_TASK_MEAN = 1, HK_TASK_SUM = 2 };

#define HK_LOSS_NONE (-1) /* hk_framework.loss: no consistency loss */

typedef struct {
    double p;                /* drop rate in [0,1); 0 = position inactive */
    hk_pattern_kind pattern;
    hk_rescale rescale;
} hk_fw_site;

typedef struct {
    hk_fw_site site[HK_POS_COUNT];
    int loss;                /* HK_LOSS_NONE or an hk_consistency */
    double weight;           /* α: total = task + α·consistency; 0 iff loss none */
    int passes;              /* 1, or 2 (required by, and only with, a loss) */
    int second_clean;        /* pass 2 runs without any dropout (inference pass) */
    int task_both;           /* HK_TASK_PASS1 (pass 1 only), HK_TASK_MEAN ½(t1 + t2),
                                HK_TASK_SUM t1 + t2 */
    int detach_second;       /* pass 2's output is a constant in the consistency loss */
    hk_task task;            /* classification: CE + divergences on the classifier
                                logits; regression: MSE, consistency "mse" on the
                                last layer's representation */
    int second_sites;        /* pass 2 uses site2[] instead of site[] */
    hk_fw_site site2[HK_POS_COUNT]; /* pass 2's sites when second_sites (else all p = 0) */
} hk_framework;

const char *hk_position_name(hk_position pos);     /* "lora", "input", ... */
const char *hk_pattern_kind_name(hk_pattern_kind k); /* "element", ..., "span_importance" */
const char *hk_rescale_name(hk_rescale r);         /* "none", "inverted", "normalized" */

/* All positions inactive, no loss, one pass, classification. */
void hk_framework_init(hk_framework *cfg);
/* HK_OK, or the first violated rule with a message naming the field and why. */
int hk_framework_validate(const hk_framework *cfg);
/* Scale applied to kept units at a position: 1/(1-p) for inverted, else 1
 * (pass 1's site; hk_fw_site_scale for any site: NaN for a NULL site). */
double hk_framework_scale(const hk_framework *cfg, hk_position pos);
double hk_fw_site_scale(const hk_fw_site *s);
/* The site that pass `pass` (0 or 1) uses at pos: site2[pos] for pass 1 when
 * second_sites, else site[pos] (second_clean is the caller's: it turns every
 * position of pass 2 off).  NULL cfg: NULL. */
const hk_fw_site *hk_framework_pass_site(const hk_framework *cfg, int pass, hk_position pos);
/* *view = *cfg with view->site = the sites of pass `pass` (for code that
 * reads site[] of one pass, e.g. the mask samplers).  cfg or view NULL:
 * nothing is written. */
void hk_framework_pass_view(const hk_framework *cfg, int pass, hk_framework *view);
/* One-line-per-field description into buf (always NUL-terminated). */
int hk_framework_describe(const hk_framework *cfg, char *buf, size_t size);

/* One field by name: "SITE.p" (a rate in [0,1)), "SITE.pattern" (element,
 * column, span, span_importance), "SITE.rescale" (none, inverted,
 * normalized) with SITE one of the position names; "pass2.SITE.FIELD" the
 * same for pass 2's own sites (site2, used when second_sites = 1); "loss"
 * (none or a consistency name), "weight" (>= 0), "passes" (1|2),
 * "second_clean", "second_sites", "detach_second" (0|1), "task_both"
 * (0|1|2), "task" (classification|regression).
 * Sets only the field (no validation of the whole configuration: call
 * hk_framework_validate after the last set).  HK_ENOTFOUND for an unknown
 * key, HK_EDOM/HK_EINVAL for a value that does not parse or is out of the
 * field's range; *cfg is unchanged on error. */
int hk_framework_set(hk_framework *cfg, const char *key, const char *value);

/* Presets: lora, dropkey, dropattention, hiddencut-official, hiddencut-clean,
 * hiddencut (legacy name of hiddencut-clean), rdrop, hiddenkey-, hiddenkey. */
size_t hk_preset_count(void);
/* i-th preset's name and source (NULL if out of range). */
const char *hk_preset_name(size_t i);
const char *hk_preset_source(size_t i);
/* Fills *cfg with the named preset; HK_ENOTFOUND naming the string otherwise. */
int hk_preset_get(hk_framework *cfg, const char *name);

#endif
