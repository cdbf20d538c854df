/* hkref — NULL arguments, one table over every public function of ref/ and
 * of the checker library (tools/golden/check.h).
 *
 * The contract (ref/error.h, DESIGN.md "every public function validates
 * arguments and fails with a message that names the argument"): a pointer
 * argument that is NULL makes the function return HK_EINVAL with the message
 * "argument '<name>' is NULL", <name> as the header spells the parameter, and
 * write nothing; a parameter the header documents as "may be NULL" (marked
 * '?' below) is accepted.
 *
 * Each row names a function, its pointer parameters in header order, and a
 * call with valid arguments built from shared buffer pools.  For every row:
 *   1. with no NULL the call succeeds (so each failure below is the NULL's);
 *   2. each pointer parameter in turn is NULL: HK_EINVAL and the message, and
 *      every pool buffer byte-identical to before the call (nothing written);
 *      a '?' parameter: HK_OK.
 * Completeness is checked against the headers themselves: every function a
 * header declares has a row (whose parameters must be the header's pointer
 * parameters, in order) or an entry in `exempt` with its reason, so a new
 * function or parameter without a row fails here. */
#include "hk_test.h"

#include "ref/adamw.h"
#include "ref/attention.h"
#include "ref/attnmask.h"
#include "ref/compare.h"
#include "ref/consistency.h"
#include "ref/crossentropy.h"
#include "ref/dropattention.h"
#include "ref/dropkey.h"
#include "ref/dylora.h"
#include "ref/encoder.h"
#include "ref/fileio.h"
#include "ref/framework.h"
#include "ref/gelu.h"
#include "ref/gradcheck.h"
#include "ref/hiddencut.h"
#include "ref/layernorm.h"
#include "ref/linear.h"
#include "ref/lora.h"
#include "ref/rng.h"
#include "ref/softmax.h"
#include "ref/spectrum.h"
#include "ref/stack.h"
#include "ref/stackmask.h"
#include "ref/tensorfile.h"
#include "ref/train.h"
#include "checks/fixtures.h"
#include "golden/case.h"
#include "golden/check.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- buffer pools: every array argument points into one of these ---- */

enum { PN = 1024 };
static struct {
    double d[12][PN];
    uint8_t u[4][PN];
    int64_t i[2][PN];
    long l[2][PN];
} pool, snap;

#define D(k) (pool.d[k])
#define U(k) (pool.u[k])
#define I64(k) (pool.i[k])
#define L(k) (pool.l[k])

/* Default contents: doubles in (0.3, 0.7) with entropy (valid logits,
 * probabilities, weights, eps-free LayerNorm inputs), masks 0 (nothing
 * dropped), labels 0. */
static void pool_default(void)
{
    memset(&pool, 0, sizeof pool);
    for (int k = 0; k < 12; k++)
        for (int j = 0; j < PN; j++) pool.d[k][j] = 0.3 + 0.4 * fmod(0.618034 * (j + 1) + 0.1 * k, 1.0);
}

static int nk; /* the pointer parameter (0-based, header order) that is NULL in this call; -1: none */
#define A(k, p) (nk == (k) ? NULL : (p))

static gsl_rng *rng;

/* ---- fixtures of the structured arguments ---- */

static const hk_attn_config acfg = {1, 2, 4, 2, 0, 0, 0, 0.0, 0.0}; /* B T C NH, no LoRA */
static hk_attn_params aP, aG;
static hk_attn_cache aC;
static hk_enc_config ecfg;
static hk_enc_params eP, eG;
static hk_enc_cache eC;
static hk_dropkey_config dkc;
static hk_dropattn_config dac;
static hk_hiddencut_ctx hcc;
static hk_dylora_dims dyd = {3, 2, 1, 2, 2.0};
static hk_lora_dims lod = {2, 3, 2, 2, 2, 1.0}; /* N IN OUT r ldB scale */
static hk_adamw_hparams ahp = {1e-3, 0.9, 0.999, 1e-8, 0.0};
static hk_framework fw;
static hk_stack stk;
static hk_model mdl;
static hk_st_file *stf;
static hk_golden_result *gres;
static hk_st_file *gold;
static char tmpdir[64], gdir[128], odir[128], fpath[160];

static void fixtures_up(void)
{
    rng = hk_rng_new(7);
    ck_assert_ptr_nonnull(rng);
    hk_assert_ok(hk_attn_params_alloc(&aP, &acfg, 1));
    hk_assert_ok(hk_attn_params_alloc(&aG, &acfg, 1));
    hk_assert_ok(hk_fixture_attn_params(&aP, &acfg, rng));
    hk_assert_ok(hk_attn_cache_alloc(&aC, &acfg));
    ecfg = (hk_enc_config){acfg, 3, 1e-5, HK_GELU_ERF};
    hk_assert_ok(hk_enc_params_alloc(&eP, &ecfg, 1));
    hk_assert_ok(hk_enc_params_alloc(&eG, &ecfg, 1));
    hk_assert_ok(hk_fixture_enc_params(&eP, &ecfg, rng));
    hk_assert_ok(hk_enc_cache_alloc(&eC, &ecfg));
    hk_framework_init(&fw);
    hk_framework sfw = fw; /* the stack drops its input: sampling its masks needs the generator */
    sfw.site[HK_POS_INPUT].p = 0.125;
    hk_assert_ok(hk_stack_alloc(&stk, &ecfg, 1, 2, &sfw));
    hk_assert_ok(hk_stack_init(&stk, rng));
    hk_assert_ok(hk_stack_model(&stk, &mdl));
    hk_assert_ok(hk_st_new(&stf));
    long sh[1] = {3};
    double v[3] = {1.5, -2.25, 0.125};
    hk_assert_ok(hk_st_add(stf, "t", HK_ST_F64, 1, sh, v));
    int64_t iv[3] = {1, 2, 3};
    hk_assert_ok(hk_st_add(stf, "i", HK_ST_I64, 1, sh, iv));
    uint8_t uv[3] = {0, 1, 0};
    hk_assert_ok(hk_st_add(stf, "u", HK_ST_U8, 1, sh, uv));
    hk_assert_ok(hk_st_set_meta(stf, "k", "v"));
    gres = malloc(sizeof *gres);
    ck_assert_ptr_nonnull(gres);
}

/* Once per test case (unchecked fixture: the files are only read by the rows
 * that use them): a golden directory of one case, and the reference itself
 * as the backend's outputs. */
static void files_up(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hkref-nullargs-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(gdir, sizeof gdir, "%s/golden", tmpdir);
    snprintf(odir, sizeof odir, "%s/out", tmpdir);
    snprintf(fpath, sizeof fpath, "%s/file.bin", tmpdir);
    long n;
    hk_assert_ok(hk_golden_generate(gdir, "softmax_3x7", NULL, &n));
    ck_assert_int_eq(n, 1);
    char gpath[256], opath[256];
    snprintf(gpath, sizeof gpath, "%s/softmax/softmax_3x7.safetensors", gdir);
    hk_assert_ok(hk_st_read(gpath, &gold));
    ck_assert_int_eq(mkdir(odir, 0700), 0);
    snprintf(opath, sizeof opath, "%s/softmax_3x7.safetensors", odir);
    hk_assert_ok(hk_st_write(gold, opath));
    hk_assert_ok(hk_file_write_atomic(fpath, "abc", 3));
}

static void fixtures_down(void)
{
    hk_attn_params_free(&aP);
    hk_attn_params_free(&aG);
    hk_attn_cache_free(&aC);
    hk_enc_params_free(&eP);
    hk_enc_params_free(&eG);
    hk_enc_cache_free(&eC);
    hk_stack_free(&stk);
    hk_st_free(stf);
    free(gres);
    hk_rng_free(rng);
}

