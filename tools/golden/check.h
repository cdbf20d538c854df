/* hkref — libhkgolden: the golden checker.  Links ref/ and jansson only, so any
 * C program can gate a backend on the golden set (examples/c_check/).
 *
 * A golden case is one file <op>/<case>.safetensors (format: golden/README.md):
 * in.* / param.* / mask.* inputs, out.* / grad.* expected outputs, and in its
 * metadata the tolerance of every output for each dtype tier.  A backend
 * writes <case>.safetensors with the same out.* / grad.* names;
 * hk_golden_check_case compares one file, hk_golden_check_dir a directory. */
#ifndef HK_GOLDEN_CHECK_H
#define HK_GOLDEN_CHECK_H

#include "ref/tensorfile.h"

#include <stddef.h>
#include <stdio.h>

#define HK_GOLDEN_FORMAT "hkref-golden-1"
#define HK_GOLDEN_MAX_TENSORS 96

/* The tiers (golden/README.md, "Low-precision tiers"): F64, F32, and three
 * low-precision ones for backends that store tensors in bf16 / fp16 with f32
 * accumulation, or round matmul operands to TF32 (10-bit mantissa). */
typedef enum {
    HK_GOLDEN_F64 = 0,
    HK_GOLDEN_F32 = 1,
    HK_GOLDEN_BF16 = 2,
    HK_GOLDEN_F16 = 3,
    HK_GOLDEN_TF32 = 4
} hk_golden_dtype;
#define HK_GOLDEN_NTIERS 5
/* "f64" "f32" "bf16" "f16" "tf32" (the --dtype names and the tolerance JSON keys); "?" out of range. */
const char *hk_golden_dtype_name(hk_golden_dtype d);
/* HK_OK and *d for one of those names; HK_EINVAL naming them otherwise. */
int hk_golden_dtype_parse(const char *name, hk_golden_dtype *d);
/* 1 if a backend tensor of safetensors dtype dt may be checked at tier d:
 * F64 at every tier; F32 at f32 and below; BF16 at bf16; F16 at f16
 * (a tier never accepts a format narrower than the one it models). */
int hk_golden_dtype_accepts(hk_golden_dtype d, hk_st_dtype dt);
/* The largest rtol a tier allows (HK_GOLDEN_MAX_RTOL for f64 / f32). */
double hk_golden_max_rtol(hk_golden_dtype d);

/* ---- the tolerance model (golden/README.md, "Tolerances") ----
 * The one formula: the generator stores its result, the checker re-derives
 * it from the stored ingredients and compares.  For one float output:
 *   lambda = sqrt(2 ln(2 N / P)),  P = HK_GOLDEN_TOL_PFAIL
 *   n_eff  = min(n, lambda sqrt(n))          deterministic gamma_n vs Higham-Mary
 *   rtol   = K n_eff e,   atol = rtol S + K tiny
 * e = DBL_EPSILON (F64: backend and reference, u64 each) or FLT_EPSILON/2 +
 * DBL_EPSILON/2 (F32: u32 + u64), tiny = DBL_MIN / FLT_MIN (the underflow
 * floor), n the rounding steps on the longest dependency path, N the
 * tensor's elements, S the scale (0 for a relative-error-only output; with
 * row scales S_r, row r's atol is rtol S_r + K tiny).
 * The low tiers (bf16, f16: u_low = 2^-8, 2^-11; tf32: 2^-11) add the m
 * roundings to the low format on the path (stored tensors, the output, the
 * TF32 operands of matmuls), f32 doing the n arithmetic roundings:
 *   rtol = K (n_eff (u32 + u64) + m u_low),   atol = rtol S + K tiny_low
 * tiny_low = FLT_MIN (bf16, tf32: f32's exponent range), 2^-14 (f16). */
#define HK_GOLDEN_TOL_PFAIL 1e-9
/* Anything looser cannot tell a wrong formula (an O(1) relative error) from
 * rounding: such a tensor FAILS the check (reported, the run continues). */
#define HK_GOLDEN_MAX_RTOL 1e-3
/* The low tiers: 2^-1.  Their bounds are a few % to tens of % by nature
 * (one bf16 rounding is 0.4 %, a chain of m stored stages m times that); a
 * bound below 50 % still tells a factor of 2, a sign, a flipped mask, a
 * missing term as large as the output, NaN / inf from rounding -- not a
 * 10 % error, which only the f32 tier catches (golden/README.md). */
#define HK_GOLDEN_MAX_RTOL_LOW 0.5

typedef struct {
    double K;      /* >= 1 */
    double n;      /* rounding steps on the longest dependency path, >= 1 */
    double scale;  /* S >= 0 (the largest row scale when the output has row scales) */
    double count;  /* N, the number of elements of the tensor (>= 1) */
    double low;    /* m: roundings to the low format on the path (low tiers only; >= 1 for bf16 / f16,
                    * >= 0 for tf32; ignored by f64 / f32) */
} hk_golden_tol_in;

