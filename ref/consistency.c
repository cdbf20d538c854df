/* hkref — plain scalar double reference: consistency losses (see consistency.h).
 *
 * Storage: z1, z2 row-major (N,C); one distribution (or output vector) per row.
 * Every log-probability is a = z - lse(z) (finite for finite logits, e.g.
 * -1400 at logit gaps of 1400), so p·(a - b) is 0·finite = 0 where a
 * probability underflows, never 0·(-inf) = NaN as with log(softmax(z)).
 *
 * Each distribution loss is written as L(a, b) on the log-probs; its
 * gradient g_a = ∂L/∂a (treating a as free) is pulled back through
 * log-softmax:  dz = g - p · Σ_c g  (ref/softmax.h, hk_logsoftmax_backward). */
#include "consistency.h"

#include "error.h"
#include "softmax.h"

#include <math.h>
#include <string.h>

static const char *const names[HK_CONS_COUNT] = {"kl_bidir", "js_eq12", "js_mixture", "js_textbook", "mse"};

const char *hk_consistency_name(hk_consistency kind)
{
    return (kind >= 0 && kind < HK_CONS_COUNT) ? names[kind] : NULL;
}

int hk_consistency_parse(hk_consistency *kind, const char *name)
{
    HK_REQUIRE_PTR(kind);
    HK_REQUIRE_PTR(name);
    for (int k = 0; k < HK_CONS_COUNT; k++)
        if (!strcmp(name, names[k])) {
            *kind = (hk_consistency)k;
            return HK_OK;
        }
    HK_ERROR(HK_ENOTFOUND, "consistency loss '%s' unknown (kl_bidir, js_eq12, js_mixture, js_textbook, mse)", name);
}

static int check_args(hk_consistency kind, const double *z1, const double *z2, long N, long C, hk_reduction red)
{
    HK_REQUIRE_PTR(z1);
    HK_REQUIRE_PTR(z2);
    HK_REQUIRE(kind >= 0 && kind < HK_CONS_COUNT, HK_EINVAL, "consistency kind %d out of range", (int)kind);
    HK_REQUIRE(red == HK_RED_SUM || red == HK_RED_MEAN, HK_EINVAL, "reduction %d is neither SUM nor MEAN", (int)red);
    HK_REQUIRE(N > 0 && C > 0, HK_EINVAL, "consistency shape (N=%ld, C=%ld) must be positive", N, C);
    /* Logits must be finite: a -inf logit would make KL(P2||P1) infinite. */
    HK_TRY(hk_check_finite(z1, N * C, "z1"));
    HK_TRY(hk_check_finite(z2, N * C, "z2"));
    return HK_OK;
}

/* *l1 = lse(x), *l2 = lse(y) of one row pair (ref/softmax.h; finite input). */
static int row_lse2(double *l1, double *l2, const double *x, const double *y, long C)
{
    double m, log_s;
    HK_TRY(hk_softmax_logsumexp(&m, &log_s, x, C));
    *l1 = m + log_s;
    HK_TRY(hk_softmax_logsumexp(&m, &log_s, y, C));
    *l2 = m + log_s;
    return HK_OK;
}

/* log M = log(½(e^a + e^b)) = max + log1p(e^-|a-b|) - ln 2: never log(0). */
static double log_mix(double a, double b)
{
    double mx = a > b ? a : b;
    return mx + log1p(exp(-fabs(a - b))) - M_LN2;
}

/* Per-element term of the loss and its partials w.r.t. the log-probs a, b. */
static double term(hk_consistency kind, double a, double b, double *ga, double *gb)
{
    double p = exp(a), q = exp(b);
    switch (kind) {
    case HK_CONS_KL_BIDIR: /* ½[p(a-b) + q(b-a)] = ½(p-q)(a-b) >= 0, exactly symmetric */
        *ga = 0.5 * (p * (a - b) + p - q);
        *gb = 0.5 * (q * (b - a) + q - p);
        return 0.5 * (p - q) * (a - b);
    case HK_CONS_JS_EQ12: /* p(a - b), b = log P̄ */
        *ga = p * (a - b) + p;
        *gb = -p;
        return p * (a - b);
    case HK_CONS_JS_MIXTURE: { /* ½[m(lm-a) + m(lm-b)],  ∂m/∂a = p/2, ∂lm/∂a = p/(2m) */
        double lm = log_mix(a, b), m = exp(lm);
        *ga = 0.5 * (0.5 * p * (2.0 * lm - a - b) + p - m);
        *gb = 0.5 * (0.5 * q * (2.0 * lm - a - b) + q - m);
        return 0.5 * m * ((lm - a) + (lm - b));
    }
    case HK_CONS_JS_TEXTBOOK: { /* ½[p(a-lm) + q(b-lm)]; the ∂lm terms cancel: -½(p+q)·p/(2m) = -½p */
        double lm = log_mix(a, b);
        *ga = 0.5 * p * (a - lm);
        *gb = 0.5 * q * (b - lm);
        return 0.5 * (p * (a - lm) + q * (b - lm));
    }
    default:
        *ga = *gb = 0.0;
        return 0.0;
    }
}

