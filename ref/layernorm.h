/* hkref — plain scalar double reference: LayerNorm over the last dimension.
 *
 *   out[n,c] = (x[n,c] - mean_n) * rstd_n * weight[c] + bias[c],
 *   mean_n = (1/C) sum_c x[n,c],  rstd_n = 1 / sqrt(var_n + eps),
 *   var_n = (1/C) sum_c (x[n,c] - mean_n)^2   (biased, as torch.nn.LayerNorm).
 * eps is passed explicitly (PyTorch's default is 1e-5; RoBERTa uses 1e-5). */
#ifndef HK_LAYERNORM_H
#define HK_LAYERNORM_H

#define HK_LAYERNORM_EPS_DEFAULT 1e-5
/* sqrt(DBL_MAX): (x - mean)^2 overflows beyond it.  A row whose mean or
 * variance is not finite (some |x - mean| >= this / sqrt(C), or a sum of x
 * beyond DBL_MAX) is refused with HK_EDOM rather than normalized to bias. */
#define HK_LAYERNORM_MAX_DEV 1.3407807929942596e154

/* inp (N,C), weight (C), bias (C) -> out (N,C), mean (N), rstd (N) saved for backward.
 * eps must be finite and > 0; inp must be finite; mean and variance of every
 * row must be finite (HK_EDOM otherwise, see HK_LAYERNORM_MAX_DEV). */
int hk_layernorm_forward(double *out, double *mean, double *rstd, const double *inp, const double *weight,
                         const double *bias, double eps, long N, long C);
/* dout (N,C) -> dinp (N,C) +=, dweight (C) +=, dbias (C) +=; any of the three may be NULL. */
int hk_layernorm_backward(double *dinp, double *dweight, double *dbias, const double *dout, const double *inp,
                          const double *weight, const double *mean, const double *rstd, long N, long C);

#endif
