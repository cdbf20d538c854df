/* hkref — plain scalar double reference: DyLoRA (see dylora.h).
 * Storage: row-major; A (r_max,IN) = W_dw, B (OUT,r_max) = W_up.  The
 * truncated passes are hk_lora_forward/backward with r = b, ldB = r_max and
 * scale = alpha/b, so the LoRA arithmetic lives in one place (ref/lora.c). */
#include "dylora.h"

#include "error.h"
#include "linear.h"
#include "lora.h"

#include <math.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

static int check_dims(const hk_dylora_dims *d)
{
    HK_REQUIRE_PTR(d);
    HK_REQUIRE(d->IN > 0 && d->OUT > 0, HK_EINVAL, "dylora shape (IN=%ld, OUT=%ld) must be positive", d->IN, d->OUT);
    HK_REQUIRE(d->r_min >= 1 && d->r_min <= d->r_max, HK_EDOM,
               "dylora rank range [r_min=%ld, r_max=%ld] must satisfy 1 <= r_min <= r_max", d->r_min, d->r_max);
    HK_REQUIRE(isfinite(d->alpha), HK_ENAN, "dylora alpha must be finite (got %g)", d->alpha);
    return HK_OK;
}

int hk_dylora_check_rank(long b, const hk_dylora_dims *d)
{
    HK_TRY(check_dims(d));
    HK_REQUIRE(b >= d->r_min && b <= d->r_max, HK_EDOM, "rank b=%ld is outside [r_min, r_max] = [%ld, %ld]", b,
               d->r_min, d->r_max);
    return HK_OK;
}

/* ---- p_B: the rank distribution ---------------------------------------- */

static int check_dist(long r_min, long r_max, hk_dylora_dist dist, double q)
{
    HK_REQUIRE(r_min >= 1 && r_min <= r_max, HK_EDOM,
               "rank range [r_min=%ld, r_max=%ld] must satisfy 1 <= r_min <= r_max", r_min, r_max);
    HK_REQUIRE(dist == HK_DYLORA_UNIFORM || dist == HK_DYLORA_GEOMETRIC, HK_EINVAL,
               "rank distribution dist=%d is not UNIFORM (0) or GEOMETRIC (1)", (int)dist);
    if (dist == HK_DYLORA_GEOMETRIC)
        HK_REQUIRE(q > 0 && q <= 1, HK_EDOM, "geometric parameter q must be in (0, 1] (got %g)", q);
    return HK_OK;
}

// -> pmf (r_max - r_min + 1)
int hk_dylora_rank_pmf(double *pmf, long r_min, long r_max, hk_dylora_dist dist, double q)
{
    HK_REQUIRE_PTR(pmf);
    HK_TRY(check_dist(r_min, r_max, dist, q));
    long n = r_max - r_min + 1;
    if (dist == HK_DYLORA_UNIFORM) {
        for (long k = 0; k < n; k++) pmf[k] = 1.0 / (double)n;
        return HK_OK;
    }
    /* Z = 1 - (1-q)^n = sum_{k<n} q (1-q)^k; expm1/log1p keep it accurate for small q. */
    double Z = q == 1.0 ? 1.0 : -expm1((double)n * log1p(-q));
    for (long k = 0; k < n; k++) pmf[k] = q * pow(1.0 - q, (double)k) / Z;
    return HK_OK;
}

// -> *b in [r_min, r_max]
int hk_dylora_rank_sample(long *b, long r_min, long r_max, hk_dylora_dist dist, double q, gsl_rng *rng)
{
    HK_REQUIRE_PTR(b);
    HK_REQUIRE_PTR(rng);
    HK_TRY(check_dist(r_min, r_max, dist, q));
    long n = r_max - r_min + 1;
    if (dist == HK_DYLORA_UNIFORM) {
        *b = r_min + (long)gsl_rng_uniform_int(rng, (unsigned long)n);
        return HK_OK;
    }
    double u = gsl_rng_uniform(rng); /* [0, 1) */
    if (q == 1.0) {
        *b = r_min;
        return HK_OK;
    }
    /* P(k' <= k) = (1 - (1-q)^(k+1)) / Z: the smallest k with CDF > u is
     * floor(log(1 - u Z) / log(1-q)).  Rounding can only push it to n at u -> 1. */
    double Z = -expm1((double)n * log1p(-q));
    double k = floor(log1p(-u * Z) / log1p(-q));
    if (!(k >= 0)) k = 0;
    if (k > (double)(n - 1)) k = (double)(n - 1);
    *b = r_min + (long)k;
    return HK_OK;
}

