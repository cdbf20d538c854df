/* hkref — plain scalar double reference: DropAttention (see dropattention.h).
 * Storage: weights (B,NH,Tq,Tk) row-major, one row per (b,h,q); mask
 * (B,NH,Tq,Tk); pad (B,Tk).  K = the kept keys of a row (not dropped, not
 * padded), Z = sum_{i in K} w_i.  The equations come first; everything that
 * can fail is checked by check_args / validate_rows (bottom of the file) before anything is
 * written, so a failing call leaves w_out / d_in untouched. */
#include "dropattention.h"

#include "error.h"
#include "rng.h"

#include <math.h>
#include <string.h>

static const char WHO[] = "dropattention";

/* One row: how many keys are kept and dropped, and Z over the kept keys. */
typedef struct {
    long kept, dropped;
    double Z;
} row_info;

static row_info row_scan(const double *w, const hk_dropattn_config *cfg, long row, long NH, long Tq, long Tk);
static int is_kept(const hk_dropattn_config *cfg, long row, long NH, long Tq, long Tk, long k);
static int check_args(const void *out, const void *in, const hk_dropattn_config *cfg, long B, long NH, long Tq,
                      long Tk);
static int validate_rows(const double *w_in, const hk_dropattn_config *cfg, long B, long NH, long Tq, long Tk);

const char *hk_dropattn_variant_name(hk_dropattn_variant v)
{
    static const char *const names[] = {"classic", "norm_nograd", "norm"};
    return (unsigned)v < 3 ? names[v] : NULL;
}

/* w'_j = [j in K] w_j / denom, denom = 1 - p (classic) or Z (normalized). */
static void scale_kept(double *wo, const double *wi, const hk_dropattn_config *cfg, long row, long NH, long Tq,
                       long Tk, double denom)
{
    for (long k = 0; k < Tk; k++) wo[k] = is_kept(cfg, row, NH, Tq, Tk, k) ? wi[k] / denom : 0.0;
}

/* Normalized rescaling of a row with kept keys: w' = [j in K] w_j / Z; a row
 * with nothing dropped has Z = 1 in exact arithmetic and is copied, so p = 0
 * is the identity bit for bit. */
static void normalize_row(double *wo, const double *wi, const row_info *ri, const hk_dropattn_config *cfg, long row,
                          long NH, long Tq, long Tk)
{
    if (ri->dropped == 0)
        for (long k = 0; k < Tk; k++) wo[k] = wi[k];
    else
        scale_kept(wo, wi, cfg, row, NH, Tq, Tk, ri->Z);
}

/* Eq. 1-2 of 2403.00812 (normalized, with and without NoGrad) and vanilla
 * dropout (classic); one case per variant and per all-masked-row policy. */
// w_in (B,NH,Tq,Tk) -> w_out (B,NH,Tq,Tk)
int hk_dropattn_forward(double *w_out, const double *w_in, const hk_dropattn_config *cfg, long B, long NH, long Tq,
                        long Tk)
{
    HK_REQUIRE_PTR(w_out);
    HK_REQUIRE_PTR(w_in);
    HK_TRY(check_args(w_out, w_in, cfg, B, NH, Tq, Tk));
    HK_TRY(validate_rows(w_in, cfg, B, NH, Tq, Tk));
    for (long row = 0; row < B * NH * Tq; row++) {
        const double *wi = w_in + row * Tk;
        double *wo = w_out + row * Tk;
        const row_info ri = row_scan(wi, cfg, row, NH, Tq, Tk);
        if (ri.kept == 0) { /* all-masked row */
            switch (cfg->policy) {
            case HK_ALLMASK_KEEP: /* the row is left undropped, unscaled */
                for (long k = 0; k < Tk; k++) wo[k] = wi[k];
                break;
            case HK_ALLMASK_ZERO: /* w' = 0 (what the classic formula gives anyway) */
                for (long k = 0; k < Tk; k++) wo[k] = 0.0;
                break;
            case HK_ALLMASK_ERROR: /* refused by validate_rows: not reached */
                break;
            }
            continue;
        }
        switch (cfg->variant) {
        case HK_DROPATTN_CLASSIC: /* w'_j = [j in K] w_j / (1 - p)  (inverted dropout) */
            scale_kept(wo, wi, cfg, row, NH, Tq, Tk, 1.0 - cfg->p);
            break;
        case HK_DROPATTN_NORM_NOGRAD: /* Eq. 2: w'_j = [j in K] w_j / NoGrad(Z); NoGrad acts in the backward only, */
        case HK_DROPATTN_NORM:        /* so both forwards are Eq. 6 (Z the kept sum): w'_j = [j in K] w_j / Z */
            normalize_row(wo, wi, &ri, cfg, row, NH, Tq, Tk);
            break;
        }
    }
    return HK_OK;
}

