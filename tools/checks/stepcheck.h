/* hkref — finite-difference check of one training step (ref/train.h) for any
 * hk_model: the analytic gradient from hk_train_step (run twice, must agree
 * bit for bit) against central differences of the total loss.  With
 * cfg->detach_second the FD loss is the surrogate whose consistency term sees
 * pass 2's outputs frozen at the unperturbed point — exactly the function a
 * stop-gradient differentiates.  Used by tools/checks/chk_train.c and chk_stack.c. */
#ifndef HK_STEPCHECK_H
#define HK_STEPCHECK_H

#include "ref/gradcheck.h"
#include "ref/train.h"

typedef struct {
    const hk_framework *cfg;
    hk_model m;
    const long *labels;
    const double *targets;
    void (*zero_grads)(void *ctx); /* zeroes the model's gradient accumulators */
    void *zero_ctx;
    /* Optional: called after the analytic step, with the model's forward
     * state at the unperturbed point, before finite differences start
     * (e.g. to install a frozen-denominator surrogate). */
    int (*before_fd)(void *ctx);
    void *before_fd_ctx;
} hk_stepcheck;

/* vars: parameters (x) and the model's gradient arrays (grad) they
 * accumulate into.  *backward_passes (may be NULL) from the step. */
int hk_stepcheck_run(const hk_stepcheck *sc, const hk_gc_var *vars, int nvars, hk_gc_report *rep,
                     int *backward_passes);

#endif