typedef struct {
    double atol, rtol; /* atol: for S (a row r with row scale S_r: rtol S_r + floor) */
    double floor;      /* K tiny */
    double n_eff, lambda;
    double u_low;      /* the low format's unit roundoff (0 for f64 / f32) */
} hk_golden_tol;

/* HK_EDOM if an ingredient is out of range (K < 1, n < 1, S < 0, N < 1, m out of range, non-finite);
 * HK_EINVAL for an unknown dtype. */
int hk_golden_tolerance(const hk_golden_tol_in *in, hk_golden_dtype dtype, hk_golden_tol *out);

typedef struct {
    char name[96];
    long n, nfail;
    double max_abs, max_rel, pct;  /* pct: worst err as % of its threshold */
    double atol, rtol;
    double zero_frac;              /* fraction of exact zeros in the reference */
    char worst[96];                /* multi-index of the worst element */
    double worst_got, worst_ref;
    int exact;                     /* integer tensor, compared bit-exactly */
    char problem[160];             /* "missing", "shape", "dtype", "mistrusted" ... or "" */
    /* The bound's ingredients (as stored, 0 for an exact tensor): K, n, S, and m (low tiers) */
    double K, nsteps, scale, m;
} hk_golden_tensor_result;

typedef struct {
    char name[128], op[64];
    int ntensors;
    hk_golden_tensor_result t[HK_GOLDEN_MAX_TENSORS];
    long failed_tensors;
    char problem[256];             /* case-level: missing / unreadable output file */
} hk_golden_result;

/* Compares the backend's file `got` against the golden file `gold`, with the
 * tolerances stored in gold for `dtype`.  Returns HK_OK when the comparison
 * ran (failures are in res); HK_EFORMAT if the golden file itself is bad
 * (a tolerance missing, NaN, negative, zero for a float tensor, or without
 * its ingredients K, n, scale; a non-finite reference element; a row scale
 * tensor missing or misshapen).  A tolerance that does not follow its stored
 * ingredients (hk_golden_tolerance), or whose rtol is >= 1e-3 (too loose to
 * catch a wrong formula), FAILS that tensor (problem set) and the case goes
 * on.  got may be NULL (file missing: every tensor fails); a got that carries
 * the golden format marker is refused (every tensor fails, res->problem says
 * why).  The first 10 failing elements of the case go to log. */
int hk_golden_check_case(const hk_st_file *gold, const hk_st_file *got, hk_golden_dtype dtype, FILE *log,
                         hk_golden_result *res);


/* The golden files under dir: sorted relative paths "<op>/<case>.safetensors"
 * (malloc'd array of malloc'd strings; free with hk_golden_list_free).
 * HK_EIO if dir, or a directory in it, cannot be opened (never a shorter list). */
int hk_golden_list_dir(const char *dir, char ***paths, size_t *n);
void hk_golden_list_free(char **paths, size_t n);

/* ---- a directory of cases ---- */

/* One compared case, as handed to the report callback. */
typedef struct {
    size_t index, count;            /* index-th (0-based) of the count golden files listed */
    const char *rel;                /* "<op>/<case>.safetensors" */
    const char *outputs_path;       /* the backend file read ("" for an in-process backend) */
    const hk_golden_result *result;
    int failed;                     /* a tensor failed or the case has a problem */
    const char *elements;           /* the first failing elements, one line each ("" if none) */
    /* Added with the selection options (all 0 / NULL for an unselective run): */
    int ignored;                    /* grad.* tensors of the golden file left out by forward_only / grads */
    const long *got_nan, *got_inf;  /* per result->t[i]: NaN / infinite elements in the backend's tensor
                                     * (NULL when nothing was read) */
    const char *skip_reason;        /* for the `skipped` callback: why the case was not compared */
} hk_golden_case_report;

/* An in-process backend (tests/, a C backend): given the golden case, returns
 * its outputs in *got (caller frees), or *got = NULL for a case it does not
 * implement (counted as skipped).  A non-zero status aborts the run. */
typedef int (*hk_golden_backend_fn)(void *ctx, const hk_st_file *gold, const char *rel, hk_st_file **got);

