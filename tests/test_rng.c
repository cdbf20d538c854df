/* hkref — seeded randomness (ref/rng.c): every sampler replays bit-exactly
 * against GSL driven directly with the same seed, fills exactly n elements,
 * and rejects each bad argument by name; the fast path's in-place Bernoulli
 * sampler (tools/fast/fast_rng.c) replays ref's draw by draw.  Written to
 * kill the mutants `make mutate` found surviving in rng.c. */
#include "hk_test.h"

#include "ref/rng.h"
#include "fast/fast_rng.h"

#include <gsl/gsl_randist.h>
#include <limits.h>
#include <math.h>

#define GUARD 1234.5 /* sentinel after the n filled elements */

static gsl_rng *gsl_twin(unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    return r;
}

START_TEST(rng_new_is_mt19937_with_the_given_seed)
{
    unsigned long seeds[3] = {0, 7, 4357};
    for (int k = 0; k < 3; k++) {
        gsl_rng *a = hk_rng_new(seeds[k]), *b = gsl_twin(seeds[k]);
        ck_assert_ptr_nonnull(a);
        ck_assert_str_eq(gsl_rng_name(a), "mt19937");
        for (int i = 0; i < 5; i++) ck_assert_uint_eq(gsl_rng_get(a), gsl_rng_get(b));
        hk_rng_free(a);
        gsl_rng_free(b);
    }
    /* Different seeds give different streams. */
    gsl_rng *a = hk_rng_new(7), *b = hk_rng_new(8);
    ck_assert_uint_ne(gsl_rng_get(a), gsl_rng_get(b));
    hk_rng_free(a);
    hk_rng_free(b);
}
END_TEST

START_TEST(fill_uniform_replays_gsl_and_fills_exactly_n)
{
    double x[9], lo = -2.5, hi = 3.25;
    x[8] = GUARD;
    gsl_rng *r = hk_rng_new(11), *t = gsl_twin(11);
    hk_assert_ok(hk_rng_fill_uniform(x, 8, lo, hi, r));
    for (int i = 0; i < 8; i++) {
        double want = lo + (hi - lo) * gsl_rng_uniform(t);
        ck_assert_msg(x[i] == want, "uniform x[%d] = %.17g, want %.17g", i, x[i], want);
        ck_assert(x[i] >= lo && x[i] < hi);
    }
    ck_assert(x[8] == GUARD);
    /* n = 0 draws nothing: the next draw is still in step with the twin. */
    hk_assert_ok(hk_rng_fill_uniform(x, 0, lo, hi, r));
    ck_assert_uint_eq(gsl_rng_get(r), gsl_rng_get(t));
    /* lo == hi is a valid degenerate range. */
    hk_assert_ok(hk_rng_fill_uniform(x, 3, 1.5, 1.5, r));
    ck_assert(x[0] == 1.5 && x[1] == 1.5 && x[2] == 1.5);
    hk_rng_free(r);
    gsl_rng_free(t);
}
END_TEST

START_TEST(fill_uniform_rejects_bad_arguments)
{
    double x[2];
    gsl_rng *r = hk_rng_new(1);
    hk_assert_fails(hk_rng_fill_uniform(NULL, 2, 0, 1, r), HK_EINVAL, "'x' is NULL");
    hk_assert_fails(hk_rng_fill_uniform(x, 2, 0, 1, NULL), HK_EINVAL, "'r' is NULL");
    hk_assert_fails(hk_rng_fill_uniform(x, -1, 0, 1, r), HK_EINVAL, "got -1");
    hk_assert_fails(hk_rng_fill_uniform(x, 2, 1.0, 0.5, r), HK_EDOM, "[1, 0.5)");
    hk_assert_fails(hk_rng_fill_uniform(x, 2, NAN, 1.0, r), HK_EDOM, "finite");
    hk_assert_fails(hk_rng_fill_uniform(x, 2, 0.0, INFINITY, r), HK_EDOM, "finite");
    hk_assert_fails(hk_rng_fill_uniform(x, 2, -INFINITY, 0.0, r), HK_EDOM, "finite");
    hk_rng_free(r);
}
END_TEST

