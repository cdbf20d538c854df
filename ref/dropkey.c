/* hkref — plain scalar double reference: DropKey (see dropkey.h).
 * Storage: logits and weights (B,NH,Tq,Tk) row-major, one softmax per
 * (b,h,q) row; mask (B,NH,Tq,Tk); pad (B,Tk). */
#include "dropkey.h"

#include "error.h"
#include "softmax.h"

#include <math.h>
#include <string.h>

static const char WHO[] = "dropkey";

static int check(const void *out, const void *in, const hk_dropkey_config *cfg, long B, long NH, long Tq, long Tk)
{
    HK_REQUIRE_PTR(cfg);
    HK_TRY(hk_attnmask_check_args(out, in, cfg->mask, cfg->policy, B, NH, Tq, Tk, WHO));
    HK_REQUIRE(cfg->form == HK_DROPKEY_NEGINF || cfg->form == HK_DROPKEY_FINITE, HK_EINVAL,
               "dropkey: form %d is not NEGINF or FINITE", (int)cfg->form);
    return HK_OK;
}

/* 1 if row `row` has no kept key (all-masked), after the policy check. */
static int row_allmasked(int *all, const hk_dropkey_config *cfg, long row, long NH, long Tq, long Tk)
{
    const long b = row / (NH * Tq);
    long kept;
    hk_attnmask_row_count(&kept, NULL, cfg->mask + row * Tk, cfg->pad ? cfg->pad + b * Tk : NULL, Tk);
    *all = kept == 0;
    if (*all) HK_TRY(hk_attnmask_allmasked(cfg->policy, row, NH, Tq, WHO));
    return HK_OK;
}

/* Everything that can fail, checked on every row before anything is written
 * (a failing call leaves g_out untouched): -inf at padded keys, no NaN or
 * +inf logit (+inf at a dropped key would give +inf + -inf = NaN), the
 * all-masked-row policy, and a finite logit among the entries the row's
 * softmax sees (its kept keys; all keys of an all-masked row under KEEP). */
static int validate_logits(const double *g_in, const hk_dropkey_config *cfg, long B, long NH, long Tq, long Tk)
{
    for (long row = 0; row < B * NH * Tq; row++) {
        const long b = row / (NH * Tq);
        const double *gi = g_in + row * Tk;
        const uint8_t *m = cfg->mask + row * Tk;
        for (long k = 0; k < Tk; k++) {
            if (cfg->pad && cfg->pad[b * Tk + k] && gi[k] != -INFINITY)
                HK_ERROR(HK_EDOM, "dropkey: g_in at padded key (row %ld, key %ld) is %g, expected -inf", row, k, gi[k]);
            if (isnan(gi[k]) || gi[k] == INFINITY)
                HK_ERROR(HK_ENAN, "dropkey: g_in (row %ld, key %ld) is %g; logits must be finite or -inf", row, k,
                         gi[k]);
        }
        int all;
        HK_TRY(row_allmasked(&all, cfg, row, NH, Tq, Tk));
        if (all && cfg->policy == HK_ALLMASK_ZERO) continue;
        int finite = 0;
        for (long k = 0; k < Tk; k++) finite |= isfinite(gi[k]) && (all || !m[k]);
        HK_REQUIRE(finite, HK_EDOM, "dropkey: row %ld has no finite logit at a kept key (softmax undefined)", row);
    }
    return HK_OK;
}

// g_in (B,NH,Tq,Tk) -> g_out (B,NH,Tq,Tk)
int hk_dropkey_logits_forward(double *g_out, const double *g_in, const hk_dropkey_config *cfg, long B, long NH,
                              long Tq, long Tk)
{
    HK_TRY(check(g_out, g_in, cfg, B, NH, Tq, Tk));
    HK_TRY(validate_logits(g_in, cfg, B, NH, Tq, Tk));
    const double term = cfg->form == HK_DROPKEY_NEGINF ? -INFINITY : HK_DROPKEY_FINITE_VALUE;
    for (long row = 0; row < B * NH * Tq; row++) {
        const long b = row / (NH * Tq);
        const double *gi = g_in + row * Tk;
        double *go = g_out + row * Tk;
        const uint8_t *m = cfg->mask + row * Tk;
        int all;
        HK_TRY(row_allmasked(&all, cfg, row, NH, Tq, Tk));
        for (long k = 0; k < Tk; k++) {
            const int drop = !all && m[k] && !(cfg->pad && cfg->pad[b * Tk + k]);
            go[k] = drop ? gi[k] + term : gi[k]; /* -inf + finite = -inf */
        }
    }
    return HK_OK;
}

