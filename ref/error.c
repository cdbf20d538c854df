/* hkref — plain scalar double reference: the one error path (see error.h). */
#include "error.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char msg_buf[1024];
static _Thread_local int last_code;

int hk_error_set(int code, const char *file, int line, const char *fmt, ...)
{
    /* Keep the basename only, so messages do not depend on the build directory. */
    const char *slash = file ? strrchr(file, '/') : NULL;
    const char *base = slash ? slash + 1 : (file ? file : "?");
    int k = snprintf(msg_buf, sizeof msg_buf, "%s:%d: ", base, line);
    if (k < 0 || (size_t)k >= sizeof msg_buf) k = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg_buf + k, sizeof msg_buf - (size_t)k, fmt, ap);
    va_end(ap);
    last_code = code;
    return code;
}

const char *hk_error_message(void) { return msg_buf; }
int hk_error_code(void) { return last_code; }

void hk_error_clear(void)
{
    msg_buf[0] = '\0';
    last_code = HK_OK;
}

const char *hk_strerror(int code)
{
    switch (code) {
    case HK_OK: return "OK";
    case HK_EINVAL: return "EINVAL (invalid argument)";
    case HK_EDOM: return "EDOM (value out of range)";
    case HK_ESHAPE: return "ESHAPE (shape mismatch)";
    case HK_ENAN: return "ENAN (NaN or Inf input)";
    case HK_ENOMEM: return "ENOMEM (out of memory or size overflow)";
    case HK_EIO: return "EIO (file error)";
    case HK_EFORMAT: return "EFORMAT (malformed file)";
    case HK_ENOTFOUND: return "ENOTFOUND (no such name)";
    case HK_EFAIL: return "EFAIL (check failed)";
    default: return "unknown error";
    }
}

int hk_check_finite(const double *x, long n, const char *what)
{
    HK_REQUIRE_PTR(x);
    HK_REQUIRE_PTR(what);
    for (long i = 0; i < n; i++)
        if (!isfinite(x[i]))
            HK_ERROR(HK_ENAN, "%s[%ld] is %g; a finite value is required", what, i, x[i]);
    return HK_OK;
}
