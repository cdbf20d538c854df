/* hkref — safetensors tensor files: interoperability with hand-assembled and
 * numpy-written bytes, round trips of every dtype, byte-reproducible output,
 * one test per reader rejection, atomic writes (ref/fileio.h, used by the
 * tensor files) and `hkref inspect`. */
#include "hk_test.h"

#include "ref/tensorfile.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A safetensors image: 8-byte little-endian strlen(hdr), hdr, then dlen data bytes. */
static unsigned char *image(const char *hdr, const void *data, size_t dlen, size_t *len)
{
    size_t n = strlen(hdr);
    unsigned char *b = malloc(8 + n + dlen + 1);
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, hdr, n);
    if (dlen) memcpy(b + 8 + n, data, dlen);
    *len = 8 + n + dlen;
    return b;
}

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* ---- interoperability: bytes not produced by hk_st_serialize ---- */

/* Hand-assembled, in the writer's canonical form: compact JSON, metadata first,
 * tensors by element size descending (F64, I32, U8), header padded with 2
 * spaces to 192 = 0xc0 bytes (190 characters counted by hand + 2).
 * 1.5 = 0x3ff8000000000000, -2 = 0xc000000000000000, int32 -3 = 0xfffffffd. */
static const unsigned char hand[8 + 192 + 23] =
    "\xc0\0\0\0\0\0\0\0"
    "{\"__metadata__\":{\"op\":\"t\"},\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
    "\"n\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[16,20]},"
    "\"m\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[20,23]}}  "
    "\0\0\0\0\0\0\xf8\x3f" "\0\0\0\0\0\0\0\xc0" "\xfd\xff\xff\xff" "\x01\x00\x01";

START_TEST(parses_hand_assembled_bytes)
{
    hk_st_file *f;
    hk_assert_ok(hk_st_parse(hand, sizeof hand, &f));
    ck_assert_uint_eq(f->ntensors, 3);
    const double *a;
    long sa[1] = {2};
    hk_assert_ok(hk_st_get_f64(f, "a", 1, sa, &a));
    ck_assert(a[0] == 1.5 && a[1] == -2.0);
    const hk_st_tensor *n;
    long sn[1] = {1};
    hk_assert_ok(hk_st_get(f, "n", HK_ST_I32, 1, sn, &n));
    ck_assert_int_eq(((const int32_t *)n->data)[0], -3);
    const uint8_t *m;
    long sm[1] = {3};
    hk_assert_ok(hk_st_get_u8(f, "m", 1, sm, &m));
    ck_assert(m[0] == 1 && m[1] == 0 && m[2] == 1);
    ck_assert_str_eq(hk_st_get_meta(f, "op"), "t");
    ck_assert_ptr_null(hk_st_get_meta(f, "nope"));
    hk_st_free(f);
}
END_TEST

START_TEST(writer_output_equals_hand_assembled_bytes)
{
    /* Same content, added in a different order: the writer must reproduce `hand` exactly. */
    hk_st_file *f;
    hk_assert_ok(hk_st_new(&f));
    uint8_t m[3] = {1, 0, 1};
    int32_t n[1] = {-3};
    double a[2] = {1.5, -2.0};
    long s3[1] = {3}, s1[1] = {1}, s2[1] = {2};
    hk_assert_ok(hk_st_add(f, "m", HK_ST_U8, 1, s3, m));
    hk_assert_ok(hk_st_add(f, "n", HK_ST_I32, 1, s1, n));
    hk_assert_ok(hk_st_add(f, "a", HK_ST_F64, 1, s2, a));
    hk_assert_ok(hk_st_set_meta(f, "op", "t"));
    unsigned char *b;
    size_t len;
    hk_assert_ok(hk_st_serialize(f, &b, &len));
    ck_assert_uint_eq(len, sizeof hand);
    ck_assert_msg(memcmp(b, hand, len) == 0, "writer bytes differ from the hand-assembled file: %.*s", (int)len - 8,
                  (const char *)b + 8);
    free(b);
    hk_st_free(f);
}
END_TEST

/* Written by numpy + json + struct (no safetensors library, not hkref):
 *   ts = {"w": np.array([[1.5,-2.25,0.1],[1e300,-0.0,3.0]],"<f8"), "r": np.array(7,"<i8"),
 *         "x": np.array([0.5,-1.0/3.0],"<f4"), "k": np.array([-2,2147483647],"<i4"),
 *         "m": np.array([1,0,1],np.uint8), "b": np.array([True,False])}
 *   header = json.dumps({"__metadata__": {"op": "fixture", "eq": "none"}, name: {"dtype", "shape",
 *            "data_offsets"} in that order}) padded with spaces to a multiple of 8;
 *   file = struct.pack("<Q", len(header)) + header + b"".join(a.tobytes() for a in ts.values())
 * Its JSON has spaces after ':' and ',' (json.dumps defaults), unlike hkref's writer. */
static const char np_header[] =
    "{\"__metadata__\": {\"op\": \"fixture\", \"eq\": \"none\"}, \"w\": {\"dtype\": \"F64\", \""
    "shape\": [2, 3], \"data_offsets\": [0, 48]}, \"r\": {\"dtype\": \"I64\", \"shape\": [], \""
    "data_offsets\": [48, 56]}, \"x\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": ["
    "56, 64]}, \"k\": {\"dtype\": \"I32\", \"shape\": [2], \"data_offsets\": [64, 72]}, \"m\": "
    "{\"dtype\": \"U8\", \"shape\": [3], \"data_offsets\": [72, 75]}, \"b\": {\"dtype\": \"BOOL"
    "\", \"shape\": [2], \"data_offsets\": [75, 77]}}    ";
static const unsigned char np_data[77] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xc0,
    0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f, 0x9c, 0x75, 0x00, 0x88, 0x3c, 0xe4, 0x37, 0x7e,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x40,
    0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3f, 0xab, 0xaa, 0xaa, 0xbe,
    0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x01, 0x00, 0x01, 0x01, 0x00,
};

