/* hkref demo — small seeded examples that show the papers' claims in numbers.
 *   hkref demo attention: one head, a few queries and keys, one mask; the
 *   weights under no dropout, DropKey and the three DropAttention variants,
 *   and per kept unit the k of HK Eq. 10 next to the measured Jacobians
 *   (proofs/dropkey_dropattention.md). */
#include "cli.h"

#include "ref/attnmask.h"
#include "ref/dropattention.h"
#include "ref/dropkey.h"
#include "ref/error.h"
#include "ref/rng.h"
#include "ref/softmax.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char hk_cmd_demo_summary[] = "small seeded examples: `demo attention` (DropKey vs DropAttention in numbers)";

enum { MAXQ = 8, MAXK = 12, MAXN = MAXQ * MAXK };

static void usage(FILE *f)
{
    fprintf(f, "usage: hkref demo attention [--seed S] [--p P] [--pattern element|column|span]\n"
               "                            [--queries Q] [--keys N] [--offset X]\n\n"
               "One attention head, Q queries (default 3, 1..%d) x N keys (default 5, 2..%d), logits\n"
               "X + U(-2, 2) (seeded, default X = 0; try X = 1000: a naive exp overflows), one mask\n"
               "(rate P in [0,1), default 0.4; 1 = dropped). Prints the weights under no dropout,\n"
               "DropKey (-inf), DropAttention classic w m/(1-p), normalized with NoGrad (HK Eq. 1-2)\n"
               "and normalized with the gradient through the denominator, then per theorem of\n"
               "proofs/dropkey_dropattention.md the numbers that show it: theorem 1 max |w'_DK - w'_norm|;\n"
               "theorem 2 per kept unit u: k = (1-w'_u)/(1-w_u) next to the ratio of the measured\n"
               "Jacobian entries dw'_u/dg_u (DropKey / NoGrad); theorem 3 max |dL/dg| difference\n"
               "between DropKey and normalized DropAttention; theorem 4 the NoGrad gradient reaching\n"
               "dropped logits vs -w'_u w_m. Rows with every key dropped follow policy 'keep'.\n"
               "exit status: 0 ok, 2 usage error.\n",
            MAXQ, MAXK);
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static void print_matrix(const char *title, const double *x, long Q, long N)
{
    printf("%s\n", title);
    for (long q = 0; q < Q; q++) {
        printf("  q%ld ", q);
        for (long k = 0; k < N; k++) printf(" %10.6f", x[q * N + k]);
        printf("\n");
    }
}

typedef struct {
    long seed, Q, N;
    double p, offset;
    hk_pattern pat;
} demo_args;

/* Jacobian row u of one query row: jdk = d w'_u / d g (DropKey), jng = the same
 * through softmax + NoGrad DropAttention (the library's backwards, one-hot upstream). */
static int jac_row(double *jdk, double *jng, const double *g, const uint8_t *m, long N, long u)
{
    double wk[MAXK], w[MAXK], wa[MAXK], d[MAXK] = {0}, dw[MAXK] = {0};
    hk_dropkey_config kc = {m, NULL, HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP};
    hk_dropattn_config ac = {m, NULL, HK_DROPATTN_NORM_NOGRAD, 0.5, HK_ALLMASK_KEEP};
    d[u] = 1.0;
    memset(jdk, 0, sizeof(double) * (size_t)N);
    memset(jng, 0, sizeof(double) * (size_t)N);
    HK_TRY(hk_dropkey_forward(wk, g, &kc, 1, 1, 1, N));
    HK_TRY(hk_dropkey_backward(jdk, d, wk, &kc, 1, 1, 1, N));
    HK_TRY(hk_softmax_forward(w, g, 1, N));
    HK_TRY(hk_dropattn_forward(wa, w, &ac, 1, 1, 1, N));
    HK_TRY(hk_dropattn_backward(dw, d, w, wa, &ac, 1, 1, 1, N));
    return hk_softmax_backward(jng, dw, w, 1, N);
}

static int run_attention(const demo_args *a)
{
    const long Q = a->Q, N = a->N, n = Q * N;
    double g[MAXN], w[MAXN], out[5][MAXN];
    uint8_t mask[MAXN];
    gsl_rng *r = hk_rng_new((unsigned long)a->seed);
    if (!r) return HK_ENOMEM;
    int st = hk_rng_fill_uniform(g, n, a->offset - 2.0, a->offset + 2.0, r);
    if (!st) st = hk_attnmask_sample(mask, a->pat, a->p, NULL, 1, 1, Q, N, r);
    hk_rng_free(r);
    HK_TRY(st);

    hk_dropkey_config kc = {mask, NULL, HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP};
    HK_TRY(hk_softmax_forward(w, g, Q, N));
    memcpy(out[0], w, sizeof(double) * (size_t)n);
    HK_TRY(hk_dropkey_forward(out[1], g, &kc, 1, 1, Q, N));
    for (int v = 0; v < 3; v++) {
        hk_dropattn_config ac = {mask, NULL, (hk_dropattn_variant)v, a->p, HK_ALLMASK_KEEP};
        HK_TRY(hk_dropattn_forward(out[2 + v], w, &ac, 1, 1, Q, N));
    }

    printf("hkref demo attention: 1 head, %ld queries x %ld keys, pattern %s, p = %g, seed %ld, logits %g + U(-2,2)\n\n",
           Q, N, hk_pattern_name(a->pat), a->p, a->seed, a->offset);
    print_matrix("logits g (row = query, column = key):", g, Q, N);
    printf("mask (1 = dropped):\n");
    for (long q = 0; q < Q; q++) {
        long kept;
        hk_attnmask_row_count(&kept, NULL, mask + q * N, NULL, N);
        printf("  q%ld ", q);
        for (long k = 0; k < N; k++) printf(" %10d", mask[q * N + k]);
        printf("%s\n", kept ? "" : "   (every key dropped: policy keep, row undropped)");
    }
    printf("\nweights w' under each method, same mask:\n");
    static const char *const titles[5] = {
        "no dropout: w = softmax(g)",
        "DropKey (Eq. 3-5): softmax(g + mask * -inf)",
        "DropAttention classic: w m / (1 - p)   (rows do not sum to 1)",
        "DropAttention normalized, NoGrad (Eq. 1-2): w m / NoGrad(sum w m)",
        "DropAttention normalized, gradient through the sum: w m / sum w m"};
    for (int i = 0; i < 5; i++) print_matrix(titles[i], out[i], Q, N);

    double dev1 = 0.0;
    for (long j = 0; j < n; j++)
        if (out[1][j] != 0.0) dev1 = fmax(dev1, fabs(out[1][j] - out[4][j]) / (DBL_EPSILON * out[1][j]));
        else if (out[4][j] != 0.0) dev1 = INFINITY;
    printf("\ntheorem 1 (Eq. 5 = Eq. 6): DropKey's w' = normalized DropAttention's w' (both normalized\n"
           "variants have the same forward); max relative difference %.3g ulp\n", dev1);

    printf("\ntheorem 2 (Eq. 10, any number of dropped keys): per kept unit u,\n"
           "  dw'_u/dg_u (DropKey) = k * dw'_u/dg_u (DropAttention NoGrad),  k = (1 - w'_u)/(1 - w_u),\n"
           "  1 - k = w'_u w_M / (1 - w_u) with w_M = dropped mass (0 if nothing dropped, k = 0 if u is\n"
           "  the only kept key). J columns measured with the library's backwards.\n");
    printf("  %3s %3s %3s %10s %10s %12s %12s %10s %10s %11s\n", "q", "u", "|M|", "w_u", "w'_u", "J^DK_uu",
           "J^NG_uu", "ratio", "k", "1-k");
    double leak_dev = 0.0;
    long leaks = 0;
    char leak_ex[3][160] = {"", "", ""};
    for (long q = 0; q < Q; q++) {
        const double *gq = g + q * N, *wq = w + q * N, *wpq = out[1] + q * N;
        const uint8_t *mq = mask + q * N;
        long kept, nm;
        hk_attnmask_row_count(&kept, &nm, mq, NULL, N);
        if (!kept) continue;
        double wM = 0.0;
        for (long k = 0; k < N; k++) wM += mq[k] ? wq[k] : 0.0;
        for (long u = 0; u < N; u++) {
            if (mq[u]) continue;
            double jdk[MAXK], jng[MAXK], omw = 0.0;
            HK_TRY(jac_row(jdk, jng, gq, mq, N, u));
            for (long k = 0; k < N; k++) omw += k != u ? wq[k] : 0.0; /* 1 - w_u without cancellation */
            double one_minus_k = wpq[u] * wM / omw, k = 1.0 - one_minus_k;
            if (kept == 1) k = 0.0, one_minus_k = 1.0;
            printf("  %3ld %3ld %3ld %10.6f %10.6f %12.6e %12.6e %10.6f %10.6f %11.4e\n", q, u, nm, wq[u], wpq[u],
                   jdk[u], jng[u], jng[u] != 0.0 ? jdk[u] / jng[u] : NAN, k, one_minus_k);
            for (long m = 0; m < N; m++) {
                if (!mq[m]) continue;
                if (leaks < 3)
                    snprintf(leak_ex[leaks], sizeof leak_ex[leaks],
                             "  q%ld u=%ld m=%ld: measured %.9e, -w'_u w_m = %.9e, DropKey %g\n", q, u, m, jng[m],
                             -wpq[u] * wq[m], jdk[m]);
                leak_dev = fmax(leak_dev, fabs(jng[m] + wpq[u] * wq[m]) / (DBL_EPSILON * wpq[u]));
                leaks++;
            }
        }
    }

    /* Theorem 3: the same upstream gradient through DropKey and through
     * softmax + normalized DropAttention (gradient through the sum). */
    double d[MAXN], g1[MAXN] = {0}, g2[MAXN] = {0}, dw[MAXN] = {0}, dmax = 0.0, dev3 = 0.0;
    for (long j = 0; j < n; j++) dmax = fmax(dmax, fabs(d[j] = sin(1.3 * (double)j + 0.2)));
    hk_dropattn_config an = {mask, NULL, HK_DROPATTN_NORM, a->p, HK_ALLMASK_KEEP};
    HK_TRY(hk_dropkey_backward(g1, d, out[1], &kc, 1, 1, Q, N));
    HK_TRY(hk_dropattn_backward(dw, d, w, out[4], &an, 1, 1, Q, N));
    HK_TRY(hk_softmax_backward(g2, dw, w, Q, N));
    for (long j = 0; j < n; j++) dev3 = fmax(dev3, fabs(g1[j] - g2[j]) / (DBL_EPSILON * dmax));
    printf("\ntheorem 3: normalized DropAttention without NoGrad has DropKey's backward: for upstream\n"
           "dL/dw'_j = sin(1.3 j + 0.2), max |dL/dg (DropKey) - dL/dg (normalized)| = %.3g eps max|dL/dw'|\n",
           dev3);
    printf("\ntheorem 4 (Eq. 8): with NoGrad, dw'_u/dg_m = -w'_u w_m != 0 for dropped m (DropKey: 0);\n"
           "%ld (u, m) pairs, max |measured - formula| = %.3g eps w'_u\n%s%s%s", leaks, leak_dev, leak_ex[0], leak_ex[1],
           leak_ex[2]);
    return HK_OK;
}

static int cmd_attention(int argc, char **argv)
{
    demo_args a = {1, 3, 5, 0.4, 0.0, HK_PATTERN_ELEMENT};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (hk_cli_is_help(o)) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc)
            return hk_cli_usage_error("demo attention", "unknown argument or missing value: '%s'", o);
        const char *v = argv[++i];
        if (!strcmp(o, "--seed")) {
            if (parse_long(v, 0, 4294967295L, &a.seed))
                return hk_cli_usage_error("demo attention", "--seed '%s' must be an integer in [0, 2^32)", v);
        } else if (!strcmp(o, "--queries")) {
            if (parse_long(v, 1, MAXQ, &a.Q))
                return hk_cli_usage_error("demo attention", "--queries '%s' must be an integer in [1, %d]", v, MAXQ);
        } else if (!strcmp(o, "--keys")) {
            if (parse_long(v, 2, MAXK, &a.N))
                return hk_cli_usage_error("demo attention", "--keys '%s' must be an integer in [2, %d]", v, MAXK);
        } else if (!strcmp(o, "--p")) {
            if (parse_double(v, &a.p) || !(a.p >= 0.0 && a.p < 1.0))
                return hk_cli_usage_error("demo attention", "--p '%s' must be a number in [0, 1)", v);
        } else if (!strcmp(o, "--offset")) {
            if (parse_double(v, &a.offset) || fabs(a.offset) > 1e6)
                return hk_cli_usage_error("demo attention", "--offset '%s' must be a number in [-1e6, 1e6]", v);
        } else if (!strcmp(o, "--pattern")) {
            int found = 0;
            for (int k = 0; k < 3; k++)
                if (!strcmp(v, hk_pattern_name((hk_pattern)k))) a.pat = (hk_pattern)k, found = 1;
            if (!found)
                return hk_cli_usage_error("demo attention", "--pattern '%s' must be element, column or span", v);
        } else {
            return hk_cli_usage_error("demo attention", "unknown argument '%s'", o);
        }
    }
    if (run_attention(&a)) return hk_cli_fail("demo attention");
    return 0;
}

int hk_cmd_demo(int argc, char **argv)
{
    static const hk_cli_sub subs[] = {{"attention", cmd_attention}};
    return hk_cli_dispatch("demo", argc, argv, subs, 1, usage);
}