static void files_down(void)
{
    hk_st_free(gold);
    gold = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- setups: valid inputs beyond the default pools ---- */

static void s_attn_fwd(void) { hk_assert_ok(hk_attn_forward(D(11), &aC, D(0), &aP, &acfg, NULL, NULL, NULL)); }
static void s_enc_fwd(void) { hk_assert_ok(hk_enc_forward(D(11), &eC, D(0), &eP, &ecfg, NULL, NULL, NULL, NULL)); }
static void s_dk(void) { dkc = (hk_dropkey_config){U(0), NULL, HK_DROPKEY_NEGINF, HK_ALLMASK_KEEP}; }
static void s_da(void) { dac = (hk_dropattn_config){U(0), NULL, HK_DROPATTN_NORM, 0.0, HK_ALLMASK_KEEP}; }
static void s_hc(void) { hcc = (hk_hiddencut_ctx){U(0), 1.0}; }
static void s_pmf(void)
{
    D(7)[0] = 0.25;
    D(7)[1] = 0.75;
}
static void s_softmax_y(void) { hk_assert_ok(hk_softmax_forward(D(2), D(0), 2, 3)); }
static void s_logsoftmax_y(void) { hk_assert_ok(hk_logsoftmax_forward(D(2), D(0), 2, 3)); }
static void s_ce(void) { hk_assert_ok(hk_logsoftmax_forward(D(1), D(0), 2, 3)); }
static void s_ln(void) { hk_assert_ok(hk_layernorm_forward(D(9), D(5), D(6), D(0), D(1), D(2), 1e-5, 2, 3)); }
static void s_fw(void) { hk_framework_init(&fw); }

static double gc_loss(void *ctx)
{
    (void)ctx;
    return D(0)[0] * D(0)[0];
}
static hk_gc_var gcv;
static void s_gc(void)
{
    D(1)[0] = 2.0 * D(0)[0];
    gcv = (hk_gc_var){"x", D(0), D(1), 1};
}

static hk_golden_dir_opts gopts;
static hk_golden_dir_summary gsum;
static void s_gdir(void)
{
    gopts = (hk_golden_dir_opts){.golden = gdir, .outputs = odir, .dtype = HK_GOLDEN_F64};
}

/* ---- the calls ---- */

static int c_adamw_step(void) { return hk_adamw_step(A(0, D(0)), A(1, D(1)), A(2, D(2)), A(3, D(3)), 4, 1, 1, A(4, &ahp)); }

static int c_attn_config_check(void) { return hk_attn_config_check(A(0, &acfg)); }
static int c_attn_params_alloc(void)
{
    hk_attn_params p;
    memset(&p, 0, sizeof p);
    int st = hk_attn_params_alloc(A(0, &p), A(1, &acfg), 1);
    if (!st) hk_attn_params_free(&p);
    return st;
}
static int c_attn_params_zero(void) { return hk_attn_params_zero(A(0, &aG), A(1, &acfg)); }
static int c_attn_cache_alloc(void)
{
    hk_attn_cache c;
    memset(&c, 0, sizeof c);
    int st = hk_attn_cache_alloc(A(0, &c), A(1, &acfg));
    if (!st) hk_attn_cache_free(&c);
    return st;
}
static int c_attn_forward(void)
{
    const uint8_t *lm[HK_ATTN_NPROJ] = {0};
    hk_attn_hooks h;
    memset(&h, 0, sizeof h);
    return hk_attn_forward(A(0, D(1)), A(1, &aC), A(2, D(0)), A(3, &aP), A(4, &acfg), A(5, U(0)), A(6, lm), A(7, &h));
}
static int c_attn_backward(void)
{
    const uint8_t *lm[HK_ATTN_NPROJ] = {0};
    hk_attn_hooks h;
    memset(&h, 0, sizeof h);
    return hk_attn_backward(A(0, D(1)), A(1, &aG), A(2, D(2)), A(3, &aC), A(4, D(0)), A(5, &aP), A(6, &acfg),
                            A(7, U(0)), A(8, lm), A(9, &h));
}

static int c_attnmask_sample(void) { return hk_attnmask_sample(A(0, U(0)), HK_PATTERN_ELEMENT, 0.25, A(1, U(1)), 1, 2, 2, 3, A(2, rng)); }
static int c_attnmask_check_args(void)
{
    return hk_attnmask_check_args(A(0, D(1)), A(1, D(0)), A(2, U(0)), HK_ALLMASK_KEEP, 1, 2, 2, 3, A(3, "who"));
}
static int c_attnmask_allmasked(void) { return hk_attnmask_allmasked(HK_ALLMASK_KEEP, 0, 2, 2, A(0, "who")); }

static int c_compare(void)
{
    hk_cmp_result r;
    long sh[2] = {2, 3};
    return hk_compare(A(0, D(0)), A(1, D(0)), 6, A(2, sh), 2, A(3, "t"), 1e-12, 1e-12, A(4, stderr), 0, A(5, &r));
}

static int c_compare_rows(void)
{
    hk_cmp_result r;
    long sh[2] = {2, 3};
    double at[2] = {1e-12, 1e-12};
    return hk_compare_rows(A(0, D(0)), A(1, D(0)), 6, A(2, sh), 2, A(3, "t"), A(4, at), 3, 1e-12, A(5, stderr), 0,
                           A(6, &r));
}

static int c_consistency_parse(void)
{
    hk_consistency k;
    return hk_consistency_parse(A(0, &k), A(1, "js_eq12"));
}
static int c_consistency_forward(void) { return hk_consistency_forward(A(0, D(1)), HK_CONS_KL_BIDIR, A(1, D(0)), A(2, D(2)), 2, 3, HK_RED_MEAN); }
static int c_consistency_backward(void)
{
    return hk_consistency_backward(A(0, D(1)), A(1, D(3)), 1.0, HK_CONS_KL_BIDIR, A(2, D(0)), A(3, D(2)), 2, 3, HK_RED_MEAN);
}

static int c_ce_forward(void) { return hk_crossentropy_forward(A(0, D(3)), A(1, D(1)), A(2, D(0)), A(3, I64(0)), 2, 3); }
static int c_ce_backward(void) { return hk_crossentropy_backward(A(0, D(2)), 1.0, A(1, D(1)), A(2, I64(0)), 2, 3); }

static int c_dropattn_forward(void) { return hk_dropattn_forward(A(0, D(1)), A(1, D(0)), A(2, &dac), 1, 2, 2, 3); }
static int c_dropattn_backward(void)
{
    return hk_dropattn_backward(A(0, D(3)), A(1, D(2)), A(2, D(0)), A(3, D(1)), A(4, &dac), 1, 2, 2, 3);
}
static int c_dropattn_hooks(void)
{
    hk_attn_hooks h;
    return hk_dropattn_hooks(A(0, &h), A(1, &dac));
}

static int c_dropkey_logits_forward(void) { return hk_dropkey_logits_forward(A(0, D(1)), A(1, D(0)), A(2, &dkc), 1, 2, 2, 3); }
static int c_dropkey_logits_backward(void) { return hk_dropkey_logits_backward(A(0, D(3)), A(1, D(2)), A(2, &dkc), 1, 2, 2, 3); }
static int c_dropkey_forward(void) { return hk_dropkey_forward(A(0, D(1)), A(1, D(0)), A(2, &dkc), 1, 2, 2, 3); }
static int c_dropkey_backward(void) { return hk_dropkey_backward(A(0, D(3)), A(1, D(2)), A(2, D(1)), A(3, &dkc), 1, 2, 2, 3); }
static int c_dropkey_hooks(void)
{
    hk_attn_hooks h;
    return hk_dropkey_hooks(A(0, &h), A(1, &dkc));
}

/* DyLoRA: IN 3, OUT 2, r_min 1, r_max 2; N 2, b 2. */
static int c_dylora_rank_pmf(void) { return hk_dylora_rank_pmf(A(0, D(1)), 1, 2, HK_DYLORA_UNIFORM, 0.0); }
static int c_dylora_rank_sample(void)
{
    long b;
    return hk_dylora_rank_sample(A(0, &b), 1, 2, HK_DYLORA_UNIFORM, 0.0, A(1, rng));
}
static int c_dylora_forward(void)
{
    return hk_dylora_forward(A(0, D(5)), A(1, D(6)), A(2, D(0)), A(3, D(1)), A(4, D(2)), A(5, D(3)), A(6, D(4)),
                             A(7, U(0)), 0.0, 2, 2, A(8, &dyd));
}
static int c_dylora_backward(void)
{
    return hk_dylora_backward(A(0, D(8)), A(1, D(9)), A(2, D(10)), A(3, D(7)), A(4, D(0)), A(5, D(6)), A(6, D(1)),
                              A(7, D(3)), A(8, D(4)), A(9, U(0)), 0.0, 2, 2, A(10, &dyd));
}
static int c_dylora_loss_forward(void)
{
    return hk_dylora_loss_forward(A(0, D(8)), A(1, D(0)), A(2, D(5)), A(3, D(1)), A(4, D(2)), A(5, D(3)),
                                  A(6, D(4)), 2, 2, A(7, &dyd));
}
static int c_dylora_loss_backward(void)
{
    return hk_dylora_loss_backward(A(0, D(9)), A(1, D(10)), A(2, D(0)), A(3, D(5)), A(4, D(1)), A(5, D(2)),
                                   A(6, D(3)), A(7, D(4)), 2, 2, A(8, &dyd));
}
static int c_dylora_nested_loss_forward(void)
{
    return hk_dylora_nested_loss_forward(A(0, D(8)), A(1, D(0)), A(2, D(5)), A(3, D(1)), A(4, D(2)), A(5, D(3)),
                                         A(6, D(4)), A(7, D(7)), 2, A(8, &dyd));
}
static int c_dylora_nested_loss_backward(void)
{
    return hk_dylora_nested_loss_backward(A(0, D(9)), A(1, D(10)), A(2, D(0)), A(3, D(5)), A(4, D(1)), A(5, D(2)),
                                          A(6, D(3)), A(7, D(4)), A(8, D(7)), 2, A(9, &dyd));
}
static int c_dylora_frozen_mask_grad(void) { return hk_dylora_frozen_mask_grad(A(0, D(9)), A(1, D(10)), 2, A(2, &dyd)); }
static int c_dylora_frozen_step(void)
{
    return hk_dylora_frozen_step(A(0, D(3)), A(1, D(4)), A(2, D(9)), A(3, D(10)), A(4, D(5)), A(5, D(6)), A(6, D(7)),
                                 A(7, D(8)), 2, 1, A(8, &ahp), A(9, &dyd));
}
static int c_dylora_eval_all(void)
{
    return hk_dylora_eval_all(A(0, D(8)), A(1, D(0)), A(2, D(1)), A(3, D(2)), A(4, D(3)), A(5, D(4)), 2, A(6, &dyd));
}
static int c_dylora_check_rank(void) { return hk_dylora_check_rank(2, A(0, &dyd)); }

static int c_enc_config_check(void) { return hk_enc_config_check(A(0, &ecfg)); }
static int c_enc_params_alloc(void)
{
    hk_enc_params p;
    memset(&p, 0, sizeof p);
    int st = hk_enc_params_alloc(A(0, &p), A(1, &ecfg), 1);
    if (!st) hk_enc_params_free(&p);
    return st;
}
static int c_enc_params_zero(void) { return hk_enc_params_zero(A(0, &eG), A(1, &ecfg)); }
static int c_enc_cache_alloc(void)
{
    hk_enc_cache c;
    memset(&c, 0, sizeof c);
    int st = hk_enc_cache_alloc(A(0, &c), A(1, &ecfg));
    if (!st) hk_enc_cache_free(&c);
    return st;
}
static int c_enc_forward(void)
{
    const uint8_t *lm[HK_ATTN_NPROJ] = {0};
    hk_attn_hooks h;
    hk_hidden_hook hh;
    memset(&h, 0, sizeof h);
    memset(&hh, 0, sizeof hh);
    return hk_enc_forward(A(0, D(1)), A(1, &eC), A(2, D(0)), A(3, &eP), A(4, &ecfg), A(5, U(0)), A(6, lm), A(7, &h),
                          A(8, &hh));
}
static int c_enc_backward(void)
{
    const uint8_t *lm[HK_ATTN_NPROJ] = {0};
    hk_attn_hooks h;
    hk_hidden_hook hh;
    memset(&h, 0, sizeof h);
    memset(&hh, 0, sizeof hh);
    return hk_enc_backward(A(0, D(1)), A(1, &eG), A(2, D(2)), A(3, &eC), A(4, D(0)), A(5, &eP), A(6, &ecfg),
                           A(7, U(0)), A(8, lm), A(9, &h), A(10, &hh));
}

static int c_check_finite(void) { return hk_check_finite(A(0, D(0)), 4, A(1, "x")); }

static int c_file_write_atomic(void)
{
    char p[192];
    snprintf(p, sizeof p, "%s/w.bin", tmpdir);
    int st = hk_file_write_atomic(A(0, p), A(1, "abcd"), 4);
    unlink(p);
    return st;
}
static int c_file_read(void)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    int st = hk_file_read(A(0, fpath), 1024, A(1, &buf), A(2, &len));
    free(buf);
    return st;
}

