/* hkref — fixed deterministic hooks for plumbing checks (see fixtures.h). */
#include "fixtures.h"

#include "ref/error.h"
#include "ref/rng.h"

#include <stddef.h>

static int check_n(long have, long need, const char *what)
{
    HK_REQUIRE(have == need, HK_ESHAPE, "fixed hook %s holds %ld elements, the call needs %ld", what, have, need);
    return HK_OK;
}

static int logits_fwd(void *ctx, double *g_out, const double *g_in, long B, long NH, long T)
{
    hk_fixed_hooks *fx = ctx;
    long n = B * NH * T * T;
    HK_TRY(check_n(fx->n_attn, n, "add"));
    for (long i = 0; i < n; i++) g_out[i] = g_in[i] + fx->add[i];
    return HK_OK;
}

static int logits_bwd(void *ctx, double *d_in, const double *d_out, const double *g_in, long B, long NH, long T)
{
    hk_fixed_hooks *fx = ctx;
    long n = B * NH * T * T;
    HK_TRY(check_n(fx->n_attn, n, "add"));
    for (long i = 0; i < n; i++) d_in[i] += d_out[i];
    return HK_OK;
}

static int weights_fwd(void *ctx, double *w_out, const double *w_in, long B, long NH, long T)
{
    hk_fixed_hooks *fx = ctx;
    long n = B * NH * T * T;
    HK_TRY(check_n(fx->n_attn, n, "mul"));
    for (long i = 0; i < n; i++) w_out[i] = w_in[i] * fx->mul[i];
    return HK_OK;
}

static int weights_bwd(void *ctx, double *d_in, const double *d_out, const double *w_in, const double *w_out,
                       long B, long NH, long T)
{
    hk_fixed_hooks *fx = ctx;
    long n = B * NH * T * T;
    HK_TRY(check_n(fx->n_attn, n, "mul"));
    for (long i = 0; i < n; i++) d_in[i] += d_out[i] * fx->mul[i];
    return HK_OK;
}

static int hidden_fwd(void *ctx, double *h_out, const double *h_in, long B, long T, long C)
{
    hk_fixed_hooks *fx = ctx;
    long n = B * T * C;
    HK_TRY(check_n(fx->n_hidden, n, "hmul"));
    for (long i = 0; i < n; i++) h_out[i] = h_in[i] * fx->hmul[i] + fx->hadd[i];
    return HK_OK;
}

static int hidden_bwd(void *ctx, double *d_in, const double *d_out, const double *h_in, long B, long T, long C)
{
    hk_fixed_hooks *fx = ctx;
    long n = B * T * C;
    HK_TRY(check_n(fx->n_hidden, n, "hmul"));
    for (long i = 0; i < n; i++) d_in[i] += d_out[i] * fx->hmul[i];
    return HK_OK;
}

void hk_fixed_attn_hooks(hk_attn_hooks *h, hk_fixed_hooks *fx)
{
    *h = (hk_attn_hooks){.ctx = fx};
    if (fx->add) {
        h->logits_forward = logits_fwd;
        h->logits_backward = logits_bwd;
    }
    if (fx->mul) {
        h->weights_forward = weights_fwd;
        h->weights_backward = weights_bwd;
    }
}

void hk_fixed_hidden_hook(hk_hidden_hook *h, hk_fixed_hooks *fx)
{
    *h = (hk_hidden_hook){.ctx = fx};
    if (fx->hmul) {
        h->forward = hidden_fwd;
        h->backward = hidden_bwd;
    }
}

static int id_logits_fwd(void *ctx, double *g_out, const double *g_in, long B, long NH, long T)
{
    for (long i = 0; i < B * NH * T * T; i++) g_out[i] = g_in[i];
    return HK_OK;
}

static int id_bwd4(void *ctx, double *d_in, const double *d_out, const double *g_in, long B, long NH, long T)
{
    for (long i = 0; i < B * NH * T * T; i++) d_in[i] += d_out[i];
    return HK_OK;
}

static int id_weights_bwd(void *ctx, double *d_in, const double *d_out, const double *w_in, const double *w_out,
                          long B, long NH, long T)
{
    return id_bwd4(ctx, d_in, d_out, w_in, B, NH, T);
}

