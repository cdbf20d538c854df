/* hkref — the reports of `hkref golden check` (see golden_report.h).
 *
 * Every case is printed as it is compared (text) and kept as one JSON record;
 * the closing lists and the JSON / JUnit / TAP files are made from those
 * records after the run, so the three files always agree with each other and
 * with the verdict line. */
#include "golden_report.h"

#include "ref/error.h"
#include "ref/fileio.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct hk_check_report {
    hk_check_report_opts o;
    FILE *txt;     /* the text report: stdout, or stderr when TAP goes to stdout */
    json_t *cases; /* one record per selected case, in run order */
    double t_last; /* monotonic time of the previous case (JUnit time attribute) */
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* s with every byte that is not part of valid UTF-8, and every control
 * character but \n and \t, replaced by '?' (file names are untrusted; XML
 * and JSON need valid UTF-8).  malloc'd; NULL when out of memory. */
static char *clean_utf8(const char *s)
{
    size_t n = strlen(s);
    char *o = malloc(n + 1);
    if (!o) return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, k = 0;
    while (i < n) {
        unsigned c = u[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = len > 0 && i + len <= n;
        for (size_t j = 1; ok && j < len; j++) ok = (u[i + j] & 0xC0) == 0x80;
        if (ok && len == 2) ok = c >= 0xC2;                              /* no overlong */
        if (ok && len == 3) ok = !(c == 0xE0 && u[i + 1] < 0xA0) && !(c == 0xED && u[i + 1] >= 0xA0);
        if (ok && len == 4) ok = c <= 0xF4 && !(c == 0xF0 && u[i + 1] < 0x90) && !(c == 0xF4 && u[i + 1] >= 0x90);
        if (ok && len == 1 && (c < 0x20 || c == 0x7F) && c != '\n' && c != '\t') ok = 0;
        if (!ok) {
            o[k++] = '?';
            i++;
            continue;
        }
        memcpy(o + k, s + i, len);
        k += len;
        i += len;
    }
    o[k] = 0;
    return o;
}

static json_t *jstr(const char *s)
{
    char *c = clean_utf8(s ? s : "");
    json_t *j = c ? json_string(c) : NULL;
    free(c);
    return j ? j : json_string("?");
}

/* Full precision; JSON has no NaN / infinity: null (the nonfinite counts say why). */
static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static const char *dtype_name(hk_golden_dtype d) { return d == HK_GOLDEN_F32 ? "f32" : "f64"; }

/* Appends s to the shell line, single-quoted when it holds anything but [A-Za-z0-9_./=:,+-]. */
static void shell_word(FILE *f, const char *s)
{
    int plain = *s != 0;
    for (const char *c = s; *c && plain; c++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./=:,+-", *c) != NULL;
    if (plain) {
        fputs(s, f);
        return;
    }
    fputc('\'', f);
    for (const char *c = s; *c; c++) {
        if (*c == '\'') fputs("'\\''", f);
        else fputc(*c, f);
    }
    fputc('\'', f);
}

/* The command that re-checks exactly this case with the run's tensor selection (malloc'd). */
static char *repro_line(const hk_check_report *r, const char *op, const char *name)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    const hk_golden_dir_opts *d = r->o.dir;
    fputs("hkref golden check --outputs ", f);
    shell_word(f, d->outputs ? d->outputs : "");
    fputs(" --golden ", f);
    shell_word(f, d->golden);
    fprintf(f, " --dtype %s --op ", dtype_name(d->dtype));
    shell_word(f, op);
    fputs(" --case ", f);
    shell_word(f, name);
    if (d->forward_only) fputs(" --forward-only", f);
    if (d->grads) {
        fputs(" --grads ", f);
        shell_word(f, d->grads);
    }
    fclose(f);
    return buf;
}

hk_check_report *hk_check_report_new(const hk_check_report_opts *o)
{
    hk_check_report *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->o = *o;
    r->txt = o->tap && !strcmp(o->tap, "-") ? stderr : stdout;
    r->cases = json_array();
    r->t_last = now();
    if (!r->cases) {
        free(r);
        return NULL;
    }
    return r;
}

void hk_check_report_free(hk_check_report *r)
{
    if (!r) return;
    json_decref(r->cases);
    free(r);
}

static long nonfinite(const hk_golden_case_report *c, int i)
{
    return c->got_nan && c->got_inf ? c->got_nan[i] + c->got_inf[i] : 0;
}

/* One line for a failing tensor: what a CI system shows as the failure message. */
static void tensor_summary(char *buf, size_t size, const hk_golden_case_report *c, int i)
{
    const hk_golden_tensor_result *t = &c->result->t[i];
    if (t->problem[0] && t->nfail == t->n)
        snprintf(buf, size, "%s: %s", t->name, t->problem);
    else if (nonfinite(c, i))
        snprintf(buf, size, "%s: %ld of %ld elements fail (%ld NaN, %ld inf in the backend's tensor)%s%s", t->name,
                 t->nfail, t->n, c->got_nan[i], c->got_inf[i], t->problem[0] ? "; " : "", t->problem);
    else
        snprintf(buf, size, "%s: %ld of %ld elements fail, worst %.3g%% of threshold at %s (got %.17g, ref %.17g)%s%s",
                 t->name, t->nfail, t->n, t->pct, t->worst, t->worst_got, t->worst_ref, t->problem[0] ? "; " : "",
                 t->problem);
}

static json_t *case_record(hk_check_report *r, const hk_golden_case_report *c, const char *status)
{
    const hk_golden_result *cr = c->result;
    json_t *o = json_object(), *ts = json_array(), *fails = json_array(), *elems = json_array();
    double t = now();
    json_object_set_new(o, "case", jstr(cr->name));
    json_object_set_new(o, "op", jstr(cr->op));
    json_object_set_new(o, "file", jstr(c->rel));
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "pass", json_boolean(!strcmp(status, "pass")));
    json_object_set_new(o, "time_s", json_real(t - r->t_last));
    r->t_last = t;
    if (c->skip_reason) json_object_set_new(o, "skip_reason", jstr(c->skip_reason));
    if (cr->problem[0]) json_object_set_new(o, "problem", jstr(cr->problem));
    json_object_set_new(o, "ignored_tensors", json_integer(c->ignored));
    for (int k = 0; k < cr->ntensors; k++) {
        const hk_golden_tensor_result *tr = &cr->t[k];
        json_t *j = json_object(), *nf = json_object();
        json_object_set_new(j, "name", jstr(tr->name));
        json_object_set_new(j, "n", json_integer(tr->n));
        json_object_set_new(j, "nfail", json_integer(tr->nfail));
        json_object_set_new(j, "max_abs", nonfinite(c, k) ? json_null() : jnum(tr->max_abs));
        json_object_set_new(j, "max_rel", nonfinite(c, k) ? json_null() : jnum(tr->max_rel));
        json_object_set_new(j, "max_abs_finite", jnum(tr->max_abs));
        json_object_set_new(j, "pct_threshold", jnum(tr->pct));
        json_object_set_new(j, "worst_index", jstr(tr->worst));
        json_object_set_new(j, "worst_got", jnum(tr->worst_got));
        json_object_set_new(j, "worst_ref", jnum(tr->worst_ref));
        json_object_set_new(j, "atol", jnum(tr->atol));
        json_object_set_new(j, "rtol", jnum(tr->rtol));
        json_object_set_new(j, "exact", json_boolean(tr->exact));
        json_object_set_new(j, "zero_frac", jnum(tr->zero_frac));
        json_object_set_new(nf, "nan", json_integer(c->got_nan ? c->got_nan[k] : 0));
        json_object_set_new(nf, "inf", json_integer(c->got_inf ? c->got_inf[k] : 0));
        json_object_set_new(j, "nonfinite", nf);
        if (tr->problem[0]) json_object_set_new(j, "problem", jstr(tr->problem));
        json_array_append_new(ts, j);
        if (tr->nfail || tr->problem[0]) {
            char line[512];
            tensor_summary(line, sizeof line, c, k);
            json_array_append_new(fails, jstr(line));
        }
    }
    for (const char *p = c->elements; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char *line = malloc(n + 1);
        if (line) {
            memcpy(line, p, n);
            line[n] = 0;
            json_array_append_new(elems, jstr(line + strspn(line, " ")));
            free(line);
        }
        p = e ? e + 1 : p + n;
    }
    json_object_set_new(o, "tensors", ts);
    json_object_set_new(o, "failures", fails);
    json_object_set_new(o, "first_failing_elements", elems);
    if (!strcmp(status, "fail")) {
        char *rp = repro_line(r, cr->op, cr->name);
        json_object_set_new(o, "repro", jstr(rp ? rp : ""));
        free(rp);
    }
    return o;
}