/* The row Jacobians of the forward above (NORM_NOGRAD: by design not the
 * derivative of its forward).  Gradients +=. */
// d_out, w_in, w_out (B,NH,Tq,Tk) -> d_in (B,NH,Tq,Tk) +=
int hk_dropattn_backward(double *d_in, const double *d_out, const double *w_in, const double *w_out,
                         const hk_dropattn_config *cfg, long B, long NH, long Tq, long Tk)
{
    HK_REQUIRE_PTR(d_in);
    HK_REQUIRE_PTR(d_out);
    HK_REQUIRE_PTR(w_in);
    HK_REQUIRE_PTR(w_out);
    HK_TRY(check_args(d_in, d_out, cfg, B, NH, Tq, Tk));
    HK_TRY(validate_rows(w_in, cfg, B, NH, Tq, Tk));
    for (long row = 0; row < B * NH * Tq; row++) {
        const double *d = d_out + row * Tk, *wo = w_out + row * Tk;
        double *di = d_in + row * Tk;
        const row_info ri = row_scan(w_in + row * Tk, cfg, row, NH, Tq, Tk);
        if (ri.kept == 0) { /* all-masked row */
            switch (cfg->policy) {
            case HK_ALLMASK_KEEP: /* identity Jacobian */
                for (long k = 0; k < Tk; k++) di[k] += d[k];
                break;
            case HK_ALLMASK_ZERO:  /* w' is the constant 0: no gradient */
            case HK_ALLMASK_ERROR: /* refused by validate_rows: not reached */
                break;
            }
            continue;
        }
        switch (cfg->variant) {
        case HK_DROPATTN_CLASSIC: /* dw_j = [j in K] dw'_j / (1 - p) */
            for (long k = 0; k < Tk; k++)
                if (is_kept(cfg, row, NH, Tq, Tk, k)) di[k] += d[k] / (1.0 - cfg->p);
            break;
        case HK_DROPATTN_NORM_NOGRAD:
            if (ri.dropped == 0) { /* row copied: identity Jacobian */
                for (long k = 0; k < Tk; k++) di[k] += d[k];
                break;
            }
            for (long k = 0; k < Tk; k++)
                if (is_kept(cfg, row, NH, Tq, Tk, k))
                    di[k] += d[k] / ri.Z; /* Eq. 2 NoGrad: Z is a constant, no term through the denominator */
            break;
        case HK_DROPATTN_NORM: {
            if (ri.dropped == 0) { /* row copied: identity Jacobian */
                for (long k = 0; k < Tk; k++) di[k] += d[k];
                break;
            }
            /* dw_j = [j in K] (dw'_j - sum_u dw'_u w'_u) / Z: the second term is
             * the gradient through Z (w'_u = 0 off K, so the sum may run over all u) */
            double dot = 0.0;
            for (long k = 0; k < Tk; k++) dot += d[k] * wo[k];
            for (long k = 0; k < Tk; k++)
                if (is_kept(cfg, row, NH, Tq, Tk, k)) di[k] += (d[k] - dot) / ri.Z;
            break;
        }
        }
    }
    return HK_OK;
}

/* ---- hooks adapter (ref/hooks.h), Tq = Tk = T ---------------------------- */

static int hook_fwd(void *ctx, double *w_out, const double *w_in, long B, long NH, long T)
{
    return hk_dropattn_forward(w_out, w_in, ctx, B, NH, T, T);
}

