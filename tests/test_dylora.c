/* hkref — DyLoRA (ref/dylora.c), AdamW (ref/adamw.c), the spectrum
 * (ref/spectrum.c) and `hkref dylora`: hand-computed values, exact policies,
 * the frozen-mode/AdamW comparison, argument errors.  Finite differences and
 * the numeric properties are registered checks (tools/checks/chk_dylora.c), run by
 * the "checks" suite. */
#include "hk_test.h"

#include "ref/adamw.h"
#include "ref/dylora.h"
#include "ref/rng.h"
#include "ref/spectrum.h"
#include "ref/tensorfile.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>


START_TEST(pmf_hand_values)
{
    double pmf[4];
    hk_assert_ok(hk_dylora_rank_pmf(pmf, 3, 6, HK_DYLORA_UNIFORM, 0.0));
    for (int k = 0; k < 4; k++) ck_assert(pmf[k] == 0.25); /* 1/4 is exact */
    /* q = 1/2 on [2,4]: Z = 1 - 1/8 = 7/8, p = (1/2, 1/4, 1/8) / (7/8) = (4, 2, 1)/7 */
    hk_assert_ok(hk_dylora_rank_pmf(pmf, 2, 4, HK_DYLORA_GEOMETRIC, 0.5));
    double want[3] = {4.0 / 7.0, 2.0 / 7.0, 1.0 / 7.0};
    /* expm1/log1p, pow and one division: a few ulps */
    hk_assert_close(pmf, want, 3, "geometric pmf q=0.5", 0.0, 8 * DBL_EPSILON);
    hk_assert_ok(hk_dylora_rank_pmf(pmf, 1, 3, HK_DYLORA_GEOMETRIC, 1.0));
    ck_assert(pmf[0] == 1.0 && pmf[1] == 0.0 && pmf[2] == 0.0);
    /* q -> 0 tends to uniform: p(b) = q(1-q)^k / (1-(1-q)^4) = 1/4 (1 + (3/2 - k) q + O(q^2));
     * with q = 1e-9 the deviation is <= 1.5e-9/4 plus rounding (expm1/log1p keep Z accurate). */
    hk_assert_ok(hk_dylora_rank_pmf(pmf, 1, 4, HK_DYLORA_GEOMETRIC, 1e-9));
    double quarter[4] = {0.25, 0.25, 0.25, 0.25};
    hk_assert_close(pmf, quarter, 4, "geometric pmf q=1e-9", 1e-9, 0.0);
}
END_TEST

START_TEST(sampler_stays_in_range_and_hits_every_rank)
{
    gsl_rng *r = hk_rng_new(31);
    long seen[8] = {0}, b;
    for (int t = 0; t < 4000; t++) {
        hk_assert_ok(hk_dylora_rank_sample(&b, 3, 7, t % 2 ? HK_DYLORA_GEOMETRIC : HK_DYLORA_UNIFORM, 0.2, r));
        ck_assert_msg(b >= 3 && b <= 7, "draw %d: b=%ld outside [3,7]", t, b);
        seen[b]++;
    }
    for (int k = 3; k <= 7; k++) ck_assert_msg(seen[k] > 0, "rank %d never drawn in 4000 draws", k);
    for (int t = 0; t < 100; t++) {
        hk_assert_ok(hk_dylora_rank_sample(&b, 2, 9, HK_DYLORA_GEOMETRIC, 1.0, r));
        ck_assert_int_eq(b, 2); /* q = 1: all mass on r_min */
    }
    hk_rng_free(r);
}
END_TEST

/* IN = 2, OUT = 1, r_max = 2, alpha = 4; every value a dyadic rational, so
 * the results are exact: base = 2*0.5 - 0.25 = 0.75, xa = (1.5, 1.5);
 * b = 1: 0.75 + (4/1)(1.5*2) = 12.75;  b = 2: 0.75 + (4/2)(1.5*2 - 1.5*4) = -5.25. */
