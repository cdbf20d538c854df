/* hkref — safetensors tensor files (see tensorfile.h for the format and the
 * reader / writer policies).  JSON via jansson; no hand-written parser. */
#include "tensorfile.h"

#include "error.h"
#include "fileio.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct {
    const char *name;
    size_t size;
} dtypes[HK_ST_NDTYPES] = {
    [HK_ST_BOOL] = {"BOOL", 1}, [HK_ST_U8] = {"U8", 1},     [HK_ST_I8] = {"I8", 1},
    [HK_ST_U16] = {"U16", 2},   [HK_ST_I16] = {"I16", 2},   [HK_ST_F16] = {"F16", 2},
    [HK_ST_BF16] = {"BF16", 2}, [HK_ST_U32] = {"U32", 4},   [HK_ST_I32] = {"I32", 4},
    [HK_ST_F32] = {"F32", 4},   [HK_ST_U64] = {"U64", 8},   [HK_ST_I64] = {"I64", 8},
    [HK_ST_F64] = {"F64", 8},
};

const char *hk_st_dtype_name(hk_st_dtype dt)
{
    return (unsigned)dt < HK_ST_NDTYPES ? dtypes[dt].name : "?";
}

size_t hk_st_dtype_size(hk_st_dtype dt)
{
    return (unsigned)dt < HK_ST_NDTYPES ? dtypes[dt].size : 0;
}

int hk_st_dtype_parse(const char *name, hk_st_dtype *out)
{
    HK_REQUIRE_PTR(name);
    HK_REQUIRE_PTR(out);
    for (int i = 0; i < HK_ST_NDTYPES; i++)
        if (!strcmp(name, dtypes[i].name)) {
            *out = (hk_st_dtype)i;
            return HK_OK;
        }
    HK_ERROR(HK_EFORMAT, "unknown dtype \"%s\" (known: BOOL U8 I8 U16 I16 F16 BF16 U32 I32 F32 U64 I64 F64)", name);
}

/* ---- byte order: files are little-endian; data in memory is host order ---- */