START_TEST(parses_numpy_written_file)
{
    size_t len;
    unsigned char *b = image(np_header, np_data, sizeof np_data, &len);
    ck_assert_uint_eq(len, 517); /* len(out) printed by the Python script */
    hk_st_file *f;
    hk_assert_ok(hk_st_parse(b, len, &f));
    const double *w;
    long sw[2] = {2, 3};
    hk_assert_ok(hk_st_get_f64(f, "w", 2, sw, &w));
    /* Decimal literals round to the same doubles in C and Python; -0.0 keeps its sign. */
    const double want[6] = {1.5, -2.25, 0.1, 1e300, -0.0, 3.0};
    for (int i = 0; i < 6; i++) ck_assert_msg(same_bits(w[i], want[i]), "w[%d] = %.17g, want %.17g", i, w[i], want[i]);
    const int64_t *r;
    hk_assert_ok(hk_st_get_i64(f, "r", 0, NULL, &r));
    ck_assert_int_eq(hk_st_find(f, "r")->ndim, 0);
    ck_assert_uint_eq(hk_st_find(f, "r")->numel, 1);
    ck_assert_int_eq(r[0], 7);
    const hk_st_tensor *t;
    long s2[1] = {2};
    hk_assert_ok(hk_st_get(f, "x", HK_ST_F32, 1, s2, &t));
    ck_assert(((const float *)t->data)[0] == 0.5f && ((const float *)t->data)[1] == (float)(-1.0 / 3.0));
    hk_assert_ok(hk_st_get(f, "k", HK_ST_I32, 1, s2, &t));
    ck_assert(((const int32_t *)t->data)[0] == -2 && ((const int32_t *)t->data)[1] == INT32_MAX);
    hk_assert_ok(hk_st_get(f, "b", HK_ST_BOOL, 1, s2, &t));
    ck_assert(((const uint8_t *)t->data)[0] == 1 && ((const uint8_t *)t->data)[1] == 0);
    ck_assert_str_eq(hk_st_get_meta(f, "op"), "fixture");
    ck_assert_str_eq(hk_st_get_meta(f, "eq"), "none");
    /* Reader order is data order. */
    const char *order[6] = {"w", "r", "x", "k", "m", "b"};
    for (int i = 0; i < 6; i++) ck_assert_str_eq(f->tensors[i].name, order[i]);
    hk_st_free(f);
    free(b);
}
END_TEST

/* ---- round trips and byte reproducibility ---- */

/* For every dtype: tensor `x` of shape (2,3) of patterned bytes, a
 * zero-element `e` (0,4) and a scalar `s`, next to an F64 `g`: serialize,
 * parse, compare bytes, re-serialize.  One test looping over the dtypes (each
 * forked test costs ~60 ms of ASan + LeakSanitizer in the gate); messages name
 * the dtype. */
static void roundtrip_one(hk_st_dtype dt)
{
    const char *dn = hk_st_dtype_name(dt);
    size_t es = hk_st_dtype_size(dt);
    unsigned char x[6 * 8], s[8];
    for (size_t i = 0; i < sizeof x; i++) x[i] = dt == HK_ST_BOOL ? (i % 3 == 0) : (unsigned char)(37 * i + 11);
    for (size_t i = 0; i < sizeof s; i++) s[i] = dt == HK_ST_BOOL ? 1 : (unsigned char)(101 + i);
    double g[3] = {2.385, -0.0, 1e-310};
    long sx[2] = {2, 3}, se[2] = {0, 4}, sg[1] = {3};
    hk_st_file *f, *back;
    hk_assert_ok(hk_st_new(&f));
    hk_assert_ok(hk_st_add(f, "x", dt, 2, sx, x));
    hk_assert_ok(hk_st_add(f, "e", dt, 2, se, NULL));
    hk_assert_ok(hk_st_add(f, "s", dt, 0, NULL, s));
    hk_assert_ok(hk_st_add(f, "g", HK_ST_F64, 1, sg, g));
    unsigned char *b, *b2;
    size_t len, len2;
    hk_assert_ok(hk_st_serialize(f, &b, &len));
    hk_assert_ok(hk_st_parse(b, len, &back));
    ck_assert_uint_eq(back->ntensors, 4);
    const hk_st_tensor *t;
    hk_assert_ok(hk_st_get(back, "x", dt, 2, sx, &t));
    ck_assert_msg(t->nbytes == 6 * es && memcmp(t->data, x, 6 * es) == 0, "%s: x differs after the round trip", dn);
    hk_assert_ok(hk_st_get(back, "e", dt, 2, se, &t));
    ck_assert_msg(t->numel == 0 && t->nbytes == 0, "%s: e is not empty", dn);
    hk_assert_ok(hk_st_get(back, "s", dt, 0, NULL, &t));
    ck_assert_msg(t->numel == 1 && memcmp(t->data, s, es) == 0, "%s: scalar differs", dn);
    const double *gb;
    hk_assert_ok(hk_st_get_f64(back, "g", 1, sg, &gb));
    for (int i = 0; i < 3; i++) ck_assert_msg(same_bits(gb[i], g[i]), "%s: g[%d] differs", dn, i);
    /* Re-serializing what was read gives the same bytes. */
    hk_assert_ok(hk_st_serialize(back, &b2, &len2));
    ck_assert_msg(len2 == len && memcmp(b, b2, len) == 0, "%s: re-serialized bytes differ", dn);
    free(b);
    free(b2);
    hk_st_free(back);
    hk_st_free(f);
}

START_TEST(roundtrip_every_dtype)
{
    for (int dt = 0; dt < HK_ST_NDTYPES; dt++) roundtrip_one((hk_st_dtype)dt);
}
END_TEST

