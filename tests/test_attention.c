/* hkref — multi-head attention: an independent computation, hand-checkable
 * uniform weights, exact-zero padding, hook plumbing and errors.  (Its
 * finite-difference checks are registered in tools/checks/chk_attention.c and run
 * by the "checks" suite.) */
#include "hk_test.h"

#include "ref/attention.h"
#include "ref/rng.h"
#include "checks/fixtures.h"

#include <stdint.h>
#include <stdlib.h>

enum { B_ = 2, T_ = 3, C_ = 4, NH_ = 2, D_ = 2, R_ = 2, BTC_ = B_ * T_ * C_, L_ = B_ * NH_ * T_ * T_ };

/* Everything one forward/backward needs, with fixed-seed values. */
typedef struct {
    hk_attn_config cfg;
    hk_attn_params P, G;
    hk_attn_cache cache;
    double x[BTC_], out[BTC_], dout[BTC_], dx[BTC_];
} fixture;

static void fixture_init(fixture *f, unsigned lora, unsigned long seed)
{
    memset(f, 0, sizeof *f);
    f->cfg = (hk_attn_config){.B = B_, .T = T_, .C = C_, .NH = NH_, .lora = lora, .r = R_, .alpha = 3.0};
    hk_assert_ok(hk_attn_params_alloc(&f->P, &f->cfg, 1));
    hk_assert_ok(hk_attn_params_alloc(&f->G, &f->cfg, 1));
    hk_assert_ok(hk_attn_cache_alloc(&f->cache, &f->cfg));
    gsl_rng *r = hk_rng_new(seed);
    ck_assert_ptr_nonnull(r);
    hk_assert_ok(hk_fixture_attn_params(&f->P, &f->cfg, r));
    hk_assert_ok(hk_rng_fill_uniform(f->x, BTC_, -1.5, 1.5, r));
    hk_assert_ok(hk_rng_fill_uniform(f->dout, BTC_, -1.0, 1.0, r));
    hk_rng_free(r);
}

static void fixture_free(fixture *f)
{
    hk_attn_params_free(&f->P);
    hk_attn_params_free(&f->G);
    hk_attn_cache_free(&f->cache);
}

/* Straightforward attention written independently of ref/attention.c: LoRA
 * merged into the weight (W + s B A, so a different summation), heads as the
 * outer loop, softmax as exp(g)/sum exp(g) with no max shift (|g| < 5 here). */
static void naive_attention(double *out, const double *x, const hk_attn_params *P, const hk_attn_config *cfg,
                            const uint8_t *pad)
{
    double Wm[4][C_ * C_], q[3][BTC_], ctx[BTC_];
    const double s = cfg->alpha / (double)cfg->r;
    for (int i = 0; i < 4; i++)
        for (int o = 0; o < C_; o++)
            for (int c = 0; c < C_; c++) {
                double ba = 0;
                if (cfg->lora & (1u << i))
                    for (int j = 0; j < R_; j++) ba += P->B[i][o * R_ + j] * P->A[i][j * C_ + c];
                Wm[i][o * C_ + c] = P->W[i][o * C_ + c] + s * ba;
            }
    for (int i = 0; i < 3; i++)
        for (int n = 0; n < B_ * T_; n++)
            for (int o = 0; o < C_; o++) {
                double a = P->b[i][o];
                for (int c = 0; c < C_; c++) a += Wm[i][o * C_ + c] * x[n * C_ + c];
                q[i][n * C_ + o] = a;
            }
    for (int h = 0; h < NH_; h++)
        for (int b = 0; b < B_; b++)
            for (int t = 0; t < T_; t++) {
                double e[T_], z = 0;
                for (int k = 0; k < T_; k++) {
                    double g = 0;
                    for (int d = 0; d < D_; d++) g += q[0][(b * T_ + t) * C_ + h * D_ + d] * q[1][(b * T_ + k) * C_ + h * D_ + d];
                    e[k] = (pad && pad[b * T_ + k]) ? 0.0 : exp(g / sqrt((double)D_));
                    z += e[k];
                }
                for (int d = 0; d < D_; d++) {
                    double a = 0;
                    for (int k = 0; k < T_; k++) a += e[k] / z * q[2][(b * T_ + k) * C_ + h * D_ + d];
                    ctx[(b * T_ + t) * C_ + h * D_ + d] = a;
                }
            }
    for (int n = 0; n < B_ * T_; n++)
        for (int o = 0; o < C_; o++) {
            double a = P->b[3][o];
            for (int c = 0; c < C_; c++) a += Wm[3][o * C_ + c] * ctx[n * C_ + c];
            out[n * C_ + o] = a;
        }
}

