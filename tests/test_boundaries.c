/* hkref — limits stated in messages and headers, checked at the boundary
 * (both sides), and result fields that must describe the element they name.
 * Written to kill mutants that survived `make mutate` (seed 20260): each
 * expectation comes from the documented contract (the limit in the error
 * message, the header's definition), never from running the code. */
#include "hk_test.h"

#include "ref/attention.h"
#include "ref/attnmask.h"
#include "ref/dylora.h"
#include "ref/encoder.h"
#include "ref/rng.h"

#include <stdint.h>

static hk_attn_config small_attn(void)
{
    hk_attn_config c = {1, 2, 4, 2, 0, 0, 0, 0.0, 0.0};
    return c;
}

/* attention.c: B <= 2^12, T <= 2^12, C <= 2^14 ("too large for the
 * reference", HK_ENOMEM); LoRA rank r in [1, C]. */
START_TEST(attention_config_limits_both_sides)
{
    hk_attn_config c = small_attn();
    hk_assert_ok(hk_attn_config_check(&c));
    c.T = 4096;
    hk_assert_ok(hk_attn_config_check(&c));
    c.T = 4097;
    hk_assert_fails(hk_attn_config_check(&c), HK_ENOMEM, "T=4097");
    c = small_attn();
    c.B = 4096;
    hk_assert_ok(hk_attn_config_check(&c));
    c.B = 4097;
    hk_assert_fails(hk_attn_config_check(&c), HK_ENOMEM, "B=4097");
    c = small_attn();
    c.C = 16384;
    hk_assert_ok(hk_attn_config_check(&c));
    c.C = 16386; /* even, so C % NH == 0 still holds */
    hk_assert_fails(hk_attn_config_check(&c), HK_ENOMEM, "C=16386");
    c = small_attn();
    c.lora = HK_ATTN_LORA_KV;
    c.alpha = 2.0;
    c.r = 1;
    hk_assert_ok(hk_attn_config_check(&c));
    c.r = 4;
    hk_assert_ok(hk_attn_config_check(&c));
    c.r = 0;
    hk_assert_fails(hk_attn_config_check(&c), HK_EINVAL, "r=0");
    c.r = 5;
    hk_assert_fails(hk_attn_config_check(&c), HK_EINVAL, "r=5");
}
END_TEST

/* encoder.c: FFN dim F in [1, 65536]. */
START_TEST(encoder_ffn_dim_limit_both_sides)
{
    hk_enc_config e = {small_attn(), 65536, 1e-5, HK_GELU_ERF};
    hk_assert_ok(hk_enc_config_check(&e));
    e.F = 65537;
    hk_assert_fails(hk_enc_config_check(&e), HK_EINVAL, "F=65537");
    e.F = 1;
    hk_assert_ok(hk_enc_config_check(&e));
    e.F = 0;
    hk_assert_fails(hk_enc_config_check(&e), HK_EINVAL, "F=0");
}
END_TEST

/* A cache with any one buffer missing is rejected before anything is
 * computed (the forward would otherwise write through a NULL pointer). */
START_TEST(attention_cache_with_a_null_buffer_is_rejected)
{
    hk_attn_config c = small_attn();
    hk_attn_cache cache;
    hk_attn_params P;
    hk_assert_ok(hk_attn_cache_alloc(&cache, &c));
    hk_assert_ok(hk_attn_params_alloc(&P, &c, 1));
    double x[8] = {0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8}, out[8];
    hk_assert_ok(hk_attn_forward(out, &cache, x, &P, &c, NULL, NULL, NULL));
    double **bufs[8] = {&cache.q, &cache.k, &cache.v, &cache.g_pre, &cache.g, &cache.w_pre, &cache.w, &cache.ctx};
    for (int i = 0; i < 8; i++) {
        double *keep = *bufs[i];
        *bufs[i] = NULL;
        hk_assert_fails(hk_attn_forward(out, &cache, x, &P, &c, NULL, NULL, NULL), HK_EINVAL, "NULL buffers");
        *bufs[i] = keep;
    }
    hk_attn_params_free(&P);
    hk_attn_cache_free(&cache);
}
END_TEST