static void print_case(hk_check_report *r, const hk_golden_case_report *rep, const json_t *rec)
{
    FILE *f = r->txt;
    const hk_golden_result *cr = rep->result;
    long nfail = 0, total = 0;
    for (int i = 0; i < cr->ntensors; i++) {
        nfail += cr->t[i].nfail;
        total += cr->t[i].n;
    }
    fprintf(f, "[%3zu/%zu] %-56s %s\n", rep->index + 1, rep->count, rep->rel, rep->failed ? "FAILED" : "pass");
    if (cr->problem[0]) fprintf(f, "    %s\n", cr->problem);
    for (int i = 0; i < cr->ntensors; i++) {
        const hk_golden_tensor_result *t = &cr->t[i];
        if (t->problem[0] && t->nfail == t->n) {
            fprintf(f, "    %-16s FAIL %s\n", t->name, t->problem);
            continue;
        }
        if (nonfinite(rep, i))
            fprintf(f, "    %-16s n=%-4ld fail=%-3ld max_abs=%-9s max_rel=%-9s worst=%-10s %8s%% of thr", t->name,
                    t->n, t->nfail, rep->got_nan[i] ? "nan" : "inf", rep->got_nan[i] ? "nan" : "inf", t->worst,
                    "inf");
        else
            fprintf(f, "    %-16s n=%-4ld fail=%-3ld max_abs=%-9.3g max_rel=%-9.3g worst=%-10s %8.3g%% of thr", t->name,
                    t->n, t->nfail, t->max_abs, t->max_rel, t->worst, t->pct);
        if (t->exact)
            fprintf(f, " (exact)");
        else
            fprintf(f, " (atol %.3g rtol %.3g)", t->atol, t->rtol);
        fprintf(f, " %s%s%s", t->nfail ? "FAIL" : "ok", t->problem[0] ? " " : "", t->problem);
        if (nonfinite(rep, i))
            fprintf(f, " [%ld NaN, %ld inf in the backend's tensor]", rep->got_nan[i], rep->got_inf[i]);
        fputc('\n', f);
    }
    if (rep->ignored)
        fprintf(f, "    (%d grad.* tensor%s not compared: %s)\n", rep->ignored, rep->ignored == 1 ? "" : "s",
                r->o.dir->forward_only ? "--forward-only" : "--grads");
    if (rep->elements[0]) fprintf(f, "  first failing elements (at most 10 per case):\n%s", rep->elements);
    if (rep->failed) {
        fprintf(f, "FAILED %s (errors:%ld total:%ld)\n", cr->name, nfail, total);
        fprintf(f, "__REPRO: %s\n", json_string_value(json_object_get(rec, "repro")));
    }
}

