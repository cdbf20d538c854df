/* hkref — libFuzzer harness for the CLI's file readers, in process:
 * `hkref inspect FILE` and `hkref dylora spectrum FILE [--alpha 1.5]`
 * (the use-after-free of a bad metadata alpha took 47 executions of a
 * 30-line harness like this one to find).
 *
 * Input: byte 0 selects the command (0 inspect, 1 spectrum, 2 spectrum
 * --alpha 1.5), the rest is FILE; or 3: a structured adapter, spectrum on a
 * valid file whose shapes come from bytes 1..3 (r, IN, OUT in 1..16) and
 * whose metadata "alpha" is the rest (the metadata path: any string there).  Oracle (besides the sanitizers): the exit
 * status is 0 or 2; inspect exits 0 exactly when hk_st_parse accepts the
 * bytes; spectrum exits 0 only for a file that parses.  Spectrum is run only
 * when the dense update dW = B A has at most 2^16 elements (a bigger SVD is
 * correct but too slow for a fuzzing run; the CLI's own cap is 2^27). */
#include "cli/cli.h"
#include "ref/error.h"
#include "ref/tensorfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/hkref-fuzzcli-%d.safetensors", (int)getpid());
        if (!freopen("/dev/null", "w", stdout)) abort();
    }
    if (size < 1) return 0;
    unsigned cmd = data[0] % 4;
    if (cmd == 3) { /* a valid adapter around a fuzzed alpha string */
        if (size < 4) return 0;
        long r = 1 + data[1] % 16, IN = 1 + data[2] % 16, OUT = 1 + data[3] % 16, sa[2] = {r, IN}, sb[2] = {OUT, r};
        double A[256], B[256];
        for (int i = 0; i < 256; i++) A[i] = 0.01 * (i % 17) - 0.07, B[i] = 0.02 * (i % 13) - 0.1;
        char alpha[256];
        size_t n = size - 4 < sizeof alpha - 1 ? size - 4 : sizeof alpha - 1;
        memcpy(alpha, data + 4, n);
        alpha[n] = 0;
        hk_st_file *a = NULL;
        int ok = hk_st_new(&a) == HK_OK && hk_st_add(a, "A", HK_ST_F64, 2, sa, A) == HK_OK &&
                 hk_st_add(a, "B", HK_ST_F64, 2, sb, B) == HK_OK && hk_st_set_meta(a, "alpha", alpha) == HK_OK &&
                 hk_st_write(a, path) == HK_OK;
        hk_st_free(a);
        hk_error_clear();
        if (!ok) return 0; /* not valid UTF-8: no such file can exist */
        char *argv[] = {"dylora", "spectrum", path, NULL};
        int rc = hk_cmd_dylora(3, argv);
        if (rc != 0 && rc != 2) abort();
        hk_error_clear();
        return 0;
    }
    FILE *f = fopen(path, "wb");
    if (!f || (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1)) abort();
    fclose(f);
    hk_st_file *st = NULL;
    int parses = hk_st_parse(data + 1, size - 1, &st) == HK_OK;
    hk_error_clear();
    int rc;
    if (cmd == 0) {
        char *argv[] = {"inspect", path, NULL};
        rc = hk_cmd_inspect(2, argv);
        if (rc != (parses ? 0 : 2)) {
            fprintf(stderr, "fuzz_cli: inspect exit %d for a file hk_st_parse %s\n", rc, parses ? "accepts" : "rejects");
            abort();
        }
    } else {
        const hk_st_tensor *A = parses ? hk_st_find(st, "A") : NULL, *B = parses ? hk_st_find(st, "B") : NULL;
        double dense = A && B && A->ndim == 2 && B->ndim == 2 ? (double)A->shape[1] * (double)B->shape[0] : 0;
        if (dense <= 65536) {
            char *argv[] = {"dylora", "spectrum", path, "--alpha", "1.5", NULL};
            rc = hk_cmd_dylora(cmd == 2 ? 5 : 3, argv);
            if ((rc != 0 && rc != 2) || (rc == 0 && !parses)) {
                fprintf(stderr, "fuzz_cli: dylora spectrum exit %d (file %s)\n", rc, parses ? "parses" : "does not parse");
                abort();
            }
        }
    }
    hk_st_free(st);
    hk_error_clear();
    return 0;
}