typedef struct {
    const char *golden;             /* directory of <op>/<case>.safetensors */
    const char *outputs;            /* the backend's directory of <case>.safetensors ... */
    hk_golden_backend_fn backend;   /* ... or an in-process backend (then outputs is NULL) */
    void *backend_ctx;
    hk_golden_dtype dtype;
    const char *prefix;             /* only cases whose name starts with it (NULL: all) */
    const char *op;                 /* only cases of this op (NULL: all) */
    void (*report)(void *ctx, const hk_golden_case_report *r); /* per case, may be NULL */
    void *report_ctx;

    /* ---- selection and partial gating (all optional; 0 / NULL: no restriction) ----
     * A golden file is selected when its op is one of ops[] (if nops > 0) AND
     * (prefix / op above) AND its name matches one of cases[] (if ncases > 0),
     * and neither its op is in exclude_ops[] nor its name matches one of
     * exclude_cases[].  Name patterns: see hk_golden_name_match. */
    const char *const *ops;
    size_t nops;
    const char *const *cases;
    size_t ncases;
    const char *const *exclude_ops;
    size_t nexclude_ops;
    const char *const *exclude_cases;
    size_t nexclude_cases;
    /* Which grad.* tensors are compared (out.* always are): forward_only = 1
     * compares none; else grads = NULL compares all, or a comma-separated
     * union of sets (hk_golden_grads_valid).  A grad.* left out is counted in
     * the case report's `ignored`, never compared, never required. */
    int forward_only;
    const char *grads;
    /* skip_missing = 1: a selected case whose backend file does not exist
     * (ENOENT) is skipped, not compared: counted in summary.skipped and handed
     * to `skipped` (a file that exists but cannot be read still fails). */
    int skip_missing;
    void (*skipped)(void *ctx, const hk_golden_case_report *r); /* per skipped case (result: op and name
                                                                   only), may be NULL; gets report_ctx */
    /* Golden-set integrity (manifest.h).  registry: the "<op>/<case>.safetensors"
     * of every case the caller's hkref registers (NULL: the manifest alone
     * says what the set is, as for a program without the case registry).
     * partial: a set missing cases is checked (the present ones) and
     * reported as partial instead of refused. */
    const char *const *registry;
    size_t nregistry;
    int partial;
} hk_golden_dir_opts;

typedef struct {
    long run, failed, skipped;      /* skipped: the in-process backend returned no outputs, or
                                     * (skip_missing) no backend file */
    long listed;                    /* golden files under the directory */
    long not_selected;              /* golden files the selection left out */
    long ignored;                   /* grad.* tensors left out by forward_only / grads, over the run */
    long total;                     /* cases the set should have (registry, else manifest) */
    long missing;                   /* of those, absent from the directory or the manifest */
    int partial;                    /* missing > 0 (only with opts.partial): never a full pass */
    char manifest_sha256[65];       /* SHA-256 of <golden>/MANIFEST: pin it to pin the set */
    int ondemand;                   /* the manifest says registry 0: an on-demand set (case.h,
                                     * hk_golden_write_ondemand), checked against its manifest alone */
} hk_golden_dir_summary;

/* 1 if case name `name` matches pattern `pat`: a pattern with a glob
 * character (* ? [) is an fnmatch(3) glob over the whole name; otherwise it
 * selects the case of exactly that name when `exact_exists` (some listed
 * case has that exact name), else every name that starts with it (so
 * `--case lora` is every LoRA case and a __REPRO line's full name is one case).
 * pat or name NULL: 0 (nothing matches). */
int hk_golden_name_match(const char *pat, const char *name, int exact_exists);

/* 1 if grad.* tensor `grad` ("grad.lora_A") of golden file gold is in the
 * gradient set `grads` (comma-separated union): all | none | inputs (the
 * gradient of an in.* tensor) | params (of a param.* tensor) | lora (of a
 * param.* whose name contains "lora_": the LoRA factors) | frozen (params
 * but not lora) | any other token: an fnmatch glob over the name after
 * "grad." (e.g. "W_*").  grads NULL = all; gold or grad NULL: 0. */
int hk_golden_grad_selected(const hk_st_file *gold, const char *grad, const char *grads);
/* HK_OK if every token of grads is a set name or a non-empty glob; else
 * HK_EINVAL naming the token. */
int hk_golden_grads_valid(const char *grads);

/* Checks every golden file under o->golden that the filters select, in sorted
 * order, after verifying the set: <golden>/MANIFEST must exist and list
 * every *.safetensors file with its SHA-256 (each file is hashed as it is
 * read); a file not listed, a listed file whose bytes differ, or a listed
 * case that the registry does not know is HK_EFORMAT; a missing case
 * (listed but absent, or registered but not listed) is HK_EFORMAT unless
 * o->partial (then sum->partial).  A backend output that is the golden file
 * (same inode: a link, or the golden directory given as outputs) or carries
 * its format marker (a copy) fails its case with a message saying so.
 * HK_OK when the run completed (failures are counted in *sum; a run where
 * every selected case was skipped has sum->run = 0: the caller must not call
 * that a pass); HK_EIO / HK_EFORMAT for an unreadable, malformed or
 * unverifiable golden set (the run stops there); HK_EINVAL when no golden
 * file matches the filters, when one of ops[] / cases[] matches no golden
 * file (a typo must not pass as a smaller run), or for a bad grads set. */
int hk_golden_check_dir(const hk_golden_dir_opts *o, hk_golden_dir_summary *sum);

#endif