START_TEST(attention_matches_independent_computation)
{
    static const uint8_t pad[B_ * T_] = {0, 0, 1, 1, 0, 0};
    for (int use_pad = 0; use_pad < 2; use_pad++) {
        fixture f;
        fixture_init(&f, HK_ATTN_LORA_KV | HK_ATTN_LORA_BIT(HK_ATTN_O), 41);
        const uint8_t *pd = use_pad ? pad : NULL;
        double ref[BTC_];
        hk_assert_ok(hk_attn_forward(f.out, &f.cache, f.x, &f.P, &f.cfg, pd, NULL, NULL));
        naive_attention(ref, f.x, &f.P, &f.cfg, pd);
        /* Each output is ~40 roundings of O(1) terms (4 chained dot products of
         * <= 4 terms, one exp, one division) in two different orders: 256 eps. */
        hk_assert_close(f.out, ref, BTC_, use_pad ? "attention vs naive (padded)" : "attention vs naive", 256 * DBL_EPSILON,
                        256 * DBL_EPSILON);
        fixture_free(&f);
    }
}
END_TEST

START_TEST(attention_zero_query_gives_uniform_weights_by_hand)
{
    /* W_q = 0, b_q = 0: every logit is 0, so each row's weight is 1/(#unpadded
     * keys) and out[b,t] = W_o mean_s(V[b,s]) + b_o, the same for every t.
     * b=0 keeps keys {0,1} (weight 1/2 each); b=1 keeps all 3 (1/3). */
    static const uint8_t pad[B_ * T_] = {0, 0, 1, 0, 0, 0};
    fixture f;
    fixture_init(&f, 0, 43);
    memset(f.P.W[HK_ATTN_Q], 0, sizeof(double) * C_ * C_);
    memset(f.P.b[HK_ATTN_Q], 0, sizeof(double) * C_);
    hk_assert_ok(hk_attn_forward(f.out, &f.cache, f.x, &f.P, &f.cfg, pad, NULL, NULL));
    for (int b = 0; b < B_; b++)
        for (int t = 0; t < T_; t++)
            for (int s = 0; s < T_; s++) {
                double want = pad[b * T_ + s] ? 0.0 : (b == 0 ? 0.5 : 1.0 / 3.0);
                for (int h = 0; h < NH_; h++)
                    /* softmax of equal logits: exp(0) = 1 summed over k terms, then 1/k: exact or 1 ulp. */
                    ck_assert_double_eq_tol(f.cache.w[((b * NH_ + h) * T_ + t) * T_ + s], want, DBL_EPSILON);
            }
    double ref[BTC_];
    for (int b = 0; b < B_; b++) {
        double vmean[C_] = {0};
        int kept = 0;
        for (int s = 0; s < T_; s++) kept += !pad[b * T_ + s];
        for (int s = 0; s < T_; s++)
            for (int c = 0; c < C_; c++)
                if (!pad[b * T_ + s]) vmean[c] += f.cache.v[(b * T_ + s) * C_ + c] / kept;
        for (int t = 0; t < T_; t++)
            for (int o = 0; o < C_; o++) {
                double a = f.P.b[HK_ATTN_O][o];
                for (int c = 0; c < C_; c++) a += f.P.W[HK_ATTN_O][o * C_ + c] * vmean[c];
                ref[(b * T_ + t) * C_ + o] = a;
            }
    }
    /* <= 3-term means and a 4-term dot product of O(1) values: 32 eps. */
    hk_assert_close(f.out, ref, BTC_, "uniform-weight attention", 32 * DBL_EPSILON, 32 * DBL_EPSILON);
    fixture_free(&f);
}
END_TEST