START_TEST(fill_normal_replays_gsl_ziggurat)
{
    double x[7], sigma = 0.75;
    x[6] = GUARD;
    gsl_rng *r = hk_rng_new(21), *t = gsl_twin(21);
    hk_assert_ok(hk_rng_fill_normal(x, 6, sigma, r));
    for (int i = 0; i < 6; i++) {
        double want = gsl_ran_gaussian_ziggurat(t, sigma);
        ck_assert_msg(x[i] == want, "normal x[%d] = %.17g, want %.17g", i, x[i], want);
    }
    ck_assert(x[6] == GUARD);
    hk_assert_ok(hk_rng_fill_normal(x, 2, 0.0, r)); /* sigma = 0 is allowed: zeros */
    ck_assert(x[0] == 0.0 && x[1] == 0.0);
    double y[2] = {GUARD, GUARD};
    hk_assert_ok(hk_rng_fill_normal(y, 0, 1.0, r));
    ck_assert(y[0] == GUARD);
    hk_assert_fails(hk_rng_fill_normal(NULL, 2, 1.0, r), HK_EINVAL, "'x' is NULL");
    hk_assert_fails(hk_rng_fill_normal(x, 2, 1.0, NULL), HK_EINVAL, "'r' is NULL");
    hk_assert_fails(hk_rng_fill_normal(x, -3, 1.0, r), HK_EINVAL, "got -3");
    hk_assert_fails(hk_rng_fill_normal(x, 2, -0.5, r), HK_EDOM, "sigma");
    hk_assert_fails(hk_rng_fill_normal(x, 2, NAN, r), HK_EDOM, "sigma");
    hk_assert_fails(hk_rng_fill_normal(x, 2, INFINITY, r), HK_EDOM, "sigma");
    hk_rng_free(r);
    gsl_rng_free(t);
}
END_TEST

START_TEST(uniform_int_is_inclusive_and_replays_gsl)
{
    gsl_rng *r = hk_rng_new(5), *t = gsl_twin(5);
    int seen[3] = {0, 0, 0};
    for (int i = 0; i < 200; i++) {
        long v = -99;
        hk_assert_ok(hk_rng_uniform_int(&v, 3, 5, r));
        long want = 3 + (long)gsl_rng_uniform_int(t, 3);
        ck_assert_int_eq(v, want);
        ck_assert(v >= 3 && v <= 5);
        seen[v - 3]++;
    }
    ck_assert(seen[0] > 0 && seen[1] > 0 && seen[2] > 0); /* both ends reachable */
    long v = 0;
    hk_assert_ok(hk_rng_uniform_int(&v, -4, -4, r));
    ck_assert_int_eq(v, -4);
    /* The widest range mt19937 can serve: 2^32 - 1 values. */
    hk_assert_ok(hk_rng_uniform_int(&v, 0, 4294967294L, r));
    ck_assert(v >= 0 && v <= 4294967294L);
    hk_assert_fails(hk_rng_uniform_int(&v, 0, 4294967295L, r), HK_EDOM, "too wide");
    hk_assert_fails(hk_rng_uniform_int(&v, 6, 5, r), HK_EDOM, "[6, 5] is empty");
    hk_assert_fails(hk_rng_uniform_int(NULL, 0, 5, r), HK_EINVAL, "'out' is NULL");
    hk_assert_fails(hk_rng_uniform_int(&v, 0, 5, NULL), HK_EINVAL, "'r' is NULL");
    hk_rng_free(r);
    gsl_rng_free(t);
}
END_TEST

START_TEST(check_rate_accepts_exactly_zero_to_below_one)
{
    hk_assert_ok(hk_check_rate(0.0, "p"));
    hk_assert_ok(hk_check_rate(-0.0, "p"));
    hk_assert_ok(hk_check_rate(0.5, "p"));
    hk_assert_ok(hk_check_rate(nextafter(1.0, 0.0), "p"));
    hk_assert_fails(hk_check_rate(1.0, "p_attn"), HK_EDOM, "p_attn must be in [0, 1) (got 1)");
    hk_assert_fails(hk_check_rate(-1e-300, "q"), HK_EDOM, "q must be");
    hk_assert_fails(hk_check_rate(NAN, "q"), HK_EDOM, "got nan");
    hk_assert_fails(hk_check_rate(INFINITY, "q"), HK_EDOM, "got inf");
    hk_assert_fails(hk_check_rate(-INFINITY, "q"), HK_EDOM, "got -inf");
    hk_assert_fails(hk_check_rate(1.5, NULL), HK_EDOM, "p must be in [0, 1) (got 1.5)");
}
END_TEST

