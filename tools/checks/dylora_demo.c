/* hkref — a small seeded DyLoRA-vs-LoRA training run (see dylora_demo.h). */
#include "dylora_demo.h"

#include "ref/adamw.h"
#include "ref/dylora.h"
#include "ref/error.h"
#include "ref/lora.h"
#include "ref/rng.h"
#include "ref/spectrum.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

hk_demo_cfg hk_demo_defaults(int mode)
{
    hk_demo_cfg c = {mode, 48, 12, 10, 6, 6, 1500, 6.0, 2e-2, 0.0, 1};
    return c;
}

/* The data: x (N,IN) ~ N(0,1), W0 (OUT,IN) ~ U(-1,1)/sqrt(IN), D = P Q with
 * P (OUT,r_task), Q (r_task,IN) ~ U(-1,1)/sqrt(r_task), target = x (W0 + D)^T. */
static int make_task(double *x, double *W0, double *target, double *D, const hk_demo_cfg *c, gsl_rng *g)
{
    long N = c->N, IN = c->IN, OUT = c->OUT, k = c->r_task;
    double *P = malloc((size_t)(OUT * k + k * IN + OUT * IN) * sizeof(double));
    HK_REQUIRE(P != NULL, HK_ENOMEM, "demo: cannot allocate the task");
    double *Q = P + OUT * k, *W = Q + k * IN;
    double sw = 1.0 / sqrt((double)IN), sk = 1.0 / sqrt((double)k);
    int s = hk_rng_fill_normal(x, N * IN, 1.0, g);
    if (!s) s = hk_rng_fill_uniform(W0, OUT * IN, -sw, sw, g);
    if (!s) s = hk_rng_fill_uniform(P, OUT * k, -sk, sk, g);
    if (!s) s = hk_rng_fill_uniform(Q, k * IN, -1.0, 1.0, g);
    if (!s) {
        for (long o = 0; o < OUT; o++)
            for (long i = 0; i < IN; i++) {
                double d = 0.0;
                for (long j = 0; j < k; j++) d += P[o * k + j] * Q[j * IN + i];
                D[o * IN + i] = d;
                W[o * IN + i] = W0[o * IN + i] + d;
            }
        for (long n = 0; n < N; n++)
            for (long o = 0; o < OUT; o++) {
                double y = 0.0;
                for (long i = 0; i < IN; i++) y += x[n * IN + i] * W[o * IN + i];
                target[n * OUT + o] = y;
            }
    }
    free(P);
    return s;
}

/* Eckart-Young in the data metric: any adapter at rank b adds a rank-<=b E to
 * W0, and L_b = (1/N)||x E^T - x D^T||_F^2 >= (1/N) sum_{i>b} s_i(x D^T)^2. */
static int loss_floor(double *floor_, const double *x, const double *D, const hk_demo_cfg *c)
{
    long N = c->N, IN = c->IN, OUT = c->OUT, mn = N < OUT ? N : OUT;
    double *M = malloc((size_t)(N * OUT + mn) * sizeof(double));
    HK_REQUIRE(M != NULL, HK_ENOMEM, "demo: cannot allocate x D^T");
    double *sv = M + N * OUT;
    for (long n = 0; n < N; n++)
        for (long o = 0; o < OUT; o++) {
            double a = 0.0;
            for (long i = 0; i < IN; i++) a += x[n * IN + i] * D[o * IN + i];
            M[n * OUT + o] = a;
        }
    int s = hk_spectrum_singular_values(sv, M, N, OUT);
    for (long b = 0; b <= c->r && !s; b++) {
        double t = 0.0;
        for (long i = mn - 1; i >= b; i--) t += sv[i] * sv[i];
        floor_[b] = t / (double)N;
    }
    free(M);
    return s;
}

