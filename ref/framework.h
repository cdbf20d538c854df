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
 * Gradient choices for the two-pass losses (documented in PAPER_NOTES.md):
 *   task_both = 0  task loss on pass 1 only (the paper's Fig. 3: "backprop on
 *                  one of the two branches");  1: ½(task1 + task2) (R-Drop code).
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
    int task_both;           /* task loss on both passes (averaged) or pass 1 only */
    int detach_second;       /* pass 2's output is a constant in the consistency loss */
    hk_task task;            /* classification: CE + divergences on the classifier
                                logits; regression: MSE, consistency "mse" on the
                                last layer's representation */
} hk_framework;

const char *hk_position_name(hk_position pos);     /* "lora", "input", ... */
const char *hk_pattern_kind_name(hk_pattern_kind k); /* "element", ..., "span_importance" */
const char *hk_rescale_name(hk_rescale r);         /* "none", "inverted", "normalized" */

/* All positions inactive, no loss, one pass, classification. */
void hk_framework_init(hk_framework *cfg);
/* HK_OK, or the first violated rule with a message naming the field and why. */
int hk_framework_validate(const hk_framework *cfg);
/* Scale applied to kept units at a position: 1/(1-p) for inverted, else 1. */
double hk_framework_scale(const hk_framework *cfg, hk_position pos);
/* One-line-per-field description into buf (always NUL-terminated). */
int hk_framework_describe(const hk_framework *cfg, char *buf, size_t size);

/* One field by name: "SITE.p" (a rate in [0,1)), "SITE.pattern" (element,
 * column, span, span_importance), "SITE.rescale" (none, inverted,
 * normalized) with SITE one of the position names; "loss" (none or a
 * consistency name), "weight" (>= 0), "passes" (1|2), "second_clean",
 * "task_both", "detach_second" (0|1), "task" (classification|regression).
 * Sets only the field (no validation of the whole configuration: call
 * hk_framework_validate after the last set).  HK_ENOTFOUND for an unknown
 * key, HK_EDOM/HK_EINVAL for a value that does not parse or is out of the
 * field's range; *cfg is unchanged on error. */
int hk_framework_set(hk_framework *cfg, const char *key, const char *value);

/* Presets: lora, dropkey, dropattention, hiddencut, rdrop, hiddenkey-, hiddenkey. */
size_t hk_preset_count(void);
/* i-th preset's name and source (NULL if out of range). */
const char *hk_preset_name(size_t i);
const char *hk_preset_source(size_t i);
/* Fills *cfg with the named preset; HK_ENOTFOUND naming the string otherwise. */
int hk_preset_get(hk_framework *cfg, const char *name);

#endif
