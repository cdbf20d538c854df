/* hkref — libFuzzer harness for the training data and model loaders
 * (hk_fast_train_load: what `hkref pretrain` / `hkref train` read before any
 * step: the data file's splits, vocabulary and lengths, the pre-trained
 * model's metadata and tensors).  vocab = 2^57 + 1 in a 936-byte file once
 * wrapped V*C here.
 *
 * Input: byte 0 bit 0 = train mode (else pretrain), then 4-byte
 * little-endian length L, L bytes of data file, the rest the model file
 * (train mode).  Or byte 0 bit 1 (pretrain): a structured data file, valid
 * but for its numbers: metadata vocab = the decimal of bytes 1..8 (u64 LE,
 * or signed), T = 1 + byte 9 % 8, N = 2 + byte 10 % 6 rows per split.  Small model options (C 8, 2 heads, F 8, 1 layer, batch 2).
 * Oracle: the sanitizers, libFuzzer's memory limit (every allocation is
 * bounded by caps or by the input's own tensors), and the status is OK or
 * an input error (EFORMAT, ESHAPE, EIO, ENOTFOUND, EINVAL, EDOM). */
#include "fast/fast_train.h"
#include "ref/error.h"
#include "ref/tensorfile.h"

#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], init[96];

static void put(const char *p, const uint8_t *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    if (!f || (n && fwrite(b, 1, n, f) != n)) abort();
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/hkref-fuzzload-%d", (int)getpid());
        mkdir(dir, 0700);
        snprintf(init, sizeof init, "%s/model.safetensors", dir);
    }
    if (size < 5) return 0;
    if ((data[0] & 2) && size >= 11) { /* structured: the numbers of a valid data file */
        uint64_t v = 0;
        for (int i = 8; i >= 1; i--) v = v << 8 | data[i];
        long T = 1 + data[9] % 8, N = 2 + data[10] % 6, s2[2] = {N, T}, s1[1] = {N};
        int32_t ids[64], len[8]; /* N <= 7, T <= 8 */
        int64_t lab[8];
        for (long i = 0; i < N * T; i++) ids[i] = (int32_t)(i % 5);
        for (long i = 0; i < N; i++) len[i] = (int32_t)(1 + i % T), lab[i] = i % 2;
        char vs[32];
        if (data[0] & 4) snprintf(vs, sizeof vs, "%lld", (long long)v);
        else snprintf(vs, sizeof vs, "%llu", (unsigned long long)v);
        hk_st_file *f = NULL;
        char p[128];
        snprintf(p, sizeof p, "%s/pretrain.safetensors", dir);
        int ok = hk_st_new(&f) == HK_OK;
        const char *sp[2] = {"train", "dev"};
        for (int k = 0; k < 2 && ok; k++) {
            char n[32];
            snprintf(n, sizeof n, "%s.ids", sp[k]), ok = ok && hk_st_add(f, n, HK_ST_I32, 2, s2, ids) == HK_OK;
            snprintf(n, sizeof n, "%s.len", sp[k]), ok = ok && hk_st_add(f, n, HK_ST_I32, 1, s1, len) == HK_OK;
            snprintf(n, sizeof n, "%s.label", sp[k]), ok = ok && hk_st_add(f, n, HK_ST_I64, 1, s1, lab) == HK_OK;
        }
        ok = ok && hk_st_set_meta(f, "vocab", vs) == HK_OK && hk_st_write(f, p) == HK_OK;
        hk_st_free(f);
        if (!ok) abort();
        hk_train_opts o;
        hk_train_opts_default(&o, 1);
        o.data = dir, o.batch = 2, o.C = 8, o.NH = 2, o.F = 8, o.L = 1;
        hk_error_clear();
        int s = hk_fast_train_load(&o);
        hk_error_clear();
        if (s != HK_OK && s != HK_EFORMAT && s != HK_EINVAL) abort();
        return 0;
    }
    int train = data[0] & 1;
    size_t L = (size_t)data[1] | (size_t)data[2] << 8 | (size_t)data[3] << 16 | (size_t)data[4] << 24;
    if (L > size - 5) L = size - 5;
    char p[128];
    snprintf(p, sizeof p, "%s/%s.safetensors", dir, train ? "finetune" : "pretrain");
    put(p, data + 5, L);
    if (train) put(init, data + 5 + L, size - 5 - L);
    hk_train_opts o;
    hk_train_opts_default(&o, !train);
    o.data = dir;
    o.init = init;
    o.batch = 2, o.C = 8, o.NH = 2, o.F = 8, o.L = 1, o.r = 2;
    hk_error_clear();
    int s = hk_fast_train_load(&o);
    hk_error_clear();
    if (s != HK_OK && s != HK_EFORMAT && s != HK_ESHAPE && s != HK_EIO && s != HK_ENOTFOUND && s != HK_EINVAL &&
        s != HK_EDOM && s != HK_ENAN) {
        fprintf(stderr, "fuzz_loaders: unexpected status %d\n", s);
        abort();
    }
    return 0;
}
