/* hkref — LoRA linear: dropout policy, frozen path, merge/unmerge, init
 * statistics, B row stride, errors.  (Finite-difference checks of the
 * backward are registered in tools/checks/chk_lora.c: lora, lora.mask, lora.ldb.) */
#include "hk_test.h"

#include "ref/linear.h"
#include "ref/lora.h"
#include "ref/rng.h"

#include <gsl/gsl_statistics_double.h>
#include <stdint.h>

enum { N = 3, IN = 6, OUT = 4, R = 3, LD = 5 };

typedef struct {
    double x[N * IN], W0[OUT * IN], b[OUT], A[R * IN], B[OUT * R], dy[N * OUT];
} lora_case;

/* High-entropy inputs; B non-zero (unlike after init) so the LoRA path matters. */
static void fill_case(lora_case *c, unsigned long seed)
{
    gsl_rng *r = hk_rng_new(seed);
    ck_assert_ptr_nonnull(r);
    hk_assert_ok(hk_rng_fill_uniform(c->x, N * IN, -2.0, 2.0, r));
    hk_assert_ok(hk_rng_fill_uniform(c->W0, OUT * IN, -1.0, 1.0, r));
    hk_assert_ok(hk_rng_fill_uniform(c->b, OUT, -1.0, 1.0, r));
    hk_assert_ok(hk_rng_fill_uniform(c->A, R * IN, -0.5, 0.5, r));
    hk_assert_ok(hk_rng_fill_uniform(c->B, OUT * R, -0.5, 0.5, r));
    hk_assert_ok(hk_rng_fill_uniform(c->dy, N * OUT, -1.0, 1.0, r));
    hk_rng_free(r);
}

START_TEST(lora_hand_computed_with_dropout)
{
    /* x (1,2) = [2, -1], mask [0, 1], p = 0.5: dropout(x) = [2/(1-0.5), 0] = [4, 0].
     * A (1,2) = [0.25, 3] -> xa = 1; B (2,1) = [0.5, -2]; scale 2 -> LoRA term [1, -4].
     * W0 = [[0.5, 1.5], [-2, 0.25]], bias [0.125, 1] -> frozen [-0.375, -3.25];
     * y = [0.625, -7.25].  Backward with dy = [1, 0.5]: g = 2 * (1*0.5 + 0.5*(-2)) = -1;
     * dA = g * dropout(x) = [-4, 0]; dB = scale * dy * xa = [2, 1];
     * dx = dy W0 + [kept] 2 * g * A = [-0.5 - 0.5, 1.625 + 0] = [-1, 1.625].  All exact in binary. */
    double x[2] = {2, -1}, W0[4] = {0.5, 1.5, -2, 0.25}, b[2] = {0.125, 1}, A[2] = {0.25, 3}, B[2] = {0.5, -2};
    uint8_t mask[2] = {0, 1};
    double y[2], xa[1], dy[2] = {1, 0.5}, dx[2] = {0}, dA[2] = {0}, dB[2] = {0};
    const hk_lora_dims d = {.N = 1, .IN = 2, .OUT = 2, .r = 1, .ldB = 1, .scale = 2.0};
    hk_assert_ok(hk_lora_forward(y, xa, x, W0, b, A, B, mask, 0.5, &d));
    ck_assert(xa[0] == 1.0 && y[0] == 0.625 && y[1] == -7.25);
    hk_assert_ok(hk_lora_backward(dx, dA, dB, dy, x, xa, W0, A, B, mask, 0.5, &d));
    ck_assert(dA[0] == -4.0 && dA[1] == 0.0);
    ck_assert(dB[0] == 2.0 && dB[1] == 1.0);
    ck_assert(dx[0] == -1.0 && dx[1] == 1.625);
}
END_TEST

START_TEST(lora_p0_null_mask_equals_zero_mask_bitwise)
{
    lora_case c;
    fill_case(&c, 31);
    uint8_t zero[N * IN] = {0};
    double y1[N * OUT], y2[N * OUT], xa1[N * R], xa2[N * R];
    double dx1[N * IN] = {0}, dx2[N * IN] = {0}, dA1[R * IN] = {0}, dA2[R * IN] = {0};
    double dB1[OUT * R] = {0}, dB2[OUT * R] = {0};
    const hk_lora_dims d = {N, IN, OUT, R, R, 8.0 / R};
    hk_assert_ok(hk_lora_forward(y1, xa1, c.x, c.W0, c.b, c.A, c.B, NULL, 0.0, &d));
    hk_assert_ok(hk_lora_forward(y2, xa2, c.x, c.W0, c.b, c.A, c.B, zero, 0.0, &d));
    hk_assert_ok(hk_lora_backward(dx1, dA1, dB1, c.dy, c.x, xa1, c.W0, c.A, c.B, NULL, 0.0, &d));
    hk_assert_ok(hk_lora_backward(dx2, dA2, dB2, c.dy, c.x, xa2, c.W0, c.A, c.B, zero, 0.0, &d));
    ck_assert(memcmp(y1, y2, sizeof y1) == 0 && memcmp(xa1, xa2, sizeof xa1) == 0);
    ck_assert(memcmp(dx1, dx2, sizeof dx1) == 0 && memcmp(dA1, dA2, sizeof dA1) == 0);
    ck_assert(memcmp(dB1, dB2, sizeof dB1) == 0);
}
END_TEST

