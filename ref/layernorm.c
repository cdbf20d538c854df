/* hkref — plain scalar double reference: LayerNorm over the last dimension
 * (see layernorm.h).  Storage: row-major (N,C), one normalization per row.
 * Two-pass statistics (mean first, then the centred sum of squares), so a
 * large common offset in a row does not cancel catastrophically.  A row whose
 * mean or variance overflows is an error (HK_EDOM), never a silent out = bias. */
#include "layernorm.h"

#include "error.h"

#include <math.h>

static double row_maxabs(const double *x, long C)
{
    double m = 0.0;
    for (long c = 0; c < C; c++) m = fmax(m, fabs(x[c]));
    return m;
}

static int check_dims(long N, long C)
{
    HK_REQUIRE(N > 0 && C > 0, HK_EINVAL, "layernorm shape (N=%ld, C=%ld) must be positive", N, C);
    return HK_OK;
}

// inp (N,C), weight (C), bias (C) -> out (N,C), mean (N), rstd (N)
int hk_layernorm_forward(double *out, double *mean, double *rstd, const double *inp, const double *weight,
                         const double *bias, double eps, long N, long C)
{
    HK_REQUIRE_PTR(out);
    HK_REQUIRE_PTR(mean);
    HK_REQUIRE_PTR(rstd);
    HK_REQUIRE_PTR(inp);
    HK_REQUIRE_PTR(weight);
    HK_REQUIRE_PTR(bias);
    HK_TRY(check_dims(N, C));
    HK_REQUIRE(isfinite(eps) && eps > 0, HK_EDOM,
               "layernorm eps must be finite and > 0 (got %g): a constant row would divide by 0", eps);
    HK_TRY(hk_check_finite(inp, N * C, "layernorm inp"));
    for (long n = 0; n < N; n++) {
        const double *x = inp + n * C;
        double m = 0.0;
        for (long c = 0; c < C; c++) m += x[c];
        m /= (double)C;
        double v = 0.0;
        for (long c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= (double)C;
        /* x^2 overflows from |x - mean| ~ 1.34e154 (sqrt(DBL_MAX)): the variance is then inf and
         * rstd 0, which would return out = bias as if all were well.  Refused instead. */
        HK_REQUIRE(isfinite(m) && isfinite(v), HK_EDOM,
                   "layernorm row %ld: the %s overflows (|x| up to %g): inputs need |x - mean| < %g / sqrt(C)", n,
                   isfinite(m) ? "variance" : "mean", row_maxabs(x, C), HK_LAYERNORM_MAX_DEV);
        double s = 1.0 / sqrt(v + eps);
        for (long c = 0; c < C; c++) out[n * C + c] = (x[c] - m) * s * weight[c] + bias[c];
        mean[n] = m;
        rstd[n] = s;
    }
    return HK_OK;
}

/* With xhat = (x - mean) rstd and g = dout * weight (exact for the biased
 * variance with eps inside the square root):
 *   dx = rstd * (g - mean_c(g) - xhat * mean_c(g * xhat)),
 *   dweight += dout * xhat,  dbias += dout. */
// dout (N,C), inp, weight, mean (N), rstd (N) -> dinp (N,C) +=, dweight (C) +=, dbias (C) +=
int hk_layernorm_backward(double *dinp, double *dweight, double *dbias, const double *dout, const double *inp,
                          const double *weight, const double *mean, const double *rstd, long N, long C)
{
    HK_REQUIRE_PTR(dout);
    HK_REQUIRE_PTR(inp);
    HK_REQUIRE_PTR(weight);
    HK_REQUIRE_PTR(mean);
    HK_REQUIRE_PTR(rstd);
    HK_TRY(check_dims(N, C));
    for (long n = 0; n < N; n++) {
        const double *x = inp + n * C, *dy = dout + n * C;
        const double m = mean[n], s = rstd[n];
        double gmean = 0.0, gxmean = 0.0;
        for (long c = 0; c < C; c++) {
            double g = dy[c] * weight[c];
            gmean += g;
            gxmean += g * ((x[c] - m) * s);
        }
        gmean /= (double)C;
        gxmean /= (double)C;
        for (long c = 0; c < C; c++) {
            double xhat = (x[c] - m) * s;
            if (dbias) dbias[c] += dy[c];
            if (dweight) dweight[c] += dy[c] * xhat;
            if (dinp) dinp[n * C + c] += s * (dy[c] * weight[c] - gmean - xhat * gxmean);
        }
    }
    return HK_OK;
}
