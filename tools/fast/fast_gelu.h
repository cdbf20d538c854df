/* hkref — the f32 fast path's GELU pieces: exp and the normal CDF Phi in
 * plain branch-free f32 arithmetic, so the compiler can vectorise the GELU
 * loops (libm's erfcf/expf are scalar calls; they were ~20 % of a training
 * step).  Same semantics as ref/gelu.c's exact GELU u·Phi(u),
 * Phi(u) = 0.5 erfc(-u/sqrt 2); only the f32 evaluation differs.
 *
 * hk_fast_exp(x): Cephes expf (range reduction x = k ln2 + r with ln2 split
 * in two, degree-6 polynomial on |r| <= ln2/2, 2^k built in the exponent
 * bits from the round-to-nearest trick's mantissa, so no float->int
 * conversion, NaN-safe); x clamped to [-87, 88] (2^k stays normal).
 * hk_fast_phi(u): Numerical Recipes' erfcc, erfc(z) = t·exp(-z² + P(t)),
 * t = 1/(1 + z/2), z = |u|/sqrt 2 >= 0 (fractional error < 1.2e-7 in exact
 * arithmetic), then Phi = 0.5 erfc(z) for u < 0 and 1 - 0.5 erfc(z) else.
 *
 * Error, measured against f64 erfc/exp over every f32 with |u| < 20 (an
 * exhaustive off-line sweep of 2.2e9 values; tests/test_fast.c re-checks a
 * strided subset in the gate against the same bounds):
 *   |hk_fast_phi(u) - Phi(u)| <= 2.6e-7 ≈ 4.4 u absolute (u = 2^-24; worst
 *   near |u| ~ 0.005, from the cancellation in P(t) at t ~ 1); beyond
 *   |u| = 20 Phi is 0 / 1 to within 1e-38.  The relative error in the far
 *   lower tail grows (z² rounding; ~1.7e-5 at u = -11.4 where Phi ~ 1e-28),
 *   the absolute error there is < 1e-30;
 *   |hk_fast_exp(x)/exp(x) - 1| <= 8.2e-8 ≈ 1.4 u for x = -u²/2 in [-87, 0]
 *   (a 1e-5-step sweep of all of [-87, 0], softmax's range, gives 8.1e-8);
 *   |hk_fast_gelu_grad(u, Phi(u)) - GELU'(u)| <= 1.3e-7 ≈ 2.2 u absolute.
 * The fast path is checked against the f64 reference with a norm-wise
 * tolerance relative to max|ref| (tests/test_fast.c), for which an absolute
 * 4.4 u on Phi is below a single reduction stage's n·u term. */
#ifndef HK_FAST_GELU_H
#define HK_FAST_GELU_H

#include <stdint.h>
#include <string.h>

static inline float hk_fast_exp(float x)
{
    x = x < -87.0f ? -87.0f : x; /* NaN passes through both clamps */
    x = x > 88.0f ? 88.0f : x;
    /* kf = x/ln2 rounded to nearest (the 1.5·2^23 trick; exact in f32 under
     * round-to-nearest, no -ffast-math), k = its integer in the low bits */
    const float kf = x * 1.44269504088896341f + 12582912.0f;
    uint32_t kb;
    memcpy(&kb, &kf, sizeof kb);
    const float k = kf - 12582912.0f;
    float r = x - k * 0.693359375f;
    r = r - k * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float y = p * (r * r) + r + 1.0f;
    /* 2^k, k in [-126, 127]; unsigned, so a NaN's garbage wraps (the result is NaN anyway) */
    const uint32_t bits = (kb - 0x4B400000u + 127u) << 23;
    float sc;
    memcpy(&sc, &bits, sizeof sc);
    return y * sc;
}

/* Phi(u) = 0.5 erfc(-u/sqrt 2). */
static inline float hk_fast_phi(float u)
{
    const float z = (u < 0.0f ? -u : u) * 0.70710678118654752f;
    const float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    const float h = 0.5f * t * hk_fast_exp(p - z * z); /* 0.5 erfc(z) = Phi(-|u|) */
    return u < 0.0f ? h : 1.0f - h;
}

/* GELU'(u) = Phi(u) + u·phi(u), phi(u) = exp(-u²/2)/sqrt(2 pi), given Phi(u). */
static inline float hk_fast_gelu_grad(float u, float phi_cdf)
{
    return phi_cdf + u * 0.39894228040143268f * hk_fast_exp(-0.5f * u * u);
}

#endif
