/* hkref — finite-difference checks of HiddenCut / Cutoff / output dropout
 * (ref/hiddencut.h) for every pattern, with and without 1/(1-p), through the
 * hk_hidden_hook adapter the encoder block calls.  Masks are sampled once from
 * a fixed seed and then held fixed (they are inputs). */
#include "checks.h"

#include "ref/error.h"
#include "ref/hiddencut.h"
#include "ref/rng.h"

#include <math.h>

enum { HB = 2, HT = 5, HC = 3, HN = HB * HT * HC };

typedef struct {
    hk_hidden_hook hook;
    double x[HN], y[HN], dy[HN];
} hc_ctx;

static double hc_loss(void *p)
{
    hc_ctx *c = p;
    return c->hook.forward(c->hook.ctx, c->y, c->x, HB, HT, HC) ? NAN : hk_dot(c->y, c->dy, HN);
}

/* pat = HK_HC_COUNT: the official attention-importance span sampler, its
 * importance from a fixed (B,T) table (span start among the top 40%). */
static int hc_run(hk_check_result *res, hk_hc_pattern pat, int rescale)
{
    const double p = 0.4;
    hc_ctx c;
    uint8_t mask[HN];
    gsl_rng *r = hk_rng_new(41 + (unsigned long)pat);
    if (!r) return HK_ENOMEM;
    hk_rng_fill_uniform(c.x, HN, -2.0, 2.0, r);
    hk_rng_fill_uniform(c.dy, HN, -1.0, 1.0, r);
    static const double imp[HB * HT] = {0.3, 2.0, 0.1, 1.2, 0.8, 0.5, 0.4, 0.9, 3.0, 0.2};
    int s = pat == HK_HC_COUNT ? hk_hiddencut_mask_sample_importance(mask, imp, p, 0.4, HB, HT, HC, r)
                               : hk_hiddencut_mask_sample(mask, pat, p, HB, HT, HC, r);
    hk_rng_free(r);
    HK_TRY(s);
    long dropped = 0;
    for (int i = 0; i < HN; i++) dropped += mask[i];
    if (dropped == 0 || dropped == HN) /* the check would not see the mask */
        HK_ERROR(HK_EFAIL, "hiddencut check: mask drops %ld of %d units; pick another seed", dropped, HN);
    hk_hiddencut_ctx hctx = {mask, rescale ? 1.0 / (1.0 - p) : 1.0};
    HK_TRY(hk_hiddencut_hook(&c.hook, &hctx));
    double dx[HN] = {0};
    HK_TRY(c.hook.forward(c.hook.ctx, c.y, c.x, HB, HT, HC));
    HK_TRY(c.hook.backward(c.hook.ctx, dx, c.dy, c.x, HB, HT, HC));
    hk_gc_var v = {"dh", c.x, dx, HN};
    hk_gc_report rep;
    HK_TRY(hk_gradcheck(hc_loss, &c, &v, 1, NULL, &rep));
    hk_check_from_gc(res, &rep);
    return HK_OK;
}

static int hc_element(hk_check_result *res) { return hc_run(res, HK_HC_ELEMENT, 0); }
static int hc_element_rescale(hk_check_result *res) { return hc_run(res, HK_HC_ELEMENT, 1); }
static int hc_column(hk_check_result *res) { return hc_run(res, HK_HC_COLUMN, 0); }
static int hc_column_rescale(hk_check_result *res) { return hc_run(res, HK_HC_COLUMN, 1); }
static int hc_span(hk_check_result *res) { return hc_run(res, HK_HC_SPAN, 0); }
static int hc_span_rescale(hk_check_result *res) { return hc_run(res, HK_HC_SPAN, 1); }

static int hc_span_imp(hk_check_result *res) { return hc_run(res, HK_HC_COUNT, 0); }
static int hc_span_imp_rescale(hk_check_result *res) { return hc_run(res, HK_HC_COUNT, 1); }

static const hk_check checks[] = {
    {"gradcheck", "hiddencut.element", "HiddenCut element pattern, no rescale (official), via the hidden hook", hc_element,
     "HiddenCut, element pattern: backward matches finite differences"},
    {"gradcheck", "hiddencut.element.rescale", "element pattern with 1/(1-p) (vanilla dropout / output dropout)",
     hc_element_rescale,
     "HiddenCut, element pattern with 1/(1-p): backward matches finite differences"},
    {"gradcheck", "hiddencut.column", "column pattern (feature dim for every token; Cutoff feature)", hc_column,
     "HiddenCut, column pattern: backward matches finite differences"},
    {"gradcheck", "hiddencut.column.rescale", "column pattern with 1/(1-p)", hc_column_rescale,
     "HiddenCut, column pattern with 1/(1-p): backward matches finite differences"},
    {"gradcheck", "hiddencut.span", "span pattern (contiguous tokens; official HiddenCut, Cutoff token-span)", hc_span,
     "HiddenCut, span pattern: backward matches finite differences"},
    {"gradcheck", "hiddencut.span.rescale", "span pattern with 1/(1-p)", hc_span_rescale,
     "HiddenCut, span pattern with 1/(1-p): backward matches finite differences"},
    {"gradcheck", "hiddencut.span_importance", "official attention-importance span (start among top-40% tokens), "
                                               "no rescale", hc_span_imp,
     "HiddenCut, official attention-importance span: backward matches finite differences"},
    {"gradcheck", "hiddencut.span_importance.rescale", "importance span with 1/(1-p)", hc_span_imp_rescale,
     "HiddenCut, importance span with 1/(1-p): backward matches finite differences"},
};

const hk_check *hk_checks_hiddencut(size_t *n)
{
    *n = sizeof checks / sizeof checks[0];
    return checks;
}