START_TEST(mask_bernoulli_drops_when_uniform_below_p)
{
    /* 1 = dropped exactly when the i-th uniform draw is < p. */
    uint8_t m[41];
    memset(m, 7, sizeof m);
    double p = 0.3;
    gsl_rng *r = hk_rng_new(99), *t = gsl_twin(99);
    hk_assert_ok(hk_mask_bernoulli(m, 40, p, r));
    int ones = 0;
    for (int i = 0; i < 40; i++) {
        int want = gsl_rng_uniform(t) < p;
        ck_assert_msg(m[i] == want, "mask[%d] = %d, want %d", i, m[i], want);
        ones += m[i];
    }
    ck_assert(ones > 0 && ones < 40);
    ck_assert_int_eq(m[40], 7); /* nothing written past n */
    hk_rng_free(r);
    gsl_rng_free(t);
}
END_TEST

/* ---- the fast path's sampler (tools/fast/fast_rng.h) against ref's ------ */

/* The two Bernoulli samplers: ref's (gsl_rng_uniform per draw) and the fast
 * path's (mt19937 stepped in place); every test below runs on both. */
static const struct {
    const char *name;
    hk_bernoulli_fn f;
} samplers[2] = {{"ref", hk_mask_bernoulli}, {"fast", hk_fast_mask_bernoulli}};

/* hk_fast_mask_bernoulli steps GSL's mt19937 state itself: across several
 * state refills (624 words each), from an offset GSL's own calls left, it
 * must match ref's hk_mask_bernoulli on a twin generator draw by draw and
 * leave r where GSL would. */
START_TEST(fast_mask_bernoulli_long_runs_replay_ref_and_continue_its_stream)
{
    enum { NM = 3 * 624 + 101 };
    static uint8_t m[NM], want[NM];
    const double p = 0.37;
    gsl_rng *r = hk_rng_new(2024), *t = gsl_twin(2024);
    ck_assert(hk_fast_rng_mt_inplace(r)); /* the in-place path is the one under test */
    for (int i = 0; i < 5; i++) ck_assert(gsl_rng_uniform(r) == gsl_rng_uniform(t)); /* mid-block start */
    for (int rep = 0; rep < 3; rep++) {
        const long n = NM - rep * 250;
        hk_assert_ok(hk_fast_mask_bernoulli(m, n, p, r));
        hk_assert_ok(hk_mask_bernoulli(want, n, p, t));
        long ones = 0;
        for (long i = 0; i < n; i++) {
            ck_assert_msg(m[i] == want[i], "rep %d mask[%ld]: fast %d, ref %d", rep, i, m[i], want[i]);
            ones += m[i];
        }
        ck_assert(ones > 0 && ones < n);
        ck_assert(gsl_rng_uniform(r) == gsl_rng_uniform(t)); /* r continues GSL's stream */
    }
    hk_rng_free(r);
    gsl_rng_free(t);
}
END_TEST

/* Bit for bit: with n = 1 and p = the twin's next uniform u, the drop test
 * u < p must say "kept", and with p = the next double above u "dropped" --
 * so the sampler (for the fast one: refill, tempering, u = word / 2^32, the
 * strict <) reproduces gsl_rng_uniform exactly, not just up to a threshold.
 * For mt19937 (the fast sampler's in-place path) and taus2 (its fallback). */
static void bit_exact_draws(hk_bernoulli_fn f, const char *name, const gsl_rng_type *type, int inplace)
{
    gsl_rng *r = gsl_rng_alloc(type), *t = gsl_rng_alloc(type);
    gsl_rng_set(r, 77), gsl_rng_set(t, 77);
    ck_assert_int_eq(hk_fast_rng_mt_inplace(r), inplace);
    for (int i = 0; i < 2 * 624 + 50; i++) {
        const double u = gsl_rng_uniform(t);
        uint8_t kept = 9, dropped = 9;
        if (u == 0.0) { /* p = 0 draws nothing: step r by hand */
            (void)gsl_rng_uniform(r);
            continue;
        }
        gsl_rng *c = gsl_rng_clone(r);
        hk_assert_ok(f(&kept, 1, u, r));
        hk_assert_ok(f(&dropped, 1, nextafter(u, 1.0), c));
        gsl_rng_free(c);
        ck_assert_msg(kept == 0 && dropped == 1, "%s sampler, %s draw %d: u = %.17g, mask(p=u) = %d, mask(p=u+) = %d",
                      name, type->name, i, u, kept, dropped);
    }
    gsl_rng_free(r), gsl_rng_free(t);
}

