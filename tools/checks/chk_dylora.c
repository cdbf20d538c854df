/* hkref — registered checks of DyLoRA (ref/dylora.c) and its spectrum (ref/spectrum.c).
 *
 * One fixture: N = 3 examples, IN = 5, OUT = 4, rank range [1, 4] (or [2, 4]
 * for the nested loss, so r_min > 1 is exercised), alpha = 6 (so alpha/b is
 * not 1 at any b), every value drawn from a fixed seed with entropy (no 0/1
 * shortcuts); B is drawn non-zero (a zero-init B would make dA vanish and
 * its check vacuous). */
#include "checks.h"
#include "dylora_demo.h"

#include "ref/dylora.h"
#include "ref/error.h"
#include "ref/lora.h"
#include "ref/rng.h"
#include "ref/spectrum.h"

#include <float.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N = 3, IN = 5, OUT = 4, R = 4 };

typedef struct {
    hk_dylora_dims d;
    long b;
    double p;
    uint8_t mask[N * IN];
    double x[N * IN], W0[OUT * IN], bias[OUT], A[R * IN], B[OUT * R], target[N * OUT], dy[N * OUT];
    double y[N * OUT], xa[N * R];
    double pmf[R];
    int which; /* 0 truncated forward, 1 individual loss, 2 nested loss */
    /* frozen mode: the trained row / column live here and are copied in */
    int frozen;
    double rowA[IN], colB[OUT];
} fx;

static int fixture(fx *f, unsigned long seed, long r_min, long b)
{
    memset(f, 0, sizeof *f);
    f->d = (hk_dylora_dims){IN, OUT, r_min, R, 6.0};
    f->b = b;
    gsl_rng *r = hk_rng_new(seed);
    if (!r) return HK_ENOMEM;
    hk_rng_fill_uniform(f->x, N * IN, -2.0, 2.0, r);
    hk_rng_fill_uniform(f->W0, OUT * IN, -1.0, 1.0, r);
    hk_rng_fill_uniform(f->bias, OUT, -0.5, 0.5, r);
    hk_rng_fill_uniform(f->A, R * IN, -0.45, 0.45, r);
    hk_rng_fill_uniform(f->B, OUT * R, -0.3, 0.3, r);
    hk_rng_fill_uniform(f->target, N * OUT, -1.5, 1.5, r);
    hk_rng_fill_uniform(f->dy, N * OUT, -1.0, 1.0, r);
    f->p = 0.25;
    int s = hk_mask_bernoulli(f->mask, N * IN, f->p, r);
    hk_rng_free(r);
    return s;
}

static void frozen_copy_in(fx *f)
{
    if (!f->frozen) return;
    long k = f->b - 1;
    memcpy(f->A + k * IN, f->rowA, sizeof f->rowA);
    for (long o = 0; o < OUT; o++) f->B[o * R + k] = f->colB[o];
}

static double fx_loss(void *p)
{
    fx *f = p;
    frozen_copy_in(f);
    double L = NAN;
    if (f->which == 0) {
        if (hk_dylora_forward(f->y, f->xa, f->x, f->W0, f->bias, f->A, f->B, f->mask, f->p, N, f->b, &f->d)) return NAN;
        L = hk_dot(f->y, f->dy, N * OUT);
    } else if (f->which == 1) {
        if (hk_dylora_loss_forward(&L, f->x, f->target, f->W0, f->bias, f->A, f->B, N, f->b, &f->d)) return NAN;
    } else {
        if (hk_dylora_nested_loss_forward(&L, f->x, f->target, f->W0, f->bias, f->A, f->B, f->pmf, N, &f->d))
            return NAN;
    }
    return L;
}

/* Truncated forward at rank b: x, A (all rows), B (all columns) against FD.
 * Rows >= b of A and columns >= b of B have FD derivative 0 and must have
 * analytic gradient 0, so the same check covers the zero-gradient rule. */
static int trunc_run(hk_check_result *res, long b)
{
    fx f;
    HK_TRY(fixture(&f, 601, 1, b));
    double dx[N * IN] = {0}, dA[R * IN] = {0}, dB[OUT * R] = {0};
    HK_TRY(hk_dylora_forward(f.y, f.xa, f.x, f.W0, f.bias, f.A, f.B, f.mask, f.p, N, b, &f.d));
    HK_TRY(hk_dylora_backward(dx, dA, dB, f.dy, f.x, f.xa, f.W0, f.A, f.B, f.mask, f.p, N, b, &f.d));
    hk_gc_var v[] = {{"dx", f.x, dx, N * IN}, {"dA", f.A, dA, R * IN}, {"dB", f.B, dB, OUT * R}};
    hk_gc_report rep;
    HK_TRY(hk_gradcheck(fx_loss, &f, v, 3, NULL, &rep));
    hk_check_from_gc(res, &rep);
    return HK_OK;
}
static int run_trunc_b1(hk_check_result *res) { return trunc_run(res, 1); }
static int run_trunc_b2(hk_check_result *res) { return trunc_run(res, 2); }
static int run_trunc_br(hk_check_result *res) { return trunc_run(res, R); }

static int loss_run(hk_check_result *res, int nested, hk_dylora_dist dist)
{
    fx f;
    HK_TRY(fixture(&f, 602, nested ? 2 : 1, 3));
    f.which = nested ? 2 : 1;
    HK_TRY(hk_dylora_rank_pmf(f.pmf, f.d.r_min, R, dist, 0.4));
    double dA[R * IN] = {0}, dB[OUT * R] = {0};
    if (nested)
        HK_TRY(hk_dylora_nested_loss_backward(dA, dB, f.x, f.target, f.W0, f.bias, f.A, f.B, f.pmf, N, &f.d));
    else
        HK_TRY(hk_dylora_loss_backward(dA, dB, f.x, f.target, f.W0, f.bias, f.A, f.B, N, f.b, &f.d));
    hk_gc_var v[] = {{"dA", f.A, dA, R * IN}, {"dB", f.B, dB, OUT * R}};
    hk_gc_report rep;
    HK_TRY(hk_gradcheck(fx_loss, &f, v, 2, NULL, &rep));
    hk_check_from_gc(res, &rep);
    return HK_OK;
}
static int run_loss_individual(hk_check_result *res) { return loss_run(res, 0, HK_DYLORA_UNIFORM); }
static int run_loss_nested_uniform(hk_check_result *res) { return loss_run(res, 1, HK_DYLORA_UNIFORM); }
static int run_loss_nested_geometric(hk_check_result *res) { return loss_run(res, 1, HK_DYLORA_GEOMETRIC); }

