#!/usr/bin/python3
"""Reads a JUnit XML report with a real consumer (junitparser, Debian python3-junitparser) and
checks it against what it must say.

  junit_check.py --junit FILE --json FILE     a `hkref golden check` report: one testsuite per op,
      one testcase per case, and every count, name and verdict equal to the same run's JSON report
      (schema hkref-golden-check/2); a failure carries the failing tensors and the __REPRO line
  junit_check.py --junit FILE --count         any report (pytest's): prints "N passed, F failed, S skipped"
Exit status 0 when the report reads and agrees, 1 otherwise (the reason on stderr).
"""
import argparse
import json
import sys

from junitparser import Error, Failure, JUnitXml, Skipped


def verdicts(xml):
    """{(suite, case name): (status, result)} over every testcase of the report."""
    out = {}
    for suite in xml:
        for case in suite:
            res = list(case.result)
            status = "pass"
            if any(isinstance(r, (Failure, Error)) for r in res):
                status = "fail"
            elif any(isinstance(r, Skipped) for r in res):
                status = "skip"
            out[(suite.name, case.name)] = (status, res, case)
    return out


def check_golden(xml, report):
    errs = []
    v = verdicts(xml)
    want = {(c["op"], c["case"]): c for c in report["cases"]}
    if set(v) != set(want):
        errs.append(f"testcases {sorted(set(v) ^ set(want))[:5]} are in one report only")
    for key, rec in want.items():
        if key not in v:
            continue
        status, res, case = v[key]
        if status != rec["status"]:
            errs.append(f"{key}: JUnit says {status}, JSON says {rec['status']}")
        if case.classname != "hkref.golden." + rec["op"]:
            errs.append(f"{key}: classname {case.classname}")
        if status == "fail":
            text = "".join((r.text or "") + (r.message or "") for r in res)
            if "__REPRO: hkref golden check" not in text or not all(f.split(":")[0] in text for f in rec["failures"]):
                errs.append(f"{key}: the failure does not name its tensors and the __REPRO line")
    s = report["summary"]
    suites = {su.name for su in xml}
    if suites != {c["op"] for c in report["cases"]}:
        errs.append(f"testsuites {sorted(suites)} are not the ops of the run")
    if (xml.tests, xml.failures, xml.skipped) != (s["run"] + s["skipped"], s["failed"], s["skipped"]):
        errs.append(f"totals tests/failures/skipped {xml.tests}/{xml.failures}/{xml.skipped}, "
                    f"JSON {s['run'] + s['skipped']}/{s['failed']}/{s['skipped']}")
    return errs, f"{xml.tests} testcases in {len(suites)} testsuites, {xml.failures} failed, {xml.skipped} skipped"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--junit", required=True)
    ap.add_argument("--json")
    ap.add_argument("--count", action="store_true")
    a = ap.parse_args(argv)
    try:
        xml = JUnitXml.fromfile(a.junit)
        if not isinstance(xml, JUnitXml):  # a lone <testsuite> root
            wrapped = JUnitXml()
            wrapped.add_testsuite(xml)
            xml = wrapped
        xml.update_statistics() if hasattr(xml, "update_statistics") else None
    except Exception as e:  # junitparser / lxml raise several types for a malformed file
        print(f"junit_check.py: {a.junit} does not read as JUnit XML: {e}", file=sys.stderr)
        return 1
    if a.count:
        v = verdicts(xml)
        n = {k: sum(1 for s, _, _ in v.values() if s == k) for k in ("pass", "fail", "skip")}
        print(f"{n['pass']} passed, {n['fail']} failed, {n['skip']} skipped")
        return 0 if v else 1
    with open(a.json) as f:
        report = json.load(f)
    if report.get("schema") != "hkref-golden-check/2":
        print(f"junit_check.py: {a.json}: schema {report.get('schema')!r}", file=sys.stderr)
        return 1
    errs, summary = check_golden(xml, report)
    for e in errs[:20]:
        print(f"junit_check.py: {a.junit}: {e}", file=sys.stderr)
    if not errs:
        print(f"junit_check.py: {a.junit}: {summary}, agrees with {a.json}")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
