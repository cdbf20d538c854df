/* hkref — regression tests of the hardening issue (docs/reliability.md,
 * "Hardening findings"): one test per finding, each seen failing before its
 * fix.  Wrong PASS from an edited golden file or a partial set, a backend
 * file that is the golden file, memory errors from crafted data and adapter
 * files, code execution through plot file names, devices and FIFOs as
 * paths, silent LayerNorm overflow, temporaries of an interrupted write.
 *
 * The CLI under test is the hkref next to this runner (the ASan one in the
 * gate's second run, so a memory error is a failure there), or $HKREF_BIN
 * (to show a test failing on an older build).  Runs from the repository
 * root (golden/ is read). */
#include "hk_test.h"
#include "golden_io.h"

#include "cli/cli.h"
#include "fast/fast_train.h"
#include "golden/case.h"
#include "golden/check.h"
#include "golden/manifest.h"
#include "golden/sha256.h"
#include "ref/fileio.h"
#include "ref/layernorm.h"
#include "ref/tensorfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[64];

static void setup_tmp(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/hkref-hard-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *T(const char *sub)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, sub);
    return buf[k];
}

static const char *hkref_bin(void)
{
    static char exe[1024];
    const char *env = getenv("HKREF_BIN");
    if (env && *env) return env;
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ck_assert_int_gt(len, 0);
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    ck_assert_ptr_nonnull(slash);
    snprintf(slash, sizeof exe - (size_t)(slash - exe), "/hkref");
    return exe;
}

/* Runs `hkref ARGS` (a shell fragment; the caller quotes) under a 60 s
 * timeout, stdout to tmp/out.txt and stderr to tmp/err.txt; returns the exit
 * status (124: timed out, i.e. hung; 128+n: killed by signal n). */
static int hk(const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "timeout -s KILL 60 '%s' %s >'%s/out.txt' 2>'%s/err.txt' </dev/null", hkref_bin(), args,
             tmp, tmp);
    int st = system(cmd);
    ck_assert_msg(st != -1 && WIFEXITED(st), "could not run: %s", cmd);
    return WEXITSTATUS(st);
}

/* 1 if tmp/<which>.txt contains s. */
static int said(const char *which, const char *s)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s.txt", tmp, which);
    unsigned char *b = NULL;
    size_t n = 0;
    if (hk_file_read(p, 1u << 24, &b, &n) != HK_OK) return 0;
    b[n] = 0;
    int r = strstr((char *)b, s) != NULL;
    free(b);
    return r;
}

static void sh(const char *cmd)
{
    int st = system(cmd);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "failed: %s", cmd);
}

/* tmp/out/<case>.safetensors: the reference's out.* / grad.* alone (a backend's honest file). */
static void write_outputs_from(const char *golden_file, const char *case_name)
{
    hk_st_file *f, *o;
    hk_assert_ok(hk_st_read(golden_file, &f));
    hk_assert_ok(hk_st_new(&o));
    for (size_t i = 0; i < f->ntensors; i++) {
        const hk_st_tensor *t = &f->tensors[i];
        if (!strncmp(t->name, "out.", 4) || !strncmp(t->name, "grad.", 5))
            hk_assert_ok(hk_st_add(o, t->name, t->dtype, t->ndim, t->shape, t->data));
    }
    mkdir(T("out"), 0777);
    char p[600];
    snprintf(p, sizeof p, "%s/out/%s.safetensors", tmp, case_name);
    hk_assert_ok(hk_st_write(o, p));
    hk_st_free(o);
    hk_st_free(f);
}