START_TEST(attention_padding_is_exact_zero_and_blind_to_padded_values)
{
    static const uint8_t pad[B_ * T_] = {0, 1, 0, 1, 0, 0};
    fixture f;
    fixture_init(&f, HK_ATTN_LORA_KV, 47);
    double out1[BTC_];
    hk_assert_ok(hk_attn_forward(out1, &f.cache, f.x, &f.P, &f.cfg, pad, NULL, NULL));
    for (int b = 0; b < B_; b++)
        for (int h = 0; h < NH_; h++)
            for (int t = 0; t < T_; t++)
                for (int s = 0; s < T_; s++)
                    if (pad[b * T_ + s]) ck_assert(f.cache.w[((b * NH_ + h) * T_ + t) * T_ + s] == 0.0);
    /* Changing x at a padded position changes only that position's own row
     * (it is still a query); every other output is bit-identical. */
    f.x[1 * C_ + 2] += 0.731;
    f.x[3 * C_ + 0] -= 1.25;
    hk_assert_ok(hk_attn_forward(f.out, &f.cache, f.x, &f.P, &f.cfg, pad, NULL, NULL));
    for (int n = 0; n < B_ * T_; n++)
        for (int c = 0; c < C_; c++)
            if (!pad[n]) ck_assert_msg(f.out[n * C_ + c] == out1[n * C_ + c], "out[%d,%d] moved", n, c);
    ck_assert(f.out[1 * C_] != out1[1 * C_]); /* the padded query itself did change */
    fixture_free(&f);
}
END_TEST

START_TEST(attention_identity_hooks_equal_no_hooks_bitwise)
{
    static const uint8_t pad[B_ * T_] = {0, 0, 0, 0, 1, 0};
    fixture f, g;
    fixture_init(&f, HK_ATTN_LORA_KV, 53);
    fixture_init(&g, HK_ATTN_LORA_KV, 53);
    hk_attn_hooks id;
    hk_identity_attn_hooks(&id);
    hk_assert_ok(hk_attn_forward(f.out, &f.cache, f.x, &f.P, &f.cfg, pad, NULL, NULL));
    hk_assert_ok(hk_attn_forward(g.out, &g.cache, g.x, &g.P, &g.cfg, pad, NULL, &id));
    hk_assert_ok(hk_attn_backward(f.dx, &f.G, f.dout, &f.cache, f.x, &f.P, &f.cfg, pad, NULL, NULL));
    hk_assert_ok(hk_attn_backward(g.dx, &g.G, g.dout, &g.cache, g.x, &g.P, &g.cfg, pad, NULL, &id));
    ck_assert(memcmp(f.out, g.out, sizeof f.out) == 0);
    ck_assert(memcmp(f.dx, g.dx, sizeof f.dx) == 0);
    for (int i = 0; i < HK_ATTN_NPROJ; i++) {
        ck_assert(memcmp(f.G.W[i], g.G.W[i], sizeof(double) * C_ * C_) == 0);
        ck_assert(memcmp(f.G.b[i], g.G.b[i], sizeof(double) * C_) == 0);
    }
    for (int i = HK_ATTN_K; i <= HK_ATTN_V; i++) {
        ck_assert(memcmp(f.G.A[i], g.G.A[i], sizeof(double) * R_ * C_) == 0);
        ck_assert(memcmp(f.G.B[i], g.G.B[i], sizeof(double) * C_ * R_) == 0);
    }
    fixture_free(&f);
    fixture_free(&g);
}
END_TEST

