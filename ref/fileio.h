/* hkref — whole-file reads and atomic writes, for tensor files and any tool
 * that writes results (golden cases, reports). */
#ifndef HK_FILEIO_H
#define HK_FILEIO_H

#include <stddef.h>
#include <stdio.h>

/* Writes buf[0..len) to path atomically: a temporary file in the same
 * directory, fsync, rename over path, fsync of the directory.  On any failure
 * the temporary is removed and path is left as it was.  The new file gets
 * mode 0666 & ~umask, like fopen.  An existing path that is not a regular file
 * (a directory, a symbolic link, a device such as /dev/null, a FIFO) is never
 * replaced: HK_EIO, nothing written. */
int hk_file_write_atomic(const char *path, const void *buf, size_t len);
/* Reads a whole regular file (at most max_len bytes, else HK_EIO) into a
 * malloc'd buffer (*buf, *len); caller frees. */
int hk_file_read(const char *path, size_t max_len, unsigned char **buf, size_t *len);

/* Reads exactly n bytes from fp into dst; HK_EIO naming path and `what`
 * ("the header", a tensor name) on a short read. */
int hk_file_read_exact(FILE *fp, void *dst, size_t n, const char *path, const char *what);

#endif
