/* hkref — how the command line behaves (docs/cli.md), end to end through the
 * built binary (build/hkref next to this runner, or the ASan one): --version,
 * did-you-mean, every --help exits 0, one message shape without C source
 * locations, verify's titles / --list / --check / -k, gradcheck's substring
 * match, demo attention's own logits and mask with CSV / JSON checked against
 * values derived here from the formulas (not copied from the program), output
 * paths (parent directories, non-regular targets, stdout), and the progress
 * line (a terminal vs a log). */
#define _XOPEN_SOURCE 700 /* posix_openpt */
#include "hk_test.h"

#include "checks/checks.h"
#include "cli/cli.h"
#include "ref/rng.h"
#include "ref/tensorfile.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { OUTSZ = 1 << 20 };
static char out[OUTSZ], err[1 << 16];

static void exe_path(char *exe, size_t n)
{
    ssize_t k = readlink("/proc/self/exe", exe, n - 16);
    ck_assert(k > 0);
    exe[k] = '\0';
    char *slash = strrchr(exe, '/');
    ck_assert_ptr_nonnull(slash);
    strcpy(slash + 1, "hkref");
}

static void slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = '\0';
    fclose(f);
}

/* Runs build/hkref with the NULL-terminated args; stdout into out, stderr into err. */
static int run(const char *const *args)
{
    char exe[4096], po[64], pe[64];
    exe_path(exe, sizeof exe);
    snprintf(po, sizeof po, "/tmp/hkref-ux-o-%d", (int)getpid());
    snprintf(pe, sizeof pe, "/tmp/hkref-ux-e-%d", (int)getpid());
    char *argv[40] = {exe};
    int n = 0;
    for (; args[n] && n < 38; n++) argv[n + 1] = (char *)args[n];
    argv[n + 1] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600), fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0) _exit(127);
        execv(exe, argv);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "hkref %s did not exit normally", args[0] ? args[0] : "");
    slurp(po, out, sizeof out);
    slurp(pe, err, sizeof err);
    unlink(po);
    unlink(pe);
    return WEXITSTATUS(status);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

START_TEST(version_names_the_version_file_and_the_commit)
{
    ck_assert_int_eq(run(ARGS("--version")), 0);
    char v[64] = "";
    FILE *f = fopen("VERSION", "r"); /* the runner runs from the repository root */
    if (f) {
        if (!fgets(v, sizeof v, f)) v[0] = '\0';
        fclose(f);
        v[strcspn(v, "\n")] = '\0';
    }
    char want[128];
    snprintf(want, sizeof want, "hkref %s (git ", v[0] ? v : "");
    ck_assert_msg(!strncmp(out, want, strlen(want)), "--version printed '%s', expected it to start '%s'", out, want);
    ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(unknown_command_gets_a_did_you_mean)
{
    ck_assert_int_eq(run(ARGS("verfy")), 2);
    ck_assert_str_eq(err, "hkref: unknown command 'verfy' (did you mean 'verify'?); see 'hkref --help'\n");
    ck_assert_int_eq(run(ARGS("gradchek", "--op", "softmax")), 2);
    ck_assert_msg(strstr(err, "did you mean 'gradcheck'?"), "%s", err);
    ck_assert_int_eq(run(ARGS("frobnicate")), 2);
    ck_assert_str_eq(err, "hkref: unknown command 'frobnicate'; see 'hkref --help'\n");
    ck_assert_str_eq(out, "");
}
END_TEST

/* Every command `hkref --help` lists, and every subcommand, answers --help
 * with its usage on stdout and exit 0 — also with other arguments around. */
START_TEST(every_help_exits_zero)
{
    ck_assert_int_eq(run(ARGS("--help")), 0);
    static char list[OUTSZ];
    memcpy(list, out, sizeof list);
    int ncmd = 0;
    for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
        char name[64];
        if (strncmp(line, "  ", 2) != 0 || line[2] == ' ' || line[2] == '-' || sscanf(line, " %63s", name) != 1)
            continue;
        ncmd++;
        ck_assert_msg(run(ARGS(name, "--help")) == 0, "hkref %s --help exited non-zero: %s", name, err);
        ck_assert_msg(!strncmp(out, "usage: hkref", 12), "hkref %s --help: no usage on stdout: %.80s", name, out);
        ck_assert_msg(run(ARGS(name, "-h")) == 0, "hkref %s -h exited non-zero", name);
    }
    ck_assert_int_ge(ncmd, 9);
    static const char *const subs[][4] = {
        {"golden", "list", "--help"},          {"golden", "list", "extra", "--help"},
        {"golden", "check", "--help"},         {"golden", "generate", "--case", "--help"},
        {"dylora", "spectrum", "--help"},      {"dylora", "demo", "--steps", "x"},
        {"demo", "attention", "--bogus"},      {"verify", "--check", "nope"},
        {"gradcheck", "--op", "nope"},         {"presets", "no-such-preset"},
        {"inspect", "missing.safetensors"}};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        const char *a[6] = {subs[i][0], subs[i][1], subs[i][2], subs[i][3], NULL, NULL};
        int last = 0;
        while (last < 4 && subs[i][last]) last++;
        if (strcmp(a[last - 1], "--help") != 0) a[last] = "--help"; /* an error-to-be, then --help */
        ck_assert_msg(run(a) == 0, "hkref %s %s %s ... --help exited non-zero: %s", a[0], a[1], a[2] ? a[2] : "", err);
        ck_assert_msg(!strncmp(out, "usage: hkref", 12), "hkref %s %s --help: no usage: %.80s", a[0], a[1], out);
    }
}
END_TEST

