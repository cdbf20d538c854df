/* hkref demo — small examples that show the papers' claims in numbers.
 *   hkref demo attention: one head, a few queries and keys (seeded, or the
 *   learner's own logits and mask), the weights under no dropout, DropKey and
 *   the three DropAttention variants, and per kept unit the k of HK Eq. 10
 *   next to the measured Jacobians (proofs/dropkey_dropattention.md); the
 *   numbers also as CSV / JSON for plotting (make figures, docs/figures.md). */
#include "args.h"
#include "cli.h"

#include "ref/attnmask.h"
#include "ref/dropattention.h"
#include "ref/dropkey.h"
#include "ref/error.h"
#include "ref/rng.h"
#include "ref/softmax.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char hk_cmd_demo_summary[] = "small examples: `demo attention` (DropKey vs DropAttention in numbers, CSV/JSON)";

enum { MAXQ = 8, MAXK = 12, MAXN = MAXQ * MAXK };

static void usage(FILE *f)
{
    fprintf(f, "usage: hkref demo attention [--seed S] [--p P] [--pattern element|column|span]\n"
               "                            [--queries Q] [--keys N] [--offset X]\n"
               "                            [--logits G1,G2,...] [--mask M1,M2,...]\n"
               "                            [--csv FILE] [--json FILE]\n\n"
               "One attention head, Q queries (default 3, 1..%d) x N keys (default 5, 2..%d), one\n"
               "mask (1 = dropped).  Logits: X + U(-2, 2) (seeded, default X = 0; try X = 1000: a\n"
               "naive exp overflows), or your own with --logits (Q*N numbers, row-major; with\n"
               "--logits, Q defaults to 1 and N is the count / Q).  Mask: sampled with rate P\n"
               "(in [0,1), default 0.4) and --pattern, or your own with --mask (Q*N zeros and\n"
               "ones; P is then only classic DropAttention's 1/(1-p)).  Prints the weights under\n"
               "no dropout, DropKey (-inf), DropAttention classic w m/(1-p), normalized with\n"
               "NoGrad (HK Eq. 1-2) and normalized with the gradient through the denominator, then\n"
               "per theorem of proofs/dropkey_dropattention.md the numbers that show it: theorem 1\n"
               "max |w'_DK - w'_norm|; theorem 2 per kept unit u: k = (1-w'_u)/(1-w_u) next to the\n"
               "ratio of the measured Jacobian entries dw'_u/dg_u (DropKey / NoGrad); theorem 3 max\n"
               "|dL/dg| difference between DropKey and normalized DropAttention; theorem 4 the\n"
               "NoGrad gradient reaching dropped logits vs -w'_u w_m.  Rows with every key dropped\n"
               "follow policy 'keep'.\n"
               "  --csv FILE   one line per (query, key): logit, dropped, the five weights, k, 1-k,\n"
               "               J^DK_uu, J^NG_uu, their ratio (kept keys), and the Jacobian row of the\n"
               "               row's focus unit u* (its kept key of largest weight): dw'_u*/dg_key\n"
               "               under DropKey and NoGrad, with the formula -w'_u* w_key at dropped\n"
               "               keys; 'nan' where a column does not apply; first line '# <command>'\n"
               "  --json FILE  everything above, with every option and the seed\n"
               "               FILE '-' is stdout (the report is then not printed); parent\n"
               "               directories are created; files are replaced atomically\n"
               "examples:\n"
               "  hkref demo attention --logits 1,2,0.5,3 --mask 0,0,0,1\n"
               "  hkref demo attention --pattern column --keys 7 --csv build/demo/weights.csv\n"
               "exit status: 0 ok, 2 usage error.\n",
            MAXQ, MAXK);
}

typedef struct {
    long seed, Q, N;
    double p, offset;
    int pat;                 /* hk_pattern; -1: not given */
    double glist[MAXN + 1];  /* --logits, ngiven of them (-1: not given) */
    double mlist[MAXN + 1];
    int ng, nm;
    const char *csv, *json;
    char command[1024];      /* the command line with every option, defaults included */
} demo_args;

