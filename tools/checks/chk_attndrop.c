/* hkref — DropKey / DropAttention: the four theorems of HK §3.1 (Eq. 5-10,
 * 13-15) checked numerically over 1,000 random cases each, and the
 * finite-difference checks of every backward (core and inside attention).
 *
 * Random case i (seed 1000 + i): B, NH in {1,2}, T in {2..6}, pattern i % 3,
 * p uniform in [0.05, 0.9], right key padding in odd cases, logits
 * off + U(-4, 4) with off in {0, +1000, -1000, 0} by i % 4 (exp(1000)
 * overflows a naive softmax).  Bounds are derived in
 * proofs/dropkey_dropattention.md, "Rounding". */
#include "checks.h"

#include "ref/attention.h"
#include "ref/attnmask.h"
#include "ref/dropattention.h"
#include "ref/dropkey.h"
#include "ref/error.h"
#include "ref/rng.h"
#include "ref/softmax.h"
#include "fixtures.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { NCASES = 1000, MAXB = 2, MAXNH = 2, MAXT = 6, MAXN = MAXB * MAXNH * MAXT * MAXT };
#define SPREAD 4.0 /* logits off + U(-SPREAD, SPREAD) */
#define EPS DBL_EPSILON

typedef struct {
    long B, NH, T, n;
    hk_pattern pat;
    double p, off;
    uint8_t mask[MAXN], pad[MAXB * MAXT];
    int padded;
    double g[MAXN];
} rcase;

static int make_case(rcase *c, long i)
{
    memset(c, 0, sizeof *c);
    gsl_rng *r = hk_rng_new(1000 + (unsigned long)i);
    if (!r) return HK_ENOMEM;
    c->B = 1 + (long)gsl_rng_uniform_int(r, 2);
    c->NH = 1 + (long)gsl_rng_uniform_int(r, 2);
    c->T = 2 + (long)gsl_rng_uniform_int(r, MAXT - 1);
    c->n = c->B * c->NH * c->T * c->T;
    c->pat = (hk_pattern)(i % 3);
    c->p = 0.05 + 0.85 * gsl_rng_uniform(r);
    static const double offs[4] = {0.0, 1000.0, -1000.0, 0.0};
    c->off = offs[i % 4];
    c->padded = (int)(i % 2);
    if (c->padded)
        for (long b = 0; b < c->B; b++) {
            long npad = (long)gsl_rng_uniform_int(r, (unsigned long)c->T); /* 0..T-1: one key stays */
            for (long k = c->T - npad; k < c->T; k++) c->pad[b * c->T + k] = 1;
        }
    int st = hk_rng_fill_uniform(c->g, c->n, c->off - SPREAD, c->off + SPREAD, r);
    for (long j = 0; j < c->n; j++) {
        long b = j / (c->NH * c->T * c->T), k = j % c->T;
        if (c->padded && c->pad[b * c->T + k]) c->g[j] = -INFINITY;
    }
    if (!st) st = hk_attnmask_sample(c->mask, c->pat, c->p, c->padded ? c->pad : NULL, c->B, c->NH, c->T, c->T, r);
    hk_rng_free(r);
    return st;
}

static const uint8_t *case_pad(const rcase *c) { return c->padded ? c->pad : NULL; }

static void note(hk_check_result *res, double dev, long i, const char *what)
{
    if (dev > res->worst) {
        res->worst = dev;
        snprintf(res->detail, sizeof res->detail, "worst at case %ld (%s); __REPRO: hkref verify -v", i, what);
    }
}

/* ---- Theorem 1: Eq. 5 = Eq. 6 (proof Eq. 13) ----------------------------- */

/* Per element |w'_DK - w'_DA| / (eps w'_DA); bound 2*2*SPREAD + T + 8
 * (rounding of g - max, exp, two T-term sums and three divisions). */
static int run_thm1(hk_check_result *res)
{
    snprintf(res->unit, sizeof res->unit, "ulp");
    res->bound = 4 * SPREAD + MAXT + 8;
    for (long i = 0; i < NCASES; i++) {
        rcase c;
        HK_TRY(make_case(&c, i));
        double wdk[MAXN], w[MAXN], wda[MAXN];
        hk_dropkey_config dk = {c.mask, case_pad(&c), HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP};
        hk_dropattn_config da = {c.mask, case_pad(&c), HK_DROPATTN_NORM_NOGRAD, c.p, HK_ALLMASK_KEEP};
        HK_TRY(hk_dropkey_forward(wdk, c.g, &dk, c.B, c.NH, c.T, c.T));
        HK_TRY(hk_softmax_forward(w, c.g, c.B * c.NH * c.T, c.T));
        HK_TRY(hk_dropattn_forward(wda, w, &da, c.B, c.NH, c.T, c.T));
        res->cases++;
        int bad = 0;
        for (long j = 0; j < c.n; j++) {
            if (wda[j] == 0.0 || wdk[j] == 0.0) {
                bad |= wda[j] != wdk[j]; /* dropped / padded: both exactly 0 */
                continue;
            }
            double dev = fabs(wdk[j] - wda[j]) / (EPS * wda[j]);
            note(res, dev, i, "w' element");
            bad |= !(dev <= res->bound);
        }
        res->failed += bad;
    }
    return HK_OK;
}

