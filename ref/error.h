/* hkref — plain scalar double reference: the one error path.
 *
 * Like GSL's handler: a function that detects bad input records a message
 * (with file and line) and returns a non-zero status code.  Nothing in ref/
 * prints or exits; tools/ prints hk_error_message() and exits non-zero.
 * The last error is kept per thread (like errno), the only state in ref/
 * besides the RNG the caller passes in. */
#ifndef HK_ERROR_H
#define HK_ERROR_H

#include <stddef.h>

enum {
    HK_OK = 0,
    HK_EINVAL = 1,  /* invalid argument (NULL, size 0, enum out of range) */
    HK_EDOM = 2,    /* value out of its domain (p outside [0,1), b > r) */
    HK_ESHAPE = 3,  /* shapes disagree */
    HK_ENAN = 4,    /* NaN or Inf where a finite number is required */
    HK_ENOMEM = 5,  /* allocation failed or size overflows */
    HK_EIO = 6,     /* file cannot be opened, read or written */
    HK_EFORMAT = 7, /* malformed file contents */
    HK_ENOTFOUND = 8, /* named tensor / case / op does not exist */
    HK_EFAIL = 9    /* a check ran and failed (numbers disagree) */
};

/* Records the error and returns code (so callers can `return hk_error_set(...)`). */
int hk_error_set(int code, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
const char *hk_error_message(void); /* "file:line: message", "" when none */
int hk_error_code(void);
void hk_error_clear(void);
const char *hk_strerror(int code);  /* short name of a code, e.g. "EDOM" */

/* HK_ERROR(code, fmt, ...): record and return code from the current function. */
#define HK_ERROR(code, ...) return hk_error_set((code), __FILE__, __LINE__, __VA_ARGS__)
/* HK_TRY(expr): propagate a non-zero status unchanged (message already recorded). */
#define HK_TRY(expr) do { int hk_try_s_ = (expr); if (hk_try_s_) return hk_try_s_; } while (0)
/* Argument checks that name the argument. */
#define HK_REQUIRE(cond, code, ...) do { if (!(cond)) HK_ERROR((code), __VA_ARGS__); } while (0)
#define HK_REQUIRE_PTR(p) HK_REQUIRE((p) != NULL, HK_EINVAL, "argument '%s' is NULL", #p)

/* Returns HK_ENAN (with a message naming `what` and the first bad index) if any
 * of x[0..n) is NaN or infinite; HK_OK otherwise.  x and what must not be NULL. */
int hk_check_finite(const double *x, long n, const char *what);

#endif