void hk_check_report_case(void *ctx, const hk_golden_case_report *c)
{
    hk_check_report *r = ctx;
    json_t *rec = case_record(r, c, c->failed ? "fail" : "pass");
    if (!r->o.quiet || c->failed) print_case(r, c, rec);
    json_array_append_new(r->cases, rec);
}

void hk_check_report_skip(void *ctx, const hk_golden_case_report *c)
{
    hk_check_report *r = ctx;
    json_t *rec = case_record(r, c, "skip");
    if (!r->o.quiet)
        fprintf(r->txt, "[%3zu/%zu] %-56s skipped (%s)\n", c->index + 1, c->count, c->rel,
                c->skip_reason ? c->skip_reason : "");
    json_array_append_new(r->cases, rec);
}

/* ---- closing lists ---- */

static const char *rec_str(const json_t *rec, const char *key) { return json_string_value(json_object_get(rec, key)); }

/* The records of one status grouped by op: one line "  op (n): name name ..." per
 * op (names = 1), or "  op (n), op (n), ..." wrapped at ~100 columns (names = 0). */
static void print_grouped(FILE *f, const json_t *cases, const char *status, int names)
{
    size_t n = json_array_size(cases);
    char *done = calloc(n + 1, 1);
    if (!done) return;
    int col = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(cases, i);
        if (done[i] || strcmp(rec_str(a, "status"), status) != 0) continue;
        const char *op = rec_str(a, "op");
        long count = 0;
        for (size_t j = i; j < n; j++) {
            const json_t *b = json_array_get(cases, j);
            if (!done[j] && !strcmp(rec_str(b, "status"), status) && !strcmp(rec_str(b, "op"), op)) count++;
        }
        if (names) {
            fprintf(f, "  %s (%ld):", op, count);
        } else {
            if (col > 0 && col + (int)strlen(op) + 8 > 100) {
                fputs(",\n", f);
                col = 0;
            }
            col += fprintf(f, "%s%s (%ld)", col ? ", " : "  ", op, count);
        }
        for (size_t j = i; j < n; j++) {
            const json_t *b = json_array_get(cases, j);
            if (done[j] || strcmp(rec_str(b, "status"), status) != 0 || strcmp(rec_str(b, "op"), op) != 0) continue;
            done[j] = 1;
            if (names) fprintf(f, " %s", rec_str(b, "case"));
        }
        if (names) fputc('\n', f);
    }
    if (!names && col) fputc('\n', f);
    free(done);
}

