/* hkref — bad input at the command line: every subcommand, given wrong
 * arguments, missing or malformed files, or an output path it cannot write,
 * must print a clear message naming the subcommand on stderr, exit with
 * status 2 (usage / input error), and leave nothing half-written.
 *
 * One row per case (docs/bad-input.md lists them).  The binary under test
 * is the hkref next to this runner (build/hkref, or the ASan one in the
 * gate's second run).  A row whose subcommand `hkref --help` does not list
 * fails (never skips): a renamed command or a changed --help format must not
 * silently turn rows off.
 * "@T@" in an argument is replaced by a fresh temporary directory holding:
 *   bad.safetensors   12 bytes that are not a safetensors file
 *   file              a regular file (so "@T@/file/x" is an unwritable path)
 *   empty/            an empty directory */
#include "hk_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    const char *sub;         /* subcommand that must exist for the row to run ("" = none) */
    const char *args[8];     /* argv after "hkref"; NULL-terminated */
    int status;              /* expected exit status */
    const char *err_word;    /* stderr must contain this */
    const char *must_not_exist; /* path (with @T@) that must not exist afterwards, or NULL */
} cli_row;

static const cli_row rows[] = {
    {"", {NULL}, 2, "usage: hkref", NULL},
    {"", {"no-such-command", NULL}, 2, "unknown command 'no-such-command'", NULL},
    {"", {"--bogus", NULL}, 2, "unknown command '--bogus'", NULL},
    {"verify", {"verify", "--bogus", NULL}, 2, "hkref verify: unknown option '--bogus'", NULL},
    {"gradcheck", {"gradcheck", "--op", NULL}, 2, "hkref gradcheck: option '--op' needs a value", NULL},
    {"gradcheck", {"gradcheck", "--op", "no-such-op", NULL}, 2, "hkref gradcheck: no gradcheck id contains", NULL},
    {"gradcheck", {"gradcheck", "-x", NULL}, 2, "unknown option '-x'", NULL},
    {"inspect", {"inspect", NULL}, 2, "hkref inspect: missing FILE", NULL},
    {"inspect", {"inspect", "@T@/missing.safetensors", NULL}, 2, "cannot open", NULL},
    {"inspect", {"inspect", "@T@/bad.safetensors", NULL}, 2, "bad.safetensors: not a safetensors file", NULL},
    {"inspect", {"inspect", "@T@/empty", NULL}, 2, "not a regular file", NULL},
    {"inspect", {"inspect", "@T@/bad.safetensors", "@T@/bad.safetensors", NULL}, 2, "at most 1 FILE", NULL},
    {"inspect", {"inspect", "--json", NULL}, 2, "unknown option '--json'", NULL},
    {"golden", {"golden", NULL}, 2, "hkref golden", NULL},
    {"golden", {"golden", "frobnicate", NULL}, 2, "hkref golden", NULL},
    {"golden", {"golden", "generate", "@T@/file/out", NULL}, 2, "hkref golden generate", "@T@/file/out"},
    {"golden", {"golden", "generate", "@T@/out", "--case", NULL}, 2, "hkref golden", "@T@/out"},
    {"golden", {"golden", "check", "--outputs", "@T@/empty", "--golden", "@T@/missing", NULL}, 2, "hkref golden check", NULL},
    {"golden", {"golden", "check", "--outputs", "@T@/empty", "--dtype", "f8", NULL}, 2, "hkref golden", NULL},
    {"golden", {"golden", "check", NULL}, 2, "hkref golden", NULL},
    {"dylora", {"dylora", NULL}, 2, "usage: hkref dylora", NULL},
    {"dylora", {"dylora", "spectrum", NULL}, 2, "missing the adapter FILE", NULL},
    {"dylora", {"dylora", "spectrum", "@T@/missing.safetensors", NULL}, 2, "cannot open", NULL},
    {"dylora", {"dylora", "spectrum", "@T@/bad.safetensors", NULL}, 2, "bad.safetensors: not a safetensors file", NULL},
    {"dylora", {"dylora", "demo", "--steps", "-3", NULL}, 2, "--steps '-3'", NULL},
    {"dylora", {"dylora", "demo", "--seed", "x", NULL}, 2, "--seed 'x'", NULL},
    {"dylora", {"dylora", "demo", "--steps", "1", "--out", "@T@/file/a.safetensors", NULL}, 2,
     "cannot create directory '@T@/file'", "@T@/file/a.safetensors"},
    {"dylora", {"dylora", "demo", "--steps", "99999999999999999999", NULL}, 2, "--steps '9999", NULL},
    {"dylora", {"dylora", "spectrum", "@T@/bad.safetensors", "--alpha", NULL}, 2, "option '--alpha' needs a value", NULL},
    {"golden", {"golden", "generate", "@T@/out", "--case", "no-such-case", NULL}, 2, "no case matches", "@T@/out"},
    {"golden", {"golden", "list", "extra", NULL}, 2, "unexpected argument 'extra'", NULL},
    {"golden", {"golden", "check", "--outputs", "@T@/empty", "--golden", "@T@/file", NULL}, 2, "golden directory", NULL},
    {"presets", {"presets", "no-such-preset", NULL}, 2, "no-such-preset", NULL},
    {"presets", {"presets", "--bogus", NULL}, 2, "unknown option '--bogus'", NULL},
    {"presets", {"presets", "a", "b", NULL}, 2, "hkref presets", NULL},
    {"demo", {"demo", NULL}, 2, "usage: hkref demo", NULL},
    {"demo", {"demo", "frobnicate", NULL}, 2, "unknown subcommand 'frobnicate' (attention)", NULL},
    {"demo", {"demo", "attention", "--p", "1", NULL}, 2, "--p '1'", NULL},
    {"demo", {"demo", "attention", "--keys", "1", NULL}, 2, "--keys '1'", NULL},
    {"demo", {"demo", "attention", "--pattern", "diagonal", NULL}, 2, "--pattern 'diagonal'", NULL},
    {"demo", {"demo", "attention", "--seed", NULL}, 2, "option '--seed' needs a value", NULL},
    {"demo", {"demo", "attention", "--offset", "inf", NULL}, 2, "--offset 'inf'", NULL},
    {"train", {"train", "--preset", "no-such-preset", NULL}, 2, "no-such-preset", NULL},
    {"train", {"train", "--epochs", "0", NULL}, 2, "--epochs '0'", NULL},
    {"train", {"train", "--rate", "1", NULL}, 2, "--rate '1'", NULL},
    {"train", {"train", "--bogus", NULL}, 2, "hkref train: unknown option", NULL},
    {"train", {"train", "--data", "@T@/empty", "--out", "@T@/tr", NULL}, 2, "make data", "@T@/tr/ckpt.safetensors"},
    {"pretrain", {"pretrain", "--dim", "130", "--heads", "4", NULL}, 2, "not divisible", NULL},
    {"pretrain", {"pretrain", "--data", "@T@/empty", "--out", "@T@/file/x", NULL}, 2, "hkref pretrain", NULL},
    {"pretrain", {"pretrain", "--data", "@T@/empty", "--out", "@T@/pt", NULL}, 2, "make data", "@T@/pt/model.safetensors"},
    {"gradcheck", {"gradcheck", "--op", "softmax", "--op", "lora", NULL}, 2, "--op given twice", NULL},
    {"train", {"train", "--set", "logits.pattern=colum", "--out", "@T@/ts", NULL}, 2, "one of: element, column", "@T@/ts"},
    {"train", {"train", "--set", "logits.pattern", "--out", "@T@/ts", NULL}, 2, "expected KEY=VALUE", "@T@/ts"},
    {"train", {"train", "--preset", "hiddenkey-", "--set", "loss=js_eq12", "--out", "@T@/ts", NULL}, 2, "needs passes 2", "@T@/ts"},
};