static int host_is_le(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Reverses the bytes of each element in place (no-op on little-endian hosts). */
static void to_from_le(void *data, size_t numel, size_t size)
{
    if (host_is_le() || size == 1) return;
    unsigned char *p = data;
    for (size_t i = 0; i < numel; i++, p += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

static void put_u64_le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64_le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void format_shape(char *buf, size_t size, int ndim, const long *shape)
{
    size_t k = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && k < size; d++)
        k += (size_t)snprintf(buf + k, size - k, d ? ",%ld" : "%ld", shape[d]);
    if (k < size) snprintf(buf + k, size - k, "]");
}

/* numel and nbytes of a shape with checked multiplication (hk_size_prod); 0 on overflow. */
static int shape_bytes(int ndim, const long *shape, size_t esize, size_t *numel, size_t *nbytes)
{
    if (hk_size_prod(numel, SIZE_MAX, "shape", ndim, shape, 1) || hk_size_prod(nbytes, SIZE_MAX, "shape", ndim, shape, esize)) {
        hk_error_clear();
        return 0;
    }
    return 1;
}

/* 1 if s is valid UTF-8 without NUL (what a JSON string / key can hold). */
static int valid_utf8(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

/* ---- the in-memory file object ---- */

int hk_st_new(hk_st_file **out)
{
    HK_REQUIRE_PTR(out);
    *out = calloc(1, sizeof **out);
    if (!*out) HK_ERROR(HK_ENOMEM, "cannot allocate a tensor file object");
    return HK_OK;
}

void hk_st_free(hk_st_file *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->ntensors; i++) {
        free(f->tensors[i].name);
        free(f->tensors[i].data);
    }
    for (size_t i = 0; i < f->nmeta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->tensors);
    free(f->meta);
    free(f);
}

/* Makes room for one more element in a growable array. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) return HK_OK;
    size_t nc = *cap ? 2 * *cap : 8, bytes;
    if (__builtin_mul_overflow(nc, elem, &bytes)) HK_ERROR(HK_ENOMEM, "too many tensors or metadata entries");
    void *p = realloc(*arr, bytes);
    if (!p) HK_ERROR(HK_ENOMEM, "cannot grow the tensor list to %zu entries", nc);
    *arr = p;
    *cap = nc;
    return HK_OK;
}

const hk_st_tensor *hk_st_find(const hk_st_file *f, const char *name)
{
    if (!f || !name) return NULL;
    for (size_t i = 0; i < f->ntensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *hk_st_get_meta(const hk_st_file *f, const char *key)
{
    if (!f || !key) return NULL;
    for (size_t i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta[i].key, key)) return f->meta[i].value;
    return NULL;
}

/* Appends a tensor with uninitialised data of the right size (name copied). */
static int add_uninit(hk_st_file *f, const char *name, hk_st_dtype dtype, int ndim, const long *shape,
                      size_t numel, size_t nbytes, hk_st_tensor **out)
{
    HK_TRY(grow((void **)&f->tensors, &f->cap_tensors, f->ntensors, sizeof *f->tensors));
    hk_st_tensor *t = &f->tensors[f->ntensors];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->data = malloc(nbytes ? nbytes : 1);
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        HK_ERROR(HK_ENOMEM, "cannot allocate %zu bytes for tensor '%s'", nbytes, name);
    }
    t->dtype = dtype;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->numel = numel;
    t->nbytes = nbytes;
    f->ntensors++;
    *out = t;
    return HK_OK;
}

static int check_bool(const hk_st_tensor *t, int code, const char *src)
{
    const unsigned char *b = t->data;
    for (size_t i = 0; i < t->numel; i++)
        if (b[i] > 1)
            HK_ERROR(code, "%s: BOOL tensor '%s' element %zu is %u; BOOL bytes must be 0 or 1", src, t->name, i,
                     b[i]);
    return HK_OK;
}

int hk_st_add(hk_st_file *f, const char *name, hk_st_dtype dtype, int ndim, const long *shape,
              const void *data)
{
    HK_REQUIRE_PTR(f);
    HK_REQUIRE_PTR(name);
    HK_REQUIRE(name[0] != '\0', HK_EINVAL, "tensor name is empty");
    HK_REQUIRE(valid_utf8(name), HK_EINVAL, "tensor name is not valid UTF-8");
    HK_REQUIRE(strcmp(name, "__metadata__") != 0, HK_EINVAL, "tensor name '__metadata__' is reserved");
    HK_REQUIRE(!hk_st_find(f, name), HK_EINVAL, "tensor '%s' is already in the file", name);
    HK_REQUIRE((unsigned)dtype < HK_ST_NDTYPES, HK_EINVAL, "tensor '%s': dtype %d out of range", name, (int)dtype);
    HK_REQUIRE(ndim >= 0 && ndim <= HK_ST_MAX_NDIM, HK_EINVAL, "tensor '%s': ndim=%d outside [0,%d]", name, ndim,
               HK_ST_MAX_NDIM);
    HK_REQUIRE(ndim == 0 || shape, HK_EINVAL, "tensor '%s': argument 'shape' is NULL with ndim=%d", name, ndim);
    for (int d = 0; d < ndim; d++)
        HK_REQUIRE(shape[d] >= 0, HK_EINVAL, "tensor '%s': shape[%d]=%ld is negative", name, d, shape[d]);
    size_t numel, nbytes;
    if (!shape_bytes(ndim, shape, dtypes[dtype].size, &numel, &nbytes))
        HK_ERROR(HK_ENOMEM, "tensor '%s': byte size of the shape overflows", name);
    HK_REQUIRE(data || nbytes == 0, HK_EINVAL, "tensor '%s': argument 'data' is NULL for %zu elements", name, numel);
    hk_st_tensor *t;
    HK_TRY(add_uninit(f, name, dtype, ndim, shape, numel, nbytes, &t));
    if (nbytes) memcpy(t->data, data, nbytes);
    int s = dtype == HK_ST_BOOL ? check_bool(t, HK_EDOM, "hk_st_add") : HK_OK;
    if (s) { /* undo: the file stays as it was */
        f->ntensors--;
        free(t->name);
        free(t->data);
    }
    return s;
}

int hk_st_set_meta(hk_st_file *f, const char *key, const char *value)
{
    HK_REQUIRE_PTR(f);
    HK_REQUIRE_PTR(key);
    HK_REQUIRE_PTR(value);
    HK_REQUIRE(valid_utf8(key), HK_EINVAL, "metadata key is not valid UTF-8");
    HK_REQUIRE(valid_utf8(value), HK_EINVAL, "metadata value of '%s' is not valid UTF-8", key);
    char *v = strdup(value);
    if (!v) HK_ERROR(HK_ENOMEM, "cannot copy metadata value of '%s'", key);
    for (size_t i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta[i].key, key)) {
            free(f->meta[i].value);
            f->meta[i].value = v;
            return HK_OK;
        }
    char *k = strdup(key);
    int s = k ? grow((void **)&f->meta, &f->cap_meta, f->nmeta, sizeof *f->meta) : HK_ENOMEM;
    if (s) {
        free(k);
        free(v);
        HK_ERROR(HK_ENOMEM, "cannot add metadata key '%s'", key);
    }
    f->meta[f->nmeta].key = k;
    f->meta[f->nmeta].value = v;
    f->nmeta++;
    return HK_OK;
}

