/* hkref — plain scalar double reference: the LoRA linear layer (see lora.h).
 *
 * DY Eq. 4 (../shared/papers/002_*.txt):  h = W0 x + (alpha/r) W_up W_dw x,
 * with W_dw = A (r x IN) and W_up = B (OUT x r); row-major, batch-first:
 *     y = x W0^T + bias + scale * dropout(x) A^T B^T.
 * DY Eq. 7 (truncated rank b) is the same call with r = b, ldB = r_max,
 * scale = alpha / b.
 * Storage: x (N,IN), W0 (OUT,IN), A (r,IN), B (OUT,ldB) using columns < r,
 * mask (N,IN) of {0,1} with 1 = dropped.
 *
 * Dropout policy (loralib / peft: nn.Dropout on the LoRA input only):
 *   dropout(x)[n,i] = 0 if mask[n,i] = 1, else x[n,i] * (1/(1-p)).
 *   mask NULL means no dropout and requires p = 0.  A mask with p = 0 is
 *   accepted only if it is all zeros (what hk_mask_bernoulli draws at p = 0),
 *   so a caller may always pass its sampled mask; a 1 with p = 0 would drop
 *   without the rescale, which is not dropout, and is an error (HK_EDOM).
 *   A dropped entry is exactly 0 (not x * 0), so it never carries x's value. */
#include "lora.h"

#include "error.h"
#include "linear.h"
#include "rng.h"

#include <math.h>

static int check_shape(long N, long IN, long OUT, long r, long ldB)
{
    HK_REQUIRE(N > 0 && IN > 0 && OUT > 0, HK_EINVAL,
               "lora shape (N=%ld, IN=%ld, OUT=%ld) must be positive", N, IN, OUT);
    HK_REQUIRE(r > 0, HK_EINVAL, "lora rank r=%ld must be >= 1", r);
    HK_REQUIRE(ldB >= r, HK_EINVAL, "lora row stride of B ldB=%ld must be >= r=%ld", ldB, r);
    return HK_OK;
}

static int check_scale(double scale)
{
    HK_REQUIRE(isfinite(scale), HK_ENAN, "lora scale is %g; a finite value is required", scale);
    return HK_OK;
}

/* Validates p and the mask against the policy in the banner. */
static int check_dropout(const uint8_t *mask, double p, long N, long IN)
{
    HK_TRY(hk_check_rate(p, "lora dropout rate p"));
    if (!mask) {
        HK_REQUIRE(p == 0.0, HK_EINVAL,
                   "lora mask is NULL but p=%g > 0: pass the sampled dropout mask (1 = dropped)", p);
        return HK_OK;
    }
    for (long n = 0; n < N; n++)
        for (long i = 0; i < IN; i++) {
            uint8_t m = mask[n * IN + i];
            HK_REQUIRE(m <= 1, HK_EDOM, "lora mask[n=%ld,i=%ld] = %u; entries must be 0 (kept) or 1 (dropped)",
                       n, i, (unsigned)m);
            HK_REQUIRE(!(m && p == 0.0), HK_EDOM,
                       "lora mask[n=%ld,i=%ld] = 1 (dropped) but p = 0: dropping without the 1/(1-p) rescale "
                       "is not dropout (an all-zero mask is accepted)", n, i);
        }
    return HK_OK;
}

/* Arguments shared by the forward and the backward. */
static int check_pass(const double *xa, const double *x, const double *W0, const double *A, const double *B,
                      const uint8_t *mask, double p, const hk_lora_dims *dims)
{
    HK_REQUIRE_PTR(xa);
    HK_REQUIRE_PTR(x);
    HK_REQUIRE_PTR(W0);
    HK_REQUIRE_PTR(A);
    HK_REQUIRE_PTR(B);
    HK_REQUIRE_PTR(dims);
    HK_TRY(check_shape(dims->N, dims->IN, dims->OUT, dims->r, dims->ldB));
    HK_TRY(check_scale(dims->scale));
    return check_dropout(mask, p, dims->N, dims->IN);
}