/* Everything the demo computes, for the report, the CSV and the JSON. */
typedef struct {
    long Q, N;
    double g[MAXN], w[5][MAXN];
    uint8_t mask[MAXN];
    /* theorem 2, per kept key (nan at dropped keys) */
    double k[MAXN], omk[MAXN], jdk[MAXN], jng[MAXN];
    /* the Jacobian row of each row's focus unit u* */
    long focus[MAXQ];
    double rdk[MAXN], rng[MAXN], rleak[MAXN];
    double thm1_ulp, thm3_eps, thm4_eps;
    long leaks;
    char leak_ex[3][160];
} demo_result;

static const char *const method_keys[5] = {"none", "dropkey", "dropattention_classic", "dropattention_norm_nograd",
                                           "dropattention_norm"};

static void print_matrix(const char *title, const double *x, long Q, long N)
{
    printf("%s\n", title);
    for (long q = 0; q < Q; q++) {
        printf("  q%ld ", q);
        for (long k = 0; k < N; k++) printf(" %10.6f", x[q * N + k]);
        printf("\n");
    }
}

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

static int compute(const demo_args *a, demo_result *R)
{
    const long Q = a->Q, N = a->N, n = Q * N;
    double *g = R->g, *w = R->w[0];
    uint8_t *mask = R->mask;
    R->Q = Q, R->N = N;
    if (a->ng < 0 || a->nm < 0) {
        gsl_rng *r = hk_rng_new((unsigned long)a->seed);
        if (!r) return HK_ENOMEM;
        int st = HK_OK;
        if (a->ng < 0) st = hk_rng_fill_uniform(g, n, a->offset - 2.0, a->offset + 2.0, r);
        if (!st && a->nm < 0)
            st = hk_attnmask_sample(mask, (hk_pattern)(a->pat < 0 ? HK_PATTERN_ELEMENT : a->pat), a->p, NULL, 1, 1, Q,
                                    N, r);
        hk_rng_free(r);
        HK_TRY(st);
    }
    for (long j = 0; a->ng >= 0 && j < n; j++) g[j] = a->glist[j] + a->offset;
    for (long j = 0; a->nm >= 0 && j < n; j++) mask[j] = (uint8_t)a->mlist[j];

    hk_dropkey_config kc = {mask, NULL, HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP};
    HK_TRY(hk_softmax_forward(w, g, Q, N));
    HK_TRY(hk_dropkey_forward(R->w[1], g, &kc, 1, 1, Q, N));
    for (int v = 0; v < 3; v++) {
        hk_dropattn_config ac = {mask, NULL, (hk_dropattn_variant)v, a->p, HK_ALLMASK_KEEP};
        HK_TRY(hk_dropattn_forward(R->w[2 + v], w, &ac, 1, 1, Q, N));
    }

    R->thm1_ulp = 0.0;
    for (long j = 0; j < n; j++)
        if (R->w[1][j] != 0.0) R->thm1_ulp = fmax(R->thm1_ulp, fabs(R->w[1][j] - R->w[4][j]) / (DBL_EPSILON * R->w[1][j]));
        else if (R->w[4][j] != 0.0) R->thm1_ulp = INFINITY;

    R->thm4_eps = 0.0;
    R->leaks = 0;
    for (long j = 0; j < n; j++) R->k[j] = R->omk[j] = R->jdk[j] = R->jng[j] = R->rdk[j] = R->rng[j] = R->rleak[j] = NAN;
    for (int e = 0; e < 3; e++) R->leak_ex[e][0] = '\0';
    for (long q = 0; q < Q; q++) {
        const double *gq = g + q * N, *wq = w + q * N, *wpq = R->w[1] + q * N;
        const uint8_t *mq = mask + q * N;
        long kept, nm;
        hk_attnmask_row_count(&kept, &nm, mq, NULL, N);
        R->focus[q] = -1;
        if (!kept) continue;
        double wM = 0.0;
        for (long k = 0; k < N; k++) wM += mq[k] ? wq[k] : 0.0;
        for (long u = 0; u < N; u++) {
            if (mq[u]) continue;
            if (R->focus[q] < 0 || wq[u] > wq[R->focus[q]]) R->focus[q] = u;
            double jdk[MAXK], jng[MAXK], omw = 0.0;
            HK_TRY(jac_row(jdk, jng, gq, mq, N, u));
            for (long k = 0; k < N; k++) omw += k != u ? wq[k] : 0.0; /* 1 - w_u without cancellation */
            double one_minus_k = wpq[u] * wM / omw, k = 1.0 - one_minus_k;
            if (kept == 1) k = 0.0, one_minus_k = 1.0;
            R->k[q * N + u] = k, R->omk[q * N + u] = one_minus_k;
            R->jdk[q * N + u] = jdk[u], R->jng[q * N + u] = jng[u];
            for (long m = 0; m < N; m++) {
                if (!mq[m]) continue;
                if (R->leaks < 3)
                    snprintf(R->leak_ex[R->leaks], sizeof R->leak_ex[0],
                             "  q%ld u=%ld m=%ld: measured %.9e, -w'_u w_m = %.9e, DropKey %g\n", q, u, m, jng[m],
                             -wpq[u] * wq[m], jdk[m]);
                R->thm4_eps = fmax(R->thm4_eps, fabs(jng[m] + wpq[u] * wq[m]) / (DBL_EPSILON * wpq[u]));
                R->leaks++;
            }
        }
        long u = R->focus[q];
        double jdk[MAXK], jng[MAXK];
        HK_TRY(jac_row(jdk, jng, gq, mq, N, u));
        for (long j = 0; j < N; j++) {
            R->rdk[q * N + j] = jdk[j], R->rng[q * N + j] = jng[j];
            R->rleak[q * N + j] = mq[j] ? -wpq[u] * wq[j] : NAN;
        }
    }

    /* Theorem 3: the same upstream gradient through DropKey and through
     * softmax + normalized DropAttention (gradient through the sum). */
    double d[MAXN], g1[MAXN] = {0}, g2[MAXN] = {0}, dw[MAXN] = {0}, dmax = 0.0;
    for (long j = 0; j < n; j++) dmax = fmax(dmax, fabs(d[j] = sin(1.3 * (double)j + 0.2)));
    hk_dropattn_config an = {mask, NULL, HK_DROPATTN_NORM, a->p, HK_ALLMASK_KEEP};
    HK_TRY(hk_dropkey_backward(g1, d, R->w[1], &kc, 1, 1, Q, N));
    HK_TRY(hk_dropattn_backward(dw, d, w, R->w[4], &an, 1, 1, Q, N));
    HK_TRY(hk_softmax_backward(g2, dw, w, Q, N));
    R->thm3_eps = 0.0;
    for (long j = 0; j < n; j++) R->thm3_eps = fmax(R->thm3_eps, fabs(g1[j] - g2[j]) / (DBL_EPSILON * dmax));
    return HK_OK;
}