/* ---- checked getters ---- */

int hk_st_get(const hk_st_file *f, const char *name, hk_st_dtype dtype, int ndim, const long *shape,
              const hk_st_tensor **out)
{
    HK_REQUIRE_PTR(f);
    HK_REQUIRE_PTR(name);
    HK_REQUIRE_PTR(out);
    const hk_st_tensor *t = hk_st_find(f, name);
    if (!t) HK_ERROR(HK_ENOTFOUND, "no tensor '%s' in the file", name);
    if (t->dtype != dtype)
        HK_ERROR(HK_EFORMAT, "tensor '%s' has dtype %s, expected %s", name, hk_st_dtype_name(t->dtype),
                 hk_st_dtype_name(dtype));
    if (shape) {
        int same = ndim == t->ndim;
        for (int d = 0; same && d < ndim; d++) same = shape[d] == t->shape[d];
        if (!same) {
            char got[160], want[160];
            format_shape(got, sizeof got, t->ndim, t->shape);
            format_shape(want, sizeof want, ndim < 0 || ndim > HK_ST_MAX_NDIM ? 0 : ndim, shape);
            HK_ERROR(HK_ESHAPE, "tensor '%s' has shape %s, expected %s", name, got, want);
        }
    }
    *out = t;
    return HK_OK;
}

int hk_st_get_f64(const hk_st_file *f, const char *name, int ndim, const long *shape, const double **data)
{
    const hk_st_tensor *t;
    HK_REQUIRE_PTR(data);
    HK_TRY(hk_st_get(f, name, HK_ST_F64, ndim, shape, &t));
    *data = t->data;
    return HK_OK;
}

int hk_st_get_i64(const hk_st_file *f, const char *name, int ndim, const long *shape, const int64_t **data)
{
    const hk_st_tensor *t;
    HK_REQUIRE_PTR(data);
    HK_TRY(hk_st_get(f, name, HK_ST_I64, ndim, shape, &t));
    *data = t->data;
    return HK_OK;
}

int hk_st_get_u8(const hk_st_file *f, const char *name, int ndim, const long *shape, const uint8_t **data)
{
    const hk_st_tensor *t;
    HK_REQUIRE_PTR(data);
    HK_TRY(hk_st_get(f, name, HK_ST_U8, ndim, shape, &t));
    *data = t->data;
    return HK_OK;
}