static int hook_bwd(void *ctx, double *d_in, const double *d_out, const double *w_in, const double *w_out, long B,
                    long NH, long T)
{
    return hk_dropattn_backward(d_in, d_out, w_in, w_out, ctx, B, NH, T, T);
}

int hk_dropattn_hooks(hk_attn_hooks *h, hk_dropattn_config *cfg)
{
    HK_REQUIRE_PTR(h);
    HK_REQUIRE_PTR(cfg);
    memset(h, 0, sizeof *h);
    h->ctx = cfg;
    h->weights_forward = hook_fwd;
    h->weights_backward = hook_bwd;
    return HK_OK;
}

/* ---- row bookkeeping and validation -------------------------------------- */

static const uint8_t *pad_row(const hk_dropattn_config *cfg, long row, long NH, long Tq, long Tk)
{
    return cfg->pad ? cfg->pad + (row / (NH * Tq)) * Tk : NULL;
}

static int is_kept(const hk_dropattn_config *cfg, long row, long NH, long Tq, long Tk, long k)
{
    const uint8_t *pr = pad_row(cfg, row, NH, Tq, Tk);
    return !cfg->mask[row * Tk + k] && !(pr && pr[k]);
}

static row_info row_scan(const double *w, const hk_dropattn_config *cfg, long row, long NH, long Tq, long Tk)
{
    row_info ri = {0, 0, 0.0};
    hk_attnmask_row_count(&ri.kept, &ri.dropped, cfg->mask + row * Tk, pad_row(cfg, row, NH, Tq, Tk), Tk);
    for (long k = 0; k < Tk; k++)
        if (is_kept(cfg, row, NH, Tq, Tk, k)) ri.Z += w[k];
    return ri;
}

static int check_args(const void *out, const void *in, const hk_dropattn_config *cfg, long B, long NH, long Tq,
                      long Tk)
{
    HK_REQUIRE_PTR(cfg);
    HK_TRY(hk_attnmask_check_args(out, in, cfg->mask, cfg->policy, B, NH, Tq, Tk, WHO));
    HK_REQUIRE(hk_dropattn_variant_name(cfg->variant) != NULL, HK_EINVAL,
               "dropattention: variant %d is not classic, norm_nograd or norm", (int)cfg->variant);
    HK_TRY(hk_check_rate(cfg->p, "dropattention rate p"));
    return HK_OK;
}

/* Per row: weights at padded keys exactly 0, the others finite; the
 * all-masked-row policy; for NORM* a row with a dropped key needs Z > 0
 * (kept weights all underflowed to 0: the information is gone from w). */
static int validate_rows(const double *w_in, const hk_dropattn_config *cfg, long B, long NH, long Tq, long Tk)
{
    for (long row = 0; row < B * NH * Tq; row++) {
        const double *w = w_in + row * Tk;
        const uint8_t *pr = pad_row(cfg, row, NH, Tq, Tk);
        for (long k = 0; k < Tk; k++) {
            if (pr && pr[k])
                HK_REQUIRE(w[k] == 0.0, HK_EDOM,
                           "dropattention: w_in at padded key (row %ld, key %ld) is %g, expected 0", row, k, w[k]);
            else
                HK_REQUIRE(isfinite(w[k]), HK_ENAN,
                           "dropattention: w_in (row %ld, key %ld) is %g; weights must be finite", row, k, w[k]);
        }
        const row_info ri = row_scan(w, cfg, row, NH, Tq, Tk);
        if (ri.kept == 0) HK_TRY(hk_attnmask_allmasked(cfg->policy, row, NH, Tq, WHO));
        else if (cfg->variant != HK_DROPATTN_CLASSIC && ri.dropped > 0 && !(ri.Z > 0.0))
            HK_ERROR(HK_EDOM,
                     "dropattention: row %ld keeps %ld keys but their weights sum to %g (underflow): "
                     "normalized rescaling is undefined; use DropKey",
                     row, ri.kept, ri.Z);
    }
    return HK_OK;
}