/* FINITE form (-1e12) gives DropKey's weights bit for bit (|g| << 1e12). */
static int run_finite(hk_check_result *res)
{
    snprintf(res->unit, sizeof res->unit, "abs");
    res->bound = 0.0;
    for (long i = 0; i < NCASES; i++) {
        rcase c;
        HK_TRY(make_case(&c, i));
        double a[MAXN], b[MAXN], da[MAXN], db[MAXN], d[MAXN];
        for (long j = 0; j < c.n; j++) d[j] = sin(1.7 * (double)j + 0.3); /* any upstream gradient */
        hk_dropkey_config ka = {c.mask, case_pad(&c), HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP};
        hk_dropkey_config kb = ka;
        kb.form = HK_DROPKEY_FINITE;
        HK_TRY(hk_dropkey_forward(a, c.g, &ka, c.B, c.NH, c.T, c.T));
        HK_TRY(hk_dropkey_forward(b, c.g, &kb, c.B, c.NH, c.T, c.T));
        memset(da, 0, sizeof da);
        memset(db, 0, sizeof db);
        HK_TRY(hk_dropkey_backward(da, d, a, &ka, c.B, c.NH, c.T, c.T));
        HK_TRY(hk_dropkey_backward(db, d, b, &kb, c.B, c.NH, c.T, c.T));
        res->cases++;
        double dev = 0.0;
        for (long j = 0; j < c.n; j++) dev = fmax(dev, fmax(fabs(a[j] - b[j]), fabs(da[j] - db[j])));
        note(res, dev, i, "finite vs -inf");
        res->failed += dev != 0.0;
    }
    return HK_OK;
}

/* ---- Theorems 2 and 4: Jacobians of one row ------------------------------ */

/* One row of a case, padded keys removed (padding does not enter the math). */
typedef struct {
    long n;
    double g[MAXT];
    uint8_t m[MAXT];
} jrow;

/* Closed forms from exponentials of positive terms only (no cancellation). */
typedef struct {
    double w[MAXT], wp[MAXT];  /* w_i = e_i/S;  w'_i = e_i/S_K (0 if dropped) */
    double omw[MAXT], omwp[MAXT]; /* 1 - w_u = sum_{i != u} e_i / S;  1 - w'_u = sum_{i in K, i != u} e_i / S_K */
    double wM;                 /* w_M = S_M / S */
    long nk, nm;
} closed;

static void closed_forms(closed *cf, const jrow *r)
{
    double mx = -INFINITY, e[MAXT], S = 0, SK = 0, SM = 0;
    for (long i = 0; i < r->n; i++) mx = fmax(mx, r->g[i]);
    cf->nk = cf->nm = 0;
    for (long i = 0; i < r->n; i++) {
        e[i] = exp(r->g[i] - mx);
        S += e[i];
        if (r->m[i]) SM += e[i], cf->nm++;
        else SK += e[i], cf->nk++;
    }
    for (long u = 0; u < r->n; u++) {
        double rest = 0, restK = 0;
        for (long i = 0; i < r->n; i++)
            if (i != u) {
                rest += e[i];
                if (!r->m[i]) restK += e[i];
            }
        cf->w[u] = e[u] / S;
        cf->wp[u] = r->m[u] ? 0.0 : e[u] / SK;
        cf->omw[u] = rest / S;
        cf->omwp[u] = restK / SK;
    }
    cf->wM = SM / S;
}

/* Row u of the DropKey and the NoGrad-DropAttention Jacobians d w'_u / d g_v,
 * measured with the library's backward (one-hot upstream gradient). */
static int measure(double *jdk, double *jng, const jrow *r, long u, hk_dropattn_variant var)
{
    const long n = r->n;
    double wdk[MAXT], w[MAXT], wda[MAXT], d[MAXT] = {0}, dw[MAXT] = {0};
    hk_dropkey_config dk = {r->m, NULL, HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP};
    hk_dropattn_config da = {r->m, NULL, var, 0.5, HK_ALLMASK_KEEP};
    HK_TRY(hk_dropkey_forward(wdk, r->g, &dk, 1, 1, 1, n));
    HK_TRY(hk_softmax_forward(w, r->g, 1, n));
    HK_TRY(hk_dropattn_forward(wda, w, &da, 1, 1, 1, n));
    d[u] = 1.0;
    memset(jdk, 0, sizeof(double) * (size_t)n);
    memset(jng, 0, sizeof(double) * (size_t)n);
    HK_TRY(hk_dropkey_backward(jdk, d, wdk, &dk, 1, 1, 1, n));
    HK_TRY(hk_dropattn_backward(dw, d, w, wda, &da, 1, 1, 1, n));
    return hk_softmax_backward(jng, dw, w, 1, n);
}

static void row_of(jrow *r, const rcase *c, long row)
{
    const long b = row / (c->NH * c->T);
    r->n = 0;
    for (long k = 0; k < c->T; k++) {
        if (c->padded && c->pad[b * c->T + k]) continue;
        r->g[r->n] = c->g[row * c->T + k];
        r->m[r->n] = c->mask[row * c->T + k];
        r->n++;
    }
}

/* Deviations in units of eps * w'_u, the scale of row u of both Jacobians
 * (|J_uv| <= w'_u); bound 4 (T + 4): see proofs/, "Rounding". */
#define JBOUND (4.0 * (MAXT + 4))

typedef struct {
    hk_check_result *res;
    long i;
    int bad;
    long n_corner, n_kone, n_strict, n_masked, n_multi; /* how often each clause was exercised */
} acc;

static acc totals;

static void dev_check(acc *a, double got, double ref, double scale, const char *what)
{
    double dev = fabs(got - ref) / (EPS * scale);
    note(a->res, dev, a->i, what);
    a->bad |= !(dev <= JBOUND);
}

static void flag(acc *a, int failed, const char *what)
{
    if (!failed) return;
    a->bad = 1;
    snprintf(a->res->detail, sizeof a->res->detail, "case %ld: %s does not hold; __REPRO: hkref verify -v", a->i,
             what);
}

static int for_rows(hk_check_result *res, int (*fn)(acc *a, const jrow *r))
{
    for (long i = 0; i < NCASES; i++) {
        rcase c;
        HK_TRY(make_case(&c, i));
        acc a = {res, i, 0, 0, 0, 0, 0, 0};
        for (long row = 0; row < c.B * c.NH * c.T; row++) {
            jrow r;
            row_of(&r, &c, row);
            long kept;
            hk_attnmask_row_count(&kept, NULL, r.m, NULL, r.n);
            if (kept == 0) continue; /* all-masked: the policy row, not a theorem case */
            HK_TRY(fn(&a, &r));
        }
        res->cases++;
        res->failed += a.bad;
    }
    return HK_OK;
}

