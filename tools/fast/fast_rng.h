/* hkref — the f32 fast path: the element-wise Bernoulli mask sampler,
 * stepping GSL's mt19937 state in place.
 *
 * Same contract and same draws as ref/rng.h's hk_mask_bernoulli (mask (n) of
 * {0,1}, 1 = dropped when the next uniform is < p; p = 0 draws nothing):
 * for GSL's mt19937 it runs the generator's recurrence itself, on GSL's own
 * state, instead of one gsl_rng_uniform call per draw, so the masks are bit
 * identical and r continues exactly where GSL would.  Any other generator,
 * or a state layout it does not recognise, takes hk_mask_bernoulli.
 * tests/test_rng.c compares the two draw by draw. */
#ifndef HK_FAST_RNG_H
#define HK_FAST_RNG_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

// -> mask (n) of {0,1}, 1 = dropped
int hk_fast_mask_bernoulli(uint8_t *mask, long n, double p, gsl_rng *r);
/* 1 when hk_fast_mask_bernoulli steps r's mt19937 state itself (GSL's mt19937
 * with the state layout it was written for), 0 when it falls back to
 * hk_mask_bernoulli (tests/test_rng.c checks that the generators of
 * hk_rng_new take the in-place path, so a GSL whose layout changed is
 * noticed rather than silently slower). */
int hk_fast_rng_mt_inplace(const gsl_rng *r);

#endif
