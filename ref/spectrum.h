/* hkref — plain scalar double reference: singular values (LAPACKE) and the
 * DyLoRA truncation error against the best rank-b approximation.
 *
 * Eckart–Young–Mirsky: for M with singular values s_1 >= s_2 >= ..., the best
 * rank-b approximation [M]_b (truncated SVD) has
 *     ||M - [M]_b||_F = sqrt(sum_{i>b} s_i^2),   ||M - [M]_b||_2 = s_{b+1},
 * and no rank-b matrix does better.  DyLoRA's truncated update
 * dW_b = (alpha/b) B[:,:b] A[:b,:] has rank <= b, so its distance to the full
 * update dW = (alpha/r) B A is at least that optimum; the ratio says how well
 * training has ordered the rank-1 components (DY §4). */
#ifndef HK_SPECTRUM_H
#define HK_SPECTRUM_H

/* M (m,n) row-major -> s (min(m,n)) singular values, descending, by
 * LAPACKE_dgesdd (jobz = 'N') on a private copy of M. HK_ENAN on a
 * non-finite entry, HK_EFAIL if LAPACK does not converge. */
int hk_spectrum_singular_values(double *s, const double *M, long m, long n);

/* Adapter A (r,IN), B (OUT,r), scale alpha/r.  Every output may be NULL.
 *   sv (min(OUT,IN))             singular values of dW = (alpha/r) B A
 *   for b = 1..r, at index b-1:
 *   fro_trunc  ||dW_b - dW||_F   fro_best  sqrt(sum_{i>b} sv_i^2)
 *   spec_trunc ||dW_b - dW||_2   spec_best sv_{b+1} (0 when b >= min(OUT,IN))
 * dW_b is built incrementally (S_b = S_{b-1} + B[:,b-1] A[b-1,:], dW_b =
 * (alpha/b) S_b), so dW_r - dW is exactly 0. */
int hk_spectrum_adapter(double *sv, double *fro_trunc, double *fro_best, double *spec_trunc, double *spec_best,
                        const double *A, const double *B, long IN, long OUT, long r, double alpha);

#endif