/* Frozen mode at b = 3: the masked gradient of row 2 of A / column 2 of B
 * against FD of the individual loss in those coordinates only; every held
 * coordinate (rows/cols 0, 1 by the mask, 3 by truncation) must be exactly 0. */
static int run_frozen(hk_check_result *res)
{
    fx f;
    HK_TRY(fixture(&f, 603, 1, 3));
    f.which = 1;
    double dA[R * IN] = {0}, dB[OUT * R] = {0};
    HK_TRY(hk_dylora_loss_backward(dA, dB, f.x, f.target, f.W0, f.bias, f.A, f.B, N, f.b, &f.d));
    HK_TRY(hk_dylora_frozen_mask_grad(dA, dB, f.b, &f.d));
    long k = f.b - 1, held_nonzero = 0, held = 0;
    double gA[IN], gB[OUT];
    memcpy(f.rowA, f.A + k * IN, sizeof f.rowA);
    memcpy(gA, dA + k * IN, sizeof gA);
    for (long o = 0; o < OUT; o++) {
        f.colB[o] = f.B[o * R + k];
        gB[o] = dB[o * R + k];
    }
    for (long j = 0; j < R; j++) {
        if (j == k) continue;
        for (long i = 0; i < IN; i++, held++) held_nonzero += dA[j * IN + i] != 0.0;
        for (long o = 0; o < OUT; o++, held++) held_nonzero += dB[o * R + j] != 0.0;
    }
    f.frozen = 1;
    hk_gc_var v[] = {{"dA[b-1,:]", f.rowA, gA, IN}, {"dB[:,b-1]", f.colB, gB, OUT}};
    hk_gc_report rep;
    HK_TRY(hk_gradcheck(fx_loss, &f, v, 2, NULL, &rep));
    hk_check_from_gc(res, &rep);
    res->cases += held;
    res->failed += held_nonzero;
    if (held_nonzero) {
        res->worst = INFINITY;
        snprintf(res->detail, sizeof res->detail, "%ld of %ld held coordinates have a non-zero gradient", held_nonzero,
                 held);
    }
    return HK_OK;
}

/* ---- properties ----------------------------------------------------------- */

/* b = r_max is plain LoRA (r = ldB = r_max, scale alpha/r) bit for bit: the
 * deviation is the number of differing outputs and gradients, bound 0. */
static int run_b_eq_r(hk_check_result *res)
{
    fx f;
    HK_TRY(fixture(&f, 604, 1, R));
    double y2[N * OUT], xa2[N * R];
    double dx[N * IN] = {0}, dA[R * IN] = {0}, dB[OUT * R] = {0}, dx2[N * IN] = {0}, dA2[R * IN] = {0},
           dB2[OUT * R] = {0};
    HK_TRY(hk_dylora_forward(f.y, f.xa, f.x, f.W0, f.bias, f.A, f.B, f.mask, f.p, N, R, &f.d));
    HK_TRY(hk_dylora_backward(dx, dA, dB, f.dy, f.x, f.xa, f.W0, f.A, f.B, f.mask, f.p, N, R, &f.d));
    double scale = 6.0 / R;
    HK_TRY(hk_lora_forward(y2, xa2, f.x, f.W0, f.bias, f.A, f.B, f.mask, f.p,
                           &(hk_lora_dims){N, IN, OUT, R, R, scale}));
    HK_TRY(hk_lora_backward(dx2, dA2, dB2, f.dy, f.x, xa2, f.W0, f.A, f.B, f.mask, f.p,
                            &(hk_lora_dims){N, IN, OUT, R, R, scale}));
    long diff = 0;
    for (long i = 0; i < N * OUT; i++) diff += memcmp(&f.y[i], &y2[i], sizeof(double)) != 0;
    for (long i = 0; i < N * IN; i++) diff += memcmp(&dx[i], &dx2[i], sizeof(double)) != 0;
    for (long i = 0; i < R * IN; i++) diff += memcmp(&dA[i], &dA2[i], sizeof(double)) != 0;
    for (long i = 0; i < OUT * R; i++) diff += memcmp(&dB[i], &dB2[i], sizeof(double)) != 0;
    res->cases = N * OUT + N * IN + R * IN + OUT * R;
    res->failed = diff;
    res->worst = (double)diff;
    res->bound = 0.0;
    snprintf(res->unit, sizeof res->unit, "bits≠");
    snprintf(res->detail, sizeof res->detail, "%ld of %ld values of y, dx, dA, dB differ from hk_lora_* at r = %d",
             diff, res->cases, R);
    return HK_OK;
}

/* Magnitude of the forward: M = y evaluated on |x|, |W0|, |bias|, |A|, |B|,
 * |alpha| without dropout.  Two evaluation orders of y each err by at most
 * gamma_K M (Higham, Thm 3.5; K = IN + b + 3 chained roundings: the IN-term
 * x A^T, the b-term product with B, the scale, the sum with the base), so
 * they differ by at most 2 gamma_K M ~ 2 K eps M. */
