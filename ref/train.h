/* hkref — plain scalar double reference: one training step of the unified
 * framework (2403.00812 §3.2–3.3, Fig. 3): one or two forward passes with
 * independently sampled masks (held by the model, passed in by the caller),
 * task loss, consistency loss, backward into the trainable parameters.
 *
 * Losses (all reductions: mean over the N examples):
 *   classification  task = CE(logits, label) on the classifier output (N,K);
 *                   consistency on the classifier logits (kl_bidir, js_*);
 *   regression      task = (out[n,0] - target[n])² on the regression head
 *                   output (N,1); consistency "mse" between the two passes'
 *                   last-layer representations rep (N,D) (the paper: "for
 *                   regression the last transformer layer's representation").
 *   total = task + α·consistency, task = task(pass 1), ½(task1 + task2)
 *   (cfg->task_both = HK_TASK_MEAN, R-Drop) or task1 + task2 (HK_TASK_SUM,
 *   HiddenCut).  With cfg->detach_second, pass 2's output is a constant
 *   inside the consistency loss (its gradient is not propagated). */
#ifndef HK_TRAIN_H
#define HK_TRAIN_H

#include "framework.h"

typedef struct {
    double task, consistency, total;
    int backward_passes; /* 1 when pass 2 needed no backward (Fig. 3), else passes */
} hk_step_result;

// out (N,K), labels (N) in [0,K) or targets (N) -> *loss (mean over N)
int hk_task_loss_forward(double *loss, hk_task task, const double *out, const long *labels, const double *targets,
                         long N, long K);
// dloss -> dout (N,K) +=
int hk_task_loss_backward(double *dout, double dloss, hk_task task, const double *out, const long *labels,
                          const double *targets, long N, long K);

/* The loss head: the framework's total loss from the passes' outputs.
 * out2 / rep2 are ignored (may be NULL) when cfg->passes == 1; rep1 / rep2
 * are used only for regression consistency (may be NULL otherwise).
 * out (N,K), rep (N,D) -> *res */
int hk_framework_loss_forward(hk_step_result *res, const hk_framework *cfg, const double *out1, const double *rep1,
                              const double *out2, const double *rep2, const long *labels, const double *targets,
                              long N, long K, long D);
/* -> dout1, dout2 (N,K) +=, drep1, drep2 (N,D) += (drep* may be NULL for
 * classification; dout2/drep2 may be NULL for one pass). */
int hk_framework_loss_backward(double *dout1, double *drep1, double *dout2, double *drep2, const hk_framework *cfg,
                               const double *out1, const double *rep1, const double *out2, const double *rep2,
                               const long *labels, const double *targets, long N, long K, long D);

/* A model seen by the training step.  pass 0 / 1 selects the model's mask set
 * for that pass (sampled independently by the caller); clean = 1 means "run
 * without any dropout" (the inference pass of js_eq12 / HiddenCut).  forward
 * writes out (N,K) and rep (N,D) and keeps what its backward needs, per pass;
 * backward accumulates (+=) the parameter gradients of that pass. */
typedef struct {
    void *ctx;
    long N, K, D;
    int (*forward)(void *ctx, int pass, int clean, double *out, double *rep);
    int (*backward)(void *ctx, int pass, const double *dout, const double *drep);
} hk_model;

/* Scratch doubles hk_train_step needs: 4·N·(K + D). */
long hk_train_step_work_size(const hk_model *m);
/* One step: forward pass(es), losses, backward.  Parameter gradients are
 * accumulated by the model; work has hk_train_step_work_size(m) doubles. */
int hk_train_step(hk_step_result *res, const hk_framework *cfg, const hk_model *m, const long *labels,
                  const double *targets, double *work);

#endif