/* ---- truncated LoRA (DY Eq. 5, 7) --------------------------------------- */

// x (N,IN), A (r_max,IN), B (OUT,r_max) -> y (N,OUT), xa (N,b)
int hk_dylora_forward(double *y, double *xa, const double *x, const double *W0, const double *bias,
                      const double *A, const double *B, const uint8_t *mask, double p, long N, long b,
                      const hk_dylora_dims *d)
{
    HK_TRY(hk_dylora_check_rank(b, d));
    const hk_lora_dims dims = {N, d->IN, d->OUT, b, d->r_max, d->alpha / (double)b};
    return hk_lora_forward(y, xa, x, W0, bias, A, B, mask, p, &dims);
}

// dy (N,OUT) -> dx (N,IN) +=, dA rows < b +=, dB columns < b +=
int hk_dylora_backward(double *dx, double *dA, double *dB, const double *dy, const double *x, const double *xa,
                       const double *W0, const double *A, const double *B, const uint8_t *mask, double p,
                       long N, long b, const hk_dylora_dims *d)
{
    HK_TRY(hk_dylora_check_rank(b, d));
    /* dA (r_max,IN) restricted to its first b rows is a (b,IN) matrix: same call. */
    const hk_lora_dims dims = {N, d->IN, d->OUT, b, d->r_max, d->alpha / (double)b};
    return hk_lora_backward(dx, dA, dB, dy, x, xa, W0, A, B, mask, p, &dims);
}

/* ---- losses: individual (DY Eq. 9) and nested (DY Eq. 2 over ranks) ----- */

static int loss_args(const double *x, const double *target, const double *W0, const double *A, const double *B,
                     long N, const hk_dylora_dims *d)
{
    HK_REQUIRE_PTR(x);
    HK_REQUIRE_PTR(target);
    HK_REQUIRE_PTR(W0);
    HK_REQUIRE_PTR(A);
    HK_REQUIRE_PTR(B);
    HK_REQUIRE(N > 0, HK_EINVAL, "dylora loss batch N must be > 0 (got %ld)", N);
    return check_dims(d);
}

/* y_b into y (N,OUT) and, when dy != NULL, dL_b/dy = (2/N)(y - t) into dy; returns L_b. */
static int loss_eval(double *loss, double *y, double *xa, double *dy, const double *x, const double *target,
                     const double *W0, const double *bias, const double *A, const double *B, long N, long b,
                     const hk_dylora_dims *d)
{
    HK_TRY(hk_dylora_forward(y, xa, x, W0, bias, A, B, NULL, 0.0, N, b, d));
    double s = 0.0;
    for (long i = 0; i < N * d->OUT; i++) {
        double e = y[i] - target[i];
        s += e * e;
        if (dy) dy[i] = 2.0 * e / (double)N;
    }
    *loss = s / (double)N;
    return HK_OK;
}

/* Scratch for one loss evaluation: y (N,OUT), dy (N,OUT), xa (N,r_max). */
static double *scratch(long N, const hk_dylora_dims *d)
{
    size_t n = (size_t)N * (size_t)(2 * d->OUT + d->r_max);
    return malloc(n * sizeof(double));
}

int hk_dylora_loss_forward(double *loss, const double *x, const double *target, const double *W0,
                           const double *bias, const double *A, const double *B, long N, long b,
                           const hk_dylora_dims *d)
{
    HK_REQUIRE_PTR(loss);
    HK_TRY(loss_args(x, target, W0, A, B, N, d));
    HK_TRY(hk_dylora_check_rank(b, d));
    double *w = scratch(N, d);
    HK_REQUIRE(w != NULL, HK_ENOMEM, "dylora loss: cannot allocate scratch for N=%ld", N);
    int s = loss_eval(loss, w, w + 2 * N * d->OUT, NULL, x, target, W0, bias, A, B, N, b, d);
    free(w);
    return s;
}