/* ---- conversion ---- */

static double f16_to_double(uint16_t h)
{
    int sign = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return sign ? -v : v;
}

int hk_st_to_f64(const hk_st_tensor *t, double *out)
{
    HK_REQUIRE_PTR(t);
    HK_REQUIRE(out || t->numel == 0, HK_EINVAL, "argument 'out' is NULL");
    const void *d = t->data;
    for (size_t i = 0; i < t->numel; i++) {
        double v;
        switch (t->dtype) {
        case HK_ST_BOOL:
        case HK_ST_U8: v = ((const uint8_t *)d)[i]; break;
        case HK_ST_I8: v = ((const int8_t *)d)[i]; break;
        case HK_ST_U16: v = ((const uint16_t *)d)[i]; break;
        case HK_ST_I16: v = ((const int16_t *)d)[i]; break;
        case HK_ST_F16: v = f16_to_double(((const uint16_t *)d)[i]); break;
        case HK_ST_BF16: {
            uint32_t bits = (uint32_t)((const uint16_t *)d)[i] << 16;
            float x;
            memcpy(&x, &bits, sizeof x);
            v = x;
            break;
        }
        case HK_ST_U32: v = ((const uint32_t *)d)[i]; break;
        case HK_ST_I32: v = ((const int32_t *)d)[i]; break;
        case HK_ST_F32: v = ((const float *)d)[i]; break;
        case HK_ST_U64: v = (double)((const uint64_t *)d)[i]; break;
        case HK_ST_I64: v = (double)((const int64_t *)d)[i]; break;
        case HK_ST_F64: v = ((const double *)d)[i]; break;
        default: HK_ERROR(HK_EINVAL, "tensor '%s': dtype %d out of range", t->name, (int)t->dtype);
        }
        out[i] = v;
    }
    return HK_OK;
}

/* ---- reader ---- */

typedef struct {
    const char *name; /* borrowed from the JSON tree */
    hk_st_dtype dtype;
    int ndim;
    long shape[HK_ST_MAX_NDIM];
    size_t numel, nbytes;
    uint64_t begin, end;
} entry;

