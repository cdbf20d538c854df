#!/usr/bin/python3
"""hkref mutation testing: how much wrong code does the gate catch?

Applies one mutation at a time to ref/*.c, rebuilds only that object in a
scratch directory (the working tree is never modified), relinks the -O2 Check
runner against prebuilt objects of everything else, runs it, and classifies:

  killed      the runner failed (or timed out) - the gate catches this bug
  survived    every test passed - a bug the gate would miss
  equivalent  (a) trivially: the mutant compiles to the same object bytes as
              the original (-O2 -g0; "trivial compiler equivalence"), or
              (b) argued: listed with its reason in tools/scripts/mutate_equivalent.txt
  stillborn   does not compile (not counted)

Score = killed / (killed + survived).  Target >= 95 %.

Mutation operators (classic, one site at a time; never inside comments,
strings or preprocessor lines):
  AOR  + <-> -, * <-> /, += <-> -=, *= <-> /=, ++ <-> --
  ROR  < -> <= | >=,  <= -> < | >,  > -> >= | <=,  >= -> > | <,  == <-> !=
  LCR  && <-> ||
  UOI  drop unary '-' and '!', INFINITY -> -INFINITY, fabs(x) -> (x)
  CRP  integer k -> k+1 (and 1 -> 0, k -> k-1 for k > 1); float 0 <-> 1,
       0.5 <-> 1, other x -> 2x, and a sign flip x -> -x
  LBO  loop bound off by one: for (..; i < n; ..) -> i < (n) - 1
  NEG  if (c) -> if (!(c))
  SDL  delete one expression statement (call, assignment, HK_TRY/HK_REQUIRE,
       break/continue), keeping line numbers

Usage (normally via `make mutate`):
  tools/scripts/mutate.py --base build/mutate/base [--jobs 2] [--max N] [--seed S]
                  [--timeout SEC] [--files ref/a.c,ref/b.c] [--list]
The base directory must hold a complete `make BUILD=<base> build`.
"""
import argparse
import hashlib
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

KEYWORDS = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
    "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
    "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
    "volatile", "while", "_Bool", "_Thread_local", "_Static_assert", "bool",
}
TYPE_WORDS = {
    "char", "const", "double", "float", "int", "long", "short", "signed", "unsigned", "void", "static",
    "struct", "enum", "union", "size_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t", "int8_t",
    "int16_t", "int32_t", "int64_t", "FILE", "va_list", "bool", "_Bool", "volatile", "register",
}

TOKEN_RE = re.compile(r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<pp>^[ \t]*\#(?:[^\n]*\\\n)*[^\n]*)
  | (?P<str>"(?:\\.|[^"\\\n])*")
  | (?P<chr>'(?:\\.|[^'\\\n])*')
  | (?P<num>(?:0[xX][0-9a-fA-F]+|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)[uUlLfF]*)
  | (?P<id>[A-Za-z_]\w*)
  | (?P<op>\+\+|--|->|<<=|>>=|<=|>=|==|!=|&&|\|\||\+=|-=|\*=|/=|%=|&=|\|=|\^=|<<|>>|[-+*/%<>=!&|^~?:;,.(){}\[\]])