START_TEST(lora_with_b_zero_is_the_frozen_linear_exactly)
{
    lora_case c;
    fill_case(&c, 32);
    gsl_rng *r = hk_rng_new(5);
    hk_assert_ok(hk_lora_init(c.A, c.B, IN, OUT, R, r));
    hk_rng_free(r);
    uint8_t mask[N * IN];
    r = hk_rng_new(6);
    hk_assert_ok(hk_mask_bernoulli(mask, N * IN, 0.25, r));
    hk_rng_free(r);
    double y[N * OUT], xa[N * R], lin[N * OUT];
    const hk_lora_dims d = {N, IN, OUT, R, R, 2.0};
    hk_assert_ok(hk_lora_forward(y, xa, c.x, c.W0, c.b, c.A, c.B, mask, 0.25, &d));
    hk_assert_ok(hk_linear_forward(lin, c.x, c.W0, c.b, N, IN, OUT));
    for (int k = 0; k < N * OUT; k++)
        ck_assert_msg(y[k] == lin[k], "B = 0: y[%d] = %.17g, frozen linear %.17g", k, y[k], lin[k]);
    /* Gradients: dA = 0 exactly (it is proportional to B), dx is the linear's. */
    double dx[N * IN] = {0}, dA[R * IN] = {0}, dB[OUT * R] = {0}, dxl[N * IN] = {0};
    hk_assert_ok(hk_lora_backward(dx, dA, dB, c.dy, c.x, xa, c.W0, c.A, c.B, mask, 0.25, &d));
    hk_assert_ok(hk_linear_backward(dxl, NULL, NULL, c.dy, c.x, c.W0, N, IN, OUT));
    for (int k = 0; k < R * IN; k++) ck_assert_msg(dA[k] == 0.0, "B = 0: dA[%d] = %.17g", k, dA[k]);
    for (int k = 0; k < N * IN; k++) ck_assert_msg(dx[k] == dxl[k], "B = 0: dx[%d] differs", k);
    int nonzero = 0;
    for (int k = 0; k < OUT * R; k++) nonzero += dB[k] != 0.0;
    ck_assert_msg(nonzero == OUT * R, "B = 0 must still give B a gradient (%d of %d non-zero)", nonzero, OUT * R);
}
END_TEST

START_TEST(lora_merged_weights_give_the_unmerged_output)
{
    lora_case c;
    fill_case(&c, 33);
    const double s = 16.0 / R;
    double y[N * OUT], xa[N * R], W[OUT * IN], ym[N * OUT];
    hk_assert_ok(hk_lora_forward(y, xa, c.x, c.W0, c.b, c.A, c.B, NULL, 0.0, &(hk_lora_dims){N, IN, OUT, R, R, s}));
    memcpy(W, c.W0, sizeof W);
    hk_assert_ok(hk_lora_merge(W, c.A, c.B, IN, OUT, R, R, s, +1));
    hk_assert_ok(hk_linear_forward(ym, c.x, W, c.b, N, IN, OUT));
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            /* Both sides are chains of at most IN + r + 3 roundings over terms whose
             * magnitudes sum to M, so each is within (IN + r + 3) eps M of the exact
             * value (first-order dot-product bound); the difference within twice that. */
            double M = fabs(c.b[o]);
            for (int i = 0; i < IN; i++) {
                double ba = 0;
                for (int j = 0; j < R; j++) ba += fabs(c.B[o * R + j] * c.A[j * IN + i]);
                M += fabs(c.x[n * IN + i]) * (fabs(c.W0[o * IN + i]) + s * ba);
            }
            double tol = 2.0 * (IN + R + 3) * DBL_EPSILON * M;
            double got = ym[n * OUT + o], ref = y[n * OUT + o];
            ck_assert_msg(fabs(got - ref) <= tol, "merged y[%d,%d] = %.17g, unmerged %.17g, |diff| %.3g > tol %.3g",
                          n, o, got, ref, fabs(got - ref), tol);
        }
}
END_TEST