/* Edits one tolerance field of out.y (f64) in file p, in place. */
static void edit_tol(const char *p, const char *field, double v)
{
    hk_st_file *f;
    hk_assert_ok(hk_st_read(p, &f));
    json_t *tol = json_loads(hk_st_get_meta(f, "tolerance"), 0, NULL);
    ck_assert_ptr_nonnull(tol);
    json_object_set_new(json_object_get(json_object_get(tol, "out.y"), "f64"), field, json_real(v));
    char *s = json_dumps(tol, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    hk_assert_ok(hk_st_set_meta(f, "tolerance", s));
    free(s);
    json_decref(tol);
    hk_assert_ok(hk_st_write(f, p));
    hk_st_free(f);
}

/* Rewrites dir/MANIFEST for the files now in it (an attacker who edits a file and its manifest). */
static void remanifest(const char *dir) { hk_test_remanifest(dir); }

/* ---- wrong PASS from an edited golden file ---- */

/* atol 1.0 / 1e300 with rtol below the 1e-3 guard passed garbage and all-zero backends: now such a
 * bound fails its tensor (the case fails, the rest of the run goes on). */
START_TEST(edited_tolerance_fails_its_case_even_with_a_matching_manifest)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/g' && cp -r golden/linear golden/MANIFEST '%s/g/'", tmp, tmp);
    sh(cmd);
    char gf[600];
    snprintf(gf, sizeof gf, "%s/g/linear/linear_3x5to4.safetensors", tmp);
    write_outputs_from(gf, "linear_3x5to4");
    /* the honest outputs pass (a partial set: linear only) */
    char a[1024];
    snprintf(a, sizeof a, "golden check --golden '%s' --outputs '%s' --case linear_3x5 --partial", T("g"), T("out"));
    ck_assert_int_eq(hk(a), 0);
    const double bad[] = {1.0, 1e300};
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "cp golden/linear/linear_3x5to4.safetensors '%s'", gf);
        sh(cmd);
        edit_tol(gf, "atol", bad[k]);
        /* all-zero backend */
        hk_st_file *o;
        char op[600];
        snprintf(op, sizeof op, "%s/out/linear_3x5to4.safetensors", tmp);
        hk_assert_ok(hk_st_read(op, &o));
        for (size_t i = 0; i < o->ntensors; i++) memset(o->tensors[i].data, 0, o->tensors[i].nbytes);
        hk_assert_ok(hk_st_write(o, T("zero.safetensors")));
        hk_st_free(o);
        /* without a new manifest: altered */
        ck_assert_int_eq(hk(a), 2);
        ck_assert_msg(said("err", "altered"), "an edited golden file was not reported as altered");
        /* with a matching manifest: the edited bound fails its tensor (exit 1, named), never used */
        remanifest(T("g"));
        ck_assert_int_eq(hk(a), 1);
        ck_assert_msg(said("out", "does not follow its ingredients"), "atol %g was not flagged", bad[k]);
        /* the library call, with the all-zero backend that the loosened bound would pass */
        hk_st_file *gold, *zero;
        hk_assert_ok(hk_st_read(gf, &gold));
        hk_assert_ok(hk_st_read(T("zero.safetensors"), &zero));
        hk_golden_result *r = malloc(sizeof *r);
        hk_assert_ok(hk_golden_check_case(gold, zero, HK_GOLDEN_F64, NULL, r));
        int flagged = 0;
        for (int i = 0; i < r->ntensors; i++)
            flagged |= !strcmp(r->t[i].name, "out.y") && strstr(r->t[i].problem, "does not follow") && r->t[i].nfail;
        ck_assert_msg(flagged, "the all-zero backend's out.y was not failed for the edited bound");
        free(r);
        hk_st_free(gold);
        hk_st_free(zero);
    }
    /* rtol and atol that K, n, scale do not give (each within the bounds) */
    snprintf(cmd, sizeof cmd, "cp golden/linear/linear_3x5to4.safetensors '%s'", gf);
    sh(cmd);
    edit_tol(gf, "rtol", 1e-6);
    remanifest(T("g"));
    ck_assert_int_eq(hk(a), 1);
    ck_assert_msg(said("out", "does not follow its ingredients"), "an rtol not recomputable from K, n, S was accepted");
}
END_TEST

/* ---- wrong PASS from a partial golden set ---- */