static int forward_magnitude(double *M, double *axa, const fx *f, long b)
{
    double ax[N * IN], aW[OUT * IN], ab[OUT], aA[R * IN], aB[OUT * R], xa[N * R];
    if (!axa) axa = xa;
    for (long i = 0; i < N * IN; i++) ax[i] = fabs(f->x[i]);
    for (long i = 0; i < OUT * IN; i++) aW[i] = fabs(f->W0[i]);
    for (long i = 0; i < OUT; i++) ab[i] = fabs(f->bias[i]);
    for (long i = 0; i < R * IN; i++) aA[i] = fabs(f->A[i]);
    for (long i = 0; i < OUT * R; i++) aB[i] = fabs(f->B[i]);
    hk_dylora_dims d = f->d;
    d.alpha = fabs(d.alpha);
    return hk_dylora_forward(M, axa, ax, aW, ab, aA, aB, NULL, 0.0, N, b, &d);
}

/* worst |got - ref| / (2 K eps M) over one (N,OUT) output */
static double ratio_to_bound(const double *got, const double *ref, const double *M, long K, long *worst_i)
{
    double worst = 0.0;
    for (long i = 0; i < N * OUT; i++) {
        double bound = 2.0 * (double)K * DBL_EPSILON * M[i];
        double r = fabs(got[i] - ref[i]) / bound;
        if (!(r <= worst)) {
            worst = r;
            *worst_i = i;
        }
    }
    return worst;
}

/* Scale alpha/b, the official code's way: plain LoRA at r = r_max with scale
 * alpha/r on the factors sqrt(r/b) A[:b,:] and sqrt(r/b) B[:,:b] equals the
 * truncated forward (alpha/b) B[:,:b] A[:b,:] x up to rounding (the sqrt
 * adds 3 roundings per term: K = IN + b + 6). */
static int run_scale(hk_check_result *res)
{
    fx f;
    HK_TRY(fixture(&f, 605, 1, 1));
    res->bound = 1.0;
    snprintf(res->unit, sizeof res->unit, "err/bound");
    for (long b = 1; b <= R; b++) {
        double y[N * OUT], y2[N * OUT], xa[N * R], M[N * OUT], As[R * IN], Bs[OUT * R];
        double c = sqrt((double)R / (double)b);
        for (long i = 0; i < b * IN; i++) As[i] = c * f.A[i];
        for (long o = 0; o < OUT; o++)
            for (long k = 0; k < b; k++) Bs[o * R + k] = c * f.B[o * R + k];
        HK_TRY(hk_dylora_forward(y, xa, f.x, f.W0, f.bias, f.A, f.B, NULL, 0.0, N, b, &f.d));
        HK_TRY(hk_lora_forward(y2, xa, f.x, f.W0, f.bias, As, Bs, NULL, 0.0,
                               &(hk_lora_dims){N, IN, OUT, b, R, f.d.alpha / R}));
        HK_TRY(forward_magnitude(M, NULL, &f, b));
        long wi = 0;
        double r = ratio_to_bound(y2, y, M, IN + b + 6, &wi);
        res->cases += N * OUT;
        if (r > 1.0) res->failed++;
        if (r >= res->worst) {
            res->worst = r;
            snprintf(res->detail, sizeof res->detail, "worst at b=%ld y[%ld]: sqrt(r/b) form %.17g, alpha/b form %.17g",
                     b, wi, y2[wi], y[wi]);
        }
    }
    return HK_OK;
}

/* Every-rank evaluation (incremental rank-1 updates) against a direct
 * truncated forward at each b; bound 2 K eps M with K = IN + b + 3. */
static int run_eval_all(hk_check_result *res)
{
    fx f;
    HK_TRY(fixture(&f, 606, 2, 2));
    long nb = R - f.d.r_min + 1;
    double Y[R * N * OUT];
    HK_TRY(hk_dylora_eval_all(Y, f.x, f.W0, f.bias, f.A, f.B, N, &f.d));
    res->bound = 1.0;
    snprintf(res->unit, sizeof res->unit, "err/bound");
    for (long j = 0; j < nb; j++) {
        long b = f.d.r_min + j;
        double y[N * OUT], xa[N * R], M[N * OUT];
        HK_TRY(hk_dylora_forward(y, xa, f.x, f.W0, f.bias, f.A, f.B, NULL, 0.0, N, b, &f.d));
        HK_TRY(forward_magnitude(M, NULL, &f, b));
        long wi = 0;
        double r = ratio_to_bound(Y + j * N * OUT, y, M, IN + b + 3, &wi);
        res->cases += N * OUT;
        if (r > 1.0) res->failed++;
        if (r >= res->worst) {
            res->worst = r;
            snprintf(res->detail, sizeof res->detail, "worst at b=%ld y[%ld]: incremental %.17g direct %.17g", b, wi,
                     Y[j * N * OUT + wi], y[wi]);
        }
    }
    return HK_OK;
}

/* Nested loss = sum_b p_B(b) L_b and its gradient = sum_b p_B(b) dL_b, the
 * right-hand sides from the individual-loss functions.
 * Loss: the two sides add the same n non-negative terms: 4 n eps sum.
 * Gradient: each entry is a sum of products (K = IN + N OUT + 4 chained
 * roundings: xa's IN-term sums, the N OUT-term backward sums, the scale, the
 * 2(y-t)/N factor, p_B before or after); two evaluation orders differ by at
 * most 2 gamma_K G with G the same gradient computed on absolute values,
 * G = sum_b p_B(b) backward(|dy_b|; |x|, |A|, |B|, |alpha|) (Higham Thm 3.5). */