/* Theorem 2 (Eq. 7, 9, 10, 14, 15 for a set M): per kept u,
 *   J^DK_uu = w'_u (1 - w'_u),  J^NG_uu = w'_u (1 - w_u),
 *   J^DK_uu (1 - w_u) = (1 - w'_u) J^NG_uu          (k = (1-w'_u)/(1-w_u), as products)
 *   1 - k = w'_u w_M / (1 - w_u) > 0 iff M nonempty; k = 1 exactly (bitwise) if M empty;
 *   measured J^DK_uu <= J^NG_uu, strictly once w'_u^2 w_M exceeds the rounding bound;
 *   u the only kept key: J^DK_uu = 0 exactly (k = 0);
 *   kept v != u: J^DK_uv = -w'_u w'_v, J^NG_uv = -w'_u w_v, J^DK_uv w_v = J^NG_uv w'_v. */
static int thm2_row(acc *a, const jrow *r)
{
    closed cf;
    closed_forms(&cf, r);
    for (long u = 0; u < r->n; u++) {
        if (r->m[u]) continue;
        double jdk[MAXT], jng[MAXT];
        HK_TRY(measure(jdk, jng, r, u, HK_DROPATTN_NORM_NOGRAD));
        const double s = cf.wp[u];
        dev_check(a, jdk[u], cf.wp[u] * cf.omwp[u], s, "J^DK_uu vs w'(1-w')");
        dev_check(a, jng[u], cf.wp[u] * cf.omw[u], s, "J^NG_uu vs w'(1-w)");
        dev_check(a, jdk[u] * cf.omw[u], cf.omwp[u] * jng[u], s, "J^DK_uu (1-w_u) vs (1-w'_u) J^NG_uu");
        if (r->n == 1) { /* u is the only key at all: both diagonals are 0 exactly and k = 0/0 */
            flag(a, !(jdk[u] == 0.0 && jng[u] == 0.0), "single key: both Jacobians 0");
            continue;
        }
        double one_minus_k = cf.wp[u] * cf.wM / cf.omw[u]; /* positive terms only */
        if (cf.nm > 0) flag(a, !(one_minus_k > 0.0), "1-k > 0 with M nonempty");
        else flag(a, !(one_minus_k == 0.0 && jdk[u] == jng[u]), "k = 1 bitwise with M empty");
        flag(a, !(jdk[u] <= jng[u] + JBOUND * EPS * s), "J^DK_uu <= J^NG_uu");
        if (s * s * cf.wM > 2 * JBOUND * EPS * s) flag(a, !(jdk[u] < jng[u]), "J^DK_uu < J^NG_uu strictly");
        totals.n_corner += cf.nk == 1;
        totals.n_kone += cf.nm == 0;
        totals.n_multi += cf.nm >= 2;
        totals.n_strict += s * s * cf.wM > 2 * JBOUND * EPS * s;
        if (cf.nk == 1) flag(a, !(jdk[u] == 0.0 && cf.omwp[u] == 0.0), "u only kept: J^DK_uu = 0, k = 0");
        for (long v = 0; v < r->n; v++) {
            if (v == u || r->m[v]) continue;
            dev_check(a, jdk[v], -cf.wp[u] * cf.wp[v], s, "J^DK_uv vs -w'_u w'_v");
            dev_check(a, jng[v], -cf.wp[u] * cf.w[v], s, "J^NG_uv vs -w'_u w_v");
            dev_check(a, jdk[v] * cf.w[v], jng[v] * cf.wp[v], s, "J^DK_uv w_v vs J^NG_uv w'_v");
        }
    }
    return HK_OK;
}

/* Theorem 4 (Eq. 8 for a set M): masked m, kept u:
 *   J^NG_um = -w'_u w_m (< 0: the gradient reaches a dropped logit), J^DK_um = 0 exactly. */
static int thm4_row(acc *a, const jrow *r)
{
    closed cf;
    closed_forms(&cf, r);
    for (long u = 0; u < r->n; u++) {
        if (r->m[u]) continue;
        double jdk[MAXT], jng[MAXT];
        HK_TRY(measure(jdk, jng, r, u, HK_DROPATTN_NORM_NOGRAD));
        for (long m = 0; m < r->n; m++) {
            if (!r->m[m]) continue;
            dev_check(a, jng[m], -cf.wp[u] * cf.w[m], cf.wp[u], "J^NG_um vs -w'_u w_m");
            flag(a, !(jdk[m] == 0.0 && jng[m] < 0.0), "J^DK_um = 0 and J^NG_um < 0");
            totals.n_masked++;
        }
    }
    return HK_OK;
}

static int run_thm2(hk_check_result *res)
{
    snprintf(res->unit, sizeof res->unit, "eps*w'_u");
    res->bound = JBOUND;
    memset(&totals, 0, sizeof totals);
    HK_TRY(for_rows(res, thm2_row));
    size_t len = strlen(res->detail);
    snprintf(res->detail + len, sizeof res->detail - len,
             " | exercised: k=0 corner (u only kept) %ld, k=1 (M empty) %ld, |M|>=2 %ld, measured J^DK_uu < J^NG_uu %ld",
             totals.n_corner, totals.n_kone, totals.n_multi, totals.n_strict);
    /* Coverage is part of the claim: a clause never exercised is a failure, not a pass. */
    if (!totals.n_corner || !totals.n_kone || !totals.n_multi || !totals.n_strict) res->failed++;
    return HK_OK;
}

static int run_thm4(hk_check_result *res)
{
    snprintf(res->unit, sizeof res->unit, "eps*w'_u");
    res->bound = JBOUND;
    memset(&totals, 0, sizeof totals);
    HK_TRY(for_rows(res, thm4_row));
    size_t len = strlen(res->detail);
    snprintf(res->detail + len, sizeof res->detail - len, " | (u, m) pairs checked: %ld", totals.n_masked);
    if (!totals.n_masked) res->failed++; /* never exercised: not a pass */
    return HK_OK;
}