/* Alignment read from the written header with jansson directly (not the reader):
 * the data section starts at a multiple of 8 and each tensor at a multiple of
 * its element size. */
START_TEST(writer_aligns_data)
{
    hk_st_file *f;
    hk_assert_ok(hk_st_new(&f));
    unsigned char bytes[64] = {0};
    long s3[1] = {3}, s5[1] = {5}, s1[1] = {1};
    hk_assert_ok(hk_st_add(f, "u8", HK_ST_U8, 1, s3, bytes));
    hk_assert_ok(hk_st_add(f, "f32", HK_ST_F32, 1, s3, bytes));
    hk_assert_ok(hk_st_add(f, "f16", HK_ST_F16, 1, s5, bytes));
    hk_assert_ok(hk_st_add(f, "f64", HK_ST_F64, 1, s1, bytes));
    hk_assert_ok(hk_st_add(f, "i64", HK_ST_I64, 1, s3, bytes));
    hk_assert_ok(hk_st_set_meta(f, "k", "v"));
    unsigned char *b;
    size_t len;
    hk_assert_ok(hk_st_serialize(f, &b, &len));
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | b[i];
    ck_assert_uint_eq((8 + n) % 8, 0);
    json_error_t err;
    json_t *h = json_loadb((const char *)b + 8, n, 0, &err);
    ck_assert_ptr_nonnull(h);
    const char *names[5] = {"u8", "f32", "f16", "f64", "i64"};
    const size_t sizes[5] = {1, 4, 2, 8, 8};
    for (int i = 0; i < 5; i++) {
        json_t *off = json_object_get(json_object_get(h, names[i]), "data_offsets");
        ck_assert_msg(json_integer_value(json_array_get(off, 0)) % (json_int_t)sizes[i] == 0, "%s misaligned", names[i]);
    }
    /* Compact JSON: no space outside the trailing padding. */
    char *jd = strndup((const char *)b + 8, n);
    ck_assert_ptr_nonnull(jd);
    char *sp = strchr(jd, ' ');
    ck_assert_msg(sp && sp[-1] == '}' && strspn(sp, " ") == strlen(sp), "not compact JSON + space padding: '%s'", jd);
    free(jd);
    json_decref(h);
    free(b);
    hk_st_free(f);
}
END_TEST

START_TEST(empty_file_is_8_bytes_of_header)
{
    /* "{}" padded with 6 spaces to 8 bytes; no data. */
    static const unsigned char want[16] = "\x08\0\0\0\0\0\0\0{}      ";
    hk_st_file *f, *back;
    hk_assert_ok(hk_st_new(&f));
    unsigned char *b;
    size_t len;
    hk_assert_ok(hk_st_serialize(f, &b, &len));
    ck_assert_uint_eq(len, 16);
    ck_assert(memcmp(b, want, 16) == 0);
    hk_assert_ok(hk_st_parse(b, len, &back));
    ck_assert(back->ntensors == 0 && back->nmeta == 0);
    free(b);
    hk_st_free(back);
    hk_st_free(f);
}
END_TEST

START_TEST(same_content_same_bytes)
{
    /* Two files with the same tensors and metadata, built in opposite orders. */
    hk_st_file *f[2];
    double a[4] = {0.25, -1.75, 3.5, 2.385};
    int64_t r[1] = {4};
    uint8_t m[4] = {0, 1, 1, 0};
    long s4[1] = {4}, s22[2] = {2, 2};
    for (int k = 0; k < 2; k++) {
        hk_assert_ok(hk_st_new(&f[k]));
        if (k == 0) {
            hk_assert_ok(hk_st_add(f[k], "in.x", HK_ST_F64, 2, s22, a));
            hk_assert_ok(hk_st_add(f[k], "mask.m", HK_ST_U8, 1, s4, m));
            hk_assert_ok(hk_st_add(f[k], "in.rank", HK_ST_I64, 0, NULL, r));
            hk_assert_ok(hk_st_set_meta(f[k], "op", "demo"));
            hk_assert_ok(hk_st_set_meta(f[k], "format", "1"));
        } else {
            hk_assert_ok(hk_st_set_meta(f[k], "format", "0"));
            hk_assert_ok(hk_st_set_meta(f[k], "op", "demo"));
            hk_assert_ok(hk_st_set_meta(f[k], "format", "1")); /* replaces */
            hk_assert_ok(hk_st_add(f[k], "in.rank", HK_ST_I64, 0, NULL, r));
            hk_assert_ok(hk_st_add(f[k], "mask.m", HK_ST_U8, 1, s4, m));
            hk_assert_ok(hk_st_add(f[k], "in.x", HK_ST_F64, 2, s22, a));
        }
    }
    ck_assert_uint_eq(f[1]->nmeta, 2);
    unsigned char *b[2];
    size_t len[2];
    for (int k = 0; k < 2; k++) hk_assert_ok(hk_st_serialize(f[k], &b[k], &len[k]));
    ck_assert_uint_eq(len[0], len[1]);
    ck_assert(memcmp(b[0], b[1], len[0]) == 0);
    for (int k = 0; k < 2; k++) {
        free(b[k]);
        hk_st_free(f[k]);
    }
}
END_TEST