static int entry_cmp(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* A JSON integer >= 0 (jansson rejects integers beyond 64-bit signed as malformed JSON). */
static int get_nonneg(const json_t *v, const char *src, const char *name, const char *field, int i,
                      uint64_t *out)
{
    if (!json_is_integer(v))
        HK_ERROR(HK_EFORMAT, "%s: tensor '%s': %s[%d] is not an integer", src, name, field, i);
    json_int_t x = json_integer_value(v);
    if (x < 0) HK_ERROR(HK_EFORMAT, "%s: tensor '%s': %s[%d]=%lld is negative", src, name, field, i, (long long)x);
    *out = (uint64_t)x;
    return HK_OK;
}

static int parse_entry(const char *src, const char *name, json_t *obj, uint64_t data_len, entry *e)
{
    memset(e, 0, sizeof *e);
    e->name = name;
    if (name[0] == '\0') HK_ERROR(HK_EFORMAT, "%s: empty tensor name", src);
    if (!json_is_object(obj)) HK_ERROR(HK_EFORMAT, "%s: tensor '%s': entry is not a JSON object", src, name);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (strcmp(key, "dtype") != 0 && strcmp(key, "shape") != 0 && strcmp(key, "data_offsets") != 0)
            HK_ERROR(HK_EFORMAT, "%s: tensor '%s': unknown field '%s'", src, name, key);
    }
    json_t *dt = json_object_get(obj, "dtype"), *sh = json_object_get(obj, "shape"),
           *off = json_object_get(obj, "data_offsets");
    if (!dt || !json_is_string(dt)) HK_ERROR(HK_EFORMAT, "%s: tensor '%s': dtype missing or not a string", src, name);
    if (hk_st_dtype_parse(json_string_value(dt), &e->dtype))
        HK_ERROR(HK_EFORMAT, "%s: tensor '%s': unknown dtype \"%s\"", src, name, json_string_value(dt));
    if (!sh || !json_is_array(sh)) HK_ERROR(HK_EFORMAT, "%s: tensor '%s': shape missing or not a list", src, name);
    if (json_array_size(sh) > HK_ST_MAX_NDIM)
        HK_ERROR(HK_EFORMAT, "%s: tensor '%s': shape has %zu dims, more than HK_ST_MAX_NDIM=%d", src, name,
                 json_array_size(sh), HK_ST_MAX_NDIM);
    e->ndim = (int)json_array_size(sh);
    for (int d = 0; d < e->ndim; d++) {
        uint64_t x;
        HK_TRY(get_nonneg(json_array_get(sh, (size_t)d), src, name, "shape", d, &x));
        if (x > (uint64_t)LONG_MAX)
            HK_ERROR(HK_EFORMAT, "%s: tensor '%s': shape[%d]=%llu is too large", src, name, d, (unsigned long long)x);
        e->shape[d] = (long)x;
    }
    if (!off || !json_is_array(off) || json_array_size(off) != 2)
        HK_ERROR(HK_EFORMAT, "%s: tensor '%s': data_offsets missing or not a list [begin, end]", src, name);
    HK_TRY(get_nonneg(json_array_get(off, 0), src, name, "data_offsets", 0, &e->begin));
    HK_TRY(get_nonneg(json_array_get(off, 1), src, name, "data_offsets", 1, &e->end));
    if (e->begin > e->end)
        HK_ERROR(HK_EFORMAT, "%s: tensor '%s': data_offsets [%llu,%llu] are reversed", src, name,
                 (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > data_len)
        HK_ERROR(HK_EFORMAT, "%s: tensor '%s': data_offsets [%llu,%llu] out of range: the data section has %llu bytes"
                 " (truncated file?)",
                 src, name, (unsigned long long)e->begin, (unsigned long long)e->end, (unsigned long long)data_len);
    char shs[160];
    format_shape(shs, sizeof shs, e->ndim, e->shape);
    if (!shape_bytes(e->ndim, e->shape, dtypes[e->dtype].size, &e->numel, &e->nbytes))
        HK_ERROR(HK_EFORMAT, "%s: tensor '%s': byte size of shape %s (%s) overflows", src, name, shs,
                 dtypes[e->dtype].name);
    if (e->nbytes != e->end - e->begin)
        HK_ERROR(HK_EFORMAT, "%s: tensor '%s': shape %s of %s needs %zu bytes but data_offsets [%llu,%llu] span %llu",
                 src, name, shs, dtypes[e->dtype].name, e->nbytes, (unsigned long long)e->begin,
                 (unsigned long long)e->end, (unsigned long long)(e->end - e->begin));
    return HK_OK;
}

static int parse_metadata(const char *src, json_t *obj, hk_st_file *f)
{
    if (json_is_null(obj)) return HK_OK; /* the safetensors crate reads null as "no metadata" */
    if (!json_is_object(obj)) HK_ERROR(HK_EFORMAT, "%s: __metadata__ is not a JSON object", src);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (!json_is_string(v)) HK_ERROR(HK_EFORMAT, "%s: __metadata__ value of '%s' is not a string", src, key);
        HK_TRY(hk_st_set_meta(f, key, json_string_value(v)));
    }
    return HK_OK;
}