static int run_nested_sum(hk_check_result *res)
{
    fx f;
    HK_TRY(fixture(&f, 607, 2, 2));
    long nb = R - f.d.r_min + 1, K = IN + N * OUT + 4;
    HK_TRY(hk_dylora_rank_pmf(f.pmf, f.d.r_min, R, HK_DYLORA_GEOMETRIC, 0.4));
    double Ln, sum = 0.0, gA[R * IN] = {0}, gB[OUT * R] = {0}, sA[R * IN] = {0}, sB[OUT * R] = {0};
    double GA[R * IN] = {0}, GB[OUT * R] = {0};
    HK_TRY(hk_dylora_nested_loss_forward(&Ln, f.x, f.target, f.W0, f.bias, f.A, f.B, f.pmf, N, &f.d));
    HK_TRY(hk_dylora_nested_loss_backward(gA, gB, f.x, f.target, f.W0, f.bias, f.A, f.B, f.pmf, N, &f.d));
    double ax[N * IN], aA[R * IN], aB[OUT * R];
    for (long i = 0; i < N * IN; i++) ax[i] = fabs(f.x[i]);
    for (long i = 0; i < R * IN; i++) aA[i] = fabs(f.A[i]);
    for (long i = 0; i < OUT * R; i++) aB[i] = fabs(f.B[i]);
    hk_dylora_dims ad = f.d;
    ad.alpha = fabs(ad.alpha);
    for (long j = 0; j < nb; j++) {
        long b = f.d.r_min + j;
        double L, dA[R * IN] = {0}, dB[OUT * R] = {0}, M[N * OUT], axa[N * R], ady[N * OUT];
        HK_TRY(hk_dylora_loss_forward(&L, f.x, f.target, f.W0, f.bias, f.A, f.B, N, b, &f.d));
        HK_TRY(hk_dylora_loss_backward(dA, dB, f.x, f.target, f.W0, f.bias, f.A, f.B, N, b, &f.d));
        sum += f.pmf[j] * L;
        for (long i = 0; i < R * IN; i++) sA[i] += f.pmf[j] * dA[i];
        for (long i = 0; i < OUT * R; i++) sB[i] += f.pmf[j] * dB[i];
        /* magnitudes: |dy_b| = 2|y_b - t|/N, then the backward on absolute values */
        HK_TRY(hk_dylora_forward(f.y, f.xa, f.x, f.W0, f.bias, f.A, f.B, NULL, 0.0, N, b, &f.d));
        for (long i = 0; i < N * OUT; i++) ady[i] = f.pmf[j] * 2.0 * fabs(f.y[i] - f.target[i]) / N;
        HK_TRY(forward_magnitude(M, axa, &f, b));
        HK_TRY(hk_dylora_backward(NULL, GA, GB, ady, ax, axa, f.W0, aA, aB, NULL, 0.0, N, b, &ad));
    }
    double tolL = 4.0 * (double)nb * DBL_EPSILON * sum;
    double worst = fabs(Ln - sum) / tolL;
    long wi = -1;
    for (long i = 0; i < R * IN + OUT * R; i++) {
        int a = i < R * IN;
        double g = a ? gA[i] : gB[i - R * IN], sv = a ? sA[i] : sB[i - R * IN], G = a ? GA[i] : GB[i - R * IN];
        double tol = 2.0 * (double)K * DBL_EPSILON * G;
        /* G = 0 exactly where both sides are exactly 0 (rows/cols never reached) */
        double r = g == sv ? 0.0 : fabs(g - sv) / tol;
        if (r > worst) {
            worst = r;
            wi = i;
        }
    }
    res->cases = 1 + R * IN + OUT * R;
    res->worst = worst;
    res->bound = 1.0;
    res->failed = !(worst <= 1.0);
    snprintf(res->unit, sizeof res->unit, "err/bound");
    snprintf(res->detail, sizeof res->detail,
             "nested %.17g vs sum_b p_B L_b %.17g; worst gradient coordinate %ld (of dA then dB)", Ln, sum, wi);
    return HK_OK;
}

/* DyLoRA's individual loss at a sampled b is an unbiased estimate of the
 * nested loss's gradient: E_{b~p_B}[dL_b] = sum_b p_B(b) dL_b = dL_nested
 * (DY §4: the individual loss replaces the sum).  T = 4000 draws of the
 * sampler (fixed seed, geometric q = 0.4 on [2,4]); per coordinate the mean
 * of dL_b over the draws must lie within 5 sigma / sqrt(T) of the nested
 * gradient, sigma^2 = sum_b p_B (dL_b)^2 - (dL_nested)^2 (CLT; a correct
 * pair fails a coordinate with probability ~6e-7), plus 1e-12 for rounding. */
static int run_unbiased(hk_check_result *res)
{
    fx f;
    HK_TRY(fixture(&f, 611, 2, 2));
    enum { T = 4000, NB = R - 1 };
    long count[NB] = {0};
    HK_TRY(hk_dylora_rank_pmf(f.pmf, 2, R, HK_DYLORA_GEOMETRIC, 0.4));
    double g[NB][R * IN + OUT * R], gn[R * IN + OUT * R] = {0};
    memset(g, 0, sizeof g);
    for (long j = 0; j < NB; j++)
        HK_TRY(hk_dylora_loss_backward(g[j], g[j] + R * IN, f.x, f.target, f.W0, f.bias, f.A, f.B, N, 2 + j, &f.d));
    HK_TRY(hk_dylora_nested_loss_backward(gn, gn + R * IN, f.x, f.target, f.W0, f.bias, f.A, f.B, f.pmf, N, &f.d));
    gsl_rng *r = hk_rng_new(612);
    if (!r) return HK_ENOMEM;
    for (int t = 0; t < T; t++) {
        long b;
        int s = hk_dylora_rank_sample(&b, 2, R, HK_DYLORA_GEOMETRIC, 0.4, r);
        if (s) {
            hk_rng_free(r);
            return s;
        }
        count[b - 2]++;
    }
    hk_rng_free(r);
    res->bound = 1.0;
    snprintf(res->unit, sizeof res->unit, "err/5sigma");
    for (long i = 0; i < R * IN + OUT * R; i++) {
        double mean = 0.0, m2 = 0.0;
        for (long j = 0; j < NB; j++) {
            mean += (double)count[j] / T * g[j][i];
            m2 += f.pmf[j] * g[j][i] * g[j][i];
        }
        double var = fmax(m2 - gn[i] * gn[i], 0.0), bound = 5.0 * sqrt(var / T) + 1e-12;
        double w = fabs(mean - gn[i]) / bound;
        res->cases++;
        if (w > 1.0) res->failed++;
        if (w >= res->worst) {
            res->worst = w;
            snprintf(res->detail, sizeof res->detail, "worst coordinate %ld (of dA then dB): mean of dL_b over %d draws "
                     "%.17g, nested %.17g, 5 sigma/sqrt(T) %.3g", i, T, mean, gn[i], bound);
        }
    }
    return HK_OK;
}

