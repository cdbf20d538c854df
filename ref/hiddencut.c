/* hkref — plain scalar double reference: HiddenCut / Cutoff / output dropout
 * on a (B,T,C) representation (see hiddencut.h).  Storage row-major (B,T,C). */
#include "hiddencut.h"

#include "error.h"
#include "rng.h"

#include <math.h>
#include <string.h>

static const char *const pat_names[HK_HC_COUNT] = {"element", "column", "span"};

const char *hk_hc_pattern_name(hk_hc_pattern pat)
{
    return (pat >= 0 && pat < HK_HC_COUNT) ? pat_names[pat] : NULL;
}

static int check_shape(long B, long T, long C)
{
    HK_REQUIRE(B > 0 && T > 0 && C > 0, HK_EINVAL, "hiddencut shape (B=%ld, T=%ld, C=%ld) must be positive", B, T, C);
    return HK_OK;
}

/* Official length rule: floor(p·T) when that exceeds 1, else 1. */
static long span_length(double p, long T)
{
    long L = (long)floor(p * (double)T);
    return L < 1 ? 1 : L;
}

static void cut_span(uint8_t *mask_b, long start, long L, long T, long C)
{
    if (start + L > T) L = T - start; /* truncated at the end, as the official code */
    memset(mask_b + start * C, 1, (size_t)(L * C));
}

// -> mask (B,T,C)
int hk_hiddencut_mask_sample(uint8_t *mask, hk_hc_pattern pat, double p, long B, long T, long C, gsl_rng *r)
{
    HK_REQUIRE_PTR(mask);
    HK_REQUIRE(pat >= 0 && pat < HK_HC_COUNT, HK_EINVAL, "pattern %d is not element, column or span", (int)pat);
    HK_TRY(check_shape(B, T, C));
    HK_TRY(hk_check_rate(p, "p"));
    if (pat == HK_HC_ELEMENT) return hk_mask_bernoulli(mask, B * T * C, p, r);
    memset(mask, 0, (size_t)(B * T * C));
    if (p == 0.0) return HK_OK;
    HK_REQUIRE_PTR(r);
    for (long b = 0; b < B; b++) {
        uint8_t *mb = mask + b * T * C;
        if (pat == HK_HC_COLUMN) {
            for (long c = 0; c < C; c++)
                if (gsl_rng_uniform(r) < p)
                    for (long t = 0; t < T; t++) mb[t * C + c] = 1;
        } else {
            long L = span_length(p, T), start;
            HK_TRY(hk_rng_uniform_int(&start, 0, T - L, r));
            cut_span(mb, start, L, T, C);
        }
    }
    return HK_OK;
}

// importance (B,T) -> mask (B,T,C)
int hk_hiddencut_mask_sample_importance(uint8_t *mask, const double *importance, double p, double top_frac,
                                        long B, long T, long C, gsl_rng *r)
{
    HK_REQUIRE_PTR(mask);
    HK_REQUIRE_PTR(importance);
    HK_TRY(check_shape(B, T, C));
    HK_TRY(hk_check_rate(p, "p"));
    HK_REQUIRE(isfinite(top_frac) && top_frac > 0.0 && top_frac <= 1.0, HK_EDOM,
               "top_frac must be in (0, 1] (got %g)", top_frac);
    HK_TRY(hk_check_finite(importance, B * T, "importance"));
    memset(mask, 0, (size_t)(B * T * C));
    if (p == 0.0) return HK_OK;
    HK_REQUIRE_PTR(r);
    long L = span_length(p, T), k = (long)floor(top_frac * (double)T);
    if (k < 1) k = 1;
    for (long b = 0; b < B; b++) {
        const double *imp = importance + b * T;
        long j, start = -1;
        HK_TRY(hk_rng_uniform_int(&j, 0, k - 1, r)); /* the j-th most important token */
        /* Rank of token t = #{u: imp[u] > imp[t], or equal with u < t}: pick rank j. */
        for (long t = 0; t < T && start < 0; t++) {
            long rank = 0;
            for (long u = 0; u < T; u++) rank += imp[u] > imp[t] || (imp[u] == imp[t] && u < t);
            if (rank == j) start = t;
        }
        cut_span(mask + b * T * C, start, L, T, C);
    }
    return HK_OK;
}

