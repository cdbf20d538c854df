/* hkref — plain scalar double reference: DropKey (see dropkey.h).
 * Storage: logits and weights (B,NH,Tq,Tk) row-major, one softmax per
 * (b,h,q) row; mask (B,NH,Tq,Tk); pad (B,Tk).  The equations come first;
 * the argument and input checks (check, validate_logits) are at the bottom
 * of the file, and run before anything is written. */
#include "dropkey.h"

#include "error.h"
#include "softmax.h"

#include <math.h>
#include <string.h>

static const char WHO[] = "dropkey";

static int check(const void *out, const void *in, const hk_dropkey_config *cfg, long B, long NH, long Tq, long Tk);
static int row_allmasked(int *all, const hk_dropkey_config *cfg, long row, long NH, long Tq, long Tk);
static int validate_logits(const double *g_in, const hk_dropkey_config *cfg, long B, long NH, long Tq, long Tk);

/* 1 if key k of row `row` is dropped: masked, not padded, and the row is not
 * all-masked (an all-masked row is left as it comes; see dropkey.h). */
static int is_dropped(const hk_dropkey_config *cfg, int all, long row, long NH, long Tq, long Tk, long k)
{
    const long b = row / (NH * Tq);
    return !all && cfg->mask[row * Tk + k] && !(cfg->pad && cfg->pad[b * Tk + k]);
}

/* Eq. 3 of 2403.00812: g'_j = g_j + m_j with m_j = 0 at a kept key and, at a
 * dropped key, m_j = -inf (form NEGINF) or -1e12 (form FINITE, the DropKey
 * paper's snippet).  Padded keys keep their -inf. */
// g_in (B,NH,Tq,Tk) -> g_out (B,NH,Tq,Tk)
int hk_dropkey_logits_forward(double *g_out, const double *g_in, const hk_dropkey_config *cfg, long B, long NH,
                              long Tq, long Tk)
{
    HK_REQUIRE_PTR(g_out);
    HK_REQUIRE_PTR(g_in);
    HK_TRY(check(g_out, g_in, cfg, B, NH, Tq, Tk));
    HK_TRY(validate_logits(g_in, cfg, B, NH, Tq, Tk));
    double m_drop = 0.0; /* m_j at a dropped key */
    switch (cfg->form) {
    case HK_DROPKEY_NEGINF: m_drop = -INFINITY; break;
    case HK_DROPKEY_FINITE: m_drop = HK_DROPKEY_FINITE_VALUE; break;
    }
    for (long row = 0; row < B * NH * Tq; row++) {
        const double *gi = g_in + row * Tk;
        double *go = g_out + row * Tk;
        int all;
        HK_TRY(row_allmasked(&all, cfg, row, NH, Tq, Tk));
        for (long k = 0; k < Tk; k++)
            go[k] = is_dropped(cfg, all, row, NH, Tq, Tk, k) ? gi[k] + m_drop : gi[k]; /* -inf + finite = -inf */
    }
    return HK_OK;
}

/* Eq. 3's derivative dg'_j/dg_j: 1 at kept keys; at a dropped key 0 for
 * NEGINF (g'_j = -inf is a constant) and 1 for FINITE (g'_j = g_j - 1e12). */
// d_out (B,NH,Tq,Tk) -> d_in (B,NH,Tq,Tk) +=
int hk_dropkey_logits_backward(double *d_in, const double *d_out, const hk_dropkey_config *cfg, long B, long NH,
                               long Tq, long Tk)
{
    HK_REQUIRE_PTR(d_in);
    HK_REQUIRE_PTR(d_out);
    HK_TRY(check(d_in, d_out, cfg, B, NH, Tq, Tk));
    for (long row = 0; row < B * NH * Tq; row++) {
        int all;
        HK_TRY(row_allmasked(&all, cfg, row, NH, Tq, Tk));
        for (long k = 0; k < Tk; k++) {
            const long j = row * Tk + k;
            if (!is_dropped(cfg, all, row, NH, Tq, Tk, k)) {
                d_in[j] += d_out[j]; /* g'_j = g_j */
                continue;
            }
            switch (cfg->form) {
            case HK_DROPKEY_NEGINF: break;                   /* g'_j = -inf, a constant: no gradient */
            case HK_DROPKEY_FINITE: d_in[j] += d_out[j]; break; /* g'_j = g_j - 1e12 */
            }
        }
    }
    return HK_OK;
}

/* Eq. 4-5 of 2403.00812: w'_m = 0, w'_u = exp(g_u) / sum_{i in K} exp(g_i),
 * computed as the softmax of Eq. 3's g' (max-subtracted; -inf entries give
 * exact 0).  All-masked rows: KEEP is the softmax of the untouched row, ZERO
 * a zero row (ERROR was refused by validate_logits). */
// g (B,NH,Tq,Tk) -> w (B,NH,Tq,Tk)
int hk_dropkey_forward(double *w, const double *g, const hk_dropkey_config *cfg, long B, long NH, long Tq, long Tk)
{
    HK_REQUIRE_PTR(w);
    HK_REQUIRE_PTR(g);
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

/* Eq. 7 (general form, PAPER_NOTES.md): dg = softmax^T dw, i.e.
 * dg_u = w'_u (dw_u - sum_i dw_i w'_i); ZERO rows get nothing.  softmax^T
 * gives exactly 0 at dropped keys (w' = 0 there), so this already includes
 * the logits hook's backward, for both forms. */
// dw (B,NH,Tq,Tk), w (B,NH,Tq,Tk) -> dg (B,NH,Tq,Tk) +=
int hk_dropkey_backward(double *dg, const double *dw, const double *w, const hk_dropkey_config *cfg, long B,
                        long NH, long Tq, long Tk)
{
    HK_REQUIRE_PTR(dg);
    HK_REQUIRE_PTR(dw);
    HK_REQUIRE_PTR(w);
    HK_TRY(check(dg, dw, cfg, B, NH, Tq, Tk));
    for (long row = 0; row < B * NH * Tq; row++) {
        int all;
        HK_TRY(row_allmasked(&all, cfg, row, NH, Tq, Tk));
        if (all && cfg->policy == HK_ALLMASK_ZERO) continue;
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

/* ---- argument and input checks ------------------------------------------ */

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