/* Chi-square goodness of fit of the rank sampler at a fixed seed: 20000
 * draws, statistic X^2 = sum (O - E)^2 / E against the exact pmf, p-value
 * from GSL's chi-square upper tail with n - 1 degrees of freedom; pass when
 * p >= 1e-3 (fixed seed: deterministic; a correct sampler fails with
 * probability 1e-3 over seeds).  worst = 1e-3 / p-value, bound 1.  The
 * smallest expected count in the cases below is ~500 (>> 5, so the chi-square
 * approximation of the statistic's law holds). */
static int chi2_pvalue(double *pval, long r_min, long r_max, hk_dylora_dist dist, double q, const double *pmf_test,
                       unsigned long seed, long draws)
{
    long n = r_max - r_min + 1, count[64] = {0};
    HK_REQUIRE(n <= 64, HK_EINVAL, "chi2 test supports at most 64 ranks (got %ld)", n);
    gsl_rng *r = hk_rng_new(seed);
    if (!r) return HK_ENOMEM;
    int s = HK_OK;
    for (long t = 0; t < draws && !s; t++) {
        long b;
        s = hk_dylora_rank_sample(&b, r_min, r_max, dist, q, r);
        if (!s) count[b - r_min]++;
    }
    hk_rng_free(r);
    HK_TRY(s);
    double X2 = 0.0;
    for (long k = 0; k < n; k++) {
        double E = pmf_test[k] * (double)draws;
        X2 += (count[k] - E) * (count[k] - E) / E;
    }
    *pval = gsl_cdf_chisq_Q(X2, (double)(n - 1));
    return HK_OK;
}

static int run_sampler(hk_check_result *res)
{
    struct { long lo, hi; hk_dylora_dist dist; double q; } cases[] = {
        {1, 8, HK_DYLORA_UNIFORM, 0}, {3, 7, HK_DYLORA_UNIFORM, 0}, {1, 8, HK_DYLORA_GEOMETRIC, 0.3},
        {2, 9, HK_DYLORA_GEOMETRIC, 0.15}};
    res->bound = 1.0;
    snprintf(res->unit, sizeof res->unit, "1e-3/pval");
    for (int c = 0; c < 4; c++) {
        double pmf[64], pval;
        HK_TRY(hk_dylora_rank_pmf(pmf, cases[c].lo, cases[c].hi, cases[c].dist, cases[c].q));
        HK_TRY(chi2_pvalue(&pval, cases[c].lo, cases[c].hi, cases[c].dist, cases[c].q, pmf, 700 + c, 20000));
        double w = 1e-3 / pval;
        res->cases++;
        if (w > 1.0) res->failed++;
        if (w >= res->worst) {
            res->worst = w;
            snprintf(res->detail, sizeof res->detail, "worst: case %d (%s [%ld,%ld] q=%g) chi2 p-value %.3g", c,
                     cases[c].dist ? "geometric" : "uniform", cases[c].lo, cases[c].hi, cases[c].q, pval);
        }
    }
    /* The test has power: geometric draws against the uniform pmf must be rejected. */
    double upmf[8], pval;
    HK_TRY(hk_dylora_rank_pmf(upmf, 1, 8, HK_DYLORA_UNIFORM, 0));
    HK_TRY(chi2_pvalue(&pval, 1, 8, HK_DYLORA_GEOMETRIC, 0.3, upmf, 710, 20000));
    res->cases++;
    if (!(pval < 1e-3)) {
        res->failed++;
        res->worst = INFINITY;
        snprintf(res->detail, sizeof res->detail, "power: geometric draws not rejected against uniform (p %.3g)", pval);
    }
    return HK_OK;
}

/* Frozen mode with AdamW: 3 ordinary steps (momentum builds up), then 4
 * frozen steps at b = 3.  hkref (only row/col b-1 to the optimizer): held
 * rows/cols bit-identical to before the frozen steps.  Official (detach ->
 * zero gradient, all of A and B to AdamW with weight decay 0.01): they move.
 * worst = number of held values hkref changed (bound 0); fails also if the
 * official path moved nothing (the comparison would have no power). */