/* ---- Theorem 2/4 against finite differences ------------------------------ */

typedef struct {
    const jrow *r;
    long u;
    int nograd;  /* 0: DropKey's w'_u; 1: softmax(g)_u / Z0 with Z0 frozen */
    double Z0;
    double g[MAXT];
} fd_ctx;

static double fd_loss(void *p)
{
    fd_ctx *c = p;
    double w[MAXT];
    const long n = c->r->n;
    if (!c->nograd) {
        hk_dropkey_config dk = {c->r->m, NULL, HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP};
        return hk_dropkey_forward(w, c->g, &dk, 1, 1, 1, n) ? NAN : w[c->u];
    }
    /* The NoGrad variant's backward is the derivative of this: denominator frozen. */
    return hk_softmax_forward(w, c->g, 1, n) ? NAN : w[c->u] / c->Z0;
}

static int fd_row(acc *a, const jrow *r)
{
    closed cf;
    closed_forms(&cf, r);
    double w[MAXT], Z0 = 0.0;
    HK_TRY(hk_softmax_forward(w, r->g, 1, r->n));
    long nd = 0;
    for (long i = 0; i < r->n; i++) {
        if (!r->m[i]) Z0 += w[i];
        nd += r->m[i];
    }
    if (nd == 0) Z0 = 1.0; /* no dropped key: the library copies the row */
    for (long u = 0; u < r->n; u++) {
        if (r->m[u]) continue;
        double jdk[MAXT], jng[MAXT];
        HK_TRY(measure(jdk, jng, r, u, HK_DROPATTN_NORM_NOGRAD));
        fd_ctx cdk = {r, u, 0, 1.0, {0}}, cng = {r, u, 1, Z0, {0}};
        memcpy(cdk.g, r->g, sizeof(double) * (size_t)r->n);
        memcpy(cng.g, r->g, sizeof(double) * (size_t)r->n);
        hk_gc_var vdk = {"J^DK row", cdk.g, jdk, r->n}, vng = {"J^NG row", cng.g, jng, r->n};
        hk_gc_report rdk, rng;
        HK_TRY(hk_gradcheck(fd_loss, &cdk, &vdk, 1, NULL, &rdk));
        HK_TRY(hk_gradcheck(fd_loss, &cng, &vng, 1, NULL, &rng));
        note(a->res, rdk.worst_ratio, a->i, "J^DK row vs FD");
        note(a->res, rng.worst_ratio, a->i, "J^NG row vs FD (denominator frozen)");
        a->bad |= rdk.failed || rng.failed;
    }
    return HK_OK;
}

static int run_thm2_fd(hk_check_result *res)
{
    snprintf(res->unit, sizeof res->unit, "err/tol");
    res->bound = 1.0;
    return for_rows(res, fd_row);
}

/* ---- Theorem 3: NORM (no NoGrad) has DropKey's backward ------------------ */

/* |dg_DK - dg_NORM| / (eps max_k |d_row,k|), bound 4 (T + 4). */
static int run_thm3(hk_check_result *res)
{
    snprintf(res->unit, sizeof res->unit, "eps*max|d|");
    res->bound = JBOUND;
    for (long i = 0; i < NCASES; i++) {
        rcase c;
        HK_TRY(make_case(&c, i));
        double d[MAXN], wdk[MAXN], w[MAXN], wda[MAXN], g1[MAXN] = {0}, g2[MAXN] = {0}, dw[MAXN] = {0};
        gsl_rng *r = hk_rng_new(5000 + (unsigned long)i);
        if (!r) return HK_ENOMEM;
        int st = hk_rng_fill_uniform(d, c.n, -1.0, 1.0, r);
        hk_rng_free(r);
        HK_TRY(st);
        hk_dropkey_config dk = {c.mask, case_pad(&c), HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP};
        hk_dropattn_config da = {c.mask, case_pad(&c), HK_DROPATTN_NORM, c.p, HK_ALLMASK_KEEP};
        HK_TRY(hk_dropkey_forward(wdk, c.g, &dk, c.B, c.NH, c.T, c.T));
        HK_TRY(hk_dropkey_backward(g1, d, wdk, &dk, c.B, c.NH, c.T, c.T));
        HK_TRY(hk_softmax_forward(w, c.g, c.B * c.NH * c.T, c.T));
        HK_TRY(hk_dropattn_forward(wda, w, &da, c.B, c.NH, c.T, c.T));
        HK_TRY(hk_dropattn_backward(dw, d, w, wda, &da, c.B, c.NH, c.T, c.T));
        HK_TRY(hk_softmax_backward(g2, dw, w, c.B * c.NH * c.T, c.T));
        res->cases++;
        int bad = 0;
        for (long row = 0; row < c.B * c.NH * c.T; row++) {
            double dmax = 0.0;
            for (long k = 0; k < c.T; k++) dmax = fmax(dmax, fabs(d[row * c.T + k]));
            for (long k = 0; k < c.T; k++) {
                double dev = fabs(g1[row * c.T + k] - g2[row * c.T + k]) / (EPS * dmax);
                note(res, dev, i, "dL/dg element");
                bad |= !(dev <= res->bound);
            }
        }
        res->failed += bad;
    }
    return HK_OK;
}

/* ---- finite-difference checks of the backward passes --------------------- */

enum { GB = 1, GNH = 2, GT = 5, GN = GB * GNH * GT * GT };

/* The NoGrad forward with each row's denominator frozen at Z0[row] (rows the
 * library copies -- no dropped key, or all-masked under KEEP -- are copied):
 * the function whose derivative the NoGrad backward is. */