START_TEST(lora_merge_then_unmerge_restores_w0)
{
    lora_case c;
    fill_case(&c, 34);
    const double s = 16.0 / R;
    double W[OUT * IN];
    memcpy(W, c.W0, sizeof W);
    hk_assert_ok(hk_lora_merge(W, c.A, c.B, IN, OUT, R, R, s, +1));
    /* Merge must change W by s*BA (up to rounding), or the round trip proves nothing. */
    for (int o = 0; o < OUT; o++)
        for (int i = 0; i < IN; i++) {
            double d = 0, S = 0;
            for (int j = 0; j < R; j++) {
                d += c.B[o * R + j] * c.A[j * IN + i];
                S += fabs(c.B[o * R + j] * c.A[j * IN + i]);
            }
            S *= s;
            /* r-term dot product, a scale product and one add. */
            ck_assert_msg(fabs(W[o * IN + i] - (c.W0[o * IN + i] + s * d)) <= 2.0 * (R + 2) * DBL_EPSILON * (fabs(c.W0[o * IN + i]) + S),
                          "merged W[%d,%d] is not W0 + s BA", o, i);
        }
    double Wm[OUT * IN];
    memcpy(Wm, W, sizeof W);
    hk_assert_ok(hk_lora_merge(W, c.A, c.B, IN, OUT, R, R, s, -1));
    for (int o = 0; o < OUT; o++)
        for (int i = 0; i < IN; i++) {
            double S = 0;
            for (int j = 0; j < R; j++) S += fabs(c.B[o * R + j] * c.A[j * IN + i]);
            S *= s;
            /* Merge and unmerge add and subtract the same rounded D = fl(s BA):
             * fl(fl(W0 + D) - D) - W0 is within eps(2|W0| + |D|)(1 + eps) <= 2 eps (|W0| + |D|),
             * and |D| <= S (1 + (r+1) eps); 3 eps (|W0| + S) covers both factors. */
            double tol = 3.0 * DBL_EPSILON * (fabs(c.W0[o * IN + i]) + S);
            ck_assert_msg(fabs(W[o * IN + i] - c.W0[o * IN + i]) <= tol,
                          "unmerge W[%d,%d] = %.17g, W0 %.17g, tol %.3g", o, i, W[o * IN + i], c.W0[o * IN + i], tol);
        }
}
END_TEST

START_TEST(lora_init_matches_kaiming_uniform_statistics)
{
    enum { IR = 8, IIN = 256, IOUT = 5, NS = IR * IIN };
    static double A[NS], B[IOUT * IR];
    for (int k = 0; k < IOUT * IR; k++) B[k] = 1.5; /* must be overwritten with 0 */
    gsl_rng *r = hk_rng_new(2024);
    hk_assert_ok(hk_lora_init(A, B, IIN, IOUT, IR, r));
    hk_rng_free(r);
    /* kaiming_uniform(a = sqrt 5): gain sqrt(2/(1+5)), bound gain*sqrt(3/IN) = 1/sqrt(IN) = 1/16. */
    const double bound = 0.0625;
    double lo = gsl_stats_min(A, 1, NS), hi = gsl_stats_max(A, 1, NS);
    ck_assert_msg(lo >= -bound && hi < bound, "A range [%.17g, %.17g] outside [-1/16, 1/16)", lo, hi);
    /* The range is filled: P(no draw beyond 0.99 bound at one end) = 0.995^2048 ~ 4e-5. */
    ck_assert_msg(lo < -0.99 * bound && hi > 0.99 * bound, "A range [%.6g, %.6g] not filled", lo, hi);
    /* U(-b,b): mean 0, variance b^2/3; standard errors b/sqrt(3n) and b^2 sqrt(4/45/n)
     * (Var X^2 = b^4/5 - b^4/9).  4 standard errors: a random seed fails with p ~ 6e-5. */
    double mean = gsl_stats_mean(A, 1, NS), var = gsl_stats_variance(A, 1, NS);
    double se_mean = bound / sqrt(3.0 * NS), se_var = bound * bound * sqrt(4.0 / 45.0 / NS);
    ck_assert_msg(fabs(mean) <= 4 * se_mean, "A mean %.6g, 4 SE = %.6g", mean, 4 * se_mean);
    ck_assert_msg(fabs(var - bound * bound / 3) <= 4 * se_var, "A variance %.6g vs b^2/3 = %.6g, 4 SE = %.6g", var,
                  bound * bound / 3, 4 * se_var);
    for (int k = 0; k < IOUT * IR; k++) ck_assert_msg(B[k] == 0.0, "B[%d] = %g, must be 0", k, B[k]);
}
END_TEST

