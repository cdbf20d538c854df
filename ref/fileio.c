/* hkref — whole-file reads and atomic writes (see fileio.h). */
#include "fileio.h"

#include "error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int hk_size_prod(size_t *out, size_t cap, const char *what, int n, const long *f, size_t elsize)
{
    HK_REQUIRE_PTR(out);
    HK_REQUIRE_PTR(what);
    HK_REQUIRE(n <= 0 || f != NULL, HK_EINVAL, "argument 'f' is NULL (%d factors)", n);
    size_t p = elsize;
    for (int i = 0; i < n; i++) {
        HK_REQUIRE(f[i] >= 0, HK_EFORMAT, "%s: size factor %d is negative (%ld)", what, i, f[i]);
        HK_REQUIRE(!__builtin_mul_overflow(p, (size_t)f[i], &p), HK_EFORMAT, "%s: size overflows", what);
    }
    HK_REQUIRE(p <= cap, HK_EFORMAT, "%s: %zu exceeds the limit of %zu", what, p, cap);
    *out = p;
    return HK_OK;
}

int hk_file_read_exact(FILE *fp, void *dst, size_t n, const char *path, const char *what)
{
    if (n && fread(dst, 1, n, fp) != n)
        HK_ERROR(HK_EIO, "%s: cannot read %s (%zu bytes): %s", path, what, n,
                 ferror(fp) ? strerror(errno) : "file shrank while reading");
    return HK_OK;
}

static const char *kind(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : S_ISLNK(m) ? "a symbolic link" : "not a regular file";
}

int hk_file_open_read(const char *path, FILE **fp, uint64_t *size)
{
    HK_REQUIRE_PTR(path);
    HK_REQUIRE_PTR(fp);
    *fp = NULL;
    /* O_NONBLOCK: opening a FIFO without a writer (or a tty, a device) returns at once. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) HK_ERROR(HK_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        HK_ERROR(HK_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        HK_ERROR(HK_EIO, "%s: not a regular file (%s); hkref reads regular files only", path, kind(sb.st_mode));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 || !(*fp = fdopen(fd, "rb"))) {
        int e = errno;
        close(fd);
        HK_ERROR(HK_EIO, "%s: cannot open: %s", path, strerror(e));
    }
    if (size) *size = (uint64_t)sb.st_size;
    return HK_OK;
}

/* ---- the temporary file in flight, for the signal handler ---- */

static char tmp_inflight[4096];
static volatile sig_atomic_t tmp_active;

static void on_signal(int sig)
{
    if (tmp_active) unlink(tmp_inflight);
    signal(sig, SIG_DFL);
    raise(sig);
}

void hk_file_cleanup_on_signals(void)
{
    static int done;
    if (done) return;
    done = 1;
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        /* a signal the caller ignores (nohup) stays ignored */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

static void block_signals(sigset_t *old)
{
    sigset_t all;
    sigemptyset(&all);
    sigaddset(&all, SIGINT);
    sigaddset(&all, SIGTERM);
    sigaddset(&all, SIGHUP);
    sigprocmask(SIG_BLOCK, &all, old);
}

/* mkstemp with the cleanup signals blocked until tmp_inflight names the file it made. */
static int make_tmp(char *tmp)
{
    sigset_t old;
    block_signals(&old);
    int fd = mkstemp(tmp);
    if (fd >= 0) {
        memcpy(tmp_inflight, tmp, strlen(tmp) + 1);
        tmp_active = 1;
    }
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return fd;
}

/* After the rename or the unlink: nothing in flight any more. */
static void end_tmp(void)
{
    sigset_t old;
    block_signals(&old);
    tmp_active = 0;
    sigprocmask(SIG_SETMASK, &old, NULL);
}

int hk_file_write_atomic(const char *path, const void *buf, size_t len)
{
    HK_REQUIRE_PTR(path);
    HK_REQUIRE(buf || len == 0, HK_EINVAL, "argument 'buf' is NULL for %zu bytes", len);
    HK_REQUIRE(path[0] != '\0', HK_EINVAL, "argument 'path' is empty");
    size_t pl = strlen(path);
    HK_REQUIRE(pl + 11 < sizeof tmp_inflight, HK_EINVAL, "path too long (%zu bytes)", pl);
    /* Only a regular file (or nothing) is replaced: renaming over a device node (as
     * root, /dev/null itself), a FIFO, a socket or a symbolic link would replace that
     * node, not write to it (lstat: the link itself). */
    struct stat old;
    int exists = lstat(path, &old) == 0;
    if (!exists && errno != ENOENT) HK_ERROR(HK_EIO, "%s: cannot stat: %s (nothing written)", path, strerror(errno));
    if (exists && !S_ISREG(old.st_mode))
        HK_ERROR(HK_EIO, "%s: is %s, not a regular file; hkref writes (replaces) regular files only (nothing written)", path,
                 kind(old.st_mode));
    char tmp[sizeof tmp_inflight];
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmpXXXXXX", 11); /* same directory as path, so rename is atomic */
    int fd = make_tmp(tmp);
    if (fd < 0) HK_ERROR(HK_EIO, "%s: cannot create a temporary file: %s", path, strerror(errno));
    mode_t um = umask(0);
    umask(um);
    const char *step = "chmod";
    int ok = fchmod(fd, exists ? (old.st_mode & 07777) : (0666 & ~um)) == 0;
    if (ok && exists && geteuid() == 0) (void)!fchown(fd, old.st_uid, old.st_gid); /* best effort */
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
    if (!ok) unlink(tmp);
    end_tmp();
    if (!ok) HK_ERROR(HK_EIO, "%s: %s failed: %s (nothing written)", path, step, strerror(e));
    /* Make the rename itself durable (best effort: some file systems refuse fsync on a directory). */
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
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
    FILE *fp;
    uint64_t size;
    HK_TRY(hk_file_open_read(path, &fp, &size));
    int s = HK_OK;
    unsigned char *b = NULL;
    if (size > max_len)
        s = hk_error_set(HK_EIO, __FILE__, __LINE__, "%s: %llu bytes, more than the limit of %zu", path,
                         (unsigned long long)size, max_len);
    else if (!(b = malloc((size_t)size + 1)))
        s = hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "%s: cannot allocate %llu bytes", path, (unsigned long long)size);
    else
        s = hk_file_read_exact(fp, b, (size_t)size, path, "the file");
    if (!s && fgetc(fp) != EOF)
        s = hk_error_set(HK_EIO, __FILE__, __LINE__, "%s: the file grew while reading", path);
    fclose(fp);
    if (s) {
        free(b);
        return s;
    }
    *buf = b;
    *len = (size_t)size;
    return HK_OK;
}

static int is_tmp_name(const char *n)
{
    size_t len = strlen(n);
    if (len <= 10 || strncmp(n + len - 10, ".tmp", 4) != 0) return 0;
    for (size_t i = len - 6; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') || (n[i] >= '0' && n[i] <= '9'))) return 0;
    return 1;
}

int hk_file_remove_stale_tmp(const char *dir, long *nremoved)
{
    HK_REQUIRE_PTR(dir);
    if (nremoved) *nremoved = 0;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? HK_OK : hk_error_set(HK_EIO, __FILE__, __LINE__, "cannot open '%s': %s", dir,
                                                           strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_tmp_name(e->d_name)) continue;
        char p[4096];
        struct stat sb;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p) continue;
        if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) && unlink(p) == 0 && nremoved) (*nremoved)++;
    }
    closedir(d);
    return HK_OK;
}