static void nograd_frozen(double *w_out, const double *w_in, const double *Z0, const hk_dropattn_config *cfg,
                          long rows, long T)
{
    for (long row = 0; row < rows; row++) {
        long kept, dropped;
        hk_attnmask_row_count(&kept, &dropped, cfg->mask + row * T, NULL, T);
        for (long k = 0; k < T; k++) {
            double x = w_in[row * T + k];
            if (kept == 0) w_out[row * T + k] = cfg->policy == HK_ALLMASK_KEEP ? x : 0.0;
            else if (dropped == 0) w_out[row * T + k] = x;
            else w_out[row * T + k] = cfg->mask[row * T + k] ? 0.0 : x / Z0[row];
        }
    }
}

static void row_sums_kept(double *Z0, const double *w, const uint8_t *mask, const uint8_t *pad, long B, long NH,
                          long T)
{
    for (long row = 0; row < B * NH * T; row++) {
        const long b = row / (NH * T);
        Z0[row] = 0.0;
        for (long k = 0; k < T; k++)
            if (!mask[row * T + k] && !(pad && pad[b * T + k])) Z0[row] += w[row * T + k];
    }
}

/* Fixed mask for the core checks: column pattern p = 0.4, then row 0 forced
 * all-masked and row 1 forced undropped, so every row policy is exercised. */
static int core_mask(uint8_t *mask)
{
    gsl_rng *r = hk_rng_new(41);
    if (!r) return HK_ENOMEM;
    int st = hk_attnmask_sample(mask, HK_PATTERN_COLUMN, 0.4, NULL, GB, GNH, GT, GT, r);
    hk_rng_free(r);
    memset(mask, 1, GT);
    memset(mask + GT, 0, GT);
    return st;
}

typedef struct {
    int dk;                  /* 1 DropKey (g -> w'), 0 DropAttention (w -> w') */
    hk_dropkey_config kc;
    hk_dropattn_config ac;
    double Z0[GB * GNH * GT];
    double x[GN], y[GN], dy[GN];
} core_ctx;

static double core_loss(void *p)
{
    core_ctx *c = p;
    int st = HK_OK;
    if (c->dk) st = hk_dropkey_forward(c->y, c->x, &c->kc, GB, GNH, GT, GT);
    else if (c->ac.variant == HK_DROPATTN_NORM_NOGRAD) nograd_frozen(c->y, c->x, c->Z0, &c->ac, GB * GNH * GT, GT);
    else st = hk_dropattn_forward(c->y, c->x, &c->ac, GB, GNH, GT, GT);
    return st ? NAN : hk_dot(c->y, c->dy, GN);
}

static int core_run(hk_check_result *res, int dk, int form_or_variant, hk_allmask_policy pol)
{
    static uint8_t mask[GN];
    HK_TRY(core_mask(mask));
    core_ctx c;
    memset(&c, 0, sizeof c);
    c.dk = dk;
    c.kc = (hk_dropkey_config){mask, NULL, (hk_dropkey_form)form_or_variant, pol};
    c.ac = (hk_dropattn_config){mask, NULL, (hk_dropattn_variant)form_or_variant, 0.4, pol};
    gsl_rng *r = hk_rng_new(42);
    if (!r) return HK_ENOMEM;
    /* DropKey: logits in [-2,2]; DropAttention in isolation: positive weights
     * that need not sum to 1, so the hook's own Jacobian is fully exercised. */
    int st = dk ? hk_rng_fill_uniform(c.x, GN, -2.0, 2.0, r) : hk_rng_fill_uniform(c.x, GN, 0.05, 1.0, r);
    if (!st) st = hk_rng_fill_uniform(c.dy, GN, -1.0, 1.0, r);
    hk_rng_free(r);
    HK_TRY(st);
    double dx[GN] = {0};
    if (dk) {
        HK_TRY(hk_dropkey_forward(c.y, c.x, &c.kc, GB, GNH, GT, GT));
        HK_TRY(hk_dropkey_backward(dx, c.dy, c.y, &c.kc, GB, GNH, GT, GT));
    } else {
        row_sums_kept(c.Z0, c.x, mask, NULL, GB, GNH, GT);
        HK_TRY(hk_dropattn_forward(c.y, c.x, &c.ac, GB, GNH, GT, GT));
        HK_TRY(hk_dropattn_backward(dx, c.dy, c.x, c.y, &c.ac, GB, GNH, GT, GT));
    }
    hk_gc_var v = {dk ? "dg" : "dw_in", c.x, dx, GN};
    hk_gc_report rep;
    HK_TRY(hk_gradcheck(core_loss, &c, &v, 1, NULL, &rep));
    hk_check_from_gc(res, &rep);
    return HK_OK;
}

#define CORE(fn, dk, fv, pol) \
    static int fn(hk_check_result *res) { return core_run(res, dk, fv, pol); }
CORE(gc_dk_neginf_keep, 1, HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP)
CORE(gc_dk_neginf_zero, 1, HK_DROPKEY_NEGINF, HK_ALLMASK_ZERO)
CORE(gc_dk_finite_keep, 1, HK_DROPKEY_FINITE, HK_ALLMASK_KEEP)
CORE(gc_da_classic_keep, 0, HK_DROPATTN_CLASSIC, HK_ALLMASK_KEEP)
CORE(gc_da_classic_zero, 0, HK_DROPATTN_CLASSIC, HK_ALLMASK_ZERO)
CORE(gc_da_nograd_keep, 0, HK_DROPATTN_NORM_NOGRAD, HK_ALLMASK_KEEP)
CORE(gc_da_norm_keep, 0, HK_DROPATTN_NORM, HK_ALLMASK_KEEP)
CORE(gc_da_norm_zero, 0, HK_DROPATTN_NORM, HK_ALLMASK_ZERO)

/* ---- full attention under every method x pattern ------------------------- */

enum { AB = 2, AT = 5, AC = 6, ANH = 2, AR = 2 };
enum { ABTC = AB * AT * AC, ALOG = AB * ANH * AT * AT };
enum { M_DK_NEGINF, M_DK_FINITE, M_DA_CLASSIC, M_DA_NOGRAD, M_DA_NORM, M_COUNT };