/* Distinct ops of one status. */
static long count_ops(const json_t *cases, const char *status)
{
    size_t n = json_array_size(cases);
    long ops = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(cases, i);
        if (strcmp(rec_str(a, "status"), status) != 0) continue;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) {
            const json_t *b = json_array_get(cases, j);
            seen = !strcmp(rec_str(b, "status"), status) && !strcmp(rec_str(b, "op"), rec_str(a, "op"));
        }
        ops += !seen;
    }
    return ops;
}

/* ---- files ---- */

static json_t *jlist(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, jstr(v[i]));
    return a;
}

static char *json_text(const hk_check_report *r, const hk_golden_dir_summary *sum, int pass)
{
    const hk_golden_dir_opts *d = r->o.dir;
    json_t *root = json_object(), *sel = json_object(), *s = json_object();
    json_object_set_new(root, "schema", json_string(HK_CHECK_JSON_SCHEMA));
    json_object_set_new(root, "dtype", json_string(dtype_name(d->dtype)));
    json_object_set_new(root, "golden", jstr(d->golden));
    json_object_set_new(root, "outputs", jstr(d->outputs));
    json_object_set_new(sel, "ops", jlist(d->ops, d->nops));
    json_object_set_new(sel, "cases", jlist(d->cases, d->ncases));
    json_object_set_new(sel, "exclude_ops", jlist(d->exclude_ops, d->nexclude_ops));
    json_object_set_new(sel, "exclude_cases", jlist(d->exclude_cases, d->nexclude_cases));
    json_object_set_new(sel, "forward_only", json_boolean(d->forward_only));
    json_object_set_new(sel, "grads", jstr(d->forward_only ? "none" : d->grads ? d->grads : "all"));
    json_object_set_new(sel, "skip_missing", json_boolean(d->skip_missing));
    json_object_set_new(root, "selection", sel);
    json_object_set_new(s, "listed", json_integer(sum->listed));
    json_object_set_new(s, "not_selected", json_integer(sum->not_selected));
    json_object_set_new(s, "run", json_integer(sum->run));
    json_object_set_new(s, "passed", json_integer(sum->run - sum->failed));
    json_object_set_new(s, "failed", json_integer(sum->failed));
    json_object_set_new(s, "skipped", json_integer(sum->skipped));
    json_object_set_new(s, "ignored_tensors", json_integer(sum->ignored));
    json_object_set_new(s, "pass", json_boolean(pass));
    json_object_set_new(root, "manifest_sha256", json_string(sum->manifest_sha256));
    json_object_set_new(root, "summary", s);
    /* schema 1's two counts, kept for existing readers */
    /* the set's integrity (tools/golden/manifest.h): expected cases, partial run */
    json_object_set_new(root, "cases_total", json_integer(sum->total));
    json_object_set_new(root, "partial", json_boolean(sum->partial));
    json_object_set_new(root, "ondemand", json_boolean(sum->ondemand));
    json_object_set_new(root, "cases_run", json_integer(sum->run));
    json_object_set_new(root, "cases_failed", json_integer(sum->failed));
    json_object_set_new(root, "cases", json_incref(r->cases));
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    json_decref(root);
    return text;
}

