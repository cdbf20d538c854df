/* hkref — the test gate: every suite in one SRunner (one Check summary line). */
#include "hk_test.h"

#include <stdlib.h>

#define HK_SUITE(name) Suite *suite_##name(void);
#include "suites.inc"
#undef HK_SUITE

int main(void)
{
    SRunner *sr = srunner_create(NULL);
#define HK_SUITE(name) srunner_add_suite(sr, suite_##name());
#include "suites.inc"
#undef HK_SUITE
    /* Fork mode (Check's default, kept explicit): a crash in a malformed-file
     * test is reported as an error of that test, not the end of the run. */
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
