/* hkref — plain scalar double reference: attention-dropout masks (see attnmask.h). */
#include "attnmask.h"

#include "error.h"
#include "rng.h"

#include <math.h>
#include <string.h>

const char *hk_pattern_name(hk_pattern pat)
{
    static const char *const names[] = {"element", "column", "span"};
    return (unsigned)pat < 3 ? names[pat] : NULL;
}

const char *hk_allmask_name(hk_allmask_policy pol)
{
    static const char *const names[] = {"keep", "zero", "error"};
    return (unsigned)pol < 3 ? names[pol] : NULL;
}

static int is_pad(const uint8_t *pad, long b, long Tk, long k) { return pad && pad[b * Tk + k]; }

/* One span of expected length p*n over the non-padded keys of batch b,
 * written into row (Tk) `out`. */
static int sample_span(uint8_t *out, double p, const uint8_t *pad, long b, long Tk, gsl_rng *r)
{
    long n = 0;
    for (long k = 0; k < Tk; k++) n += !is_pad(pad, b, Tk, k);
    double pn = p * (double)n, fl = floor(pn);
    long L = (long)fl + (gsl_rng_uniform(r) < pn - fl ? 1 : 0);
    if (L == 0) return HK_OK;
    long s;
    HK_TRY(hk_rng_uniform_int(&s, 0, n - L, r));
    for (long k = 0, rank = 0; k < Tk; k++) {
        if (is_pad(pad, b, Tk, k)) continue;
        if (rank >= s && rank < s + L) out[k] = 1;
        rank++;
    }
    return HK_OK;
}

// pad (B,Tk)|NULL -> mask (B,NH,Tq,Tk)
int hk_attnmask_sample(uint8_t *mask, hk_pattern pat, double p, const uint8_t *pad, long B, long NH, long Tq,
                       long Tk, gsl_rng *r)
{
    HK_REQUIRE_PTR(mask);
    HK_REQUIRE(B > 0 && NH > 0 && Tq > 0 && Tk > 0, HK_EINVAL,
               "mask shape (B=%ld, NH=%ld, Tq=%ld, Tk=%ld) must be positive", B, NH, Tq, Tk);
    HK_REQUIRE(hk_pattern_name(pat) != NULL, HK_EINVAL, "pattern %d is not element, column or span", (int)pat);
    HK_TRY(hk_check_rate(p, "mask rate p"));
    if (pad)
        for (long b = 0; b < B; b++) {
            long n = 0;
            for (long k = 0; k < Tk; k++) n += !pad[b * Tk + k];
            HK_REQUIRE(n > 0, HK_EDOM, "pad: batch element %ld has every key padded", b);
        }
    const long QK = Tq * Tk;
    memset(mask, 0, (size_t)(B * NH * QK));
    if (p == 0.0) return HK_OK;
    HK_REQUIRE_PTR(r);
    for (long b = 0; b < B; b++)
        for (long h = 0; h < NH; h++) {
            uint8_t *m = mask + (b * NH + h) * QK;
            if (pat == HK_PATTERN_ELEMENT) {
                for (long i = 0; i < QK; i++)
                    if (!is_pad(pad, b, Tk, i % Tk)) m[i] = gsl_rng_uniform(r) < p;
                continue;
            }
            /* column and span: draw row 0, copy it to every query. */
            if (pat == HK_PATTERN_COLUMN) {
                for (long k = 0; k < Tk; k++)
                    if (!is_pad(pad, b, Tk, k)) m[k] = gsl_rng_uniform(r) < p;
            } else {
                HK_TRY(sample_span(m, p, pad, b, Tk, r));
            }
            for (long q = 1; q < Tq; q++) memcpy(m + q * Tk, m, (size_t)Tk);
        }
    return HK_OK;
}

void hk_attnmask_row_count(long *kept, long *dropped, const uint8_t *mrow, const uint8_t *padrow, long Tk)
{
    long nk = 0, nd = 0;
    for (long k = 0; k < Tk; k++) {
        if (padrow && padrow[k]) continue;
        if (mrow[k]) nd++;
        else nk++;
    }
    if (kept) *kept = nk;
    if (dropped) *dropped = nd;
}

int hk_attnmask_check_args(const void *out, const void *in, const uint8_t *mask, hk_allmask_policy pol, long B,
                           long NH, long Tq, long Tk, const char *who)
{
    HK_REQUIRE_PTR(who);
    HK_REQUIRE(out != NULL, HK_EINVAL, "%s: argument 'out' is NULL", who);
    HK_REQUIRE(in != NULL, HK_EINVAL, "%s: argument 'in' is NULL", who);
    HK_REQUIRE(mask != NULL, HK_EINVAL, "%s: argument 'mask' is NULL (use an all-zero mask for no dropout)", who);
    HK_REQUIRE(B > 0 && NH > 0 && Tq > 0 && Tk > 0, HK_EINVAL,
               "%s: shape (B=%ld, NH=%ld, Tq=%ld, Tk=%ld) must be positive", who, B, NH, Tq, Tk);
    HK_REQUIRE(hk_allmask_name(pol) != NULL, HK_EINVAL, "%s: all-masked-row policy %d is not keep, zero or error",
               who, (int)pol);
    return HK_OK;
}

int hk_attnmask_allmasked(hk_allmask_policy pol, long row, long NH, long Tq, const char *who)
{
    HK_REQUIRE_PTR(who);
    if (pol != HK_ALLMASK_ERROR) return HK_OK;
    long q = row % Tq, h = (row / Tq) % NH, b = row / (Tq * NH);
    HK_ERROR(HK_EDOM, "%s: mask row (b=%ld, h=%ld, q=%ld) drops every non-padded key (all-masked-row policy 'error')",
             who, b, h, q);
}