int hk_dylora_loss_backward(double *dA, double *dB, const double *x, const double *target, const double *W0,
                            const double *bias, const double *A, const double *B, long N, long b,
                            const hk_dylora_dims *d)
{
    HK_TRY(loss_args(x, target, W0, A, B, N, d));
    HK_TRY(hk_dylora_check_rank(b, d));
    double *w = scratch(N, d);
    HK_REQUIRE(w != NULL, HK_ENOMEM, "dylora loss: cannot allocate scratch for N=%ld", N);
    double *y = w, *dy = w + N * d->OUT, *xa = w + 2 * N * d->OUT, L;
    int s = loss_eval(&L, y, xa, dy, x, target, W0, bias, A, B, N, b, d);
    if (!s) s = hk_dylora_backward(NULL, dA, dB, dy, x, xa, W0, A, B, NULL, 0.0, N, b, d);
    free(w);
    return s;
}

static int check_pmf(const double *pmf, const hk_dylora_dims *d)
{
    HK_REQUIRE_PTR(pmf);
    long n = d->r_max - d->r_min + 1;
    double s = 0.0;
    for (long k = 0; k < n; k++) {
        HK_REQUIRE(isfinite(pmf[k]) && pmf[k] >= 0, HK_EDOM, "pmf[%ld] (p_B(b=%ld)) must be finite and >= 0 (got %g)",
                   k, d->r_min + k, pmf[k]);
        s += pmf[k];
    }
    /* n-term sum of values in [0,1]: rounding <= n eps; 8x margin. */
    HK_REQUIRE(fabs(s - 1.0) <= 8.0 * (double)n * DBL_EPSILON, HK_EDOM,
               "pmf over b = %ld..%ld must sum to 1 (sums to %.17g)", d->r_min, d->r_max, s);
    return HK_OK;
}

int hk_dylora_nested_loss_forward(double *loss, const double *x, const double *target, const double *W0,
                                  const double *bias, const double *A, const double *B, const double *pmf,
                                  long N, const hk_dylora_dims *d)
{
    HK_REQUIRE_PTR(loss);
    HK_TRY(loss_args(x, target, W0, A, B, N, d));
    HK_TRY(check_pmf(pmf, d));
    double *w = scratch(N, d);
    HK_REQUIRE(w != NULL, HK_ENOMEM, "dylora nested loss: cannot allocate scratch for N=%ld", N);
    double total = 0.0;
    int s = HK_OK;
    for (long b = d->r_min; b <= d->r_max && !s; b++) {
        double L;
        s = loss_eval(&L, w, w + 2 * N * d->OUT, NULL, x, target, W0, bias, A, B, N, b, d);
        total += pmf[b - d->r_min] * L;
    }
    free(w);
    if (!s) *loss = total;
    return s;
}

int hk_dylora_nested_loss_backward(double *dA, double *dB, const double *x, const double *target,
                                   const double *W0, const double *bias, const double *A, const double *B,
                                   const double *pmf, long N, const hk_dylora_dims *d)
{
    HK_TRY(loss_args(x, target, W0, A, B, N, d));
    HK_TRY(check_pmf(pmf, d));
    double *w = scratch(N, d);
    HK_REQUIRE(w != NULL, HK_ENOMEM, "dylora nested loss: cannot allocate scratch for N=%ld", N);
    double *y = w, *dy = w + N * d->OUT, *xa = w + 2 * N * d->OUT;
    int s = HK_OK;
    for (long b = d->r_min; b <= d->r_max && !s; b++) {
        double L, pb = pmf[b - d->r_min];
        s = loss_eval(&L, y, xa, dy, x, target, W0, bias, A, B, N, b, d);
        /* p_B(b) dL_b = backward of the upstream gradient p_B(b) dL_b/dy. */
        for (long i = 0; i < N * d->OUT && !s; i++) dy[i] *= pb;
        if (!s) s = hk_dylora_backward(NULL, dA, dB, dy, x, xa, W0, A, B, NULL, 0.0, N, b, d);
    }
    free(w);
    return s;
}

