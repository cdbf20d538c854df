/* hkref — plain scalar double reference: cross-entropy from logits, through
 * log-softmax (see crossentropy.h).  Storage: logits / logp (N,C) row-major.
 * Going through the max-subtracted log-softmax keeps logits of +-700 finite:
 * the loss of a row is lse - logit[label] computed as -(x - max - log s),
 * never log(exp(x)). */
#include "crossentropy.h"

#include "error.h"
#include "softmax.h"

#include <math.h>

static int check_labels(const int64_t *labels, long N, long C)
{
    HK_REQUIRE_PTR(labels);
    HK_REQUIRE(N > 0 && C > 0, HK_EINVAL, "crossentropy shape (N=%ld, C=%ld) must be positive", N, C);
    for (long n = 0; n < N; n++)
        HK_REQUIRE(labels[n] >= 0 && labels[n] < C, HK_EDOM,
                   "crossentropy label of row %ld is %lld; labels must be in [0, C=%ld)", n, (long long)labels[n],
                   C);
    return HK_OK;
}

// logits (N,C), labels (N) -> *loss, logp (N,C)
int hk_crossentropy_forward(double *loss, double *logp, const double *logits, const int64_t *labels, long N,
                            long C)
{
    HK_REQUIRE_PTR(loss);
    HK_REQUIRE_PTR(logp);
    HK_REQUIRE_PTR(logits);
    HK_TRY(check_labels(labels, N, C));
    HK_TRY(hk_logsoftmax_forward(logp, logits, N, C));
    double s = 0.0;
    for (long n = 0; n < N; n++) {
        double lp = logp[n * C + labels[n]];
        HK_REQUIRE(lp != -INFINITY, HK_EDOM,
                   "crossentropy row %ld: the label's logit (class %lld) is -inf, so the loss is infinite", n,
                   (long long)labels[n]);
        s += lp;
    }
    *loss = -s / (double)N;
    return HK_OK;
}

// dloss, logp (N,C), labels (N) -> dlogits (N,C) +=
int hk_crossentropy_backward(double *dlogits, double dloss, const double *logp, const int64_t *labels, long N,
                             long C)
{
    HK_REQUIRE_PTR(dlogits);
    HK_REQUIRE_PTR(logp);
    HK_TRY(check_labels(labels, N, C));
    HK_REQUIRE(isfinite(dloss), HK_ENAN, "crossentropy dloss is %g; a finite value is required", dloss);
    const double g = dloss / (double)N;
    for (long n = 0; n < N; n++)
        for (long c = 0; c < C; c++) {
            double p = exp(logp[n * C + c]); /* softmax; exp(-inf) = 0 */
            dlogits[n * C + c] += g * (c == labels[n] ? p - 1.0 : p);
        }
    return HK_OK;
}
