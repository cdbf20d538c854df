/* hkref — PNG plots with gnuplot for the CLI (see cli.h, hk_cli_gnuplot).
 *
 * File names never enter the script text: the script is a constant, the
 * names reach it as gnuplot's `-c` arguments ARG1, ARG2 ... (string
 * variables, never parsed as commands), and gnuplot is started with
 * fork + execv, without a shell.  So a name holding quotes, `system(...)`
 * or a newline is plotted, not run. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int hk_cli_find_on_path(const char *prog, char *buf, size_t size)
{
    const char *path = getenv("PATH");
    if (!path) return -1;
    const char *p = path;
    while (*p) {
        const char *e = strchr(p, ':');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > 0 && (size_t)snprintf(buf, size, "%.*s/%s", (int)len, p, prog) < size && access(buf, X_OK) == 0)
            return 0;
        p += len + (e ? 1 : 0);
    }
    return -1;
}

int hk_cli_gnuplot(const char *script, const char *const *args, int nargs, char *err, size_t esize)
{
    char gp[4096];
    if (hk_cli_find_on_path("gnuplot", gp, sizeof gp) != 0) {
        snprintf(err, esize, "gnuplot is not on PATH (apt-get install gnuplot-nox, or tools/scripts/deps.sh extra)");
        return 1;
    }
    const char *tmpdir = getenv("TMPDIR");
    char sp[4096];
    snprintf(sp, sizeof sp, "%s/hkref-plot-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemp(sp);
    if (fd < 0) {
        snprintf(err, esize, "cannot create a temporary script in %s: %s", tmpdir && *tmpdir ? tmpdir : "/tmp",
                 strerror(errno));
        return 2;
    }
    size_t len = strlen(script);
    int ok = write(fd, script, len) == (ssize_t)len;
    ok = close(fd) == 0 && ok;
    if (!ok || nargs < 0 || nargs > 9) {
        unlink(sp);
        snprintf(err, esize, "cannot write the gnuplot script");
        return 2;
    }
    char *argv[13];
    int k = 0;
    argv[k++] = gp;
    argv[k++] = (char *)"-c";
    argv[k++] = sp;
    for (int i = 0; i < nargs; i++) argv[k++] = (char *)args[i];
    argv[k] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int dn = open("/dev/null", O_RDONLY);
        if (dn >= 0) dup2(dn, 0);
        execv(gp, argv);
        _exit(127);
    }
    int status = -1;
    if (pid > 0)
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    unlink(sp);
    if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, esize, "gnuplot failed (status %d)", pid < 0 ? -1 : status);
        return 2;
    }
    return 0;
}

/* ARG1 the PNG, ARG2 the TSV (tools/fast/fast_train.c writes it), ARG3 the
 * output directory (in the title).  One point per epoch; dev accuracy on its
 * whole range [0, 1] (an axis cut at the data would exaggerate a change). */
static const char curve_gp[] =
    "set terminal png size 800,500\nset output ARG1\nset xlabel 'step'\n"
    "set title 'training curve of '.ARG3.' (one point per epoch)' noenhanced\n"
    "set ylabel 'mean train loss'\nset y2label 'dev accuracy'\nset y2tics\nset ytics nomirror\n"
    "set yrange [0:*]\nset y2range [0:1]\nset grid\n"
    "set key bottom left\nplot ARG2 using 2:3 with linespoints title 'train loss', "
    "'' using 2:4 axes x1y2 with linespoints title 'dev accuracy'\n";

int hk_cli_plot_curve(const char *out, int quiet)
{
    char png[4096], tsv[4096], err[512];
    if ((size_t)snprintf(png, sizeof png, "%s/curve.png", out) >= sizeof png ||
        (size_t)snprintf(tsv, sizeof tsv, "%s/curve.tsv", out) >= sizeof tsv || access(tsv, R_OK) != 0)
        return 2;
    const char *args[3] = {png, tsv, out};
    int rc = hk_cli_gnuplot(curve_gp, args, 3, err, sizeof err);
    if (rc && !quiet) fprintf(stderr, "note: no %s: %s\n", png, err);
    return rc;
}
