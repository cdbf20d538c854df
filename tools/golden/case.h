/* hkref — the golden set: a table of cases (generator) and the backend
 * checker.  The format is documented op by op in golden/README.md.
 *
 * Generator.  A case is a function that, given a builder `hk_case` seeded
 * from the case's own seed, declares its tensors:
 *     double *x  = hk_case_in(g, "in.x", HK_SHAPE(N, C));      // zeroed, owned by g
 *     hk_case_fill(g, x, N * C, -3.0, 3.0);                     // F32-exact values
 *     double *y  = hk_case_out(g, "out.y", HK_SHAPE(N, C), 4, C + 3, 0, "note");
 *     ... call ref/ to compute y and the gradients ...
 * Contents are captured when the case finishes (hk_golden_build), so a case
 * may modify its buffers after declaring them.  Every in.* / param.* value
 * must be exactly representable in binary32 (checked): an F32 backend then
 * reads the inputs exactly and its error is its own arithmetic only, which is
 * what the F32 tolerances bound.
 *
 * Cases register themselves like checks: tools/golden/cases_<op>.c defines
 *     const hk_golden_case *hk_golden_<op>(size_t *n);
 * and the Makefile lists those FILES in build/gen/golden.inc. */
#ifndef HK_GOLDEN_CASE_H
#define HK_GOLDEN_CASE_H

#include "golden/check.h"
#include "ref/tensorfile.h"

#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* HK_SHAPE(a, b, c) expands to the two arguments `ndim, shape`. */
#define HK_SHAPE(...) (int)(sizeof((const long[]){__VA_ARGS__}) / sizeof(long)), (const long[]){__VA_ARGS__}

typedef struct hk_case hk_case;

typedef struct {
    const char *op;     /* golden/<op>/ */
    const char *name;   /* file name without .safetensors; unique over the set */
    const char *source; /* equation / formula reference, stored as metadata `source` */
    unsigned long seed; /* seeds the builder's generator (stored as metadata `seed`) */
    int (*build)(hk_case *g, const void *arg);
    const void *arg;    /* the case's variant parameters (a static struct of the op's file) */
} hk_golden_case;

/* One prototype per tools/golden/cases_<op>.c (generated from the file names). */
#define HK_GOLDEN(op) const hk_golden_case *hk_golden_##op(size_t *n);
#include "golden.inc"
#undef HK_GOLDEN

size_t hk_golden_count(void);
const hk_golden_case *hk_golden_get(size_t i);

/* ---- builder (used by tools/golden/cases_<op>.c) ---- */

gsl_rng *hk_case_rng(hk_case *g);
/* A zeroed F64 tensor `name` (in.*, param.*, in.d_*) owned by g. NULL on error. */
double *hk_case_in(hk_case *g, const char *name, int ndim, const long *shape);
/* A zeroed U8 mask `name` (mask.*, 1 = dropped) owned by g. */
uint8_t *hk_case_mask(hk_case *g, const char *name, int ndim, const long *shape);
/* A zeroed I64 tensor (drawn ranks, labels) owned by g; stored as is. */
int64_t *hk_case_int(hk_case *g, const char *name, int ndim, const long *shape);
/* An expected float output (out.*, grad.*) with its tolerance:
 *   rtol = K*n*eps, atol = K*n*eps*S   for eps = DBL_EPSILON (F64), FLT_EPSILON (F32)
 * S = `scale` if > 0, else max |ref| over the tensor (1 if the tensor is all
 * zeros).  `note` is the derivation (stored in the tolerance JSON). */
double *hk_case_out(hk_case *g, const char *name, int ndim, const long *shape, double K, double n, double scale,
                  const char *note);
/* Sets the scale S of output `name` after the case has computed it. */
void hk_case_set_scale(hk_case *g, const char *name, double scale);
/* Adds dn to the rounding-step count n of every output whose name starts
 * with `prefix` (a term known only after the case ran, e.g. a logit range). */
void hk_case_add_terms(hk_case *g, const char *prefix, double dn);
/* Marks output `name` as mostly zeros by design (all-masked rows, high p):
 * exempts it from the zero-trust rule (> 50% exact zeros is otherwise an error). */
void hk_case_zeros_expected(hk_case *g, const char *name);
/* x[0..n) <- uniform [lo, hi) rounded to binary32 (values like 2.385, never 0/1 shortcuts). */
void hk_case_fill(hk_case *g, double *x, long n, double lo, double hi);
/* Rounds x[0..n) to binary32 (after a case shifts or scales its inputs). */
void hk_case_round32(double *x, long n);
/* Helpers for the term scale S of multilinear ops: running the reference on
 * |inputs| gives, per element, the sum of |terms| (no cancellation), whose
 * max is S.  hk_case_abs_copy returns a malloc'd |src| copy owned by g. */
double *hk_case_abs_copy(hk_case *g, const double *src, long n);
double *hk_case_scratch(hk_case *g, long n);      /* zeroed, owned by g, not stored */
double hk_case_maxabs(const double *x, long n);
/* Consistency-loss bounds (golden_consistency.c), shared by the framework
 * loss head: *Sl bounds sum |terms| of the row-summed loss, *Sg the largest
 * row sum of |gradient partials|, *R the largest |log-prob|. kind is an
 * hk_consistency. */
void hk_case_cons_bounds(int kind, const double *z1, const double *z2, long N, long C, double *Sl, double *Sg,
                       double *R);
/* Attention helpers (golden_attention.c, golden_attndrop.c, golden_train.c):
 * rows of a (B,NH,T,T) mask with no kept key (pad (B,T) or NULL);
 * max(R, ceil(max |g|)) over the finite entries of g (padded keys are -inf). */
long hk_case_allmasked_rows(const uint8_t *mask, const uint8_t *pad, long B, long NH, long T);
double hk_case_logit_range(const double *g, long n, double R);
/* Config entries (metadata `config`, JSON with sorted keys). */
void hk_case_cfg_int(hk_case *g, const char *key, long v);
void hk_case_cfg_real(hk_case *g, const char *key, double v);
void hk_case_cfg_str(hk_case *g, const char *key, const char *v);
/* config "lora": the letters of the adapted projections, q k v o for bits 0..3 (e.g. "kv"). */
void hk_case_cfg_lora(hk_case *g, unsigned lora);

/* Builds one case into a new file object (caller frees with hk_st_free). */
int hk_golden_build(const hk_golden_case *c, hk_st_file **out);
/* Writes every case whose name starts with `prefix` (all when NULL) to
 * dir/<op>/<case>.safetensors, atomically, then dir/MANIFEST (manifest.h),
 * last and atomically; a prefix run keeps the previous manifest's entries
 * whose files still have the recorded bytes.  Temporaries an interrupted run
 * left in dir and its op directories are removed first.  log (may be NULL)
 * gets one line per file. */
int hk_golden_generate(const char *dir, const char *prefix, FILE *log, long *nwritten);
/* Compares a fresh build of every case with dir/<op>/<case>.safetensors byte
 * for byte, and the manifest a fresh generate writes with dir/MANIFEST;
 * *ncases compared, *ndiff differing, missing or stale (names to log). */
int hk_golden_compare_dir(const char *dir, FILE *log, long *ncases, long *ndiff);

#endif