static void report(const demo_args *a, const demo_result *R)
{
    const long Q = R->Q, N = R->N;
    const uint8_t *mask = R->mask;
    printf("hkref demo attention: 1 head, %ld queries x %ld keys", Q, N);
    if (a->nm >= 0) printf(", your mask, p = %g (classic rescale)", a->p);
    else printf(", pattern %s, p = %g, seed %ld", hk_pattern_name((hk_pattern)(a->pat < 0 ? 0 : a->pat)), a->p, a->seed);
    if (a->ng >= 0) printf(", your logits%s\n\n", a->offset != 0.0 ? " + offset" : "");
    else printf(", logits %g + U(-2,2)\n\n", a->offset);
    print_matrix("logits g (row = query, column = key):", R->g, Q, N);
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
    for (int i = 0; i < 5; i++) print_matrix(titles[i], R->w[i], Q, N);

    printf("\ntheorem 1 (Eq. 5 = Eq. 6): DropKey's w' = normalized DropAttention's w' (both normalized\n"
           "variants have the same forward); max relative difference %.3g ulp\n", R->thm1_ulp);
    printf("\ntheorem 2 (Eq. 10, any number of dropped keys): per kept unit u,\n"
           "  dw'_u/dg_u (DropKey) = k * dw'_u/dg_u (DropAttention NoGrad),  k = (1 - w'_u)/(1 - w_u),\n"
           "  1 - k = w'_u w_M / (1 - w_u) with w_M = dropped mass (0 if nothing dropped, k = 0 if u is\n"
           "  the only kept key). J columns measured with the library's backwards.\n");
    printf("  %3s %3s %3s %10s %10s %12s %12s %10s %10s %11s\n", "q", "u", "|M|", "w_u", "w'_u", "J^DK_uu",
           "J^NG_uu", "ratio", "k", "1-k");
    for (long q = 0; q < Q; q++) {
        long kept, nm;
        hk_attnmask_row_count(&kept, &nm, mask + q * N, NULL, N);
        for (long u = 0; kept && u < N; u++) {
            long j = q * N + u;
            if (mask[j]) continue;
            printf("  %3ld %3ld %3ld %10.6f %10.6f %12.6e %12.6e %10.6f %10.6f %11.4e\n", q, u, nm, R->w[0][j],
                   R->w[1][j], R->jdk[j], R->jng[j], R->jng[j] != 0.0 ? R->jdk[j] / R->jng[j] : NAN, R->k[j], R->omk[j]);
        }
    }
    printf("\ntheorem 3: normalized DropAttention without NoGrad has DropKey's backward: for upstream\n"
           "dL/dw'_j = sin(1.3 j + 0.2), max |dL/dg (DropKey) - dL/dg (normalized)| = %.3g eps max|dL/dw'|\n",
           R->thm3_eps);
    printf("\ntheorem 4 (Eq. 8): with NoGrad, dw'_u/dg_m = -w'_u w_m != 0 for dropped m (DropKey: 0);\n"
           "%ld (u, m) pairs, max |measured - formula| = %.3g eps w'_u\n%s%s%s", R->leaks, R->thm4_eps, R->leak_ex[0],
           R->leak_ex[1], R->leak_ex[2]);
}

