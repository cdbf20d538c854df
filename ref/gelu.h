/* hkref — plain scalar double reference: GELU, element-wise.
 *
 *   HK_GELU_ERF  (default; RoBERTa, torch.nn.GELU()):  gelu(x) = x Phi(x) = 0.5 x (1 + erf(x/sqrt 2))
 *   HK_GELU_TANH (GPT-2, llm.c, torch approximate='tanh'):
 *                gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 * Inputs must be finite (gelu(-inf) would be -inf * 0). */
#ifndef HK_GELU_H
#define HK_GELU_H

typedef enum { HK_GELU_ERF = 0, HK_GELU_TANH = 1 } hk_gelu_kind;

// inp (n) -> out (n)
int hk_gelu_forward(double *out, const double *inp, long n, hk_gelu_kind kind);
// dout (n), inp (n) -> dinp (n) +=
int hk_gelu_backward(double *dinp, const double *dout, const double *inp, long n, hk_gelu_kind kind);

#endif
