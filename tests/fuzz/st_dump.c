/* hkref — what hkref's safetensors reader makes of each file, for the
 * differential oracle tests/fuzz/st_diff.py (an independent Python reader).
 *   st_dump FILE...   per file: "F <hex path>", then "ERR" or
 *   "OK <ntensors> <nmeta>", "M <hex key> <hex value>" per metadata entry,
 *   "T <hex name> <dtype> <ndim> <d0,d1,..>" and "V <16-hex-digit bits of
 *   each element as hk_st_to_f64 gives it> ..." per tensor. */
#include "ref/error.h"
#include "ref/fileio.h"
#include "ref/tensorfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex(const char *s)
{
    if (!*s) putchar('-');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) printf("%02x", *p);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        printf("F ");
        hex(argv[i]);
        putchar('\n');
        unsigned char *b = NULL;
        size_t n = 0;
        hk_st_file *f = NULL;
        if (hk_file_read(argv[i], (size_t)1 << 28, &b, &n) != HK_OK || hk_st_parse(b, n, &f) != HK_OK) {
            printf("ERR\n");
            free(b);
            hk_error_clear();
            continue;
        }
        printf("OK %zu %zu\n", f->ntensors, f->nmeta);
        for (size_t k = 0; k < f->nmeta; k++) {
            printf("M ");
            hex(f->meta[k].key);
            putchar(' ');
            hex(f->meta[k].value);
            putchar('\n');
        }
        for (size_t k = 0; k < f->ntensors; k++) {
            const hk_st_tensor *t = &f->tensors[k];
            printf("T ");
            hex(t->name);
            printf(" %s %d ", hk_st_dtype_name(t->dtype), t->ndim);
            for (int d = 0; d < t->ndim; d++) printf(d ? ",%ld" : "%ld", t->shape[d]);
            printf("%s\nV", t->ndim ? "" : "-");
            double *v = malloc((t->numel ? t->numel : 1) * sizeof *v);
            if (!v || hk_st_to_f64(t, v) != HK_OK) return 2;
            for (size_t e = 0; e < t->numel; e++) {
                unsigned long long bits;
                memcpy(&bits, &v[e], 8);
                printf(" %016llx", bits);
            }
            putchar('\n');
            free(v);
        }
        hk_st_free(f);
        free(b);
    }
    return 0;
}
