/* hkref — libhkgolden: the golden-set manifest, <golden>/MANIFEST.
 *
 * One line per case file, in sha256sum's format, sorted by path:
 *     # hkref-golden-manifest-1
 *     # registry 89
 *     # (comment lines) verify with: cd golden && sha256sum -c MANIFEST
 *     <64 hex digits of SHA-256>  <op>/<case>.safetensors
 * so the case name, its op (the directory) and the hash of its bytes are
 * recorded, and coreutils can check the set independently of hkref.
 * `registry` is the number of cases the generating hkref registers: a set
 * listing fewer is partial.  `hkref golden generate` writes the manifest
 * last and atomically (an interrupted run leaves the previous one, which then
 * disagrees with the new files); the checker verifies every file against it
 * (check.h, hk_golden_check_dir) and prints the manifest's own SHA-256, which
 * a CI can pin. */
#ifndef HK_GOLDEN_MANIFEST_H
#define HK_GOLDEN_MANIFEST_H

#include <stddef.h>

#define HK_GOLDEN_MANIFEST "MANIFEST"
#define HK_GOLDEN_MANIFEST_FORMAT "hkref-golden-manifest-1"

typedef struct {
    char *rel;               /* "<op>/<case>.safetensors" */
    unsigned char sha[32];
} hk_golden_manifest_entry;

typedef struct {
    size_t n, cap;
    hk_golden_manifest_entry *e; /* sorted by rel (strcmp), unique */
    long registry;           /* cases in the generating registry */
    char sha256[65];         /* SHA-256 of the manifest file's bytes (hex), "" before read / write */
} hk_golden_manifest;

/* Reads dir/MANIFEST.  HK_ENOTFOUND if there is none; HK_EFORMAT (naming
 * the line) for anything malformed: a bad header, a hash that is not 64 hex
 * digits, a path that is not <op>/<case>.safetensors (no "..", no leading
 * '/'), paths out of order or repeated. */
int hk_golden_manifest_read(const char *dir, hk_golden_manifest *m);
void hk_golden_manifest_free(hk_golden_manifest *m);
/* The entry of rel, or NULL. */
const hk_golden_manifest_entry *hk_golden_manifest_find(const hk_golden_manifest *m, const char *rel);
/* Adds or replaces the entry of rel (copied). */
int hk_golden_manifest_set(hk_golden_manifest *m, const char *rel, const unsigned char sha[32]);
/* Sorts the entries and renders the manifest text (*text malloc'd, caller
 * frees); sets m->sha256. */
int hk_golden_manifest_render(hk_golden_manifest *m, char **text, size_t *len);
/* hk_golden_manifest_render, then writes dir/MANIFEST atomically. */
int hk_golden_manifest_write(const char *dir, hk_golden_manifest *m);
/* 1 if rel is a well-formed "<op>/<case>.safetensors" (characters [A-Za-z0-9_.+-], no "..", one '/'). */
int hk_golden_rel_ok(const char *rel);

#endif