int hk_demo_run(const hk_demo_cfg *c, double *loss_per_rank, double *floor_per_rank, double *Aout, double *Bout)
{
    HK_REQUIRE_PTR(c);
    HK_REQUIRE_PTR(loss_per_rank);
    HK_REQUIRE(c->mode >= HK_DEMO_LORA && c->mode <= HK_DEMO_FROZEN, HK_EINVAL, "demo mode %d is not 0, 1 or 2",
               c->mode);
    HK_REQUIRE(c->N > 0 && c->IN > 0 && c->OUT > 0 && c->r > 0 && c->r_task > 0 && c->steps >= 0, HK_EINVAL,
               "demo sizes (N %ld, IN %ld, OUT %ld, r %ld, r_task %ld, steps %ld) must be positive", c->N, c->IN,
               c->OUT, c->r, c->r_task, c->steps);
    long N = c->N, IN = c->IN, OUT = c->OUT, r = c->r;
    hk_dylora_dims d = {IN, OUT, 1, r, c->alpha};
    hk_adamw_hparams hp = {c->lr, 0.9, 0.999, 1e-8, c->weight_decay};
    size_t total = (size_t)(N * IN + 2 * OUT * IN + N * OUT + 6 * r * IN + 6 * OUT * r + r * N * OUT);
    double *mem = calloc(total, sizeof(double));
    HK_REQUIRE(mem != NULL, HK_ENOMEM, "demo: cannot allocate %zu doubles", total);
    double *x = mem, *W0 = x + N * IN, *tg = W0 + OUT * IN, *A = tg + N * OUT, *dA = A + r * IN, *mA = dA + r * IN,
           *vA = mA + r * IN, *B = vA + r * IN, *dB = B + OUT * r, *mB = dB + OUT * r, *vB = mB + OUT * r,
           *Y = vB + OUT * r, *D = Y + r * N * OUT;
    gsl_rng *g = hk_rng_new(c->seed), *rb = hk_rng_new(c->seed + 1);
    int s = (g && rb) ? HK_OK : HK_ENOMEM;
    if (!s) s = make_task(x, W0, tg, D, c, g);
    if (!s && floor_per_rank) s = loss_floor(floor_per_rank, x, D, c);
    if (!s) s = hk_lora_init(A, B, IN, OUT, r, g);
    for (long t = 1; t <= c->steps && !s; t++) {
        long b = r;
        if (c->mode != HK_DEMO_LORA) s = hk_dylora_rank_sample(&b, 1, r, HK_DYLORA_UNIFORM, 0.0, rb);
        memset(dA, 0, (size_t)(r * IN) * sizeof(double));
        memset(dB, 0, (size_t)(OUT * r) * sizeof(double));
        if (!s) s = hk_dylora_loss_backward(dA, dB, x, tg, W0, NULL, A, B, N, b, &d);
        if (!s && c->mode == HK_DEMO_FROZEN) {
            s = hk_dylora_frozen_mask_grad(dA, dB, b, &d);
            if (!s) s = hk_dylora_frozen_step(A, B, dA, dB, mA, vA, mB, vB, b, t, &hp, &d);
        } else if (!s) {
            s = hk_adamw_step(A, dA, mA, vA, r * IN, 1, t, &hp);
            if (!s) s = hk_adamw_step(B, dB, mB, vB, OUT * r, 1, t, &hp);
        }
    }
    if (!s) s = hk_dylora_eval_all(Y, x, W0, NULL, A, B, N, &d);
    for (long b = 1; b <= r && !s; b++) {
        double L = 0.0;
        for (long i = 0; i < N * OUT; i++) {
            double e = Y[(b - 1) * N * OUT + i] - tg[i];
            L += e * e;
        }
        loss_per_rank[b - 1] = L / (double)N; /* the same L_b as hk_dylora_loss_forward */
    }
    if (!s && Aout) memcpy(Aout, A, (size_t)(r * IN) * sizeof(double));
    if (!s && Bout) memcpy(Bout, B, (size_t)(OUT * r) * sizeof(double));
    if (g) hk_rng_free(g);
    if (rb) hk_rng_free(rb);
    free(mem);
    return s;
}