static int run_frozen_adamw(hk_check_result *res)
{
    fx f;
    HK_TRY(fixture(&f, 608, 1, 3));
    hk_adamw_hparams hp = {1e-2, 0.9, 0.999, 1e-8, 0.01};
    double A1[R * IN], B1[OUT * R], mA[R * IN] = {0}, vA[R * IN] = {0}, mB[OUT * R] = {0}, vB[OUT * R] = {0};
    long t = 1;
    for (; t <= 3; t++) {
        double dA[R * IN] = {0}, dB[OUT * R] = {0};
        HK_TRY(hk_dylora_loss_backward(dA, dB, f.x, f.target, f.W0, f.bias, f.A, f.B, N, R, &f.d));
        HK_TRY(hk_adamw_step(f.A, dA, mA, vA, R * IN, 1, t, &hp));
        HK_TRY(hk_adamw_step(f.B, dB, mB, vB, OUT * R, 1, t, &hp));
    }
    double A0[R * IN], B0[OUT * R], mA1[R * IN], vA1[R * IN], mB1[OUT * R], vB1[OUT * R];
    memcpy(A0, f.A, sizeof A0);
    memcpy(B0, f.B, sizeof B0);
    memcpy(A1, f.A, sizeof A1);
    memcpy(B1, f.B, sizeof B1);
    memcpy(mA1, mA, sizeof mA);
    memcpy(vA1, vA, sizeof vA);
    memcpy(mB1, mB, sizeof mB);
    memcpy(vB1, vB, sizeof vB);
    long b = 3;
    for (long s = 0; s < 4; s++, t++) {
        double dA[R * IN] = {0}, dB[OUT * R] = {0};
        /* hkref */
        HK_TRY(hk_dylora_loss_backward(dA, dB, f.x, f.target, f.W0, f.bias, f.A, f.B, N, b, &f.d));
        HK_TRY(hk_dylora_frozen_mask_grad(dA, dB, b, &f.d));
        HK_TRY(hk_dylora_frozen_step(f.A, f.B, dA, dB, mA, vA, mB, vB, b, t, &hp, &f.d));
        /* official: detach (same masked gradient), whole tensors to AdamW */
        memset(dA, 0, sizeof dA);
        memset(dB, 0, sizeof dB);
        HK_TRY(hk_dylora_loss_backward(dA, dB, f.x, f.target, f.W0, f.bias, A1, B1, N, b, &f.d));
        HK_TRY(hk_dylora_frozen_mask_grad(dA, dB, b, &f.d));
        HK_TRY(hk_adamw_step(A1, dA, mA1, vA1, R * IN, 1, t, &hp));
        HK_TRY(hk_adamw_step(B1, dB, mB1, vB1, OUT * R, 1, t, &hp));
    }
    long held = 0, ours_moved = 0, official_moved = 0;
    for (long k = 0; k < R; k++) {
        if (k == b - 1) continue;
        for (long i = 0; i < IN; i++, held++) {
            ours_moved += memcmp(&f.A[k * IN + i], &A0[k * IN + i], sizeof(double)) != 0;
            official_moved += A1[k * IN + i] != A0[k * IN + i];
        }
        for (long o = 0; o < OUT; o++, held++) {
            ours_moved += memcmp(&f.B[o * R + k], &B0[o * R + k], sizeof(double)) != 0;
            official_moved += B1[o * R + k] != B0[o * R + k];
        }
    }
    res->cases = held;
    res->failed = ours_moved + (official_moved == 0);
    res->worst = (double)ours_moved;
    res->bound = 0.0;
    snprintf(res->unit, sizeof res->unit, "moved");
    snprintf(res->detail, sizeof res->detail,
             "after 4 frozen steps at b=%ld: hkref moved %ld of %ld held values, official detach+AdamW moved %ld", b,
             ours_moved, held, official_moved);
    return HK_OK;
}

/* ---- spectrum ------------------------------------------------------------- */

/* Householder product Q = H1 H2 H3 (n,n), H = I - 2 v v^T / v^T v. */
static void householder_q(double *Q, long n, gsl_rng *r)
{
    for (long i = 0; i < n * n; i++) Q[i] = (i % (n + 1)) == 0 ? 1.0 : 0.0;
    double v[16], w[16];
    for (int h = 0; h < 3; h++) {
        hk_rng_fill_uniform(v, n, -1.0, 1.0, r);
        double vv = 0.0;
        for (long i = 0; i < n; i++) vv += v[i] * v[i];
        /* Q <- Q H: Q - (2/vv) (Q v) v^T */
        for (long i = 0; i < n; i++) {
            w[i] = 0.0;
            for (long j = 0; j < n; j++) w[i] += Q[i * n + j] * v[j];
        }
        for (long i = 0; i < n; i++)
            for (long j = 0; j < n; j++) Q[i * n + j] -= 2.0 / vv * w[i] * v[j];
    }
}

/* M = Q1[:, :k] diag(s) Q2[:, :k]^T (m,n) from known s (k = min(m,n)). */
static void known_matrix(double *M, const double *s, long m, long n, gsl_rng *r)
{
    double Q1[256], Q2[256];
    householder_q(Q1, m, r);
    householder_q(Q2, n, r);
    long k = m < n ? m : n;
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            double a = 0.0;
            for (long l = 0; l < k; l++) a += Q1[i * m + l] * s[l] * Q2[j * n + l];
            M[i * n + j] = a;
        }
}

/* Singular values of Q1 diag(s) Q2^T against s.  Bound: the construction
 * (Householder products and the k-term sum) perturbs M by E with
 * ||E||_2 <= ~(6 max(m,n) + k) eps s_1 (three reflections per Q, each an
 * n-term dot product, then k-term sums), and dgesdd is backward stable with
 * |s^_i - s_i| <= p(m,n) eps s_1, p ~ max(m,n) (LAPACK Users' Guide §4.9);
 * Weyl's inequality adds them: bound (7 max(m,n) + k) eps s_1. */
static int run_svd_known(hk_check_result *res)
{
    struct { long m, n; double s[8]; } cases[] = {
        {5, 3, {4.25, 1.5, 0.0625}},
        {4, 6, {3.0, 3.0, 0.7, 1e-9}},             /* a repeated and a tiny value */
        {6, 6, {2.385, 1.9, 1.2, 0.55, 0.0, 0.0}}, /* rank 4 */
        {7, 2, {1e3, 1e-3}}};
    gsl_rng *r = hk_rng_new(609);
    if (!r) return HK_ENOMEM;
    res->bound = 1.0;
    snprintf(res->unit, sizeof res->unit, "err/bound");
    int st = HK_OK;
    for (int c = 0; c < 4 && !st; c++) {
        long m = cases[c].m, n = cases[c].n, k = m < n ? m : n;
        double M[64], s[8];
        known_matrix(M, cases[c].s, m, n, r);
        st = hk_spectrum_singular_values(s, M, m, n);
        double bound = (7.0 * (double)(m > n ? m : n) + (double)k) * DBL_EPSILON * cases[c].s[0];
        for (long i = 0; i < k && !st; i++) {
            double w = fabs(s[i] - cases[c].s[i]) / bound;
            res->cases++;
            if (w > 1.0) res->failed++;
            if (w >= res->worst) {
                res->worst = w;
                snprintf(res->detail, sizeof res->detail, "worst: %ldx%ld s[%ld] got %.17g want %.17g (|err|/(eps s1) %.2f)",
                         m, n, i, s[i], cases[c].s[i], fabs(s[i] - cases[c].s[i]) / (DBL_EPSILON * cases[c].s[0]));
            }
        }
    }
    hk_rng_free(r);
    return st;
}