static int c_framework_validate(void) { return hk_framework_validate(A(0, &fw)); }
static int c_file_open_read(void)
{
    FILE *fp = NULL;
    uint64_t size = 0;
    int st = hk_file_open_read(A(0, fpath), A(1, &fp), A(2, &size));
    if (fp) fclose(fp);
    return st;
}
static int c_file_remove_stale_tmp(void)
{
    long n = -1;
    return hk_file_remove_stale_tmp(A(0, tmpdir), A(1, &n));
}
static int c_size_prod(void)
{
    size_t out = 0;
    long f[2] = {2, 3};
    return hk_size_prod(A(0, &out), 100, A(1, "what"), 2, A(2, f), 8);
}
static int c_framework_describe(void)
{
    static char buf[512];
    return hk_framework_describe(A(0, &fw), A(1, buf), sizeof buf);
}
static int c_framework_set(void)
{
    hk_framework f;
    hk_framework_init(&f);
    return hk_framework_set(A(0, &f), A(1, "hidden.p"), A(2, "0.1"));
}
static int c_preset_get(void)
{
    hk_framework f;
    return hk_preset_get(A(0, &f), A(1, "hiddenkey"));
}

static int c_gelu_forward(void) { return hk_gelu_forward(A(0, D(1)), A(1, D(0)), 6, HK_GELU_ERF); }
static int c_gelu_backward(void) { return hk_gelu_backward(A(0, D(3)), A(1, D(2)), A(2, D(0)), 6, HK_GELU_ERF); }

static int c_gradcheck(void)
{
    hk_gc_report rep;
    hk_gc_opts o = {1e-4, 1e-6, 1e-6};
    return hk_gradcheck(A(0, gc_loss), A(1, (void *)0), A(2, &gcv), 1, A(3, &o), A(4, &rep));
}

static int c_hc_mask_sample(void) { return hk_hiddencut_mask_sample(A(0, U(0)), HK_HC_SPAN, 0.25, 1, 2, 3, A(1, rng)); }
static int c_hc_mask_sample_importance(void)
{
    return hk_hiddencut_mask_sample_importance(A(0, U(0)), A(1, D(0)), 0.25, 0.5, 1, 2, 3, A(2, rng));
}
static int c_hc_importance(void) { return hk_hiddencut_importance(A(0, D(1)), A(1, D(0)), 1, 2, 2); }
static int c_hc_forward(void) { return hk_hiddencut_forward(A(0, D(1)), A(1, D(0)), A(2, U(0)), 1.0, 1, 2, 3); }
static int c_hc_backward(void) { return hk_hiddencut_backward(A(0, D(3)), A(1, D(2)), A(2, U(0)), 1.0, 1, 2, 3); }
static int c_hc_hook(void)
{
    hk_hidden_hook h;
    return hk_hiddencut_hook(A(0, &h), A(1, &hcc));
}

static int c_ln_forward(void) { return hk_layernorm_forward(A(0, D(9)), A(1, D(5)), A(2, D(6)), A(3, D(0)), A(4, D(1)), A(5, D(2)), 1e-5, 2, 3); }
static int c_ln_backward(void)
{
    return hk_layernorm_backward(A(0, D(3)), A(1, D(4)), A(2, D(7)), A(3, D(8)), A(4, D(0)), A(5, D(1)), A(6, D(5)),
                                 A(7, D(6)), 2, 3);
}

static int c_linear_forward(void) { return hk_linear_forward(A(0, D(3)), A(1, D(0)), A(2, D(1)), A(3, D(2)), 2, 3, 2); }
static int c_linear_backward(void)
{
    return hk_linear_backward(A(0, D(4)), A(1, D(5)), A(2, D(6)), A(3, D(7)), A(4, D(0)), A(5, D(1)), 2, 3, 2);
}

