/* hkref — `make bench`: the fast path's training step (tools/fast/) timed.
 *
 *   build/bench_fast [--threads N] [--steps N] [--preset NAME]...
 *
 * Shapes of the model: B = 32, T = 64, C = 128, NH = 4, F = 512,
 * L = 2, LoRA r = 8, alpha = 16 on k and v, K = 2.  One step = mask sampling
 * (the preset's positions, ref samplers) + hk_train_step (forward pass(es),
 * loss head, backward into LoRA and head gradients); no optimizer (PyTorch's
 * side, experiments/bench/bench_torch.py, times the same).
 * Matmul accounting: this binary defines cblas_sgemm itself, forwarding to
 * OpenBLAS's (dlsym RTLD_NEXT) and adding each call's 2·M·N·K flops and
 * process CPU time, so "matmul GFLOP/s" (per CPU-second: the machine is
 * shared, wall time mostly measures waiting for a core) is measured inside
 * the step, next to the ceiling measured the same way: OpenBLAS sgemm on
 * (B·T, C) x (C, F) and 1024³ in the same run.  (The clock read per call,
 * a syscall of ~1 µs, is charged to the matmuls: a slight underestimate;
 * the step times come from separate steps without it.)
 * Prints one `key value` line per number (experiments/bench/bench.sh parses them). */
#define _GNU_SOURCE
#include "fast/fast_stack.h"

#include "ref/error.h"
#include "ref/framework.h"
#include "ref/rng.h"

#include <cblas.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the whole process (all threads): on a shared machine the wall
 * time of a step includes waiting for a core; with one thread this does not. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef void (*sgemm_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE, const enum CBLAS_TRANSPOSE,
                         const blasint, const blasint, const blasint, const float, const float *, const blasint,
                         const float *, const blasint, const float, float *, const blasint);
static sgemm_fn real_sgemm;
static double mm_time, mm_flops;
static int mm_count_on;

void cblas_sgemm(const enum CBLAS_ORDER o, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb,
                 const blasint M, const blasint N, const blasint K, const float alpha, const float *A,
                 const blasint lda, const float *B, const blasint ldb, const float beta, float *C, const blasint ldc)
{
    if (!real_sgemm) real_sgemm = (sgemm_fn)dlsym(RTLD_NEXT, "cblas_sgemm");
    if (!mm_count_on) {
        real_sgemm(o, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    double t = cpu_now();
    real_sgemm(o, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    mm_time += cpu_now() - t;
    mm_flops += 2.0 * (double)M * (double)N * (double)K;
}

/* Best-of-3 GFLOP/s of one sgemm shape (M,N,K), repeated to ~0.2 s. */
static double sgemm_ceiling(long M, long N, long K)
{
    float *a = malloc(sizeof(float) * (size_t)(M * K)), *b = malloc(sizeof(float) * (size_t)(K * N)),
          *c = calloc((size_t)(M * N), sizeof(float));
    for (long i = 0; i < M * K; i++) a[i] = (float)(i % 7) * 0.1f;
    for (long i = 0; i < K * N; i++) b[i] = (float)(i % 5) * 0.1f;
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        long n = 0;
        double t0 = cpu_now(), t;
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, a, (int)K, b, (int)K,
                        0.0f, c, (int)N);
            n++;
        } while ((t = cpu_now() - t0) < 0.2);
        double g = 2.0 * (double)M * (double)N * (double)K * (double)n / t / 1e9;
        best = g > best ? g : best;
    }
    free(a), free(b), free(c);
    return best;
}