static char tmpdir[64];

static void subst(char *dst, size_t n, const char *s)
{
    const char *at = strstr(s, "@T@");
    if (at) snprintf(dst, n, "%.*s%s%s", (int)(at - s), s, tmpdir, at + 3);
    else snprintf(dst, n, "%s", s);
}

static void hkref_path(char *exe, size_t n)
{
    ssize_t k = readlink("/proc/self/exe", exe, n - 16);
    ck_assert(k > 0);
    exe[k] = '\0';
    char *slash = strrchr(exe, '/');
    ck_assert_ptr_nonnull(slash);
    strcpy(slash + 1, "hkref");
}

/* Runs hkref with args; stdout discarded, stderr into err; returns exit status. */
static int run_hkref(const char *const *args, char *err, size_t errsz)
{
    char exe[4096], pe[128], argbuf[8][512];
    hkref_path(exe, sizeof exe);
    snprintf(pe, sizeof pe, "%s/.stderr", tmpdir);
    char *argv[10] = {exe};
    int n = 0;
    for (; args[n] && n < 8; n++) {
        subst(argbuf[n], sizeof argbuf[n], args[n]);
        argv[n + 1] = argbuf[n];
    }
    argv[n + 1] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fo = open("/dev/null", O_WRONLY), fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0) _exit(127);
        execv(exe, argv);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "hkref %s ... did not exit normally (signal %d)", args[0] ? args[0] : "",
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    FILE *fp = fopen(pe, "rb");
    ck_assert_ptr_nonnull(fp);
    size_t got = fread(err, 1, errsz - 1, fp);
    err[got] = '\0';
    fclose(fp);
    remove(pe);
    return WEXITSTATUS(status);
}

