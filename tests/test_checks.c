/* hkref — every registered check (tools/checks/chk_*.c: gradchecks, theorems,
 * properties, golden) must pass in the gate; one loop iteration each, so a
 * failure names the check. */
#include "hk_test.h"

#include "checks/checks.h"

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

Suite *suite_checks(void)
{
    Suite *s = suite_create("checks");
    TCase *tc = tcase_create("registered");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, registry_is_not_empty);
    tcase_add_loop_test(tc, registered_check_passes, 0, (int)hk_checks_count());
    suite_add_tcase(s, tc);
    return s;
}
