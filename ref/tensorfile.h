/* hkref — safetensors tensor files: read, write (atomically), look up.
 *
 * Format (huggingface/safetensors): 8-byte little-endian u64 N, then N bytes
 * of UTF-8 JSON header, then the data section.  The header is an object
 *     {"<name>": {"dtype": "F64", "shape": [2, 3], "data_offsets": [begin, end]},
 *      "__metadata__": {"<key>": "<string value>", ...}}
 * with offsets relative to the data section; data is little-endian, C order.
 * The JSON header may be padded with trailing spaces.
 *
 * Reader policy (every violation is HK_EFORMAT with a message naming the
 * tensor / field, never a crash; memory stays proportional to the input: every size
 * read from the file is checked against the input length before use):
 *   N <= HK_ST_MAX_HEADER (100,000,000 bytes, the limit of the safetensors
 *   crate) and 8 + N <= file size; JSON parsed by jansson with duplicate keys
 *   rejected; dtype one of the names below; shape a list of at most
 *   HK_ST_MAX_NDIM non-negative integers whose byte size (checked
 *   multiplication) equals end - begin; the byte ranges, sorted, tile the data
 *   section exactly (no gap, no overlap, nothing after the last tensor);
 *   "__metadata__" is an object of strings (or null, read as none, like the
 *   safetensors crate); BOOL bytes are 0 or 1.
 *
 * Writer policy (byte-reproducible: same content -> same bytes):
 *   compact JSON, "__metadata__" first (omitted when empty) with keys in strcmp
 *   order, then the tensors in data order: element size descending, then name
 *   in strcmp order; inside an entry the keys are dtype, shape, data_offsets.
 *   The header is padded with spaces so the data section starts on an 8-byte
 *   boundary; since tensors are packed by element size descending, every
 *   tensor starts at a multiple of its element size (F64/I64: of 8) with no
 *   padding between tensors (which the format does not allow).  No timestamp.
 *
 * Masks are stored as U8 (1 = dropped) and ranks as I64 by the golden set. */
#ifndef HK_TENSORFILE_H
#define HK_TENSORFILE_H

#include <stddef.h>
#include <stdint.h>

#include "fileio.h" /* hk_file_write_atomic, hk_file_read */

#define HK_ST_MAX_HEADER 100000000u
#define HK_ST_MAX_NDIM 8

/* The safetensors dtypes hkref reads and writes (names exactly as the spec). */
typedef enum {
    HK_ST_BOOL, HK_ST_U8, HK_ST_I8, HK_ST_U16, HK_ST_I16, HK_ST_F16, HK_ST_BF16,
    HK_ST_U32, HK_ST_I32, HK_ST_F32, HK_ST_U64, HK_ST_I64, HK_ST_F64,
    HK_ST_NDTYPES
} hk_st_dtype;

typedef struct {
    char *name;
    hk_st_dtype dtype;
    int ndim;                     /* 0 = scalar (one element) */
    long shape[HK_ST_MAX_NDIM];
    size_t numel;                 /* product of shape (1 for a scalar) */
    size_t nbytes;                /* numel * element size */
    void *data;                   /* host byte order; malloc'd, aligned for any dtype */
} hk_st_tensor;

typedef struct {
    char *key, *value;
} hk_st_meta;

/* Tensors in the order they were added (reader: data-offset order). */
typedef struct {
    size_t ntensors, cap_tensors;
    hk_st_tensor *tensors;
    size_t nmeta, cap_meta;
    hk_st_meta *meta;
} hk_st_file;

const char *hk_st_dtype_name(hk_st_dtype dt);              /* "F64"; "?" if out of range */
size_t hk_st_dtype_size(hk_st_dtype dt);                   /* bytes per element; 0 if out of range */
/* "F64" -> HK_ST_F64; HK_EFORMAT naming the string if unknown. */
int hk_st_dtype_parse(const char *name, hk_st_dtype *out);

/* An empty file object; free with hk_st_free (NULL is a no-op). */
int hk_st_new(hk_st_file **out);
void hk_st_free(hk_st_file *f);

/* Adds a tensor, copying nbytes = numel * size bytes from data (host order;
 * data may be NULL only when numel = 0).  HK_EINVAL for an empty name, a
 * name that is not valid UTF-8, the reserved "__metadata__", a name already
 * present, ndim outside [0, HK_ST_MAX_NDIM], a negative dim; HK_EDOM for a
 * BOOL byte other than 0/1; HK_ENOMEM if the size overflows.  On failure the
 * file is unchanged. */
int hk_st_add(hk_st_file *f, const char *name, hk_st_dtype dtype, int ndim, const long *shape,
              const void *data);
/* Sets metadata key to value (both copied, valid UTF-8; replaces an existing key). */
int hk_st_set_meta(hk_st_file *f, const char *key, const char *value);

/* The tensor / metadata value of that name, or NULL (not an error); linear search. */
const hk_st_tensor *hk_st_find(const hk_st_file *f, const char *name);
const char *hk_st_get_meta(const hk_st_file *f, const char *key);

/* The tensor `name`, checked: HK_ENOTFOUND if absent, HK_EFORMAT if its dtype
 * is not `dtype`, HK_ESHAPE if shape != NULL and its shape is not
 * (ndim, shape) — the message names the tensor and both shapes/dtypes. */
int hk_st_get(const hk_st_file *f, const char *name, hk_st_dtype dtype, int ndim, const long *shape,
              const hk_st_tensor **out);
/* Typed shortcuts of hk_st_get returning the data pointer. */
int hk_st_get_f64(const hk_st_file *f, const char *name, int ndim, const long *shape, const double **data);
int hk_st_get_i64(const hk_st_file *f, const char *name, int ndim, const long *shape, const int64_t **data);
int hk_st_get_u8(const hk_st_file *f, const char *name, int ndim, const long *shape, const uint8_t **data);

/* Converts every element of t to double into out[0..t->numel): exact for
 * BOOL, U8..I32, F16, BF16, F32, F64; U64/I64 beyond 2^53 round to nearest.
 * F16 and BF16 follow IEEE 754 binary16 / the top half of binary32
 * (subnormals, infinities and NaN kept). */
int hk_st_to_f64(const hk_st_tensor *t, double *out);

/* Parses a whole safetensors image buf[0..len) (pure; copies the data). */
int hk_st_parse(const void *buf, size_t len, hk_st_file **out);
/* Reads path: header first, validated against the file size, then the data
 * straight into each tensor (no second copy).  HK_EIO for open/read errors. */
int hk_st_read(const char *path, hk_st_file **out);

/* The canonical bytes of f (see writer policy); *buf is malloc'd, caller frees. */
int hk_st_serialize(const hk_st_file *f, unsigned char **buf, size_t *len);
/* hk_st_serialize + hk_file_write_atomic. */
int hk_st_write(const hk_st_file *f, const char *path);

#endif