typedef struct {
    hk_attn_config cfg;
    hk_attn_params P;
    hk_attn_cache cache;
    const uint8_t *pad;
    hk_attn_hooks hooks;
    hk_dropkey_config kc;
    hk_dropattn_config ac;
    double Z0[AB * ANH * AT];
    double x[ABTC], out[ABTC], dout[ABTC];
} att_ctx;

/* Forward of the frozen-denominator NoGrad weights hook (loss only). */
static int frozen_hook_fwd(void *ctx, double *w_out, const double *w_in, long B, long NH, long T)
{
    att_ctx *c = ctx;
    nograd_frozen(w_out, w_in, c->Z0, &c->ac, B * NH * T, T);
    return HK_OK;
}

static int ac_hook_bwd(void *ctx, double *d_in, const double *d_out, const double *w_in, const double *w_out,
                       long B, long NH, long T)
{
    att_ctx *c = ctx;
    return hk_dropattn_backward(d_in, d_out, w_in, w_out, &c->ac, B, NH, T, T);
}

static double att_loss(void *p)
{
    att_ctx *c = p;
    if (hk_attn_forward(c->out, &c->cache, c->x, &c->P, &c->cfg, c->pad, NULL, &c->hooks)) return NAN;
    return hk_dot(c->out, c->dout, ABTC);
}

/* Padding as in chk_attention: b=0 pads its last two keys, b=1 its first. */
static const uint8_t ATT_PAD[AB * AT] = {0, 0, 0, 1, 1, 1, 0, 0, 0, 0};

/* Allocates c->P, *G and the cache, fills parameters, input, upstream
 * gradient (seed) and the mask of `method` at rate p; the caller frees
 * (hk_attn_*_free is safe on what was never allocated). */
static int att_setup(att_ctx *c, hk_attn_params *G, uint8_t *mask, int method, hk_pattern pat, double p,
                     unsigned long seed)
{
    static const hk_dropattn_variant var[M_COUNT] = {0, 0, HK_DROPATTN_CLASSIC, HK_DROPATTN_NORM_NOGRAD,
                                                     HK_DROPATTN_NORM};
    memset(c, 0, sizeof *c);
    memset(G, 0, sizeof *G);
    c->cfg = (hk_attn_config){.B = AB, .T = AT, .C = AC, .NH = ANH, .lora = HK_ATTN_LORA_KV, .r = AR, .alpha = 4.0};
    c->pad = ATT_PAD;
    HK_TRY(hk_attn_params_alloc(&c->P, &c->cfg, 1));
    HK_TRY(hk_attn_params_alloc(G, &c->cfg, 1));
    HK_TRY(hk_attn_cache_alloc(&c->cache, &c->cfg));
    gsl_rng *r = hk_rng_new(seed);
    if (!r) return HK_ENOMEM;
    int st = hk_fixture_attn_params(&c->P, &c->cfg, r);
    if (!st) st = hk_rng_fill_uniform(c->x, ABTC, -1.0, 1.0, r);
    if (!st) st = hk_rng_fill_uniform(c->dout, ABTC, -1.0, 1.0, r);
    if (!st) st = hk_attnmask_sample(mask, pat, p, ATT_PAD, AB, ANH, AT, AT, r);
    hk_rng_free(r);
    HK_TRY(st);
    c->kc = (hk_dropkey_config){mask, ATT_PAD, method == M_DK_FINITE ? HK_DROPKEY_FINITE : HK_DROPKEY_NEGINF,
                                HK_ALLMASK_KEEP};
    c->ac = (hk_dropattn_config){mask, ATT_PAD, var[method], p, HK_ALLMASK_KEEP};
    return method <= M_DK_FINITE ? hk_dropkey_hooks(&c->hooks, &c->kc) : hk_dropattn_hooks(&c->hooks, &c->ac);
}

static void att_free(att_ctx *c, hk_attn_params *G)
{
    hk_attn_cache_free(&c->cache);
    hk_attn_params_free(&c->P);
    hk_attn_params_free(G);
}

static int att_run(hk_check_result *res, int method, hk_pattern pat)
{
    static uint8_t mask[ALOG];
    att_ctx c;
    hk_attn_params G;
    int st = att_setup(&c, &G, mask, method, pat, 0.4, 43);
    const uint8_t *pad = ATT_PAD;
    double dx[ABTC] = {0};
    if (!st) st = hk_attn_forward(c.out, &c.cache, c.x, &c.P, &c.cfg, c.pad, NULL, &c.hooks);
    if (!st) st = hk_attn_backward(dx, &G, c.dout, &c.cache, c.x, &c.P, &c.cfg, c.pad, NULL, &c.hooks);
    if (!st && method == M_DA_NOGRAD) {
        /* The NoGrad gradient is checked against the forward with Z frozen. */
        row_sums_kept(c.Z0, c.cache.w_pre, mask, pad, AB, ANH, AT);
        c.hooks.ctx = &c;
        c.hooks.weights_forward = frozen_hook_fwd;
        c.hooks.weights_backward = ac_hook_bwd;
    }
    if (!st) {
        static const char *const names[4][4] = {{"W[q]", "b[q]", "", ""},
                                                {"W[k]", "b[k]", "A[k]", "B[k]"},
                                                {"W[v]", "b[v]", "A[v]", "B[v]"},
                                                {"W[o]", "b[o]", "", ""}};
        hk_gc_var v[1 + 12];
        int nv = 0;
        v[nv++] = (hk_gc_var){"dx", c.x, dx, ABTC};
        for (int i = 0; i < HK_ATTN_NPROJ; i++) {
            v[nv++] = (hk_gc_var){names[i][0], c.P.W[i], G.W[i], AC * AC};
            v[nv++] = (hk_gc_var){names[i][1], c.P.b[i], G.b[i], AC};
            if (i != HK_ATTN_K && i != HK_ATTN_V) continue;
            v[nv++] = (hk_gc_var){names[i][2], c.P.A[i], G.A[i], AR * AC};
            v[nv++] = (hk_gc_var){names[i][3], c.P.B[i], G.B[i], AC * AR};
        }
        hk_gc_report rep;
        st = hk_gradcheck(att_loss, &c, v, nv, NULL, &rep);
        if (!st) hk_check_from_gc(res, &rep);
    }
    att_free(&c, &G);
    return st;
}