/* LoRA: N 2, IN 3, OUT 2, r 2. */
static int c_lora_forward(void)
{
    return hk_lora_forward(A(0, D(5)), A(1, D(6)), A(2, D(0)), A(3, D(1)), A(4, D(2)), A(5, D(3)), A(6, D(4)),
                           A(7, U(0)), 0.0, A(8, &lod));
}
static int c_lora_backward(void)
{
    return hk_lora_backward(A(0, D(8)), A(1, D(9)), A(2, D(10)), A(3, D(7)), A(4, D(0)), A(5, D(6)), A(6, D(1)),
                            A(7, D(3)), A(8, D(4)), A(9, U(0)), 0.0, A(10, &lod));
}
static int c_lora_init(void) { return hk_lora_init(A(0, D(3)), A(1, D(4)), 3, 2, 2, A(2, rng)); }
static int c_lora_merge(void) { return hk_lora_merge(A(0, D(1)), A(1, D(3)), A(2, D(4)), 3, 2, 2, 2, 1.0, 1); }

static int c_rng_fill_uniform(void) { return hk_rng_fill_uniform(A(0, D(1)), 4, -1.0, 1.0, A(1, rng)); }
static int c_rng_fill_normal(void) { return hk_rng_fill_normal(A(0, D(1)), 4, 1.0, A(1, rng)); }
static int c_rng_uniform_int(void) { return hk_rng_uniform_int(A(0, L(0)), 0, 9, A(1, rng)); }
static int c_mask_bernoulli(void) { return hk_mask_bernoulli(A(0, U(0)), 6, 0.25, A(1, rng)); }
static int c_check_rate(void) { return hk_check_rate(0.25, A(0, "p")); }

static int c_softmax_forward(void) { return hk_softmax_forward(A(0, D(1)), A(1, D(0)), 2, 3); }
static int c_softmax_backward(void) { return hk_softmax_backward(A(0, D(3)), A(1, D(4)), A(2, D(2)), 2, 3); }
static int c_softmax_logsumexp(void)
{
    double m, s;
    return hk_softmax_logsumexp(A(0, &m), A(1, &s), A(2, D(0)), 3);
}
static int c_logsoftmax_forward(void) { return hk_logsoftmax_forward(A(0, D(1)), A(1, D(0)), 2, 3); }
static int c_logsoftmax_backward(void) { return hk_logsoftmax_backward(A(0, D(3)), A(1, D(4)), A(2, D(2)), 2, 3); }

static int c_svd(void) { return hk_spectrum_singular_values(A(0, D(1)), A(1, D(0)), 2, 3); }
static int c_spectrum_adapter(void)
{
    return hk_spectrum_adapter(A(0, D(5)), A(1, D(6)), A(2, D(7)), A(3, D(8)), A(4, D(9)), A(5, D(3)), A(6, D(4)), 3, 2,
                               2, 2.0);
}

static int c_stack_alloc(void)
{
    hk_stack s;
    memset(&s, 0, sizeof s);
    int st = hk_stack_alloc(A(0, &s), A(1, &ecfg), 1, 2, A(2, &fw));
    if (!st) hk_stack_free(&s);
    return st;
}
static int c_stack_init(void) { return hk_stack_init(A(0, &stk), A(1, rng)); }
static int c_stack_sample_masks(void) { return hk_stack_sample_masks(A(0, &stk), 0, A(1, rng)); }
static int c_stack_model(void)
{
    hk_model m;
    return hk_stack_model(A(0, &stk), A(1, &m));
}
static int c_stack_model_override(void)
{
    hk_stack_override o = {&stk, NULL};
    hk_model m;
    return hk_stack_model_override(A(0, &o), A(1, &m));
}

static int c_stackmask_sample(void)
{
    hk_framework f;
    hk_framework_init(&f);
    f.site[HK_POS_INPUT].p = 0.25;
    hk_stackmask m = {U(0), U(1), U(2), U(3), NULL, NULL};
    hk_stackmask_shape sh = {1, 1, 2, 3, 1};
    return hk_stackmask_sample(A(0, &m), A(1, &f), A(2, &sh), A(3, U(3)), A(4, D(0)), A(5, hk_mask_bernoulli), A(6, rng));
}

static int c_st_dtype_parse(void)
{
    hk_st_dtype dt;
    return hk_st_dtype_parse(A(0, "F64"), A(1, &dt));
}
static int c_st_new(void)
{
    hk_st_file *f = NULL;
    int st = hk_st_new(A(0, &f));
    hk_st_free(f);
    return st;
}
static int c_st_add(void)
{
    hk_st_file *f = NULL;
    hk_assert_ok(hk_st_new(&f));
    long sh[2] = {2, 3};
    int st = hk_st_add(A(0, f), A(1, "x"), HK_ST_F64, 2, A(2, sh), A(3, D(0)));
    hk_st_free(f);
    return st;
}
static int c_st_set_meta(void)
{
    hk_st_file *f = NULL;
    hk_assert_ok(hk_st_new(&f));
    int st = hk_st_set_meta(A(0, f), A(1, "key"), A(2, "value"));
    hk_st_free(f);
    return st;
}
static int c_st_get(void)
{
    const hk_st_tensor *t;
    long sh[1] = {3};
    return hk_st_get(A(0, stf), A(1, "t"), HK_ST_F64, 1, A(2, sh), A(3, &t));
}
static int c_st_get_f64(void)
{
    const double *p;
    long sh[1] = {3};
    return hk_st_get_f64(A(0, stf), A(1, "t"), 1, A(2, sh), A(3, &p));
}
static int c_st_get_i64(void)
{
    const int64_t *p;
    long sh[1] = {3};
    return hk_st_get_i64(A(0, stf), A(1, "i"), 1, A(2, sh), A(3, &p));
}
static int c_st_get_u8(void)
{
    const uint8_t *p;
    long sh[1] = {3};
    return hk_st_get_u8(A(0, stf), A(1, "u"), 1, A(2, sh), A(3, &p));
}
static int c_st_to_f64(void) { return hk_st_to_f64(A(0, hk_st_find(stf, "i")), A(1, D(1))); }
static int c_st_parse(void)
{
    unsigned char *b = NULL;
    size_t n = 0;
    hk_assert_ok(hk_st_serialize(stf, &b, &n));
    hk_st_file *f = NULL;
    int st = hk_st_parse(A(0, b), n, A(1, &f));
    hk_st_free(f);
    free(b);
    return st;
}
static int c_st_read(void)
{
    char p[192];
    snprintf(p, sizeof p, "%s/softmax_3x7.safetensors", odir);
    hk_st_file *f = NULL;
    int st = hk_st_read(A(0, p), A(1, &f));
    hk_st_free(f);
    return st;
}
static int c_st_serialize(void)
{
    unsigned char *b = NULL;
    size_t n = 0;
    int st = hk_st_serialize(A(0, stf), A(1, &b), A(2, &n));
    free(b);
    return st;
}
static int c_st_write(void)
{
    char p[192];
    snprintf(p, sizeof p, "%s/w.safetensors", tmpdir);
    int st = hk_st_write(A(0, stf), A(1, p));
    unlink(p);
    return st;
}

/* Task losses: N 2, K 3, labels 0. */
static int c_task_loss_forward(void)
{
    return hk_task_loss_forward(A(0, D(4)), HK_TASK_CLASSIFICATION, A(1, D(0)), A(2, L(0)), A(3, D(1)), 2, 3);
}
static int c_task_loss_backward(void)
{
    return hk_task_loss_backward(A(0, D(4)), 1.0, HK_TASK_CLASSIFICATION, A(1, D(0)), A(2, L(0)), A(3, D(1)), 2, 3);
}
static int c_fw_loss_forward(void)
{
    hk_step_result r;
    return hk_framework_loss_forward(A(0, &r), A(1, &fw), A(2, D(0)), A(3, D(1)), A(4, D(2)), A(5, D(3)), A(6, L(0)),
                                     A(7, D(4)), 2, 3, 2);
}
static int c_fw_loss_backward(void)
{
    return hk_framework_loss_backward(A(0, D(5)), A(1, D(6)), A(2, D(7)), A(3, D(8)), A(4, &fw), A(5, D(0)),
                                      A(6, D(1)), A(7, D(2)), A(8, D(3)), A(9, L(0)), A(10, D(4)), 2, 3, 2);
}
static int c_train_step(void)
{
    hk_step_result r;
    ck_assert_int_le(hk_train_step_work_size(&mdl), PN);
    return hk_train_step(A(0, &r), A(1, &fw), A(2, &mdl), A(3, L(0)), A(4, D(4)), A(5, D(10)));
}