START_TEST(converts_every_dtype_to_double)
{
    /* binary16: 0x3c00 = 1, 0xc000 = -2, 0x7bff = (2-2^-10)*2^15 = 65504, 0x0001 = 2^-24
     * (smallest subnormal), 0x0400 = 2^-14, 0x3555 = 1365/4096, 0x7c00 = inf, 0x7e00 = NaN.
     * bfloat16 0xc049 is binary32 0xc0490000 = -(1 + 0x49/128) * 2 = -3.140625. */
    uint16_t h[8] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x3555, 0xfc00, 0x7e00};
    double hw[8] = {1.0, -2.0, 65504.0, ldexp(1, -24), ldexp(1, -14), 1365.0 / 4096.0, -INFINITY, NAN};
    uint16_t bf[2] = {0x3f80, 0xc049};
    uint64_t u64[1] = {(UINT64_C(1) << 53) + 1}; /* ties-to-even: rounds down to 2^53 */
    int8_t i8[2] = {-128, 127};
    long s8[1] = {8}, s2[1] = {2}, s1[1] = {1};
    hk_st_file *f;
    hk_assert_ok(hk_st_new(&f));
    hk_assert_ok(hk_st_add(f, "h", HK_ST_F16, 1, s8, h));
    hk_assert_ok(hk_st_add(f, "bf", HK_ST_BF16, 1, s2, bf));
    hk_assert_ok(hk_st_add(f, "u64", HK_ST_U64, 1, s1, u64));
    hk_assert_ok(hk_st_add(f, "i8", HK_ST_I8, 1, s2, i8));
    double v[8];
    hk_assert_ok(hk_st_to_f64(hk_st_find(f, "h"), v));
    for (int i = 0; i < 7; i++) ck_assert_msg(v[i] == hw[i], "f16 0x%04x -> %.17g, want %.17g", h[i], v[i], hw[i]);
    ck_assert(isnan(v[7]));
    hk_assert_ok(hk_st_to_f64(hk_st_find(f, "bf"), v));
    ck_assert(v[0] == 1.0 && v[1] == -3.140625);
    hk_assert_ok(hk_st_to_f64(hk_st_find(f, "u64"), v));
    ck_assert(v[0] == ldexp(1, 53));
    hk_assert_ok(hk_st_to_f64(hk_st_find(f, "i8"), v));
    ck_assert(v[0] == -128.0 && v[1] == 127.0);
    hk_st_free(f);
}
END_TEST

/* ---- builder and getter errors ---- */

START_TEST(builder_rejects_bad_tensors)
{
    hk_st_file *f;
    hk_assert_ok(hk_st_new(&f));
    double x[2] = {1, 2};
    uint8_t b3[3] = {0, 2, 1};
    long s2[1] = {2}, neg[1] = {-1}, s3[1] = {3}, huge[2] = {1L << 40, 1L << 40};
    hk_assert_ok(hk_st_add(f, "x", HK_ST_F64, 1, s2, x));
    hk_assert_fails(hk_st_add(f, "x", HK_ST_F64, 1, s2, x), HK_EINVAL, "already");
    hk_assert_fails(hk_st_add(f, "", HK_ST_F64, 1, s2, x), HK_EINVAL, "empty");
    hk_assert_fails(hk_st_add(f, "__metadata__", HK_ST_F64, 1, s2, x), HK_EINVAL, "reserved");
    hk_assert_fails(hk_st_add(f, "y", HK_ST_F64, 1, neg, x), HK_EINVAL, "shape[0]=-1");
    hk_assert_fails(hk_st_add(f, "y", HK_ST_F64, 9, huge, x), HK_EINVAL, "ndim=9");
    hk_assert_fails(hk_st_add(f, "y", HK_ST_F64, 1, s2, NULL), HK_EINVAL, "'data' is NULL");
    hk_assert_fails(hk_st_add(f, "y", HK_ST_F64, 1, NULL, x), HK_EINVAL, "'shape' is NULL");
    hk_assert_fails(hk_st_add(f, "y", HK_ST_NDTYPES, 1, s2, x), HK_EINVAL, "dtype");
    hk_assert_fails(hk_st_add(f, "y", HK_ST_F64, 2, huge, x), HK_ENOMEM, "overflows");
    hk_assert_fails(hk_st_add(f, "y", HK_ST_BOOL, 1, s3, b3), HK_EDOM, "element 1 is 2");
    hk_assert_fails(hk_st_add(f, "bad\xff", HK_ST_F64, 1, s2, x), HK_EINVAL, "UTF-8");
    hk_assert_fails(hk_st_set_meta(f, "k", "v\xc3"), HK_EINVAL, "value of 'k' is not valid UTF-8");
    hk_assert_fails(hk_st_set_meta(f, "\xc3", "v"), HK_EINVAL, "key is not valid UTF-8");
    ck_assert_uint_eq(f->nmeta, 0);
    ck_assert_uint_eq(f->ntensors, 1); /* failed adds leave the file unchanged */
    hk_assert_fails(hk_st_dtype_parse("f64", &(hk_st_dtype){0}), HK_EFORMAT, "\"f64\"");
    hk_st_free(f);
}
END_TEST

START_TEST(getters_name_tensor_and_both_shapes)
{
    hk_st_file *f;
    hk_assert_ok(hk_st_new(&f));
    double x[6] = {0};
    long s23[2] = {2, 3}, s32[2] = {3, 2}, s6[1] = {6};
    hk_assert_ok(hk_st_add(f, "out.y", HK_ST_F64, 2, s23, x));
    const double *d;
    const uint8_t *u;
    const int64_t *r;
    hk_assert_fails(hk_st_get_f64(f, "out.y", 2, s32, &d), HK_ESHAPE, "'out.y' has shape [2,3], expected [3,2]");
    hk_assert_fails(hk_st_get_f64(f, "out.y", 1, s6, &d), HK_ESHAPE, "expected [6]");
    hk_assert_fails(hk_st_get_u8(f, "out.y", 2, s23, &u), HK_EFORMAT, "'out.y' has dtype F64, expected U8");
    hk_assert_fails(hk_st_get_i64(f, "out.y", 2, s23, &r), HK_EFORMAT, "expected I64");
    hk_assert_fails(hk_st_get_f64(f, "out.z", 2, s23, &d), HK_ENOTFOUND, "no tensor 'out.z'");
    hk_assert_ok(hk_st_get_f64(f, "out.y", 0, NULL, &d)); /* shape NULL: any shape */
    ck_assert_ptr_null(hk_st_find(f, "out.z"));
    hk_st_free(f);
}
END_TEST

