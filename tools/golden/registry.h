/* hkref — one shape for the generated registries (checks, golden cases).
 *
 * Each module contributes a table through a function `const T *fn(size_t *n)`;
 * the Makefile lists those functions in an .inc file, which the registry turns
 * into a NULL-terminated array `tables`.  HK_REGISTRY_DEFINE then defines the
 * two accessors over all tables in order: the total count and the i-th entry
 * (NULL past the end).  One definition, so the check registry and the golden
 * case registry cannot drift apart. */
#ifndef HK_TOOLS_REGISTRY_H
#define HK_TOOLS_REGISTRY_H

#include <stddef.h>

#define HK_REGISTRY_DEFINE(T, tables, count_fn, get_fn) \
    size_t count_fn(void)                                \
    {                                                    \
        size_t total = 0;                                \
        for (size_t t = 0; (tables)[t]; t++) {             \
            size_t n = 0;                                \
            (tables)[t](&n);                               \
            total += n;                                  \
        }                                                \
        return total;                                    \
    }                                                    \
    const T *get_fn(size_t i) /* NOLINT(bugprone-macro-parentheses): T is a type */ \
    {                                                    \
        for (size_t t = 0; (tables)[t]; t++) {             \
            size_t n = 0;                                \
            const T *c = (tables)[t](&n);                  \
            if (i < n) return &c[i];                     \
            i -= n;                                      \
        }                                                \
        return NULL;                                     \
    }

#endif
