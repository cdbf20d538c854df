/* hkref — the fuzzers' corpora as gate regression tests: every committed seed
 * (tests/fuzz/corpus/<target>/) and every input that once crashed or broke
 * an oracle (tests/fuzz/regress/<target>/) goes through the same oracle as
 * the libFuzzer harness (tests/fuzz/st_oracle.h) — and, in the gate's second
 * run, under ASan+UBSan.  Seeds named valid_* must parse, bad_* must not.
 * The tests run from the repository root (as `make test` does). */
#include "hk_test.h"

#include "fuzz/golden_oracle.h"
#include "fuzz/st_oracle.h"

#include <dirent.h>
#include <stdlib.h>

static const char *st_dirs[] = {"tests/fuzz/corpus/safetensors", "tests/fuzz/regress/safetensors"};

static int run_dir(const char *dir, int must_exist)
{
    DIR *d = opendir(dir);
    if (!d) {
        ck_assert_msg(!must_exist, "cannot open %s (run the tests from the repository root)", dir);
        return 0;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unsigned char *buf = NULL;
        size_t len = 0;
        hk_error_clear();
        int s = hk_file_read(path, 1u << 24, &buf, &len);
        ck_assert_msg(s == HK_OK, "cannot read %s: %s", path, hk_error_message());
        const char *why = hk_st_oracle(buf, len);
        ck_assert_msg(why == NULL, "%s: %s\n__REPRO: build/fuzz/fuzz_safetensors %s", path, why, path);
        hk_st_file *f = NULL;
        s = hk_st_parse(buf, len, &f);
        if (!strncmp(e->d_name, "valid_", 6))
            ck_assert_msg(s == HK_OK, "%s should parse: %s", path, hk_error_message());
        if (!strncmp(e->d_name, "bad_", 4))
            ck_assert_msg(s == HK_EFORMAT, "%s should be rejected as EFORMAT (got %d %s)", path, s, hk_error_message());
        hk_st_free(f);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

START_TEST(safetensors_corpus_and_regressions_pass_the_oracle)
{
    int n = run_dir(st_dirs[0], 1);
    ck_assert_msg(n >= 10, "only %d seeds in %s", n, st_dirs[0]);
    run_dir(st_dirs[1], 0);
}
END_TEST

/* Seeds and former crashes of the golden-checker fuzzer. */
START_TEST(golden_checker_corpus_and_regressions_pass_the_oracle)
{
    static const char *dirs[] = {"tests/fuzz/corpus/golden", "tests/fuzz/regress/golden"};
    int n = 0;
    for (int k = 0; k < 2; k++) {
        DIR *d = opendir(dirs[k]);
        if (!d) {
            ck_assert_msg(k == 1, "cannot open %s (run the tests from the repository root)", dirs[k]);
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dirs[k], e->d_name);
            unsigned char *buf = NULL;
            size_t len = 0;
            ck_assert_msg(hk_file_read(path, 1u << 24, &buf, &len) == HK_OK, "cannot read %s", path);
            const char *why = hk_golden_oracle(buf, len);
            ck_assert_msg(why == NULL, "%s: %s\n__REPRO: build/fuzz/fuzz_golden %s", path, why, path);
            free(buf);
            n++;
        }
        closedir(d);
    }
    ck_assert_msg(n >= 5, "only %d golden-checker seeds", n);
}
END_TEST

Suite *suite_fuzzregress(void)
{
    Suite *s = suite_create("fuzzregress");
    TCase *tc = tcase_create("Limits");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, safetensors_corpus_and_regressions_pass_the_oracle);
    tcase_add_test(tc, golden_checker_corpus_and_regressions_pass_the_oracle);
    suite_add_tcase(s, tc);
    return s;
}