/* attnmask.c: every dimension must be positive, Tk included. */
START_TEST(mask_sampler_rejects_zero_keys)
{
    uint8_t m[4];
    gsl_rng *r = hk_rng_new(3);
    hk_assert_fails(hk_attnmask_sample(m, HK_PATTERN_ELEMENT, 0.1, NULL, 1, 1, 2, 0, r), HK_EINVAL, "Tk=0");
    hk_assert_fails(hk_attnmask_sample(m, HK_PATTERN_ELEMENT, 0.1, NULL, 1, 0, 2, 2, r), HK_EINVAL, "NH=0");
    hk_assert_ok(hk_attnmask_sample(m, HK_PATTERN_ELEMENT, 0.1, NULL, 1, 1, 2, 2, r));
    hk_rng_free(r);
}
END_TEST

/* dylora.c: 1 <= r_min <= r_max (r_min = 0 is an error even when r_min <= r_max);
 * the loss checks its pointers and N before anything else. */
START_TEST(dylora_rank_range_and_loss_arguments)
{
    hk_dylora_dims d0 = {2, 1, 0, 2, 1.0};
    hk_assert_fails(hk_dylora_check_rank(1, &d0), HK_EDOM, "r_min=0");
    hk_dylora_dims d = {2, 1, 1, 2, 1.0};
    double x[2] = {1.0, 2.0}, t[1] = {0.5}, W0[2] = {0.0, 0.0}, A[4] = {1, 0, 0, 1}, B[2] = {1, 1}, L = -1.0;
    hk_assert_ok(hk_dylora_loss_forward(&L, x, t, W0, NULL, A, B, 1, 1, &d));
    /* y_1 = (alpha/1) B[:,0] (A[0,:] . x) = 1 * 1 * 1 = 1; L_1 = (1 - 0.5)^2 = 0.25 */
    ck_assert(L == 0.25);
    hk_assert_fails(hk_dylora_loss_forward(&L, x, NULL, W0, NULL, A, B, 1, 1, &d), HK_EINVAL, "target");
    hk_assert_fails(hk_dylora_loss_forward(&L, NULL, t, W0, NULL, A, B, 1, 1, &d), HK_EINVAL, "'x'");
    hk_assert_fails(hk_dylora_loss_forward(&L, x, t, W0, NULL, A, B, 0, 1, &d), HK_EINVAL, "N must be > 0");
}
END_TEST

/* compare.h: worst_got / worst_ref are the values at worst_index, also when
 * every element matches exactly (all ratios 0). */
START_TEST(compare_worst_fields_describe_worst_index)
{
    const double got[3] = {3.0, -4.0, 5.0};
    hk_cmp_result r;
    ck_assert_int_eq(hk_compare(got, got, 3, NULL, 0, "exact", 0.0, 1e-12, NULL, 0, &r), HK_OK);
    ck_assert_int_eq(r.nfail, 0);
    ck_assert(r.worst_index >= 0 && r.worst_index < 3);
    ck_assert(r.worst_got == got[r.worst_index] && r.worst_ref == got[r.worst_index]);
    const double ref[3] = {3.0, -4.5, 5.0};
    ck_assert_int_eq(hk_compare(got, ref, 3, NULL, 0, "one off", 0.0, 1e-12, NULL, 0, &r), HK_OK);
    ck_assert_int_eq(r.worst_index, 1);
    ck_assert(r.worst_got == -4.0 && r.worst_ref == -4.5);
}
END_TEST

Suite *suite_boundaries(void)
{
    Suite *s = suite_create("boundaries");
    TCase *tc = tcase_create("Core");
    tcase_add_test(tc, attention_config_limits_both_sides);
    tcase_add_test(tc, encoder_ffn_dim_limit_both_sides);
    tcase_add_test(tc, attention_cache_with_a_null_buffer_is_rejected);
    tcase_add_test(tc, mask_sampler_rejects_zero_keys);
    tcase_add_test(tc, dylora_rank_range_and_loss_arguments);
    tcase_add_test(tc, compare_worst_fields_describe_worst_index);
    suite_add_tcase(s, tc);
    return s;
}
