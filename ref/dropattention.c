/* hkref — plain scalar double reference: DropAttention (see dropattention.h).
 * Storage: weights (B,NH,Tq,Tk) row-major, one row per (b,h,q); mask
 * (B,NH,Tq,Tk); pad (B,Tk). */
#include "dropattention.h"

#include "error.h"
#include "rng.h"

#include <math.h>
#include <string.h>

static const char WHO[] = "dropattention";

const char *hk_dropattn_variant_name(hk_dropattn_variant v)
{
    static const char *const names[] = {"classic", "norm_nograd", "norm"};
    return (unsigned)v < 3 ? names[v] : NULL;
}

static int check(const void *out, const void *in, const hk_dropattn_config *cfg, long B, long NH, long Tq, long Tk)
{
    HK_REQUIRE_PTR(cfg);
    HK_TRY(hk_attnmask_check_args(out, in, cfg->mask, cfg->policy, B, NH, Tq, Tk, WHO));
    HK_REQUIRE(hk_dropattn_variant_name(cfg->variant) != NULL, HK_EINVAL,
               "dropattention: variant %d is not classic, norm_nograd or norm", (int)cfg->variant);
    HK_TRY(hk_check_rate(cfg->p, "dropattention rate p"));
    return HK_OK;
}

/* What one row is: kept[k] (1 = kept), the all-masked flag, whether any
 * key is dropped, and for NORM* the sum Z of the kept input weights. */
typedef struct {
    int all, any_dropped;
    double Z;
} row_info;

static int row_scan(row_info *ri, const double *w, const hk_dropattn_config *cfg, long row, long NH, long Tq,
                    long Tk)
{
    const long b = row / (NH * Tq);
    const uint8_t *m = cfg->mask + row * Tk, *pr = cfg->pad ? cfg->pad + b * Tk : NULL;
    long kept, dropped;
    hk_attnmask_row_count(&kept, &dropped, m, pr, Tk);
    ri->all = kept == 0;
    ri->any_dropped = dropped > 0;
    ri->Z = 0.0;
    for (long k = 0; k < Tk; k++) {
        if (pr && pr[k]) {
            HK_REQUIRE(w[k] == 0.0, HK_EDOM, "dropattention: w_in at padded key (row %ld, key %ld) is %g, expected 0",
                       row, k, w[k]);
            continue;
        }
        HK_REQUIRE(isfinite(w[k]), HK_ENAN, "dropattention: w_in (row %ld, key %ld) is %g; weights must be finite",
                   row, k, w[k]);
        if (!m[k]) ri->Z += w[k];
    }
    if (ri->all) return hk_attnmask_allmasked(cfg->policy, row, NH, Tq, WHO);
    if (cfg->variant != HK_DROPATTN_CLASSIC && ri->any_dropped && !(ri->Z > 0.0))
        HK_ERROR(HK_EDOM,
                 "dropattention: row %ld keeps %ld keys but their weights sum to %g (underflow): "
                 "normalized rescaling is undefined; use DropKey",
                 row, kept, ri->Z);
    return HK_OK;
}

/* row_scan over every row: all that can fail, before anything is written
 * (a failing call leaves w_out / d_in untouched). */
static int validate_rows(const double *w_in, const hk_dropattn_config *cfg, long B, long NH, long Tq, long Tk)
{
    row_info ri;
    for (long row = 0; row < B * NH * Tq; row++) HK_TRY(row_scan(&ri, w_in + row * Tk, cfg, row, NH, Tq, Tk));
    return HK_OK;
}

static int is_kept(const hk_dropattn_config *cfg, long row, long NH, long Tq, long Tk, long k)
{
    const long b = row / (NH * Tq);
    return !cfg->mask[row * Tk + k] && !(cfg->pad && cfg->pad[b * Tk + k]);
}

/* Eq. 1-2 (NORM*) and classic dropout; row policies as in the header. */
// w_in (B,NH,Tq,Tk) -> w_out (B,NH,Tq,Tk)
int hk_dropattn_forward(double *w_out, const double *w_in, const hk_dropattn_config *cfg, long B, long NH, long Tq,
                        long Tk)
{
    HK_TRY(check(w_out, w_in, cfg, B, NH, Tq, Tk));
    HK_TRY(validate_rows(w_in, cfg, B, NH, Tq, Tk));
    for (long row = 0; row < B * NH * Tq; row++) {
        const double *wi = w_in + row * Tk;
        double *wo = w_out + row * Tk;
        row_info ri;
        HK_TRY(row_scan(&ri, wi, cfg, row, NH, Tq, Tk));
        const int copy = ri.all ? cfg->policy == HK_ALLMASK_KEEP
                                : (cfg->variant != HK_DROPATTN_CLASSIC && !ri.any_dropped);
        for (long k = 0; k < Tk; k++) {
            if (copy) wo[k] = wi[k];
            else if (ri.all || !is_kept(cfg, row, NH, Tq, Tk, k)) wo[k] = 0.0;
            else wo[k] = cfg->variant == HK_DROPATTN_CLASSIC ? wi[k] / (1.0 - cfg->p) : wi[k] / ri.Z;
        }
    }
    return HK_OK;
}

// d_out, w_in, w_out (B,NH,Tq,Tk) -> d_in (B,NH,Tq,Tk) +=
int hk_dropattn_backward(double *d_in, const double *d_out, const double *w_in, const double *w_out,
                         const hk_dropattn_config *cfg, long B, long NH, long Tq, long Tk)
{
    HK_TRY(check(d_in, d_out, cfg, B, NH, Tq, Tk));
    HK_REQUIRE_PTR(w_in);
    HK_REQUIRE_PTR(w_out);
    HK_TRY(validate_rows(w_in, cfg, B, NH, Tq, Tk));
    for (long row = 0; row < B * NH * Tq; row++) {
        const double *d = d_out + row * Tk, *wo = w_out + row * Tk;
        double *di = d_in + row * Tk;
        row_info ri;
        HK_TRY(row_scan(&ri, w_in + row * Tk, cfg, row, NH, Tq, Tk));
        if (ri.all) {
            if (cfg->policy == HK_ALLMASK_KEEP)
                for (long k = 0; k < Tk; k++) di[k] += d[k];
            continue;
        }
        if (cfg->variant != HK_DROPATTN_CLASSIC && !ri.any_dropped) {
            for (long k = 0; k < Tk; k++) di[k] += d[k];
            continue;
        }
        /* NORM: the gradient through Z adds -sum_u d_u w'_u to every kept entry. */
        double dot = 0.0;
        if (cfg->variant == HK_DROPATTN_NORM)
            for (long k = 0; k < Tk; k++) dot += d[k] * wo[k];
        for (long k = 0; k < Tk; k++) {
            if (!is_kept(cfg, row, NH, Tq, Tk, k)) continue;
            if (cfg->variant == HK_DROPATTN_CLASSIC) di[k] += d[k] / (1.0 - cfg->p);
            else di[k] += (d[k] - dot) / ri.Z;
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