// d_out (B,NH,Tq,Tk) -> d_in (B,NH,Tq,Tk) +=
int hk_dropkey_logits_backward(double *d_in, const double *d_out, const hk_dropkey_config *cfg, long B, long NH,
                               long Tq, long Tk)
{
    HK_TRY(check(d_in, d_out, cfg, B, NH, Tq, Tk));
    for (long row = 0; row < B * NH * Tq; row++) {
        const long b = row / (NH * Tq);
        const uint8_t *m = cfg->mask + row * Tk;
        int all;
        HK_TRY(row_allmasked(&all, cfg, row, NH, Tq, Tk));
        for (long k = 0; k < Tk; k++) {
            const int drop = !all && m[k] && !(cfg->pad && cfg->pad[b * Tk + k]);
            if (drop && cfg->form == HK_DROPKEY_NEGINF) continue; /* constant -inf: no gradient */
            d_in[row * Tk + k] += d_out[row * Tk + k];
        }
    }
    return HK_OK;
}

/* Eq. 4-5 of 2403.00812: w'_u = exp(g_u) / sum_{i kept} exp(g_i), w'_m = 0,
 * computed as softmax of g' (max-subtracted; -inf entries exact 0). */
// g (B,NH,Tq,Tk) -> w (B,NH,Tq,Tk)
int hk_dropkey_forward(double *w, const double *g, const hk_dropkey_config *cfg, long B, long NH, long Tq, long Tk)
{
    HK_TRY(hk_dropkey_logits_forward(w, g, cfg, B, NH, Tq, Tk)); /* w holds g' */
    for (long row = 0; row < B * NH * Tq; row++) {
        int all;
        HK_TRY(row_allmasked(&all, cfg, row, NH, Tq, Tk));
        if (all && cfg->policy == HK_ALLMASK_ZERO) {
            memset(w + row * Tk, 0, sizeof(double) * (size_t)Tk);
            continue;
        }
        HK_TRY(hk_softmax_forward(w + row * Tk, w + row * Tk, 1, Tk)); /* in place, element-wise safe */
    }
    return HK_OK;
}

/* dg = softmax^T dw (ZERO rows: nothing), then the logits hook's backward,
 * which is the identity on every entry softmax^T does not already zero. */
// dw (B,NH,Tq,Tk), w (B,NH,Tq,Tk) -> dg (B,NH,Tq,Tk) +=
int hk_dropkey_backward(double *dg, const double *dw, const double *w, const hk_dropkey_config *cfg, long B,
                        long NH, long Tq, long Tk)
{
    HK_TRY(check(dg, dw, cfg, B, NH, Tq, Tk));
    HK_REQUIRE_PTR(w);
    for (long row = 0; row < B * NH * Tq; row++) {
        int all;
        HK_TRY(row_allmasked(&all, cfg, row, NH, Tq, Tk));
        if (all && cfg->policy == HK_ALLMASK_ZERO) continue;
        /* softmax^T gives exactly 0 at dropped keys (w' = 0 there), so this is
         * also the logits hook's backward for both forms. */
        HK_TRY(hk_softmax_backward(dg + row * Tk, dw + row * Tk, w + row * Tk, 1, Tk));
    }
    return HK_OK;
}

/* ---- hooks adapter (ref/hooks.h), Tq = Tk = T ---------------------------- */

static int hook_logits_fwd(void *ctx, double *g_out, const double *g_in, long B, long NH, long T)
{
    return hk_dropkey_logits_forward(g_out, g_in, ctx, B, NH, T, T);
}

static int hook_logits_bwd(void *ctx, double *d_in, const double *d_out, const double *g_in, long B, long NH, long T)
{
    return hk_dropkey_logits_backward(d_in, d_out, ctx, B, NH, T, T);
}

/* Policy ZERO only: all-masked rows (left undropped by the logits hook) are zeroed. */
static int hook_zero_fwd(void *ctx, double *w_out, const double *w_in, long B, long NH, long T)
{
    const hk_dropkey_config *cfg = ctx;
    HK_TRY(check(w_out, w_in, cfg, B, NH, T, T));
    for (long row = 0; row < B * NH * T; row++) {
        int all;
        HK_TRY(row_allmasked(&all, cfg, row, NH, T, T));
        for (long k = 0; k < T; k++) w_out[row * T + k] = all ? 0.0 : w_in[row * T + k];
    }
    return HK_OK;
}

static int hook_zero_bwd(void *ctx, double *d_in, const double *d_out, const double *w_in, const double *w_out,
                         long B, long NH, long T)
{
    const hk_dropkey_config *cfg = ctx;
    HK_TRY(check(d_in, d_out, cfg, B, NH, T, T));
    for (long row = 0; row < B * NH * T; row++) {
        int all;
        HK_TRY(row_allmasked(&all, cfg, row, NH, T, T));
        if (!all)
            for (long k = 0; k < T; k++) d_in[row * T + k] += d_out[row * T + k];
    }
    return HK_OK;
}

int hk_dropkey_hooks(hk_attn_hooks *h, hk_dropkey_config *cfg)
{
    HK_REQUIRE_PTR(h);
    HK_REQUIRE_PTR(cfg);
    memset(h, 0, sizeof *h);
    h->ctx = cfg;
    h->logits_forward = hook_logits_fwd;
    h->logits_backward = hook_logits_bwd;
    if (cfg->policy == HK_ALLMASK_ZERO) {
        h->weights_forward = hook_zero_fwd;
        h->weights_backward = hook_zero_bwd;
    }
    return HK_OK;
}
