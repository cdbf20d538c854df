/* hkref — the oracle shared by the safetensors fuzzer (tests/fuzz/fuzz_safetensors.c)
 * and its gate regression test (tests/test_fuzzregress.c).
 *
 * For any input bytes, hk_st_parse must return without a crash, leak or UB
 * (the sanitizers judge that) and:
 *   - on failure: *out is NULL and an error message was recorded;
 *   - on success: every tensor converts to double, finds itself by name and
 *     through the typed getter; the file serializes; the serialized bytes
 *     parse again to the same names, dtypes, shapes and data; and serializing
 *     that second parse gives the same bytes (the writer is canonical).
 * Returns 0 when all hold, else a short reason (the caller aborts with it). */
#ifndef HK_ST_ORACLE_H
#define HK_ST_ORACLE_H

#include "ref/error.h"
#include "ref/tensorfile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *hk_st_oracle(const uint8_t *data, size_t size)
{
    hk_st_file *f = (hk_st_file *)(uintptr_t)1;
    hk_error_clear();
    int s = hk_st_parse(data, size, &f);
    if (s != HK_OK) {
        if (f != NULL) return "failed parse left *out non-NULL";
        if (hk_error_message()[0] == '\0') return "failed parse recorded no message";
        return NULL;
    }
    if (!f) return "successful parse returned NULL";
    const char *why = NULL;
    unsigned char *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    hk_st_file *g = NULL;
    for (size_t i = 0; i < f->ntensors && !why; i++) {
        const hk_st_tensor *t = &f->tensors[i];
        if (hk_st_find(f, t->name) != t) why = "hk_st_find does not find a parsed tensor";
        const hk_st_tensor *u = NULL;
        if (!why && hk_st_get(f, t->name, t->dtype, t->ndim, t->shape, &u) != HK_OK) why = "hk_st_get rejects a parsed tensor's own dtype/shape";
        double *d = malloc((t->numel ? t->numel : 1) * sizeof *d);
        if (!why && d && hk_st_to_f64(t, d) != HK_OK) why = "hk_st_to_f64 fails on a parsed tensor";
        free(d);
    }
    for (size_t i = 0; i < f->nmeta && !why; i++)
        if (hk_st_get_meta(f, f->meta[i].key) == NULL) why = "metadata key not found";
    if (!why && hk_st_serialize(f, &b1, &n1) != HK_OK) why = "a parsed file does not serialize";
    if (!why && hk_st_parse(b1, n1, &g) != HK_OK) why = "serialized bytes do not parse again";
    if (!why && (g->ntensors != f->ntensors || g->nmeta != f->nmeta)) why = "round trip changed the tensor or metadata count";
    for (size_t i = 0; i < (why ? 0 : f->ntensors) && !why; i++) {
        const hk_st_tensor *t = &f->tensors[i], *u = hk_st_find(g, t->name);
        if (!u || u->dtype != t->dtype || u->ndim != t->ndim || u->nbytes != t->nbytes ||
            memcmp(u->shape, t->shape, sizeof t->shape[0] * (size_t)t->ndim) ||
            (t->nbytes && memcmp(u->data, t->data, t->nbytes)))
            why = "round trip changed a tensor";
    }
    if (!why && hk_st_serialize(g, &b2, &n2) != HK_OK) why = "the re-parsed file does not serialize";
    if (!why && (n1 != n2 || memcmp(b1, b2, n1))) why = "serialization is not canonical (bytes differ after a round trip)";
    free(b1);
    free(b2);
    hk_st_free(g);
    hk_st_free(f);
    return why;
}

#endif
