/* hkref — the mask draws of one stack pass (see stackmask.h). */
#include "stackmask.h"

#include "attnmask.h"
#include "error.h"
#include "hiddencut.h"
#include "rng.h"

/* The official span_importance sampler's fraction of the span drawn from the
 * most attended tokens (ref/hiddencut.h). */
static const double IMPORTANCE_FRACTION = 0.4;

int hk_stackmask_needs_importance(const hk_framework *fw)
{
    return fw->site[HK_POS_HIDDEN].p > 0 && fw->site[HK_POS_HIDDEN].pattern == HK_PAT_SPAN_IMPORTANCE;
}

/* HiddenCut's element pattern is one Bernoulli mask over (B,T,C): drawn by
 * the caller's sampler; column and span by ref/hiddencut.h. */
static int hidden_like(const hk_fw_site *st, uint8_t *mask, long B, long T, long C, hk_bernoulli_fn bern,
                       gsl_rng *r)
{
    if ((hk_hc_pattern)st->pattern == HK_HC_ELEMENT) return bern(mask, B * T * C, st->p, r);
    return hk_hiddencut_mask_sample(mask, (hk_hc_pattern)st->pattern, st->p, B, T, C, r);
}

static int attn_like(const hk_fw_site *st, uint8_t *mask, const uint8_t *pad, long B, long NH, long T, gsl_rng *r)
{
    return hk_attnmask_sample(mask, st->pattern == HK_PAT_COLUMN ? HK_PATTERN_COLUMN : HK_PATTERN_ELEMENT, st->p, pad,
                              B, NH, T, T, r);
}

int hk_stackmask_sample(const hk_stackmask *m, const hk_framework *fw, const hk_stackmask_shape *sh,
                        const uint8_t *pad, const double *imp, hk_bernoulli_fn bernoulli, gsl_rng *r)
{
    HK_REQUIRE_PTR(m);
    HK_REQUIRE_PTR(fw);
    HK_REQUIRE_PTR(sh);
    HK_REQUIRE(sh->L > 0 && sh->B > 0 && sh->T > 0 && sh->C > 0 && sh->NH > 0, HK_EINVAL,
               "stackmask shape (L=%ld, B=%ld, T=%ld, C=%ld, NH=%ld) must be positive", sh->L, sh->B, sh->T, sh->C,
               sh->NH);
    const hk_bernoulli_fn bern = bernoulli ? bernoulli : hk_mask_bernoulli;
    const long L = sh->L, B = sh->B, T = sh->T, C = sh->C, NH = sh->NH, BTC = B * T * C, LOG = B * NH * T * T;
    const hk_fw_site *in = &fw->site[HK_POS_INPUT], *out = &fw->site[HK_POS_OUTPUT], *lo = &fw->site[HK_POS_LORA];
    const hk_fw_site *lg = &fw->site[HK_POS_LOGITS], *wt = &fw->site[HK_POS_WEIGHTS], *hd = &fw->site[HK_POS_HIDDEN];
    HK_REQUIRE(!hk_stackmask_needs_importance(fw) || imp, HK_EINVAL,
               "span_importance HiddenCut needs the attention importance (imp is NULL)");
    if (in->p > 0) HK_TRY(hidden_like(in, m->input, B, T, C, bern, r));
    if (out->p > 0) HK_TRY(hidden_like(out, m->output, B, 1, C, bern, r));
    for (long l = 0; l < L; l++) {
        if (lo->p > 0) HK_TRY(bern(m->lora + l * BTC, BTC, lo->p, r));
        if (lg->p > 0) HK_TRY(attn_like(lg, m->logits + l * LOG, pad, B, NH, T, r));
        if (wt->p > 0) HK_TRY(attn_like(wt, m->weights + l * LOG, pad, B, NH, T, r));
        if (hd->p > 0)
            HK_TRY(hk_stackmask_needs_importance(fw)
                       ? hk_hiddencut_mask_sample_importance(m->hidden + l * BTC, imp + l * B * T, hd->p,
                                                             IMPORTANCE_FRACTION, B, T, C, r)
                       : hidden_like(hd, m->hidden + l * BTC, B, T, C, bern, r));
    }
    return HK_OK;
}