/* ---- Theorem 3 through the whole attention -------------------------------- */

/* Output and every gradient (input, W, b, LoRA A and B on k and v) of the
 * attention of att_run's configuration with `method` hooks, mask seed `seed`. */
enum { NGRAD = 1 + 4 * 2 + 2 * 2 };
static int att_grads(double *out, double *flat, long *len, int method, hk_pattern pat, unsigned long seed)
{
    static uint8_t mask[ALOG];
    att_ctx c;
    hk_attn_params G;
    int st = att_setup(&c, &G, mask, method, pat, 0.5, seed);
    const uint8_t *pad = ATT_PAD;
    double dx[ABTC] = {0};
    if (!st) st = hk_attn_forward(out, &c.cache, c.x, &c.P, &c.cfg, pad, NULL, &c.hooks);
    if (!st) st = hk_attn_backward(dx, &G, c.dout, &c.cache, c.x, &c.P, &c.cfg, pad, NULL, &c.hooks);
    if (!st) {
        long k = 0;
        memcpy(flat, dx, sizeof dx), len[k++] = ABTC;
        for (int i = 0; i < HK_ATTN_NPROJ; i++) {
            long off = 0;
            for (int j = 0; j < k; j++) off += len[j];
            memcpy(flat + off, G.W[i], sizeof(double) * AC * AC), len[k++] = AC * AC;
            memcpy(flat + off + AC * AC, G.b[i], sizeof(double) * AC), len[k++] = AC;
            if (i != HK_ATTN_K && i != HK_ATTN_V) continue;
            memcpy(flat + off + AC * AC + AC, G.A[i], sizeof(double) * AR * AC), len[k++] = AR * AC;
            memcpy(flat + off + AC * AC + AC + AR * AC, G.B[i], sizeof(double) * AC * AR), len[k++] = AC * AR;
        }
    }
    att_free(&c, &G);
    return st;
}

/* Per gradient tensor, ||a - b||_2 / ||a||_2 (a: all of DropKey's gradients) in units of eps.  Bound 256:
 * the paths differ only by rounding (w' to 30 ulp, dL/dg to 40 eps max|dL/dw'|,
 * theorems 1, 3: ~70 eps), then pass through the same linear maps, each
 * entry a sum of at most T*C = 30 products (+30 u); 256 eps = 5.7e-14.  Power check: NoGrad, which
 * differs by w_M w'w'^T (proofs §4), must be > 1e-6 away in some tensor. */
static int run_thm3_att(hk_check_result *res)
{
    snprintf(res->unit, sizeof res->unit, "eps rel");
    res->bound = 256.0;
    double min_nograd = INFINITY;
    enum { FLAT = ABTC + 4 * (AC * AC + AC) + 2 * 2 * AR * AC };
    double o1[ABTC], o2[ABTC], o3[ABTC], f1[FLAT], f2[FLAT], f3[FLAT];
    long len[NGRAD];
    for (long i = 0; i < 30; i++) {
        hk_pattern pat = (hk_pattern)(i % 3);
        HK_TRY(att_grads(o1, f1, len, M_DK_NEGINF, pat, 600 + (unsigned long)i));
        HK_TRY(att_grads(o2, f2, len, M_DA_NORM, pat, 600 + (unsigned long)i));
        HK_TRY(att_grads(o3, f3, len, M_DA_NOGRAD, pat, 600 + (unsigned long)i));
        res->cases++;
        /* Scale: the norm of the whole gradient (all tensors).  Per tensor
         * would divide by ~1e-17 for b[k], whose exact gradient is 0
         * (softmax is shift invariant along each row). */
        double na = 0.0, worst = 0.0, nograd = 0.0;
        for (long j = 0; j < FLAT; j++) na += f1[j] * f1[j];
        na = sqrt(na);
        for (long t = 0, off = 0; t < NGRAD; off += len[t], t++) {
            double nd = 0, n3 = 0;
            for (long j = off; j < off + len[t]; j++) {
                nd += (f1[j] - f2[j]) * (f1[j] - f2[j]);
                n3 += (f1[j] - f3[j]) * (f1[j] - f3[j]);
            }
            worst = fmax(worst, sqrt(nd) / (EPS * na));
            nograd = fmax(nograd, sqrt(n3) / na);
        }
        note(res, worst, i, "||dDK - dNORM||_tensor / ||dDK||_all");
        int bad = !(worst <= res->bound);
        min_nograd = fmin(min_nograd, nograd);
        if (!(nograd > 1e-6)) {
            bad = 1;
            snprintf(res->detail, sizeof res->detail, "case %ld: NoGrad gradients equal DropKey's (%g): power lost",
                     i, nograd);
        }
        res->failed += bad;
    }
    size_t l = strlen(res->detail);
    snprintf(res->detail + l, sizeof res->detail - l, " | power: NoGrad differs by >= %.3g relative", min_nograd);
    return HK_OK;
}

#define ATT(m, pat) \
    static int att_##m##_##pat(hk_check_result *res) { return att_run(res, m, HK_PATTERN_##pat); }
#define ATT3(m) ATT(m, ELEMENT) ATT(m, COLUMN) ATT(m, SPAN)
ATT3(M_DK_NEGINF)
ATT3(M_DK_FINITE)
ATT3(M_DA_CLASSIC)
ATT3(M_DA_NOGRAD)
ATT3(M_DA_NORM)