START_TEST(partial_set_is_refused_unless_flagged_and_then_reported_partial)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/g/linear' && cp golden/linear/linear_3x5to4.safetensors '%s/g/linear/' && "
                              "cp golden/MANIFEST '%s/g/'", tmp, tmp, tmp);
    sh(cmd);
    write_outputs_from(T("g/linear/linear_3x5to4.safetensors"), "linear_3x5to4");
    char a[1024];
    snprintf(a, sizeof a, "golden check --golden '%s' --outputs '%s'", T("g"), T("out"));
    ck_assert_int_eq(hk(a), 2);
    ck_assert_msg(said("err", "incomplete"), "a 1-case set was not refused as incomplete");
    ck_assert(!said("out", "-> pass"));
    snprintf(a, sizeof a, "golden check --golden '%s' --outputs '%s' --partial --json '%s'", T("g"), T("out"),
             T("s.json"));
    ck_assert_int_eq(hk(a), 0);
    ck_assert_msg(said("out", "PARTIAL pass") && !said("out", "-> pass\n"), "a --partial run was not reported partial");
    json_t *j = json_load_file(T("s.json"), 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_true(json_object_get(j, "partial")));
    json_decref(j);
    /* what a killed first generate leaves: case files, no manifest */
    snprintf(cmd, sizeof cmd, "rm '%s/g/MANIFEST'", tmp);
    sh(cmd);
    snprintf(a, sizeof a, "golden check --golden '%s' --outputs '%s' --partial", T("g"), T("out"));
    ck_assert_int_eq(hk(a), 2);
    ck_assert(said("err", "no MANIFEST"));
    /* an extra file (not in the manifest) */
    snprintf(cmd, sizeof cmd, "cp golden/MANIFEST '%s/g/' && cp '%s/g/linear/linear_3x5to4.safetensors' "
                              "'%s/g/linear/linear_extra.safetensors'", tmp, tmp, tmp);
    sh(cmd);
    ck_assert_int_eq(hk(a), 2);
    ck_assert(said("err", "not in its manifest"));
    /* the full committed set with every output missing: compared and failed, not refused */
    snprintf(a, sizeof a, "golden check --outputs '%s' --case linear_3x5", T("out"));
    ck_assert_int_eq(hk(a), 0);
    char want[64];
    snprintf(want, sizeof want, "%zu of %zu cases present", hk_golden_count(), hk_golden_count());
    ck_assert(said("out", want));
}
END_TEST

