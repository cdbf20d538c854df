/* hkref — hkref pretrain / hkref train end to end on synthetic data (the
 * gate has no network and no `make data`): tiny data files in `make data`'s
 * format, a tiny model; the run writes its files; an interrupted run
 * (--stop-after 1, then --resume) ends byte-identical to an uninterrupted
 * one; resuming with other options is refused; DyLoRA lists every rank; the
 * task is learnable, and learnt (dev accuracy above chance). */
#include "hk_test.h"

#include "ref/rng.h"
#include "ref/tensorfile.h"
#include "fast/fast_train.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

enum { V = 12, TT = 8 };
static char dir[64];

/* label 1 iff token 5 occurs in the sentence: learnable by attention to it. */
static void add_split(hk_st_file *f, const char *name, long N, gsl_rng *r)
{
    int32_t *ids = calloc((size_t)(N * TT), 4), *len = calloc((size_t)N, 4);
    int64_t *lab = calloc((size_t)N, 8);
    for (long i = 0; i < N; i++) {
        len[i] = 2 + (int32_t)gsl_rng_uniform_int(r, TT - 1);
        ids[i * TT] = 2;
        for (long t = 1; t < len[i]; t++) ids[i * TT + t] = 4 + (int32_t)gsl_rng_uniform_int(r, V - 4);
        lab[i] = 0;
        for (long t = 1; t < len[i]; t++) lab[i] |= ids[i * TT + t] == 5;
    }
    char n[64];
    long s2[2] = {N, TT}, s1[1] = {N};
    snprintf(n, sizeof n, "%s.ids", name);
    hk_assert_ok(hk_st_add(f, n, HK_ST_I32, 2, s2, ids));
    snprintf(n, sizeof n, "%s.len", name);
    hk_assert_ok(hk_st_add(f, n, HK_ST_I32, 1, s1, len));
    snprintf(n, sizeof n, "%s.label", name);
    hk_assert_ok(hk_st_add(f, n, HK_ST_I64, 1, s1, lab));
    free(ids), free(len), free(lab);
}

static void make_data(void)
{
    snprintf(dir, sizeof dir, "/tmp/hkref-trainfast-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    gsl_rng *r = hk_rng_new(3);
    const char *files[2] = {"pretrain", "finetune"};
    for (int k = 0; k < 2; k++) {
        hk_st_file *f;
        hk_assert_ok(hk_st_new(&f));
        add_split(f, "train", 96, r);
        add_split(f, "dev", 32, r);
        if (k) add_split(f, "test", 32, r);
        hk_assert_ok(hk_st_set_meta(f, "vocab", "12"));
        char p[128];
        snprintf(p, sizeof p, "%s/%s.safetensors", dir, files[k]);
        hk_assert_ok(hk_st_write(f, p));
        hk_st_free(f);
    }
    hk_rng_free(r);
}

static unsigned char *slurp(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "missing %s", path);
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    rewind(f);
    unsigned char *b = malloc((size_t)*n + 1);
    ck_assert(fread(b, 1, (size_t)*n, f) == (size_t)*n);
    fclose(f);
    return b;
}

static int same_file(const char *a, const char *b)
{
    long na, nb;
    unsigned char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = na == nb && memcmp(x, y, (size_t)na) == 0;
    free(x), free(y);
    return same;
}

static double result_value(const char *path, const char *key)
{
    long n;
    char *b = (char *)slurp(path, &n);
    b[n] = 0;
    char *p = strstr(b, key);
    ck_assert_msg(p != NULL, "%s has no '%s'", path, key);
    double v = strtod(p + strlen(key), NULL);
    free(b);
    return v;
}

static void opts(hk_train_opts *o, int pre, const char *out)
{
    static char outs[8][128];
    static int k;
    hk_train_opts_default(o, pre);
    snprintf(outs[k % 8], sizeof outs[0], "%s/%s", dir, out);
    o->out = outs[k++ % 8];
    o->data = dir;
    o->L = 1, o->C = 16, o->NH = 2, o->F = 32, o->r = 4, o->alpha = 8;
    o->batch = 8, o->epochs = 3, o->quiet = 2, o->threads = 1;
    o->lr = 1e-2;
    static char init[128];
    snprintf(init, sizeof init, "%s/pt/model.safetensors", dir);
    o->init = init;
}

