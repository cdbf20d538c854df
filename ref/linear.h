/* hkref — plain scalar double reference: the dense linear layer. */
#ifndef HK_LINEAR_H
#define HK_LINEAR_H

/* inp (N,IN), w (OUT,IN), bias (OUT) or NULL -> out (N,OUT):
 * out[n,o] = bias[o] + sum_i inp[n,i] * w[o,i]   (PyTorch nn.Linear layout). */
int hk_linear_forward(double *out, const double *inp, const double *w, const double *bias,
                      long N, long IN, long OUT);
/* dout (N,OUT) -> dinp (N,IN) +=, dw (OUT,IN) +=, dbias (OUT) +=.
 * Any of dinp, dw, dbias may be NULL to skip that gradient. */
int hk_linear_backward(double *dinp, double *dw, double *dbias, const double *dout,
                       const double *inp, const double *w, long N, long IN, long OUT);

#endif