START_TEST(attention_null_gradients_are_skipped_and_lora_only_matches)
{
    /* Gradients with frozen W/b NULL (the LoRA training case) equal the A/B
     * and dx of the full computation bit for bit: skipping is not approximating. */
    fixture f;
    fixture_init(&f, HK_ATTN_LORA_KV, 59);
    hk_attn_params Gl;
    hk_assert_ok(hk_attn_params_alloc(&Gl, &f.cfg, 0));
    ck_assert_ptr_null(Gl.W[0]);
    double dx2[BTC_] = {0};
    hk_assert_ok(hk_attn_forward(f.out, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL));
    hk_assert_ok(hk_attn_backward(f.dx, &f.G, f.dout, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL));
    hk_assert_ok(hk_attn_backward(dx2, &Gl, f.dout, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL));
    ck_assert(memcmp(f.dx, dx2, sizeof dx2) == 0);
    ck_assert(memcmp(f.G.A[HK_ATTN_K], Gl.A[HK_ATTN_K], sizeof(double) * R_ * C_) == 0);
    ck_assert(memcmp(f.G.B[HK_ATTN_V], Gl.B[HK_ATTN_V], sizeof(double) * C_ * R_) == 0);
    hk_attn_params_free(&Gl);
    fixture_free(&f);
}
END_TEST

START_TEST(attention_lora_masks_reach_their_own_projection)
{
    /* LoRA on q,k,v,o with the q and o inputs fully dropped (mask all 1) must
     * equal LoRA on k,v only with the same k,v masks, bit for bit: a fully
     * dropped LoRA input adds exactly 0 to the frozen projection.  A routing
     * mix-up (mask i applied to projection j) breaks the equality. */
    fixture all, kv;
    fixture_init(&all, 0xF, 67);
    fixture_init(&kv, HK_ATTN_LORA_KV, 67);
    /* Same x, frozen weights and k,v adapters in both (the fills drew in another order). */
    memcpy(kv.x, all.x, sizeof kv.x);
    for (int i = 0; i < HK_ATTN_NPROJ; i++) {
        memcpy(kv.P.W[i], all.P.W[i], sizeof(double) * C_ * C_);
        memcpy(kv.P.b[i], all.P.b[i], sizeof(double) * C_);
        if (i != HK_ATTN_K && i != HK_ATTN_V) continue;
        memcpy(kv.P.A[i], all.P.A[i], sizeof(double) * R_ * C_);
        memcpy(kv.P.B[i], all.P.B[i], sizeof(double) * C_ * R_);
    }
    static uint8_t m[HK_ATTN_NPROJ][BTC_];
    gsl_rng *r = hk_rng_new(68);
    for (int i = 0; i < HK_ATTN_NPROJ; i++) hk_assert_ok(hk_mask_bernoulli(m[i], BTC_, 0.4, r));
    hk_rng_free(r);
    memset(m[HK_ATTN_Q], 1, BTC_);
    memset(m[HK_ATTN_O], 1, BTC_);
    const uint8_t *masks[HK_ATTN_NPROJ] = {m[0], m[1], m[2], m[3]};
    all.cfg.lora_p = kv.cfg.lora_p = 0.4;
    hk_assert_ok(hk_attn_forward(all.out, &all.cache, all.x, &all.P, &all.cfg, NULL, masks, NULL));
    hk_assert_ok(hk_attn_forward(kv.out, &kv.cache, kv.x, &kv.P, &kv.cfg, NULL, masks, NULL));
    ck_assert(memcmp(all.out, kv.out, sizeof all.out) == 0);
    /* and the k mask is read: keeping every k input moves the output */
    static const uint8_t keep_all[BTC_];
    const uint8_t *masks2[HK_ATTN_NPROJ] = {m[0], keep_all, m[2], m[3]};
    hk_assert_ok(hk_attn_forward(kv.out, &kv.cache, kv.x, &kv.P, &kv.cfg, NULL, masks2, NULL));
    ck_assert(memcmp(all.out, kv.out, sizeof all.out) != 0);
    fixture_free(&all);
    fixture_free(&kv);
}
END_TEST

/* A logits hook that masks every key of row 0: the attention must propagate
 * softmax's "no finite logit" error instead of inventing a policy. */