START_TEST(truncated_forward_by_hand)
{
    double x[2] = {2, -1}, W0[2] = {0.5, 0.25}, A[4] = {1, 0.5, 0.25, -1}, B[2] = {2, -4}, y, xa[2];
    hk_dylora_dims d = {2, 1, 1, 2, 4.0};
    hk_assert_ok(hk_dylora_forward(&y, xa, x, W0, NULL, A, B, NULL, 0.0, 1, 1, &d));
    ck_assert(y == 12.75);
    hk_assert_ok(hk_dylora_forward(&y, xa, x, W0, NULL, A, B, NULL, 0.0, 1, 2, &d));
    ck_assert(y == -5.25);
    double Y[2];
    hk_assert_ok(hk_dylora_eval_all(Y, x, W0, NULL, A, B, 1, &d));
    ck_assert(Y[0] == 12.75 && Y[1] == -5.25);
}
END_TEST

enum { TN = 3, TIN = 5, TOUT = 4, TR = 4 };

static void fill(double *x, double *W0, double *bias, double *A, double *B, double *tg, unsigned long seed)
{
    gsl_rng *r = hk_rng_new(seed);
    hk_rng_fill_uniform(x, TN * TIN, -2, 2, r);
    hk_rng_fill_uniform(W0, TOUT * TIN, -1, 1, r);
    hk_rng_fill_uniform(bias, TOUT, -0.5, 0.5, r);
    hk_rng_fill_uniform(A, TR * TIN, -0.5, 0.5, r);
    hk_rng_fill_uniform(B, TOUT * TR, -0.5, 0.5, r);
    hk_rng_fill_uniform(tg, TN * TOUT, -1, 1, r);
    hk_rng_free(r);
}

/* With b drawn, rows >= b of dA and columns >= b of dB get exactly 0 (not
 * "small"), rows/columns < b get a non-zero gradient. */
START_TEST(gradient_beyond_b_is_exactly_zero)
{
    double x[TN * TIN], W0[TOUT * TIN], bias[TOUT], A[TR * TIN], B[TOUT * TR], tg[TN * TOUT];
    fill(x, W0, bias, A, B, tg, 32);
    hk_dylora_dims d = {TIN, TOUT, 1, TR, 6.0};
    for (long b = 1; b <= TR; b++) {
        double dA[TR * TIN] = {0}, dB[TOUT * TR] = {0};
        hk_assert_ok(hk_dylora_loss_backward(dA, dB, x, tg, W0, bias, A, B, TN, b, &d));
        for (long k = 0; k < TR; k++) {
            for (long i = 0; i < TIN; i++)
                ck_assert_msg((k >= b) == (dA[k * TIN + i] == 0.0), "b=%ld: dA[%ld,%ld] = %.17g", b, k, i,
                              dA[k * TIN + i]);
            for (long o = 0; o < TOUT; o++)
                ck_assert_msg((k >= b) == (dB[o * TR + k] == 0.0), "b=%ld: dB[%ld,%ld] = %.17g", b, o, k,
                              dB[o * TR + k]);
        }
    }
}
END_TEST

/* p_B concentrated on one rank: the nested loss is that individual loss,
 * bit for bit (1 * L + 0 * others), and so is its gradient. */
START_TEST(nested_with_point_mass_is_individual)
{
    double x[TN * TIN], W0[TOUT * TIN], bias[TOUT], A[TR * TIN], B[TOUT * TR], tg[TN * TOUT];
    fill(x, W0, bias, A, B, tg, 33);
    hk_dylora_dims d = {TIN, TOUT, 2, TR, 6.0};
    double pmf[3] = {0.0, 1.0, 0.0}, Ln, Li;
    hk_assert_ok(hk_dylora_nested_loss_forward(&Ln, x, tg, W0, bias, A, B, pmf, TN, &d));
    hk_assert_ok(hk_dylora_loss_forward(&Li, x, tg, W0, bias, A, B, TN, 3, &d));
    ck_assert_msg(Ln == Li, "nested %.17g vs L_3 %.17g", Ln, Li);
    double gA[TR * TIN] = {0}, gB[TOUT * TR] = {0}, iA[TR * TIN] = {0}, iB[TOUT * TR] = {0};
    hk_assert_ok(hk_dylora_nested_loss_backward(gA, gB, x, tg, W0, bias, A, B, pmf, TN, &d));
    hk_assert_ok(hk_dylora_loss_backward(iA, iB, x, tg, W0, bias, A, B, TN, 3, &d));
    ck_assert(memcmp(gA, iA, sizeof gA) == 0 && memcmp(gB, iB, sizeof gB) == 0);
}
END_TEST