static int c_golden_check_case(void) { return hk_golden_check_case(A(0, gold), A(1, gold), HK_GOLDEN_F64, A(2, stderr), A(3, gres)); }
static hk_golden_dtype gdt;
static int c_golden_dtype_parse(void) { return hk_golden_dtype_parse(A(0, "bf16"), A(1, &gdt)); }
static int c_golden_tolerance(void)
{
    hk_golden_tol_in in = {2.0, 32.0, 16.0, 6.0, 0.0};
    hk_golden_tol out;
    return hk_golden_tolerance(A(0, &in), HK_GOLDEN_F64, A(1, &out));
}
static int c_golden_list_dir(void)
{
    char **paths = NULL;
    size_t n = 0;
    int st = hk_golden_list_dir(A(0, gdir), A(1, &paths), A(2, &n));
    if (!st) hk_golden_list_free(paths, n);
    return st;
}
static int c_golden_check_dir(void) { return hk_golden_check_dir(A(0, &gopts), A(1, &gsum)); }

/* ---- the table ---- */

typedef struct {
    const char *fn;     /* as declared in its header */
    const char *args;   /* its pointer parameters in header order; '?' = documented "may be NULL" */
    int (*call)(void);  /* fn with valid arguments, pointer parameter nk NULL */
    void (*setup)(void); /* inputs beyond the default pools, or NULL */
} null_row;

static const null_row rows[] = {
    {"hk_adamw_step", "param grad m v hp", c_adamw_step, NULL},
    {"hk_attn_config_check", "cfg", c_attn_config_check, NULL},
    {"hk_attn_params_alloc", "p cfg", c_attn_params_alloc, NULL},
    {"hk_attn_params_zero", "p cfg", c_attn_params_zero, NULL},
    {"hk_attn_cache_alloc", "c cfg", c_attn_cache_alloc, NULL},
    {"hk_attn_forward", "out cache x p cfg ?pad ?lora_mask ?hooks", c_attn_forward, NULL},
    {"hk_attn_backward", "?dx ?grad dout cache x p cfg ?pad ?lora_mask ?hooks", c_attn_backward, s_attn_fwd},
    {"hk_attnmask_sample", "mask ?pad r", c_attnmask_sample, NULL},
    {"hk_attnmask_check_args", "out in mask who", c_attnmask_check_args, NULL},
    {"hk_attnmask_allmasked", "who", c_attnmask_allmasked, NULL},
    {"hk_compare", "got ref ?shape ?name ?log res", c_compare, NULL},
    {"hk_compare_rows", "got ref ?shape ?name ?atol_row ?log res", c_compare_rows, NULL},
    {"hk_consistency_parse", "kind name", c_consistency_parse, NULL},
    {"hk_consistency_forward", "loss z1 z2", c_consistency_forward, NULL},
    {"hk_consistency_backward", "?dz1 ?dz2 z1 z2", c_consistency_backward, NULL},
    {"hk_crossentropy_forward", "loss logp logits labels", c_ce_forward, NULL},
    {"hk_crossentropy_backward", "dlogits logp labels", c_ce_backward, s_ce},
    {"hk_dropattn_forward", "w_out w_in cfg", c_dropattn_forward, s_da},
    {"hk_dropattn_backward", "d_in d_out w_in w_out cfg", c_dropattn_backward, s_da},
    {"hk_dropattn_hooks", "h cfg", c_dropattn_hooks, s_da},
    {"hk_dropkey_logits_forward", "g_out g_in cfg", c_dropkey_logits_forward, s_dk},
    {"hk_dropkey_logits_backward", "d_in d_out cfg", c_dropkey_logits_backward, s_dk},
    {"hk_dropkey_forward", "w g cfg", c_dropkey_forward, s_dk},
    {"hk_dropkey_backward", "dg dw w cfg", c_dropkey_backward, s_dk},
    {"hk_dropkey_hooks", "h cfg", c_dropkey_hooks, s_dk},
    {"hk_dylora_rank_pmf", "pmf", c_dylora_rank_pmf, NULL},
    {"hk_dylora_rank_sample", "b rng", c_dylora_rank_sample, NULL},
    {"hk_dylora_forward", "y xa x W0 ?bias A B ?mask d", c_dylora_forward, NULL},
    {"hk_dylora_backward", "?dx ?dA ?dB dy x xa W0 A B ?mask d", c_dylora_backward, NULL},
    {"hk_dylora_loss_forward", "loss x target W0 ?bias A B d", c_dylora_loss_forward, NULL},
    {"hk_dylora_loss_backward", "?dA ?dB x target W0 ?bias A B d", c_dylora_loss_backward, NULL},
    {"hk_dylora_nested_loss_forward", "loss x target W0 ?bias A B pmf d", c_dylora_nested_loss_forward, s_pmf},
    {"hk_dylora_nested_loss_backward", "?dA ?dB x target W0 ?bias A B pmf d", c_dylora_nested_loss_backward, s_pmf},
    {"hk_dylora_frozen_mask_grad", "?dA ?dB d", c_dylora_frozen_mask_grad, NULL},
    {"hk_dylora_frozen_step", "A B dA dB mA vA mB vB hp d", c_dylora_frozen_step, NULL},
    {"hk_dylora_eval_all", "Y x W0 ?bias A B d", c_dylora_eval_all, NULL},
    {"hk_dylora_check_rank", "d", c_dylora_check_rank, NULL},
    {"hk_enc_config_check", "cfg", c_enc_config_check, NULL},
    {"hk_enc_params_alloc", "p cfg", c_enc_params_alloc, NULL},
    {"hk_enc_params_zero", "p cfg", c_enc_params_zero, NULL},
    {"hk_enc_cache_alloc", "c cfg", c_enc_cache_alloc, NULL},
    {"hk_enc_forward", "y cache x p cfg ?pad ?lora_mask ?attn_hooks ?hidden", c_enc_forward, NULL},
    {"hk_enc_backward", "?dx ?grad dy cache x p cfg ?pad ?lora_mask ?attn_hooks ?hidden", c_enc_backward, s_enc_fwd},
    {"hk_check_finite", "x what", c_check_finite, NULL},
    {"hk_file_write_atomic", "path buf", c_file_write_atomic, NULL},
    {"hk_file_read", "path buf len", c_file_read, NULL},
    {"hk_file_open_read", "path fp ?size", c_file_open_read, NULL},
    {"hk_file_remove_stale_tmp", "dir ?nremoved", c_file_remove_stale_tmp, NULL},
    {"hk_size_prod", "out what f", c_size_prod, NULL},
    {"hk_framework_validate", "cfg", c_framework_validate, s_fw},
    {"hk_framework_describe", "cfg buf", c_framework_describe, s_fw},
    {"hk_framework_set", "cfg key value", c_framework_set, NULL},
    {"hk_preset_get", "cfg name", c_preset_get, NULL},
    {"hk_gelu_forward", "out inp", c_gelu_forward, NULL},
    {"hk_gelu_backward", "dinp dout inp", c_gelu_backward, NULL},
    {"hk_gradcheck", "f ?ctx vars ?opts rep", c_gradcheck, s_gc},
    {"hk_hiddencut_mask_sample", "mask r", c_hc_mask_sample, NULL},
    {"hk_hiddencut_mask_sample_importance", "mask importance r", c_hc_mask_sample_importance, NULL},
    {"hk_hiddencut_importance", "importance att", c_hc_importance, NULL},
    {"hk_hiddencut_forward", "out in mask", c_hc_forward, NULL},
    {"hk_hiddencut_backward", "din dout mask", c_hc_backward, NULL},
    {"hk_hiddencut_hook", "hook ctx", c_hc_hook, s_hc},
    {"hk_layernorm_forward", "out mean rstd inp weight bias", c_ln_forward, NULL},
    {"hk_layernorm_backward", "?dinp ?dweight ?dbias dout inp weight mean rstd", c_ln_backward, s_ln},
    {"hk_linear_forward", "out inp w ?bias", c_linear_forward, NULL},
    {"hk_linear_backward", "?dinp ?dw ?dbias dout inp w", c_linear_backward, NULL},
    {"hk_lora_forward", "y xa x W0 ?bias A B ?mask dims", c_lora_forward, NULL},
    {"hk_lora_backward", "?dx ?dA ?dB dy x xa W0 A B ?mask dims", c_lora_backward, NULL},
    {"hk_lora_init", "A B rng", c_lora_init, NULL},
    {"hk_lora_merge", "W A B", c_lora_merge, NULL},
    {"hk_rng_fill_uniform", "x r", c_rng_fill_uniform, NULL},
    {"hk_rng_fill_normal", "x r", c_rng_fill_normal, NULL},
    {"hk_rng_uniform_int", "out r", c_rng_uniform_int, NULL},
    {"hk_mask_bernoulli", "mask r", c_mask_bernoulli, NULL},
    {"hk_check_rate", "?what", c_check_rate, NULL},
    {"hk_softmax_forward", "y x", c_softmax_forward, NULL},
    {"hk_softmax_backward", "dx dy y", c_softmax_backward, s_softmax_y},
    {"hk_softmax_logsumexp", "m log_s x", c_softmax_logsumexp, NULL},
    {"hk_logsoftmax_forward", "y x", c_logsoftmax_forward, NULL},
    {"hk_logsoftmax_backward", "dx dy y", c_logsoftmax_backward, s_logsoftmax_y},
    {"hk_spectrum_singular_values", "s M", c_svd, NULL},
    {"hk_spectrum_adapter", "?sv ?fro_trunc ?fro_best ?spec_trunc ?spec_best A B", c_spectrum_adapter, NULL},
    {"hk_stack_alloc", "s enc fw", c_stack_alloc, s_fw},
    {"hk_stack_init", "s r", c_stack_init, NULL},
    {"hk_stack_sample_masks", "s r", c_stack_sample_masks, NULL},
    {"hk_stack_model", "s m", c_stack_model, NULL},
    {"hk_stack_model_override", "o m", c_stack_model_override, NULL},
    {"hk_stackmask_sample", "m fw sh ?pad ?imp ?bernoulli r", c_stackmask_sample, NULL},
    {"hk_st_dtype_parse", "name out", c_st_dtype_parse, NULL},
    {"hk_st_new", "out", c_st_new, NULL},
    {"hk_st_add", "f name shape data", c_st_add, NULL},
    {"hk_st_set_meta", "f key value", c_st_set_meta, NULL},
    {"hk_st_get", "f name ?shape out", c_st_get, NULL},
    {"hk_st_get_f64", "f name ?shape data", c_st_get_f64, NULL},
    {"hk_st_get_i64", "f name ?shape data", c_st_get_i64, NULL},
    {"hk_st_get_u8", "f name ?shape data", c_st_get_u8, NULL},
    {"hk_st_to_f64", "t out", c_st_to_f64, NULL},
    {"hk_st_parse", "buf out", c_st_parse, NULL},
    {"hk_st_read", "path out", c_st_read, NULL},
    {"hk_st_serialize", "f buf len", c_st_serialize, NULL},
    {"hk_st_write", "f path", c_st_write, NULL},
    {"hk_task_loss_forward", "loss out labels ?targets", c_task_loss_forward, NULL},
    {"hk_task_loss_backward", "dout out labels ?targets", c_task_loss_backward, NULL},
    {"hk_framework_loss_forward", "res cfg out1 ?rep1 ?out2 ?rep2 labels ?targets", c_fw_loss_forward, s_fw},
    {"hk_framework_loss_backward", "dout1 ?drep1 ?dout2 ?drep2 cfg out1 ?rep1 ?out2 ?rep2 labels ?targets",
     c_fw_loss_backward, s_fw},
    {"hk_train_step", "res cfg m labels ?targets work", c_train_step, s_fw},
    {"hk_golden_check_case", "gold ?got ?log res", c_golden_check_case, NULL},
    {"hk_golden_tolerance", "in out", c_golden_tolerance, NULL},
    {"hk_golden_list_dir", "dir paths n", c_golden_list_dir, NULL},
    {"hk_golden_dtype_parse", "name d", c_golden_dtype_parse, NULL},
    {"hk_golden_check_dir", "o sum", c_golden_check_dir, s_gdir},
};
enum { NROWS = sizeof rows / sizeof rows[0] };

