/* hkref — central finite differences for checking every backward.
 *
 * Each coordinate x[i] of every variable is perturbed and the scalar loss
 * re-evaluated through gsl_deriv_central (GSL's 5-point central rule, which
 * also returns an estimate of its own error).  The analytic gradient g[i]
 * passes when
 *     |g[i] - fd[i]| <= atol + rtol * |fd[i]|          (torch.gradcheck's form)
 * and the coordinate is *inconclusive* (counted as a failure, reported
 * separately) when GSL's own error estimate exceeds a quarter of that
 * tolerance: then finite differences cannot vouch for either answer (a kink,
 * or a step too small for the loss's scale).
 *
 * Defaults and why (see PAPER_NOTES.md, "Finite differences"):
 *   h = 1e-4: the 5-point rule's truncation error is ~h^4 |f^(5)|/30 ~ 1e-18
 *     for our O(1)-scaled smooth losses, and its rounding error ~ eps|f|/h
 *     ~ 2e-12 |f|; GSL refines h from these two estimates.
 *   atol = 1e-8, rtol = 1e-6: four orders of magnitude above the rounding
 *     error above for losses of size <= 100, and still 1000x below the
 *     O(|g|) discrepancy any wrong formula produces on O(1) gradients.
 * The loss is typically L = sum(out * dout) for a fixed random dout, so every
 * output's gradient takes part. */
#ifndef HK_GRADCHECK_H
#define HK_GRADCHECK_H

/* Loss at the current values of the variables; return NAN on error. */
typedef double (*hk_gc_loss_fn)(void *ctx);

typedef struct {
    const char *name;   /* e.g. "dinp", "lora.A" */
    double *x;          /* the values, perturbed in place and restored */
    const double *grad; /* analytic dL/dx, same length */
    long n;
} hk_gc_var;

typedef struct {
    double h, atol, rtol;
} hk_gc_opts;

#define HK_GC_DEFAULT_H 1e-4
#define HK_GC_DEFAULT_ATOL 1e-8
#define HK_GC_DEFAULT_RTOL 1e-6

typedef struct {
    long checked;        /* coordinates compared */
    long failed;         /* outside tolerance */
    long inconclusive;   /* FD error estimate too large to judge (also in failed) */
    char worst_var[64];  /* variable of the worst coordinate (largest err/tol) */
    long worst_index;
    double worst_analytic, worst_numeric, worst_err, worst_tol, worst_fd_abserr;
    double worst_ratio;  /* worst err / tol: < 1 passes */
} hk_gc_report;

/* opts NULL = the defaults above.  Returns HK_OK when it ran (see rep->failed),
 * HK_ENAN if the loss was not finite at some point, HK_EINVAL on bad args.
 * Values are restored bit-exactly after each coordinate. */
int hk_gradcheck(hk_gc_loss_fn f, void *ctx, const hk_gc_var *vars, int nvars,
                 const hk_gc_opts *opts, hk_gc_report *rep);

#endif
