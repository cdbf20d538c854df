/* hkref — plain scalar double reference: the LoRA linear layer.
 *
 *   y = x W0^T + bias + scale * dropout(x) A^T B^T,   scale = alpha / r
 *
 * W0 (OUT,IN) and bias are frozen; A (r,IN) and B (OUT,r) are trained.
 * dropout(x) = x * (1 - mask) / (1 - p), mask (N,IN) of {0,1}, 1 = dropped
 * (loralib / peft apply dropout to the LoRA input only); mask NULL = no
 * dropout (p must then be 0).
 * B is addressed with a row stride ldB >= r, so DyLoRA's truncation
 * B[:, :b] is the same call with r = b, ldB = r_max, scale = alpha / b;
 * A[:b, :] is simply the first b rows. */
#ifndef HK_LORA_H
#define HK_LORA_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

/* The shape and scale of one LoRA call: N rows of x, IN -> OUT features,
 * rank r, B's row stride ldB >= r (columns < r used), scale = alpha / r
 * (DyLoRA's truncation: r = b, ldB = r_max, scale = alpha / b). */
typedef struct {
    long N, IN, OUT, r, ldB;
    double scale;
} hk_lora_dims;

// x (N,IN), W0 (OUT,IN), bias (OUT) or NULL, A (r,IN), B (OUT,ldB), mask (N,IN) or NULL
//   -> y (N,OUT), xa (N,r) = dropout(x) A^T saved for backward
int hk_lora_forward(double *y, double *xa, const double *x, const double *W0, const double *bias,
                    const double *A, const double *B, const uint8_t *mask, double p, const hk_lora_dims *dims);
// dy (N,OUT) -> dx (N,IN) +=, dA (r,IN) +=, dB (OUT,ldB) += (columns < r only); any may be NULL
int hk_lora_backward(double *dx, double *dA, double *dB, const double *dy, const double *x, const double *xa,
                     const double *W0, const double *A, const double *B, const uint8_t *mask, double p,
                     const hk_lora_dims *dims);

/* loralib / peft init: A ~ kaiming_uniform(a = sqrt(5)) i.e. U(-1/sqrt(IN), 1/sqrt(IN)),
 * B = 0, drawn from the caller's generator.  A (r,IN), B (OUT,r). */
int hk_lora_init(double *A, double *B, long IN, long OUT, long r, gsl_rng *rng);

/* W (OUT,IN) += sign * scale * B A, sign = +1 (merge) or -1 (unmerge).
 * Fails (HK_ENAN) without writing if any result would be non-finite. */
int hk_lora_merge(double *W, const double *A, const double *B, long IN, long OUT, long r, long ldB,
                  double scale, int sign);

#endif