static void xml_text(FILE *f, const char *s)
{
    char *c = clean_utf8(s ? s : "");
    for (const char *p = c ? c : "?"; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        case '\n': fputs("&#10;", f); break;
        default: fputc(*p, f);
        }
    }
    free(c);
}

/* The failure text of a record: failing tensors, first failing elements, repro line. */
static void failure_body(FILE *f, const json_t *rec)
{
    if (rec_str(rec, "problem")) fprintf(f, "%s\n", rec_str(rec, "problem"));
    const json_t *fl = json_object_get(rec, "failures"), *el = json_object_get(rec, "first_failing_elements");
    for (size_t i = 0; i < json_array_size(fl); i++) fprintf(f, "%s\n", json_string_value(json_array_get(fl, i)));
    if (json_array_size(el)) fputs("first failing elements:\n", f);
    for (size_t i = 0; i < json_array_size(el); i++) fprintf(f, "  %s\n", json_string_value(json_array_get(el, i)));
    fprintf(f, "__REPRO: %s\n", rec_str(rec, "repro"));
}

static char *failure_text(const json_t *rec)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    failure_body(f, rec);
    fclose(f);
    return buf;
}

static char *failure_message(const json_t *rec)
{
    const json_t *fl = json_object_get(rec, "failures");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    if (rec_str(rec, "problem")) fprintf(f, "%s", rec_str(rec, "problem"));
    else fprintf(f, "%zu failing tensor%s: %s", json_array_size(fl), json_array_size(fl) == 1 ? "" : "s",
                 json_array_size(fl) ? json_string_value(json_array_get(fl, 0)) : "");
    fclose(f);
    return buf;
}

static void junit_case(FILE *f, const json_t *rec)
{
    fputs("    <testcase classname=\"hkref.golden.", f);
    xml_text(f, rec_str(rec, "op"));
    fputs("\" name=\"", f);
    xml_text(f, rec_str(rec, "case"));
    fputs("\" file=\"", f);
    xml_text(f, rec_str(rec, "file"));
    fprintf(f, "\" time=\"%.6f\"", json_real_value(json_object_get(rec, "time_s")));
    const char *st = rec_str(rec, "status");
    if (!strcmp(st, "pass")) {
        fputs("/>\n", f);
        return;
    }
    fputs(">\n", f);
    if (!strcmp(st, "skip")) {
        fputs("      <skipped message=\"", f);
        xml_text(f, rec_str(rec, "skip_reason"));
        fputs("\"/>\n", f);
    } else {
        char *msg = failure_message(rec), *body = failure_text(rec);
        fputs("      <failure type=\"hkref.golden.mismatch\" message=\"", f);
        xml_text(f, msg);
        fputs("\">", f);
        xml_text(f, body);
        fputs("</failure>\n", f);
        free(msg);
        free(body);
    }
    fputs("    </testcase>\n", f);
}