/* ---- reader rejections: one table row per policy ---- */

typedef struct {
    const char *hdr;
    const char *data;
    size_t dlen;
    int code;
    const char *word; /* the message must contain this */
} bad_case;

#define E8 "\0\0\0\0\0\0\0\0"
#define F64_1(off) "{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":" off "}"
static const bad_case bad[] = {
    /* JSON itself */
    {"{\"a\": ", "", 0, HK_EFORMAT, "not valid JSON"},
    {"[1, 2]", "", 0, HK_EFORMAT, "header is not a JSON object"},
    {"{\"a\":" F64_1("[0,8]") ",\"a\":" F64_1("[0,8]") "}", E8, 8, HK_EFORMAT, "duplicate"},
    {"{\"\xff\":1}", "", 0, HK_EFORMAT, "not valid JSON"},                     /* invalid UTF-8 */
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}}", "", 0, HK_EFORMAT,
     "not valid JSON"}, /* integer beyond 64 bits */
    /* entries */
    {"{\"a\":3}", "", 0, HK_EFORMAT, "'a': entry is not a JSON object"},
    {"{\"\":" F64_1("[0,8]") "}", E8, 8, HK_EFORMAT, "empty tensor name"},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,8]}}", E8, 8, HK_EFORMAT, "'a': dtype missing"},
    {"{\"a\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,8]}}", E8, 8, HK_EFORMAT, "not a string"},
    {"{\"a\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,8]}}", E8, 8, HK_EFORMAT, "unknown dtype \"F128\""},
    {"{\"a\":{\"dtype\":\"F64\",\"data_offsets\":[0,8]}}", E8, 8, HK_EFORMAT, "'a': shape missing"},
    {"{\"a\":{\"dtype\":\"F64\",\"shape\":8,\"data_offsets\":[0,8]}}", E8, 8, HK_EFORMAT, "not a list"},
    {"{\"a\":{\"dtype\":\"F64\",\"shape\":[-1],\"data_offsets\":[0,8]}}", E8, 8, HK_EFORMAT, "shape[0]=-1 is negative"},
    {"{\"a\":{\"dtype\":\"F64\",\"shape\":[1.0],\"data_offsets\":[0,8]}}", E8, 8, HK_EFORMAT, "shape[0] is not an integer"},
    {"{\"a\":{\"dtype\":\"F64\",\"shape\":[\"1\"],\"data_offsets\":[0,8]}}", E8, 8, HK_EFORMAT, "not an integer"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", "\1", 1, HK_EFORMAT,
     "9 dims"},
    {"{\"a\":{\"dtype\":\"U8\",\"shape\":[3,9223372036854775807],\"data_offsets\":[0,0]}}", "", 0, HK_EFORMAT,
     "overflows"},
    {"{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", E8, 8, HK_EFORMAT,
     "overflows"},
    {"{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]}}", E8, 8, HK_EFORMAT,
     "shape [2] of F64 needs 16 bytes but data_offsets [0,8] span 8"},
    {"{\"a\":{\"dtype\":\"F64\",\"shape\":[1]}}", E8, 8, HK_EFORMAT, "'a': data_offsets missing"},
    {"{\"a\":" F64_1("[0]") "}", E8, 8, HK_EFORMAT, "data_offsets missing or not a list"},
    {"{\"a\":" F64_1("[8,0]") "}", E8, 8, HK_EFORMAT, "[8,0] are reversed"},
    {"{\"a\":" F64_1("[-8,0]") "}", E8, 8, HK_EFORMAT, "data_offsets[0]=-8 is negative"},
    {"{\"a\":" F64_1("[8,16]") "}", E8, 8, HK_EFORMAT, "out of range: the data section has 8 bytes"},
    {"{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8],\"extra\":1}}", E8, 8, HK_EFORMAT,
     "unknown field 'extra'"},
    /* tiling of the data section */
    {"{\"a\":" F64_1("[0,8]") ",\"b\":" F64_1("[0,8]") "}", E8, 8, HK_EFORMAT, "'b' data_offsets [0,8] overlap tensor 'a'"},
    {"{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
     "\"z\":{\"dtype\":\"F64\",\"shape\":[0],\"data_offsets\":[8,8]}}", E8 E8, 16, HK_EFORMAT, "'z' data_offsets [8,8] overlap"},
    {"{\"a\":" F64_1("[8,16]") "}", E8 E8, 16, HK_EFORMAT, "gap of 8 unreferenced bytes before tensor 'a'"},
    {"{\"a\":" F64_1("[0,8]") "}", E8 "abcd", 12, HK_EFORMAT, "4 trailing bytes after the last tensor"},
    {"{}", "x", 1, HK_EFORMAT, "1 trailing bytes"},
    /* metadata and values */
    {"{\"__metadata__\":{\"k\":1}}", "", 0, HK_EFORMAT, "__metadata__ value of 'k' is not a string"},
    {"{\"__metadata__\":\"x\"}", "", 0, HK_EFORMAT, "__metadata__ is not a JSON object"},
    {"{\"m\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]}}", "\1\0\2", 3, HK_EFORMAT,
     "'m' element 2 is 2; BOOL bytes must be 0 or 1"},
};

/* One test over the table (a forked test costs ~60 ms of ASan + LeakSanitizer
 * start-up and exit in the gate); a failure names the row and its header. */
START_TEST(reader_rejects)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const bad_case *c = &bad[i];
        size_t len;
        unsigned char *b = image(c->hdr, c->data, c->dlen, &len);
        hk_st_file *f = NULL;
        hk_error_clear();
        int s = hk_st_parse(b, len, &f);
        ck_assert_msg(s == c->code && f == NULL, "bad[%zu] %s: returned %s, expected %s; message: %s", i, c->hdr,
                      hk_strerror(s), hk_strerror(c->code), hk_error_message());
        ck_assert_msg(strstr(hk_error_message(), c->word), "bad[%zu] %s: message does not name '%s': %s", i, c->hdr,
                      c->word, hk_error_message());
        free(b);
    }
}
END_TEST

