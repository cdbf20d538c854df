/* hkref — whole-file reads and atomic writes (see fileio.h). */
#include "fileio.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int hk_file_read_exact(FILE *fp, void *dst, size_t n, const char *path, const char *what)
{
    if (n && fread(dst, 1, n, fp) != n)
        HK_ERROR(HK_EIO, "%s: cannot read %s (%zu bytes): %s", path, what, n,
                 ferror(fp) ? strerror(errno) : "file shrank while reading");
    return HK_OK;
}

int hk_file_write_atomic(const char *path, const void *buf, size_t len)
{
    HK_REQUIRE_PTR(path);
    HK_REQUIRE(buf || len == 0, HK_EINVAL, "argument 'buf' is NULL for %zu bytes", len);
    HK_REQUIRE(path[0] != '\0', HK_EINVAL, "argument 'path' is empty");
    /* Only a regular file is ever replaced: renaming over a device (as root, /dev/null
     * itself), a FIFO, a socket or a symlink would replace that node, not write to it. */
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
        HK_ERROR(HK_EIO, "%s exists and is not a regular file (%s); refusing to replace it", path,
                 S_ISDIR(st.st_mode) ? "a directory" : S_ISLNK(st.st_mode) ? "a symbolic link" : "a device, FIFO or socket");
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 12);
    if (!tmp) HK_ERROR(HK_ENOMEM, "cannot allocate a temporary name for %s", path);
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmpXXXXXX", 11); /* same directory as path, so rename is atomic */
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        HK_ERROR(HK_EIO, "%s: cannot create a temporary file: %s", path, strerror(e));
    }
    mode_t um = umask(0);
    umask(um);
    const char *step = "chmod";
    int ok = fchmod(fd, 0666 & ~um) == 0;
    const unsigned char *p = buf;
    size_t left = len;
    while (ok && left) {
        step = "write";
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        ok = w > 0;
        if (ok) {
            p += w;
            left -= (size_t)w;
        }
    }
    if (ok) {
        step = "fsync";
        ok = fsync(fd) == 0;
    }
    int e = errno;
    if (close(fd) && ok) {
        e = errno;
        step = "close";
        ok = 0;
    }
    if (ok) {
        step = "rename";
        ok = rename(tmp, path) == 0;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        free(tmp);
        HK_ERROR(HK_EIO, "%s: %s failed: %s (nothing written)", path, step, strerror(e));
    }
    free(tmp);
    /* Make the rename itself durable (best effort: some file systems refuse fsync on a directory). */
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY) : -1;
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(dir);
    return HK_OK;
}

int hk_file_read(const char *path, size_t max_len, unsigned char **buf, size_t *len)
{
    HK_REQUIRE_PTR(path);
    HK_REQUIRE_PTR(buf);
    HK_REQUIRE_PTR(len);
    FILE *fp = fopen(path, "rb");
    if (!fp) HK_ERROR(HK_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int s = HK_OK;
    unsigned char *b = NULL;
    if (fstat(fileno(fp), &st) || !S_ISREG(st.st_mode))
        s = hk_error_set(HK_EIO, __FILE__, __LINE__, "%s: not a regular file", path);
    else if ((uint64_t)st.st_size > max_len)
        s = hk_error_set(HK_EIO, __FILE__, __LINE__, "%s: %lld bytes, more than the limit of %zu", path,
                         (long long)st.st_size, max_len);
    else if (!(b = malloc((size_t)st.st_size + 1)))
        s = hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "%s: cannot allocate %lld bytes", path, (long long)st.st_size);
    else
        s = hk_file_read_exact(fp, b, (size_t)st.st_size, path, "the file");
    fclose(fp);
    if (s) {
        free(b);
        return s;
    }
    *buf = b;
    *len = (size_t)st.st_size;
    return HK_OK;
}
