/* hkref — SHA-256 (FIPS 180-4), for the golden-set manifest (manifest.h).
 * Plain C, no library: libhkgolden links ref/ and jansson only. */
#ifndef HK_GOLDEN_SHA256_H
#define HK_GOLDEN_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t nbytes;
    unsigned char buf[64];
    size_t nbuf;
} hk_sha256_ctx;

void hk_sha256_init(hk_sha256_ctx *c);
void hk_sha256_update(hk_sha256_ctx *c, const void *data, size_t len);
void hk_sha256_final(hk_sha256_ctx *c, unsigned char out[32]);
/* One call: out = SHA-256(data[0..len)). */
void hk_sha256(const void *data, size_t len, unsigned char out[32]);
/* 64 lowercase hex digits and a NUL. */
void hk_sha256_hex(const unsigned char d[32], char hex[65]);

#endif
