/* hkref — the reports of `hkref golden check` (tools/cli/cmd_golden.c): the
 * text report on stdout, and the files a CI system reads: JSON (schema
 * HK_CHECK_JSON_SCHEMA), JUnit XML, TAP version 13.  docs/backends.md
 * describes each format. */
#ifndef HK_GOLDEN_REPORT_H
#define HK_GOLDEN_REPORT_H

#include "golden/check.h"

#define HK_CHECK_JSON_SCHEMA "hkref-golden-check/2"

typedef struct {
    const hk_golden_dir_opts *dir;  /* the run's golden / outputs / dtype / selection (echoed, repro lines) */
    const char *json, *junit, *tap; /* files to write (NULL: none); tap "-" = stdout, text then to stderr */
    int quiet;                      /* text: failing cases and the closing summary only */
} hk_check_report_opts;

typedef struct hk_check_report hk_check_report;

/* A report collecting the run's cases; NULL when out of memory. */
hk_check_report *hk_check_report_new(const hk_check_report_opts *o);
void hk_check_report_free(hk_check_report *r);
/* The callbacks for hk_golden_dir_opts.report / .skipped (ctx = the report). */
void hk_check_report_case(void *ctx, const hk_golden_case_report *c);
void hk_check_report_skip(void *ctx, const hk_golden_case_report *c);
/* After the run: the closing lists (failed cases by op, skipped and
 * unselected cases, tensors not compared) and the verdict line, then the
 * files.  Returns the exit status: 0 pass, 1 a case failed or every
 * selected case was skipped, 2 a report file could not be written. */
int hk_check_report_finish(hk_check_report *r, const hk_golden_dir_summary *sum);

#endif