/* Bad invocations of the commands built on the one parser: exit 2 and one
 * line on stderr, "hkref CMD: what is wrong; see 'hkref CMD --help'". */
static const struct {
    const char *cmd, *args[6], *says;
} shape_rows[] = {
    {"verify", {"verify", "--bogus"}, "unknown option '--bogus'"},
    {"verify", {"verify", "--lst"}, "unknown option '--lst' (did you mean '--list'?)"},
    {"verify", {"verify", "--check"}, "option '--check' needs a value (ID)"},
    {"verify", {"verify", "--check", "a", "--check", "b"}, "--check given twice"},
    {"verify", {"verify", "--check", "attndrop.thm1.forwrd"}, "did you mean 'attndrop.thm1.forward'?"},
    {"verify", {"verify", "-k", "no-such-text"}, "no check's id or title contains 'no-such-text'"},
    {"verify", {"verify", "--group", "theorems"}, "(did you mean 'theorem'?)"},
    {"verify", {"verify", "--check", "softmax", "-k", "dropkey"}, "check 'softmax' does not match -k 'dropkey'"},
    {"gradcheck", {"gradcheck", "--op=sofmax"}, "no gradcheck id contains 'sofmax' (did you mean 'softmax'?)"},
    {"gradcheck", {"gradcheck", "--op", "hidencut"}, "did you mean 'hiddencut."},
    {"gradcheck", {"gradcheck", "--op", "zzzz"}, "no gradcheck id contains 'zzzz'"},
    {"gradcheck", {"gradcheck", "-v=1"}, "unknown option '-v=1'"},
    {"presets", {"presets", "hidenkey"}, "unknown preset 'hidenkey' (did you mean 'hiddenkey'?"},
    {"presets", {"presets", "a", "b"}, "unexpected argument 'b'"},
    {"demo attention", {"demo", "attention", "--seed"}, "option '--seed' needs a value (S)"},
    {"demo attention", {"demo", "attention", "--seed", "--p", "0.3"}, "option '--seed' needs a value (S)"},
    {"demo attention", {"demo", "attention", "--p=1"}, "--p '1': expected a number in [0, 1)"},
    {"demo attention", {"demo", "attention", "--pattern", "colum"}, "(did you mean 'column'?)"},
    {"demo attention", {"demo", "attention", "--logits", "1,x"}, "--logits: entry 2 'x' is not a finite number"},
    {"demo attention", {"demo", "attention", "--logits", "1,2,3", "--mask", "0,1"}, "one mask entry per logit"},
    {"demo attention", {"demo", "attention", "--mask", "0,2,0"}, "--mask: entry 2 is 2"},
    {"demo attention", {"demo", "attention", "--mask", "0,1", "--pattern", "span"}, "a given mask has no pattern"},
    {"demo attention", {"demo", "attention", "--logits", "1"}, "a demo takes 1..8 queries of 2..12 keys"},
    {"demo attention", {"demo", "attention", "--keys", "3", "--logits", "1,2,3,4"}, "not a multiple of --keys 3"},
    {"demo attention", {"demo", "attention", "--csv", "-", "--json", "-"}, "would both write to stdout"},
    {"demo", {"demo", "atention"}, "unknown subcommand 'atention' (attention; did you mean 'attention'?)"},
    {"train", {"train", "--seed"}, "option '--seed' needs a value (S)"},
    {"train", {"train", "--seed", "--dylora"}, "option '--seed' needs a value (S)"},
    {"train", {"train", "--epochs=0"}, "--epochs '0': expected an integer in [1, 1000]"},
    {"train", {"train", "--preset=hiddenky"}, "unknown preset 'hiddenky' (did you mean 'hiddenkey'? presets: lora,"},
    {"train", {"train", "--presets", "lora"}, "unknown option '--presets' (did you mean '--preset'?)"},
    {"train", {"train", "--set", "logits.pattern=colum"}, "unknown value 'colum' (one of: element, column, span, "
                                                          "span_importance) (did you mean 'column'?)"},
    {"train", {"train", "--set", "logits.patern=column"}, "unknown field 'patern' (p, pattern, rescale) (did you mean "
                                                          "'pattern'?)"},
    {"pretrain", {"pretrain", "--dylora"}, "unknown option '--dylora'"},
    {"pretrain", {"pretrain", "--dim=130", "--heads=4"}, "--dim 130 is not divisible by --heads 4"},
    {"dylora spectrum", {"dylora", "spectrum", "--png"}, "option '--png' needs a value (OUT)"},
    {"dylora spectrum", {"dylora", "spectrum", "a", "b"}, "unexpected argument 'b': at most 1 FILE"},
    {"dylora demo", {"dylora", "demo", "--steps=-1"}, "--steps '-1': expected an integer in [0, "},
    {"dylora demo", {"dylora", "demo", "--sed", "1"}, "unknown option '--sed' (did you mean '--seed'?)"},
    {"inspect", {"inspect", "a", "b"}, "unexpected argument 'b': at most 1 FILE"},
};