START_TEST(mask_bernoulli_reproduces_each_uniform_bit_for_bit)
{
    bit_exact_draws(samplers[_i].f, samplers[_i].name, gsl_rng_mt19937, 1);
    bit_exact_draws(samplers[_i].f, samplers[_i].name, gsl_rng_taus2, 0);
    gsl_rng *r = hk_rng_new(1);
    ck_assert(hk_fast_rng_mt_inplace(r)); /* the project's generators take the in-place path */
    hk_rng_free(r);
    ck_assert(!hk_fast_rng_mt_inplace(NULL));
}
END_TEST

/* A corrupted mt19937 state index is refused by the in-place sampler, not
 * read out of bounds; the valid boundary values still replay ref's draws. */
START_TEST(fast_mask_bernoulli_refuses_a_corrupt_state_index)
{
    gsl_rng *r = hk_rng_new(5);
    ck_assert(hk_fast_rng_mt_inplace(r));
    int *mti = (int *)((unsigned long *)gsl_rng_state(r) + 624); /* GSL 2.x rng/mt.c layout */
    uint8_t m[4], want[4];
    *mti = 625;
    hk_assert_fails(hk_fast_mask_bernoulli(m, 4, 0.5, r), HK_EINVAL, "state index");
    *mti = -1;
    hk_assert_fails(hk_fast_mask_bernoulli(m, 4, 0.5, r), HK_EINVAL, "state index");
    const int valid[2] = {624, 0}; /* 624: a refill comes first */
    for (int k = 0; k < 2; k++) {
        *mti = valid[k];
        gsl_rng *t = gsl_rng_clone(r);
        hk_assert_ok(hk_fast_mask_bernoulli(m, 4, 0.5, r));
        hk_assert_ok(hk_mask_bernoulli(want, 4, 0.5, t));
        ck_assert_msg(memcmp(m, want, 4) == 0, "state index %d: fast and ref masks differ", valid[k]);
        ck_assert(gsl_rng_uniform(r) == gsl_rng_uniform(t));
        gsl_rng_free(t);
    }
    hk_rng_free(r);
}
END_TEST

START_TEST(mask_bernoulli_p0_is_all_kept_and_draws_nothing)
{
    const hk_bernoulli_fn f = samplers[_i].f;
    uint8_t m[5];
    memset(m, 7, sizeof m);
    hk_assert_ok(f(m, 4, 0.0, NULL)); /* no generator needed */
    for (int i = 0; i < 4; i++) ck_assert_int_eq(m[i], 0);
    ck_assert_int_eq(m[4], 7);
    gsl_rng *r = hk_rng_new(3), *t = gsl_twin(3);
    hk_assert_ok(f(m, 4, 0.0, r));
    ck_assert_uint_eq(gsl_rng_get(r), gsl_rng_get(t)); /* in step: nothing consumed */
    /* A rate just above 0 still needs the generator. */
    hk_assert_fails(f(m, 4, 0.25, NULL), HK_EINVAL, "'r' is NULL");
    hk_assert_fails(f(NULL, 4, 0.25, r), HK_EINVAL, "'mask' is NULL");
    hk_assert_fails(f(m, -2, 0.25, r), HK_EINVAL, "got -2");
    hk_assert_fails(f(m, 4, 1.0, r), HK_EDOM, "p must be in [0, 1)");
    hk_assert_fails(f(m, 4, -0.1, r), HK_EDOM, "p must be in [0, 1)");
    hk_assert_ok(f(m, 0, 0.5, r));
    ck_assert_uint_eq(gsl_rng_get(r), gsl_rng_get(t));
    hk_rng_free(r);
    gsl_rng_free(t);
}
END_TEST

Suite *suite_rng(void)
{
    Suite *s = suite_create("rng");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, rng_new_is_mt19937_with_the_given_seed);
    tcase_add_test(core, fast_mask_bernoulli_long_runs_replay_ref_and_continue_its_stream);
    tcase_add_test(core, fill_uniform_replays_gsl_and_fills_exactly_n);
    tcase_add_test(core, fill_normal_replays_gsl_ziggurat);
    tcase_add_test(core, uniform_int_is_inclusive_and_replays_gsl);
    tcase_add_test(core, mask_bernoulli_drops_when_uniform_below_p);
    tcase_add_loop_test(core, mask_bernoulli_reproduces_each_uniform_bit_for_bit, 0, 2);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, fill_uniform_rejects_bad_arguments);
    tcase_add_test(lim, check_rate_accepts_exactly_zero_to_below_one);
    tcase_add_loop_test(lim, mask_bernoulli_p0_is_all_kept_and_draws_nothing, 0, 2);
    tcase_add_test(lim, fast_mask_bernoulli_refuses_a_corrupt_state_index);
    suite_add_tcase(s, lim);
    return s;
}