/* Declared functions without a row, and why. */
static const struct {
    const char *fn, *why;
} exempt[] = {
    {"hk_attn_params_free", "frees; NULL is a no-op (tested below)"},
    {"hk_attn_cache_free", "frees; NULL is a no-op (tested below)"},
    {"hk_enc_params_free", "frees; NULL is a no-op (tested below)"},
    {"hk_enc_cache_free", "frees; NULL is a no-op (tested below)"},
    {"hk_stack_free", "frees; NULL is a no-op (tested below)"},
    {"hk_st_free", "frees; NULL is a no-op (tested below)"},
    {"hk_rng_free", "frees; NULL is a no-op (gsl_rng_free returns on NULL; tested below)"},
    {"hk_golden_list_free", "frees; NULL is a no-op (tested below)"},
    {"hk_framework_init", "void; NULL is a no-op (tested below)"},
    {"hk_st_find", "lookup: NULL file or name finds nothing, returns NULL (tested below)"},
    {"hk_st_get_meta", "lookup: NULL file or key finds nothing, returns NULL (tested below)"},
    {"hk_train_step_work_size", "size query: NULL model needs 0 doubles (tested below)"},
    {"hk_format_index", "void formatter: shape NULL prints the flat index (tested below); buf is the caller's"},
    {"hk_attnmask_row_count", "void row counter of the hot loop: outputs may be NULL (tested below); mrow is the caller's"},
    {"hk_framework_scale", "returns a scale, no status: an internal accessor of a validated configuration"},
    {"hk_stackmask_needs_importance", "returns a flag, no status: an accessor of a validated configuration"},
    {"hk_error_set", "the error path itself: file NULL prints '?' (tested below); fmt is a literal"},
    {"hk_error_message", "no pointer parameter"},
    {"hk_error_code", "no pointer parameter"},
    {"hk_error_clear", "no pointer parameter"},
    {"hk_strerror", "no pointer parameter"},
    {"hk_file_read_exact", "internal helper of the readers (fp and dst are theirs); not a user entry point"},
    {"hk_pattern_name", "no pointer parameter"},
    {"hk_allmask_name", "no pointer parameter"},
    {"hk_consistency_name", "no pointer parameter"},
    {"hk_dropattn_variant_name", "no pointer parameter"},
    {"hk_position_name", "no pointer parameter"},
    {"hk_pattern_kind_name", "no pointer parameter"},
    {"hk_rescale_name", "no pointer parameter"},
    {"hk_preset_count", "no pointer parameter"},
    {"hk_preset_name", "no pointer parameter"},
    {"hk_preset_source", "no pointer parameter"},
    {"hk_hc_pattern_name", "no pointer parameter"},
    {"hk_rng_new", "no pointer parameter"},
    {"hk_st_dtype_name", "no pointer parameter"},
    {"hk_st_dtype_size", "no pointer parameter"},
    {"hk_file_cleanup_on_signals", "no pointer parameter"},
    {"hk_golden_grads_valid", "grads NULL is valid: it means every gradient (check_dir.c)"},
    {"hk_golden_dtype_name", "no pointer parameter (an enum: \"?\" out of range, tests/test_golden.c)"},
    {"hk_golden_dtype_accepts", "no pointer parameter (two enums)"},
    {"hk_golden_max_rtol", "no pointer parameter (an enum)"},
};
enum { NEXEMPT = sizeof exempt / sizeof exempt[0] };

/* The k-th (0-based) word of the space-separated list s into w, '?' stripped;
 * *optional set from the '?'.  Returns 0 past the end. */
static int word(const char *s, int k, char *w, size_t size, int *optional)
{
    for (int i = 0;; i++) {
        while (*s == ' ') s++;
        if (!*s) return 0;
        size_t n = strcspn(s, " ");
        if (i == k) {
            *optional = *s == '?';
            size_t skip = (size_t)*optional;
            snprintf(w, size, "%.*s", (int)(n - skip), s + skip);
            return 1;
        }
        s += n;
    }
}

