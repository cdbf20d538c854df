/* hkref — post-LN encoder block: an independent composition, the hidden hook's
 * position (a full cut leaves exactly LN2(x1)), hook plumbing and errors.
 * (Finite-difference checks: tools/checks/chk_encoder.c, run by the "checks" suite.) */
#include "hk_test.h"

#include "ref/encoder.h"
#include "ref/layernorm.h"
#include "ref/rng.h"
#include "checks/fixtures.h"

#include <stdint.h>
#include <stdlib.h>

enum { B_ = 2, T_ = 3, C_ = 4, NH_ = 2, F_ = 6, R_ = 2, N_ = B_ * T_, BTC_ = N_ * C_ };

typedef struct {
    hk_enc_config cfg;
    hk_enc_params P, G;
    hk_enc_cache cache;
    double x[BTC_], y[BTC_], dy[BTC_], dx[BTC_];
} fixture;

static void fixture_init(fixture *f, unsigned long seed)
{
    memset(f, 0, sizeof *f);
    f->cfg = (hk_enc_config){.attn = {.B = B_, .T = T_, .C = C_, .NH = NH_, .lora = HK_ATTN_LORA_KV, .r = R_,
                                      .alpha = 16.0},
                             .F = F_,
                             .ln_eps = HK_LAYERNORM_EPS_DEFAULT,
                             .gelu = HK_GELU_ERF};
    hk_assert_ok(hk_enc_params_alloc(&f->P, &f->cfg, 1));
    hk_assert_ok(hk_enc_params_alloc(&f->G, &f->cfg, 1));
    hk_assert_ok(hk_enc_cache_alloc(&f->cache, &f->cfg));
    gsl_rng *r = hk_rng_new(seed);
    ck_assert_ptr_nonnull(r);
    hk_assert_ok(hk_fixture_enc_params(&f->P, &f->cfg, r));
    hk_assert_ok(hk_rng_fill_uniform(f->x, BTC_, -1.5, 1.5, r));
    hk_assert_ok(hk_rng_fill_uniform(f->dy, BTC_, -1.0, 1.0, r));
    hk_rng_free(r);
}

static void fixture_free(fixture *f)
{
    hk_enc_params_free(&f->P);
    hk_enc_params_free(&f->G);
    hk_enc_cache_free(&f->cache);
}

/* y (N,C) = LayerNorm of each row of x, straight from the definition. */
static void naive_ln(double *y, const double *x, const double *w, const double *b, double eps, double *max_rstd)
{
    for (int n = 0; n < N_; n++) {
        double m = 0, v = 0;
        for (int c = 0; c < C_; c++) m += x[n * C_ + c] / C_;
        for (int c = 0; c < C_; c++) v += (x[n * C_ + c] - m) * (x[n * C_ + c] - m) / C_;
        double rs = 1.0 / sqrt(v + eps);
        if (rs > *max_rstd) *max_rstd = rs;
        for (int c = 0; c < C_; c++) y[n * C_ + c] = w[c] * (x[n * C_ + c] - m) * rs + b[c];
    }
}

START_TEST(encoder_matches_independent_composition)
{
    /* Attention (tested in test_attention.c) composed with LayerNorm, FFN and
     * GELU written from their definitions (GELU as 0.5x(1 + erf(x/sqrt 2)),
     * another formula than ref/gelu.c's erfc), through a fixed hidden hook. */
    fixture f;
    fixture_init(&f, 71);
    double hmul[BTC_], hadd[BTC_];
    gsl_rng *r = hk_rng_new(72);
    hk_assert_ok(hk_rng_fill_uniform(hmul, BTC_, 0.5, 1.5, r));
    hk_assert_ok(hk_rng_fill_uniform(hadd, BTC_, -0.3, 0.3, r));
    hk_rng_free(r);
    hk_fixed_hooks fx = {.hmul = hmul, .hadd = hadd, .n_hidden = BTC_};
    hk_hidden_hook hh;
    hk_fixed_hidden_hook(&hh, &fx);
    hk_assert_ok(hk_enc_forward(f.y, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL, &hh));

    hk_attn_cache ac;
    double a[BTC_], r1[BTC_], x1[BTC_], hid[F_], r2[BTC_], ref[BTC_], max_rstd = 0;
    hk_assert_ok(hk_attn_cache_alloc(&ac, &f.cfg.attn));
    hk_assert_ok(hk_attn_forward(a, &ac, f.x, &f.P.attn, &f.cfg.attn, NULL, NULL, NULL));
    hk_attn_cache_free(&ac);
    for (int i = 0; i < BTC_; i++) r1[i] = f.x[i] + a[i];
    naive_ln(x1, r1, f.P.ln1_w, f.P.ln1_b, f.cfg.ln_eps, &max_rstd);
    for (int n = 0; n < N_; n++) {
        for (int j = 0; j < F_; j++) {
            double u = f.P.b1[j];
            for (int c = 0; c < C_; c++) u += f.P.W1[j * C_ + c] * x1[n * C_ + c];
            hid[j] = 0.5 * u * (1.0 + erf(u / sqrt(2.0)));
        }
        for (int c = 0; c < C_; c++) {
            double h = f.P.b2[c];
            for (int j = 0; j < F_; j++) h += f.P.W2[c * F_ + j] * hid[j];
            r2[n * C_ + c] = x1[n * C_ + c] + (h * hmul[n * C_ + c] + hadd[n * C_ + c]);
        }
    }
    naive_ln(ref, r2, f.P.ln2_w, f.P.ln2_b, f.cfg.ln_eps, &max_rstd);
    /* ~60 roundings of O(1) values (two LayerNorms, two <= 6-term dot products,
     * erf vs erfc: a few ulps), amplified by each LayerNorm's rstd (asserted
     * <= 8 below): 60 * 8 * 2 -> 1024 eps. */
    ck_assert_msg(max_rstd <= 8.0, "rstd %.3g exceeds the bound the tolerance assumes", max_rstd);
    hk_assert_close(f.y, ref, BTC_, "encoder vs composition", 1024 * DBL_EPSILON, 1024 * DBL_EPSILON);
    fixture_free(&f);
}
END_TEST