/* dropout(x) at flat index k; keep = 1/(1-p). */
static double dropped(const double *x, const uint8_t *mask, long k, double keep)
{
    return (mask && mask[k]) ? 0.0 : x[k] * keep;
}

// x (N,IN), W0 (OUT,IN), bias (OUT)|NULL, A (r,IN), B (OUT,ldB), mask (N,IN)|NULL -> y (N,OUT), xa (N,r);
// shapes and scale in *dims
int hk_lora_forward(double *y, double *xa, const double *x, const double *W0, const double *bias,
                    const double *A, const double *B, const uint8_t *mask, double p, const hk_lora_dims *dims)
{
    HK_REQUIRE_PTR(y);
    HK_TRY(check_pass(xa, x, W0, A, B, mask, p, dims));
    const long N = dims->N, IN = dims->IN, OUT = dims->OUT, r = dims->r, ldB = dims->ldB;
    const double scale = dims->scale;
    const double keep = 1.0 / (1.0 - p); /* p = 0: exactly 1, so x * keep == x */
    /* Adapter entries this call reads must be finite (x, W0, bias: linear). */
    HK_TRY(hk_check_finite(A, r * IN, "lora A"));
    for (long o = 0; o < OUT; o++)
        for (long j = 0; j < r; j++)
            HK_REQUIRE(isfinite(B[o * ldB + j]), HK_ENAN, "lora B[%ld,%ld] is %g; a finite value is required", o, j,
                       B[o * ldB + j]);
    /* Frozen path first: with B = 0 the result is this plus exact zeros. */
    HK_TRY(hk_linear_forward(y, x, W0, bias, N, IN, OUT));
    for (long n = 0; n < N; n++)
        for (long j = 0; j < r; j++) {
            double s = 0.0;
            for (long i = 0; i < IN; i++) s += dropped(x, mask, n * IN + i, keep) * A[j * IN + i];
            xa[n * r + j] = s;
        }
    for (long n = 0; n < N; n++)
        for (long o = 0; o < OUT; o++) {
            double s = 0.0;
            for (long j = 0; j < r; j++) s += xa[n * r + j] * B[o * ldB + j];
            y[n * OUT + o] += scale * s;
        }
    return HK_OK;
}

/* W0 and bias are frozen (LoRA trains A and B only): no gradient for them.
 * With g[n,j] = scale * sum_o dy[n,o] B[o,j]:
 *   dx[n,i] += sum_o dy[n,o] W0[o,i] + [kept] keep * sum_j g[n,j] A[j,i]
 *   dA[j,i] += sum_n g[n,j] dropout(x)[n,i]
 *   dB[o,j] += scale * sum_n dy[n,o] xa[n,j]           (columns j < r of B) */
// dy (N,OUT), x, xa (N,r) -> dx (N,IN) +=, dA (r,IN) +=, dB (OUT,ldB) +=; any may be NULL
int hk_lora_backward(double *dx, double *dA, double *dB, const double *dy, const double *x, const double *xa,
                     const double *W0, const double *A, const double *B, const uint8_t *mask, double p,
                     const hk_lora_dims *dims)
{
    HK_REQUIRE_PTR(dy);
    HK_TRY(check_pass(xa, x, W0, A, B, mask, p, dims));
    const long N = dims->N, IN = dims->IN, OUT = dims->OUT, r = dims->r, ldB = dims->ldB;
    const double scale = dims->scale;
    const double keep = 1.0 / (1.0 - p);
    if (dx) HK_TRY(hk_linear_backward(dx, NULL, NULL, dy, x, W0, N, IN, OUT));
    if (dx || dA)
        for (long n = 0; n < N; n++)
            for (long j = 0; j < r; j++) {
                double s = 0.0;
                for (long o = 0; o < OUT; o++) s += dy[n * OUT + o] * B[o * ldB + j];
                double g = scale * s;
                for (long i = 0; i < IN; i++) {
                    long k = n * IN + i;
                    if (dA) dA[j * IN + i] += g * dropped(x, mask, k, keep);
                    if (dx && !(mask && mask[k])) dx[k] += g * A[j * IN + i] * keep;
                }
            }
    if (dB)
        for (long n = 0; n < N; n++)
            for (long o = 0; o < OUT; o++) {
                double go = scale * dy[n * OUT + o];
                for (long j = 0; j < r; j++) dB[o * ldB + j] += go * xa[n * r + j];
            }
    return HK_OK;
}