START_TEST(reader_rejects_bad_lengths_and_padding)
{
    hk_st_file *f = NULL;
    const unsigned char seven[7] = {1, 0, 0, 0, 0, 0, 0};
    hk_assert_fails(hk_st_parse(seven, 7, &f), HK_EFORMAT, "7 bytes, shorter than the 8-byte header length");
    hk_assert_fails(hk_st_parse(seven, 0, &f), HK_EFORMAT, "0 bytes");
    /* N = 100 but only 2 bytes follow. */
    const unsigned char shortb[10] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    hk_assert_fails(hk_st_parse(shortb, 10, &f), HK_EFORMAT, "header length 100 runs past the end");
    /* N = 2^40 and N = 2^64 - 1: rejected by the bound before anything is allocated. */
    const unsigned char big[10] = {0, 0, 0, 0, 0, 1, 0, 0, '{', '}'};
    hk_assert_fails(hk_st_parse(big, 10, &f), HK_EFORMAT, "header length 1099511627776 exceeds the limit");
    const unsigned char max[10] = {255, 255, 255, 255, 255, 255, 255, 255, '{', '}'};
    hk_assert_fails(hk_st_parse(max, 10, &f), HK_EFORMAT, "exceeds the limit of 100000000");
    /* Spaces are the padding; NUL bytes are not JSON whitespace. */
    const unsigned char sp[8 + 8] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    hk_assert_ok(hk_st_parse(sp, sizeof sp, &f));
    ck_assert_uint_eq(f->ntensors, 0);
    hk_st_free(f);
    f = NULL;
    const unsigned char nul[8 + 8] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', 0, 0, 0, 0, 0};
    hk_assert_fails(hk_st_parse(nul, sizeof nul, &f), HK_EFORMAT, "not valid JSON");
    ck_assert_ptr_null(f);
    /* "__metadata__": null is no metadata (as in the safetensors crate). */
    size_t nl;
    unsigned char *nb = image("{\"__metadata__\":null}", "", 0, &nl);
    hk_assert_ok(hk_st_parse(nb, nl, &f));
    ck_assert(f->nmeta == 0 && f->ntensors == 0);
    hk_st_free(f);
    free(nb);
    hk_assert_fails(hk_st_parse(NULL, 8, &f), HK_EINVAL, "'buf' is NULL");
    /* 100000 nested lists: jansson's depth limit answers, not the stack. */
    enum { DEEP = 100000 };
    char *deep = malloc(DEEP + 1);
    ck_assert_ptr_nonnull(deep);
    memset(deep, '[', DEEP);
    deep[DEEP] = '\0';
    size_t dl;
    unsigned char *db = image(deep, "", 0, &dl);
    hk_assert_fails(hk_st_parse(db, dl, &f), HK_EFORMAT, "depth");
    free(db);
    free(deep);
    /* Zero elements despite a dim of 2^63-1: valid, and written back unchanged. */
    size_t len, len2;
    unsigned char *b = image("{\"a\":{\"dtype\":\"U8\",\"shape\":[0,9223372036854775807],\"data_offsets\":[0,0]}}",
                             "", 0, &len), *b2;
    hk_assert_ok(hk_st_parse(b, len, &f));
    ck_assert(f->tensors[0].numel == 0 && f->tensors[0].shape[1] == LONG_MAX);
    hk_assert_ok(hk_st_serialize(f, &b2, &len2));
    hk_st_free(f);
    hk_assert_ok(hk_st_parse(b2, len2, &f));
    ck_assert(f->tensors[0].shape[1] == LONG_MAX);
    hk_st_free(f);
    free(b);
    free(b2);
}
END_TEST

/* ---- files: read errors, atomic writes ---- */

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hkref-st-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Removes the files in tmpdir (one level) and tmpdir; returns how many entries it held. */
static int clean_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    int n = 0;
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        if (remove(p)) rmdir(p);
        n++;
    }
    if (d) closedir(d);
    rmdir(tmpdir);
    return n;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d) closedir(d);
    return n;
}

START_TEST(write_read_disk_roundtrip_is_byte_identical)
{
    make_tmpdir();
    char p1[128], p2[128];
    snprintf(p1, sizeof p1, "%s/a.safetensors", tmpdir);
    snprintf(p2, sizeof p2, "%s/b.safetensors", tmpdir);
    hk_st_file *f, *back;
    hk_assert_ok(hk_st_parse(hand, sizeof hand, &f));
    hk_assert_ok(hk_st_write(f, p1));
    hk_assert_ok(hk_st_read(p1, &back));
    hk_assert_ok(hk_st_write(back, p2));
    unsigned char *b1, *b2;
    size_t n1, n2;
    hk_assert_ok(hk_file_read(p1, 1 << 20, &b1, &n1));
    hk_assert_ok(hk_file_read(p2, 1 << 20, &b2, &n2));
    ck_assert_uint_eq(n1, sizeof hand);
    ck_assert(n1 == n2 && memcmp(b1, hand, n1) == 0 && memcmp(b2, hand, n2) == 0);
    hk_assert_fails(hk_file_read(p1, 100, &b2, &n2), HK_EIO, "more than the limit of 100");
    free(b1);
    free(b2);
    hk_st_free(f);
    hk_st_free(back);
    ck_assert_int_eq(clean_tmpdir(), 2); /* a, b and no temporaries */
}
END_TEST