/* AdamW against torch.optim.AdamW (torch 1.13, float64): lr 0.05, betas
 * (0.8, 0.95), eps 1e-6, weight_decay 0.1, three steps of the gradients
 * below from theta = (0.75, -1.25, 2.385, 0.0625).  Values printed by
 * torch with repr (17 digits).  Tolerance: <= ~16 roundings per step, 3
 * steps, on the scale |theta| + lr: 48 eps (|theta| + lr).  Element 3 has
 * g = 0 at step 1: pure decay, 0.0625 (1 - 0.05*0.1) = 0.0621875. */
START_TEST(adamw_matches_torch)
{
    double th[4] = {0.75, -1.25, 2.385, 0.0625}, m[4] = {0}, v[4] = {0};
    double g[3][4] = {{0.3, -2.0, 1e-3, 0.0}, {-0.7, 0.5, 0.25, 1.5}, {0.1, 0.1, -3.0, -0.2}};
    double want[3][4] = {{0.6962501666661111, -1.1937500249999875, 2.32312495004995, 0.0621875},
                         {0.7162895579127765, -1.1665791358886455, 2.272596156140493, 0.023087042933941544},
                         {0.7251391212031496, -1.1470015718166104, 2.2934217965085004, -0.0004822035246879533}};
    hk_adamw_hparams hp = {0.05, 0.8, 0.95, 1e-6, 0.1};
    for (int t = 0; t < 3; t++) {
        hk_assert_ok(hk_adamw_step(th, g[t], m, v, 4, 1, t + 1, &hp));
        for (int i = 0; i < 4; i++)
            ck_assert_msg(fabs(th[i] - want[t][i]) <= 48 * DBL_EPSILON * (fabs(want[t][i]) + hp.lr),
                          "step %d theta[%d]: %.17g, torch %.17g", t + 1, i, th[i], want[t][i]);
    }
}
END_TEST

/* A strided step (a column of a row-major matrix, as the frozen step uses for
 * B) is the contiguous step on the gathered column, bit for bit, and leaves
 * the other columns alone. */
START_TEST(adamw_strided_equals_contiguous)
{
    double P[3 * 4], G[3 * 4], M[3 * 4], V[3 * 4], p[3], g[3], m[3], v[3], P0[3 * 4];
    gsl_rng *r = hk_rng_new(35);
    hk_rng_fill_uniform(P, 12, -1, 1, r);
    hk_rng_fill_uniform(G, 12, -2, 2, r);
    hk_rng_fill_uniform(M, 12, -0.1, 0.1, r);
    hk_rng_fill_uniform(V, 12, 0.0, 0.2, r);
    hk_rng_free(r);
    memcpy(P0, P, sizeof P);
    for (int o = 0; o < 3; o++) {
        p[o] = P[o * 4 + 2];
        g[o] = G[o * 4 + 2];
        m[o] = M[o * 4 + 2];
        v[o] = V[o * 4 + 2];
    }
    hk_adamw_hparams hp = {0.01, 0.9, 0.99, 1e-8, 0.05};
    hk_assert_ok(hk_adamw_step(P + 2, G + 2, M + 2, V + 2, 3, 4, 5, &hp));
    hk_assert_ok(hk_adamw_step(p, g, m, v, 3, 1, 5, &hp));
    for (int o = 0; o < 3; o++) {
        ck_assert(P[o * 4 + 2] == p[o] && M[o * 4 + 2] == m[o] && V[o * 4 + 2] == v[o]);
        for (int c = 0; c < 4; c++)
            if (c != 2) ck_assert(P[o * 4 + c] == P0[o * 4 + c]);
    }
}
END_TEST