START_TEST(lora_ldb_addresses_the_first_r_columns)
{
    lora_case c;
    fill_case(&c, 35);
    /* B stored (OUT, LD) with LD > R; the unused columns hold NaN, so reading
     * them would show.  Reference: the compact copy (OUT, R). */
    double Bw[OUT * LD];
    for (int o = 0; o < OUT; o++)
        for (int j = 0; j < LD; j++) Bw[o * LD + j] = j < R ? c.B[o * R + j] : NAN;
    uint8_t mask[N * IN];
    gsl_rng *r = hk_rng_new(7);
    hk_assert_ok(hk_mask_bernoulli(mask, N * IN, 0.2, r));
    hk_rng_free(r);
    double y1[N * OUT], y2[N * OUT], xa1[N * R], xa2[N * R];
    const hk_lora_dims d1 = {N, IN, OUT, R, R, 2.5}, d2 = {N, IN, OUT, R, LD, 2.5}; /* compact B, strided Bw */
    hk_assert_ok(hk_lora_forward(y1, xa1, c.x, c.W0, c.b, c.A, c.B, mask, 0.2, &d1));
    hk_assert_ok(hk_lora_forward(y2, xa2, c.x, c.W0, c.b, c.A, Bw, mask, 0.2, &d2));
    ck_assert(memcmp(y1, y2, sizeof y1) == 0 && memcmp(xa1, xa2, sizeof xa1) == 0);
    double dx1[N * IN] = {0}, dx2[N * IN] = {0}, dA1[R * IN] = {0}, dA2[R * IN] = {0}, dB1[OUT * R] = {0}, dB2[OUT * LD];
    for (int k = 0; k < OUT * LD; k++) dB2[k] = 0.0;
    for (int o = 0; o < OUT; o++)
        for (int j = R; j < LD; j++) dB2[o * LD + j] = 7.25; /* must stay untouched */
    hk_assert_ok(hk_lora_backward(dx1, dA1, dB1, c.dy, c.x, xa1, c.W0, c.A, c.B, mask, 0.2, &d1));
    hk_assert_ok(hk_lora_backward(dx2, dA2, dB2, c.dy, c.x, xa2, c.W0, c.A, Bw, mask, 0.2, &d2));
    ck_assert(memcmp(dx1, dx2, sizeof dx1) == 0 && memcmp(dA1, dA2, sizeof dA1) == 0);
    for (int o = 0; o < OUT; o++)
        for (int j = 0; j < LD; j++)
            ck_assert_msg(j < R ? dB2[o * LD + j] == dB1[o * R + j] : dB2[o * LD + j] == 7.25,
                          "dB (ldB = %d) [%d,%d] = %.17g", LD, o, j, dB2[o * LD + j]);
    /* Merge reads the same columns. */
    double W1[OUT * IN], W2[OUT * IN];
    memcpy(W1, c.W0, sizeof W1);
    memcpy(W2, c.W0, sizeof W2);
    hk_assert_ok(hk_lora_merge(W1, c.A, c.B, IN, OUT, R, R, 2.5, +1));
    hk_assert_ok(hk_lora_merge(W2, c.A, Bw, IN, OUT, R, LD, 2.5, +1));
    ck_assert(memcmp(W1, W2, sizeof W1) == 0);
}
END_TEST

