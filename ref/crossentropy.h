/* hkref — plain scalar double reference: cross-entropy from logits.
 *
 *   loss = -(1/N) sum_n log softmax(logits[n,:])[labels[n]]
 * Reduction: mean over the N rows (torch.nn.CrossEntropyLoss's default
 * reduction='mean' with no class weights and no ignore_index; every row
 * counts).  Labels are int64_t (torch's dtype) and must lie in [0, C); a
 * label out of range is HK_EDOM naming the row.  Logits may be -inf for
 * classes other than the label (weight 0, like softmax.h); the label's own
 * logit -inf would make the loss infinite and is HK_EDOM. */
#ifndef HK_CROSSENTROPY_H
#define HK_CROSSENTROPY_H

#include <stdint.h>

// logits (N,C), labels (N) -> *loss (scalar), logp (N,C) = log-softmax, saved for backward
int hk_crossentropy_forward(double *loss, double *logp, const double *logits, const int64_t *labels, long N,
                            long C);
// dloss (scalar upstream gradient), logp (N,C), labels (N) -> dlogits (N,C) +=
//   dlogits[n,c] += (dloss / N) * (exp(logp[n,c]) - [c == labels[n]])
int hk_crossentropy_backward(double *dlogits, double dloss, const double *logp, const int64_t *labels, long N,
                             long C);

#endif