// att (B,NH,T,T) -> importance (B,T)
int hk_hiddencut_importance(double *importance, const double *att, long B, long NH, long T)
{
    HK_REQUIRE_PTR(importance);
    HK_REQUIRE_PTR(att);
    HK_REQUIRE(B > 0 && NH > 0 && T > 0, HK_EINVAL, "importance shape (B=%ld, NH=%ld, T=%ld) must be positive", B, NH,
               T);
    HK_TRY(hk_check_finite(att, B * NH * T * T, "hiddencut attention"));
    for (long b = 0; b < B; b++)
        for (long k = 0; k < T; k++) {
            double s = 0.0;
            for (long h = 0; h < NH; h++)
                for (long q = 0; q < T; q++) s += att[((b * NH + h) * T + q) * T + k];
            importance[b * T + k] = s / (double)NH;
        }
    return HK_OK;
}

/* Pointers are checked by the callers, so the message names their argument. */
static int check_apply(double scale, long B, long T, long C)
{
    HK_TRY(check_shape(B, T, C));
    HK_REQUIRE(isfinite(scale) && scale > 0.0, HK_EDOM, "scale must be finite and > 0 (got %g)", scale);
    return HK_OK;
}

// in (B,T,C), mask (B,T,C) -> out (B,T,C)
int hk_hiddencut_forward(double *out, const double *in, const uint8_t *mask, double scale, long B, long T, long C)
{
    HK_REQUIRE_PTR(out);
    HK_REQUIRE_PTR(in);
    HK_REQUIRE_PTR(mask);
    HK_TRY(check_apply(scale, B, T, C));
    /* A NaN / Inf hidden state is a bug upstream, not a value to cut. */
    HK_TRY(hk_check_finite(in, B * T * C, "hiddencut input"));
    for (long i = 0; i < B * T * C; i++) out[i] = mask[i] ? 0.0 : in[i] * scale;
    return HK_OK;
}

// dout (B,T,C) -> din (B,T,C) +=
int hk_hiddencut_backward(double *din, const double *dout, const uint8_t *mask, double scale, long B, long T, long C)
{
    HK_REQUIRE_PTR(din);
    HK_REQUIRE_PTR(dout);
    HK_REQUIRE_PTR(mask);
    HK_TRY(check_apply(scale, B, T, C));
    for (long i = 0; i < B * T * C; i++)
        if (!mask[i]) din[i] += dout[i] * scale;
    return HK_OK;
}

static int hook_forward(void *ctx, double *h_out, const double *h_in, long B, long T, long C)
{
    const hk_hiddencut_ctx *c = ctx;
    return hk_hiddencut_forward(h_out, h_in, c->mask, c->scale, B, T, C);
}

static int hook_backward(void *ctx, double *d_in, const double *d_out, const double *h_in, long B, long T, long C)
{
    const hk_hiddencut_ctx *c = ctx;
    return hk_hiddencut_backward(d_in, d_out, c->mask, c->scale, B, T, C);
}

int hk_hiddencut_hook(hk_hidden_hook *hook, hk_hiddencut_ctx *ctx)
{
    HK_REQUIRE_PTR(hook);
    HK_REQUIRE_PTR(ctx);
    HK_REQUIRE_PTR(ctx->mask);
    HK_REQUIRE(isfinite(ctx->scale) && ctx->scale > 0.0, HK_EDOM, "hook scale must be finite and > 0 (got %g)",
               ctx->scale);
    hook->ctx = ctx;
    hook->forward = hook_forward;
    hook->backward = hook_backward;
    return HK_OK;
}