/* Checks that the sorted byte ranges tile [0, data_len) exactly. */
static int check_tiling(const char *src, const entry *e, size_t n, uint64_t data_len)
{
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].begin < pos)
            HK_ERROR(HK_EFORMAT, "%s: tensor '%s' data_offsets [%llu,%llu] overlap tensor '%s' (ends at %llu)", src,
                     e[i].name, (unsigned long long)e[i].begin, (unsigned long long)e[i].end, e[i - 1].name,
                     (unsigned long long)pos);
        if (e[i].begin > pos)
            HK_ERROR(HK_EFORMAT, "%s: gap of %llu unreferenced bytes before tensor '%s' (data_offsets [%llu,%llu])",
                     src, (unsigned long long)(e[i].begin - pos), e[i].name, (unsigned long long)e[i].begin,
                     (unsigned long long)e[i].end);
        pos = e[i].end;
    }
    if (pos != data_len)
        HK_ERROR(HK_EFORMAT, "%s: %llu trailing bytes after the last tensor (data section %llu bytes, tensors end at %llu)",
                 src, (unsigned long long)(data_len - pos), (unsigned long long)data_len, (unsigned long long)pos);
    return HK_OK;
}

/* Parses and validates the JSON header hdr[0..n) against a data section of
 * data_len bytes; returns a file whose tensors (in data order) have
 * allocated, unfilled data. */
static int parse_header(const char *src, const char *hdr, size_t n, uint64_t data_len, hk_st_file **out)
{
    json_error_t jerr;
    json_t *root = json_loadb(hdr, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        HK_ERROR(HK_EFORMAT, "%s: header is not valid JSON: %s (line %d, column %d)", src, jerr.text, jerr.line,
                 jerr.column);
    hk_st_file *f = NULL;
    entry *ents = NULL;
    size_t ne = 0;
    int s = HK_OK;
    if (!json_is_object(root)) {
        s = hk_error_set(HK_EFORMAT, __FILE__, __LINE__, "%s: header is not a JSON object", src);
        goto done;
    }
    if ((s = hk_st_new(&f))) goto done;
    ents = malloc((json_object_size(root) + 1) * sizeof *ents);
    if (!ents) {
        s = hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "%s: cannot allocate %zu header entries", src,
                         json_object_size(root));
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        s = !strcmp(key, "__metadata__") ? parse_metadata(src, v, f) : parse_entry(src, key, v, data_len, &ents[ne++]);
        if (s) goto done;
    }
    qsort(ents, ne, sizeof *ents, entry_cmp);
    if ((s = check_tiling(src, ents, ne, data_len))) goto done;
    for (size_t i = 0; i < ne && !s; i++) {
        hk_st_tensor *t;
        s = add_uninit(f, ents[i].name, ents[i].dtype, ents[i].ndim, ents[i].shape, ents[i].numel, ents[i].nbytes,
                       &t);
    }
done:
    free(ents);
    json_decref(root);
    if (s) {
        hk_st_free(f);
        return s;
    }
    *out = f;
    return HK_OK;
}

/* After the data is filled: byte order, BOOL values. */
static int finish_data(const char *src, hk_st_file *f)
{
    for (size_t i = 0; i < f->ntensors; i++) {
        hk_st_tensor *t = &f->tensors[i];
        to_from_le(t->data, t->numel, dtypes[t->dtype].size);
        if (t->dtype == HK_ST_BOOL) HK_TRY(check_bool(t, HK_EFORMAT, src));
    }
    return HK_OK;
}

/* Header length from the first 8 bytes, checked against the bound and the total size. */
static int check_header_len(const char *src, const unsigned char *first8, uint64_t total, size_t *n)
{
    uint64_t N = get_u64_le(first8);
    if (N > HK_ST_MAX_HEADER)
        HK_ERROR(HK_EFORMAT, "%s: header length %llu exceeds the limit of %u bytes", src, (unsigned long long)N,
                 HK_ST_MAX_HEADER);
    if (N > total - 8)
        HK_ERROR(HK_EFORMAT, "%s: truncated: header length %llu runs past the end (%llu bytes after the length)", src,
                 (unsigned long long)N, (unsigned long long)(total - 8));
    *n = (size_t)N;
    return HK_OK;
}