START_TEST(one_message_shape)
{
    const char *const *a = shape_rows[_i].args;
    const char *cmd = shape_rows[_i].cmd;
    ck_assert_int_eq(run(a), 2);
    char head[96], tail[128];
    snprintf(head, sizeof head, "hkref %s: ", cmd);
    snprintf(tail, sizeof tail, "; see 'hkref %s --help'\n", cmd);
    size_t n = strlen(err), t = strlen(tail);
    ck_assert_msg(!strncmp(err, head, strlen(head)), "row %d: does not start '%s': %s", _i, head, err);
    ck_assert_msg(n > t && !strcmp(err + n - t, tail), "row %d: does not end with the one hint: %s", _i, err);
    ck_assert_msg(strchr(err, '\n') == err + n - 1, "row %d: more than one line: %s", _i, err);
    ck_assert_msg(strstr(err, shape_rows[_i].says), "row %d: does not say '%s': %s", _i, shape_rows[_i].says, err);
    ck_assert_msg(!strstr(err, ".c:"), "row %d: a C source location: %s", _i, err);
    ck_assert_msg(out[0] == '\0', "row %d: printed on stdout: %.80s", _i, out);
}
END_TEST

/* ref/'s messages carry "file.c:line: "; users see the message alone, --debug
 * (or HKREF_DEBUG=1) restores the location. */
START_TEST(no_source_locations_unless_debug)
{
    char path[] = "/tmp/hkref-ux-bad-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "\x10\0\0\0\0\0\0\0{\"a\": 1}        ", 24), 24);
    close(fd);
    ck_assert_int_eq(run(ARGS("inspect", path)), 2);
    ck_assert_msg(strstr(err, path) && !strstr(err, ".c:"), "location shown or file not named: %s", err);
    ck_assert_int_eq(run(ARGS("--debug", "inspect", path)), 2);
    ck_assert_msg(strstr(err, "tensorfile.c:"), "--debug dropped the location: %s", err);
    unlink(path);
    /* the stripper on its own: every location at a message boundary goes, other text stays */
    char buf[256];
    hk_cli_strip_locations(buf, sizeof buf, "check_dir.c:108: backend file x: tensorfile.c:583: bad (a.c:1: b) c.c:x:");
    ck_assert_str_eq(buf, "backend file x: bad (b) c.c:x:");
}
END_TEST

START_TEST(every_check_has_a_title_and_a_unique_id)
{
    size_t n = hk_checks_count();
    for (size_t i = 0; i < n; i++) {
        const hk_check *c = hk_checks_get(i);
        ck_assert_msg(c->title && strlen(c->title) >= 10, "check %s has no title (add one: tools/checks/checks.h)",
                      c->name);
        ck_assert_msg(strlen(c->title) <= 110, "check %s: title longer than 110 characters", c->name);
        ck_assert_msg(strcmp(c->title, c->name) != 0 && strcmp(c->title, c->what) != 0,
                      "check %s: the title repeats the id or the description", c->name);
        for (size_t k = 0; k < i; k++) ck_assert_msg(strcmp(c->name, hk_checks_get(k)->name) != 0, "id %s twice", c->name);
    }
}
END_TEST

START_TEST(verify_list_check_and_k)
{
    ck_assert_int_eq(run(ARGS("verify", "--list")), 0);
    char want[64];
    snprintf(want, sizeof want, "\n%zu checks\n", hk_checks_count());
    ck_assert_msg(strstr(out, want), "--list does not end with the registry count '%s'", want + 1);
    for (size_t i = 0; i < hk_checks_count(); i++) {
        const hk_check *c = hk_checks_get(i);
        ck_assert_msg(c->title != NULL, "check %s has no title", c->name);
        char line[512];
        snprintf(line, sizeof line, "  %s ", c->name);
        const char *at = strstr(out, line);
        ck_assert_msg(at, "--list does not list %s", c->name);
        const char *eol = strchr(at, '\n');
        ck_assert_msg(eol && strstr(at, c->title) && strstr(at, c->title) < eol, "--list: %s without its title",
                      c->name);
    }
    ck_assert_msg(strstr(out, "theorem: ") && strstr(out, "gradcheck: ") && strstr(out, "golden: "),
                  "--list has no group headings");

    ck_assert_int_eq(run(ARGS("verify", "--check", "attndrop.thm1.forward")), 0);
    ck_assert_msg(strstr(out, "1 checks run, 0 failed") && strstr(out, "registered checks, 1 selected"), "%s", out);
    ck_assert_msg(strstr(out, "DropKey equals normalized DropAttention in the forward pass"), "no title: %s", out);

    ck_assert_int_eq(run(ARGS("verify", "-k", "DROPKEY", "--group", "gradcheck")), 0);
    long nrun = 0;
    size_t expect = 0;
    for (size_t i = 0; i < hk_checks_count(); i++) {
        const hk_check *c = hk_checks_get(i);
        hk_check_filter f = {.group = "gradcheck", .substr = "dropkey"};
        expect += (size_t)hk_check_matches(c, &f);
        int in_id = strstr(c->name, "dropkey") != NULL, in_title = c->title && strstr(c->title, "DropKey") != NULL;
        char row[256];
        snprintf(row, sizeof row, "\n%s ", c->name);
        int shown = strstr(out, row) != NULL;
        ck_assert_msg(shown == (!strcmp(c->group, "gradcheck") && (in_id || in_title)),
                      "-k DROPKEY --group gradcheck: %s %s", c->name, shown ? "shown" : "missing");
    }
    const char *s = strstr(out, " checks run, 0 failed");
    ck_assert_ptr_nonnull(s);
    while (s > out && s[-1] != '\n') s--;
    nrun = strtol(s, NULL, 10);
    ck_assert_int_ge(nrun, 10);
    ck_assert_int_eq(nrun, (long)expect);
}
END_TEST

