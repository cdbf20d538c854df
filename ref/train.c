/* hkref — plain scalar double reference: task losses, the framework's loss
 * head and one training step (see train.h). */
#include "train.h"

#include "crossentropy.h"
#include "error.h"
#include "softmax.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int check_task_args(hk_task task, const double *out, const long *labels, const double *targets, long N, long K)
{
    HK_REQUIRE_PTR(out);
    HK_REQUIRE(N > 0 && K > 0, HK_EINVAL, "task loss shape (N=%ld, K=%ld) must be positive", N, K);
    HK_TRY(hk_check_finite(out, N * K, "out"));
    if (task == HK_TASK_CLASSIFICATION) {
        HK_REQUIRE_PTR(labels);
        for (long n = 0; n < N; n++)
            HK_REQUIRE(labels[n] >= 0 && labels[n] < K, HK_EDOM, "labels[%ld] = %ld outside [0, K=%ld)", n, labels[n], K);
    } else if (task == HK_TASK_REGRESSION) {
        HK_REQUIRE_PTR(targets);
        HK_REQUIRE(K == 1, HK_ESHAPE, "regression head output must have K = 1 (got K=%ld)", K);
        HK_TRY(hk_check_finite(targets, N, "targets"));
    } else {
        HK_ERROR(HK_EINVAL, "task %d is neither classification nor regression", (int)task);
    }
    return HK_OK;
}

/* Classification: the one cross-entropy of ref/ (ref/crossentropy.c), on the
 * logits with the labels widened to its int64_t; the log-softmax it needs is
 * scratch (allocated here, freed before returning). */
static int ce_scratch(double **logp, int64_t **y, const long *labels, long N, long K)
{
    *logp = malloc(sizeof(double) * (size_t)(N * K));
    *y = malloc(sizeof(int64_t) * (size_t)N);
    if (!*logp || !*y) {
        free(*logp), free(*y);
        HK_ERROR(HK_ENOMEM, "cannot allocate the cross-entropy scratch (N=%ld, K=%ld)", N, K);
    }
    for (long n = 0; n < N; n++) (*y)[n] = labels[n];
    return HK_OK;
}

// out (N,K) -> *loss
int hk_task_loss_forward(double *loss, hk_task task, const double *out, const long *labels, const double *targets,
                         long N, long K)
{
    HK_REQUIRE_PTR(loss);
    HK_TRY(check_task_args(task, out, labels, targets, N, K));
    if (task == HK_TASK_CLASSIFICATION) { /* mean over rows of -log softmax(z_n)[y_n] */
        double *logp;
        int64_t *y;
        HK_TRY(ce_scratch(&logp, &y, labels, N, K));
        int st = hk_crossentropy_forward(loss, logp, out, y, N, K);
        free(logp), free(y);
        return st;
    }
    double s = 0.0; /* regression: mean squared error */
    for (long n = 0; n < N; n++) s += (out[n] - targets[n]) * (out[n] - targets[n]);
    *loss = s / (double)N;
    return HK_OK;
}

// dloss -> dout (N,K) +=
int hk_task_loss_backward(double *dout, double dloss, hk_task task, const double *out, const long *labels,
                          const double *targets, long N, long K)
{
    HK_REQUIRE_PTR(dout);
    HK_TRY(check_task_args(task, out, labels, targets, N, K));
    HK_REQUIRE(isfinite(dloss), HK_ENAN, "dloss must be finite (got %g)", dloss);
    if (task == HK_TASK_CLASSIFICATION) { /* dout += (dloss/N) (softmax(z) - onehot(y)) */
        double *logp;
        int64_t *y;
        HK_TRY(ce_scratch(&logp, &y, labels, N, K));
        int st = hk_logsoftmax_forward(logp, out, N, K);
        if (!st) st = hk_crossentropy_backward(dout, dloss, logp, y, N, K);
        free(logp), free(y);
        return st;
    }
    const double g = dloss / (double)N;
    for (long n = 0; n < N; n++) dout[n] += g * 2.0 * (out[n] - targets[n]);
    return HK_OK;
}

/* The tensors the consistency loss compares and their width. */
static int cons_operands(const hk_framework *cfg, const double *out1, const double *rep1, const double *out2,
                         const double *rep2, long K, long D, const double **a, const double **b, long *width)
{
    if (cfg->task == HK_TASK_REGRESSION) {
        HK_REQUIRE(rep1 && rep2, HK_EINVAL, "regression consistency needs rep1 and rep2 (the last layer's representation)");
        HK_REQUIRE(D > 0, HK_EINVAL, "representation width D=%ld must be positive", D);
        *a = rep1, *b = rep2, *width = D;
    } else {
        *a = out1, *b = out2, *width = K;
    }
    return HK_OK;
}

static int check_head(const hk_framework *cfg, const double *out2)
{
    HK_REQUIRE_PTR(cfg);
    HK_TRY(hk_framework_validate(cfg));
    if (cfg->passes == 2) HK_REQUIRE(out2 != NULL, HK_EINVAL, "argument 'out2' is NULL but cfg->passes is 2");
    return HK_OK;
}

