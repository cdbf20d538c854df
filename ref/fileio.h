/* hkref — whole-file reads and atomic writes, for tensor files and any tool
 * that writes results (golden cases, reports); the one overflow-checked size
 * helper for sizes taken from files.
 *
 * Policies (docs/reliability.md, "Files and paths"):
 *  - a reader opens with O_NONBLOCK and checks with fstat that it has a
 *    regular file before any read, so a FIFO, a device or a directory is an
 *    error (HK_EIO, "not a regular file"), never a hang;
 *  - the atomic writer replaces only a regular file or nothing: a device, a
 *    FIFO, a directory, a socket or a symbolic link at the target is refused
 *    (HK_EIO) and left alone; an existing file keeps its permission bits (and,
 *    as root, its owner);
 *  - its temporary file (<path>.tmpXXXXXX in the same directory) is removed
 *    on every failure and, once hk_file_cleanup_on_signals() ran, on SIGINT /
 *    SIGTERM / SIGHUP; what a kill -9 leaves is removed by
 *    hk_file_remove_stale_tmp (hkref golden generate calls it) and never read
 *    (readers look for names ending in .safetensors). */
#ifndef HK_FILEIO_H
#define HK_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes buf[0..len) to path atomically: a temporary file in the same
 * directory, fsync, rename over path, fsync of the directory.  On any failure
 * the temporary is removed and path is left as it was.  A new file gets mode
 * 0666 & ~umask, like fopen; an existing regular file keeps its mode.  An
 * existing path that is not a regular file (a directory, a symbolic link, a
 * device such as /dev/null, a FIFO) is never replaced: HK_EIO, nothing written. */
int hk_file_write_atomic(const char *path, const void *buf, size_t len);
/* Reads a whole regular file (at most max_len bytes, else HK_EIO) into a
 * malloc'd buffer (*buf, *len); caller frees. */
int hk_file_read(const char *path, size_t max_len, unsigned char **buf, size_t *len);
/* Opens path for reading if it is a regular file (fstat before any read; the
 * open itself cannot block); *size its size.  Caller fcloses. */
int hk_file_open_read(const char *path, FILE **fp, uint64_t *size);

/* Reads exactly n bytes from fp into dst; HK_EIO naming path and `what`
 * ("the header", a tensor name) on a short read. */
int hk_file_read_exact(FILE *fp, void *dst, size_t n, const char *path, const char *what);

/* Installs SIGINT / SIGTERM / SIGHUP handlers (once; the CLI's main calls it)
 * that remove the atomic writer's temporary file in flight, then die of the
 * signal as before (default action re-raised).  Async-signal-safe: unlink only. */
void hk_file_cleanup_on_signals(void);
/* Removes the regular files in dir named <anything>.tmpXXXXXX (the atomic
 * writer's temporaries, 6 characters of [A-Za-z0-9] after ".tmp") that an
 * interrupted run left; *nremoved counts them (may be NULL). */
int hk_file_remove_stale_tmp(const char *dir, long *nremoved);

/* ---- sizes from file metadata ----
 * *out = f[0] * ... * f[n-1] * elsize bytes (or elements, elsize = 1), checked:
 * HK_EFORMAT naming `what` if a factor is negative, the product overflows or
 * it exceeds cap.  Every allocation whose size comes from a file uses it.
 * f may be NULL only when n == 0 (the empty product, elsize). */
int hk_size_prod(size_t *out, size_t cap, const char *what, int n, const long *f, size_t elsize);
/* The caps used with it: elements of one tensor or buffer built from a file. */
#define HK_MAX_ELEMS ((size_t)1 << 32)

#endif
