/* hkref inspect — list the tensors and metadata of a safetensors file. */
#include "args.h"
#include "cli.h"

#include "ref/error.h"
#include "ref/tensorfile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char hk_cmd_inspect_summary[] = "list the tensors (dtype, shape, min/max/mean) and metadata of a safetensors file";

static void usage(void)
{
    printf("usage: hkref inspect FILE.safetensors\n\n"
           "Reads FILE with hkref's validating reader and prints its metadata (key = value, in\n"
           "file order) and its tensors in data order: name, dtype, shape and\n"
           "  numeric dtypes: min, max, mean over the finite elements, and the count of NaN/Inf;\n"
           "  U8 and BOOL:    the counts of 0s and 1s (and, for U8, of other values).\n"
           "A file that does not start like a safetensors file (8-byte header length, then\n"
           "'{'): \"not a safetensors file\".\n"
           "exit status: 0 ok, 2 usage error or unreadable / malformed file (message on stderr).\n");
}

/* One summary column for tensor t (its elements converted to double in v). */
static void print_stats(const hk_st_tensor *t, const double *v)
{
    if (t->dtype == HK_ST_U8 || t->dtype == HK_ST_BOOL) {
        size_t c0 = 0, c1 = 0;
        for (size_t i = 0; i < t->numel; i++) {
            c0 += v[i] == 0.0;
            c1 += v[i] == 1.0;
        }
        printf("zeros %zu  ones %zu", c0, c1);
        if (t->dtype == HK_ST_U8) printf("  other %zu", t->numel - c0 - c1);
        return;
    }
    size_t nf = 0, bad = 0;
    double lo = INFINITY, hi = -INFINITY, sum = 0.0;
    for (size_t i = 0; i < t->numel; i++) {
        if (!isfinite(v[i])) {
            bad++;
            continue;
        }
        lo = fmin(lo, v[i]);
        hi = fmax(hi, v[i]);
        sum += v[i];
        nf++;
    }
    if (nf)
        printf("min %.17g  max %.17g  mean %.9g", lo, hi, sum / (double)nf);
    else
        printf("(no finite elements)");
    if (bad) printf("  nan/inf %zu", bad);
}

static void print_file(const char *path, const hk_st_file *f)
{
    printf("%s: %zu tensors, %zu metadata entries\n", path, f->ntensors, f->nmeta);
    if (f->nmeta) printf("metadata:\n");
    for (size_t i = 0; i < f->nmeta; i++) printf("  %s = %s\n", f->meta[i].key, f->meta[i].value);
    size_t w = 4;
    for (size_t i = 0; i < f->ntensors; i++) w = strlen(f->tensors[i].name) > w ? strlen(f->tensors[i].name) : w;
    printf("tensors:\n  %-*s  %-5s  %-16s  %s\n", (int)w, "name", "dtype", "shape", "summary");
    for (size_t i = 0; i < f->ntensors; i++) {
        const hk_st_tensor *t = &f->tensors[i];
        char shape[200];
        size_t k = (size_t)snprintf(shape, sizeof shape, "[");
        for (int d = 0; d < t->ndim && k < sizeof shape; d++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, d ? ",%ld" : "%ld", t->shape[d]);
        if (k < sizeof shape) snprintf(shape + k, sizeof shape - k, "]");
        printf("  %-*s  %-5s  %-16s  ", (int)w, t->name, hk_st_dtype_name(t->dtype), shape);
        size_t bytes = 0;
        const long numel[1] = {(long)(t->numel ? t->numel : 1)};
        double *v = hk_size_prod(&bytes, HK_MAX_ELEMS * sizeof(double), t->name, 1, numel, sizeof *v) ? NULL : malloc(bytes);
        hk_error_clear();
        if (t->numel == 0)
            printf("(empty)");
        else if (!v || hk_st_to_f64(t, v))
            printf("(cannot summarize: out of memory)");
        else
            print_stats(t, v);
        printf("\n");
        free(v);
    }
}

int hk_cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    const hk_opt opts[] = {{0}};
    const hk_args spec = {.cmd = "inspect", .opts = opts, .pos = &path, .maxpos = 1, .posname = "FILE"};
    int rc = hk_args_parse(&spec, argc, argv, NULL);
    if (rc == HK_ARGS_HELP) {
        usage();
        return 0;
    }
    if (rc) return rc;
    if (!path) return hk_args_error(&spec, "missing FILE.safetensors");
    hk_st_file *f;
    if (hk_cli_read_safetensors("inspect", path, &f)) return 2;
    print_file(path, f);
    hk_st_free(f);
    fflush(stdout);
    return 0;
}
