/* hkref dylora — DyLoRA tools: `hkref dylora spectrum FILE [--png OUT]`,
 * `hkref dylora demo [--out FILE]`.
 *
 * Adapter file (safetensors): tensors "A" (r,IN) = W_dw and "B" (OUT,r) =
 * W_up, any float dtype (converted to F64); metadata "alpha" (a decimal
 * string) unless --alpha is given.  The update is dW = (alpha/r) B A. */
#include "args.h"
#include "cli.h"
#include "checks/dylora_demo.h"

#include "ref/error.h"
#include "ref/spectrum.h"
#include "ref/tensorfile.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char hk_cmd_dylora_summary[] = "DyLoRA tools: per-rank spectrum of an adapter (LAPACK SVD); a training demo";

static void usage(FILE *f)
{
    fprintf(f, "usage: hkref dylora <subcommand> [options]\n\n"
               "subcommands:\n"
               "  spectrum FILE [--alpha X] [--png OUT]\n"
               "      Singular values of dW = (alpha/r) B A for the adapter in FILE and, for\n"
               "      every rank b = 1..r, the error of DyLoRA's truncated update\n"
               "      dW_b = (alpha/b) B[:,:b] A[:b,:] against the best rank-b approximation\n"
               "      (Eckart-Young), in Frobenius and spectral norm.\n"
               "      FILE: safetensors with \"A\" (r,IN), \"B\" (OUT,r) (any float dtype) and\n"
               "      metadata \"alpha\"; --alpha X overrides or supplies it.\n"
               "      --png OUT  also plot both errors against b with gnuplot (needs gnuplot\n"
               "                 on PATH: apt-get install gnuplot-nox, or tools/scripts/deps.sh extra)\n"
               "  demo [--steps N] [--seed S] [--out FILE]\n"
               "      Trains one adapter (r = 6) three ways on a seeded rank-6 regression task:\n"
               "      plain LoRA (b = r), DyLoRA (b ~ uniform on [1,r] each step) and DyLoRA\n"
               "      frozen mode, all with full-batch AdamW, and prints the loss L_b of each\n"
               "      at every rank b (one hk_dylora_eval_all call) next to the least loss any\n"
               "      rank-b update can reach (Eckart-Young on the data).  --out FILE writes the\n"
               "      DyLoRA adapter (A, B, metadata alpha) for `hkref dylora spectrum`.\n"
               "exit status: 0 ok, 2 usage or input error (message on stderr)\n");
}

/* Loads tensor `name` as F64 (r,c) into a malloc'd buffer. */
static int load_matrix(const hk_st_file *f, const char *name, double **out, long *rows, long *cols)
{
    const hk_st_tensor *t = hk_st_find(f, name);
    HK_REQUIRE(t != NULL, HK_ENOTFOUND, "adapter file has no tensor \"%s\"", name);
    HK_REQUIRE(t->ndim == 2, HK_ESHAPE, "tensor \"%s\" must be 2-D (has %d dims)", name, t->ndim);
    HK_REQUIRE(t->dtype == HK_ST_F64 || t->dtype == HK_ST_F32 || t->dtype == HK_ST_F16 || t->dtype == HK_ST_BF16,
               HK_EFORMAT, "tensor \"%s\" must be a float dtype (is %s)", name, hk_st_dtype_name(t->dtype));
    HK_REQUIRE(t->shape[0] > 0 && t->shape[1] > 0, HK_ESHAPE, "tensor \"%s\" is empty (%ldx%ld)", name, t->shape[0],
               t->shape[1]);
    size_t bytes;
    HK_TRY(hk_size_prod(&bytes, HK_MAX_ELEMS, name, 2, t->shape, sizeof(double)));
    *out = malloc(bytes);
    HK_REQUIRE(*out != NULL, HK_ENOMEM, "cannot allocate tensor \"%s\"", name);
    int s = hk_st_to_f64(t, *out);
    if (s) {
        free(*out);
        *out = NULL;
        return s;
    }
    *rows = t->shape[0];
    *cols = t->shape[1];
    return HK_OK;
}