/* On-demand directories get their own manifest; a prefix run keeps the earlier entries. */
START_TEST(generate_writes_a_manifest_that_sha256sum_accepts)
{
    long n;
    hk_assert_ok(hk_golden_generate(T("g"), "softmax_3x7", NULL, &n));
    hk_assert_ok(hk_golden_generate(T("g"), "linear_3x5", NULL, &n));
    hk_golden_manifest m;
    hk_assert_ok(hk_golden_manifest_read(T("g"), &m));
    ck_assert_int_eq((int)m.n, 2);
    ck_assert_int_eq(m.registry, (long)hk_golden_count());
    ck_assert_ptr_nonnull(hk_golden_manifest_find(&m, "softmax/softmax_3x7.safetensors"));
    ck_assert_ptr_nonnull(hk_golden_manifest_find(&m, "linear/linear_3x5to4.safetensors"));
    hk_golden_manifest_free(&m);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cd '%s/g' && sha256sum --quiet -c MANIFEST 2>/dev/null", tmp);
    sh(cmd);
    /* FIPS 180-2 example: SHA-256("abc") */
    unsigned char d[32];
    char hex[65];
    hk_sha256("abc", 3, d);
    hk_sha256_hex(d, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* 2-block message */
    hk_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d);
    hk_sha256_hex(d, hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

/* ---- the golden file as the backend's output ---- */

START_TEST(backend_file_that_is_the_golden_file_is_refused)
{
    /* a path typo pointing at the goldens themselves */
    ck_assert_int_eq(hk("golden check --outputs golden/linear --case linear"), 1);
    ck_assert_msg(said("out", "refused"), "golden/linear as --outputs was not refused");
    ck_assert(!said("out", "-> pass"));
    const char *how[] = {"ln -s \"$PWD/golden/linear/linear_3x5to4.safetensors\"", "ln",
                         "cp golden/linear/linear_3x5to4.safetensors"};
    for (int k = 0; k < 3; k++) {
        char cmd[1024], a[1024];
        snprintf(cmd, sizeof cmd, "rm -rf '%s/o' && mkdir '%s/o' && %s %s '%s/o/linear_3x5to4.safetensors'", tmp, tmp,
                 how[k], k == 1 ? "golden/linear/linear_3x5to4.safetensors" : "", tmp);
        if (k == 1 && system(cmd) != 0) continue; /* no hardlink across file systems: the copy case covers it */
        if (k != 1) sh(cmd);
        snprintf(a, sizeof a, "golden check --outputs '%s' --case linear_3x5", T("o"));
        ck_assert_int_eq(hk(a), 1);
        ck_assert_msg(said("out", "refused"), "a %s of the golden file was not refused", k == 0 ? "symlink" : k == 1 ? "hardlink" : "copy");
    }
}
END_TEST

/* ---- memory errors from crafted files ---- */

/* A data file whose metadata vocab = 2^57 + 1 wrapped V*C (SIGSEGV at -O2); a
 * dev split with another sequence length was read out of bounds. */
START_TEST(pretrain_with_crafted_vocab_or_lengths_is_an_error)
{
    const long N = 4, Tn = 3;
    int32_t ids[12] = {0}, len[4] = {3, 3, 3, 3}, ids2[4 * 9] = {0};
    int64_t lab[4] = {0, 1, 0, 1};
    const char *vocab[] = {"144115188075855873", "6"};
    for (int k = 0; k < 2; k++) {
        hk_st_file *f;
        hk_assert_ok(hk_st_new(&f));
        long s2[2] = {N, Tn}, s1[1] = {N}, sd[2] = {N, k ? 9 : Tn};
        hk_assert_ok(hk_st_add(f, "train.ids", HK_ST_I32, 2, s2, ids));
        hk_assert_ok(hk_st_add(f, "train.len", HK_ST_I32, 1, s1, len));
        hk_assert_ok(hk_st_add(f, "train.label", HK_ST_I64, 1, s1, lab));
        hk_assert_ok(hk_st_add(f, "dev.ids", HK_ST_I32, 2, sd, k ? ids2 : ids));
        hk_assert_ok(hk_st_add(f, "dev.len", HK_ST_I32, 1, s1, len));
        hk_assert_ok(hk_st_add(f, "dev.label", HK_ST_I64, 1, s1, lab));
        hk_assert_ok(hk_st_set_meta(f, "vocab", vocab[k]));
        mkdir(T("data"), 0777);
        hk_assert_ok(hk_st_write(f, T("data/pretrain.safetensors")));
        hk_st_free(f);
        char a[1024];
        snprintf(a, sizeof a, "pretrain --data '%s' --out '%s' --batch 2 --dim 8 --heads 2 --ffn 8 --layers 1 --quiet",
                 T("data"), T("pt"));
        ck_assert_int_eq(hk(a), 2);
        ck_assert_msg(said("err", k ? "sequence length" : "vocab"), "crafted data file %d not refused", k);
    }
}
END_TEST

/* dylora spectrum with metadata alpha = nan / inf / '' printed freed memory. */
START_TEST(spectrum_bad_alpha_quotes_live_memory)
{
    char a[1024];
    snprintf(a, sizeof a, "dylora demo --steps 2 --out '%s'", T("ad.safetensors"));
    ck_assert_int_eq(hk(a), 0);
    const char *alphas[] = {"nan", "inf", ""};
    for (int k = 0; k < 3; k++) {
        hk_st_file *f;
        hk_assert_ok(hk_st_read(T("ad.safetensors"), &f));
        hk_assert_ok(hk_st_set_meta(f, "alpha", alphas[k]));
        hk_assert_ok(hk_st_write(f, T("bad.safetensors")));
        hk_st_free(f);
        snprintf(a, sizeof a, "dylora spectrum '%s'", T("bad.safetensors"));
        ck_assert_int_eq(hk(a), 2);
        char want[64];
        snprintf(want, sizeof want, "alpha '%s' is not a finite number", alphas[k]);
        ck_assert_msg(said("err", want), "message for alpha '%s' does not quote it", alphas[k]);
    }
}
END_TEST

/* ---- code execution through plot file names ---- */

START_TEST(plot_file_names_are_data_not_script)
{
    char gp[512];
    if (hk_cli_find_on_path("gnuplot", gp, sizeof gp) != 0) {
        ck_assert_msg(getenv("HK_NO_GNUPLOT") != NULL,
                      "gnuplot is not installed (tools/scripts/deps.sh gate installs gnuplot-nox; HK_NO_GNUPLOT=1 skips)");
        return;
    }
    char a[2048];
    snprintf(a, sizeof a, "dylora demo --steps 2 --out '%s'", T("ad.safetensors"));
    ck_assert_int_eq(hk(a), 0);
    /* a gnuplot string break-out in the adapter's name and in the PNG's name */
    /* the old script pasted the adapter's name between double quotes and the PNG's between single ones */
    const char *evil = "x\";system \"touch PWNED\";print \"", *evil1 = "o';system 'touch PWNED2';print '";
    char src[1024], dst[1024], png[1024];
    snprintf(src, sizeof src, "%s/%s.safetensors", tmp, evil);
    snprintf(png, sizeof png, "%s/%s.png", tmp, evil1);
    snprintf(dst, sizeof dst, "%s/ad.safetensors", tmp);
    unsigned char *b;
    size_t n;
    hk_assert_ok(hk_file_read(dst, 1u << 24, &b, &n));
    hk_assert_ok(hk_file_write_atomic(src, b, n));
    free(b);
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(tmp) != 0) _exit(3);
        int dn = open("/dev/null", O_WRONLY);
        dup2(dn, 1);
        dup2(dn, 2);
        execl(hkref_bin(), "hkref", "dylora", "spectrum", src, "--png", png, (char *)NULL);
        _exit(127);
    }
    ck_assert_int_gt(pid, 0);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(access(T("PWNED"), F_OK) != 0 && access(T("PWNED2"), F_OK) != 0,
                  "a file name ran a gnuplot system() command");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "dylora spectrum --png failed (status %d)", st);
    ck_assert_msg(access(png, F_OK) == 0, "the PNG with the odd name was not written");
    /* the training curve: OUT itself holds the break-out (the old script used single quotes) */
    char out[1024];
    snprintf(out, sizeof out, "%s/%s", tmp, evil1);
    ck_assert_int_eq(mkdir(out, 0777), 0);
    char tsv[1100];
    snprintf(tsv, sizeof tsv, "%s/curve.tsv", out);
    const char *curve = "# epoch\tstep\ttrain_loss\tdev_acc\n1\t10\t0.69\t0.5\n2\t20\t0.6\t0.6\n";
    hk_assert_ok(hk_file_write_atomic(tsv, curve, strlen(curve)));
    char cwd[1024];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(tmp), 0);
    int rc = hk_cli_plot_curve(out, 1);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(access(T("PWNED2"), F_OK) != 0, "the training plot ran a command from OUT's name");
    snprintf(tsv, sizeof tsv, "%s/curve.png", out);
    ck_assert_int_eq(access(tsv, F_OK), 0);
}
END_TEST

