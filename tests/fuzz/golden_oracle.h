/* hkref — the oracle shared by the golden-checker fuzzer (tests/fuzz/fuzz_golden.c)
 * and the gate's replay of its corpus (tests/test_fuzzregress.c).
 *
 * Input layout: byte 0 = flags (bit 0: the backend file is missing, bit 1:
 * check the F32 tolerances, bits 2-7: which element the metamorphic moves
 * touch), bytes 1..4 = little-endian length L of the golden file image, then
 * L bytes of golden file, then the backend's file (rest).  Both images go
 * through hk_st_parse; if the golden one parses:
 *
 * Structure: hk_golden_check_case must return HK_OK or HK_EFORMAT (a bad
 * golden file), never crash, and leave a sane result: at most
 * HK_GOLDEN_MAX_TENSORS tensors, each with 0 <= nfail <= n,
 * failed_tensors <= ntensors, NUL-terminated strings.
 *
 * Verdicts (metamorphic: the answer is known without a second checker).
 * When the golden file is accepted, with its own out.* / grad.* as the
 * backend's file (no metadata):
 *   V1 the golden's own outputs pass: no tensor fails except one the
 *      zero-trust rule mistrusts (problem "mistrusted ...") or one whose
 *      bound cannot be used (too loose, edited, ingredients out of range);
 *   V2 every float tolerance a tensor was compared with (no bound problem)
 *      is recomputable: atol, rtol equal hk_golden_tolerance of the stored
 *      K, n, scale and the tensor's size, rtol < 1e-3 (an unusable bound
 *      fails its tensor, named as such);
 *   V3 one element of one float output moved to 2x its threshold (or the
 *      next double beyond it) fails that tensor, and so does NaN and +Inf
 *      there; an integer output moved by one fails;
 *   V4 the golden file itself as the backend's file (format marker) fails
 *      every tensor.
 * A checker that passed everything, or refused nothing, violates these.
 * Returns NULL when all hold, else the reason. */
#ifndef HK_GOLDEN_ORACLE_H
#define HK_GOLDEN_ORACLE_H

#include "ref/error.h"
#include "ref/tensorfile.h"
#include "golden/check.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *hk_golden_oracle_structure(const hk_golden_result *res)
{
    if (res->ntensors < 0 || res->ntensors > HK_GOLDEN_MAX_TENSORS) return "ntensors out of range";
    if (res->failed_tensors < 0 || res->failed_tensors > res->ntensors) return "failed_tensors out of range";
    if (!memchr(res->name, 0, sizeof res->name) || !memchr(res->problem, 0, sizeof res->problem))
        return "case strings not terminated";
    for (int i = 0; i < res->ntensors; i++) {
        const hk_golden_tensor_result *t = &res->t[i];
        if (t->nfail < 0 || t->nfail > t->n) return "tensor nfail out of [0, n]";
        if (!memchr(t->name, 0, sizeof t->name) || !memchr(t->problem, 0, sizeof t->problem) ||
            !memchr(t->worst, 0, sizeof t->worst))
            return "tensor strings not terminated";
    }
    return NULL;
}

/* The tensor failed because its bound cannot be used (check.c: too loose, edited, ingredients out of range). */
static int hk_golden_oracle_bad_bound(const hk_golden_tensor_result *t)
{
    return !strncmp(t->problem, "bound too loose", 15) || !strncmp(t->problem, "tolerance does not follow", 25) ||
           !strncmp(t->problem, "tolerance ingredients", 21);
}

static int hk_golden_oracle_is_output(const char *n) { return !strncmp(n, "out.", 4) || !strncmp(n, "grad.", 5); }

/* The golden's out.* / grad.* alone, as an honest backend writes them. */
static hk_st_file *hk_golden_oracle_own(const hk_st_file *gold)
{
    hk_st_file *f = NULL;
    if (hk_st_new(&f)) return NULL;
    for (size_t i = 0; i < gold->ntensors; i++) {
        const hk_st_tensor *t = &gold->tensors[i];
        if (hk_golden_oracle_is_output(t->name) && hk_st_add(f, t->name, t->dtype, t->ndim, t->shape, t->data)) {
            hk_st_free(f);
            return NULL;
        }
    }
    return f;
}

static const hk_golden_tensor_result *hk_golden_oracle_find(const hk_golden_result *r, const char *name)
{
    for (int i = 0; i < r->ntensors; i++)
        if (!strcmp(r->t[i].name, name)) return &r->t[i];
    return NULL;
}

/* Runs the checker; returns its status, *failed the named tensor's verdict. */
static int hk_golden_oracle_run(const hk_st_file *gold, const hk_st_file *got, hk_golden_dtype dt,
                                hk_golden_result *res, const char *name, int *failed)
{
    int s = hk_golden_check_case(gold, got, dt, NULL, res);
    hk_error_clear();
    const hk_golden_tensor_result *t = name ? hk_golden_oracle_find(res, name) : NULL;
    *failed = t ? (t->nfail > 0 || t->problem[0]) : -1;
    return s;
}