""", re.S | re.M | re.X)


class Tok:
    __slots__ = ("kind", "text", "pos")

    def __init__(self, kind, text, pos):
        self.kind, self.text, self.pos = kind, text, pos


def lex(src):
    toks, pos = [], 0
    while pos < len(src):
        m = TOKEN_RE.match(src, pos)
        if not m:
            raise SystemExit("mutate.py: cannot lex at offset %d: %r" % (pos, src[pos:pos + 20]))
        kind = m.lastgroup
        if kind not in ("ws", "comment", "pp"):
            toks.append(Tok(kind, m.group(), pos))
        pos = m.end()
    return toks


def ends_operand(t):
    return t is not None and (t.kind in ("num", "str", "chr") or (t.kind == "id" and t.text not in KEYWORDS)
                              or t.text in (")", "]", "++", "--"))


def fmt_num(v):
    r = repr(v)
    return r if ("." in r or "e" in r or "inf" in r or "nan" in r) else r + ".0"


class Mutant:
    """One mutation: replace src[start:end] of file by repl."""


def line_of(src, pos):
    return src.count("\n", 0, pos) + 1


def make(src, path, op, start, end, repl, desc):
    m = Mutant()
    m.file, m.op, m.start, m.end, m.repl, m.desc = path, op, start, end, repl, desc
    m.line = line_of(src, start)
    ls = src.rfind("\n", 0, start) + 1
    le = src.find("\n", end)
    le = len(src) if le < 0 else le
    m.orig_line = src[ls:le]
    m.mut_line = src[ls:start] + repl + src[end:le]
    # Stable identity across edits elsewhere in the file: file + original
    # line text + mutated line text (+ the enclosing function's name below).
    m.key = None
    return m


def statement_starts(toks):
    """Indices of tokens that begin a statement (at paren depth 0)."""
    starts, depth = [], 0
    ctrl_stack = []  # paren depth at which an if/for/while condition opened
    for i, t in enumerate(toks):
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
            if ctrl_stack and ctrl_stack[-1] == depth:
                ctrl_stack.pop()
                if i + 1 < len(toks) and toks[i + 1].text != "{":
                    starts.append(i + 1)
        if depth == 0 and t.text in (";", "{", "}") and i + 1 < len(toks):
            starts.append(i + 1)
        if t.text == "else" and i + 1 < len(toks) and toks[i + 1].text not in ("{", "if"):
            starts.append(i + 1)
        if t.kind == "id" and t.text in ("if", "for", "while", "switch") and i + 1 < len(toks) and toks[i + 1].text == "(":
            ctrl_stack.append(depth)
    return sorted(set(starts))


def gen_mutants(path):
    src = open(os.path.join(ROOT, path)).read()
    toks = lex(src)
    out = []
    n = len(toks)
    brace = 0
    for i, t in enumerate(toks):
        prev = toks[i - 1] if i else None
        nxt = toks[i + 1] if i + 1 < n else None
        if t.text == "{":
            brace += 1
        elif t.text == "}":
            brace -= 1
        if brace == 0:
            continue  # file scope: declarations, array sizes, tables
        s, e = t.pos, t.pos + len(t.text)
        if t.kind == "op":
            x = t.text
            binary = ends_operand(prev)
            if x in ("+", "-", "*", "/") and binary and not (x == "*" and prev.kind == "id" and prev.text in TYPE_WORDS):
                for r in {"+": "-", "-": "+", "*": "/", "/": "*"}[x]:
                    out.append(make(src, path, "AOR", s, e, r, "'%s' -> '%s'" % (x, r)))
            elif x == "-" and not binary:
                out.append(make(src, path, "UOI", s, e, "", "drop unary '-'"))
            elif x == "!" and not binary:
                out.append(make(src, path, "UOI", s, e, "", "drop '!'"))
            elif x in ("+=", "-=", "*=", "/=", "++", "--"):
                r = {"+=": "-=", "-=": "+=", "*=": "/=", "/=": "*=", "++": "--", "--": "++"}[x]
                out.append(make(src, path, "AOR", s, e, r, "'%s' -> '%s'" % (x, r)))
            elif x in ("<", "<=", ">", ">=", "==", "!="):
                for r in {"<": ("<=", ">="), "<=": ("<", ">"), ">": (">=", "<="), ">=": (">", "<"),
                          "==": ("!=",), "!=": ("==",)}[x]:
                    out.append(make(src, path, "ROR", s, e, r, "'%s' -> '%s'" % (x, r)))
            elif x in ("&&", "||"):
                r = "||" if x == "&&" else "&&"
                out.append(make(src, path, "LCR", s, e, r, "'%s' -> '%s'" % (x, r)))
        elif t.kind == "num":
            x = t.text
            if re.fullmatch(r"\d+[uUlL]*", x):
                v = int(re.match(r"\d+", x).group())
                suf = x[len(str(v)):] if x.startswith(str(v)) else ""
                cands = [v + 1] + ([0] if v == 1 else []) + ([v - 1] if v > 1 else [])
                for c in cands:
                    out.append(make(src, path, "CRP", s, e, str(c) + suf, "%s -> %s" % (x, c)))
            elif not x.lower().startswith("0x"):
                v = float(x.rstrip("fFlL"))
                c = {0.0: 1.0, 1.0: 0.5, 0.5: 1.0}.get(v, 2 * v)
                out.append(make(src, path, "CRP", s, e, fmt_num(c), "%s -> %s" % (x, fmt_num(c))))
                if v != 0.0 and not (prev is not None and prev.text == "-"):
                    out.append(make(src, path, "CRP", s, e, "(-%s)" % x, "%s -> -%s" % (x, x)))
        elif t.kind == "id":
            if t.text == "INFINITY" and not (prev is not None and prev.text == "-"):
                out.append(make(src, path, "UOI", s, e, "(-INFINITY)", "INFINITY -> -INFINITY"))
            elif t.text == "fabs" and nxt is not None and nxt.text == "(":
                out.append(make(src, path, "UOI", s, e, "", "fabs(x) -> (x)"))
            elif t.text == "if" and nxt is not None and nxt.text == "(":
                # find the matching ')'
                d, j = 0, i + 1
                while j < n:
                    d += toks[j].text == "("
                    d -= toks[j].text == ")"
                    if d == 0:
                        break
                    j += 1
                a, b = toks[i + 1].pos + 1, toks[j].pos
                out.append(make(src, path, "NEG", a, b, "!(" + src[a:b] + ")", "negate if condition"))
            elif t.text == "for" and nxt is not None and nxt.text == "(":
                # condition between the first and second ';' at depth 1: "i < X" -> "i < (X) - 1"
                d, j, semis = 0, i + 1, []
                while j < n:
                    d += toks[j].text == "("
                    d -= toks[j].text == ")"
                    if d == 0:
                        break
                    if d == 1 and toks[j].text == ";":
                        semis.append(j)
                    j += 1
                if len(semis) == 2:
                    cond = toks[semis[0] + 1:semis[1]]
                    for k, ct in enumerate(cond):
                        if ct.text in ("<", "<=") and k + 1 < len(cond):
                            stop = next((u for u in cond[k + 1:] if u.text in ("&&", "||", "?")), toks[semis[1]])
                            a, b = cond[k + 1].pos, stop.pos
                            while b > a and src[b - 1] in " \t":
                                b -= 1
                            expr = src[a:b]
                            out.append(make(src, path, "LBO", a, b, "(%s) - 1" % expr,
                                            "loop bound %s -> (%s) - 1" % (expr.strip(), expr.strip())))
                            break
    # SDL: delete expression statements, keeping newlines so __LINE__ is unchanged.
    brace, depth_at = 0, {}
    for i, t in enumerate(toks):
        depth_at[i] = brace
        brace += (t.text == "{") - (t.text == "}")
    for i in statement_starts(toks):
        t = toks[i]
        if depth_at.get(i, 0) == 0 or t.kind != "id":
            continue
        if t.text in ("break", "continue"):
            pass
        elif t.text in KEYWORDS or t.text in TYPE_WORDS:
            continue
        elif i + 1 < n and (toks[i + 1].kind == "id" or toks[i + 1].text == "*" and i + 2 < n and toks[i + 2].kind == "id"
                            and i + 3 < n and toks[i + 3].text in ("=", ";", ",", "[")):
            continue  # a declaration: "gsl_rng *r = ...", "probe pr = ..."
        # find the ';' ending it at paren depth 0
        d, j = 0, i
        while j < n:
            d += toks[j].text in ("(", "[", "{")
            d -= toks[j].text in (")", "]", "}")
            if d < 0:
                break
            if d == 0 and toks[j].text == ";":
                break
            j += 1
        if j >= n or toks[j].text != ";":
            continue
        a, b = t.pos, toks[j].pos + 1
        stmt = src[a:b]
        out.append(make(src, path, "SDL", a, b, ";" + "\n" * stmt.count("\n"),
                        "delete '%s'" % " ".join(stmt.split())[:60]))
    # Function names for a readable, edit-stable key.
    funcs = [(m.start(), m.group(1)) for m in re.finditer(r"^[A-Za-z_][\w \t\*]*?\b(\w+)\s*\([^;{]*\)\s*\{", src, re.M)]
    seen = {}
    for m in out:
        fn = "?"
        for p, name in funcs:
            if p <= m.start:
                fn = name
        base = "%s|%s|%s|%s" % (m.file, fn, m.orig_line.strip(), m.mut_line.strip())
        k = seen.get(base, 0)
        seen[base] = k + 1
        m.key = base if k == 0 else base + "|#%d" % k
        m.fn = fn
    return src, out


def load_equivalent(path):
    eq = {}
    if not os.path.exists(path):
        return eq
    for ln in open(path):
        ln = ln.rstrip("\n")
        if not ln.strip() or ln.lstrip().startswith("#"):
            continue
        parts = ln.split("\t")
        if len(parts) < 2:
            continue
        eq[parts[0]] = parts[1]
    return eq


def sh(cmd, cwd=None, timeout=None, env=None):
    """Runs cmd in its own session; on timeout kills the whole process group
    (so nothing it forked outlives it) and raises TimeoutExpired."""
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.communicate()
        raise
    return subprocess.CompletedProcess(cmd, p.returncode, out, None)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="build/mutate/base")
    ap.add_argument("--work", default="build/mutate")
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--cflags", default="")
    ap.add_argument("--libs", default="")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--max", type=int, default=0, help="sample this many mutants (0 = all)")
    ap.add_argument("--seed", type=int, default=20260)
    ap.add_argument("--timeout", type=float, default=0, help="per-mutant seconds (0 = 4 x baseline + 10)")
    ap.add_argument("--files", default="")
    ap.add_argument("--equivalent", default="tools/scripts/mutate_equivalent.txt")
    ap.add_argument("--target", type=float, default=95.0)
    ap.add_argument("--list", action="store_true", help="only list the mutants")
    ap.add_argument("--asan-base", default="", help="a SAN=1 build: survivors are re-run under ASan+UBSan, as the gate does")
    ap.add_argument("--asan-cflags", default="")
    ap.add_argument("--asan-ldflags", default="")
    a = ap.parse_args()
    os.chdir(ROOT)

    files = a.files.split(",") if a.files else sorted(
        os.path.join("ref", f) for f in os.listdir("ref") if f.endswith(".c"))
    allm = []
    for f in files:
        _, ms = gen_mutants(f)
        allm.extend(ms)
    total_generated = len(allm)
    if a.list:
        for m in allm:
            print("%s:%d\t%s\t%s\t%s" % (m.file, m.line, m.op, m.desc, m.key))
        print("%d mutants" % len(allm))
        return 0
    sample_note = "all %d mutants" % total_generated
    if a.max and a.max < len(allm):
        rnd = random.Random(a.seed)
        allm = sorted(rnd.sample(allm, a.max), key=lambda m: (m.file, m.start))
        sample_note = "a sample of %d of %d mutants (seed %d)" % (a.max, total_generated, a.seed)

    eq = load_equivalent(a.equivalent)
    base = os.path.abspath(a.base)
    work = os.path.abspath(a.work)
    cflags = shlex.split(a.cflags)
    libs = shlex.split(a.libs)
    ref_objs = [os.path.join("ref", x) for x in os.listdir("ref") if x.endswith(".c")]

    # Pristine -g0 objects for trivial-compiler-equivalence, compiled exactly like the mutants.
    def compile_to(srcpath, text, wdir, obj, flags=None):
        os.makedirs(os.path.join(wdir, "ref"), exist_ok=True)
        with open(os.path.join(wdir, srcpath), "w") as fh:
            fh.write(text)
        cmd = [a.cc] + (cflags if flags is None else flags) + ["-g0", "-iquote", os.path.join(ROOT, "ref"),
                                                               "-c", srcpath, "-o", obj]
        return sh(cmd, cwd=wdir)

    pristine = {}
    pw = os.path.join(work, "pristine")
    for f in files:
        obj = os.path.join(pw, os.path.basename(f) + ".o")
        r = compile_to(f, open(f).read(), pw, obj)
        if r.returncode:
            sys.exit("mutate.py: pristine %s does not compile:\n%s" % (f, r.stdout.decode()))
        pristine[f] = open(obj, "rb").read()

    def link(wdir, replace_file, obj, bdir=base, extra=()):
        tests = sorted(os.path.join(bdir, "tests", f) for f in os.listdir(os.path.join(bdir, "tests"))
                       if f.endswith(".o"))
        ro = [obj if f == replace_file else os.path.join(bdir, f[:-2] + ".o") for f in sorted(ref_objs)]
        exe = os.path.join(wdir, "run_tests")
        tool_libs = [os.path.join(bdir, "libhk%s.a" % x) for x in ("cli", "checks", "cases", "golden", "fast")]
        r = sh([a.cc, "-o", exe] + list(extra) + tests + tool_libs + ro + libs)
        if r.returncode == 0:
            # Tests that run the CLI find it next to the runner: the mutated hkref.
            r = sh([a.cc, "-o", os.path.join(wdir, "hkref")] + list(extra) + [os.path.join(bdir, "tools", "cli", "hkref.o")]
                   + tool_libs + ro + libs)
        return exe, r

    def run(exe, timeout, tmpdir, suite=None):
        # No fork: one process, so a timeout kills everything the mutant runs
        # (Check's forked children put themselves in their own process group),
        # and a crash ends the run with a non-zero status (= killed).
        env = dict(os.environ, CK_FORK="no", TMPDIR=tmpdir, CK_VERBOSITY="silent",
                   ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                   UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
        if suite:
            env["CK_RUN_SUITE"] = suite
        try:
            r = sh([exe], timeout=timeout, env=env)
            return r.returncode, r.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired:
            return "timeout", ""

    # Baseline: the unmutated runner must pass; its time sets the timeout.
    bw = os.path.join(work, "baseline")
    os.makedirs(bw, exist_ok=True)
    exe, r = link(bw, None, None)
    if r.returncode:
        sys.exit("mutate.py: baseline link failed:\n" + r.stdout.decode())
    t0 = time.time()
    rc, outp = run(exe, 600, bw)
    tbase = time.time() - t0
    if rc != 0:
        sys.exit("mutate.py: the unmutated test runner fails (rc %s); fix the gate first:\n%s" % (rc, outp[-2000:]))
    timeout = a.timeout or 4 * tbase + 10
    print("mutate: %s in %s; baseline run %.1f s, per-mutant timeout %.0f s, %d jobs"
          % (sample_note, ", ".join(files), tbase, timeout, a.jobs), flush=True)

    srcs = {f: open(f).read() for f in files}
    suites = {f[5:-2]: open(os.path.join("tests", f)).read() for f in os.listdir("tests")
              if f.startswith("test_") and f.endswith(".c")}

    def suites_for(path):
        mod = os.path.basename(path)[:-2]
        inc = re.compile(r'#include\s+"(?:\.\./)?(?:ref/)?%s\.h"' % re.escape(mod))
        return ([mod] if mod in suites else []) + sorted(t for t, txt in suites.items()
                                                          if t != mod and inc.search(txt))

    def one(idx_m):
        idx, m = idx_m
        wdir = os.path.join(work, "m", "%05d" % idx)
        os.makedirs(wdir, exist_ok=True)
        text = srcs[m.file]
        mt = text[:m.start] + m.repl + text[m.end:]
        obj = os.path.join(wdir, "mut.o")
        r = compile_to(m.file, mt, wdir, obj)
        if r.returncode:
            shutil.rmtree(wdir, ignore_errors=True)
            return idx, "stillborn", ""
        if open(obj, "rb").read() == pristine[m.file]:
            shutil.rmtree(wdir, ignore_errors=True)
            return idx, "equivalent-tce", "same object code"
        if m.key in eq:
            shutil.rmtree(wdir, ignore_errors=True)
            return idx, "equivalent", eq[m.key]
        exe, r = link(wdir, m.file, obj)
        if r.returncode:
            shutil.rmtree(wdir, ignore_errors=True)
            return idx, "stillborn", ""
        # The module's own suite first (tests/test_<module>.c), then every
        # suite that includes its header: most mutants die there in a fraction
        # of the full run; survivors get the full run.
        rc = 0
        for suite in suites_for(m.file):
            rc, outp = run(exe, timeout, wdir, suite)
            if rc != 0:
                break
        if rc == 0:
            rc, outp = run(exe, timeout, wdir)
        if rc == "timeout":
            shutil.rmtree(wdir, ignore_errors=True)
            return idx, "killed", "timeout"
        if rc == 0 and a.asan_base:
            # The gate also runs every suite under ASan+UBSan: a mutant that
            # reads or writes out of bounds, leaks or hits UB is killed there.
            aobj = os.path.join(wdir, "mut_asan.o")
            r = compile_to(m.file, mt, wdir, aobj, shlex.split(a.asan_cflags))
            if r.returncode == 0:
                exe, r = link(wdir, m.file, aobj, os.path.abspath(a.asan_base), shlex.split(a.asan_ldflags))
                if r.returncode == 0:
                    rc2, _ = run(exe, 4 * timeout, wdir)
                    if rc2 != 0:
                        shutil.rmtree(wdir, ignore_errors=True)
                        return idx, "killed", "asan" if rc2 != "timeout" else "asan-timeout"
        shutil.rmtree(wdir, ignore_errors=True)
        return idx, ("killed" if rc != 0 else "survived"), ""

    t0 = time.time()
    results = {}
    done = 0
    with ThreadPoolExecutor(max_workers=a.jobs) as ex:
        for idx, status, why in ex.map(one, list(enumerate(allm))):
            results[idx] = (status, why)
            done += 1
            if done % 50 == 0:
                print("mutate: %d/%d done (%.0f s)" % (done, len(allm), time.time() - t0), flush=True)
    elapsed = time.time() - t0

    counts = {}
    for st, _ in results.values():
        counts[st] = counts.get(st, 0) + 1
    killed, survived = counts.get("killed", 0), counts.get("survived", 0)
    by_asan = sum(1 for st, why in results.values() if st == "killed" and why.startswith("asan"))
    eq_tce, eq_arg = counts.get("equivalent-tce", 0), counts.get("equivalent", 0)
    still = counts.get("stillborn", 0)
    score = 100.0 * killed / (killed + survived) if killed + survived else 100.0
    used_keys = {m.key for m in allm}
    stale = [k for k in eq if k not in used_keys] if not a.max else []

    lines = []
    lines.append("hkref mutation report: %s" % sample_note)
    lines.append("files: %s" % " ".join(files))
    lines.append("runtime %.0f s on %d jobs (baseline runner %.1f s, timeout %.0f s)" % (elapsed, a.jobs, tbase, timeout))
    lines.append("killed %d (%d of them only under ASan+UBSan), survived %d, equivalent %d (%d same object code, "
                 "%d argued in %s), stillborn %d"
                 % (killed, by_asan, survived, eq_tce + eq_arg, eq_tce, eq_arg, a.equivalent, still))
    lines.append("MUTATION SCORE: %d / %d = %.1f %% of non-equivalent mutants killed (target %.0f %%)"
                 % (killed, killed + survived, score, a.target))
    per = {}
    for idx, m in enumerate(allm):
        st = results[idx][0]
        d = per.setdefault(m.file, {})
        d[st] = d.get(st, 0) + 1
    for f in sorted(per):
        d = per[f]
        k, s = d.get("killed", 0), d.get("survived", 0)
        lines.append("  %-22s killed %4d survived %3d equivalent %3d stillborn %3d  (%.1f %%)"
                     % (f, k, s, d.get("equivalent", 0) + d.get("equivalent-tce", 0), d.get("stillborn", 0),
                        100.0 * k / (k + s) if k + s else 100.0))
    lines.append("")
    lines.append("surviving mutants (file:line [function] operator: mutation):")
    for idx, m in enumerate(allm):
        if results[idx][0] == "survived":
            lines.append("  %s:%d [%s] %s: %s\n      - %s\n      + %s" % (m.file, m.line, m.fn, m.op, m.desc,
                                                                      m.orig_line.strip(), m.mut_line.strip()))
            lines.append("      key: %s" % m.key)
    if stale:
        lines.append("")
        lines.append("stale entries in %s (no such mutant any more):" % a.equivalent)
        for k in stale:
            lines.append("  " + k)
    rep = "\n".join(lines) + "\n"
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "report.txt"), "w") as fh:
        fh.write(rep)
    sys.stdout.write(rep)
    print("(report in %s)" % os.path.join(os.path.relpath(work, ROOT), "report.txt"))
    return 0 if score >= a.target else 1


if __name__ == "__main__":
    sys.exit(main())