START_TEST(pretrain_train_resume_dylora)
{
    make_data();
    hk_train_opts o;
    char a[256], b[256];
    opts(&o, 1, "pt");
    o.epochs = 8;
    hk_assert_ok(hk_fast_train_run(&o));
    snprintf(a, sizeof a, "%s/pt/result.txt", dir);
    /* 96 examples, 8 epochs: well above the ~60% of always answering the majority class */
    double pre_dev = result_value(a, "dev_acc ");
    ck_assert_msg(pre_dev >= 0.75, "pre-training did not learn the synthetic task: dev accuracy %.3f", pre_dev);
    /* uninterrupted fine-tune */
    opts(&o, 0, "A");
    o.preset = "hiddenkey";
    hk_assert_ok(hk_fast_train_run(&o));
    /* the same, interrupted after epoch 1 and resumed */
    opts(&o, 0, "B");
    o.preset = "hiddenkey";
    o.stop_epochs = 1;
    hk_assert_ok(hk_fast_train_run(&o));
    snprintf(b, sizeof b, "%s/B/result.txt", dir);
    ck_assert(access(b, F_OK) != 0); /* stopped: no final result yet */
    o.stop_epochs = 0, o.resume = 1;
    hk_assert_ok(hk_fast_train_run(&o));
    const char *files[4] = {"model.safetensors", "ckpt.safetensors", "result.txt", "curve.tsv"};
    for (int i = 0; i < 4; i++) {
        snprintf(a, sizeof a, "%s/A/%s", dir, files[i]);
        snprintf(b, sizeof b, "%s/B/%s", dir, files[i]);
        ck_assert_msg(same_file(a, b), "%s differs between the uninterrupted and the resumed run", files[i]);
    }
    /* resuming with other options is refused, naming both -- a --set counts */
    o.set[0] = "logits.pattern=element", o.nset = 1;
    hk_assert_fails(hk_fast_train_run(&o), HK_EINVAL, "other options");
    o.nset = 0;
    o.seed = 2;
    hk_assert_fails(hk_fast_train_run(&o), HK_EINVAL, "other options");
    /* DyLoRA: result lists every rank 1..r */
    opts(&o, 0, "D");
    o.dylora = 1, o.epochs = 1;
    hk_assert_ok(hk_fast_train_run(&o));
    snprintf(a, sizeof a, "%s/D/result.txt", dir);
    ck_assert(result_value(a, "rank 4 dev_acc ") >= 0.0);
    ck_assert(result_value(a, "rank 1 dev_acc ") >= 0.0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* --set: the preset, then --rate, then each KEY=VALUE in order (fast_train.h);
 * the expected configuration is spelled out field by field. */
START_TEST(framework_from_options)
{
    hk_train_opts o;
    hk_train_opts_default(&o, 0);
    o.preset = "dropkey", o.rate = 0.3;
    o.set[0] = "logits.pattern=column", o.set[1] = "hidden.p=0.2", o.set[2] = "hidden.rescale=inverted", o.nset = 3;
    hk_framework fw, want;
    hk_assert_ok(hk_train_framework(&o, &fw));
    hk_framework_init(&want);
    want.site[HK_POS_LOGITS] = (hk_fw_site){0.3, HK_PAT_COLUMN, HK_RESCALE_NONE};
    want.site[HK_POS_HIDDEN] = (hk_fw_site){0.2, HK_PAT_ELEMENT, HK_RESCALE_INVERTED};
    ck_assert(memcmp(&fw, &want, sizeof fw) == 0);
    o.set[3] = "logits.p=0.4", o.nset = 4; /* later wins, and --rate does not override a --set */
    hk_assert_ok(hk_train_framework(&o, &fw));
    ck_assert(fw.site[HK_POS_LOGITS].p == 0.4 && fw.site[HK_POS_HIDDEN].p == 0.2);
    o.set[3] = "logits.p", o.nset = 4;
    hk_assert_fails(hk_train_framework(&o, &fw), HK_EINVAL, "KEY=VALUE");
    o.set[3] = "logits.rescale=inverted";
    hk_assert_fails(hk_train_framework(&o, &fw), HK_EDOM, "softmax renormalizes");
    o.nset = HK_TRAIN_MAX_SET + 1;
    hk_assert_fails(hk_train_framework(&o, &fw), HK_EINVAL, "at most");
}
END_TEST

Suite *suite_trainfast(void)
{
    Suite *s = suite_create("trainfast");
    TCase *c = tcase_create("core");
    tcase_set_timeout(c, 120);
    tcase_add_test(c, pretrain_train_resume_dylora);
    tcase_add_test(c, framework_from_options);
    suite_add_tcase(s, c);
    return s;
}