/* The frozen-mode comparison, with each mechanism isolated (b = 3 of [1,4]):
 * (1) fresh state m = v = 0, weight decay 0.01: the official update (detach
 *     -> zero gradient, all of A and B to AdamW) moves every held value by
 *     exactly the decay factor (1 - lr wd), since m/(sqrt v + eps) = 0;
 * (2) no weight decay, momentum from two earlier full steps: the official
 *     update still moves the held values (through m);
 * hkref's frozen step leaves the held values and their m, v bit-identical in both. */
static void frozen_compare(double wd, int warmup, long *official_moved, long *ours_moved, int *pure_decay)
{
    double x[TN * TIN], W0[TOUT * TIN], bias[TOUT], A[TR * TIN], B[TOUT * TR], tg[TN * TOUT];
    fill(x, W0, bias, A, B, tg, 34);
    hk_dylora_dims d = {TIN, TOUT, 1, TR, 6.0};
    hk_adamw_hparams hp = {1e-2, 0.9, 0.999, 1e-8, wd};
    double mA[TR * TIN] = {0}, vA[TR * TIN] = {0}, mB[TOUT * TR] = {0}, vB[TOUT * TR] = {0};
    long t = 1;
    for (; t <= warmup; t++) {
        double dA[TR * TIN] = {0}, dB[TOUT * TR] = {0};
        hk_assert_ok(hk_dylora_loss_backward(dA, dB, x, tg, W0, bias, A, B, TN, TR, &d));
        hk_assert_ok(hk_adamw_step(A, dA, mA, vA, TR * TIN, 1, t, &hp));
        hk_assert_ok(hk_adamw_step(B, dB, mB, vB, TOUT * TR, 1, t, &hp));
    }
    double A1[TR * TIN], B1[TOUT * TR], A0[TR * TIN], B0[TOUT * TR];
    double mA1[TR * TIN], vA1[TR * TIN], mB1[TOUT * TR], vB1[TOUT * TR], mA0[TR * TIN], mB0[TOUT * TR];
    memcpy(A0, A, sizeof A);
    memcpy(B0, B, sizeof B);
    memcpy(A1, A, sizeof A);
    memcpy(B1, B, sizeof B);
    memcpy(mA1, mA, sizeof mA);
    memcpy(vA1, vA, sizeof vA);
    memcpy(mB1, mB, sizeof mB);
    memcpy(vB1, vB, sizeof vB);
    memcpy(mA0, mA, sizeof mA);
    memcpy(mB0, mB, sizeof mB);
    long b = 3;
    double dA[TR * TIN] = {0}, dB[TOUT * TR] = {0};
    hk_assert_ok(hk_dylora_loss_backward(dA, dB, x, tg, W0, bias, A, B, TN, b, &d));
    hk_assert_ok(hk_dylora_frozen_mask_grad(dA, dB, b, &d));
    hk_assert_ok(hk_dylora_frozen_step(A, B, dA, dB, mA, vA, mB, vB, b, t, &hp, &d));
    hk_assert_ok(hk_adamw_step(A1, dA, mA1, vA1, TR * TIN, 1, t, &hp));
    hk_assert_ok(hk_adamw_step(B1, dB, mB1, vB1, TOUT * TR, 1, t, &hp));
    *official_moved = *ours_moved = 0;
    *pure_decay = 1;
    double f = 1.0 - hp.lr * wd;
    for (long k = 0; k < TR; k++) {
        if (k == b - 1) continue;
        for (long i = 0; i < TIN; i++) {
            long j = k * TIN + i;
            *ours_moved += memcmp(&A[j], &A0[j], sizeof(double)) != 0 || memcmp(&mA[j], &mA0[j], sizeof(double)) != 0;
            *official_moved += A1[j] != A0[j];
            *pure_decay &= A1[j] == A0[j] * f;
        }
        for (long o = 0; o < TOUT; o++) {
            long j = o * TR + k;
            *ours_moved += memcmp(&B[j], &B0[j], sizeof(double)) != 0 || memcmp(&mB[j], &mB0[j], sizeof(double)) != 0;
            *official_moved += B1[j] != B0[j];
            *pure_decay &= B1[j] == B0[j] * f;
        }
    }
    /* and the trained row/column did move in both */
    ck_assert(A[(b - 1) * TIN] != A0[(b - 1) * TIN] && B[b - 1] != B0[b - 1]);
}

