/* hkref — the oracle shared by the golden-checker fuzzer (tests/fuzz/fuzz_golden.c)
 * and the gate's replay of its corpus (tests/test_fuzzregress.c).
 *
 * Input layout: byte 0 = flags (bit 0: the backend file is missing, bit 1:
 * check the F32 tolerances), bytes 1..4 = little-endian length L of the golden
 * file image, then L bytes of golden file, then the backend's file (rest).
 * Both images go through hk_st_parse; if the golden one parses,
 * hk_golden_check_case must return HK_OK or HK_EFORMAT (a bad golden file),
 * never crash, and leave a sane result: at most HK_GOLDEN_MAX_TENSORS
 * tensors, each with 0 <= nfail <= n, failed_tensors <= ntensors, and
 * NUL-terminated strings.  Returns NULL when all hold, else the reason. */
#ifndef HK_GOLDEN_ORACLE_H
#define HK_GOLDEN_ORACLE_H

#include "ref/error.h"
#include "ref/tensorfile.h"
#include "golden/check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *hk_golden_oracle(const uint8_t *data, size_t size)
{
    if (size < 5) return NULL;
    unsigned flags = data[0];
    size_t L = (size_t)data[1] | (size_t)data[2] << 8 | (size_t)data[3] << 16 | (size_t)data[4] << 24;
    const uint8_t *body = data + 5;
    size_t n = size - 5;
    if (L > n) L = n;
    hk_st_file *gold = NULL, *got = NULL;
    if (hk_st_parse(body, L, &gold) != HK_OK) return NULL; /* the reader's own fuzzer covers this */
    if (!(flags & 1)) hk_st_parse(body + L, n - L, &got); /* unparsable output = missing */
    hk_golden_result *res = calloc(1, sizeof *res);
    const char *why = NULL;
    if (!res) why = "out of memory";
    int s = why ? HK_OK : hk_golden_check_case(gold, got, (flags & 2) ? HK_GOLDEN_F32 : HK_GOLDEN_F64, NULL, res);
    if (!why && s != HK_OK && s != HK_EFORMAT) why = "hk_golden_check_case returned neither HK_OK nor HK_EFORMAT";
    if (!why && s == HK_OK) {
        if (res->ntensors < 0 || res->ntensors > HK_GOLDEN_MAX_TENSORS) why = "ntensors out of range";
        else if (res->failed_tensors < 0 || res->failed_tensors > res->ntensors) why = "failed_tensors out of range";
        else if (!memchr(res->name, 0, sizeof res->name) || !memchr(res->problem, 0, sizeof res->problem))
            why = "case strings not terminated";
        for (int i = 0; !why && i < res->ntensors; i++) {
            const hk_golden_tensor_result *t = &res->t[i];
            if (t->nfail < 0 || t->nfail > t->n) why = "tensor nfail out of [0, n]";
            else if (!memchr(t->name, 0, sizeof t->name) || !memchr(t->problem, 0, sizeof t->problem) ||
                     !memchr(t->worst, 0, sizeof t->worst))
                why = "tensor strings not terminated";
        }
    }
    free(res);
    hk_st_free(got);
    hk_st_free(gold);
    return why;
}

#endif
