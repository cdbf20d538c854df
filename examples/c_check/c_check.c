/* hkref example — gating a backend from C with libhkgolden alone.
 *
 *   c_check GOLDEN_DIR OUTPUTS_DIR f64|f32
 *
 * Links libhkgolden.a + libhkref.a + jansson and nothing else of hkref (see
 * the Makefile rule $(BUILD)/examples/c_check): a CUDA or Triton project's
 * test program can do the same after writing its outputs, or pass an
 * in-process backend callback (hk_golden_dir_opts.backend) instead of a
 * directory.  Exit status: 0 every case passes, 1 some case failed, 2 the
 * golden set or the arguments are bad. */
#include "golden/check.h"
#include "ref/error.h"

#include <stdio.h>
#include <string.h>

/* One line per case; the checker's first failing elements under a failed one. */
static void report(void *ctx, const hk_golden_case_report *r)
{
    double worst = 0.0;
    for (int i = 0; i < r->result->ntensors; i++)
        if (r->result->t[i].pct > worst) worst = r->result->t[i].pct;
    printf("%-6s %s (worst %.3g%% of threshold)\n", r->failed ? "FAILED" : "pass", r->rel, worst);
    if (r->failed) {
        if (r->result->problem[0]) printf("  %s\n", r->result->problem);
        for (int i = 0; i < r->result->ntensors; i++)
            if (r->result->t[i].problem[0]) printf("  %s: %s\n", r->result->t[i].name, r->result->t[i].problem);
        fputs(r->elements, stdout);
    }
}

int main(int argc, char **argv)
{
    hk_golden_dtype dt = HK_GOLDEN_F64;
    if (argc != 4 || hk_golden_dtype_parse(argv[3], &dt) != HK_OK) {
        fprintf(stderr, "usage: c_check GOLDEN_DIR OUTPUTS_DIR f64|f32|bf16|f16|tf32\n");
        return 2;
    }
    hk_golden_dir_opts o = {.golden = argv[1], .outputs = argv[2], .dtype = dt, .report = report};
    hk_golden_dir_summary sum;
    if (hk_golden_check_dir(&o, &sum) != HK_OK) {
        fprintf(stderr, "c_check: %s\n", hk_error_message());
        return 2;
    }
    printf("c_check (%s): %ld cases, %ld failed\n", argv[3], sum.run, sum.failed);
    return sum.failed ? 1 : 0;
}