START_TEST(lora_rejects_bad_arguments)
{
    lora_case c;
    fill_case(&c, 36);
    double y[N * OUT], xa[N * R];
    uint8_t mask[N * IN] = {0};
#define FWD(mk, p, r, ld, s) \
    hk_lora_forward(y, xa, c.x, c.W0, c.b, c.A, c.B, (mk), (p), &(hk_lora_dims){N, IN, OUT, (r), (ld), (s)})
    hk_assert_fails(FWD(mask, 1.0, R, R, 1.0), HK_EDOM, "p must be in [0, 1)");
    hk_assert_fails(FWD(mask, -0.1, R, R, 1.0), HK_EDOM, "p must be in [0, 1)");
    hk_assert_fails(FWD(mask, NAN, R, R, 1.0), HK_EDOM, "p must be in [0, 1)");
    hk_assert_fails(FWD(NULL, 0.3, R, R, 1.0), HK_EINVAL, "mask is NULL");
    mask[1 * IN + 2] = 1;
    hk_assert_fails(FWD(mask, 0.0, R, R, 1.0), HK_EDOM, "mask[n=1,i=2] = 1 (dropped) but p = 0");
    mask[1 * IN + 2] = 2;
    hk_assert_fails(FWD(mask, 0.3, R, R, 1.0), HK_EDOM, "mask[n=1,i=2] = 2");
    mask[1 * IN + 2] = 0;
    hk_assert_fails(FWD(mask, 0.0, 0, R, 1.0), HK_EINVAL, "r=0");
    hk_assert_fails(FWD(mask, 0.0, R, R - 1, 1.0), HK_EINVAL, "ldB=2 must be >= r=3");
    hk_assert_fails(FWD(mask, 0.0, R, R, NAN), HK_ENAN, "scale");
    hk_assert_fails(FWD(mask, 0.0, R, R, INFINITY), HK_ENAN, "scale");
    const hk_lora_dims d = {N, IN, OUT, R, R, 1.0}, d_in0 = {N, 0, OUT, R, R, 1.0};
    hk_assert_fails(hk_lora_forward(y, xa, NULL, c.W0, c.b, c.A, c.B, NULL, 0.0, &d), HK_EINVAL, "'x'");
    hk_assert_fails(hk_lora_forward(y, xa, c.x, c.W0, c.b, c.A, c.B, NULL, 0.0, &d_in0), HK_EINVAL, "IN=0");
    hk_assert_fails(hk_lora_forward(y, xa, c.x, c.W0, c.b, c.A, c.B, NULL, 0.0, NULL), HK_EINVAL, "'dims'");
#undef FWD
    /* The backward applies the same policy. */
    double dA[R * IN] = {0};
    mask[0] = 1;
    hk_assert_fails(hk_lora_backward(NULL, dA, NULL, c.dy, c.x, xa, c.W0, c.A, c.B, mask, 0.0, &d), HK_EDOM,
                    "but p = 0");
    hk_assert_fails(hk_lora_backward(NULL, dA, NULL, NULL, c.x, xa, c.W0, c.A, c.B, NULL, 0.0, &d), HK_EINVAL, "'dy'");
    gsl_rng *r = hk_rng_new(1);
    hk_assert_fails(hk_lora_init(c.A, c.B, IN, OUT, 0, r), HK_EINVAL, "r=0");
    hk_assert_fails(hk_lora_init(c.A, c.B, IN, OUT, R, NULL), HK_EINVAL, "'rng'");
    hk_rng_free(r);
    double W[OUT * IN];
    memcpy(W, c.W0, sizeof W);
    hk_assert_fails(hk_lora_merge(W, c.A, c.B, IN, OUT, R, R, 1.0, 0), HK_EINVAL, "sign=0");
    hk_assert_fails(hk_lora_merge(W, c.A, c.B, IN, OUT, R, R - 1, 1.0, 1), HK_EINVAL, "ldB");
}
END_TEST

START_TEST(lora_merge_overflow_writes_nothing)
{
    /* W (2,2); only the last element overflows: a one-pass merge would already
     * have written the first three. */
    double W[4] = {0.5, -1.25, 2.0, 1.5e308}, W0[4];
    double A[2] = {1e-300, 1.0}, B[2] = {0.75, 1e308}; /* r = 1: (BA)[1,0] = 1e8, (BA)[1,1] = 1e308 */
    memcpy(W0, W, sizeof W);
    hk_assert_fails(hk_lora_merge(W, A, B, 2, 2, 1, 1, 2.0, +1), HK_ENAN, "W[o=1,i=1] = inf");
    ck_assert(memcmp(W, W0, sizeof W) == 0);
    double Wn[4] = {0.5, NAN, 2.0, 1.0}, Wn0[4];
    memcpy(Wn0, Wn, sizeof Wn);
    hk_assert_fails(hk_lora_merge(Wn, A, B, 2, 2, 1, 1, 1e-300, +1), HK_ENAN, "W[o=0,i=1]");
    ck_assert(memcmp(Wn, Wn0, sizeof Wn) == 0);
}
END_TEST

Suite *suite_lora(void)
{
    Suite *s = suite_create("lora");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, lora_hand_computed_with_dropout);
    tcase_add_test(core, lora_p0_null_mask_equals_zero_mask_bitwise);
    tcase_add_test(core, lora_with_b_zero_is_the_frozen_linear_exactly);
    tcase_add_test(core, lora_merged_weights_give_the_unmerged_output);
    tcase_add_test(core, lora_merge_then_unmerge_restores_w0);
    tcase_add_test(core, lora_init_matches_kaiming_uniform_statistics);
    tcase_add_test(core, lora_ldb_addresses_the_first_r_columns);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, lora_rejects_bad_arguments);
    tcase_add_test(lim, lora_merge_overflow_writes_nothing);
    suite_add_tcase(s, lim);
    return s;
}