START_TEST(read_errors_name_the_file)
{
    make_tmpdir();
    char p[128];
    hk_st_file *f = NULL;
    snprintf(p, sizeof p, "%s/missing.safetensors", tmpdir);
    hk_assert_fails(hk_st_read(p, &f), HK_EIO, "missing.safetensors: cannot open");
    hk_assert_fails(hk_st_read(tmpdir, &f), HK_EIO, "not a regular file");
    /* Truncated copies of a valid file: every prefix shorter than the file is rejected. */
    snprintf(p, sizeof p, "%s/cut.safetensors", tmpdir);
    static const size_t cuts[] = {0, 5, 8, 100, 200, 210, sizeof hand - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        hk_assert_ok(hk_file_write_atomic(p, hand, cuts[k]));
        hk_assert_fails(hk_st_read(p, &f), HK_EFORMAT, "cut.safetensors");
        ck_assert_ptr_null(f);
    }
    hk_assert_ok(hk_file_write_atomic(p, hand, sizeof hand));
    hk_assert_ok(hk_st_read(p, &f));
    hk_st_free(f);
    ck_assert_int_eq(clean_tmpdir(), 1);
}
END_TEST

START_TEST(atomic_write_failure_leaves_nothing)
{
    make_tmpdir();
    char p[128], dir[128];
    /* Target is an existing directory: refused before anything is written (ref/fileio.c never
     * replaces a non-regular file; tests/test_fileio.c has the other kinds). */
    snprintf(dir, sizeof dir, "%s/target", tmpdir);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    hk_assert_fails(hk_file_write_atomic(dir, "abc", 3), HK_EIO, "is a directory, not a regular file");
    ck_assert_int_eq(count_entries(tmpdir), 1); /* only the directory: the temporary was removed */
    /* Directory does not exist: nothing can be created. */
    snprintf(p, sizeof p, "%s/no/such/dir/x.safetensors", tmpdir);
    hk_assert_fails(hk_file_write_atomic(p, "abc", 3), HK_EIO, "cannot create a temporary file");
    /* A new file's mode comes from the umask; overwriting replaces the whole content (a
     * shorter file leaves no tail) and keeps the existing file's mode. */
    snprintf(p, sizeof p, "%s/x.bin", tmpdir);
    mode_t um = umask(027);
    hk_assert_ok(hk_file_write_atomic(p, "0123456789", 10));
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    ck_assert_int_eq(chmod(p, 0604), 0);
    hk_assert_ok(hk_file_write_atomic(p, "ab", 2));
    umask(um);
    unsigned char *b;
    size_t n;
    hk_assert_ok(hk_file_read(p, 100, &b, &n));
    ck_assert(n == 2 && memcmp(b, "ab", 2) == 0);
    free(b);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0604);
    ck_assert_int_eq(count_entries(tmpdir), 2);
    hk_assert_fails(hk_file_write_atomic("", "ab", 2), HK_EINVAL, "'path' is empty");
    ck_assert_int_eq(clean_tmpdir(), 2);
}
END_TEST

/* The other direction: numpy (+ json, struct) reads what hkref writes.  The
 * script prints each tensor with Python's repr (shortest round-trip digits);
 * the expected text is written from the values put in, not from a run. */
static const char np_reader[] =
    "import json, struct, sys, numpy as np\n"
    "b = open(sys.argv[1], \"rb\").read(); n = struct.unpack(\"<Q\", b[:8])[0]\n"
    "h = json.loads(b[8:8 + n]); d = b[8 + n:]; assert (8 + n) % 8 == 0\n"
    "m = {\"F64\": \"<f8\", \"F32\": \"<f4\", \"F16\": \"<f2\", \"I64\": \"<i8\", \"U8\": \"u1\", \"BOOL\": \"?\"}\n"
    "for k in sorted(h):\n"
    "    v = h[k]\n"
    "    if k == \"__metadata__\": print(k, sorted(v.items())); continue\n"
    "    o = v[\"data_offsets\"]; a = np.frombuffer(d[o[0]:o[1]], dtype=m[v[\"dtype\"]]).reshape(v[\"shape\"])\n"
    "    print(k, v[\"dtype\"], list(a.shape), a.tolist())\n";

START_TEST(numpy_reads_written_file)
{
    make_tmpdir();
    char path[128], script[128], cmd[512], out[2048];
    snprintf(path, sizeof path, "%s/w.safetensors", tmpdir);
    snprintf(script, sizeof script, "%s/read.py", tmpdir);
    hk_assert_ok(hk_file_write_atomic(script, np_reader, strlen(np_reader)));
    double w[4] = {0.1, -0.0, 1e-310, -2.385};
    float x[2] = {0.5f, -2.75f};
    uint16_t h[3] = {0x3c00, 0x3555, 0xfbff}; /* binary16 1, 1365/4096, -65504 */
    int64_t r[1] = {5};
    uint8_t m[3] = {0, 1, 1}, b[2] = {1, 0};
    long s22[2] = {2, 2}, s2[1] = {2}, s3[1] = {3};
    hk_st_file *f;
    hk_assert_ok(hk_st_new(&f));
    hk_assert_ok(hk_st_add(f, "mask.m", HK_ST_U8, 1, s3, m));
    hk_assert_ok(hk_st_add(f, "in.w", HK_ST_F64, 2, s22, w));
    hk_assert_ok(hk_st_add(f, "x", HK_ST_F32, 1, s2, x));
    hk_assert_ok(hk_st_add(f, "h", HK_ST_F16, 1, s3, h));
    hk_assert_ok(hk_st_add(f, "rank", HK_ST_I64, 0, NULL, r));
    hk_assert_ok(hk_st_add(f, "b", HK_ST_BOOL, 1, s2, b));
    hk_assert_ok(hk_st_set_meta(f, "op", "demo"));
    hk_assert_ok(hk_st_set_meta(f, "config", "{\"p\": 0.1}"));
    hk_assert_ok(hk_st_write(f, path));
    hk_st_free(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s 2>&1", script, path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    const char *want = "__metadata__ [('config', '{\"p\": 0.1}'), ('op', 'demo')]\n"
                       "b BOOL [2] [True, False]\n"
                       "h F16 [3] [1.0, 0.333251953125, -65504.0]\n"
                       "in.w F64 [2, 2] [[0.1, -0.0], [1e-310, -2.385]]\n"
                       "mask.m U8 [3] [0, 1, 1]\n"
                       "rank I64 [] 5\n"
                       "x F32 [2] [0.5, -2.75]\n";
    ck_assert_msg(st == 0, "python3 + numpy failed (status %d; needs tools/scripts/deps.sh core):\n%s", st, out);
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(clean_tmpdir(), 2);
}
END_TEST

/* ---- hkref inspect ---- */

/* Runs the built binary (build/hkref next to build/run_tests, so the ASan
 * gate runs the ASan hkref) as `hkref inspect args...` with stdout/stderr
 * captured into out/err; returns its exit status. */
static int run_inspect(int argc, char **argv, char *out, size_t outsz, char *err, size_t errsz)
{
    char exe[4096], po[128], pe[128];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 16);
    ck_assert(k > 0);
    exe[k] = '\0';
    char *slash = strrchr(exe, '/');
    ck_assert_ptr_nonnull(slash);
    strcpy(slash + 1, "hkref");
    snprintf(po, sizeof po, "%s/stdout", tmpdir);
    snprintf(pe, sizeof pe, "%s/stderr", tmpdir);
    char *args[8] = {exe};
    ck_assert_int_lt(argc, 7);
    for (int i = 0; i < argc; i++) args[i + 1] = argv[i];
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600), fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0) _exit(127);
        execv(exe, args);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "%s did not exit normally", exe);
    const char *paths[2] = {po, pe};
    char *bufs[2] = {out, err};
    size_t sizes[2] = {outsz, errsz};
    for (int j = 0; j < 2; j++) {
        FILE *fp = fopen(paths[j], "rb");
        ck_assert_ptr_nonnull(fp);
        size_t got = fread(bufs[j], 1, sizes[j] - 1, fp);
        bufs[j][got] = '\0';
        fclose(fp);
        remove(paths[j]);
    }
    return WEXITSTATUS(status);
}

