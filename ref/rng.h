/* hkref — plain scalar double reference: seeded randomness.
 *
 * Design rule 1: masks are inputs.  Everything random in hkref is drawn here,
 * from a caller-owned GSL mt19937 generator, into a caller-owned buffer; no
 * forward pass in ref/ ever draws a random number.  Masks are uint8_t with
 * 1 = dropped, 0 = kept (every API that takes a mask says so again). */
#ifndef HK_RNG_H
#define HK_RNG_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

/* A new mt19937 generator seeded with `seed` (GSL treats seed 0 as its default
 * 4357; we pass it through unchanged).  NULL if out of memory (error recorded). */
gsl_rng *hk_rng_new(unsigned long seed);
void hk_rng_free(gsl_rng *r);

/* x[0..n) <- uniform in [lo, hi).  Used for test inputs and weights. */
int hk_rng_fill_uniform(double *x, long n, double lo, double hi, gsl_rng *r);
/* x[0..n) <- N(0, sigma^2) (GSL ziggurat). */
int hk_rng_fill_normal(double *x, long n, double sigma, gsl_rng *r);
/* A uniform integer in [lo, hi] (inclusive), into *out. */
int hk_rng_uniform_int(long *out, long lo, long hi, gsl_rng *r);

/* mask (n) of {0,1}, 1 = dropped: each element independently dropped with
 * probability p, p in [0, 1): mask[i] = gsl_rng_uniform(r) < p, one draw per
 * element in order.  p = 0 draws nothing and leaves all zeros, so a p = 0
 * mask consumes no random numbers.  (The fast path's hk_fast_mask_bernoulli,
 * tools/fast/fast_rng.h, gives the same draws faster.) */
int hk_mask_bernoulli(uint8_t *mask, long n, double p, gsl_rng *r);
/* A sampler with hk_mask_bernoulli's contract and draws, for code shared by
 * the reference and the fast path (ref/stackmask.h); NULL = hk_mask_bernoulli. */
typedef int (*hk_bernoulli_fn)(uint8_t *mask, long n, double p, gsl_rng *r);

/* Validates a drop rate: finite and 0 <= p < 1 (p = 1 would drop everything
 * and make every rescale 1/(1-p) infinite). `what` names the argument (NULL: "p"). */
int hk_check_rate(double p, const char *what);

#endif