/* An adapter ordered by construction: A[k,:] = sqrt(c_k) v_k^T, B[:,k] =
 * sqrt(c_k) u_k (orthonormal u, v from Householder Q's, c descending), so
 * dW = (alpha/r) sum_k c_k u_k v_k^T has singular values (alpha/r) c_k and
 *   ||dW_b - dW||_F^2 = sum_{k<=b} ((r/b - 1)(alpha/r) c_k)^2 + sum_{k>b} ((alpha/r) c_k)^2
 * (the alpha/b rescale inflates the kept components by r/b), while the
 * Eckart-Young optimum is sqrt(sum_{k>b} ((alpha/r) c_k)^2).  Checked:
 * fro_trunc and fro_best against these closed forms, spec_best = s_{b+1},
 * and fro_trunc >= fro_best for a random (unordered) adapter as well.
 * Bound, absolute in units of eps s_1: 6 max(IN,OUT) (three reflections per
 * Q, two n-term sums each) + r (the r-term product B A) + max(IN,OUT) (dgesdd,
 * LAPACK Users' Guide §4.9) + IN OUT / 2 (the IN*OUT-term sum of squares under
 * the square root) + 8 (sqrt(c_k), scales). */
static int run_eckart_young(hk_check_result *res)
{
    enum { SI = 6, SO = 5, SR = 4 };
    double alpha = 6.0, c[SR] = {2.5, 1.25, 0.6, 0.2};
    gsl_rng *r = hk_rng_new(610);
    if (!r) return HK_ENOMEM;
    double QU[SO * SO], QV[SI * SI], A[SR * SI], B[SO * SR];
    householder_q(QU, SO, r);
    householder_q(QV, SI, r);
    for (long k = 0; k < SR; k++) {
        for (long i = 0; i < SI; i++) A[k * SI + i] = sqrt(c[k]) * QV[i * SI + k];
        for (long o = 0; o < SO; o++) B[o * SR + k] = sqrt(c[k]) * QU[o * SO + k];
    }
    double sv[SO], ft[SR], fb[SR], st_[SR], sb[SR];
    int s = hk_spectrum_adapter(sv, ft, fb, st_, sb, A, B, SI, SO, SR, alpha);
    double rel = (7.0 * SI + SR + SI * SO / 2.0 + 8.0) * DBL_EPSILON, worst = 0.0; /* SI >= SO */
    long cases = 0, failed = 0;
    char where[160] = "";
#define HK_EY_CMP(got, want, label, bb)                                                                   \
    do {                                                                                                   \
        double e_ = fabs((got) - (want)) / (rel * (alpha / SR) * c[0]);                                   \
        cases++;                                                                                           \
        if (e_ > 1.0) failed++;                                                                            \
        if (e_ >= worst) {                                                                                 \
            worst = e_;                                                                                    \
            snprintf(where, sizeof where, "%s at b=%ld: got %.17g want %.17g", (label), (long)(bb), (got), (want)); \
        }                                                                                                  \
    } while (0)
    for (long b = 1; b <= SR && !s; b++) {
        double t2 = 0.0, o2 = 0.0;
        for (long k = 0; k < SR; k++) {
            double sk = alpha / SR * c[k];
            if (k < b)
                t2 += ((double)SR / b - 1.0) * sk * ((double)SR / b - 1.0) * sk;
            else
                o2 += sk * sk;
        }
        HK_EY_CMP(ft[b - 1], sqrt(t2 + o2), "fro_trunc", b);
        HK_EY_CMP(fb[b - 1], sqrt(o2), "fro_best", b);
        HK_EY_CMP(sb[b - 1], b < SR ? alpha / SR * c[b] : 0.0, "spec_best", b);
        HK_EY_CMP(sv[b - 1], alpha / SR * c[b - 1], "sv", b);
    }
    /* A random adapter: Eckart-Young says truncation can never beat the optimum. */
    if (!s) {
        hk_rng_fill_uniform(A, SR * SI, -1.0, 1.0, r);
        hk_rng_fill_uniform(B, SO * SR, -1.0, 1.0, r);
        s = hk_spectrum_adapter(sv, ft, fb, st_, sb, A, B, SI, SO, SR, alpha);
        for (long b = 1; b <= SR && !s; b++) {
            cases += 2;
            /* slack rel * s_1: the SVD's absolute accuracy (at b = r the optimum
             * is the rounding-level s_{r+1} ~ eps s_1, the truncation error exactly 0) */
            if (ft[b - 1] < fb[b - 1] - rel * sv[0]) failed++;
            if (st_[b - 1] < sb[b - 1] - rel * sv[0]) failed++;
        }
        cases++;
        if (ft[SR - 1] != 0.0 || st_[SR - 1] != 0.0) failed++; /* dW_r - dW is exactly 0 */
    }
#undef HK_EY_CMP
    hk_rng_free(r);
    HK_TRY(s);
    res->cases = cases;
    res->failed = failed;
    res->worst = worst;
    res->bound = 1.0;
    snprintf(res->unit, sizeof res->unit, "err/bound");
    snprintf(res->detail, sizeof res->detail, "closed forms: worst %s", where);
    return HK_OK;
}

/* ---- the training demo ------------------------------------------------------ */

/* tools/dylora_demo.c, defaults (1500 full-batch AdamW steps on a rank-6
 * regression task, r = 6).  Two claims:
 *  (a) Eckart-Young in the data metric: every trained adapter at every b has
 *      L_b >= floor_b (the least loss of any rank-b update), up to the
 *      floor's rounding: slack 4 mn max(N,OUT) eps floor_0 (singular values
 *      accurate to p(m,n) eps s_1, p ~ max(N,OUT), squared and summed over
 *      mn of them, s_1^2 <= N floor_0);
 *  (b) DY Tab. 2, on this toy: DyLoRA (uniform p_B) has a lower L_b than plain
 *      LoRA truncated at every b < r.  worst = max_{b<r} L_DyLoRA / L_LoRA. */