/* ---- devices, FIFOs, modes ---- */

START_TEST(atomic_writer_never_replaces_a_device_fifo_or_link)
{
    ck_assert_int_eq(mkfifo(T("fifo"), 0600), 0);
    hk_assert_fails(hk_file_write_atomic(T("fifo"), "x", 1), HK_EIO, "a FIFO");
    struct stat sb;
    ck_assert_int_eq(lstat(T("fifo"), &sb), 0);
    ck_assert(S_ISFIFO(sb.st_mode));
    ck_assert_int_eq(symlink("/etc/hostname", T("link")), 0);
    hk_assert_fails(hk_file_write_atomic(T("link"), "x", 1), HK_EIO, "symbolic link");
    ck_assert_int_eq(lstat(T("link"), &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    /* A character device: a /dev/full node of our own where we may make one (root; never the
     * system's nodes, which an unfixed writer would replace), else /dev/full itself (not root:
     * /dev cannot be written, but the old CLI printed "pass" beside exit 2). */
    char dev[600], a[1024];
    snprintf(dev, sizeof dev, "%s", mknod(T("full"), S_IFCHR | 0666, makedev(1, 7)) == 0 ? T("full") : "/dev/full");
    if (strcmp(dev, "/dev/full") != 0) {
        hk_assert_fails(hk_file_write_atomic(dev, "x", 1), HK_EIO, "character device");
        ck_assert_int_eq(lstat(dev, &sb), 0);
        ck_assert(S_ISCHR(sb.st_mode));
    } else {
        ck_assert_msg(geteuid() != 0, "root could not make a device node in %s", tmp);
    }
    /* the CLI: --json on a device fails, and stdout never says pass beside exit 2 */
    snprintf(a, sizeof a, "golden check --outputs golden --case linear_3x5 --json '%s'", dev);
    ck_assert_int_eq(hk(a), 2);
    ck_assert_msg(!said("out", "-> pass"), "stdout said pass although --json was not written");
    ck_assert_int_eq(lstat(dev, &sb), 0);
    ck_assert_msg(S_ISCHR(sb.st_mode), "--json replaced the device node %s by a regular file", dev);
    /* no temporary left in tmp */
    DIR *d = opendir(tmp);
    struct dirent *e;
    while ((e = readdir(d)))
        ck_assert_msg(!strstr(e->d_name, ".tmp"), "temporary %s left behind", e->d_name);
    closedir(d);
}
END_TEST

/* A FIFO as backend output, golden file or inspect input blocked forever (fopen first). */
START_TEST(fifos_are_errors_not_hangs)
{
    ck_assert_int_eq(mkfifo(T("f.safetensors"), 0600), 0);
    char a[1024];
    snprintf(a, sizeof a, "inspect '%s'", T("f.safetensors"));
    ck_assert_int_eq(hk(a), 2);
    ck_assert(said("err", "not a regular file"));
    ck_assert_int_eq(mkdir(T("o"), 0777), 0);
    ck_assert_int_eq(mkfifo(T("o/linear_3x5to4.safetensors"), 0600), 0);
    snprintf(a, sizeof a, "golden check --outputs '%s' --case linear_3x5", T("o"));
    ck_assert_int_eq(hk(a), 1);
    ck_assert(said("out", "not a regular file"));
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/g/linear' && cp golden/MANIFEST '%s/g/' && mkfifo '%s/g/linear/x.safetensors'",
             tmp, tmp, tmp);
    sh(cmd);
    snprintf(a, sizeof a, "golden check --golden '%s' --outputs '%s' --partial", T("g"), T("o"));
    ck_assert_int_eq(hk(a), 2);
    snprintf(a, sizeof a, "dylora spectrum '%s'", T("f.safetensors"));
    ck_assert_int_eq(hk(a), 2);
    hk_st_file *f = NULL;
    hk_assert_fails(hk_st_read(T("f.safetensors"), &f), HK_EIO, "a FIFO");
}
END_TEST

/* ---- numerics ---- */

START_TEST(layernorm_overflowing_variance_is_an_error)
{
    double w[2] = {1, 1}, b[2] = {0.25, -0.5}, out[2], m, s;
    double big[2] = {1.3e154, -1.3e154}, ok[2] = {9e153, -9e153};
    /* largest deviation that is fine: variance 8.1e307 (finite), out = -+1 + bias */
    hk_assert_ok(hk_layernorm_forward(out, &m, &s, ok, w, b, 1e-5, 1, 2));
    ck_assert_double_eq_tol(out[0], 1.25, 1e-12);
    ck_assert_double_eq_tol(out[1], -1.5, 1e-12);
    hk_assert_fails(hk_layernorm_forward(out, &m, &s, big, w, b, 1e-5, 1, 2), HK_EDOM, "variance overflows");
    double huge[2] = {1.7e308, 1.7e308}; /* the sum overflows before the mean */
    hk_assert_fails(hk_layernorm_forward(out, &m, &s, huge, w, b, 1e-5, 1, 2), HK_EDOM, "mean overflows");
}
END_TEST

/* ---- temporaries of an interrupted run ---- */

START_TEST(sigterm_during_a_write_leaves_no_temporary)
{
    const size_t len = (size_t)64 << 20;
    int caught = 0;
    for (int attempt = 0; attempt < 6 && !caught; attempt++) {
        char dir[600];
        snprintf(dir, sizeof dir, "%s/w%d", tmp, attempt);
        ck_assert_int_eq(mkdir(dir, 0777), 0);
        pid_t pid = fork();
        if (pid == 0) {
            char *buf = calloc(len, 1);
            char p[700];
            snprintf(p, sizeof p, "%s/big.bin", dir);
            signal(SIGTERM, SIG_DFL); /* as in a fresh hkref process (Check's runner has its own handler) */
            hk_file_cleanup_on_signals();
            for (int i = 0; i < 10 && buf; i++) hk_file_write_atomic(p, buf, len);
            _exit(0);
        }
        ck_assert_int_gt(pid, 0); /* never kill(-1, ...) */
        /* wait for the temporary to appear, then SIGTERM */
        int seen = 0;
        for (int i = 0; i < 20000 && !seen; i++) {
            DIR *d = opendir(dir);
            struct dirent *e;
            while (d && (e = readdir(d)))
                if (strstr(e->d_name, ".tmp")) seen = 1;
            if (d) closedir(d);
            if (!seen) usleep(200);
        }
        if (seen && pid > 0) kill(pid, SIGTERM);
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        if (!seen || !WIFSIGNALED(st)) continue;
        caught = 1;
        ck_assert_int_eq(WTERMSIG(st), SIGTERM);
        DIR *d = opendir(dir);
        struct dirent *e;
        while ((e = readdir(d)))
            ck_assert_msg(!strstr(e->d_name, ".tmp"), "SIGTERM left %s behind", e->d_name);
        closedir(d);
    }
    ck_assert_msg(caught, "never caught the writer mid-write");
    /* what kill -9 leaves: ignored by the checker, removed by the next generate */
    long n;
    hk_assert_ok(hk_golden_generate(T("g"), "linear_3x5", NULL, &n));
    const char *stale = T("g/linear/linear_3x5to4.safetensors.tmpAb12Cd");
    hk_assert_ok(hk_file_write_atomic(stale, "junk", 4));
    write_outputs_from(T("g/linear/linear_3x5to4.safetensors"), "linear_3x5to4");
    char a[1024];
    snprintf(a, sizeof a, "golden check --golden '%s' --outputs '%s' --partial", T("g"), T("out"));
    ck_assert_int_eq(hk(a), 0);
    hk_assert_ok(hk_golden_generate(T("g"), "linear_3x5", NULL, &n));
    ck_assert_msg(access(stale, F_OK) != 0, "generate did not remove a stale temporary");
}
END_TEST

/* Found while writing the verdict oracle: a golden tensor marked exact but F64 failed every
 * backend; an inf reference agreed with an inf output.  Both are malformed golden files. */
START_TEST(golden_file_exact_float_or_infinite_reference_is_refused)
{
    hk_st_file *g;
    hk_assert_ok(hk_st_read("golden/linear/linear_3x5to4.safetensors", &g));
    hk_st_file *own;
    hk_assert_ok(hk_st_new(&own));
    for (size_t i = 0; i < g->ntensors; i++)
        if (!strncmp(g->tensors[i].name, "out.", 4) || !strncmp(g->tensors[i].name, "grad.", 5))
            hk_assert_ok(hk_st_add(own, g->tensors[i].name, g->tensors[i].dtype, g->tensors[i].ndim,
                                   g->tensors[i].shape, g->tensors[i].data));
    hk_golden_result *r = malloc(sizeof *r);
    hk_assert_ok(hk_golden_check_case(g, own, HK_GOLDEN_F64, NULL, r));
    ck_assert_int_eq(r->failed_tensors, 0);
    json_t *tol = json_loads(hk_st_get_meta(g, "tolerance"), 0, NULL);
    json_object_set_new(json_object_get(tol, "out.y"), "exact", json_true());
    char *js = json_dumps(tol, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    hk_st_file *g2;
    hk_assert_ok(hk_st_new(&g2));
    for (size_t i = 0; i < g->ntensors; i++)
        hk_assert_ok(hk_st_add(g2, g->tensors[i].name, g->tensors[i].dtype, g->tensors[i].ndim, g->tensors[i].shape,
                               g->tensors[i].data));
    for (size_t i = 0; i < g->nmeta; i++) hk_assert_ok(hk_st_set_meta(g2, g->meta[i].key, g->meta[i].value));
    hk_assert_ok(hk_st_set_meta(g2, "tolerance", js));
    hk_assert_fails(hk_golden_check_case(g2, own, HK_GOLDEN_F64, NULL, r), HK_EFORMAT, "exact");
    free(js);
    json_decref(tol);
    hk_st_free(g2);
    /* an infinite reference element, and the same inf in the output */
    for (size_t i = 0; i < g->ntensors; i++)
        if (!strcmp(g->tensors[i].name, "out.y")) ((double *)g->tensors[i].data)[0] = INFINITY;
    for (size_t i = 0; i < own->ntensors; i++)
        if (!strcmp(own->tensors[i].name, "out.y")) ((double *)own->tensors[i].data)[0] = INFINITY;
    hk_assert_fails(hk_golden_check_case(g, own, HK_GOLDEN_F64, NULL, r), HK_EFORMAT, "not finite");
    free(r);
    hk_st_free(own);
    hk_st_free(g);
}
END_TEST

/* A 1 KB model file whose metadata says C = 16384, F = 65536 made the loader
 * allocate gigabytes before it looked for the tensors. */
START_TEST(model_dims_must_be_backed_by_its_tensors)
{
    const long N = 4, Tn = 3;
    int32_t ids[12] = {0}, len[4] = {3, 3, 3, 3};
    int64_t lab[4] = {0, 1, 0, 1};
    hk_st_file *f;
    hk_assert_ok(hk_st_new(&f));
    long s2[2] = {N, Tn}, s1[1] = {N};
    const char *sp[3] = {"train", "dev", "test"};
    for (int k = 0; k < 3; k++) {
        char n[32];
        snprintf(n, sizeof n, "%s.ids", sp[k]);
        hk_assert_ok(hk_st_add(f, n, HK_ST_I32, 2, s2, ids));
        snprintf(n, sizeof n, "%s.len", sp[k]);
        hk_assert_ok(hk_st_add(f, n, HK_ST_I32, 1, s1, len));
        snprintf(n, sizeof n, "%s.label", sp[k]);
        hk_assert_ok(hk_st_add(f, n, HK_ST_I64, 1, s1, lab));
    }
    hk_assert_ok(hk_st_set_meta(f, "vocab", "6"));
    mkdir(T("data"), 0777);
    hk_assert_ok(hk_st_write(f, T("data/finetune.safetensors")));
    hk_st_free(f);
    hk_assert_ok(hk_st_new(&f));
    const char *meta[][2] = {{"L", "64"}, {"C", "16384"}, {"NH", "2"}, {"F", "65536"}, {"T", "3"}, {"V", "6"}};
    for (int k = 0; k < 6; k++) hk_assert_ok(hk_st_set_meta(f, meta[k][0], meta[k][1]));
    hk_assert_ok(hk_st_write(f, T("model.safetensors")));
    hk_st_free(f);
    hk_train_opts o;
    hk_train_opts_default(&o, 0);
    char d[600], m[600];
    snprintf(d, sizeof d, "%s", T("data"));
    snprintf(m, sizeof m, "%s", T("model.safetensors"));
    o.data = d, o.init = m, o.batch = 2;
    hk_assert_fails(hk_fast_train_load(&o), HK_EFORMAT, "not backed by its tensors");
}
END_TEST

Suite *suite_hardening(void)
{
    Suite *s = suite_create("hardening");
    TCase *tc = tcase_create("findings");
    tcase_set_timeout(tc, 240);
    tcase_add_checked_fixture(tc, setup_tmp, teardown_tmp);
    tcase_add_test(tc, edited_tolerance_fails_its_case_even_with_a_matching_manifest);
    tcase_add_test(tc, partial_set_is_refused_unless_flagged_and_then_reported_partial);
    tcase_add_test(tc, generate_writes_a_manifest_that_sha256sum_accepts);
    tcase_add_test(tc, backend_file_that_is_the_golden_file_is_refused);
    tcase_add_test(tc, pretrain_with_crafted_vocab_or_lengths_is_an_error);
    tcase_add_test(tc, spectrum_bad_alpha_quotes_live_memory);
    tcase_add_test(tc, plot_file_names_are_data_not_script);
    tcase_add_test(tc, atomic_writer_never_replaces_a_device_fifo_or_link);
    tcase_add_test(tc, fifos_are_errors_not_hangs);
    tcase_add_test(tc, layernorm_overflowing_variance_is_an_error);
    tcase_add_test(tc, sigterm_during_a_write_leaves_no_temporary);
    tcase_add_test(tc, golden_file_exact_float_or_infinite_reference_is_refused);
    tcase_add_test(tc, model_dims_must_be_backed_by_its_tensors);
    suite_add_tcase(s, tc);
    return s;
}