// z1 (N,C), z2 (N,C) -> *loss
int hk_consistency_forward(double *loss, hk_consistency kind, const double *z1, const double *z2, long N, long C,
                           hk_reduction red)
{
    HK_REQUIRE_PTR(loss);
    HK_TRY(check_args(kind, z1, z2, N, C, red));
    double total = 0.0;
    for (long n = 0; n < N; n++) {
        const double *x = z1 + n * C, *y = z2 + n * C;
        double row = 0.0;
        if (kind == HK_CONS_MSE) {
            for (long c = 0; c < C; c++) row += (x[c] - y[c]) * (x[c] - y[c]);
        } else {
            double l1, l2, ga, gb;
            HK_TRY(row_lse2(&l1, &l2, x, y, C));
            for (long c = 0; c < C; c++) row += term(kind, x[c] - l1, y[c] - l2, &ga, &gb);
        }
        total += row;
    }
    /* finite logits / outputs whose loss is not a double (mse squares differences beyond ~1.34e154,
     * a row's logit range beyond DBL_MAX): an error, never a silent inf */
    HK_REQUIRE(isfinite(total), HK_EDOM, "consistency %s: the loss overflows (inputs too large: %s)", names[kind],
               kind == HK_CONS_MSE ? "|z1 - z2| must stay below ~1.3e154 / sqrt(N C)" : "a row's logit range exceeds DBL_MAX");
    *loss = red == HK_RED_MEAN ? total / (double)N : total;
    return HK_OK;
}

// dloss -> dz1 (N,C) +=, dz2 (N,C) +=
int hk_consistency_backward(double *dz1, double *dz2, double dloss, hk_consistency kind, const double *z1,
                            const double *z2, long N, long C, hk_reduction red)
{
    HK_TRY(check_args(kind, z1, z2, N, C, red));
    HK_REQUIRE(isfinite(dloss), HK_ENAN, "dloss must be finite (got %g)", dloss);
    double s = red == HK_RED_MEAN ? dloss / (double)N : dloss;
    for (long i = 0; kind == HK_CONS_MSE && i < N * C; i++) /* checked before anything is accumulated */
        HK_REQUIRE(isfinite(2.0 * (z1[i] - z2[i]) * s), HK_EDOM,
                   "consistency mse: the gradient at element %ld overflows (|z1 - z2| = %g)", i, fabs(z1[i] - z2[i]));
    for (long n = 0; n < N; n++) {
        const double *x = z1 + n * C, *y = z2 + n * C;
        double *d1 = dz1 ? dz1 + n * C : NULL, *d2 = dz2 ? dz2 + n * C : NULL;
        if (kind == HK_CONS_MSE) {
            for (long c = 0; c < C; c++) {
                double g = 2.0 * (x[c] - y[c]) * s;
                if (d1) d1[c] += g;
                if (d2) d2[c] -= g;
            }
            continue;
        }
        double l1, l2;
        HK_TRY(row_lse2(&l1, &l2, x, y, C));
        /* Pass 1: Σ_c g_a and Σ_c g_b (log-softmax pull-back needs the row sums). */
        double sa = 0.0, sb = 0.0, ga, gb;
        for (long c = 0; c < C; c++) {
            term(kind, x[c] - l1, y[c] - l2, &ga, &gb);
            sa += ga;
            sb += gb;
        }
        /* Pass 2: dz = s · (g - p Σg). */
        for (long c = 0; c < C; c++) {
            double a = x[c] - l1, b = y[c] - l2;
            term(kind, a, b, &ga, &gb);
            if (d1) d1[c] += s * (ga - exp(a) * sa);
            if (d2) d2[c] += s * (gb - exp(b) * sb);
        }
    }
    return HK_OK;
}
