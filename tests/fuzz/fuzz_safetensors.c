/* hkref — libFuzzer harness for the safetensors reader (hk_st_parse, the
 * in-memory parser behind hk_st_read).  Built by `make fuzz` with
 * clang -fsanitize=fuzzer,address,undefined; the oracle is tests/fuzz/st_oracle.h. */
#include "st_oracle.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = hk_st_oracle(data, size);
    if (why) {
        fprintf(stderr, "fuzz_safetensors: oracle violated: %s\n", why);
        abort();
    }
    return 0;
}
