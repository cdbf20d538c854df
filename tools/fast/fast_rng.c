/* hkref — the f32 fast path: in-place mt19937 Bernoulli masks (see fast_rng.h).
 *
 * The Bernoulli masks' draws are most of a training step's sampling (e.g.
 * element HiddenCut: one per activation), and a library call per draw was
 * ~10 % of a fast-path step.  So for GSL's mt19937 the generator is stepped
 * here, on GSL's own state: the same recurrence (Matsumoto & Nishimura
 * 1998: N = 624, M = 397, matrix 0x9908b0df, tempering 11 / 7 0x9d2c5680 /
 * 15 0xefc60000 / 18) and the same u = word / 2^32 as gsl_rng_uniform, so
 * the masks are bit-identical and r continues exactly where GSL would.  The
 * state layout (GSL 2.x rng/mt.c: 624 words, then the index) is checked by
 * size; any other generator or layout takes ref's hk_mask_bernoulli. */
#include "fast_rng.h"

#include "ref/error.h"
#include "ref/rng.h"

#include <string.h>

enum { MT_N = 624, MT_M = 397 };
typedef struct {
    unsigned long mt[MT_N];
    int mti;
} mt_state;

/* The next MT_N words, in place (each update reads the already updated
 * words below it, as the sequential definition does). */
static void mt_refill(unsigned long *mt)
{
    for (int i = 0; i < MT_N; i++) {
        const int i1 = i + 1 < MT_N ? i + 1 : 0, im = i + MT_M < MT_N ? i + MT_M : i + MT_M - MT_N;
        const unsigned long y = (mt[i] & 0x80000000UL) | (mt[i1] & 0x7fffffffUL);
        mt[i] = mt[im] ^ (y >> 1) ^ ((0UL - (y & 1UL)) & 0x9908b0dfUL); /* branch-free: y odd -> matrix */
    }
}

static unsigned long mt_temper(unsigned long k)
{
    k ^= k >> 11;
    k ^= (k << 7) & 0x9d2c5680UL;
    k ^= (k << 15) & 0xefc60000UL;
    k ^= k >> 18;
    return k;
}

int hk_fast_rng_mt_inplace(const gsl_rng *r)
{
    return r && r->type == gsl_rng_mt19937 && gsl_rng_size(r) == sizeof(mt_state);
}

int hk_fast_mask_bernoulli(uint8_t *mask, long n, double p, gsl_rng *r)
{
    if (!hk_fast_rng_mt_inplace(r)) return hk_mask_bernoulli(mask, n, p, r);
    HK_REQUIRE_PTR(mask);
    HK_REQUIRE(n >= 0, HK_EINVAL, "n must be >= 0 (got %ld)", n);
    HK_TRY(hk_check_rate(p, "p"));
    memset(mask, 0, (size_t)n);
    if (p == 0.0) return HK_OK;
    mt_state *st = gsl_rng_state(r);
    HK_REQUIRE(st->mti >= 0 && st->mti <= MT_N, HK_EINVAL, "mt19937 state index %d out of range", st->mti);
    /* the index in a local: mask is uint8_t, whose stores may alias anything */
    unsigned long *const mt = st->mt;
    int mti = st->mti;
    for (long i = 0; i < n; i++) { /* 1 = dropped: a uniform draw below p drops the element */
        if (mti >= MT_N) mt_refill(mt), mti = 0;
        mask[i] = (double)mt_temper(mt[mti++]) / 4294967296.0 < p ? 1 : 0;
    }
    st->mti = mti;
    return HK_OK;
}