/* (weight decay, warm-up full steps, expect a pure decay factor) */
static const struct {
    double wd;
    int warmup, pure;
    const char *mechanism;
} frozen_cases[] = {{0.01, 0, 1, "weight decay"}, {0.0, 2, 0, "momentum"}};

START_TEST(frozen_official_moves_held_rows_hkref_does_not)
{
    long off, ours;
    int pure;
    frozen_compare(frozen_cases[_i].wd, frozen_cases[_i].warmup, &off, &ours, &pure);
    ck_assert_msg(ours == 0, "%s: hkref frozen mode moved %ld held values", frozen_cases[_i].mechanism, ours);
    ck_assert_msg(off == 3 * (TIN + TOUT), "%s: official detach + AdamW moved %ld of %d held values",
                  frozen_cases[_i].mechanism, off, 3 * (TIN + TOUT));
    if (frozen_cases[_i].pure)
        ck_assert_msg(pure, "with m = v = 0 the official update of held values must be the decay factor exactly");
}
END_TEST

/* ---- the CLI ---------------------------------------------------------------- */

static char tmpdir_[256];

static const char *write_adapter(int with_alpha)
{
    snprintf(tmpdir_, sizeof tmpdir_, "/tmp/hkref-dylora-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir_));
    static char path[300];
    snprintf(path, sizeof path, "%s/adapter.safetensors", tmpdir_);
    double A[3 * 4] = {0.5, -0.25, 1.0, 0.75, -1.5, 0.125, 0.5, 2.0, 0.3, -0.6, 0.9, 0.2};
    double B[5 * 3] = {1, 0.5, -0.5, 0.25, 1.5, 0, -1, 2, 0.75, 0.5, -0.25, 1, 2, 0.1, -0.3};
    long sa[2] = {3, 4}, sb[2] = {5, 3};
    hk_st_file *f;
    hk_assert_ok(hk_st_new(&f));
    hk_assert_ok(hk_st_add(f, "A", HK_ST_F64, 2, sa, A));
    hk_assert_ok(hk_st_add(f, "B", HK_ST_F64, 2, sb, B));
    if (with_alpha) hk_assert_ok(hk_st_set_meta(f, "alpha", "6"));
    hk_assert_ok(hk_st_write(f, path));
    hk_st_free(f);
    return path;
}

/* Runs the hkref binary built next to this test runner (build/ or build/asan/)
 * with `args` (shell words), output discarded; returns its exit status. */
static int run_cli(const char *env, const char *args)
{
    char exe[512], cmd[2048];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ck_assert(n > 0);
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    ck_assert_ptr_nonnull(slash);
    *slash = '\0';
    snprintf(cmd, sizeof cmd, "%s '%s/hkref' dylora %s >/dev/null 2>&1", env ? env : "", exe, args);
    int st = system(cmd);
    ck_assert_msg(st != -1 && WIFEXITED(st), "cannot run: %s", cmd);
    return WEXITSTATUS(st);
}

START_TEST(cli_spectrum_exit_codes)
{
    const char *path = write_adapter(1);
    char png[300], a[700];
    snprintf(png, sizeof png, "%s/s.png", tmpdir_);
    snprintf(a, sizeof a, "spectrum '%s'", path);
    ck_assert_int_eq(run_cli(NULL, a), 0);
    ck_assert_int_eq(run_cli(NULL, "--help"), 0);
    ck_assert_int_eq(run_cli(NULL, ""), 2);
    ck_assert_int_eq(run_cli(NULL, "spectra"), 2);
    ck_assert_int_eq(run_cli(NULL, "spectrum /nonexistent/a.safetensors"), 2);
    snprintf(a, sizeof a, "spectrum '%s' --alpha x1", path);
    ck_assert_int_eq(run_cli(NULL, a), 2);
    /* no gnuplot on PATH: a clear message and exit 2, no file */
    snprintf(a, sizeof a, "spectrum '%s' --png '%s'", path, png);
    ck_assert_int_eq(run_cli("PATH=/nonexistent", a), 2);
    ck_assert(access(png, F_OK) != 0);
    unlink(path);
    rmdir(tmpdir_);
}
END_TEST

START_TEST(cli_demo_writes_an_adapter_spectrum_reads)
{
    snprintf(tmpdir_, sizeof tmpdir_, "/tmp/hkref-dylora-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir_));
    char path[300], a[700];
    snprintf(path, sizeof path, "%s/demo.safetensors", tmpdir_);
    snprintf(a, sizeof a, "demo --steps 20 --seed 3 --out '%s'", path);
    ck_assert_int_eq(run_cli(NULL, a), 0);
    snprintf(a, sizeof a, "spectrum '%s'", path);
    ck_assert_int_eq(run_cli(NULL, a), 0);
    ck_assert_int_eq(run_cli(NULL, "demo --steps x"), 2);
    ck_assert_int_eq(run_cli(NULL, "demo --bogus"), 2);
    unlink(path);
    rmdir(tmpdir_);
}
END_TEST

START_TEST(cli_spectrum_needs_alpha)
{
    const char *path = write_adapter(0);
    char a[700];
    snprintf(a, sizeof a, "spectrum '%s'", path);
    ck_assert_int_eq(run_cli(NULL, a), 2);
    snprintf(a, sizeof a, "spectrum '%s' --alpha 6", path);
    ck_assert_int_eq(run_cli(NULL, a), 0);
    unlink(path);
    rmdir(tmpdir_);
}
END_TEST

/* ---- Limits: every bad argument is an error naming it ---------------------- */

START_TEST(rank_outside_range_is_edom)
{
    double x[2] = {1, 2}, W0[2] = {1, 1}, A[4] = {1, 1, 1, 1}, B[2] = {1, 1}, y, xa[2];
    hk_dylora_dims d = {2, 1, 1, 2, 4.0};
    hk_assert_fails(hk_dylora_forward(&y, xa, x, W0, NULL, A, B, NULL, 0.0, 1, 3, &d), HK_EDOM, "b=3");
    hk_assert_fails(hk_dylora_forward(&y, xa, x, W0, NULL, A, B, NULL, 0.0, 1, 0, &d), HK_EDOM, "[1, 2]");
    double dA[4] = {0}, dB[2] = {0}, dy = 1;
    hk_assert_fails(hk_dylora_backward(NULL, dA, dB, &dy, x, xa, W0, A, B, NULL, 0.0, 1, 3, &d), HK_EDOM, "b=3");
    hk_dylora_dims bad = {2, 1, 2, 1, 4.0};
    hk_assert_fails(hk_dylora_forward(&y, xa, x, W0, NULL, A, B, NULL, 0.0, 1, 1, &bad), HK_EDOM, "r_min");
    hk_dylora_dims nanalpha = {2, 1, 1, 2, NAN};
    hk_assert_fails(hk_dylora_forward(&y, xa, x, W0, NULL, A, B, NULL, 0.0, 1, 1, &nanalpha), HK_ENAN, "alpha");
    hk_assert_fails(hk_dylora_frozen_mask_grad(dA, dB, 5, &d), HK_EDOM, "b=5");
    hk_assert_fails(hk_dylora_loss_forward(&y, x, x, W0, NULL, A, B, 1, 7, &d), HK_EDOM, "b=7");
    hk_assert_fails(hk_dylora_eval_all(&y, x, W0, NULL, A, B, 0, &d), HK_EINVAL, "N");
}
END_TEST

START_TEST(distribution_arguments_are_checked)
{
    double pmf[4];
    long b;
    gsl_rng *r = hk_rng_new(5);
    hk_assert_fails(hk_dylora_rank_pmf(pmf, 1, 4, HK_DYLORA_GEOMETRIC, 0.0), HK_EDOM, "q");
    hk_assert_fails(hk_dylora_rank_pmf(pmf, 1, 4, HK_DYLORA_GEOMETRIC, 1.5), HK_EDOM, "q");
    hk_assert_fails(hk_dylora_rank_sample(&b, 1, 4, HK_DYLORA_GEOMETRIC, NAN, r), HK_EDOM, "q");
    hk_assert_fails(hk_dylora_rank_pmf(pmf, 1, 4, (hk_dylora_dist)7, 0.5), HK_EINVAL, "dist");
    hk_assert_fails(hk_dylora_rank_sample(&b, 3, 2, HK_DYLORA_UNIFORM, 0, r), HK_EDOM, "r_min");
    hk_assert_fails(hk_dylora_rank_sample(&b, 0, 2, HK_DYLORA_UNIFORM, 0, r), HK_EDOM, "r_min");
    hk_assert_fails(hk_dylora_rank_sample(&b, 1, 2, HK_DYLORA_UNIFORM, 0, NULL), HK_EINVAL, "rng");
    hk_rng_free(r);
    double x[2] = {1, 2}, W0[2] = {1, 1}, A[4] = {1, 1, 1, 1}, B[2] = {1, 1}, L;
    hk_dylora_dims d = {2, 1, 1, 2, 4.0};
    double short_pmf[2] = {0.5, 0.25}, neg_pmf[2] = {1.5, -0.5};
    hk_assert_fails(hk_dylora_nested_loss_forward(&L, x, x, W0, NULL, A, B, short_pmf, 1, &d), HK_EDOM, "sum to 1");
    hk_assert_fails(hk_dylora_nested_loss_backward(A, B, x, x, W0, NULL, A, B, neg_pmf, 1, &d), HK_EDOM, "pmf[1]");
}
END_TEST

START_TEST(adamw_arguments_are_checked)
{
    double th[2] = {1, 2}, g[2] = {0.5, NAN}, m[2] = {0}, v[2] = {0};
    hk_adamw_hparams hp = {1e-3, 0.9, 0.999, 1e-8, 0.01};
    hk_assert_fails(hk_adamw_step(th, g, m, v, 2, 1, 1, &hp), HK_ENAN, "grad[1]");
    ck_assert(th[0] == 1 && m[0] == 0); /* nothing written */
    g[1] = 0.25;
    hk_assert_fails(hk_adamw_step(th, g, m, v, 2, 1, 0, &hp), HK_EDOM, "t must be");
    hk_assert_fails(hk_adamw_step(th, g, m, v, 2, 0, 1, &hp), HK_EINVAL, "inc");
    hk_adamw_hparams bad = hp;
    bad.lr = 0;
    hk_assert_fails(hk_adamw_step(th, g, m, v, 2, 1, 1, &bad), HK_EDOM, "lr");
    bad = hp;
    bad.beta1 = 1.0;
    hk_assert_fails(hk_adamw_step(th, g, m, v, 2, 1, 1, &bad), HK_EDOM, "beta1");
    bad = hp;
    bad.weight_decay = -1;
    hk_assert_fails(hk_adamw_step(th, g, m, v, 2, 1, 1, &bad), HK_EDOM, "weight_decay");
    hk_assert_fails(hk_adamw_step(th, g, NULL, v, 2, 1, 1, &hp), HK_EINVAL, "'m'");
}
END_TEST

START_TEST(frozen_step_nan_gradient_writes_nothing)
{
    hk_dylora_dims d = {2, 2, 1, 2, 4.0};
    double A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8}, dA[4] = {0.1, 0.2, 0.3, 0.4}, dB[4] = {0.1, 0.2, 0.3, NAN};
    double mA[4] = {0}, vA[4] = {0}, mB[4] = {0}, vB[4] = {0}, A0[4];
    memcpy(A0, A, sizeof A);
    hk_adamw_hparams hp = {1e-3, 0.9, 0.999, 1e-8, 0.01};
    hk_assert_fails(hk_dylora_frozen_step(A, B, dA, dB, mA, vA, mB, vB, 2, 1, &hp, &d), HK_ENAN, "dB[1,1]");
    ck_assert(memcmp(A, A0, sizeof A) == 0);
}
END_TEST

/* r = 3 > min(OUT, IN) = 2: dW has 2 singular values, and for b >= 2 the
 * best rank-b error is exactly 0 (nothing left to drop). */
START_TEST(spectrum_rank_above_min_dim)
{
    double A[3 * 5] = {0.5, -1, 0.25, 2, 1.5, 1, 0.75, -0.5, 0.125, 0.3, -0.2, 0.6, 1.1, -0.9, 0.4};
    double B[2 * 3] = {1, -0.5, 0.25, 0.75, 2, -1};
    double sv[2], ft[3], fb[3], st[3], sb[3];
    hk_assert_ok(hk_spectrum_adapter(sv, ft, fb, st, sb, A, B, 5, 2, 3, 3.0));
    ck_assert(sv[0] >= sv[1] && sv[1] > 0);
    ck_assert(fb[0] == sv[1] && sb[0] == sv[1]); /* one value left: sqrt(s_2^2) = |s_2| exactly */
    ck_assert(fb[1] == 0.0 && fb[2] == 0.0 && sb[1] == 0.0 && sb[2] == 0.0);
    ck_assert(ft[2] == 0.0 && st[2] == 0.0);
}
END_TEST

START_TEST(svd_arguments_are_checked)
{
    double M[4] = {1, 2, NAN, 4}, s[2];
    hk_assert_fails(hk_spectrum_singular_values(s, M, 2, 2), HK_ENAN, "M[2]");
    hk_assert_fails(hk_spectrum_singular_values(s, M, 0, 2), HK_EINVAL, "m=0");
    double A[2] = {1, INFINITY}, B[2] = {1, 1};
    hk_assert_fails(hk_spectrum_adapter(s, NULL, NULL, NULL, NULL, A, B, 2, 2, 1, 1.0), HK_ENAN, "adapter A");
    A[1] = 1;
    hk_assert_fails(hk_spectrum_adapter(s, NULL, NULL, NULL, NULL, A, B, 2, 2, 1, NAN), HK_ENAN, "alpha");
}
END_TEST

Suite *suite_dylora(void)
{
    Suite *s = suite_create("dylora");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, pmf_hand_values);
    tcase_add_test(core, sampler_stays_in_range_and_hits_every_rank);
    tcase_add_test(core, truncated_forward_by_hand);
    tcase_add_test(core, gradient_beyond_b_is_exactly_zero);
    tcase_add_test(core, nested_with_point_mass_is_individual);
    tcase_add_test(core, adamw_matches_torch);
    tcase_add_test(core, adamw_strided_equals_contiguous);
    tcase_add_loop_test(core, frozen_official_moves_held_rows_hkref_does_not, 0,
                        (int)(sizeof frozen_cases / sizeof frozen_cases[0]));
    tcase_add_test(core, cli_spectrum_exit_codes);
    tcase_add_test(core, cli_spectrum_needs_alpha);
    tcase_add_test(core, cli_demo_writes_an_adapter_spectrum_reads);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, rank_outside_range_is_edom);
    tcase_add_test(lim, distribution_arguments_are_checked);
    tcase_add_test(lim, adamw_arguments_are_checked);
    tcase_add_test(lim, frozen_step_nan_gradient_writes_nothing);
    tcase_add_test(lim, svd_arguments_are_checked);
    tcase_add_test(lim, spectrum_rank_above_min_dim);
    suite_add_tcase(s, lim);
    return s;
}
