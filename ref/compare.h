/* hkref — element-wise tensor comparison, reported like benchdnn.
 *
 * An element passes when |got - ref| <= atol + rtol * |ref| (per element, so
 * atol matters near zero and rtol elsewhere).  Non-finite values: ref and got
 * must both be the same infinity; any NaN fails.  The first `max_print`
 * failures are written to `log` (if not NULL) with their multi-index; the
 * result holds the counts, the worst element (largest err / threshold) and
 * the max abs / rel errors. */
#ifndef HK_COMPARE_H
#define HK_COMPARE_H

#include <stdio.h>

typedef struct {
    long n, nfail;
    long worst_index;        /* flat index of the worst element (-1 if n = 0) */
    double worst_got, worst_ref;
    double max_abs, max_rel; /* over all elements (rel uses |ref|; 0/0 counts 0) */
    double worst_ratio;      /* worst err / threshold; < 1 when all pass */
} hk_cmp_result;

/* Returns HK_OK after comparing (see res->nfail), HK_EINVAL / HK_EDOM on bad
 * arguments: atol or rtol negative or NaN is rejected, never used. */
int hk_compare(const double *got, const double *ref, long n, const long *shape, int ndim,
               const char *name, double atol, double rtol, FILE *log, int max_print,
               hk_cmp_result *res);

/* As hk_compare, with a per-row absolute tolerance: element i passes when
 * |got - ref| <= atol_row[i / row_len] + rtol |ref| (row_len > 0 divides n;
 * every atol_row entry >= 0).  atol_row NULL: the scalar atol of hk_compare. */
int hk_compare_rows(const double *got, const double *ref, long n, const long *shape, int ndim, const char *name,
                    const double *atol_row, long row_len, double rtol, FILE *log, int max_print, hk_cmp_result *res);

/* Formats the multi-index of flat index i for shape (ndim) as "[a,b,c]". */
void hk_format_index(char *buf, size_t size, long i, const long *shape, int ndim);

#endif
