/* hkref — the registry of named checks that `hkref verify`, `hkref gradcheck`
 * and the test gate all run.
 *
 * A module registers its checks by defining, in tools/checks/chk_<module>.c,
 *     const hk_check *hk_checks_<module>(size_t *n);
 * returning a static table.  The Makefile lists every such FILE in
 * a generated list (build/gen/checks.inc), so adding a module never edits a
 * shared file.  Groups in use: "gradcheck" (finite differences of a backward),
 * "theorem" (a claim of the papers checked numerically), "property",
 * "golden" (golden-set regeneration and checker self-tests). */
#ifndef HK_CHECKS_H
#define HK_CHECKS_H

#include "ref/gradcheck.h"

#include <stddef.h>
#include <stdio.h>

typedef struct {
    long cases;         /* cases / coordinates tried */
    long failed;        /* of those, how many failed */
    double worst;       /* worst deviation, in the check's own unit */
    double bound;       /* the bound `worst` is held to */
    char unit[24];      /* e.g. "err/tol", "ulp", "abs" */
    char detail[512];   /* where the worst case was, with a __REPRO hint on failure */
} hk_check_result;

typedef struct {
    const char *group;  /* "gradcheck", "theorem", "property", "golden" */
    const char *name;   /* the id: "softmax", "attndrop.thm1.forward" (never renamed: scripts use it) */
    const char *what;   /* one line: what is checked and why the bound */
    int (*run)(hk_check_result *res); /* HK_OK if it ran; pass/fail in res->failed */
    const char *title;  /* what a reader looks for, a sentence: "DropKey equals normalized
                           DropAttention in the forward pass" (`hkref verify` prints it next
                           to the id; every check has one: tests/test_cliux.c).  Last, so a
                           table written before it existed still compiles. */
} hk_check;

/* One prototype per tools/checks/chk_<module>.c (generated from the file names). */
#define HK_CHECKS(mod) const hk_check *hk_checks_##mod(size_t *n);
#include "checks.inc"
#undef HK_CHECKS

size_t hk_checks_count(void);
const hk_check *hk_checks_get(size_t i);

/* Runs every check whose group equals `group` (all when NULL) and whose name
 * starts with `prefix` (all when NULL), printing one table row each to out.
 * Returns the number of failing (or erroring) checks. */
long hk_checks_run(const char *group, const char *prefix, FILE *out, int verbose);

/* Which checks to run or list: every field that is set must match. */
typedef struct {
    const char *group;  /* exactly this group; NULL: any */
    const char *id;     /* exactly this id; NULL: any */
    const char *substr; /* a substring of the id or of the title, case-insensitive; NULL: any */
    const char *prefix; /* the id starts with it; NULL: any */
    const char *id_contains; /* a substring of the id (case-sensitive); NULL: any */
} hk_check_filter;
int hk_check_matches(const hk_check *c, const hk_check_filter *f);
/* Number of registered checks the filter selects. */
size_t hk_checks_count_matching(const hk_check_filter *f);

/* Runs every check f selects, printing a header and one table row each
 * (id, cases, worst, bound, unit, result, title) to out (may be NULL).
 * before(c, k, n, ctx), if set, is called before the k-th of n selected
 * checks runs and after(ctx) before its row is printed (a progress line).
 * Returns the number of failing (or erroring) checks. */
long hk_checks_run_filter(const hk_check_filter *f, FILE *out, int verbose,
                          void (*before)(const hk_check *c, size_t k, size_t n, void *ctx), void (*after)(void *ctx),
                          void *ctx);

/* Runs one check, turning an error status into a failed result with the
 * message in detail. Returns 1 if it passed. */
int hk_check_run_one(const hk_check *c, hk_check_result *res);

/* Fills a result from a gradcheck report: cases = coordinates, worst =
 * err/tol ratio, bound = 1. */
void hk_check_from_gc(hk_check_result *res, const hk_gc_report *rep);

/* sum_i out[i] * w[i]: the scalar loss through which a gradcheck sees every
 * output (w is the fixed random upstream gradient). */
double hk_dot(const double *out, const double *w, long n);

#endif