/* The plot script: names arrive as ARG1 (PNG), ARG2 (data), ARG3 (the adapter
 * file, in the title), never in the text (tools/cli/plot.c). */
static const char spectrum_gp[] =
    "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) { set terminal pngcairo size 800,500 } "
    "else { set terminal png size 800,500 }\n"
    "set output ARG1\n"
    "set title 'DyLoRA truncation error vs best rank-b approximation: '.ARG3 noenhanced\n"
    "set xlabel 'rank b'\nset ylabel 'error'\nset key top right\nset grid\n"
    "set xtics 1\n"
    "plot ARG2 using 1:2 with linespoints title '||dW_b - dW||_F (DyLoRA, alpha/b)' noenhanced, \\\n"
    "     '' using 1:3 with linespoints title 'best rank-b, Frobenius' noenhanced, \\\n"
    "     '' using 1:4 with linespoints title '||dW_b - dW||_2' noenhanced, \\\n"
    "     '' using 1:5 with linespoints title 'best rank-b, spectral (s_{b+1})' noenhanced\n";

static int plot_png(const char *png, const double *ft, const double *fb, const double *st, const double *sb, long r,
                    const char *file)
{
    char gp[4096];
    if (hk_cli_find_on_path("gnuplot", gp, sizeof gp) != 0) {
        fprintf(stderr, "hkref dylora spectrum: --png needs gnuplot, which is not on PATH\n"
                        "install it as root: apt-get install gnuplot-nox   (or: tools/scripts/deps.sh extra)\n");
        return 2;
    }
    const char *tmpdir = getenv("TMPDIR");
    char data[4096];
    snprintf(data, sizeof data, "%s/hkref-spectrum-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemp(data);
    if (fd < 0) {
        fprintf(stderr, "hkref dylora spectrum: cannot create a temporary file in %s: %s\n",
                tmpdir && *tmpdir ? tmpdir : "/tmp", strerror(errno));
        return 2;
    }
    FILE *df = fdopen(fd, "w");
    for (long b = 1; df && b <= r; b++)
        fprintf(df, "%ld %.17g %.17g %.17g %.17g\n", b, ft[b - 1], fb[b - 1], st[b - 1], sb[b - 1]);
    if (!df || fclose(df) != 0) {
        if (!df) close(fd);
        unlink(data);
        fprintf(stderr, "hkref dylora spectrum: cannot write the plot data %s\n", data);
        return 2;
    }
    const char *args[3] = {png, data, file};
    char err[512];
    int rc = hk_cli_gnuplot(spectrum_gp, args, 3, err, sizeof err);
    unlink(data);
    if (rc != 0 || access(png, F_OK) != 0) {
        fprintf(stderr, "hkref dylora spectrum: %s writing %s\n", rc ? err : "gnuplot wrote nothing", png);
        return 2;
    }
    return 0;
}

static int cmd_spectrum(int argc, char **argv)
{
    const char *file = NULL, *png = NULL, *alpha_arg = NULL;
    const hk_opt opts[] = {{.name = "png", .kind = HK_OPT_STR, .dest = &png, .metavar = "OUT"},
                           {.name = "alpha", .kind = HK_OPT_STR, .dest = &alpha_arg, .metavar = "X"},
                           {0}};
    const hk_args spec = {.cmd = "dylora spectrum", .opts = opts, .pos = &file, .maxpos = 1, .posname = "FILE"};
    int prc = hk_args_parse(&spec, argc, argv, NULL);
    if (prc == HK_ARGS_HELP) {
        usage(stdout);
        return 0;
    }
    if (prc) return prc;
    if (!file) return hk_cli_usage_error("dylora spectrum", "missing the adapter FILE");
    if (png && hk_cli_check_output("dylora spectrum", png)) return 2;
    hk_st_file *f = NULL;
    if (hk_cli_read_safetensors("dylora spectrum", file, &f)) return 2;
    double alpha = NAN;
    const char *astr = alpha_arg ? alpha_arg : hk_st_get_meta(f, "alpha");
    if (!astr) {
        hk_st_free(f);
        return hk_cli_usage_error("dylora spectrum", "%s has no metadata \"alpha\"; pass --alpha X", file);
    }
    char *end = NULL;
    alpha = strtod(astr, &end);
    if (end == astr || *end || !isfinite(alpha)) {
        /* astr may point into f: quote it before f is freed */
        int rc = hk_cli_usage_error("dylora spectrum", "alpha '%.200s' is not a finite number", astr);
        hk_st_free(f);
        return rc;
    }
    double *A = NULL, *B = NULL;
    long r = 0, IN = 0, OUT = 0, r2 = 0;
    int s = load_matrix(f, "A", &A, &r, &IN);
    if (!s) s = load_matrix(f, "B", &B, &OUT, &r2);
    hk_st_free(f);
    if (!s && r2 != r)
        s = hk_error_set(HK_ESHAPE, __FILE__, __LINE__, "B is (%ld,%ld) but A is (%ld,%ld): B must be (OUT, r=%ld)",
                         OUT, r2, r, IN, r);
    long mn = OUT < IN ? OUT : IN;
    /* dW = (alpha/r) B A is dense OUT x IN, and the SVD needs 3 more of it: cap it (sizes come from the file) */
    const long dims[2] = {OUT, IN}, tab[1] = {mn + 4 * r};
    size_t nw = 0, nb = 0;
    if (!s) s = hk_size_prod(&nw, (size_t)1 << 27, "the dense update dW = B A (OUT x IN elements)", 2, dims, 4);
    if (!s) s = hk_size_prod(&nb, HK_MAX_ELEMS, "the spectrum table", 1, tab, sizeof(double));
    double *buf = s ? NULL : malloc(nb);
    if (!s && !buf) s = hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "cannot allocate the spectrum table");
    double *sv = buf, *ft = NULL, *fb = NULL, *st = NULL, *sb = NULL; /* no arithmetic on a NULL buf */
    if (!s) {
        ft = buf + mn, fb = ft + r, st = fb + r, sb = st + r;
        s = hk_spectrum_adapter(sv, ft, fb, st, sb, A, B, IN, OUT, r, alpha);
    }
    free(A);
    free(B);
    if (s) {
        free(buf);
        return hk_cli_fail("dylora spectrum");
    }
    double norm2 = 0.0;
    for (long i = 0; i < mn; i++) norm2 += sv[i] * sv[i];
    printf("adapter %s: A (%ld,%ld), B (%ld,%ld), alpha %g, dW = (alpha/r) B A is %ldx%ld, ||dW||_F %.6g\n", file, r,
           IN, OUT, r, alpha, OUT, IN, sqrt(norm2));
    printf("singular values of dW:");
    for (long i = 0; i < mn; i++) printf(" %.6g", sv[i]);
    printf("\n\n%4s %14s %14s %9s %14s %14s %9s\n", "b", "fro(dW_b-dW)", "fro best", "ratio", "spec(dW_b-dW)",
           "spec best", "ratio");
    /* Below (OUT + IN) eps s_1 a singular value is the SVD's rounding level (LAPACK
     * Users' Guide §4.9: absolute accuracy p(m,n) eps s_1), so no ratio is shown. */
    double noise = (double)(OUT + IN) * DBL_EPSILON * sv[0];
    for (long b = 1; b <= r; b++) {
        double rf = fb[b - 1] > noise ? ft[b - 1] / fb[b - 1] : NAN;
        double rs = sb[b - 1] > noise ? st[b - 1] / sb[b - 1] : NAN;
        printf("%4ld %14.6e %14.6e %9.4g %14.6e %14.6e %9.4g\n", b, ft[b - 1], fb[b - 1], rf, st[b - 1], sb[b - 1], rs);
    }
    printf("(dW_b = (alpha/b) B[:,:b] A[:b,:]; best = Eckart-Young: fro sqrt(sum_{i>b} s_i^2), spec s_{b+1};\n"
           " ratio >= 1 (Eckart-Young); nan where the optimum is at the rounding level (OUT+IN) eps s_1)\n");
    int rc = 0;
    if (png) {
        rc = hk_cli_mkdirs_for("dylora spectrum", png);
        if (!rc) rc = plot_png(png, ft, fb, st, sb, r, file);
        if (!rc) printf("wrote %s\n", png);
    }
    free(buf);
    return rc;
}