int hk_st_parse(const void *buf, size_t len, hk_st_file **out)
{
    HK_REQUIRE_PTR(buf);
    HK_REQUIRE_PTR(out);
    *out = NULL;
    const char *src = "safetensors buffer";
    const unsigned char *b = buf;
    if (len < 8) HK_ERROR(HK_EFORMAT, "%s: truncated: %zu bytes, shorter than the 8-byte header length", src, len);
    size_t n;
    HK_TRY(check_header_len(src, b, len, &n));
    hk_st_file *f;
    HK_TRY(parse_header(src, (const char *)b + 8, n, len - 8 - n, &f));
    const unsigned char *p = b + 8 + n;
    for (size_t i = 0; i < f->ntensors; i++) { /* tensors tile the data section in this order */
        memcpy(f->tensors[i].data, p, f->tensors[i].nbytes);
        p += f->tensors[i].nbytes;
    }
    int s = finish_data(src, f);
    if (s) {
        hk_st_free(f);
        return s;
    }
    *out = f;
    return HK_OK;
}

int hk_st_read(const char *path, hk_st_file **out)
{
    HK_REQUIRE_PTR(path);
    HK_REQUIRE_PTR(out);
    *out = NULL;
    FILE *fp;
    uint64_t size;
    HK_TRY(hk_file_open_read(path, &fp, &size)); /* a regular file, checked before any read */
    hk_st_file *f = NULL;
    char *hdr = NULL;
    int s = HK_OK;
    unsigned char first8[8];
    size_t n = 0;
    if (size < 8) {
        s = hk_error_set(HK_EFORMAT, __FILE__, __LINE__,
                         "%s: truncated: %llu bytes, shorter than the 8-byte header length", path,
                         (unsigned long long)size);
        goto done;
    }
    if ((s = hk_file_read_exact(fp, first8, 8, path, "the header length"))) goto done;
    if ((s = check_header_len(path, first8, size, &n))) goto done;
    hdr = malloc(n + 1);
    if (!hdr) {
        s = hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "%s: cannot allocate the %zu-byte header", path, n);
        goto done;
    }
    if ((s = hk_file_read_exact(fp, hdr, n, path, "the header"))) goto done;
    if ((s = parse_header(path, hdr, n, size - 8 - n, &f))) goto done;
    for (size_t i = 0; i < f->ntensors && !s; i++)
        s = hk_file_read_exact(fp, f->tensors[i].data, f->tensors[i].nbytes, path, f->tensors[i].name);
    if (!s && fgetc(fp) != EOF)
        s = hk_error_set(HK_EFORMAT, __FILE__, __LINE__, "%s: trailing bytes (the file grew while reading)", path);
    if (!s) s = finish_data(path, f);
done:
    free(hdr);
    fclose(fp);
    if (s) {
        hk_st_free(f);
        return s;
    }
    *out = f;
    return HK_OK;
}

/* ---- writer ---- */