START_TEST(inspect_lists_tensors_and_exit_codes)
{
    make_tmpdir();
    char p[128], out[4096], err[1024];
    snprintf(p, sizeof p, "%s/np.safetensors", tmpdir);
    size_t len;
    unsigned char *b = image(np_header, np_data, sizeof np_data, &len);
    hk_assert_ok(hk_file_write_atomic(p, b, len));
    free(b);
    char *ok[] = {"inspect", p};
    ck_assert_int_eq(run_inspect(2, ok, out, sizeof out, err, sizeof err), 0);
    /* Expected from the fixture's values: w has min -2.25, max 1e300 (printed to 17 digits),
     * mean (1e300 + 3.35)/6 = 1.66666667e+299; k max INT32_MAX; m = {1,0,1}; b = {1,0}. */
    const char *want[] = {"6 tensors, 2 metadata entries", "op = fixture", "eq = none",
                          "F64    [2,3]", "min -2.25  max 1.0000000000000001e+300  mean 1.66666667e+299",
                          "I64    []", "min 7  max 7  mean 7", "max 2147483647",
                          "U8     [3]               zeros 1  ones 2  other 0",
                          "BOOL   [2]               zeros 1  ones 1\n"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(out, want[i]), "inspect output lacks '%s':\n%s", want[i], out);
    ck_assert_str_eq(err, "");
    /* Malformed file: exit 2, message on stderr naming the file and the problem. */
    hk_assert_ok(hk_file_write_atomic(p, hand, 100));
    ck_assert_int_eq(run_inspect(2, ok, out, sizeof out, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "np.safetensors") && strstr(err, "truncated"), "stderr: %s", err);
    ck_assert_str_eq(out, "");
    char *help[] = {"inspect", "--help"}, *none[] = {"inspect"}, *two[] = {"inspect", p, p},
         *opt[] = {"inspect", "--json"};
    ck_assert_int_eq(run_inspect(2, help, out, sizeof out, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: hkref inspect"));
    ck_assert_int_eq(run_inspect(1, none, out, sizeof out, err, sizeof err), 2);
    ck_assert_ptr_nonnull(strstr(err, "missing FILE"));
    ck_assert_int_eq(run_inspect(3, two, out, sizeof out, err, sizeof err), 2);
    ck_assert_ptr_nonnull(strstr(err, "at most 1 FILE"));
    ck_assert_int_eq(run_inspect(2, opt, out, sizeof out, err, sizeof err), 2);
    ck_assert_ptr_nonnull(strstr(err, "unknown option '--json'"));
    ck_assert_int_eq(clean_tmpdir(), 1);
}
END_TEST

Suite *suite_tensorfile(void)
{
    Suite *s = suite_create("tensorfile");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, parses_hand_assembled_bytes);
    tcase_add_test(core, writer_output_equals_hand_assembled_bytes);
    tcase_add_test(core, parses_numpy_written_file);
    tcase_add_test(core, roundtrip_every_dtype);
    tcase_add_test(core, writer_aligns_data);
    tcase_add_test(core, same_content_same_bytes);
    tcase_add_test(core, empty_file_is_8_bytes_of_header);
    tcase_add_test(core, converts_every_dtype_to_double);
    tcase_add_test(core, write_read_disk_roundtrip_is_byte_identical);
    tcase_add_test(core, numpy_reads_written_file);
    tcase_add_test(core, inspect_lists_tensors_and_exit_codes);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, reader_rejects);
    tcase_add_test(lim, reader_rejects_bad_lengths_and_padding);
    tcase_add_test(lim, builder_rejects_bad_tensors);
    tcase_add_test(lim, getters_name_tensor_and_both_shapes);
    tcase_add_test(lim, read_errors_name_the_file);
    tcase_add_test(lim, atomic_write_failure_leaves_nothing);
    suite_add_tcase(s, lim);
    return s;
}