/* loralib / peft init (their reset_parameters; also DyLoRA's official code):
 * A <- kaiming_uniform_(a = sqrt(5)), B <- 0.
 * kaiming_uniform_: gain = sqrt(2 / (1 + a^2)) = sqrt(2/6) = 1/sqrt(3),
 * bound = gain * sqrt(3 / fan_in) = 1/sqrt(fan_in), and fan_in of an (r,IN)
 * weight is IN.  Values are uniform on [-bound, bound) like torch's uniform_.
 * (The LoRA paper text, and DY's notes, say "Gaussian"; the code is uniform.) */
// -> A (r,IN), B (OUT,r)
int hk_lora_init(double *A, double *B, long IN, long OUT, long r, gsl_rng *rng)
{
    HK_REQUIRE_PTR(A);
    HK_REQUIRE_PTR(B);
    HK_REQUIRE_PTR(rng);
    HK_REQUIRE(IN > 0 && OUT > 0, HK_EINVAL, "lora init shape (IN=%ld, OUT=%ld) must be positive", IN, OUT);
    HK_REQUIRE(r > 0, HK_EINVAL, "lora rank r=%ld must be >= 1", r);
    const double bound = 1.0 / sqrt((double)IN);
    HK_TRY(hk_rng_fill_uniform(A, r * IN, -bound, bound, rng));
    for (long k = 0; k < OUT * r; k++) B[k] = 0.0;
    return HK_OK;
}

/* (B A)[o,i] scaled by sign*scale, added to W[o,i]. */
static double merged(const double *W, const double *A, const double *B, long o, long i, long IN, long r,
                     long ldB, double sscale)
{
    double d = 0.0;
    for (long j = 0; j < r; j++) d += B[o * ldB + j] * A[j * IN + i];
    return W[o * IN + i] + sscale * d;
}

/* Merge for inference: W0 + scale * B A (y then equals the unmerged forward at
 * p = 0 up to rounding); unmerge subtracts the bit-identical term.  Two passes:
 * the first only checks that every result is finite, so on failure W is
 * untouched. */
// W (OUT,IN) +=, A (r,IN), B (OUT,ldB)
int hk_lora_merge(double *W, const double *A, const double *B, long IN, long OUT, long r, long ldB,
                  double scale, int sign)
{
    HK_REQUIRE_PTR(W);
    HK_REQUIRE_PTR(A);
    HK_REQUIRE_PTR(B);
    HK_TRY(check_shape(1, IN, OUT, r, ldB));
    HK_TRY(check_scale(scale));
    HK_REQUIRE(sign == 1 || sign == -1, HK_EINVAL, "lora merge sign=%d must be +1 (merge) or -1 (unmerge)", sign);
    const double sscale = sign * scale; /* exact: sign is +-1 */
    for (long o = 0; o < OUT; o++)
        for (long i = 0; i < IN; i++) {
            double v = merged(W, A, B, o, i, IN, r, ldB, sscale);
            HK_REQUIRE(isfinite(v), HK_ENAN,
                       "lora merge would make W[o=%ld,i=%ld] = %g (W was %g); W left unchanged", o, i, v,
                       W[o * IN + i]);
        }
    for (long o = 0; o < OUT; o++)
        for (long i = 0; i < IN; i++) W[o * IN + i] = merged(W, A, B, o, i, IN, r, ldB, sscale);
    return HK_OK;
}