START_TEST(gradcheck_matches_substrings_of_ids)
{
    ck_assert_int_eq(run(ARGS("gradcheck", "--op", "dropkey")), 0);
    long want = 0;
    for (size_t i = 0; i < hk_checks_count(); i++) {
        const hk_check *c = hk_checks_get(i);
        int sel = !strcmp(c->group, "gradcheck") && strstr(c->name, "dropkey");
        want += sel;
        char row[256];
        snprintf(row, sizeof row, "\n%s ", c->name);
        ck_assert_msg((strstr(out, row) != NULL) == sel, "--op dropkey: %s", c->name);
    }
    char tail[64];
    snprintf(tail, sizeof tail, "\n%ld checks run, 0 failed\n", want);
    ck_assert_msg(want >= 9 && strstr(out, tail), "--op dropkey ran other than the %ld dropkey checks: %s", want, out);
}
END_TEST

/* Reads a demo CSV row (q, key) into the named columns. */
typedef struct {
    double g, drop, w[5], k, omk, jdk, jng, ratio, focus, rdk, rng, leak;
} csv_row;

static int csv_rows(const char *text, csv_row *rows, int max)
{
    int n = 0;
    const char *p = text;
    ck_assert_msg(!strncmp(p, "# hkref demo attention ", 23), "CSV does not start with the command: %.60s", p);
    p = strchr(p, '\n') + 1;
    ck_assert_msg(!strncmp(p, "q,key,logit,dropped,w_none,w_dropkey,w_classic,w_norm_nograd,w_norm,k,one_minus_k,", 82),
                  "CSV header: %.120s", p);
    p = strchr(p, '\n') + 1;
    while (*p && n < max) {
        csv_row *r = &rows[n];
        double q, key;
        int got = sscanf(p, "%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &q, &key, &r->g,
                         &r->drop, &r->w[0], &r->w[1], &r->w[2], &r->w[3], &r->w[4], &r->k, &r->omk, &r->jdk, &r->jng,
                         &r->ratio, &r->focus, &r->rdk, &r->rng, &r->leak);
        ck_assert_msg(got == 18, "CSV line %d has %d of 18 columns: %.100s", n, got, p);
        n++;
        p = strchr(p, '\n');
        if (!p) break;
        p++;
    }
    return n;
}

/* logits (1, 2, 0.5, 3), key 3 dropped: the numbers below come from exp()
 * and the closed forms of proofs/dropkey_dropattention.md, not from hkref. */
START_TEST(demo_attention_own_logits_and_mask)
{
    const double g[4] = {1, 2, 0.5, 3};
    double S = 0, SK = 0, w[4], wp[4];
    for (int j = 0; j < 4; j++) S += exp(g[j]), SK += j < 3 ? exp(g[j]) : 0;
    for (int j = 0; j < 4; j++) w[j] = exp(g[j]) / S, wp[j] = j < 3 ? exp(g[j]) / SK : 0.0;
    ck_assert_int_eq(run(ARGS("demo", "attention", "--logits", "1,2,0.5,3", "--mask", "0,0,0,1", "--p", "0.25",
                              "--csv", "-")),
                     0);
    csv_row r[8];
    ck_assert_int_eq(csv_rows(out, r, 8), 4);
    const double tol = 64 * DBL_EPSILON;
    for (int j = 0; j < 4; j++) {
        ck_assert(r[j].g == g[j] && r[j].drop == (j == 3));
        ck_assert_msg(fabs(r[j].w[0] - w[j]) <= tol * w[j], "w_none[%d] %.17g vs %.17g", j, r[j].w[0], w[j]);
        ck_assert_msg(fabs(r[j].w[1] - wp[j]) <= tol * (wp[j] + 1e-300), "w_dropkey[%d]", j);
        ck_assert_msg(fabs(r[j].w[2] - (j < 3 ? w[j] / 0.75 : 0)) <= tol, "w_classic[%d] = w m/(1-p)", j);
        ck_assert_msg(fabs(r[j].w[3] - wp[j]) <= tol && fabs(r[j].w[4] - wp[j]) <= tol, "normalized[%d]", j);
        if (j < 3) { /* kept: k = (1 - w'_u)/(1 - w_u); J^DK_uu = w'_u (1 - w'_u); J^NG_uu = w'_u (1 - w_u) */
            double k = (1 - wp[j]) / (1 - w[j]);
            ck_assert_msg(fabs(r[j].k - k) <= tol && fabs(r[j].omk - (1 - k)) <= tol, "k[%d] %.17g vs %.17g", j, r[j].k, k);
            ck_assert_msg(fabs(r[j].jdk - wp[j] * (1 - wp[j])) <= tol, "J^DK[%d]", j);
            ck_assert_msg(fabs(r[j].jng - wp[j] * (1 - w[j])) <= tol, "J^NG[%d]", j);
            ck_assert_msg(fabs(r[j].ratio - k) <= tol, "ratio[%d]", j);
            ck_assert(isnan(r[j].leak));
        } else {
            ck_assert(isnan(r[j].k) && isnan(r[j].jdk));
        }
        /* the focus unit is the kept key of largest weight: key 1 (logit 2) */
        ck_assert(r[j].focus == 1);
        double drow = j == 3 ? 0.0 : j == 1 ? wp[1] * (1 - wp[1]) : -wp[1] * wp[j];
        double nrow = j == 3 ? -wp[1] * w[3] : j == 1 ? wp[1] * (1 - w[1]) : -wp[1] * w[j];
        ck_assert_msg(fabs(r[j].rdk - drow) <= tol && fabs(r[j].rng - nrow) <= tol, "Jacobian row of u*=1 at key %d", j);
    }
    ck_assert_msg(r[3].rdk == 0.0, "DropKey sends no gradient to the dropped logit");
    ck_assert_msg(fabs(r[3].leak - (-wp[1] * w[3])) <= tol, "NoGrad leak formula");
    ck_assert_msg(!strstr(out, "theorem 1"), "--csv - printed the report on stdout");

    /* the JSON records every option; the report names the written file */
    char dir[] = "/tmp/hkref-ux-XXXXXX", json[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(json, sizeof json, "%s/a/b/demo.json", dir);
    ck_assert_int_eq(run(ARGS("demo", "attention", "--seed", "9", "--pattern", "column", "--keys", "6", "--json", json)),
                     0);
    char tail[300];
    snprintf(tail, sizeof tail, "wrote %s\n", json);
    ck_assert_msg(strlen(out) > strlen(tail) && !strcmp(out + strlen(out) - strlen(tail), tail),
                  "the run does not end with the path it wrote");
    json_error_t je;
    json_t *root = json_load_file(json, 0, &je);
    ck_assert_msg(root != NULL, "%s: %s", json, je.text);
    json_t *o = json_object_get(root, "options");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "seed")), 9);
    ck_assert_str_eq(json_string_value(json_object_get(o, "pattern")), "column");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "keys")), 6);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "queries")), 3);
    ck_assert(json_real_value(json_object_get(o, "p")) == 0.4);
    ck_assert_msg(strstr(json_string_value(json_object_get(root, "command")), "--seed 9 --pattern column"), "command");
    json_t *wk = json_object_get(json_object_get(root, "weights"), "dropkey");
    ck_assert_int_eq(json_array_size(wk), 3);
    ck_assert_int_eq(json_array_size(json_array_get(wk, 0)), 6);
    for (size_t q = 0; q < 3; q++) { /* DropKey rows sum to 1 */
        double s = 0;
        for (size_t k = 0; k < 6; k++) s += json_real_value(json_array_get(json_array_get(wk, q), k));
        ck_assert_msg(fabs(s - 1) <= 16 * DBL_EPSILON, "row %zu sums to %.17g", q, s);
    }
    json_decref(root);
    /* replaying the recorded command gives the same file */
    static char saved[1 << 16];
    slurp(json, saved, sizeof saved);
    ck_assert_int_eq(run(ARGS("demo", "attention", "--seed", "9", "--pattern", "column", "--keys", "6", "--json", "-")),
                     0);
    size_t ls = strlen(saved);
    ck_assert_msg(ls > 100 && !strncmp(out, saved, ls) && !strcmp(out + ls, "\n"), "--json - differs from --json FILE");
    unlink(json);
    snprintf(json, sizeof json, "%s/a/b", dir);
    rmdir(json);
    snprintf(json, sizeof json, "%s/a", dir);
    rmdir(json);
    rmdir(dir);
}
END_TEST