static void junit_counts(FILE *f, const json_t *cases, const char *op)
{
    long n = 0, fail = 0, skip = 0;
    double t = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        const json_t *rec = json_array_get(cases, i);
        if (op && strcmp(rec_str(rec, "op"), op) != 0) continue;
        n++;
        fail += !strcmp(rec_str(rec, "status"), "fail");
        skip += !strcmp(rec_str(rec, "status"), "skip");
        t += json_real_value(json_object_get(rec, "time_s"));
    }
    fprintf(f, " tests=\"%ld\" failures=\"%ld\" errors=\"0\" skipped=\"%ld\" time=\"%.6f\"", n, fail, skip, t);
}

static char *junit_text(const hk_check_report *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    const json_t *cases = r->cases;
    size_t n = json_array_size(cases);
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"hkref golden check\"", f);
    junit_counts(f, cases, NULL);
    fputs(">\n", f);
    for (size_t i = 0; i < n; i++) { /* one testsuite per op, in order of first appearance */
        const char *op = rec_str(json_array_get(cases, i), "op");
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(rec_str(json_array_get(cases, j), "op"), op);
        if (seen) continue;
        fputs("  <testsuite name=\"", f);
        xml_text(f, op);
        fputc('"', f);
        junit_counts(f, cases, op);
        fputs(">\n    <properties>\n      <property name=\"dtype\" value=\"", f);
        xml_text(f, dtype_name(r->o.dir->dtype));
        fputs("\"/>\n      <property name=\"golden\" value=\"", f);
        xml_text(f, r->o.dir->golden);
        fputs("\"/>\n      <property name=\"outputs\" value=\"", f);
        xml_text(f, r->o.dir->outputs);
        fputs("\"/>\n    </properties>\n", f);
        for (size_t j = i; j < n; j++)
            if (!strcmp(rec_str(json_array_get(cases, j), "op"), op)) junit_case(f, json_array_get(cases, j));
        fputs("  </testsuite>\n", f);
    }
    fputs("</testsuites>\n", f);
    fclose(f);
    return buf;
}

/* A TAP description: '#' would start a directive, a newline a new line. */
static void tap_desc(FILE *f, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '#') fputs("\\#", f);
        else if (*p == '\\') fputs("\\\\", f);
        else if (*p == '\n' || *p == '\r') fputc(' ', f);
        else fputc(*p, f);
    }
}

/* A YAML double-quoted scalar (JSON string syntax is valid YAML). */
static void yaml_str(FILE *f, const char *key, const char *s)
{
    json_t *j = jstr(s);
    char *q = json_dumps(j, JSON_ENCODE_ANY);
    fprintf(f, "  %s: %s\n", key, q ? q : "\"?\"");
    free(q);
    json_decref(j);
}

static char *tap_text(const hk_check_report *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    size_t n = json_array_size(r->cases);
    fprintf(f, "TAP version 13\n1..%zu\n", n);
    for (size_t i = 0; i < n; i++) {
        const json_t *rec = json_array_get(r->cases, i);
        const char *st = rec_str(rec, "status");
        fprintf(f, "%s %zu - ", strcmp(st, "fail") ? "ok" : "not ok", i + 1);
        char *d = clean_utf8(rec_str(rec, "file"));
        tap_desc(f, d ? d : "?");
        free(d);
        if (!strcmp(st, "skip")) {
            fputs(" # SKIP ", f);
            tap_desc(f, rec_str(rec, "skip_reason"));
        }
        fputc('\n', f);
        if (strcmp(st, "fail") != 0) continue;
        char *msg = failure_message(rec), *body = failure_text(rec);
        fputs("  ---\n", f);
        yaml_str(f, "message", msg ? msg : "");
        yaml_str(f, "severity", "fail");
        yaml_str(f, "details", body ? body : "");
        yaml_str(f, "repro", rec_str(rec, "repro"));
        fputs("  ...\n", f);
        free(msg);
        free(body);
    }
    fclose(f);
    return buf;
}