/* ---- frozen mode (DY Eq. 10) --------------------------------------------- */

// dA (r_max,IN), dB (OUT,r_max): rows / columns < b-1 set to 0
int hk_dylora_frozen_mask_grad(double *dA, double *dB, long b, const hk_dylora_dims *d)
{
    HK_TRY(hk_dylora_check_rank(b, d));
    if (dA)
        for (long k = 0; k < b - 1; k++) memset(dA + k * d->IN, 0, (size_t)d->IN * sizeof(double));
    if (dB)
        for (long o = 0; o < d->OUT; o++)
            for (long k = 0; k < b - 1; k++) dB[o * d->r_max + k] = 0.0;
    return HK_OK;
}

int hk_dylora_frozen_step(double *A, double *B, const double *dA, const double *dB, double *mA, double *vA,
                          double *mB, double *vB, long b, long t, const hk_adamw_hparams *hp,
                          const hk_dylora_dims *d)
{
    HK_TRY(hk_dylora_check_rank(b, d));
    HK_REQUIRE_PTR(A);
    HK_REQUIRE_PTR(B);
    HK_REQUIRE_PTR(dA);
    HK_REQUIRE_PTR(dB);
    HK_REQUIRE_PTR(mA);
    HK_REQUIRE_PTR(vA);
    HK_REQUIRE_PTR(mB);
    HK_REQUIRE_PTR(vB);
    long k = b - 1, R = d->r_max;
    /* Validate the B column first so a bad dB cannot leave A half-updated. */
    for (long o = 0; o < d->OUT; o++)
        if (!isfinite(dB[o * R + k])) HK_ERROR(HK_ENAN, "dB[%ld,%ld] is %g; a finite value is required", o, k, dB[o * R + k]);
    HK_TRY(hk_adamw_step(A + k * d->IN, dA + k * d->IN, mA + k * d->IN, vA + k * d->IN, d->IN, 1, t, hp));
    return hk_adamw_step(B + k, dB + k, mB + k, vB + k, d->OUT, R, t, hp);
}

/* ---- every-rank evaluation ------------------------------------------------ */

// x (N,IN) -> Y (r_max - r_min + 1, N, OUT)
int hk_dylora_eval_all(double *Y, const double *x, const double *W0, const double *bias, const double *A,
                       const double *B, long N, const hk_dylora_dims *d)
{
    HK_REQUIRE_PTR(Y);
    HK_REQUIRE_PTR(x);
    HK_REQUIRE_PTR(W0);
    HK_TRY(check_dims(d));
    HK_REQUIRE_PTR(A);
    HK_REQUIRE_PTR(B);
    HK_REQUIRE(N > 0, HK_EINVAL, "dylora eval batch N must be > 0 (got %ld)", N);
    long OUT = d->OUT, R = d->r_max, NO = N * OUT;
    double *base = malloc((size_t)(2 * NO + N * R) * sizeof(double));
    HK_REQUIRE(base != NULL, HK_ENOMEM, "dylora eval: cannot allocate scratch for N=%ld", N);
    double *S = base + NO, *xa = base + 2 * NO;
    int s = hk_linear_forward(base, x, W0, bias, N, d->IN, OUT);
    if (!s) s = hk_linear_forward(xa, x, A, NULL, N, d->IN, R);
    if (!s) memset(S, 0, (size_t)NO * sizeof(double));
    for (long b = 1; b <= R && !s; b++) {
        /* rank-1 update S += xa[:, b-1] B[:, b-1]^T */
        for (long n = 0; n < N; n++)
            for (long o = 0; o < OUT; o++) S[n * OUT + o] += xa[n * R + b - 1] * B[o * R + b - 1];
        if (b < d->r_min) continue;
        double scale = d->alpha / (double)b, *Yb = Y + (b - d->r_min) * NO;
        for (long i = 0; i < NO; i++) Yb[i] = base[i] + scale * S[i];
    }
    free(base);
    return s;
}