static int nwords(const char *s)
{
    char w[64];
    int o, k = 0;
    while (word(s, k, w, sizeof w, &o)) k++;
    return k;
}

START_TEST(null_argument_row)
{
    const null_row *r = &rows[_i];
    fixtures_up();
    pool_default();
    if (r->setup) r->setup();
    nk = -1;
    hk_error_clear();
    int st = r->call();
    ck_assert_msg(st == HK_OK, "%s: the valid call fails (%s): %s — the row's fixture is wrong", r->fn,
                  hk_strerror(st), hk_error_message());
    char name[64], want[128];
    int optional;
    for (int k = 0; word(r->args, k, name, sizeof name, &optional); k++) {
        pool_default();
        if (r->setup) r->setup();
        memcpy(&snap, &pool, sizeof pool);
        nk = k;
        hk_error_clear();
        st = r->call();
        if (optional) {
            ck_assert_msg(st == HK_OK, "%s: '%s' is documented \"may be NULL\", but NULL fails (%s): %s", r->fn, name,
                          hk_strerror(st), hk_error_message());
            continue;
        }
        snprintf(want, sizeof want, "argument '%s' is NULL", name);
        ck_assert_msg(st == HK_EINVAL, "%s(%s = NULL) returned %s, expected EINVAL; message: %s", r->fn, name,
                      hk_strerror(st), hk_error_message());
        ck_assert_msg(strstr(hk_error_message(), want) != NULL, "%s(%s = NULL): message does not say \"%s\": %s",
                      r->fn, name, want, hk_error_message());
        ck_assert_msg(memcmp(&snap, &pool, sizeof pool) == 0, "%s(%s = NULL) failed but wrote to its buffers", r->fn,
                      name);
    }
    nk = -1;
    fixtures_down();
}
END_TEST

/* ---- functions that return a value, not a status ----
 * A NULL pointer argument gives the result the header documents for it (a
 * neutral one: NULL, 0 = no match, NaN = no scale, nothing written), never a
 * crash; a '?' parameter gives the valid call's result. */

typedef struct {
    const char *fn, *args;
    double (*call)(void); /* fn with valid arguments, pointer parameter nk NULL */
    double valid, null;   /* the documented results */
} value_row;

static double v_fw_site_scale(void)
{
    hk_fw_site site = {0.25, HK_PAT_ELEMENT, HK_RESCALE_INVERTED};
    return hk_fw_site_scale(A(0, &site));
}
static hk_framework pfw;
static double v_pass_site(void)
{
    hk_framework_init(&pfw);
    pfw.second_sites = 1;
    const hk_fw_site *s = hk_framework_pass_site(A(0, &pfw), 1, HK_POS_HIDDEN);
    return s == &pfw.site2[HK_POS_HIDDEN] ? 1.0 : s == NULL ? 0.0 : -1.0; /* pass 2 with its own sites: site2 */
}
static double v_pass_view(void)
{
    hk_framework_init(&pfw);
    pfw.second_sites = 1;
    pfw.site2[HK_POS_HIDDEN].p = 0.5;
    hk_framework view, untouched;
    memset(&view, 0x5a, sizeof view);
    memcpy(&untouched, &view, sizeof view);
    hk_framework_pass_view(A(0, &pfw), 1, A(1, &view));
    if (!memcmp(&view, &untouched, sizeof view)) return 0.0;
    /* pass 2's view: its sites are site2, everything else is cfg's */
    int ok = !memcmp(view.site, pfw.site2, sizeof view.site) && !memcmp(view.site2, pfw.site2, sizeof view.site2) &&
             view.second_sites == 1 && view.loss == pfw.loss && view.weight == pfw.weight && view.passes == pfw.passes;
    return ok ? 1.0 : -1.0;
}
static double v_name_match(void) { return hk_golden_name_match(A(0, "softmax"), A(1, "softmax_3x7"), 0); }
static double v_grad_selected(void) { return hk_golden_grad_selected(A(0, gold), A(1, "grad.x"), A(2, "inputs")); }

static const value_row vrows[] = {
    {"hk_fw_site_scale", "s", v_fw_site_scale, 1.0 / (1.0 - 0.25), NAN}, /* inverted: 1 / (1 - p) */
    {"hk_framework_pass_site", "cfg", v_pass_site, 1.0, 0.0},
    {"hk_framework_pass_view", "cfg view", v_pass_view, 1.0, 0.0},
    {"hk_golden_name_match", "pat name", v_name_match, 1.0, 0.0},     /* a prefix selects */
    {"hk_golden_grad_selected", "gold grad ?grads", v_grad_selected, 1.0, 0.0}, /* grad.x is of in.x */
};
enum { NVROWS = sizeof vrows / sizeof vrows[0] };

static int same_value(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

START_TEST(null_argument_value_row)
{
    const value_row *r = &vrows[_i];
    fixtures_up();
    pool_default();
    nk = -1;
    double v = r->call();
    ck_assert_msg(same_value(v, r->valid), "%s: the valid call gives %g, documented %g", r->fn, v, r->valid);
    char name[64];
    int optional;
    for (int k = 0; word(r->args, k, name, sizeof name, &optional); k++) {
        pool_default();
        memcpy(&snap, &pool, sizeof pool);
        nk = k;
        v = r->call();
        double want = optional ? r->valid : r->null;
        ck_assert_msg(same_value(v, want), "%s(%s = NULL) gives %g, documented %g", r->fn, name, v, want);
        ck_assert_msg(memcmp(&snap, &pool, sizeof pool) == 0, "%s(%s = NULL) wrote to the buffers", r->fn, name);
    }
    nk = -1;
    fixtures_down();
}
END_TEST

/* ---- completeness: the headers' declarations against the table ---- */

static char *slurp(const char *path)
{
    unsigned char *b = NULL;
    size_t n = 0;
    hk_assert_ok(hk_file_read(path, (size_t)1 << 20, &b, &n));
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, b, n);
    s[n] = 0;
    free(b);
    return s;
}

/* Comments and preprocessor lines blanked out (so the text keeps its shape). */
static void strip(char *s)
{
    for (char *p = s; *p; p++) {
        if (p[0] == '/' && p[1] == '*') {
            char *e = strstr(p + 2, "*/");
            char *end = e ? e + 2 : p + strlen(p);
            memset(p, ' ', (size_t)(end - p));
            p = end - 1;
        } else if (p[0] == '/' && p[1] == '/') {
            while (*p && *p != '\n') *p++ = ' ';
            if (!*p) break;
        } else if (*p == '#' && (p == s || p[-1] == '\n')) {
            while (*p && !(*p == '\n' && p[-1] != '\\')) *p++ = ' ';
            if (!*p) break;
        } else if (*p == '"') {
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1]) p++;
            if (!*p) break;
        }
    }
}

typedef struct {
    char name[64];
    char ptrs[256]; /* pointer parameters, space-separated */
} decl;

/* Parameter text [a, b) -> its name, and whether it is a pointer. */
static int param(const char *a, const char *b, char *name, size_t size)
{
    while (b > a && isspace((unsigned char)b[-1])) b--;
    while (b > a && b[-1] == ']') { /* array parameter */
        while (b > a && b[-1] != '[') b--;
        if (b > a) b--;
    }
    const char *e = b;
    while (e > a && (isalnum((unsigned char)e[-1]) || e[-1] == '_')) e--;
    snprintf(name, size, "%.*s", (int)(b - e), e);
    int ptr = memchr(a, '*', (size_t)(b - a)) != NULL;
    /* function-pointer typedefs: hk_gc_loss_fn, hk_bernoulli_fn, hk_golden_backend_fn */
    for (const char *q = a; q + 3 <= e; q++)
        if (!strncmp(q, "_fn", 3) && (q + 3 == e || isspace((unsigned char)q[3]))) ptr = 1;
    return ptr;
}

