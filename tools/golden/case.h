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

/* ---- parametric builders --------------------------------------------------
 * Every op has ONE builder that takes its shape and settings at run time: an
 * argument struct filled from "KEY=VALUE,KEY=VALUE" over the op's defaults
 * (hk_golden_params_apply).  A committed case is one such string plus a seed
 * and a name; `hkref golden generate --op OP --set ...` runs the same parser
 * and the same builder, so every committed file is one instantiation of it. */

typedef enum {
    HK_PK_INT,    /* long, closed range [lo, hi] */
    HK_PK_REAL,   /* double, finite, [lo, hi] (or [lo, hi) with HK_PF_HI_OPEN) */
    HK_PK_ENUM,   /* int: index of the value in names[] */
    HK_PK_STR,    /* char[size]: a name (letters, digits, '_', '-', '.') */
    HK_PK_LORA,   /* unsigned: projection letters of "qkvo" (bit i = "qkvo"[i]); "none" = 0 */
    HK_PK_COUNTS  /* hk_counts: "a:b:c" per batch element (one value: every batch element) */
} hk_param_kind;

enum { HK_PF_HI_OPEN = 1 };

#define HK_COUNTS_MAX 16
typedef struct {
    int n;                    /* values given (0: none); 1: the value applies to every batch element */
    long v[HK_COUNTS_MAX];
} hk_counts;
/* The count for batch element b (0 past the list; the single value for every b). */
long hk_counts_at(const hk_counts *c, long b);

typedef struct {
    const char *key;
    hk_param_kind kind;
    size_t offset;            /* of the field in the op's argument struct */
    double lo, hi;            /* INT / REAL / COUNTS entries: allowed range */
    unsigned flags;           /* HK_PF_* */
    const char *const *names; /* ENUM: NULL-terminated value names */
    size_t size;              /* STR: buffer size */
    const char *help;
} hk_golden_param;

/* Table entries (T the argument struct, f its field; ENUM fields are int). */
#define HK_P_INT(T, f, key, lo, hi, help) {key, HK_PK_INT, offsetof(T, f), lo, hi, 0, NULL, 0, help}
#define HK_P_REAL(T, f, key, lo, hi, help) {key, HK_PK_REAL, offsetof(T, f), lo, hi, 0, NULL, 0, help}
#define HK_P_RATE(T, f, key, help) {key, HK_PK_REAL, offsetof(T, f), 0, 1, HK_PF_HI_OPEN, NULL, 0, help}
#define HK_P_ENUM(T, f, key, names, help) {key, HK_PK_ENUM, offsetof(T, f), 0, 0, 0, names, 0, help}
#define HK_P_STR(T, f, key, help) {key, HK_PK_STR, offsetof(T, f), 0, 0, 0, NULL, sizeof(((T *)0)->f), help}
#define HK_P_LORA(T, f, key, help) {key, HK_PK_LORA, offsetof(T, f), 0, 0, 0, NULL, 0, help}
#define HK_P_COUNTS(T, f, key, lo, hi, help) {key, HK_PK_COUNTS, offsetof(T, f), lo, hi, 0, NULL, 0, help}
#define HK_NPARAMS(table) (sizeof(table) / sizeof((table)[0]))

typedef struct hk_golden_op {
    const char *op;           /* golden/<op>/ */
    const char *source;       /* metadata `source` */
    size_t arg_size;
    const void *defaults;     /* an argument struct holding every default */
    const hk_golden_param *params;
    size_t nparams;
    /* Keys outside params (train_step: the framework's own fields), or NULL. */
    int (*extra)(void *arg, const char *key, const char *value);
    const char *extra_help;
    /* Cross-field rules with a message naming the setting; may derive fields
     * from the settings (NULL: none). */
    int (*check)(void *arg);
    /* The metadata `source` for these settings (NULL: `source`). */
    const char *(*source_for)(const void *arg);
    int (*build)(hk_case *g, const void *arg);
} hk_golden_op;