/* Asserts that `hkref --help` lists subcommand sub ("" = none needed): the
 * help's command lines are "  <name> <summary>", and at least one must parse. */
static void require_subcommand(int row, const char *sub)
{
    if (!sub[0]) return;
    char exe[4096], cmd[4200];
    hkref_path(exe, sizeof exe);
    snprintf(cmd, sizeof cmd, "'%s' --help", exe);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[512];
    int found = 0, commands = 0;
    size_t k = strlen(sub);
    while (fgets(line, sizeof line, p)) {
        if (strncmp(line, "  ", 2) != 0 || line[2] == ' ') continue;
        commands++;
        if (!strncmp(line + 2, sub, k) && line[2 + k] == ' ') found = 1;
    }
    pclose(p);
    ck_assert_msg(commands > 0, "row %d: cannot parse any command line ('  <name> <summary>') in '%s'", row, cmd);
    ck_assert_msg(found, "row %d: '%s' lists no subcommand '%s' (renamed, removed, or --help changed format)", row,
                  cmd, sub);
}

static void setup_tmp(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/hkref-cli-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (strlen(tmpdir) > 40) snprintf(tmpdir, sizeof tmpdir, "/tmp/hkref-cli-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    char p[128];
    snprintf(p, sizeof p, "%s/bad.safetensors", tmpdir);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("not a tensor", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/file", tmpdir);
    f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("x", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/empty", tmpdir);
    ck_assert_int_eq(mkdir(p, 0700), 0);
}

/* Removes tmpdir recursively (two levels suffice: nothing here nests deeper
 * unless a row wrote output it should not have, which fails that row). */
static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (!lstat(p, &st) && S_ISDIR(st.st_mode)) rm_tree(p);
        else remove(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Files in dir besides the fixtures: a leftover temporary is "half-written". */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

START_TEST(cli_bad_input_row)
{
    const cli_row *r = &rows[_i];
    require_subcommand(_i, r->sub);
    setup_tmp();
    int before = count_entries(tmpdir);
    char err[4096];
    int st = run_hkref(r->args, err, sizeof err);
    char shown[512] = "hkref";
    for (int k = 0; r->args[k]; k++) {
        strncat(shown, " ", sizeof shown - strlen(shown) - 1);
        strncat(shown, r->args[k], sizeof shown - strlen(shown) - 1);
    }
    ck_assert_msg(st == r->status, "row %d: %s exited %d, expected %d; stderr: %s", _i, shown, st, r->status, err);
    char word[512]; /* "@T@" in the expected text too */
    subst(word, sizeof word, r->err_word);
    ck_assert_msg(strstr(err, word) != NULL, "row %d: %s: stderr does not contain '%s': %s", _i, shown, word, err);
    if (r->must_not_exist) {
        char p[512];
        subst(p, sizeof p, r->must_not_exist);
        ck_assert_msg(access(p, F_OK) != 0, "row %d: %s left %s behind", _i, shown, p);
    }
    int after = count_entries(tmpdir);
    ck_assert_msg(after == before, "row %d: %s left %d new entries in the working directory", _i, shown, after - before);
    char emp[128];
    snprintf(emp, sizeof emp, "%s/empty", tmpdir);
    ck_assert_msg(count_entries(emp) == 0, "row %d: %s wrote into an input directory", _i, shown);
    rm_tree(tmpdir);
}
END_TEST

/* `hkref demo attention` shows the theorems in numbers: in every row of its
 * k table, the ratio of the two measured Jacobian entries (library
 * backwards) equals k computed from the weights by the closed form
 * 1 - k = w'_u w_M / (1 - w_u) (to the 6 printed decimals); 1 - k > 0 exactly
 * when something is dropped in the row, 1 - k = 0 when nothing is; and the
 * theorem 1 line is within the 30-ulp bound.  Several patterns, p = 0, and
 * logits at +1000 (where exp overflows without max subtraction), and a
 * column mask leaving one kept key (k = 0). */
START_TEST(demo_attention_numbers_agree)
{
    static const char *const cfgs[5] = {"--pattern element --seed 1", "--pattern column --keys 7 --seed 9",
                                        "--pattern span --p 0.5 --offset 1000 --seed 4", "--p 0 --seed 2",
                                        "--pattern column --keys 3 --p 0.6 --seed 5"}; /* last: u only kept, k = 0 */
    char exe[4096], cmd[4400], line[512];
    hkref_path(exe, sizeof exe);
    snprintf(cmd, sizeof cmd, "'%s' demo attention %s", exe, cfgs[_i]);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    int nrows = 0, thm1 = 0;
    while (fgets(line, sizeof line, p)) {
        long q, u, nm;
        double wu, wpu, jdk, jng, ratio, k, omk, ulp;
        if (sscanf(line, " %ld %ld %ld %lf %lf %lf %lf %lf %lf %lf", &q, &u, &nm, &wu, &wpu, &jdk, &jng, &ratio, &k,
                   &omk) == 10) {
            nrows++;
            ck_assert_msg(fabs(ratio - k) <= 2e-6, "%s: ratio %g vs k %g: %s", cfgs[_i], ratio, k, line);
            ck_assert_msg(nm > 0 ? omk > 0.0 && k < 1.0 : omk == 0.0 && k == 1.0, "%s: 1-k: %s", cfgs[_i], line);
            ck_assert_msg(jdk <= jng * (1 + 1e-6), "%s: J^DK_uu > J^NG_uu: %s", cfgs[_i], line);
        }
        if (sscanf(line, "variants have the same forward); max relative difference %lf ulp", &ulp) == 1) {
            thm1 = 1;
            ck_assert_msg(ulp <= 30.0, "%s: theorem 1 %g ulp", cfgs[_i], ulp);
        }
    }
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_msg(nrows > 0 && thm1, "%s: no k table / theorem 1 line", cfgs[_i]);
}
END_TEST

/* `hkref presets` lists the presets of issue 5 / HK §3.3 (+ HiddenCut's
 * official objective and its legacy variant) by name, each with its source
 * and every field: six position lines and the loss line (pass 2's own sites,
 * "  pass2.SITE", are extra lines). */
START_TEST(presets_lists_every_preset_with_its_full_config)
{
    static const char *const names[] = {"lora",      "dropkey", "dropattention", "hiddencut-official", "hiddencut-clean",
                                        "hiddencut", "rdrop",   "hiddenkey-",    "hiddenkey"};
    enum { NP = sizeof names / sizeof names[0] };
    require_subcommand(-1, "presets");
    char exe[4096], cmd[4200], line[512];
    hkref_path(exe, sizeof exe);
    snprintf(cmd, sizeof cmd, "'%s' presets", exe);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    int seen[NP] = {0}, cur = -1, fields[NP] = {0}, sources[NP] = {0};
    static const char *const pos[] = {"  lora ", "  input ", "  logits ", "  weights ", "  hidden ", "  output ",
                                      "  loss "};
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        for (int i = 0; i < NP; i++)
            if (!strcmp(line, names[i])) cur = i, seen[i]++;
        if (cur < 0) continue;
        if (!strncmp(line, "  source: ", 10) && strlen(line) > 20) sources[cur]++;
        for (int k = 0; k < 7; k++) fields[cur] += !strncmp(line, pos[k], strlen(pos[k]));
    }
    ck_assert_int_eq(pclose(p), 0);
    for (int i = 0; i < NP; i++)
        ck_assert_msg(seen[i] == 1 && sources[i] == 1 && fields[i] == 7,
                      "preset %s: listed %d times, %d source lines, %d of 7 field lines", names[i], seen[i], sources[i],
                      fields[i]);
}
END_TEST

Suite *suite_cli(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("Limits");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, cli_bad_input_row, 0, (int)(sizeof rows / sizeof rows[0]));
    tcase_add_loop_test(tc, demo_attention_numbers_agree, 0, 5);
    tcase_add_test(tc, presets_lists_every_preset_with_its_full_config);
    suite_add_tcase(s, tc);
    return s;
}