START_TEST(encoder_full_hidden_cut_leaves_exactly_ln2_of_x1)
{
    /* hidden hook h' = 0 (a cut of every position): y = LN2(x1 + 0) = LN2(x1)
     * bit for bit, which pins the hook between the FFN and the residual. */
    fixture f;
    fixture_init(&f, 73);
    double zero[BTC_] = {0};
    hk_fixed_hooks fx = {.hmul = zero, .hadd = zero, .n_hidden = BTC_};
    hk_hidden_hook hh;
    hk_fixed_hidden_hook(&hh, &fx);
    hk_assert_ok(hk_enc_forward(f.y, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL, &hh));
    double ref[BTC_], mean[N_], rstd[N_];
    hk_assert_ok(hk_layernorm_forward(ref, mean, rstd, f.cache.x1, f.P.ln2_w, f.P.ln2_b, f.cfg.ln_eps, N_, C_));
    ck_assert(memcmp(f.y, ref, sizeof ref) == 0);
    /* and the FFN output it replaced was not already zero */
    int nonzero = 0;
    for (int i = 0; i < BTC_; i++) nonzero += f.cache.h[i] != 0.0;
    ck_assert_int_eq(nonzero, BTC_);
    /* The backward then sends nothing into the FFN: dW1, dW2 stay exactly 0. */
    hk_assert_ok(hk_enc_backward(f.dx, &f.G, f.dy, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL, &hh));
    for (int i = 0; i < F_ * C_; i++) ck_assert(f.G.W1[i] == 0.0 && f.G.W2[i] == 0.0);
    fixture_free(&f);
}
END_TEST

START_TEST(encoder_identity_hooks_equal_no_hooks_bitwise)
{
    static const uint8_t pad[N_] = {0, 0, 1, 0, 0, 0};
    fixture f, g;
    fixture_init(&f, 79);
    fixture_init(&g, 79);
    hk_attn_hooks ia;
    hk_hidden_hook ih;
    hk_identity_attn_hooks(&ia);
    hk_identity_hidden_hook(&ih);
    hk_assert_ok(hk_enc_forward(f.y, &f.cache, f.x, &f.P, &f.cfg, pad, NULL, NULL, NULL));
    hk_assert_ok(hk_enc_forward(g.y, &g.cache, g.x, &g.P, &g.cfg, pad, NULL, &ia, &ih));
    hk_assert_ok(hk_enc_backward(f.dx, &f.G, f.dy, &f.cache, f.x, &f.P, &f.cfg, pad, NULL, NULL, NULL));
    hk_assert_ok(hk_enc_backward(g.dx, &g.G, g.dy, &g.cache, g.x, &g.P, &g.cfg, pad, NULL, &ia, &ih));
    ck_assert(memcmp(f.y, g.y, sizeof f.y) == 0);
    ck_assert(memcmp(f.dx, g.dx, sizeof f.dx) == 0);
    ck_assert(memcmp(f.G.W1, g.G.W1, sizeof(double) * F_ * C_) == 0);
    ck_assert(memcmp(f.G.ln1_w, g.G.ln1_w, sizeof(double) * C_) == 0);
    for (int i = HK_ATTN_K; i <= HK_ATTN_V; i++) {
        ck_assert(memcmp(f.G.attn.A[i], g.G.attn.A[i], sizeof(double) * R_ * C_) == 0);
        ck_assert(memcmp(f.G.attn.B[i], g.G.attn.B[i], sizeof(double) * C_ * R_) == 0);
    }
    fixture_free(&f);
    fixture_free(&g);
}
END_TEST

