/* hkref — shared helpers of the CLI subcommands (see cli.h).  Kept out of
 * tools/hkref.c (main) so tests can call hk_cmd_* functions in-process. */
#include "cli.h"

#include "args.h"

#include "ref/error.h"
#include "ref/fileio.h"
#include "ref/tensorfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int hk_cli_debug = 0;

static int debug_on(void)
{
    const char *e = getenv("HKREF_DEBUG");
    return hk_cli_debug || (e && *e && strcmp(e, "0") != 0);
}

/* Length of a "<name>.c:<digits>: " location at s, 0 if there is none. */
static size_t location_at(const char *s)
{
    size_t i = 0;
    while (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-') i++;
    if (i == 0 || strncmp(s + i, ".c:", 3) != 0) return 0;
    i += 3;
    size_t d = i;
    while (isdigit((unsigned char)s[i])) i++;
    if (i == d || s[i] != ':' || s[i + 1] != ' ') return 0;
    return i + 2;
}

void hk_cli_strip_locations(char *dst, size_t n, const char *src)
{
    if (n == 0) return;
    if (debug_on()) {
        snprintf(dst, n, "%s", src);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; src[i] && k + 1 < n;) {
        /* a location starts a message or follows a separator ("file x: tensorfile.c:12: ...") */
        int boundary = i == 0 || src[i - 1] == ' ' || src[i - 1] == '(';
        size_t loc = boundary ? location_at(src + i) : 0;
        if (loc) {
            i += loc;
            continue;
        }
        dst[k++] = src[i++];
    }
    dst[k] = '\0';
}

int hk_cli_fail(const char *cmd)
{
    char msg[2048];
    hk_cli_strip_locations(msg, sizeof msg, hk_error_message());
    fprintf(stderr, "hkref %s: %s\n", cmd, msg[0] ? msg : "failed (no message recorded)");
    return 2;
}

/* 1 if the file at path does not start like a safetensors file (cli.h). */
static int not_safetensors(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0; /* the reader's message says why */
    unsigned char b[9];
    size_t got = fread(b, 1, sizeof b, fp);
    fclose(fp);
    if (got < sizeof b) return 1;
    unsigned long long n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | b[i];
    return n < 2 || n > HK_ST_MAX_HEADER || b[8] != '{';
}

int hk_cli_read_safetensors(const char *cmd, const char *path, hk_st_file **f)
{
    hk_error_clear();
    if (hk_st_read(path, f) == HK_OK) return 0;
    if (hk_error_code() == HK_EFORMAT && not_safetensors(path)) {
        if (debug_on()) fprintf(stderr, "hkref %s: (debug) %s\n", cmd, hk_error_message());
        fprintf(stderr, "hkref %s: %s: not a safetensors file (one starts with 8 bytes giving the size of "
                        "a JSON header, then the header '{...}')\n", cmd, path);
        return 2;
    }
    return hk_cli_fail(cmd);
}

int hk_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One hint per message: a trailing "(see ...)" of the caller's gives way to ours. */
    size_t len = strlen(msg);
    char *see = NULL;
    for (char *q = strstr(msg, "(see "); q; q = strstr(q + 1, "(see ")) see = q;
    if (see && len && strchr(see, ')') == msg + len - 1) {
        while (see > msg && see[-1] == ' ') see--;
        *see = '\0';
    }
    fprintf(stderr, "hkref %s: %s; see 'hkref %s --help'\n", cmd, msg, cmd);
    return 2;
}

int hk_cli_is_help(const char *a) { return hk_args_is_help(a); }

int hk_cli_mkdirs_for(const char *cmd, const char *path)
{
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return hk_cli_usage_error(cmd, "path too long: '%.60s...'", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0; /* the current directory or the root */
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            struct stat st;
            if (stat(dir, &st) != 0) {
                if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
                    fprintf(stderr, "hkref %s: cannot create directory '%s': %s\n", cmd, dir, strerror(errno));
                    return 2;
                }
            } else if (!S_ISDIR(st.st_mode)) {
                fprintf(stderr, "hkref %s: cannot create directory '%s': a file of that name exists\n", cmd, dir);
                return 2;
            }
            *p = c;
            if (c == '\0') break;
        }
    }
    return 0;
}

int hk_cli_check_output(const char *cmd, const char *path)
{
    struct stat st;
    if (!strcmp(path, "-")) return 0;
    if (!path[0]) {
        fprintf(stderr, "hkref %s: an output file name is empty\n", cmd);
        return 2;
    }
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        fprintf(stderr, "hkref %s: %s is not a regular file; refusing to replace it\n", cmd, path);
        return 2;
    }
    return 0;
}

int hk_cli_write_file(const char *cmd, const char *path, const void *buf, size_t len)
{
    int rc = hk_cli_check_output(cmd, path);
    if (rc) return rc;
    rc = hk_cli_mkdirs_for(cmd, path);
    if (rc) return rc;
    hk_error_clear();
    if (hk_file_write_atomic(path, buf, len)) return hk_cli_fail(cmd);
    return 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void hk_progress_init(hk_progress *p, FILE *f, double every, int quiet)
{
    p->f = f;
    p->tty = f && isatty(fileno(f));
    p->quiet = quiet || !f;
    p->live = 0;
    p->every = every;
    p->last = -1.0;
}

void hk_progress_update(hk_progress *p, const char *fmt, ...)
{
    if (p->quiet) return;
    double t = now_s();
    if (!p->tty && p->last >= 0.0 && t - p->last < p->every) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (p->tty) {
        fprintf(p->f, "\r\033[K%s", line); /* rewrite in place; ESC[K clears the rest of the old line */
        p->live = 1;
    } else {
        fprintf(p->f, "%s\n", line);
    }
    fflush(p->f);
    p->last = t;
}

void hk_progress_done(hk_progress *p)
{
    if (p->quiet || !p->live) return;
    fprintf(p->f, "\r\033[K");
    fflush(p->f);
    p->live = 0;
}

static const char *sub_name(size_t i, void *ctx) { return ((const hk_cli_sub *)ctx)[i].name; }

int hk_cli_dispatch(const char *cmd, int argc, char **argv, const hk_cli_sub *subs, int nsubs,
                    void (*usage)(FILE *f))
{
    if (argc >= 2 && hk_cli_is_help(argv[1])) {
        usage(stdout);
        return 0;
    }
    for (int i = 0; argc >= 2 && i < nsubs; i++) {
        if (strcmp(argv[1], subs[i].name) != 0) continue;
        for (int k = 2; k < argc && strcmp(argv[k], "--") != 0; k++)
            if (hk_cli_is_help(argv[k])) {
                usage(stdout);
                return 0;
            }
        return subs[i].run(argc - 1, argv + 1);
    }
    if (argc < 2) {
        fprintf(stderr, "hkref %s: missing subcommand\n\n", cmd);
        usage(stderr);
        return 2;
    }
    char list[512] = "";
    for (int i = 0; i < nsubs; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", subs[i].name);
    const char *s = hk_args_suggest_fn(argv[1], sub_name, (size_t)nsubs, (void *)(uintptr_t)subs);
    if (s) return hk_cli_usage_error(cmd, "unknown subcommand '%s' (%s; did you mean '%s'?)", argv[1], list, s);
    return hk_cli_usage_error(cmd, "unknown subcommand '%s' (%s)", argv[1], list);
}