static const char *hk_golden_oracle_verdicts(const hk_st_file *gold, hk_golden_dtype dt, unsigned pick,
                                             hk_golden_result *res)
{
    hk_st_file *own = hk_golden_oracle_own(gold);
    if (!own) return NULL; /* out of memory: nothing to judge */
    const char *why = NULL;
    int failed;
    int s = hk_golden_oracle_run(gold, own, dt, res, NULL, &failed);
    if (s != HK_OK) { /* refused for the honest outputs: it must refuse any outputs (a golden-file property) */
        hk_st_free(own);
        return NULL;
    }
    if ((why = hk_golden_oracle_structure(res))) goto done;
    for (int i = 0; i < res->ntensors && !why; i++) { /* V1 */
        const hk_golden_tensor_result *t = &res->t[i];
        if ((t->nfail || t->problem[0]) && strncmp(t->problem, "mistrusted", 10) != 0 && !hk_golden_oracle_bad_bound(t))
            why = "V1: the golden's own outputs fail a tensor (not by the zero-trust rule or an unusable bound)";
    }
    json_t *tol = json_loads(hk_st_get_meta(gold, "tolerance"), 0, NULL);
    for (int i = 0; i < res->ntensors && !why; i++) { /* V2 */
        const hk_golden_tensor_result *t = &res->t[i];
        if (t->exact || hk_golden_oracle_bad_bound(t)) continue; /* an unusable bound fails its tensor (V1) */
        json_t *e = json_object_get(tol, t->name);
        hk_golden_tol_in in = {json_number_value(json_object_get(e, "K")), json_number_value(json_object_get(e, "n")),
                               json_number_value(json_object_get(e, "scale")), (double)(t->n ? t->n : 1)};
        hk_golden_tol m;
        if (hk_golden_tolerance(&in, dt, &m)) {
            hk_error_clear();
            why = "V2: a tensor compared with a bound whose ingredients are out of range";
        } else if (!(fabs(t->atol - m.atol) <= 1e-12 * m.atol && fabs(t->rtol - m.rtol) <= 1e-12 * m.rtol))
            why = "V2: a tensor compared with a bound that is not hk_golden_tolerance of its K, n, scale";
        else if (!(t->rtol < HK_GOLDEN_MAX_RTOL))
            why = "V2: a tensor compared with a bound looser than rtol 1e-3";
    }
    json_decref(tol);
    /* V3: one output, one element (chosen by the flags) */
    size_t nout = 0;
    for (size_t i = 0; i < own->ntensors; i++) nout += own->tensors[i].numel > 0;
    for (size_t i = 0, k = 0; i < own->ntensors && !why && nout; i++) {
        hk_st_tensor *t = &own->tensors[i];
        if (!t->numel || k++ != pick % nout) continue;
        const hk_golden_tensor_result *tr = hk_golden_oracle_find(res, t->name);
        if (!tr) break;
        size_t at = (pick / nout) % t->numel;
        if (t->dtype == HK_ST_F64 && !tr->exact) {
            double *v = t->data, ref = v[at], thr = tr->atol + tr->rtol * fabs(ref);
            double moved = ref + 2.0 * thr;
            if (!(fabs(moved - ref) > thr)) moved = nextafter(ref + thr, INFINITY);
            const double tries[3] = {moved, NAN, INFINITY};
            const char *what[3] = {"V3: an element moved beyond its threshold passes", "V3: a NaN element passes",
                                   "V3: an +Inf element passes"};
            for (int m = 0; m < 3 && !why; m++) {
                if (m == 0 && !(fabs(moved - ref) > thr)) continue; /* no double beyond the threshold */
                v[at] = tries[m];
                s = hk_golden_oracle_run(gold, own, dt, res, t->name, &failed);
                if (s != HK_OK || failed != 1) why = what[m];
            }
            v[at] = ref;
        } else if (tr->exact && (t->dtype == HK_ST_I64 || t->dtype == HK_ST_U8)) {
            unsigned char *b = (unsigned char *)t->data + at * hk_st_dtype_size(t->dtype), keep = b[0];
            b[0] = (unsigned char)(keep ^ 1u);
            s = hk_golden_oracle_run(gold, own, dt, res, t->name, &failed);
            if (s != HK_OK || failed != 1) why = "V3: an integer output off by one passes";
            b[0] = keep;
        }
    }
    if (!why) { /* V4 */
        s = hk_golden_check_case(gold, gold, dt, NULL, res);
        hk_error_clear();
        if (s != HK_OK || res->failed_tensors != res->ntensors) why = "V4: the golden file as its own output passes";
    }
done:
    hk_st_free(own);
    return why;
}

static const char *hk_golden_oracle(const uint8_t *data, size_t size)
{
    if (size < 5) return NULL;
    unsigned flags = data[0];
    size_t L = (size_t)data[1] | (size_t)data[2] << 8 | (size_t)data[3] << 16 | (size_t)data[4] << 24;
    const uint8_t *body = data + 5;
    size_t n = size - 5;
    if (L > n) L = n;
    hk_st_file *gold = NULL, *got = NULL;
    if (hk_st_parse(body, L, &gold) != HK_OK) { /* the reader's own fuzzer covers this */
        hk_error_clear();
        return NULL;
    }
    if (!(flags & 1)) hk_st_parse(body + L, n - L, &got); /* unparsable output = missing */
    hk_error_clear();
    hk_golden_result *res = calloc(1, sizeof *res);
    const char *why = NULL;
    hk_golden_dtype dt = (flags & 2) ? HK_GOLDEN_F32 : HK_GOLDEN_F64;
    if (!res) why = "out of memory";
    int s = why ? HK_OK : hk_golden_check_case(gold, got, dt, NULL, res);
    hk_error_clear();
    if (!why && s != HK_OK && s != HK_EFORMAT) why = "hk_golden_check_case returned neither HK_OK nor HK_EFORMAT";
    if (!why && s == HK_OK) why = hk_golden_oracle_structure(res);
    if (!why) why = hk_golden_oracle_verdicts(gold, dt, flags >> 2, res);
    free(res);
    hk_st_free(got);
    hk_st_free(gold);
    return why;
}

#endif