START_TEST(output_paths)
{
    char dir[] = "/tmp/hkref-ux-XXXXXX", p[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    /* refused before any work: a FIFO (as /dev/null would be: a node, not a file; never
     * tried on the real /dev/null, which a broken build running as root would replace),
     * a directory, a symbolic link */
    snprintf(p, sizeof p, "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    ck_assert_int_eq(run(ARGS("demo", "attention", "--csv", p)), 2);
    ck_assert_msg(strstr(err, "fifo is not a regular file; refusing to replace it") && out[0] == '\0', "%s", err);
    unlink(p);
    ck_assert_int_eq(run(ARGS("demo", "attention", "--json", dir)), 2);
    ck_assert_msg(strstr(err, "is not a regular file"), "%s", err);
    snprintf(p, sizeof p, "%s/link", dir);
    ck_assert_int_eq(symlink("elsewhere", p), 0);
    ck_assert_int_eq(run(ARGS("demo", "attention", "--csv", p)), 2);
    ck_assert_msg(strstr(err, "link is not a regular file"), "%s", err);
    unlink(p);
    /* a parent that is a file */
    snprintf(p, sizeof p, "%s/file", dir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(p, sizeof p, "%s/file/sub/x.csv", dir);
    ck_assert_int_eq(run(ARGS("demo", "attention", "--csv", p)), 2);
    ck_assert_msg(strstr(err, "cannot create directory") && strstr(err, "/file'"), "%s", err);
    /* dylora demo --out: refused before the work when not a regular file (nothing on
     * stdout: the demo did not run); missing parents created */
    ck_assert_int_eq(run(ARGS("dylora", "demo", "--steps=1", "--out", dir)), 2);
    ck_assert_msg(strstr(err, "is not a regular file") && out[0] == '\0', "%s / %.80s", err, out);
    snprintf(p, sizeof p, "%s/d/e/a.safetensors", dir);
    ck_assert_int_eq(run(ARGS("dylora", "demo", "--steps=1", "--out", p)), 0);
    ck_assert_msg(access(p, R_OK) == 0 && strstr(out, "wrote the DyLoRA adapter to "), "%s", out);
    ck_assert_int_eq(run(ARGS("inspect", p)), 0);
    unlink(p);
    snprintf(p, sizeof p, "%s/d/e", dir);
    rmdir(p);
    snprintf(p, sizeof p, "%s/d", dir);
    rmdir(p);
    /* an existing regular file is replaced, and nothing else is left in the directory */
    snprintf(p, sizeof p, "%s/file", dir);
    ck_assert_int_eq(run(ARGS("demo", "attention", "--csv", p)), 0);
    char text[4096];
    slurp(p, text, sizeof text);
    ck_assert_msg(!strncmp(text, "# hkref demo attention", 22), "%.40s", text);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", dir);
    ck_assert_msg(system(cmd) == 0, "a temporary file was left in %s", dir);
    unlink(p);
    rmdir(dir);
}
END_TEST

/* On a terminal the progress line is rewritten in place; in a log it is a
 * plain line at most every `every` seconds (never '\r'). */
START_TEST(progress_terminal_vs_log)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    ck_assert_int_ge(m, 0);
    ck_assert_int_eq(grantpt(m), 0);
    ck_assert_int_eq(unlockpt(m), 0);
    FILE *tty = fopen(ptsname(m), "w");
    ck_assert_ptr_nonnull(tty);
    hk_progress p;
    hk_progress_init(&p, tty, 1e9, 0);
    ck_assert_int_eq(p.tty, 1);
    hk_progress_update(&p, "step %d", 1);
    hk_progress_update(&p, "step %d", 2);
    hk_progress_done(&p);
    fclose(tty);
    char buf[256];
    size_t n = 0;
    for (;;) { /* the writes arrive in pieces; after the slave closed, read ends with EIO */
        ssize_t r = read(m, buf + n, sizeof buf - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    ck_assert_uint_gt(n, 0);
    buf[n] = '\0';
    ck_assert_msg(strstr(buf, "\r\033[Kstep 1\r\033[Kstep 2\r\033[K"), "terminal output: %s", buf);
    close(m);

    char path[] = "/tmp/hkref-ux-log-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *log = fdopen(fd, "w+");
    hk_progress_init(&p, log, 1e9, 0); /* one line per 1e9 s: only the first */
    ck_assert_int_eq(p.tty, 0);
    hk_progress_update(&p, "step %d", 1);
    hk_progress_update(&p, "step %d", 2);
    hk_progress_done(&p);
    hk_progress_init(&p, log, 0.0, 0); /* every update */
    hk_progress_update(&p, "step %d", 3);
    hk_progress_update(&p, "step %d", 4);
    hk_progress_init(&p, log, 0.0, 1); /* quiet */
    hk_progress_update(&p, "step %d", 5);
    fflush(log);
    rewind(log);
    size_t got = fread(buf, 1, sizeof buf - 1, log);
    buf[got] = '\0';
    fclose(log);
    unlink(path);
    ck_assert_str_eq(buf, "step 1\nstep 3\nstep 4\n");
}
END_TEST


/* A file that does not start like a safetensors file (8-byte little-endian
 * header length N with 2 <= N <= 10^8, then '{'; so at least 9 bytes) is
 * "not a safetensors file", one line, no header-length arithmetic; one that
 * does but is cut short keeps the reader's precise message ("truncated"). */
START_TEST(not_a_safetensors_file)
{
    static const char *const want_tail =
        ": not a safetensors file (one starts with 8 bytes giving the size of a JSON header, then the header '{...}')\n";
    char want[512];
    ck_assert_int_eq(run(ARGS("inspect", "README.md")), 2); /* the runner runs from the repository root */
    snprintf(want, sizeof want, "hkref inspect: README.md%s", want_tail);
    ck_assert_str_eq(err, want);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(run(ARGS("dylora", "spectrum", "README.md")), 2);
    snprintf(want, sizeof want, "hkref dylora spectrum: README.md%s", want_tail);
    ck_assert_str_eq(err, want);
    char dir[] = "/tmp/hkref-ux-st-XXXXXX", p[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(p, sizeof p, "%s/f.safetensors", dir);
    /* {bytes, length, is it "not a safetensors file"} */
    static const struct {
        const char *bytes;
        size_t n;
        int foreign;
    } files[] = {
        {"", 0, 1},                                         /* empty */
        {"\x02\0\0\0\0\0\0\0", 8, 1},                       /* 8 bytes: no header at all */
        {"\x02\0\0\0\0\0\0\0{", 9, 0},                      /* N = 2, '{', cut short: truncated */
        {"\x02\0\0\0\0\0\0\0[]", 10, 1},                    /* N = 2 but not '{' */
        {"\x01\0\0\0\0\0\0\0{}", 10, 1},                    /* N = 1 < 2 */
        {"\x01\xe1\xf5\x05\0\0\0\0{}", 10, 1},              /* N = 10^8 + 1 */
        {"\x00\xe1\xf5\x05\0\0\0\0{}", 10, 0},              /* N = 10^8: a safetensors start, truncated */
        {"\x40\0\0\0\0\0\0\0{\"a\":", 13, 0},               /* a header cut short: truncated */
        {"\x02\0\0\0\0\0\0\0{}", 10, -1},                   /* the empty safetensors file: reads fine */
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        FILE *f = fopen(p, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(files[i].bytes, 1, files[i].n, f), files[i].n);
        fclose(f);
        int rc = run(ARGS("inspect", p));
        if (files[i].foreign < 0) {
            ck_assert_msg(rc == 0, "file %zu: exit %d: %s", i, rc, err);
            continue;
        }
        ck_assert_msg(rc == 2, "file %zu: exit %d", i, rc);
        ck_assert_msg(!strstr(err, "not a safetensors file") == !files[i].foreign, "file %zu: %s", i, err);
        ck_assert_msg(files[i].foreign ? !strstr(err, "header length") : !!strstr(err, "truncated"), "file %zu: %s", i,
                      err);
        ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1 && !strstr(err, ".c:"), "file %zu: %s", i, err);
    }
    /* --debug adds the reader's own message (with its location) */
    ck_assert_int_eq(run(ARGS("--debug", "inspect", "README.md")), 2);
    ck_assert_msg(strstr(err, "tensorfile.c:") && strstr(err, "not a safetensors file"), "%s", err);
    unlink(p);
    rmdir(dir);
}
END_TEST

/* The golden checker's per-case problem (a backend file it cannot read) is
 * what a user reads: the path once, the reader's message, no C source
 * location, in the text report and in the JSON one; --debug keeps it. */
START_TEST(golden_problems_without_source_locations)
{
    char dir[] = "/tmp/hkref-ux-gold-XXXXXX", p[128], js[128], want[256];
    static char json[1 << 18];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(p, sizeof p, "%s/softmax_3x7.safetensors", dir);
    snprintf(js, sizeof js, "%s/r.json", dir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("garbage, not a tensor file\n", f);
    fclose(f);
    ck_assert_int_eq(run(ARGS("golden", "check", "--outputs", dir, "--case", "softmax_3x7", "--json", js)), 1);
    snprintf(want, sizeof want, "\n    backend file %s: header length ", p);
    ck_assert_msg(strstr(out, want), "no '%s' in:\n%s", want, out);
    const char *line = strstr(out, want) + 1;
    ck_assert_msg(!strstr(line, ".c:") || strstr(line, ".c:") > strchr(line, '\n'), "a C source location: %.200s", line);
    ck_assert_msg(!strstr(line + strlen(want), p) || strstr(line + strlen(want), p) > strchr(line, '\n'),
                  "the path twice: %.200s", line);
    slurp(js, json, sizeof json);
    snprintf(want, sizeof want, "\"problem\": \"backend file %s: header length ", p);
    ck_assert_msg(strstr(json, want) && !strstr(json, ".c:"), "JSON report: %.400s", json);
    ck_assert_int_eq(run(ARGS("--debug", "golden", "check", "--outputs", dir, "--case", "softmax_3x7")), 1);
    ck_assert_msg(strstr(out, "tensorfile.c:"), "--debug dropped the location:\n%s", out);
    unlink(p);
    unlink(js);
    rmdir(dir);
}
END_TEST

/* `make data`'s two files in miniature (as tests/test_trainfast.c): V = 12
 * tokens, T = 8, label 1 iff token 5 occurs. */
static void tiny_data(const char *dir)
{
    gsl_rng *r = hk_rng_new(3);
    const char *files[2] = {"pretrain", "finetune"}, *splits[3] = {"train", "dev", "test"};
    const long N[3] = {48, 16, 16}, TT = 8;
    for (int k = 0; k < 2; k++) {
        hk_st_file *f;
        hk_assert_ok(hk_st_new(&f));
        for (int sp = 0; sp < 2 + k; sp++) {
            int32_t *ids = calloc((size_t)(N[sp] * TT), 4), *len = calloc((size_t)N[sp], 4);
            int64_t *lab = calloc((size_t)N[sp], 8);
            for (long i = 0; i < N[sp]; i++) {
                len[i] = 2 + (int32_t)gsl_rng_uniform_int(r, TT - 1);
                ids[i * TT] = 2;
                for (long t = 1; t < len[i]; t++) ids[i * TT + t] = 4 + (int32_t)gsl_rng_uniform_int(r, 8);
                for (long t = 1; t < len[i]; t++) lab[i] |= ids[i * TT + t] == 5;
            }
            char n[64];
            long s2[2] = {N[sp], TT}, s1[1] = {N[sp]};
            snprintf(n, sizeof n, "%s.ids", splits[sp]);
            hk_assert_ok(hk_st_add(f, n, HK_ST_I32, 2, s2, ids));
            snprintf(n, sizeof n, "%s.len", splits[sp]);
            hk_assert_ok(hk_st_add(f, n, HK_ST_I32, 1, s1, len));
            snprintf(n, sizeof n, "%s.label", splits[sp]);
            hk_assert_ok(hk_st_add(f, n, HK_ST_I64, 1, s1, lab));
            free(ids), free(len), free(lab);
        }
        hk_assert_ok(hk_st_set_meta(f, "vocab", "12"));
        char p[256];
        snprintf(p, sizeof p, "%s/%s.safetensors", dir, files[k]);
        hk_assert_ok(hk_st_write(f, p));
        hk_st_free(f);
    }
    hk_rng_free(r);
}

/* Every "--name" (lower case) the command's --help mentions is recorded in
 * result.txt as "option name VALUE" (but --out, --resume, --stop-after, --quiet);
 * `want` lists exact lines too. */
static void records_every_option(const char *cmd, const char *result, const char *const *want)
{
    static char help[OUTSZ];
    ck_assert_int_eq(run(ARGS(cmd, "--help")), 0);
    snprintf(help, sizeof help, "%s", out);
    int n = 0;
    for (const char *p = strstr(help, "--"); p; p = strstr(p + 2, "--")) {
        char name[32], line[48];
        if (sscanf(p + 2, "%31[a-z-]", name) != 1 || !strcmp(name, "help")) continue;
        /* the session controls: a resumed run's result.txt equals an uninterrupted one's */
        if (!strcmp(name, "resume") || !strcmp(name, "stop-after") || !strcmp(name, "quiet") || !strcmp(name, "out"))
            continue;
        snprintf(line, sizeof line, "\noption %s ", name);
        ck_assert_msg(strstr(result, line), "%s: result.txt does not record --%s:\n%s", cmd, name, result);
        n++;
    }
    ck_assert_int_ge(n, 12);
    for (; *want; want++) ck_assert_msg(strstr(result, *want), "%s: result.txt lacks '%s':\n%s", cmd, *want, result);
}

/* hkref pretrain and train, tiny (one epoch of 6 steps): --opt=value, --out
 * creating its missing parents (the README's `--out build/train/hk1` from a
 * fresh clone), progress in a log as plain lines (never '\r'), the run ending
 * with the paths it wrote, result.txt recording every option and the seed. */
START_TEST(train_and_pretrain_from_the_command_line)
{
    char dir[] = "/tmp/hkref-ux-train-XXXXXX", pt[256], model[300], tr[256], arg[320], p[2048];
    static char result[1 << 16];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    tiny_data(dir);
    /* no gnuplot on PATH (each curve.png costs ~0.4 s): the run says so before it
     * starts, not only at the end, and still succeeds */
    char path_env[4096];
    snprintf(path_env, sizeof path_env, "%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    ck_assert_int_eq(setenv("PATH", "/nonexistent", 1), 0);
    snprintf(pt, sizeof pt, "%s/p/q/pt", dir);
    snprintf(model, sizeof model, "%s/model.safetensors", pt);
    snprintf(arg, sizeof arg, "--data=%s", dir);
    ck_assert_int_eq(run(ARGS("pretrain", arg, "--out", pt, "--layers=1", "--dim", "16", "--heads=2", "--ffn", "32",
                              "--batch=8", "--epochs", "1", "--threads=1", "--seed=5")), 0);
    ck_assert_msg(!strchr(err, '\r'), "a '\\r' in a log: %s", err);
    ck_assert_msg(!strncmp(err, "note: gnuplot is not on PATH: no ", 33) && strstr(err, "\nstep 1/6 ") &&
                      strstr(err, "\nepoch 1: mean train loss "), "stderr: %s", err);
    ck_assert_msg(!strstr(out, "curve.png"), "stdout: %s", out);
    snprintf(p, sizeof p, "wrote %s/model.safetensors\nwrote %s/ckpt.safetensors\nwrote %s/curve.tsv\n"
             "wrote %s/result.txt\n", pt, pt, pt, pt);
    ck_assert_msg(strstr(out, p), "stdout does not list the four files written:\n%s", out);
    snprintf(p, sizeof p, "%s/result.txt", pt);
    slurp(p, result, sizeof result);
    records_every_option("pretrain", result,
                         (const char *const[]){"\noption seed 5\n", "\noption dim 16\n", "\noption batch 8\n", NULL});

    snprintf(tr, sizeof tr, "%s/a/b/c", dir);
    snprintf(arg, sizeof arg, "--init=%s", model);
    char data[300];
    snprintf(data, sizeof data, "%s", dir);
    ck_assert_int_eq(run(ARGS("train", "--data", data, arg, "--out", tr, "--preset=hiddenkey", "--seed", "7", "--r=4",
                              "--alpha", "8", "--batch", "8", "--epochs=1", "--threads", "1", "--set",
                              "hidden.p=0.2", "--dylora")), 0);
    ck_assert_msg(!strchr(err, '\r') && strstr(err, "epoch 1: "), "stderr: %s", err);
    snprintf(p, sizeof p, "wrote %s/result.txt\n", tr);
    ck_assert_msg(strstr(out, p), "stdout does not end with the paths written:\n%s", out);
    snprintf(p, sizeof p, "%s/result.txt", tr);
    slurp(p, result, sizeof result);
    char init_line[400];
    snprintf(init_line, sizeof init_line, "\noption init %s\n", model);
    records_every_option("train", result,
                         (const char *const[]){"\noption seed 7\n", "\noption preset hiddenkey\n", "\noption r 4\n",
                                               "\noption set hidden.p=0.2\n", "\noption dylora 1\n", init_line, NULL});
    /* an --out under a regular file: refused, naming it, nothing written */
    snprintf(tr, sizeof tr, "%s/p/q/pt/result.txt/x", dir);
    ck_assert_int_eq(run(ARGS("train", "--data", data, arg, "--out", tr, "--epochs=1", "--threads=1")), 2);
    ck_assert_msg(strstr(err, "is not a directory") && !strstr(err, ".c:"), "%s", err);
    ck_assert_int_eq(setenv("PATH", path_env, 1), 0);
    snprintf(p, sizeof p, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(p), 0);
}
END_TEST

Suite *suite_cliux(void)
{
    Suite *s = suite_create("cliux");
    TCase *tc = tcase_create("Core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, version_names_the_version_file_and_the_commit);
    tcase_add_test(tc, unknown_command_gets_a_did_you_mean);
    tcase_add_test(tc, every_help_exits_zero);
    tcase_add_loop_test(tc, one_message_shape, 0, (int)(sizeof shape_rows / sizeof shape_rows[0]));
    tcase_add_test(tc, no_source_locations_unless_debug);
    tcase_add_test(tc, every_check_has_a_title_and_a_unique_id);
    tcase_add_test(tc, verify_list_check_and_k);
    tcase_add_test(tc, gradcheck_matches_substrings_of_ids);
    tcase_add_test(tc, demo_attention_own_logits_and_mask);
    tcase_add_test(tc, output_paths);
    tcase_add_test(tc, progress_terminal_vs_log);
    tcase_add_test(tc, train_and_pretrain_from_the_command_line);
    tcase_add_test(tc, not_a_safetensors_file);
    tcase_add_test(tc, golden_problems_without_source_locations);
    suite_add_tcase(s, tc);
    return s;
}