static int run_demo(hk_check_result *res)
{
    double L[3][16] = {{0}}, F[17] = {0};
    hk_demo_cfg c = hk_demo_defaults(HK_DEMO_LORA);
    for (int m = 0; m < 3; m++) {
        c = hk_demo_defaults(m);
        HK_TRY(hk_demo_run(&c, L[m], m == 0 ? F : NULL, NULL, NULL));
    }
    long mn = c.N < c.OUT ? c.N : c.OUT;
    double slack = 4.0 * (double)mn * (double)(c.N > c.OUT ? c.N : c.OUT) * DBL_EPSILON * F[0];
    res->bound = 1.0;
    snprintf(res->unit, sizeof res->unit, "Ldy/Llora");
    for (int m = 0; m < 3; m++)
        for (long b = 1; b <= c.r; b++) {
            res->cases++;
            if (L[m][b - 1] < F[b] - slack) {
                res->failed++;
                snprintf(res->detail, sizeof res->detail, "mode %d b=%ld: L_b %.17g below the Eckart-Young floor %.17g",
                         m, b, L[m][b - 1], F[b]);
            }
        }
    for (long b = 1; b < c.r; b++) {
        double w = L[HK_DEMO_DYLORA][b - 1] / L[HK_DEMO_LORA][b - 1];
        res->cases++;
        if (!(w < 1.0)) res->failed++;
        if (w >= res->worst) {
            res->worst = w;
            if (!res->failed || w >= 1.0)
                snprintf(res->detail, sizeof res->detail, "worst b=%ld: DyLoRA L_b %.6g, LoRA L_b %.6g, floor %.6g", b,
                         L[HK_DEMO_DYLORA][b - 1], L[HK_DEMO_LORA][b - 1], F[b]);
        }
    }
    return HK_OK;
}

static const hk_check checks[] = {
    {"gradcheck", "dylora.trunc.b1", "truncated LoRA at b=1 of [1,4] (x, A, B incl. zero rows) vs FD, with dropout",
     run_trunc_b1,
     "DyLoRA truncated to rank b = 1: backward matches finite differences"},
    {"gradcheck", "dylora.trunc.b2", "truncated LoRA at b=2 of [1,4] vs FD, with dropout", run_trunc_b2,
     "DyLoRA truncated to rank b = 2: backward matches finite differences"},
    {"gradcheck", "dylora.trunc.br", "truncated LoRA at b=r=4 vs FD, with dropout", run_trunc_br,
     "DyLoRA at b = r: backward matches finite differences"},
    {"gradcheck", "dylora.loss.individual", "individual loss L_b (MSE), b=3 of [1,4], vs FD", run_loss_individual,
     "DyLoRA individual loss L_b (DY Eq. 9): backward matches finite differences"},
    {"gradcheck", "dylora.loss.nested.uniform", "nested loss sum_b p_B(b) L_b, uniform p_B on [2,4], vs FD",
     run_loss_nested_uniform,
     "Nested-dropout loss, uniform p_B (DY Eq. 2): backward matches finite differences"},
    {"gradcheck", "dylora.loss.nested.geometric", "nested loss, geometric p_B (q=0.4) on [2,4], vs FD",
     run_loss_nested_geometric,
     "Nested-dropout loss, geometric p_B: backward matches finite differences"},
    {"gradcheck", "dylora.frozen", "frozen mode b=3: row/col b-1 vs FD; every held coordinate exactly 0", run_frozen,
     "DyLoRA frozen mode (DY Eq. 10): only row and column b get a gradient"},
    {"property", "dylora.b_eq_r", "b = r_max is plain LoRA bit for bit (y, dx, dA, dB)", run_b_eq_r,
     "DyLoRA at b = r is plain LoRA, bit for bit"},
    {"property", "dylora.scale", "alpha/b scale = official sqrt(r/b) on both factors with alpha/r; bound 2K eps |y|",
     run_scale,
     "The alpha/b scale equals the official code's sqrt(r/b) on both factors"},
    {"property", "dylora.eval_all", "every-rank incremental evaluation = direct forward per b; bound 2K eps |y|",
     run_eval_all,
     "Evaluating every rank at once equals one forward per rank"},
    {"property", "dylora.nested_sum", "nested loss and gradient = p_B-weighted sum of individual ones", run_nested_sum,
     "The nested loss is the p_B-weighted sum of the individual losses"},
    {"property", "dylora.unbiased", "mean of dL_b over sampled b = nested gradient within 5 sigma/sqrt(T)",
     run_unbiased,
     "One sampled rank per step is an unbiased estimate of the nested gradient"},
    {"property", "dylora.sampler", "rank sampler chi-square vs exact p_B (p >= 1e-3, fixed seeds), and power",
     run_sampler,
     "The rank sampler draws b from p_B (chi-square test)"},
    {"property", "dylora.frozen_adamw", "frozen mode leaves held rows bit-identical; official detach+AdamW moves them",
     run_frozen_adamw,
     "Frozen mode leaves held rows untouched; the official detach + AdamW moves them"},
    {"property", "spectrum.svd_known", "dgesdd on Q1 diag(s) Q2^T returns s; bound (7 max(m,n)+k) eps s1",
     run_svd_known,
     "The SVD recovers known singular values"},
    {"theorem", "spectrum.eckart_young", "truncation error vs best rank-b (closed forms; never below the optimum)",
     run_eckart_young,
     "DyLoRA's truncation is never better than the Eckart-Young optimum"},
    {"theorem", "dylora.demo", "toy training: every L_b >= Eckart-Young floor; DyLoRA beats truncated LoRA at b < r",
     run_demo,
     "DyLoRA works at every rank, truncated LoRA only at r (toy training)"},
};

const hk_check *hk_checks_dylora(size_t *n)
{
    *n = sizeof checks / sizeof checks[0];
    return checks;
}