/* The shortest "%.Ng" that reads back as v (0.4, not 0.40000000000000002). */
static int put_num(char *buf, size_t n, const char *fmt_prefix, double v)
{
    char num[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(num, sizeof num, "%.*g", prec, v);
        if (strtod(num, NULL) == v) break;
    }
    return snprintf(buf, n, "%s%s", fmt_prefix, num);
}

/* A double as CSV: the shortest exact decimal, "nan" for not-a-number
 * (readable by gnuplot, numpy, pandas). */
static void csv_num(FILE *f, double v, int last)
{
    char num[48];
    if (isnan(v)) snprintf(num, sizeof num, "nan");
    else put_num(num, sizeof num, "", v);
    fprintf(f, "%s%c", num, last ? '\n' : ',');
}

static void write_csv(FILE *f, const demo_args *a, const demo_result *R)
{
    fprintf(f, "# %s\n", a->command);
    fprintf(f, "q,key,logit,dropped,w_none,w_dropkey,w_classic,w_norm_nograd,w_norm,k,one_minus_k,jdk_uu,jng_uu,"
               "ratio,focus,jrow_dropkey,jrow_nograd,leak_formula\n");
    for (long q = 0; q < R->Q; q++)
        for (long k = 0; k < R->N; k++) {
            long j = q * R->N + k;
            fprintf(f, "%ld,%ld,", q, k);
            csv_num(f, R->g[j], 0);
            fprintf(f, "%d,", R->mask[j]);
            for (int m = 0; m < 5; m++) csv_num(f, R->w[m][j], 0);
            csv_num(f, R->k[j], 0);
            csv_num(f, R->omk[j], 0);
            csv_num(f, R->jdk[j], 0);
            csv_num(f, R->jng[j], 0);
            csv_num(f, isnan(R->jdk[j]) || R->jng[j] == 0.0 ? NAN : R->jdk[j] / R->jng[j], 0);
            fprintf(f, "%ld,", R->focus[q]);
            csv_num(f, R->rdk[j], 0);
            csv_num(f, R->rng[j], 0);
            csv_num(f, R->rleak[j], 1);
        }
}

static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *jmatrix(const double *x, long Q, long N)
{
    json_t *m = json_array();
    for (long q = 0; q < Q; q++) {
        json_t *row = json_array();
        for (long k = 0; k < N; k++) json_array_append_new(row, jnum(x[q * N + k]));
        json_array_append_new(m, row);
    }
    return m;
}