typedef struct {
    const hk_golden_op *op;
    const char *name;         /* file name without .safetensors; unique over the set */
    unsigned long seed;       /* seeds the builder's generator (stored as metadata `seed`) */
    const char *params;       /* "KEY=VALUE,..." over the op's defaults ("" = defaults) */
} hk_golden_case;

/* One prototype per tools/golden/cases_<op>.c (generated from the file names). */
#define HK_GOLDEN(op) const hk_golden_case *hk_golden_##op(size_t *n);
#include "golden.inc"
#undef HK_GOLDEN

size_t hk_golden_count(void);
const hk_golden_case *hk_golden_get(size_t i);
/* The ops (one descriptor per golden/<op>/ directory, in registry order). */
size_t hk_golden_op_count(void);
const hk_golden_op *hk_golden_op_get(size_t i);
const hk_golden_op *hk_golden_op_find(const char *name); /* NULL if unknown */
const hk_golden_case *hk_golden_case_find(const char *name); /* NULL if unknown */

/* Applies "KEY=VALUE,KEY=VALUE" (NULL or "" = nothing) to arg, in order (a
 * later value of a key replaces an earlier one).  Unknown keys, values out of
 * range or unparsable: HK_EINVAL / HK_EDOM naming the key and the allowed
 * values.  arg must hold op->arg_size bytes, initialised (defaults or an
 * earlier apply). */
int hk_golden_params_apply(const hk_golden_op *op, void *arg, const char *kvlist);
/* Defaults, then every list in order, then op->check. */
int hk_golden_params_parse(const hk_golden_op *op, void *arg, const char *const *lists, int nlists);
/* One line per setting (key, kind, default, range or values, help) to f. */
void hk_golden_params_help(const hk_golden_op *op, FILE *f);

/* ---- builder (used by tools/golden/cases_<op>.c) ---- */

gsl_rng *hk_case_rng(hk_case *g);
/* Inputs of a case may be GIVEN (`hkref golden reference`: a user's own
 * in.* / param.* / mask.* tensors): hk_case_in / _mask / _int then return the
 * given values (shape and dtype checked against the declaration, masks 0/1),
 * hk_case_fill leaves them alone, and the builder must not overwrite them:
 * it asks hk_case_is_given before sampling a mask or deriving an input. */
int hk_case_is_given(const hk_case *g, const void *data);
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
/* Marks output `name` as relative-error only (golden/README.md,
 * "Tolerances"): every element's error is bounded by rtol |ref| (softmax
 * weights: exp, positive sums and divisions), so atol is only the dtype's
 * underflow floor and an element whose reference is exactly 0 must be 0. */
void hk_case_relative(hk_case *g, const char *name);
/* Gives output `name` a per-row scale: S_r for each row r of its last axis
 * (rows = product of the leading ndim-1 axes; S has that many entries),
 * stored as tensor scale.<name>; the checker's atol for row r is rtol S_r
 * (+ the floor).  The scalar scale becomes max S_r (for a checker that
 * ignores the row scales: looser, never tighter). */
void hk_case_row_scale(hk_case *g, const char *name, const double *S, long rows);
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
void *hk_case_alloc(hk_case *g, size_t bytes);    /* zeroed bytes, owned by g, not stored */
double hk_case_maxabs(const double *x, long n);
/* Consistency-loss bounds (golden_consistency.c), shared by the framework
 * loss head: *Sl bounds sum |terms| of the row-summed loss, *Sg the largest
 * row sum of |gradient partials|, *R the largest |log-prob|. kind is an
 * hk_consistency. */
void hk_case_cons_bounds(int kind, const double *z1, const double *z2, long N, long C, double *Sl, double *Sg,
                       double *R);
/* The first-order error scale of one row of a softmax backward
 * dx_c = y_c (d_c - s), s = sum_k y_k d_k (C entries), where each d_k may
 * itself carry an error scaled by D_k >= |d_k| (D NULL: D = |d|, d exact or
 * with a relative error):
 *   max_c y_c (D_c + sum_k y_k D_k + |d_c - s|)
 * (the errors of d_c and of s, and the subtraction's and y_c's own relative
 * error times |d_c - s|); 0 for a row of zero weights. */
