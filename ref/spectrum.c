/* hkref — plain scalar double reference: singular values and the DyLoRA
 * truncation spectrum (see spectrum.h).  LAPACKE is called only here. */
#include "spectrum.h"

#include "error.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// M (m,n) -> s (min(m,n))
int hk_spectrum_singular_values(double *s, const double *M, long m, long n)
{
    HK_REQUIRE_PTR(s);
    HK_REQUIRE_PTR(M);
    HK_REQUIRE(m > 0 && n > 0, HK_EINVAL, "svd shape (m=%ld, n=%ld) must be positive", m, n);
    HK_TRY(hk_check_finite(M, m * n, "svd matrix M"));
    double *a = malloc((size_t)(m * n) * sizeof(double));
    HK_REQUIRE(a != NULL, HK_ENOMEM, "svd: cannot allocate a %ldx%ld copy", m, n);
    memcpy(a, M, (size_t)(m * n) * sizeof(double));
    /* jobz = 'N': singular values only; U and VT are not referenced. */
    lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', (lapack_int)m, (lapack_int)n, a, (lapack_int)n, s, NULL,
                                     (lapack_int)m, NULL, (lapack_int)n);
    free(a);
    HK_REQUIRE(info >= 0, HK_EINVAL, "LAPACKE_dgesdd rejected argument %d", -(int)info);
    HK_REQUIRE(info == 0, HK_EFAIL, "LAPACKE_dgesdd did not converge (info %d)", (int)info);
    return HK_OK;
}

int hk_spectrum_adapter(double *sv, double *fro_trunc, double *fro_best, double *spec_trunc, double *spec_best,
                        const double *A, const double *B, long IN, long OUT, long r, double alpha)
{
    HK_REQUIRE_PTR(A);
    HK_REQUIRE_PTR(B);
    HK_REQUIRE(IN > 0 && OUT > 0 && r > 0, HK_EINVAL, "adapter shape (IN=%ld, OUT=%ld, r=%ld) must be positive", IN,
               OUT, r);
    HK_REQUIRE(isfinite(alpha), HK_ENAN, "adapter alpha must be finite (got %g)", alpha);
    HK_TRY(hk_check_finite(A, r * IN, "adapter A"));
    HK_TRY(hk_check_finite(B, OUT * r, "adapter B"));
    long mn = OUT < IN ? OUT : IN, NW = OUT * IN;
    double *w = malloc((size_t)(3 * NW + mn) * sizeof(double));
    HK_REQUIRE(w != NULL, HK_ENOMEM, "adapter spectrum: cannot allocate scratch (%ldx%ld)", OUT, IN);
    double *S = w, *dW = w + NW, *D = w + 2 * NW, *s = w + 3 * NW;
    int st = HK_OK;
    /* S_r = B A by rank-1 updates, in the same order as below, then dW. */
    memset(S, 0, (size_t)NW * sizeof(double));
    for (long k = 0; k < r; k++)
        for (long o = 0; o < OUT; o++)
            for (long i = 0; i < IN; i++) S[o * IN + i] += B[o * r + k] * A[k * IN + i];
    for (long j = 0; j < NW; j++) dW[j] = alpha / (double)r * S[j];
    st = hk_spectrum_singular_values(s, dW, OUT, IN);
    if (!st && sv) memcpy(sv, s, (size_t)mn * sizeof(double));
    if (!st && fro_best) {
        /* tail sums from the smallest singular value up, for accuracy */
        double tail = 0.0;
        for (long i = mn - 1; i >= 0; i--) {
            if (i < r) fro_best[i] = sqrt(tail); /* b = i+1 keeps s_1..s_{i+1} */
            tail += s[i] * s[i];
        }
        for (long b = mn + 1; b <= r; b++) fro_best[b - 1] = 0.0;
    }
    if (!st && spec_best)
        for (long b = 1; b <= r; b++) spec_best[b - 1] = b < mn ? s[b] : 0.0;
    if (!st && (fro_trunc || spec_trunc)) {
        memset(S, 0, (size_t)NW * sizeof(double));
        for (long b = 1; b <= r && !st; b++) {
            for (long o = 0; o < OUT; o++)
                for (long i = 0; i < IN; i++) S[o * IN + i] += B[o * r + b - 1] * A[(b - 1) * IN + i];
            double scale = alpha / (double)b, f = 0.0;
            for (long j = 0; j < NW; j++) {
                D[j] = scale * S[j] - dW[j];
                f += D[j] * D[j];
            }
            if (fro_trunc) fro_trunc[b - 1] = sqrt(f);
            if (spec_trunc) {
                st = hk_spectrum_singular_values(s, D, OUT, IN);
                if (!st) spec_trunc[b - 1] = s[0];
            }
        }
    }
    free(w);
    return st;
}
