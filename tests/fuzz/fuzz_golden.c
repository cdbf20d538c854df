/* hkref — libFuzzer harness for the golden-case checker (hk_golden_check_case
 * on a golden file and a backend's output file, both from the input bytes;
 * layout and oracle in tests/fuzz/golden_oracle.h).  Built by `make fuzz`
 * once tools/golden/check.c exists. */
#include "golden_oracle.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = hk_golden_oracle(data, size);
    if (why) {
        fprintf(stderr, "fuzz_golden: oracle violated: %s\n", why);
        abort();
    }
    return 0;
}