static int cmd_demo(int argc, char **argv)
{
    const char *out = NULL;
    long steps = -1, seed = -1;
    const hk_opt opts[] = {{.name = "steps", .kind = HK_OPT_LONG, .dest = &steps, .metavar = "N", .ilo = 0,
                            .ihi = LONG_MAX},
                           {.name = "seed", .kind = HK_OPT_LONG, .dest = &seed, .metavar = "S", .ilo = 0,
                            .ihi = LONG_MAX},
                           {.name = "out", .kind = HK_OPT_STR, .dest = &out, .metavar = "FILE"},
                           {0}};
    const hk_args spec = {.cmd = "dylora demo", .opts = opts};
    int prc = hk_args_parse(&spec, argc, argv, NULL);
    if (prc == HK_ARGS_HELP) {
        usage(stdout);
        return 0;
    }
    if (prc) return prc;
    if (out && hk_cli_check_output("dylora demo", out)) return 2;
    double L[3][64] = {{0}}, F[65] = {0}, A[64 * 64] = {0}, B[64 * 64] = {0};
    hk_demo_cfg c = hk_demo_defaults(HK_DEMO_LORA);
    const char *names[3] = {"LoRA", "DyLoRA", "frozen"};
    for (int m = 0; m < 3; m++) {
        c = hk_demo_defaults(m);
        if (steps >= 0) c.steps = steps;
        if (seed >= 0) c.seed = (unsigned long)seed;
        if (hk_demo_run(&c, L[m], m == 0 ? F : NULL, m == HK_DEMO_DYLORA ? A : NULL, m == HK_DEMO_DYLORA ? B : NULL))
            return hk_cli_fail("dylora demo");
    }
    printf("task: y = x (W0 + D)^T, D rank %ld, x (%ld,%ld) ~ N(0,1), OUT %ld; adapter r %ld, alpha %g;\n"
           "%ld full-batch AdamW steps (lr %g), seed %lu; L_b = (1/N) sum ||y_b - y||^2\n\n",
           c.r_task, c.N, c.IN, c.OUT, c.r, c.alpha, c.steps, c.lr, c.seed);
    printf("%4s %12s %12s %12s %12s\n", "b", "floor", names[0], names[1], names[2]);
    printf("%4d %12.5g %12s %12s %12s\n", 0, F[0], "(W0 alone)", "", "");
    for (long b = 1; b <= c.r; b++)
        printf("%4ld %12.5g %12.5g %12.5g %12.5g\n", b, F[b], L[0][b - 1], L[1][b - 1], L[2][b - 1]);
    printf("(floor: least L_b of any rank-b update, Eckart-Young on x D^T)\n");
    if (out) {
        hk_st_file *f = NULL;
        long sa[2] = {c.r, c.IN}, sb[2] = {c.OUT, c.r};
        char alpha[32];
        snprintf(alpha, sizeof alpha, "%.17g", c.alpha);
        int s = hk_st_new(&f);
        if (!s) s = hk_st_add(f, "A", HK_ST_F64, 2, sa, A);
        if (!s) s = hk_st_add(f, "B", HK_ST_F64, 2, sb, B);
        if (!s) s = hk_st_set_meta(f, "alpha", alpha);
        if (!s) s = hk_st_set_meta(f, "source", "hkref dylora demo (DyLoRA, uniform p_B)");
        if (!s && hk_cli_mkdirs_for("dylora demo", out)) {
            hk_st_free(f);
            return 2;
        }
        if (!s) s = hk_st_write(f, out);
        hk_st_free(f);
        if (s) return hk_cli_fail("dylora demo");
        printf("wrote the DyLoRA adapter to %s\n", out);
    }
    return 0;
}

int hk_cmd_dylora(int argc, char **argv)
{
    static const hk_cli_sub subs[] = {{"spectrum", cmd_spectrum}, {"demo", cmd_demo}};
    return hk_cli_dispatch("dylora", argc, argv, subs, 2, usage);
}