#define ATT_ROW(m, pat, nm, pn, what, title) \
    {"gradcheck", "attndrop.attention." nm "." pn, what, att_##m##_##pat, title ", " pn " mask: backward matches finite differences"}
#define ATT_ROWS(m, nm, what, title)                                                                       \
    ATT_ROW(m, ELEMENT, nm, "element", what, title), ATT_ROW(m, COLUMN, nm, "column", what, title),            \
        ATT_ROW(m, SPAN, nm, "span", what, title)

static const hk_check checks[] = {
    {"theorem", "attndrop.thm1.forward",
     "DropKey w' = normalized DropAttention w' (Eq. 5 = Eq. 6), 1000 random cases incl. logits +-1000; "
     "per element rel. error <= (4*spread + T + 8) ulp: rounding of g-max, exp, two sums, divisions",
     run_thm1,
     "DropKey equals normalized DropAttention in the forward pass"},
    {"theorem", "attndrop.thm2.ratio",
     "per kept u: J^DK_uu (1-w_u) = (1-w'_u) J^NG_uu (k = (1-w'_u)/(1-w_u) for any set M), 1-k > 0 from "
     "positive terms, k=1 bitwise if M empty, k=0 if u only kept; u!=v entries; dev/(eps w'_u) <= 4(T+4)",
     run_thm2,
     "DropKey's gradient is k < 1 times NoGrad DropAttention's, k = (1 - w'_u)/(1 - w_u)"},
    {"theorem", "attndrop.thm2.fd",
     "Jacobian rows of DropKey and NoGrad DropAttention (vs the forward with the denominator frozen) "
     "against central FD, per element; 1000 cases",
     run_thm2_fd,
     "The Jacobians behind k agree with finite differences"},
    {"theorem", "attndrop.thm3.norm_is_dropkey",
     "DropAttention without NoGrad has DropKey's backward: dL/dg equal to 4(T+4) eps max|dL/dw'|, 1000 cases",
     run_thm3,
     "DropAttention without NoGrad has exactly DropKey's backward"},
    {"theorem", "attndrop.thm3.attention",
     "DropKey vs normalized DropAttention inside MHA (LoRA k,v; padding; p=0.5; 30 masks, 3 patterns): every "
     "gradient (input, W, b, LoRA A, B) equal to 256 eps of the gradient norm; NoGrad must differ by > 1e-6 (power)",
     run_thm3_att,
     "Inside attention, normalized DropAttention and DropKey give the same gradients"},
    {"theorem", "attndrop.thm4.nograd_leak",
     "NoGrad: d w'_u / d g_m = -w'_u w_m < 0 for masked m (Eq. 8, any set M), DropKey's is exactly 0; 1000 cases",
     run_thm4,
     "NoGrad DropAttention leaks gradient -w'_u w_m to dropped logits; DropKey does not"},
    {"property", "attndrop.dropkey.finite_form",
     "DropKey with -1e12 gives the -inf form's weights and gradients bit for bit (|g| <= 1004), 1000 cases",
     run_finite,
     "DropKey with -1e12 equals DropKey with -inf, bit for bit"},
    {"gradcheck", "attndrop.dropkey.neginf.keep", "DropKey g -> w' (-inf form) vs FD; rows all-masked and undropped",
     gc_dk_neginf_keep,
     "DropKey (-inf), all-masked rows kept: backward matches finite differences"},
    {"gradcheck", "attndrop.dropkey.neginf.zero", "DropKey g -> w' vs FD, all-masked row policy zero",
     gc_dk_neginf_zero,
     "DropKey (-inf), all-masked rows zeroed: backward matches finite differences"},
    {"gradcheck", "attndrop.dropkey.finite.keep", "DropKey g -> w' (-1e12 form) vs FD", gc_dk_finite_keep,
     "DropKey (-1e12): backward matches finite differences"},
    {"gradcheck", "attndrop.dropattn.classic.keep", "DropAttention classic w m/(1-p) vs FD, w_in unnormalized",
     gc_da_classic_keep,
     "Classic DropAttention w m/(1-p): backward matches finite differences"},
    {"gradcheck", "attndrop.dropattn.classic.zero", "DropAttention classic vs FD, policy zero", gc_da_classic_zero,
     "Classic DropAttention, all-masked rows zeroed: backward matches finite differences"},
    {"gradcheck", "attndrop.dropattn.nograd.keep",
     "DropAttention NoGrad backward vs FD of the forward WITH THE DENOMINATOR FROZEN (by design not the "
     "derivative of its own forward)",
     gc_da_nograd_keep,
     "NoGrad DropAttention matches finite differences of the frozen-denominator forward"},
    {"gradcheck", "attndrop.dropattn.norm.keep", "DropAttention normalized, gradient through Z, vs FD",
     gc_da_norm_keep,
     "Normalized DropAttention, gradient through the sum: backward matches finite differences"},
    {"gradcheck", "attndrop.dropattn.norm.zero", "DropAttention normalized vs FD, policy zero", gc_da_norm_zero,
     "Normalized DropAttention, all-masked rows zeroed: backward matches finite differences"},
    ATT_ROWS(M_DK_NEGINF, "dropkey", "MHA (LoRA k,v; padding) with DropKey -inf hooks, fixed mask p=0.4, vs FD",
             "Attention with DropKey (-inf)"),
    ATT_ROWS(M_DK_FINITE, "dropkey_finite", "MHA with DropKey -1e12 hooks, fixed mask, vs FD",
             "Attention with DropKey (-1e12)"),
    ATT_ROWS(M_DA_CLASSIC, "dropattn_classic", "MHA with classic DropAttention, fixed mask, vs FD",
             "Attention with classic DropAttention"),
    ATT_ROWS(M_DA_NOGRAD, "dropattn_nograd",
             "MHA with NoGrad DropAttention: backward vs FD of the forward with each row's denominator frozen",
             "Attention with NoGrad DropAttention (frozen denominator)"),
    ATT_ROWS(M_DA_NORM, "dropattn_norm", "MHA with normalized DropAttention (gradient through Z), vs FD",
             "Attention with normalized DropAttention"),
};

const hk_check *hk_checks_attndrop(size_t *n)
{
    *n = sizeof checks / sizeof checks[0];
    return checks;
}