static int id_hidden_fwd(void *ctx, double *h_out, const double *h_in, long B, long T, long C)
{
    for (long i = 0; i < B * T * C; i++) h_out[i] = h_in[i];
    return HK_OK;
}

static int id_hidden_bwd(void *ctx, double *d_in, const double *d_out, const double *h_in, long B, long T, long C)
{
    for (long i = 0; i < B * T * C; i++) d_in[i] += d_out[i];
    return HK_OK;
}

void hk_identity_attn_hooks(hk_attn_hooks *h)
{
    *h = (hk_attn_hooks){NULL, id_logits_fwd, id_bwd4, id_logits_fwd, id_weights_bwd};
}

void hk_identity_hidden_hook(hk_hidden_hook *h) { *h = (hk_hidden_hook){NULL, id_hidden_fwd, id_hidden_bwd}; }

int hk_fixture_attn_params(hk_attn_params *p, const hk_attn_config *cfg, gsl_rng *r)
{
    HK_REQUIRE_PTR(p);
    HK_TRY(hk_attn_config_check(cfg));
    const long C = cfg->C, ldB = cfg->ldB ? cfg->ldB : cfg->r;
    for (int i = 0; i < HK_ATTN_NPROJ; i++) {
        if (p->W[i]) HK_TRY(hk_rng_fill_uniform(p->W[i], C * C, -0.6, 0.6, r));
        if (p->b[i]) HK_TRY(hk_rng_fill_uniform(p->b[i], C, -0.2, 0.2, r));
        if (p->A[i]) HK_TRY(hk_rng_fill_uniform(p->A[i], cfg->r * C, -0.5, 0.5, r));
        if (p->B[i]) HK_TRY(hk_rng_fill_uniform(p->B[i], C * ldB, -0.5, 0.5, r));
    }
    return HK_OK;
}

int hk_fixture_enc_params(hk_enc_params *p, const hk_enc_config *cfg, gsl_rng *r)
{
    HK_REQUIRE_PTR(p);
    HK_TRY(hk_enc_config_check(cfg));
    HK_TRY(hk_fixture_attn_params(&p->attn, &cfg->attn, r));
    const long C = cfg->attn.C, F = cfg->F;
    struct {
        double *x;
        long n;
        double lo, hi;
    } f[] = {{p->ln1_w, C, 0.8, 1.2}, {p->ln1_b, C, -0.1, 0.1}, {p->W1, F * C, -0.5, 0.5}, {p->b1, F, -0.2, 0.2},
             {p->W2, C * F, -0.5, 0.5}, {p->b2, C, -0.2, 0.2}, {p->ln2_w, C, 0.8, 1.2}, {p->ln2_b, C, -0.1, 0.1}};
    for (size_t j = 0; j < sizeof f / sizeof f[0]; j++)
        if (f[j].x) HK_TRY(hk_rng_fill_uniform(f[j].x, f[j].n, f[j].lo, f[j].hi, r));
    return HK_OK;
}

int hk_fixture_attn_gc_vars(hk_gc_var *v, hk_attn_params *P, const hk_attn_params *G, const hk_attn_config *cfg)
{
    static const char *const names[HK_ATTN_NPROJ][4] = {{"W[q]", "b[q]", "A[q]", "B[q]"},
                                                        {"W[k]", "b[k]", "A[k]", "B[k]"},
                                                        {"W[v]", "b[v]", "A[v]", "B[v]"},
                                                        {"W[o]", "b[o]", "A[o]", "B[o]"}};
    const long C = cfg->C, r = cfg->r, ldB = cfg->ldB ? cfg->ldB : cfg->r;
    int nv = 0;
    for (int i = 0; i < HK_ATTN_NPROJ; i++) {
        double *x[4] = {P->W[i], P->b[i], P->A[i], P->B[i]};
        const double *g[4] = {G->W[i], G->b[i], G->A[i], G->B[i]};
        const long n[4] = {C * C, C, r * C, C * ldB};
        for (int j = 0; j < 4; j++)
            if (x[j] && g[j]) v[nv++] = (hk_gc_var){names[i][j], x[j], g[j], n[j]};
    }
    return nv;
}