double hk_case_softmax_grad_scale(const double *y, const double *d, const double *D, long C);
/* Attention helpers (golden_attention.c, golden_attndrop.c, golden_train.c):
 * rows of a (B,NH,T,T) mask with no kept key (pad (B,T) or NULL);
 * max(R, ceil(max |g|)) over the finite entries of g (padded keys are -inf). */
long hk_case_allmasked_rows(const uint8_t *mask, const uint8_t *pad, long B, long NH, long T);
/* Key padding from per-batch counts: the first left[b] and the last right[b]
 * keys of batch element b are padded (pad (B,T), 1 = padded); HK_EDOM if a
 * batch element would have no key left.  A given pad is validated instead. */
int hk_case_padding(hk_case *g, uint8_t *pad, long B, long T, const hk_counts *right, const hk_counts *left);
/* drop_keys = lo:hi (a counts setting with 0 or 2 values): keys lo..hi-1 of
 * every row of mask (B,NH,T,T) dropped too, padded keys excepted (a whole
 * key tile masked).  HK_EDOM unless 0 <= lo < hi <= T. */
int hk_case_drop_keys(uint8_t *mask, const uint8_t *pad, long B, long NH, long T, const hk_counts *range);
/* 1 if some row of mask (B,NH,T,T) drops the non-padded keys K-1 and K both
 * (a dropped run straddling a tile edge at key K). */
int hk_case_straddles(const uint8_t *mask, const uint8_t *pad, long B, long NH, long T, long K);
double hk_case_logit_range(const double *g, long n, double R);
/* Config entries (metadata `config`, JSON with sorted keys). */
void hk_case_cfg_int(hk_case *g, const char *key, long v);
void hk_case_cfg_real(hk_case *g, const char *key, double v);
void hk_case_cfg_str(hk_case *g, const char *key, const char *v);
/* config "lora": the letters of the adapted projections, q k v o for bits 0..3 (e.g. "kv"). */
void hk_case_cfg_lora(hk_case *g, unsigned lora);

/* Builds one case into a new file object (caller frees with hk_st_free). */
int hk_golden_build(const hk_golden_case *c, hk_st_file **out);
/* Builds a case of `op` from settings lists applied over the op's defaults
 * (hk_golden_params_parse), seeded by `seed`, named `name` (metadata `case`).
 * given (may be NULL): in.* / param.* / mask.* tensors used instead of drawn
 * ones (out.* / grad.* / scale.* in it are ignored; any other tensor, or one
 * the case does not declare, is an error).  record_params: store the
 * settings as metadata `params` (on-demand cases; the committed set does not). */
int hk_golden_build_op(const hk_golden_op *op, const char *name, unsigned long seed, const char *const *lists,
                       int nlists, const hk_st_file *given, int record_params, hk_st_file **out);
/* Writes every case whose name starts with `prefix` (all when NULL) to
 * dir/<op>/<case>.safetensors, atomically, then dir/MANIFEST (manifest.h),
 * last and atomically; a prefix run keeps the previous manifest's entries
 * whose files still have the recorded bytes.  Temporaries an interrupted run
 * left in dir and its op directories are removed first.  log (may be NULL)
 * gets one line per file. */
int hk_golden_generate(const char *dir, const char *prefix, FILE *log, long *nwritten);
/* Writes one on-demand case f (op, name) to dir/<op>/<name>.safetensors
 * atomically and records it in dir/MANIFEST, whose `registry` line is 0: an
 * on-demand set, checked against its manifest alone (no registry of
 * committed cases).  A dir whose manifest has registry > 0 holds a committed
 * set and is refused (HK_EINVAL), as is a name that is not a file name.
 * path (may be NULL) gets the file written. */
int hk_golden_write_ondemand(const char *dir, const hk_st_file *f, const char *op, const char *name, char *path,
                             size_t path_size);
/* Compares a fresh build of every case with dir/<op>/<case>.safetensors byte
 * for byte, and the manifest a fresh generate writes with dir/MANIFEST;
 * *ncases compared, *ndiff differing, missing or stale (names to log). */
int hk_golden_compare_dir(const char *dir, FILE *log, long *ncases, long *ndiff);

#endif