static int bench_preset(const char *name, long steps, double *step_s, double *cpu_s, double *mm_gflops, double *mm_frac)
{
    hk_framework fw;
    HK_TRY(hk_preset_get(&fw, name));
    hk_fast_config cfg = {.B = 32, .T = 64, .C = 128, .NH = 4, .F = 512, .r = 8, .alpha = 16, .ln_eps = 1e-5f};
    hk_fast_stack s;
    HK_TRY(hk_fast_stack_alloc(&s, &cfg, 2, 2, &fw, 0, 0));
    gsl_rng *r = hk_rng_new(1);
    /* PyTorch-default-like init: weights U(±1/sqrt(fan_in)), LN 1/0, LoRA A U(±1/sqrt(C)), B small (not 0: real work) */
    for (long l = 0; l < 2; l++) {
        hk_fast_params *P = &s.P[l];
        float *w[8] = {P->Wq, P->Wk, P->Wv, P->Wo, P->W1, P->W2, P->Ak, P->Av};
        long n[8] = {128 * 128, 128 * 128, 128 * 128, 128 * 128, 512 * 128, 128 * 512, 8 * 128, 8 * 128};
        double a[8] = {0.088, 0.088, 0.088, 0.088, 0.088, 0.044, 0.088, 0.088};
        for (int j = 0; j < 8; j++)
            for (long i = 0; i < n[j]; i++) w[j][i] = (float)((2 * gsl_rng_uniform(r) - 1) * a[j]);
        for (long i = 0; i < 128 * 8; i++) P->Bk[i] = P->Bv[i] = (float)(0.01 * (2 * gsl_rng_uniform(r) - 1));
        for (long i = 0; i < 128; i++) P->ln1_w[i] = P->ln2_w[i] = 1.0f;
    }
    for (long i = 0; i < 2 * 128; i++) s.Wc[i] = (float)(0.088 * (2 * gsl_rng_uniform(r) - 1));
    for (long i = 0; i < 32 * 64 * 128; i++) s.x[i] = (float)(2 * gsl_rng_uniform(r) - 1);
    long labels[32];
    for (int b = 0; b < 32; b++) labels[b] = b % 2;
    hk_model m;
    hk_fast_stack_model(&s, &m);
    double *work = calloc((size_t)hk_train_step_work_size(&m), 8);
    int st = HK_OK;
    double best = 1e30, cpu_best = 1e30, mm_best = 1e30, mmt = 0, mmf = 0;
    /* Round 0 times the step (sgemm wrapper passing straight through); round 1
     * runs the same steps with the per-call accounting on, whose two clock
     * syscalls per sgemm call (~1,600 calls per step) would otherwise be
     * charged to the step time. */
    for (int round = 0; round < 2 && !st; round++)
        for (long it = -3; it < steps && !st; it++) { /* 3 warm-up steps */
            mm_time = mm_flops = 0;
            mm_count_on = round;
            double t0 = now(), c0 = cpu_now();
            for (int p = 0; p < fw.passes && !st; p++) st = hk_fast_stack_sample_masks(&s, p, r);
            hk_fast_stack_zero_grads(&s);
            hk_step_result res;
            if (!st) st = hk_train_step(&res, &fw, &m, labels, NULL, work);
            double t = now() - t0, c = cpu_now() - c0;
            mm_count_on = 0;
            if (it < 0) continue;
            if (round == 0 && c < cpu_best) cpu_best = c;
            if (round == 0 && t < best) best = t; /* the fastest step: least disturbed */
            if (round == 1 && c < mm_best) mm_best = c, mmt = mm_time, mmf = mm_flops;
        }
    *step_s = best;
    *cpu_s = cpu_best;
    *mm_gflops = mmf / mmt / 1e9;
    *mm_frac = mmt / mm_best; /* sgemm's share of the least disturbed instrumented step's CPU time */
    free(work);
    hk_rng_free(r);
    hk_fast_stack_free(&s);
    return st;
}

void openblas_set_num_threads(int);
char *openblas_get_config(void);
char *openblas_get_corename(void);

int main(int argc, char **argv)
{
    int threads = 0;
    long steps = 20;
    const char *presets[8];
    int np = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atol(argv[++i]);
        else if (!strcmp(argv[i], "--preset") && i + 1 < argc && np < 8) presets[np++] = argv[++i];
        else {
            fprintf(stderr, "usage: bench_fast [--threads N] [--steps N] [--preset NAME]...\n");
            return 2;
        }
    }
    if (np == 0) presets[np++] = "hiddenkey-", presets[np++] = "hiddenkey";
    if (threads > 0) openblas_set_num_threads(threads);
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("openblas_config %s\nopenblas_core %s\nOPENBLAS_CORETYPE %s\nthreads %d\n", openblas_get_config(),
           openblas_get_corename(), ct ? ct : "(unset)", threads);
    printf("sgemm_ceiling_ffn_gflops %.2f\n", sgemm_ceiling(32 * 64, 512, 128));
    printf("sgemm_ceiling_1024_gflops %.2f\n", sgemm_ceiling(1024, 1024, 1024));
    for (int i = 0; i < np; i++) {
        double t, c, g, f;
        if (bench_preset(presets[i], steps, &t, &c, &g, &f)) {
            fprintf(stderr, "bench_fast: %s\n", hk_error_message());
            return 2;
        }
        printf("fast_step_cpu_ms[%s] %.3f\n", presets[i], 1e3 * c);
        printf("fast_step_ms[%s] %.3f\nfast_matmul_gflops[%s] %.2f\nfast_matmul_time_frac[%s] %.3f\n", presets[i],
               1e3 * t, presets[i], g, presets[i], f);
    }
    return 0;
}