// out (N,K), rep (N,D) -> *res
int hk_framework_loss_forward(hk_step_result *res, const hk_framework *cfg, const double *out1, const double *rep1,
                              const double *out2, const double *rep2, const long *labels, const double *targets,
                              long N, long K, long D)
{
    HK_REQUIRE_PTR(res);
    HK_REQUIRE_PTR(out1);
    HK_TRY(check_head(cfg, out2));
    memset(res, 0, sizeof *res);
    HK_TRY(hk_task_loss_forward(&res->task, cfg->task, out1, labels, targets, N, K));
    if (cfg->passes == 2) {
        if (cfg->task_both) {
            double t2;
            HK_TRY(hk_task_loss_forward(&t2, cfg->task, out2, labels, targets, N, K));
            res->task = cfg->task_both == HK_TASK_SUM ? res->task + t2 : 0.5 * (res->task + t2);
        }
        const double *a = NULL, *b = NULL;
        long w = 0;
        HK_TRY(cons_operands(cfg, out1, rep1, out2, rep2, K, D, &a, &b, &w));
        HK_TRY(hk_consistency_forward(&res->consistency, (hk_consistency)cfg->loss, a, b, N, w, HK_RED_MEAN));
    }
    res->total = res->task + cfg->weight * res->consistency;
    return HK_OK;
}

// -> dout1, dout2 (N,K) +=, drep1, drep2 (N,D) +=
int hk_framework_loss_backward(double *dout1, double *drep1, double *dout2, double *drep2, const hk_framework *cfg,
                               const double *out1, const double *rep1, const double *out2, const double *rep2,
                               const long *labels, const double *targets, long N, long K, long D)
{
    HK_TRY(check_head(cfg, out2));
    HK_REQUIRE_PTR(dout1);
    HK_REQUIRE_PTR(out1);
    if (cfg->passes == 1) return hk_task_loss_backward(dout1, 1.0, cfg->task, out1, labels, targets, N, K);
    double wt = cfg->task_both == HK_TASK_MEAN ? 0.5 : 1.0; /* pass 1 only and the sum: weight 1 each */
    HK_TRY(hk_task_loss_backward(dout1, wt, cfg->task, out1, labels, targets, N, K));
    if (cfg->task_both) {
        HK_REQUIRE(dout2 != NULL, HK_EINVAL, "argument 'dout2' is NULL but cfg->task_both needs pass 2's gradient");
        HK_TRY(hk_task_loss_backward(dout2, wt, cfg->task, out2, labels, targets, N, K));
    }
    const double *a = NULL, *b = NULL;
    long w = 0;
    HK_TRY(cons_operands(cfg, out1, rep1, out2, rep2, K, D, &a, &b, &w));
    double *da = cfg->task == HK_TASK_REGRESSION ? drep1 : dout1;
    double *db = cfg->detach_second ? NULL : (cfg->task == HK_TASK_REGRESSION ? drep2 : dout2);
    HK_REQUIRE(da != NULL, HK_EINVAL, "argument 'drep1' is NULL but regression consistency needs it");
    HK_REQUIRE(cfg->detach_second || db != NULL, HK_EINVAL,
               "pass 2's gradient buffer is NULL but cfg->detach_second is 0");
    return hk_consistency_backward(da, db, cfg->weight, (hk_consistency)cfg->loss, a, b, N, w, HK_RED_MEAN);
}

long hk_train_step_work_size(const hk_model *m) { return m ? 4 * m->N * (m->K + m->D) : 0; }

int hk_train_step(hk_step_result *res, const hk_framework *cfg, const hk_model *m, const long *labels,
                  const double *targets, double *work)
{
    HK_REQUIRE_PTR(res);
    HK_REQUIRE_PTR(cfg);
    HK_REQUIRE_PTR(m);
    HK_REQUIRE_PTR(work);
    HK_REQUIRE(m->forward && m->backward, HK_EINVAL, "model has a NULL forward or backward");
    HK_REQUIRE(m->N > 0 && m->K > 0 && m->D > 0, HK_EINVAL, "model shape (N=%ld, K=%ld, D=%ld) must be positive",
               m->N, m->K, m->D);
    HK_TRY(hk_framework_validate(cfg));
    /* the task's targets before any pass runs: a failed step changes nothing */
    if (cfg->task == HK_TASK_CLASSIFICATION) HK_REQUIRE_PTR(labels);
    else HK_REQUIRE_PTR(targets);
    long N = m->N, K = m->K, D = m->D;
    double *out1 = work, *out2 = out1 + N * K, *dout1 = out2 + N * K, *dout2 = dout1 + N * K;
    double *rep1 = dout2 + N * K, *rep2 = rep1 + N * D, *drep1 = rep2 + N * D, *drep2 = drep1 + N * D;
    memset(work, 0, sizeof(double) * (size_t)hk_train_step_work_size(m));
    int two = cfg->passes == 2;
    HK_TRY(m->forward(m->ctx, 0, 0, out1, rep1));
    if (two) HK_TRY(m->forward(m->ctx, 1, cfg->second_clean, out2, rep2));
    HK_TRY(hk_framework_loss_forward(res, cfg, out1, rep1, two ? out2 : NULL, two ? rep2 : NULL, labels, targets, N,
                                     K, D));
    HK_TRY(hk_framework_loss_backward(dout1, drep1, two ? dout2 : NULL, two ? drep2 : NULL, cfg, out1, rep1,
                                      two ? out2 : NULL, two ? rep2 : NULL, labels, targets, N, K, D));
    HK_TRY(m->backward(m->ctx, 0, dout1, drep1));
    res->backward_passes = 1;
    /* Pass 2 gets a gradient only from its task loss or an undetached
     * consistency loss; otherwise its backward is skipped (Fig. 3). */
    if (two && (cfg->task_both || !cfg->detach_second)) {
        HK_TRY(m->backward(m->ctx, 1, dout2, drep2));
        res->backward_passes = 2;
    }
    return HK_OK;
}
