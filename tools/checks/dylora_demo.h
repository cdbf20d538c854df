/* hkref — a small seeded DyLoRA-vs-LoRA training run (used by `hkref dylora
 * demo` and the registered check dylora.demo).  Orchestration only: every
 * formula it uses is in ref/ (dylora, lora, adamw).
 *
 * Task: y = x (W0 + D)^T with W0 (OUT,IN) frozen and D a random rank-r_task
 * matrix; the adapter (A (r,IN), B (OUT,r), loralib init, alpha) learns D
 * with the MSE loss L_b of ref/dylora.h, full batch, AdamW.  Modes:
 *   LORA    b = r every step (plain LoRA)
 *   DYLORA  b ~ uniform p_B on [1, r] each step, gradient of L_b, AdamW on A, B
 *   FROZEN  as DYLORA, but hk_dylora_frozen_step (row/col b only)
 * Result: L_b of the trained adapter at every b (hk_dylora_eval_all). */
#ifndef HK_DYLORA_DEMO_H
#define HK_DYLORA_DEMO_H

enum { HK_DEMO_LORA = 0, HK_DEMO_DYLORA = 1, HK_DEMO_FROZEN = 2 };

typedef struct {
    int mode;
    long N, IN, OUT, r, r_task, steps;
    double alpha, lr, weight_decay;
    unsigned long seed; /* data and init; the rank draws use seed + 1 */
} hk_demo_cfg;

/* Defaults: N 48, IN 12, OUT 10, r 6, r_task 6, steps 1500, alpha 6, lr 2e-2, wd 0, seed 1. */
hk_demo_cfg hk_demo_defaults(int mode);

/* loss_per_rank (r): L_b at b = 1..r (index b-1) after training.
 * floor_per_rank (r+1) or NULL: at index b = 0..r the least L_b any rank-b
 * update can reach on this data (Eckart-Young on x D^T: (1/N) sum_{i>b}
 * s_i(x D^T)^2); index 0 is the loss of W0 alone.  A (r,IN), B (OUT,r) receive the
 * trained adapter when not NULL. */
int hk_demo_run(const hk_demo_cfg *c, double *loss_per_rank, double *floor_per_rank, double *A, double *B);

#endif