/* Data order: element size descending, then name (strcmp). */
static int order_cmp(const void *a, const void *b)
{
    const hk_st_tensor *x = *(const hk_st_tensor *const *)a, *y = *(const hk_st_tensor *const *)b;
    size_t sx = dtypes[x->dtype].size, sy = dtypes[y->dtype].size;
    if (sx != sy) return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int meta_cmp(const void *a, const void *b)
{
    return strcmp((*(const hk_st_meta *const *)a)->key, (*(const hk_st_meta *const *)b)->key);
}

/* The compact JSON header for tensors in `order` (malloc'd string). */
static int build_header(const hk_st_file *f, const hk_st_tensor *const *order, char **out)
{
    json_t *root = json_object(), *meta = NULL;
    const hk_st_meta **ms = f->nmeta ? malloc(f->nmeta * sizeof *ms) : NULL;
    int bad = !root || (f->nmeta && !ms);
    if (!bad && f->nmeta) {
        for (size_t i = 0; i < f->nmeta; i++) ms[i] = &f->meta[i];
        qsort(ms, f->nmeta, sizeof *ms, meta_cmp);
        meta = json_object();
        bad |= !meta || json_object_set_new(root, "__metadata__", meta);
        for (size_t i = 0; !bad && i < f->nmeta; i++)
            bad |= json_object_set_new(meta, ms[i]->key, json_string(ms[i]->value)) != 0;
    }
    uint64_t pos = 0;
    for (size_t k = 0; !bad && k < f->ntensors; k++) {
        const hk_st_tensor *t = order[k];
        json_t *e = json_object(), *sh = json_array(), *off = json_array();
        bad |= !e || !sh || !off;
        for (int d = 0; !bad && d < t->ndim; d++) bad |= json_array_append_new(sh, json_integer(t->shape[d])) != 0;
        bad |= !bad && (json_array_append_new(off, json_integer((json_int_t)pos)) ||
                        json_array_append_new(off, json_integer((json_int_t)(pos + t->nbytes))));
        pos += t->nbytes;
        bad |= !bad && (json_object_set_new(e, "dtype", json_string(dtypes[t->dtype].name)) ||
                        json_object_set(e, "shape", sh) || json_object_set(e, "data_offsets", off) ||
                        json_object_set(root, t->name, e));
        json_decref(sh);
        json_decref(off);
        json_decref(e);
    }
    /* jansson (>= 2.8) keeps object keys in insertion order. */
    *out = bad ? NULL : json_dumps(root, JSON_COMPACT);
    json_decref(root);
    free(ms);
    if (!*out) HK_ERROR(HK_ENOMEM, "cannot build the JSON header: out of memory");
    return HK_OK;
}

int hk_st_serialize(const hk_st_file *f, unsigned char **buf, size_t *len)
{
    HK_REQUIRE_PTR(f);
    HK_REQUIRE_PTR(buf);
    HK_REQUIRE_PTR(len);
    const hk_st_tensor **order = malloc((f->ntensors + 1) * sizeof *order);
    if (!order) HK_ERROR(HK_ENOMEM, "cannot allocate the tensor order");
    for (size_t i = 0; i < f->ntensors; i++) order[i] = &f->tensors[i];
    qsort(order, f->ntensors, sizeof *order, order_cmp);
    char *json = NULL;
    int s = build_header(f, order, &json);
    size_t jn = json ? strlen(json) : 0, n = jn + (8 - jn % 8) % 8, total = 8 + n;
    for (size_t i = 0; i < f->ntensors; i++) total += f->tensors[i].nbytes;
    unsigned char *b = s ? NULL : malloc(total);
    if (!s && !b) s = hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "cannot allocate %zu bytes for the file", total);
    if (!s && n > HK_ST_MAX_HEADER)
        s = hk_error_set(HK_EINVAL, __FILE__, __LINE__, "header of %zu bytes exceeds the limit of %u", n,
                         HK_ST_MAX_HEADER);
    if (!s) {
        put_u64_le(b, n);
        memcpy(b + 8, json, jn);
        memset(b + 8 + jn, ' ', n - jn);
        unsigned char *p = b + 8 + n;
        for (size_t k = 0; k < f->ntensors; k++) {
            const hk_st_tensor *t = order[k];
            if (t->nbytes) memcpy(p, t->data, t->nbytes);
            to_from_le(p, t->numel, dtypes[t->dtype].size);
            p += t->nbytes;
        }
        *buf = b;
        *len = total;
    } else {
        free(b);
    }
    free(json);
    free(order);
    return s;
}

int hk_st_write(const hk_st_file *f, const char *path)
{
    HK_REQUIRE_PTR(path);
    unsigned char *b;
    size_t n;
    HK_TRY(hk_st_serialize(f, &b, &n));
    int s = hk_file_write_atomic(path, b, n);
    free(b);
    return s;
}