START_TEST(encoder_lora_only_gradients_match_full_backward)
{
    fixture f;
    fixture_init(&f, 83);
    hk_enc_params Gl;
    hk_assert_ok(hk_enc_params_alloc(&Gl, &f.cfg, 0));
    ck_assert_ptr_null(Gl.W1);
    ck_assert_ptr_nonnull(Gl.attn.A[HK_ATTN_K]);
    double dx2[BTC_] = {0};
    hk_assert_ok(hk_enc_forward(f.y, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL, NULL));
    hk_assert_ok(hk_enc_backward(f.dx, &f.G, f.dy, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL, NULL));
    hk_assert_ok(hk_enc_backward(dx2, &Gl, f.dy, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL, NULL));
    ck_assert(memcmp(f.dx, dx2, sizeof dx2) == 0);
    ck_assert(memcmp(f.G.attn.A[HK_ATTN_V], Gl.attn.A[HK_ATTN_V], sizeof(double) * R_ * C_) == 0);
    ck_assert(memcmp(f.G.attn.B[HK_ATTN_K], Gl.attn.B[HK_ATTN_K], sizeof(double) * C_ * R_) == 0);
    /* dx NULL and grad NULL are accepted (nothing to accumulate). */
    hk_assert_ok(hk_enc_backward(NULL, NULL, f.dy, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL, NULL));
    hk_enc_params_free(&Gl);
    fixture_free(&f);
}
END_TEST

START_TEST(encoder_rejects_bad_arguments)
{
    fixture f;
    fixture_init(&f, 89);
    hk_enc_config bad = f.cfg;
    bad.F = 0;
    hk_assert_fails(hk_enc_forward(f.y, &f.cache, f.x, &f.P, &bad, NULL, NULL, NULL, NULL), HK_EINVAL, "F=0");
    bad = f.cfg;
    bad.ln_eps = 0.0;
    hk_assert_fails(hk_enc_forward(f.y, &f.cache, f.x, &f.P, &bad, NULL, NULL, NULL, NULL), HK_EDOM, "ln_eps");
    bad = f.cfg;
    bad.attn.NH = 3;
    hk_assert_fails(hk_enc_params_alloc(&f.G, &bad, 1), HK_ESHAPE, "NH=3");
    bad = f.cfg;
    bad.F = 5;
    hk_assert_fails(hk_enc_forward(f.y, &f.cache, f.x, &f.P, &bad, NULL, NULL, NULL, NULL), HK_ESHAPE, "F=5");
    hk_assert_fails(hk_enc_forward(NULL, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL, NULL), HK_EINVAL,
                    "'y' is NULL");
    double *w = f.P.ln2_w;
    f.P.ln2_w = NULL;
    hk_assert_fails(hk_enc_forward(f.y, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL, NULL), HK_EINVAL, "ln2_w");
    f.P.ln2_w = w;
    f.P.W1[5] = INFINITY;
    hk_assert_fails(hk_enc_forward(f.y, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL, NULL), HK_ENAN, "W1[5]");
    f.P.W1[5] = 0.125;
    f.x[3] = NAN;
    hk_assert_fails(hk_enc_forward(f.y, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL, NULL), HK_ENAN, "x[3]");
    f.x[3] = 0.5;
    static const uint8_t allpad[N_] = {1, 1, 1, 0, 0, 0};
    hk_assert_fails(hk_enc_forward(f.y, &f.cache, f.x, &f.P, &f.cfg, allpad, NULL, NULL, NULL), HK_EDOM,
                    "b=0 has every key padded");
    /* A hook's own error propagates unchanged: this one was built for another shape. */
    double one[5] = {1, 1, 1, 1, 1};
    hk_fixed_hooks fx = {.hmul = one, .hadd = one, .n_hidden = 5};
    hk_hidden_hook hh;
    hk_fixed_hidden_hook(&hh, &fx);
    hk_assert_fails(hk_enc_forward(f.y, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL, &hh), HK_ESHAPE, "hmul");
    hh.backward = NULL;
    hk_assert_fails(hk_enc_backward(f.dx, &f.G, f.dy, &f.cache, f.x, &f.P, &f.cfg, NULL, NULL, NULL, &hh), HK_EINVAL,
                    "hidden hook");
    fixture_free(&f);
}
END_TEST

Suite *suite_encoder(void)
{
    Suite *s = suite_create("encoder");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, encoder_matches_independent_composition);
    tcase_add_test(core, encoder_identity_hooks_equal_no_hooks_bitwise);
    tcase_add_test(core, encoder_lora_only_gradients_match_full_backward);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, encoder_full_hidden_cut_leaves_exactly_ln2_of_x1);
    tcase_add_test(lim, encoder_rejects_bad_arguments);
    suite_add_tcase(s, lim);
    return s;
}