static char *json_text(const demo_args *a, const demo_result *R)
{
    const long Q = R->Q, N = R->N;
    json_t *root = json_object(), *opt = json_object(), *w = json_object(), *t2 = json_array(), *mask = json_array();
    json_object_set_new(root, "command", json_string(a->command));
    json_object_set_new(opt, "seed", a->ng >= 0 && a->nm >= 0 ? json_null() : json_integer(a->seed));
    json_object_set_new(opt, "p", json_real(a->p));
    json_object_set_new(opt, "pattern", a->nm >= 0 ? json_null()
                                                    : json_string(hk_pattern_name((hk_pattern)(a->pat < 0 ? 0 : a->pat))));
    json_object_set_new(opt, "queries", json_integer(Q));
    json_object_set_new(opt, "keys", json_integer(N));
    json_object_set_new(opt, "offset", json_real(a->offset));
    json_object_set_new(opt, "logits_given", json_boolean(a->ng >= 0));
    json_object_set_new(opt, "mask_given", json_boolean(a->nm >= 0));
    json_object_set_new(opt, "allmasked_policy", json_string("keep"));
    json_object_set_new(root, "options", opt);
    json_object_set_new(root, "logits", jmatrix(R->g, Q, N));
    for (long q = 0; q < Q; q++) {
        json_t *row = json_array();
        for (long k = 0; k < N; k++) json_array_append_new(row, json_integer(R->mask[q * N + k]));
        json_array_append_new(mask, row);
    }
    json_object_set_new(root, "mask", mask);
    for (int m = 0; m < 5; m++) json_object_set_new(w, method_keys[m], jmatrix(R->w[m], Q, N));
    json_object_set_new(root, "weights", w);
    json_object_set_new(root, "theorem1_max_ulp", jnum(R->thm1_ulp));
    for (long j = 0; j < Q * N; j++) {
        if (isnan(R->k[j])) continue;
        json_t *e = json_object();
        json_object_set_new(e, "q", json_integer(j / N));
        json_object_set_new(e, "u", json_integer(j % N));
        json_object_set_new(e, "w_u", jnum(R->w[0][j]));
        json_object_set_new(e, "w_prime_u", jnum(R->w[1][j]));
        json_object_set_new(e, "jdk_uu", jnum(R->jdk[j]));
        json_object_set_new(e, "jng_uu", jnum(R->jng[j]));
        json_object_set_new(e, "ratio", jnum(R->jng[j] != 0.0 ? R->jdk[j] / R->jng[j] : NAN));
        json_object_set_new(e, "k", jnum(R->k[j]));
        json_object_set_new(e, "one_minus_k", jnum(R->omk[j]));
        json_array_append_new(t2, e);
    }
    json_object_set_new(root, "theorem2", t2);
    json_object_set_new(root, "theorem3_max_eps", jnum(R->thm3_eps));
    json_t *t4 = json_object(), *focus = json_array();
    json_object_set_new(t4, "pairs", json_integer(R->leaks));
    json_object_set_new(t4, "max_dev_eps_w_prime_u", jnum(R->thm4_eps));
    for (long q = 0; q < Q; q++) json_array_append_new(focus, json_integer(R->focus[q]));
    json_object_set_new(t4, "focus_unit", focus);
    json_object_set_new(t4, "jacobian_row_dropkey", jmatrix(R->rdk, Q, N));
    json_object_set_new(t4, "jacobian_row_nograd", jmatrix(R->rng, Q, N));
    json_object_set_new(t4, "leak_formula", jmatrix(R->rleak, Q, N));
    json_object_set_new(root, "theorem4", t4);
    char *s = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    json_decref(root);
    return s;
}