static int write_text(const char *path, char *text, const char *what)
{
    int st = text ? HK_OK : hk_error_set(HK_ENOMEM, __FILE__, __LINE__, "cannot build the %s report", what);
    if (!st && !strcmp(path, "-")) {
        fputs(text, stdout);
        fflush(stdout);
    } else if (!st) {
        st = hk_file_write_atomic(path, text, strlen(text));
    }
    free(text);
    if (st) fprintf(stderr, "hkref golden check: %s report: %s\n", what, hk_error_message());
    return st;
}

int hk_check_report_finish(hk_check_report *r, const hk_golden_dir_summary *sum)
{
    FILE *f = r->txt;
    const hk_golden_dir_opts *d = r->o.dir;
    int all_skipped = sum->run == 0 && sum->skipped > 0;
    int pass = sum->failed == 0 && !all_skipped;
    long passed = sum->run - sum->failed;
    if (passed && (sum->failed || sum->skipped || sum->not_selected)) {
        fprintf(f, "passed: %ld case%s in %ld op%s\n", passed, passed == 1 ? "" : "s", count_ops(r->cases, "pass"),
                count_ops(r->cases, "pass") == 1 ? "" : "s");
        print_grouped(f, r->cases, "pass", 0);
    }
    if (sum->failed) {
        fprintf(f, "failed: %ld case%s in %ld op%s\n", sum->failed, sum->failed == 1 ? "" : "s",
                count_ops(r->cases, "fail"), count_ops(r->cases, "fail") == 1 ? "" : "s");
        print_grouped(f, r->cases, "fail", 1);
    }
    if (sum->skipped) {
        fprintf(f, "skipped (%s): %ld case%s in %ld op%s\n",
                d->backend ? "the backend returned no outputs" : "no backend output file, --skip-missing",
                sum->skipped, sum->skipped == 1 ? "" : "s", count_ops(r->cases, "skip"),
                count_ops(r->cases, "skip") == 1 ? "" : "s");
        print_grouped(f, r->cases, "skip", 0);
    }
    if (sum->not_selected)
        fprintf(f, "not selected: %ld of %ld golden files (--op / --case / --exclude-op / --exclude-case)\n",
                sum->not_selected, sum->listed);
    if (sum->ignored)
        fprintf(f, "not compared: %ld grad.* tensor%s (%s%s)\n", sum->ignored, sum->ignored == 1 ? "" : "s",
                d->forward_only ? "--forward-only" : "--grads ", d->forward_only ? "" : d->grads);
    /* the files first, the verdict after them: never "pass" beside exit 2 */
    int bad = 0;
    if (r->o.json) bad |= write_text(r->o.json, json_text(r, sum, pass), "JSON") != HK_OK;
    if (r->o.junit) bad |= write_text(r->o.junit, junit_text(r), "JUnit") != HK_OK;
    if (r->o.tap) bad |= write_text(r->o.tap, tap_text(r), "TAP") != HK_OK;
    fprintf(f, "golden set %s: manifest sha256 %s, %ld of %ld cases present%s\n", d->golden, sum->manifest_sha256,
            sum->total - sum->missing, sum->total,
            sum->partial ? " (--partial)" : sum->ondemand ? " (an on-demand set: its manifest alone)" : "");
    fprintf(f, "hkref golden check (%s): %ld cases, %ld failed", dtype_name(d->dtype), sum->run, sum->failed);
    if (sum->skipped) fprintf(f, ", %ld skipped", sum->skipped);
    if (sum->not_selected) fprintf(f, ", %ld not selected", sum->not_selected);
    if (bad)
        fprintf(f, " -> ERROR (a report file could not be written)\n");
    else if (all_skipped)
        fprintf(f, " -> FAILED (every selected case was skipped: nothing was compared)\n");
    else
        fprintf(f, " -> %s\n", !pass ? "FAILED" : sum->partial ? "PARTIAL pass (not a full pass)" : "pass");
    fflush(f);
    return bad ? 2 : pass ? 0 : 1;
}