/* Every "hk_*(...)" declared at file scope outside typedefs, in order. */
static int parse_header(const char *path, decl *out, int max)
{
    char *s = slurp(path);
    strip(s);
    int n = 0, depth = 0;
    const char *stmt = s;
    for (char *p = s; *p; p++) {
        if (*p == '{') depth++;
        if (*p == '}') depth--;
        if (depth || (*p != ';' && *p != '}')) continue;
        /* one file-scope statement [stmt, p] */
        const char *q = stmt;
        while (q < p && isspace((unsigned char)*q)) q++;
        int skip = !strncmp(q, "typedef", 7) || !strncmp(q, "enum", 4) || !strncmp(q, "struct", 6);
        const char *h = NULL;
        for (const char *t = q; !skip && t < p; t++)
            if (t[0] == 'h' && t[1] == 'k' && t[2] == '_' && (t == q || !(isalnum((unsigned char)t[-1]) || t[-1] == '_'))) {
                const char *e = t;
                while (isalnum((unsigned char)*e) || *e == '_') e++;
                const char *o = e;
                while (isspace((unsigned char)*o)) o++;
                if (*o == '(') {
                    h = t;
                    ck_assert_int_lt(n, max);
                    snprintf(out[n].name, sizeof out[n].name, "%.*s", (int)(e - t), t);
                    out[n].ptrs[0] = 0;
                    const char *a = o + 1;
                    int d = 0;
                    for (const char *c = a;; c++) {
                        if (*c == '(') d++;
                        if ((*c == ',' && d == 0) || (*c == ')' && d == 0)) {
                            char nm[64];
                            if (param(a, c, nm, sizeof nm) && nm[0]) {
                                size_t L0 = strlen(out[n].ptrs);
                                snprintf(out[n].ptrs + L0, sizeof out[n].ptrs - L0, "%s%s", L0 ? " " : "", nm);
                            }
                            a = c + 1;
                            if (*c == ')') break;
                        } else if (*c == ')') {
                            d--;
                        }
                        ck_assert_msg(*c, "%s: unterminated parameter list of %s", path, out[n].name);
                    }
                    n++;
                    break;
                }
            }
        (void)h;
        stmt = p + 1;
    }
    free(s);
    return n;
}

static const char *const headers[] = {
    "ref/adamw.h", "ref/attention.h", "ref/attnmask.h", "ref/compare.h", "ref/consistency.h", "ref/crossentropy.h",
    "ref/dropattention.h", "ref/dropkey.h", "ref/dylora.h", "ref/encoder.h", "ref/error.h", "ref/fileio.h",
    "ref/framework.h", "ref/gelu.h", "ref/gradcheck.h", "ref/hiddencut.h", "ref/hooks.h", "ref/layernorm.h",
    "ref/linear.h", "ref/lora.h", "ref/rng.h", "ref/softmax.h", "ref/spectrum.h", "ref/stack.h", "ref/stackmask.h",
    "ref/tensorfile.h", "ref/train.h", "tools/golden/check.h",
};

START_TEST(every_declared_function_has_a_row)
{
    /* every header of ref/ is listed (a new one must be added here) */
    long listed = 0;
    char cmd[] = "ls ref/*.h";
    FILE *ls = popen(cmd, "r");
    ck_assert_ptr_nonnull(ls);
    char line[256];
    while (fgets(line, sizeof line, ls)) {
        line[strcspn(line, "\n")] = 0;
        int found = 0;
        for (size_t h = 0; h < sizeof headers / sizeof headers[0]; h++) found |= !strcmp(headers[h], line);
        ck_assert_msg(found, "%s is not in this test's header list", line);
        listed++;
    }
    pclose(ls);
    ck_assert_int_gt(listed, 20);
    static decl d[512];
    int nd = 0, missing = 0;
    for (size_t h = 0; h < sizeof headers / sizeof headers[0]; h++)
        nd += parse_header(headers[h], d + nd, (int)(sizeof d / sizeof d[0]) - nd);
    ck_assert_int_gt(nd, 120);
    for (int i = 0; i < nd; i++) {
        const null_row *r = NULL;
        for (int k = 0; k < NROWS; k++)
            if (!strcmp(rows[k].fn, d[i].name)) r = &rows[k];
        null_row vr = {NULL, NULL, NULL, NULL};
        for (int k = 0; !r && k < NVROWS; k++)
            if (!strcmp(vrows[k].fn, d[i].name)) {
                vr = (null_row){vrows[k].fn, vrows[k].args, NULL, NULL};
                r = &vr;
            }
        int ex = 0;
        for (int k = 0; k < NEXEMPT; k++) ex |= !strcmp(exempt[k].fn, d[i].name);
        if (!r && !ex) {
            fprintf(stderr, "nullargs: %s (pointer parameters: %s) has no row and no exemption\n", d[i].name,
                    d[i].ptrs[0] ? d[i].ptrs : "none");
            missing++;
            continue;
        }
        ck_assert_msg(!(r && ex), "%s has a row and an exemption", d[i].name);
        if (!r) continue;
        /* the row's parameters are the header's pointer parameters, in order */
        char a[64], b[64];
        int o, k = 0;
        for (; word(r->args, k, a, sizeof a, &o); k++) {
            ck_assert_msg(word(d[i].ptrs, k, b, sizeof b, &o), "%s: row names '%s', the header has only %d pointer "
                          "parameters (%s)", d[i].name, a, k, d[i].ptrs);
            ck_assert_msg(!strcmp(a, b), "%s: row parameter %d is '%s', the header's is '%s' (%s)", d[i].name, k, a, b,
                          d[i].ptrs);
        }
        ck_assert_msg(k == nwords(d[i].ptrs), "%s: row covers %d of the header's pointer parameters (%s)", d[i].name, k,
                      d[i].ptrs);
    }
    ck_assert_msg(missing == 0, "%d declared functions have neither a NULL-argument row nor an exemption", missing);
    /* and no row or exemption names a function that no header declares */
    for (int k = 0; k < NROWS + NVROWS + NEXEMPT; k++) {
        const char *fn = k < NROWS ? rows[k].fn : k < NROWS + NVROWS ? vrows[k - NROWS].fn : exempt[k - NROWS - NVROWS].fn;
        int found = 0;
        for (int i = 0; i < nd; i++) found |= !strcmp(d[i].name, fn);
        ck_assert_msg(found, "%s is in this table but no header declares it", fn);
    }
}
END_TEST

/* The exempted functions' own NULL policies. */
START_TEST(exempted_functions_null_policies)
{
    hk_attn_params_free(NULL);
    hk_attn_cache_free(NULL);
    hk_enc_params_free(NULL);
    hk_enc_cache_free(NULL);
    hk_stack_free(NULL);
    hk_st_free(NULL);
    hk_golden_list_free(NULL, 0);
    hk_rng_free(NULL);
    hk_framework_init(NULL);
    hk_st_file *f;
    hk_assert_ok(hk_st_new(&f));
    hk_assert_ok(hk_st_set_meta(f, "k", "v"));
    ck_assert_ptr_null(hk_st_find(NULL, "x"));
    ck_assert_ptr_null(hk_st_find(f, NULL));
    ck_assert_ptr_null(hk_st_get_meta(NULL, "k"));
    ck_assert_ptr_null(hk_st_get_meta(f, NULL));
    ck_assert_str_eq(hk_st_get_meta(f, "k"), "v");
    hk_st_free(f);
    ck_assert_int_eq(hk_train_step_work_size(NULL), 0);
    char buf[32];
    hk_format_index(buf, sizeof buf, 5, NULL, 2);
    ck_assert_str_eq(buf, "[5]");
    uint8_t m[4] = {0, 1, 1, 0}, pad[4] = {0, 0, 1, 1};
    long kept = -1, dropped = -1;
    hk_attnmask_row_count(&kept, NULL, m, pad, 4);
    ck_assert_int_eq(kept, 1);
    hk_attnmask_row_count(NULL, &dropped, m, NULL, 4);
    ck_assert_int_eq(dropped, 2);
    hk_error_set(HK_EIO, NULL, 3, "x");
    ck_assert_str_eq(hk_error_message(), "?:3: x");
    hk_error_clear();
}
END_TEST

Suite *suite_nullargs(void)
{
    Suite *s = suite_create("nullargs");
    TCase *tc = tcase_create("Limits");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, files_up, files_down);
    tcase_add_test(tc, every_declared_function_has_a_row);
    tcase_add_loop_test(tc, null_argument_row, 0, NROWS);
    tcase_add_loop_test(tc, null_argument_value_row, 0, NVROWS);
    tcase_add_test(tc, exempted_functions_null_policies);
    suite_add_tcase(s, tc);
    return s;
}