/* Writes the CSV or JSON to path ('-': stdout). */
static int emit(const char *path, const demo_args *a, const demo_result *R, int json)
{
    char *buf = NULL;
    size_t len = 0;
    if (json) {
        buf = json_text(a, R);
        if (buf) len = strlen(buf);
    } else {
        FILE *m = open_memstream(&buf, &len);
        if (m) {
            write_csv(m, a, R);
            fclose(m);
        }
    }
    if (!buf) {
        fprintf(stderr, "hkref demo attention: out of memory writing %s\n", path);
        return 2;
    }
    int rc = 0;
    if (!strcmp(path, "-")) {
        fwrite(buf, 1, len, stdout);
        if (json) fputc('\n', stdout);
    } else {
        rc = hk_cli_write_file("demo attention", path, buf, len);
    }
    free(buf);
    return rc;
}

static int parse_list(const hk_args *spec, const hk_opt *o, const char *v, void *dest)
{
    double *out = dest;
    int n = hk_args_doubles(spec, !strcmp(o->name, "logits") ? "--logits" : "--mask", v, out + 1, MAXN);
    if (n < 0) return 2;
    out[0] = n; /* the count in slot 0 */
    return 0;
}

static int cmd_attention(int argc, char **argv)
{
    demo_args a = {.seed = 1, .Q = -1, .N = -1, .p = 0.4, .offset = 0.0, .pat = -1, .ng = -1, .nm = -1};
    static const char *const patterns[] = {"element", "column", "span", NULL};
    double gl[MAXN + 1], ml[MAXN + 1];
    int have_g = 0, have_m = 0;
    gl[0] = ml[0] = -1;
    const hk_opt opts[] = {
        {.name = "seed", .kind = HK_OPT_LONG, .dest = &a.seed, .metavar = "S", .ilo = 0, .ihi = 4294967295L},
        {.name = "queries", .kind = HK_OPT_LONG, .dest = &a.Q, .metavar = "Q", .ilo = 1, .ihi = MAXQ},
        {.name = "keys", .kind = HK_OPT_LONG, .dest = &a.N, .metavar = "N", .ilo = 2, .ihi = MAXK},
        {.name = "p", .kind = HK_OPT_DOUBLE, .dest = &a.p, .metavar = "P", .lo = 0, .hi = 1, .flags = HK_OPT_HI_OPEN},
        {.name = "offset", .kind = HK_OPT_DOUBLE, .dest = &a.offset, .metavar = "X", .lo = -1e6, .hi = 1e6},
        {.name = "pattern", .kind = HK_OPT_CHOICE, .dest = &a.pat, .choices = patterns},
        {.name = "logits", .kind = HK_OPT_FUNC, .dest = gl, .metavar = "G1,G2,...", .parse = parse_list},
        {.name = "mask", .kind = HK_OPT_FUNC, .dest = ml, .metavar = "M1,M2,...", .parse = parse_list},
        {.name = "csv", .kind = HK_OPT_STR, .dest = &a.csv, .metavar = "FILE"},
        {.name = "json", .kind = HK_OPT_STR, .dest = &a.json, .metavar = "FILE"},
        {0}};
    const hk_args spec = {.cmd = "demo attention", .opts = opts};
    int rc = hk_args_parse(&spec, argc, argv, NULL);
    if (rc == HK_ARGS_HELP) {
        usage(stdout);
        return 0;
    }
    if (rc) return rc;
    have_g = gl[0] >= 0, have_m = ml[0] >= 0;
    int given = have_g ? (int)gl[0] : have_m ? (int)ml[0] : -1;
    if (have_g && have_m && gl[0] != ml[0])
        return hk_args_error(&spec, "--logits has %d numbers but --mask %d: one mask entry per logit", (int)gl[0],
                             (int)ml[0]);
    if (given >= 0) { /* the shape follows the list: Q x N = its length */
        const char *what = have_g ? "--logits" : "--mask";
        if (a.Q > 0 && a.N > 0 && given != a.Q * a.N)
            return hk_args_error(&spec, "%s has %d numbers; --queries %ld x --keys %ld needs %ld", what, given, a.Q, a.N,
                                 a.Q * a.N);
        if (a.Q < 0 && a.N > 0 && given % a.N)
            return hk_args_error(&spec, "%s has %d numbers: not a multiple of --keys %ld", what, given, a.N);
        if (a.Q > 0 && a.N < 0 && given % a.Q)
            return hk_args_error(&spec, "%s has %d numbers: not a multiple of --queries %ld", what, given, a.Q);
        a.Q = a.Q > 0 ? a.Q : a.N > 0 ? given / a.N : 1;
        a.N = given / a.Q;
        if (a.Q > MAXQ || a.N < 2 || a.N > MAXK)
            return hk_args_error(&spec, "%s has %d numbers = %ld queries x %ld keys; a demo takes 1..%d queries of 2..%d keys",
                                 what, given, a.Q, a.N, MAXQ, MAXK);
    }
    if (a.Q < 0) a.Q = 3;
    if (a.N < 0) a.N = 5;
    if (have_g) {
        a.ng = (int)gl[0];
        for (int j = 0; j < a.ng; j++) {
            if (fabs(gl[j + 1]) > 1e6)
                return hk_args_error(&spec, "--logits: entry %d (%g) must be in [-1e6, 1e6]", j + 1, gl[j + 1]);
            a.glist[j] = gl[j + 1];
        }
    }
    if (have_m) {
        if (a.pat >= 0) return hk_args_error(&spec, "--pattern and --mask: a given mask has no pattern to sample");
        a.nm = (int)ml[0];
        for (int j = 0; j < a.nm; j++) {
            if (ml[j + 1] != 0.0 && ml[j + 1] != 1.0)
                return hk_args_error(&spec, "--mask: entry %d is %g; a mask holds 0 (kept) and 1 (dropped)", j + 1,
                                     ml[j + 1]);
            a.mlist[j] = ml[j + 1];
        }
    }
    if ((a.csv && hk_cli_check_output("demo attention", a.csv)) || (a.json && hk_cli_check_output("demo attention", a.json)))
        return 2;
    if (a.csv && a.json && !strcmp(a.csv, "-") && !strcmp(a.json, "-"))
        return hk_args_error(&spec, "--csv - and --json - would both write to stdout; give one a FILE");
    /* The command with every option, defaults included: what the CSV and JSON record. */
    char *c = a.command;
    size_t left = sizeof a.command;
#define ADD(expr)                                                                                                     \
    do {                                                                                                              \
        int w_ = (expr);                                                                                              \
        if (w_ > 0 && (size_t)w_ < left) c += w_, left -= (size_t)w_;                                                 \
    } while (0)
    ADD(snprintf(c, left, "hkref demo attention --queries %ld --keys %ld", a.Q, a.N));
    ADD(put_num(c, left, " --p ", a.p));
    if (a.offset != 0.0) ADD(put_num(c, left, " --offset ", a.offset));
    if (!have_g || !have_m) ADD(snprintf(c, left, " --seed %ld", a.seed));
    if (!have_m) ADD(snprintf(c, left, " --pattern %s", patterns[a.pat < 0 ? 0 : a.pat]));
    for (int j = 0; j < a.ng; j++) ADD(put_num(c, left, j ? "," : " --logits ", a.glist[j]));
    for (int j = 0; j < a.nm; j++) ADD(put_num(c, left, j ? "," : " --mask ", a.mlist[j]));
#undef ADD

    demo_result R = {0};
    hk_error_clear();
    if (compute(&a, &R)) return hk_cli_fail("demo attention");
    int to_stdout = (a.csv && !strcmp(a.csv, "-")) || (a.json && !strcmp(a.json, "-"));
    if (!to_stdout) report(&a, &R);
    if (a.csv && (rc = emit(a.csv, &a, &R, 0))) return rc;
    if (a.json && (rc = emit(a.json, &a, &R, 1))) return rc;
    /* The run ends with the paths it wrote (on stderr when stdout carries the data). */
    const char *files[2] = {a.csv, a.json};
    for (int f = 0; f < 2; f++)
        if (files[f] && strcmp(files[f], "-") != 0)
            fprintf(to_stdout ? stderr : stdout, "%s %s\n", to_stdout ? "hkref demo attention: wrote" : "wrote",
                    files[f]);
    return 0;
}

int hk_cmd_demo(int argc, char **argv)
{
    static const hk_cli_sub subs[] = {{"attention", cmd_attention}};
    return hk_cli_dispatch("demo", argc, argv, subs, 1, usage);
}