static int mask_row0(void *ctx, double *g_out, const double *g_in, long B, long NH, long T)
{
    for (long i = 0; i < B * NH * T * T; i++) g_out[i] = i < T ? -INFINITY : g_in[i];
    return HK_OK;
}

START_TEST(attention_rejects_bad_arguments)
{
    fixture f;
    fixture_init(&f, HK_ATTN_LORA_KV, 61);
    hk_attn_config bad = f.cfg;
    bad.NH = 3;
    hk_assert_fails(hk_attn_forward(f.out, &f.cache, f.x, &f.P, &bad, NULL, NULL, NULL), HK_ESHAPE, "NH=3");
    hk_assert_fails(hk_attn_cache_alloc(&f.cache, &bad), HK_ESHAPE, "not divisible");
    static const uint8_t allpad[B_ * T_] = {0, 0, 0, 1, 1, 1};
    hk_assert_fails(hk_attn_forward(f.out, &f.cache, f.x, &f.P, &f.cfg, allpad, NULL, NULL), HK_EDOM,
                    "b=1 has every key padded");
    static const uint8_t pad2[B_ * T_] = {0, 2, 0, 0, 0, 0};
    hk_assert_fails(hk_attn_forward(f.out, &f.cache, f.x, &f.P, &f.cfg, pad2, NULL, NULL), HK_EDOM, "pad[b=0,s=1]");
    f.x[7] = NAN;
    hk_assert_fails(hk_attn_forward(f.out, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL), HK_ENAN, "input x[7]");
    f.x[7] = 0.25;
    hk_assert_fails(hk_attn_forward(NULL, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL), HK_EINVAL, "'out' is NULL");
    hk_assert_fails(hk_attn_forward(f.out, NULL, f.x, &f.P, &f.cfg, NULL, NULL, NULL), HK_EINVAL, "NULL");
    hk_assert_fails(hk_attn_backward(f.dx, &f.G, f.dout, &f.cache, NULL, &f.P, &f.cfg, NULL, NULL, NULL), HK_EINVAL,
                    "'x' is NULL");
    double *A = f.P.A[HK_ATTN_K];
    f.P.A[HK_ATTN_K] = NULL;
    hk_assert_fails(hk_attn_forward(f.out, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL), HK_EINVAL, "A[k]");
    f.P.A[HK_ATTN_K] = A;
    bad = f.cfg;
    bad.lora_p = 0.1;
    hk_assert_fails(hk_attn_forward(f.out, &f.cache, f.x, &f.P, &bad, NULL, NULL, NULL), HK_EINVAL, "lora_mask[k]");
    bad.lora_p = 1.0;
    hk_assert_fails(hk_attn_forward(f.out, &f.cache, f.x, &f.P, &bad, NULL, NULL, NULL), HK_EDOM, "lora_p");
    bad = f.cfg;
    bad.T = 2;
    hk_assert_fails(hk_attn_forward(f.out, &f.cache, f.x, &f.P, &bad, NULL, NULL, NULL), HK_ESHAPE, "cache");
    hk_attn_hooks h = {.logits_forward = mask_row0};
    hk_assert_fails(hk_attn_forward(f.out, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, &h), HK_EINVAL, "logits_backward");
    hk_identity_attn_hooks(&h);
    h.logits_forward = mask_row0;
    hk_assert_fails(hk_attn_forward(f.out, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, &h), HK_EDOM, "no finite logit");
    fixture_free(&f);
}
END_TEST

Suite *suite_attention(void)
{
    Suite *s = suite_create("attention");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, attention_matches_independent_computation);
    tcase_add_test(core, attention_zero_query_gives_uniform_weights_by_hand);
    tcase_add_test(core, attention_identity_hooks_equal_no_hooks_bitwise);
    tcase_add_test(core, attention_null_gradients_are_skipped_and_lora_only_matches);
    tcase_add_test(core, attention_lora_masks_reach_their_own_projection);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, attention_padding_is_exact_zero_and_blind_to_padded_values);
    tcase_add_test(lim, attention_rejects_bad_arguments);
    suite_add_tcase(s, lim);
    return s;
}
