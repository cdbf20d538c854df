/* hkref — plain scalar double reference: LayerNorm over the last dimension.
 *
 *   out[n,c] = (x[n,c] - mean_n) * rstd_n * weight[c] + bias[c],
 *   mean_n = (1/C) sum_c x[n,c],  rstd_n = 1 / sqrt(var_n + eps),
 *   var_n = (1/C) sum_c (x[n,c] - mean_n)^2   (biased, as torch.nn.LayerNorm).
 * eps is passed explicitly (PyTorch's default is 1e-5; RoBERTa uses 1e-5). */
#ifndef HK_LAYERNORM_H
#define HK_LAYERNORM_H

#define HK_LAYERNORM_EPS_DEFAULT 1e-5

/* inp (N,C), weight (C), bias (C) -> out (N,C), mean (N), rstd (N) saved for backward.
 * eps must be finite and > 0; inp must be finite. */
int hk_layernorm_forward(double *out, double *mean, double *rstd, const double *inp, const double *weight,
                         const double *bias, double eps, long N, long C);
/* dout (N,C) -> dinp (N,C) +=, dweight (C) +=, dbias (C) +=; any of the three may be NULL. */
int hk_layernorm_backward(double *dinp, double *dweight, double *dbias, const double *dout, const double *inp,
                          const double *weight, const double *mean, const double *rstd, long N, long C);

#endif
