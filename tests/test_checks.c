/* hkref — every registered check (tools/checks/chk_*.c: gradchecks, theorems,
 * properties, golden) must pass in the gate; one loop iteration each, so a
 * failure names the check. */
#include "hk_test.h"

#include "checks/checks.h"

#include <stdlib.h>
#include <string.h>

START_TEST(registered_check_passes)
{
    const hk_check *c = hk_checks_get((size_t)_i);
    ck_assert_ptr_nonnull(c);
    hk_check_result r;
    int ok = hk_check_run_one(c, &r);
    ck_assert_msg(ok, "%s %s failed: %ld/%ld cases, worst %.6g %s (bound %.6g): %s\n"
                  "__REPRO: build/hkref verify -v | grep -A2 '%s'",
                  c->group, c->name, r.failed, r.cases, r.worst, r.unit, r.bound, r.detail, c->name);
}
END_TEST

START_TEST(registry_is_not_empty)
{
    ck_assert_uint_gt(hk_checks_count(), 0);
}
END_TEST

/* ---- the verdict of one check (hk_check_run_one, checks.h) ----
 * A check passes only if it ran (status OK), tried at least one case, failed
 * none, and its worst deviation is a number <= its bound (inclusive). */
static double fake_worst, fake_bound;
static long fake_cases, fake_failed;
static int fake_status;

static int fake_run(hk_check_result *res)
{
    res->cases = fake_cases;
    res->failed = fake_failed;
    res->worst = fake_worst;
    res->bound = fake_bound;
    snprintf(res->detail, sizeof res->detail, "fake detail");
    return fake_status ? hk_error_set(fake_status, __FILE__, __LINE__, "fake check broke") : HK_OK;
}

START_TEST(check_verdict_needs_cases_no_failures_and_worst_within_bound)
{
    static const struct {
        long cases, failed;
        double worst, bound;
        int status, pass;
    } v[] = {
        {3, 0, 0.5, 1.0, HK_OK, 1},  {3, 0, 1.0, 1.0, HK_OK, 1},       /* worst == bound passes */
        {3, 0, 1.5, 1.0, HK_OK, 0},  {3, 0, NAN, 1.0, HK_OK, 0},       /* above the bound, NaN worst */
        {3, 0, 0.5, NAN, HK_OK, 0},  {0, 0, 0.0, 1.0, HK_OK, 0},       /* NaN bound, no case tried */
        {-1, 0, 0.0, 1.0, HK_OK, 0}, {3, 1, 0.5, 1.0, HK_OK, 0},       /* a counted failure */
        {3, 0, 0.5, 1.0, HK_EDOM, 0}, {3, 2, 0.5, 1.0, HK_EDOM, 0},    /* an error */
        {1, 0, 0.0, 0.0, HK_OK, 1},                                     /* bound 0, worst 0 */
    };
    const hk_check c = {"property", "fake", "a fake check", fake_run, "A fake check"};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        fake_cases = v[k].cases, fake_failed = v[k].failed, fake_worst = v[k].worst, fake_bound = v[k].bound;
        fake_status = v[k].status;
        hk_check_result r;
        int ok = hk_check_run_one(&c, &r);
        ck_assert_msg(ok == v[k].pass, "row %zu: verdict %d, want %d", k, ok, v[k].pass);
        ck_assert_msg(ok ? r.failed == 0 : r.failed >= 1, "row %zu: failed %ld with verdict %d", k, r.failed, ok);
        if (v[k].failed > 1) ck_assert_int_eq(r.failed, v[k].failed); /* the count is kept, not reset to 1 */
        if (v[k].status) ck_assert_msg(strstr(r.detail, "fake check broke") != NULL, "%s", r.detail);
        if (v[k].cases <= 0 && !v[k].status) ck_assert_str_eq(r.detail, "check ran no cases");
    }
}
END_TEST

/* hk_checks_run runs exactly the checks of the group whose name starts with the
 * prefix (either NULL: all), one table row each, and returns how many failed. */
START_TEST(checks_run_selects_by_group_and_name_prefix)
{
    const char *sel[][2] = {{"gradcheck", "softmax"}, {NULL, "softmax"}, {"gradcheck", "no-such-check"},
                            {"no-such-group", NULL}};
    for (size_t k = 0; k < sizeof sel / sizeof sel[0]; k++) {
        const char *group = sel[k][0], *prefix = sel[k][1];
        long want = 0;
        for (size_t i = 0; i < hk_checks_count(); i++) {
            const hk_check *c = hk_checks_get(i);
            want += (!group || !strcmp(group, c->group)) && !strncmp(c->name, prefix ? prefix : "", prefix ? strlen(prefix) : 0);
        }
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        ck_assert_ptr_nonnull(out);
        long nfail = hk_checks_run(group, prefix, out, 0);
        fclose(out);
        ck_assert_int_eq(nfail, 0);
        char tail[64];
        snprintf(tail, sizeof tail, "%ld checks run, 0 failed\n", want);
        ck_assert_msg(strstr(buf, tail) != NULL, "selection %s/%s: want '%s' in:\n%s", group ? group : "*",
                      prefix ? prefix : "*", tail, buf);
        long rows = 0; /* result rows: "<name> cases worst bound unit pass <title>", name selected */
        char *save = NULL;
        for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
            rows += strstr(l, " pass ") != NULL && (!prefix || !strncmp(l, prefix, strlen(prefix)));
        ck_assert_msg(rows == want, "selection %s/%s: %ld result rows, want %ld:\n%s", group ? group : "*",
                      prefix ? prefix : "*", rows, want, buf);
        if (k == 0) ck_assert_int_gt(want, 0);
        free(buf);
    }
    /* out may be NULL: the count alone */
    ck_assert_int_eq(hk_checks_run("gradcheck", "softmax", NULL, 0), 0);
}
END_TEST

Suite *suite_checks(void)
{
    Suite *s = suite_create("checks");
    TCase *tc = tcase_create("registered");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, registry_is_not_empty);
    tcase_add_loop_test(tc, registered_check_passes, 0, (int)hk_checks_count());
    suite_add_tcase(s, tc);
    TCase *v = tcase_create("verdict");
    tcase_set_timeout(v, 60);
    tcase_add_test(v, check_verdict_needs_cases_no_failures_and_worst_within_bound);
    tcase_add_test(v, checks_run_selects_by_group_and_name_prefix);
    suite_add_tcase(s, v);
    return s;
}
