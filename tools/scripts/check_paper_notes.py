#!/usr/bin/python3
"""hkref — every link of PAPER_NOTES.md's equation tables resolves (the gate's notes-links step).

Each row of a table whose header is `| eq | ... | code | test / check | proof |` must give
  code   links [`ref/x.c`](ref/x.c): `fn`, `fn2` -- every fn defined in that file -- or
         start with "none" and say why;
  tests  [`tests/test_x.c`](tests/test_x.c): `name` -- a START_TEST in that file --,
         checks [`tools/checks/chk_x.c`](tools/checks/chk_x.c): `id` -- a registered check
         (from `hkref verify --list`; `*` and {a,b} patterns must match one), or "none" + why;
  proof  [`proofs/x.md`](proofs/x.md) §N, §N.M(-N.K) -- a "## N." heading / a "(N.M)" step --,
         or "none" + why.
Every relative link anywhere in the file must name an existing file.
usage: tools/scripts/check_paper_notes.py HKREF [PAPER_NOTES.md]   (run from the repository root)
Exit 0 when everything resolves; 1 with one line per broken reference.
"""
import itertools
import os
import re
import subprocess
import sys

LINK = re.compile(r"\[`?([^`\]]+)`?\]\(([^)#\s]+)(#[^)]*)?\)")
TICK = re.compile(r"`([^`]+)`")


def registered_ids(hkref):
    out = subprocess.run([hkref, "verify", "--list"], check=True, capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.startswith("  ")}


def expand(pattern):
    """{a,b} alternatives -> every spelled-out pattern."""
    parts = re.split(r"(\{[^}]*\})", pattern)
    choices = [p[1:-1].split(",") if p.startswith("{") else [p] for p in parts]
    return ["".join(c) for c in itertools.product(*choices)]


def defined(path, name, cache={}):
    if path not in cache:
        with open(path, encoding="utf-8") as f:
            cache[path] = f.read()
    text = cache[path]
    if path.startswith("tests/"):
        return re.search(r"START_TEST\(%s\)" % re.escape(name), text) is not None
    # a function definition (name at the start of a declarator, then '('), a macro, or an enum constant
    return re.search(r"(^|[\s*])%s\s*\(" % re.escape(name), text, re.M) is not None or \
        re.search(r"\b%s\b\s*[,=}]" % re.escape(name), text) is not None


def proof_refs(path, cell, problems, where):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    heads = set(re.findall(r"^## (\d+)\.", text, re.M))
    steps = set(re.findall(r"^\((\d+\.\d+)\)", text, re.M))
    for a, lo, hi in re.findall(r"^\((\d+)\.(\d+)\)[–-]\(\d+\.(\d+)\)", text, re.M):
        steps.update("%s.%d" % (a, k) for k in range(int(lo), int(hi) + 1))
    refs = re.findall(r"§\s*(\d+(?:\.\d+)?)(?:\s*[–-]\s*(\d+(?:\.\d+)?))?", cell)
    if not refs:
        problems.append("%s: %s given without a section (§N)" % (where, path))
    for first, last in refs:
        for s in [first] + ([last] if last else []):
            ok = s in heads if "." not in s else s in steps
            if not ok:
                problems.append("%s: %s has no %s" % (where, path, "section '## %s.'" % s if "." not in s else "step (%s)" % s))


def check_cell(kind, cell, ids, problems, where):
    plain = cell.strip()
    if plain in ("", "—", "-"):
        problems.append("%s: empty %s cell (give the reference, or 'none — why')" % (where, kind))
        return
    links = list(LINK.finditer(cell))
    if plain.lower().startswith("none") and not links:
        if len(plain) < 12:
            problems.append("%s: %s cell says none without why" % (where, kind))
        return
    if not links and not plain.lower().startswith("none"):
        problems.append("%s: %s cell links no file: %s" % (where, kind, plain[:60]))
    for i, m in enumerate(links):
        path = m.group(2)
        seg = cell[m.end(): links[i + 1].start() if i + 1 < len(links) else len(cell)]
        if not os.path.exists(path):
            continue  # reported by the link pass
        if kind == "proof":
            if path.startswith("proofs/") and path.endswith(".md"):
                proof_refs(path, seg, problems, where)
            continue
        names = [t for t in TICK.findall(seg) if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.*{},-]*", t)]
        if not names and path.endswith((".c", ".h")):
            problems.append("%s: %s cell links %s but names nothing in it" % (where, kind, path))
        for n in names:
            if path.startswith("tools/checks/chk_"):
                for pat in expand(n):
                    rx = re.compile("^" + re.escape(pat).replace(r"\*", ".*") + "$")
                    if not any(rx.match(i) for i in ids):
                        problems.append("%s: no registered check matches '%s'" % (where, pat))
            elif path.endswith((".c", ".h")) and not defined(path, n):
                problems.append("%s: %s does not define '%s'" % (where, path, n))


def main():
    hkref = sys.argv[1] if len(sys.argv) > 1 else "build/hkref"
    notes = sys.argv[2] if len(sys.argv) > 2 else "PAPER_NOTES.md"
    ids = registered_ids(hkref)
    problems, rows = [], 0
    with open(notes, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines, 1):
        for m in LINK.finditer(line):
            path = m.group(2)
            if "://" not in path and not os.path.exists(path):
                problems.append("%s:%d: link to a missing file %s" % (notes, n, path))
    cols = None
    for n, line in enumerate(lines, 1):
        if not line.startswith("|"):
            cols = None
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cols is None:
            low = [c.lower() for c in cells]
            cols = {k: low.index(k) for k in ("code", "test / check", "proof") if k in low} if "eq" in low else {}
            if len(cols) < 3:
                cols = {}
            continue
        if not cols or set(line) <= set("|-: "):
            continue
        rows += 1
        where = "%s:%d (%s)" % (notes, n, cells[0][:30])
        check_cell("code", cells[cols["code"]], ids, problems, where)
        check_cell("test", cells[cols["test / check"]], ids, problems, where)
        check_cell("proof", cells[cols["proof"]], ids, problems, where)
    for p in problems:
        print(p)
    if problems:
        print("notes-links: FAILED: %d broken references in %s (%d equation rows)" % (len(problems), notes, rows))
        return 1
    print("notes-links: %d equation rows of %s resolve (code, tests, checks, proofs)" % (rows, notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
