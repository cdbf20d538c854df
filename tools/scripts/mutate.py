#!/usr/bin/python3
"""hkref mutation testing: how much wrong code does the gate catch?

Applies one mutation at a time to a source file of one of the PARTS below,
recompiles only that object in a scratch directory (the working tree is never
modified), relinks the -O2 Check runner and `hkref` from prebuilt objects of
everything else, runs the runner, and classifies:

  killed      the runner failed (or timed out) - the gate catches this bug
  survived    every test passed - a bug the gate would miss
  equivalent  (a) trivially: the mutant compiles to the same object bytes as
              the original (-g0; "trivial compiler equivalence"), or
              (b) argued: listed with its reason in tools/scripts/mutate_equivalent.txt
  stillborn   does not compile (not counted)

Score = killed / (killed + survived), per part and over the sample.  Targets:
>= 95 % over the sample, >= 97 % for the checker part.

Parts (every part whose mistakes change a verdict or a number):
  checker  tools/golden/check.c, check_dir.c, manifest.c, sha256.c (libhkgolden)
           and ref/compare.c,
           the element-wise |got - ref| <= atol + rtol |ref| it calls
  cases    tools/golden/case.c and cases_*.c: the case builders, which write
           the expected values and the tolerances
  cli      exit status and selection: tools/cli/hkref.c, cli.c, args.c (where
           it exists), cmd_golden.c, golden_report.c (where it exists),
           cmd_verify.c, cmd_gradcheck.c and the check registry's verdict and
           selection (tools/checks/checks.c); functions that only print
           (usage text, the per-case table) are not mutated
  fast     the f32 backend (tools/fast/fast_encoder.c, fast_stack.c, fast_rng.c)
           against its cross-check tests; not tools/fast/fast_train.c, the
           training driver of experiments/ (data, schedules, checkpoints),
           whose numbers are the reproduction's, not a verdict of the gate
  ref      the other ref/*.c: the reference itself

Mutation operators (one site at a time; never inside comments or strings;
preprocessor lines only for `#define NAME <number>`):
  AOR  + <-> -, * <-> /, += <-> -=, *= <-> /=, ++ <-> --
  ROR  < -> <= | >=,  <= -> < | >,  > -> >= | <=,  >= -> > | <,  == <-> !=
       (comparison boundaries: < <-> <= is the off-by-one a checker makes)
  LCR  && <-> ||
  UOI  drop unary '-' and '!', INFINITY -> -INFINITY, fabs(x) -> (x) (abs removed)
  NAN  isnan(x) -> 0, isinf(x) -> 0, isfinite(x) -> 1 (NaN / Inf handling removed)
  SWP  atol <-> rtol, max_abs <-> max_rel, DBL_EPSILON <-> FLT_EPSILON,
       HK_GOLDEN_F64 <-> HK_GOLDEN_F32, fmax <-> fmin (one use site)
  CRP  integer k -> k+1 (and 1 -> 0, k -> k-1 for k > 1); float 0 <-> 1,
       0.5 <-> 1, other x -> 2x, and a sign flip x -> -x (not the size N of
       a text buffer `char s[N]`: it only moves where an over-long message
       is truncated)
  LBO  loop bound off by one: for (..; i < n; ..) -> i < (n) - 1 (over
       elements, tensors, cases, files)
  NEG  if (c) -> if (!(c))
  RET  early return: `return 0;` (success / false / no value) as the first
       statement of a function; `return e;` -> `return 0;` in a function
       returning a number (an error status swallowed); `return;` first in a
       void function
  SDL  delete one expression statement (call, assignment, HK_TRY/HK_REQUIRE,
       break/continue), keeping line numbers

Sampling: --max N draws a stratified random sample, each part's share of N
from --quota (default: checker 25 %, cases 15 %, cli 15 %, fast 15 %, ref 30 %)
with a fresh seed each run (printed; --seed S replays one).

Usage (normally via `make mutate`):
  tools/scripts/mutate.py --base build/mutate/base [--jobs 2] [--max N] [--seed S]
                  [--parts checker,cli] [--files ref/a.c,...] [--quota checker=40,...]
                  [--timeout SEC] [--list]
The base directory must hold a complete `make BUILD=<base> build`.
"""
import argparse
import glob as globmod
import hashlib
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (name, source globs, suites run first, functions not mutated {file: names}).
# A file belongs to the first part whose globs list it.
PARTS = [
    # suites in the order they run: the cheapest that kill most first (seconds in the report)
    ("checker", ["tools/golden/check.c", "tools/golden/check_dir.c", "tools/golden/manifest.c",
                 "tools/golden/sha256.c", "ref/compare.c"],
     ["goldencheck", "compare", "nullargs", "golden", "fastgolden", "goldensel", "checks", "hardening"], {}),
    ("cases", ["tools/golden/case.c", "tools/golden/cases_*.c"], ["casebuilder", "checks", "golden"], {}),
    # (args.c and golden_report.c do not exist on every branch: a glob that matches nothing adds nothing)
    ("cli", ["tools/cli/hkref.c", "tools/cli/cli.c", "tools/cli/args.c", "tools/cli/cmd_golden.c",
             "tools/cli/golden_report.c", "tools/cli/cmd_verify.c", "tools/cli/cmd_gradcheck.c",
             "tools/checks/checks.c"], ["args", "goldencheck", "golden", "goldensel", "checks", "cliux", "cli"],
     {"tools/cli/hkref.c": {"usage"}, "tools/cli/cmd_golden.c": {"usage", "print_case", "cmd_list"}}),
    ("fast", ["tools/fast/fast_encoder.c", "tools/fast/fast_stack.c", "tools/fast/fast_rng.c"],
     ["fast", "fastgolden"], {}),
    ("ref", ["ref/*.c"], None, {}),
]
PART_NAMES = [p[0] for p in PARTS]
DEFAULT_QUOTA = {"checker": 0.25, "cases": 0.15, "cli": 0.15, "fast": 0.15, "ref": 0.30}
# Extra compile flags of a directory (the Makefile's target-specific CFLAGS_OPT).
DIR_FLAGS = {"tools/fast": ["-O3", "-fno-trapping-math"]}


def part_files():
    """{file: part} for every mutated source file, in part order."""
    out = {}
    for name, globs, _, _ in PARTS:
        for g in globs:
            for f in sorted(globmod.glob(os.path.join(ROOT, g))):
                rel = os.path.relpath(f, ROOT)
                out.setdefault(rel, name)
    return out

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


FUNC_RE = re.compile(r"^([A-Za-z_][\w \t\*]*?)\b(\w+)\s*\([^;{]*\)\s*\{", re.M)
SWAPS = {"atol": "rtol", "rtol": "atol", "max_abs": "max_rel", "max_rel": "max_abs",
         "DBL_EPSILON": "FLT_EPSILON", "FLT_EPSILON": "DBL_EPSILON",
         "HK_GOLDEN_F64": "HK_GOLDEN_F32", "HK_GOLDEN_F32": "HK_GOLDEN_F64", "fmax": "fmin", "fmin": "fmax"}
NAN_CALLS = {"isnan": "0", "isinf": "0", "isfinite": "1"}
DEFINE_NUM_RE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+\w+[ \t]+\(?[ \t]*(?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[uUlLfF]*)"
                           r"[ \t]*\)?[ \t]*(?://.*|/\*.*\*/)?$")


def functions(src):
    """[(match start, name, kind, body '{' offset)], kind 'void' | 'ptr' | 'num'."""
    out = []
    for m in FUNC_RE.finditer(src):
        rtype = m.group(1)
        words = set(re.findall(r"\w+", rtype))
        if not words or words <= {"static", "inline", "const"} or m.group(2) in KEYWORDS:
            continue
        kind = "ptr" if "*" in rtype else "void" if "void" in words else "num"
        out.append((m.start(), m.group(2), kind, m.end() - 1))
    return out


def num_mutants(src, path, x, s, e, prev_minus, out):
    """CRP mutants of the number token x at src[s:e]."""
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
        if v != 0.0 and not prev_minus:
            out.append(make(src, path, "CRP", s, e, "(-%s)" % x, "%s -> -%s" % (x, x)))


def matching_paren(toks, i):
    """Index of the ')' matching the '(' at toks[i]."""
    d, j = 0, i
    while j < len(toks):
        d += toks[j].text == "("
        d -= toks[j].text == ")"
        if d == 0:
            return j
        j += 1
    return len(toks) - 1


def char_buffer_size(toks, i):
    """toks[i] is N in a declaration `char name[N]` (a text buffer: its size
    only moves where an over-long message or path is truncated)."""
    if not (i >= 2 and toks[i - 1].text == "[" and toks[i - 2].kind == "id" and i + 1 < len(toks)
            and toks[i + 1].text == "]"):
        return False
    j = i - 2
    while j > 0 and toks[j - 1].text not in (";", "{", "}"):
        j -= 1
    words = []
    while j < i and toks[j].kind == "id" and toks[j].text in ("static", "const", "char", "unsigned"):
        words.append(toks[j].text)
        j += 1
    return "char" in words


def gen_mutants(path):
    src = open(os.path.join(ROOT, path)).read()
    toks = lex(src)
    out = []
    n = len(toks)
    funcs = functions(src)
    fkind_at = []  # (body start, kind) sorted: the function a token is in
    for _, _, kind, body in funcs:
        fkind_at.append((body, kind))

    def kind_at(pos):
        k = None
        for body, kind in fkind_at:
            if body <= pos:
                k = kind
        return k

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
            if char_buffer_size(toks, i):
                continue
            num_mutants(src, path, t.text, s, e, prev is not None and prev.text == "-", out)
        elif t.kind == "id":
            if t.text == "INFINITY" and not (prev is not None and prev.text == "-"):
                out.append(make(src, path, "UOI", s, e, "(-INFINITY)", "INFINITY -> -INFINITY"))
            elif t.text == "fabs" and nxt is not None and nxt.text == "(":
                out.append(make(src, path, "UOI", s, e, "", "fabs(x) -> (x)"))
            elif t.text in NAN_CALLS and nxt is not None and nxt.text == "(":
                j = matching_paren(toks, i + 1)
                out.append(make(src, path, "NAN", s, toks[j].pos + 1, NAN_CALLS[t.text],
                                "%s(x) -> %s" % (t.text, NAN_CALLS[t.text])))
            elif t.text in SWAPS:
                out.append(make(src, path, "SWP", s, e, SWAPS[t.text], "%s -> %s" % (t.text, SWAPS[t.text])))
            elif t.text == "return" and kind_at(s) == "num" and nxt is not None and nxt.text != ";":
                j = i + 1
                while j < n and toks[j].text != ";":
                    j += 1
                expr = src[nxt.pos:toks[j].pos] if j < n else ""
                if expr.strip() not in ("0", "0.0", "HK_OK", "NULL", ""):
                    out.append(make(src, path, "RET", nxt.pos, toks[j].pos, "0",
                                    "return %s -> return 0" % " ".join(expr.split())[:50]))
            elif t.text == "if" and nxt is not None and nxt.text == "(":
                j = matching_paren(toks, i + 1)
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
    # CRP on object-like numeric #defines (thresholds such as HK_GOLDEN_MAX_RTOL).
    for m in re.finditer(r"^[^\n]*$", src, re.M):
        dm = DEFINE_NUM_RE.match(m.group())
        if dm:
            s = m.start() + dm.start("num")
            num_mutants(src, path, dm.group("num"), s, s + len(dm.group("num")), False, out)
    # RET at entry: the function returns at once (success, false, NULL or nothing).
    for _, name, kind, body in funcs:
        if name == "main":
            continue
        repl = " return;" if kind == "void" else " return 0;"
        out.append(make(src, path, "RET", body + 1, body + 1, repl, "%s at entry" % repl.strip()))
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
    seen = {}
    for m in out:
        fn = "?"
        for p, name, _, _ in funcs:
            if p <= m.start:
                fn = name
        base = "%s|%s|%s|%s" % (m.file, fn, m.orig_line.strip().replace("\n", "\\n"),
                                m.mut_line.strip().replace("\n", "\\n"))
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
    ap.add_argument("--seed", type=int, default=None, help="sample seed (default: a fresh random one, printed)")
    ap.add_argument("--quota", default="", help="part=share or part=count,... (shares of --max; default %s)"
                    % ",".join("%s=%g" % kv for kv in DEFAULT_QUOTA.items()))
    ap.add_argument("--timeout", type=float, default=0, help="seconds per test run (0 = 5 x the suite's baseline + 10)")
    ap.add_argument("--parts", default="", help="only these parts (%s)" % ",".join(PART_NAMES))
    ap.add_argument("--files", default="", help="only these files (each keeps its part)")
    ap.add_argument("--equivalent", default="tools/scripts/mutate_equivalent.txt")
    ap.add_argument("--target", type=float, default=95.0)
    ap.add_argument("--target-checker", type=float, default=97.0)
    ap.add_argument("--list", action="store_true", help="only list the mutants")
    ap.add_argument("--keys", default="", help="only the mutants whose key is a line of this file (re-runs)")
    ap.add_argument("--asan-base", default="", help="a SAN=1 build: survivors are re-run under ASan+UBSan, as the gate does")
    ap.add_argument("--asan-cflags", default="")
    ap.add_argument("--asan-ldflags", default="")
    a = ap.parse_args()
    os.chdir(ROOT)

    part_of = part_files()
    files = list(part_of)
    if a.parts:
        want = a.parts.split(",")
        bad = [p for p in want if p not in PART_NAMES]
        if bad:
            sys.exit("mutate.py: unknown part(s) %s (parts: %s)" % (", ".join(bad), ", ".join(PART_NAMES)))
        files = [f for f in files if part_of[f] in want]
    if a.files:
        want = [os.path.normpath(f) for f in a.files.split(",")]
        bad = [f for f in want if f not in part_of]
        if bad:
            sys.exit("mutate.py: %s not in any part (parts cover: %s)"
                     % (", ".join(bad), " ".join(g for _, gl, _, _ in PARTS for g in gl)))
        files = [f for f in files if f in want]
    excluded = {f: ex for _, _, _, exd in PARTS for f, ex in exd.items()}
    allm = []
    for f in files:
        _, ms = gen_mutants(f)
        for m in ms:
            m.part = part_of[f]
        allm.extend(m for m in ms if m.fn not in excluded.get(f, ()))
    if a.keys:
        want = {ln.rstrip("\n") for ln in open(a.keys) if ln.strip()}
        allm = [m for m in allm if m.key in want]
    population = {}
    for m in allm:
        population[m.part] = population.get(m.part, 0) + 1
    total_generated = len(allm)
    if a.list:
        for m in allm:
            print("%s:%d\t%s\t%s\t%s\t%s" % (m.file, m.line, m.part, m.op, m.desc, m.key))
        print("%d mutants: %s" % (len(allm), ", ".join("%s %d" % (p, population[p]) for p in PART_NAMES
                                                      if p in population)))
        return 0
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1, 2 ** 31)
    sample_note = "all %d mutants" % total_generated
    quota_note = ""
    if a.max and a.max < len(allm):
        parts_here = [p for p in PART_NAMES if p in population]
        shares = {p: DEFAULT_QUOTA.get(p, 0.1) for p in parts_here}
        for kv in filter(None, a.quota.split(",")):
            k, _, v = kv.partition("=")
            if k not in shares:
                sys.exit("mutate.py: --quota: no part '%s' in this run" % k)
            shares[k] = float(v)
        counts = {}
        if all(v >= 1 for v in shares.values()) and a.quota:
            counts = {p: int(v) for p, v in shares.items()}
        else:
            tot = sum(shares.values())
            counts = {p: int(a.max * shares[p] / tot) for p in parts_here}
            for p in sorted(parts_here, key=lambda q: -shares[q]):  # hand out the rounding remainder
                if sum(counts.values()) >= a.max:
                    break
                counts[p] += 1
        rnd = random.Random(seed)
        picked = []
        for p in parts_here:
            pool = [m for m in allm if m.part == p]
            picked.extend(rnd.sample(pool, min(counts[p], len(pool))))
        allm = sorted(picked, key=lambda m: (PART_NAMES.index(m.part), m.file, m.start))
        quota_note = ", ".join("%s %d of %d" % (p, min(counts[p], population[p]), population[p]) for p in parts_here)
        sample_note = "a stratified random sample of %d of %d mutants (seed %d: %s)" % (
            len(allm), total_generated, seed, quota_note)

    head_at_start, clean_at_start = git_head(), git_clean()  # the tree the mutants were made from
    eq = load_equivalent(a.equivalent)
    base = os.path.abspath(a.base)
    work = os.path.abspath(a.work)

    def absolute_includes(flags):
        # -I/-iquote paths relative to the repository root work from any scratch directory.
        out, it = [], iter(flags)
        for f in it:
            for opt in ("-I", "-iquote"):
                if f == opt:
                    f, nxt = opt, next(it)
                    out += [opt, nxt if os.path.isabs(nxt) else os.path.join(ROOT, nxt)]
                    break
                if f.startswith(opt) and len(f) > len(opt) and opt == "-I":
                    p = f[2:]
                    out.append("-I" + (p if os.path.isabs(p) else os.path.join(ROOT, p)))
                    break
            else:
                out.append(f)
        return out

    cflags = absolute_includes(shlex.split(a.cflags))
    asan_cflags = absolute_includes(shlex.split(a.asan_cflags))
    libs = shlex.split(a.libs)

    def objs_of(bdir):
        """Every object of the runner except tests/ and hkref.o, as (source, object) pairs."""
        out = []
        for d in ("ref", "tools/golden", "tools/checks", "tools/fast", "tools/cli"):
            for f in sorted(os.listdir(os.path.join(ROOT, d))):
                if f.endswith(".c") and not (d == "tools/cli" and f == "hkref.c"):
                    out.append((os.path.join(d, f), os.path.join(bdir, d, f[:-2] + ".o")))
        return out

    def compile_to(srcpath, text, wdir, obj, flags):
        os.makedirs(os.path.join(wdir, os.path.dirname(srcpath)), exist_ok=True)
        with open(os.path.join(wdir, srcpath), "w") as fh:
            fh.write(text)
        # "x.h" includes resolve next to the original file; the path string
        # (__FILE__) is the one the Makefile compiles with.
        cmd = [a.cc] + flags + ["-g0", "-iquote", os.path.join(ROOT, os.path.dirname(srcpath)),
                                "-c", srcpath, "-o", obj]
        return sh(cmd, cwd=wdir)

    def flags_for(srcpath, asan=False):
        extra = [] if asan else DIR_FLAGS.get(os.path.dirname(srcpath), [])
        return (asan_cflags if asan else cflags) + extra

    pristine = {}
    pw = os.path.join(work, "pristine")
    for f in files:
        obj = os.path.join(pw, f[:-2] + ".o")
        os.makedirs(os.path.dirname(obj), exist_ok=True)
        r = compile_to(f, open(f).read(), pw, obj, flags_for(f))
        if r.returncode:
            sys.exit("mutate.py: pristine %s does not compile:\n%s" % (f, r.stdout.decode()))
        pristine[f] = open(obj, "rb").read()

    def link(wdir, replace_file, obj, bdir=base, extra=()):
        tests = sorted(os.path.join(bdir, "tests", f) for f in os.listdir(os.path.join(bdir, "tests"))
                       if f.endswith(".o"))
        objs = [obj if s == replace_file else o for s, o in objs_of(bdir)]
        exe = os.path.join(wdir, "run_tests")
        r = sh([a.cc, "-o", exe] + list(extra) + tests + objs + libs)
        if r.returncode == 0:
            # Tests that run the CLI find it next to the runner: the mutated hkref.
            main_o = obj if replace_file == "tools/cli/hkref.c" else os.path.join(bdir, "tools", "cli", "hkref.o")
            r = sh([a.cc, "-o", os.path.join(wdir, "hkref")] + list(extra) + [main_o] + objs + libs)
        return exe, r

    def run(exe, timeout, tmpdir, suite=None, skip=""):
        # No fork: one process, so a timeout kills everything the mutant runs
        # (Check's forked children put themselves in their own process group),
        # and a crash ends the run with a non-zero status (= killed).
        env = dict(os.environ, CK_FORK="no", TMPDIR=tmpdir, CK_VERBOSITY="silent",
                   ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                   UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
        if suite:
            env["CK_RUN_SUITE"] = suite
        if skip:
            env["HK_SKIP_SUITES"] = skip
        try:
            r = sh([exe], timeout=timeout, env=env)
            return r.returncode, r.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired:
            return "timeout", ""

    suite_names = sorted(f[5:-2] for f in os.listdir("tests") if f.startswith("test_") and f.endswith(".c"))

    def baseline(exe, wdir, what):
        """Runs every suite alone (unmutated): each must pass; returns {suite: seconds}."""
        times = {}
        for sname in suite_names:
            t1 = time.time()
            rc, outp = run(exe, 1800, wdir, sname)
            times[sname] = time.time() - t1
            if rc != 0:
                sys.exit("mutate.py: the unmutated %s fails suite %s (rc %s); fix the gate first:\n%s"
                         % (what, sname, rc, outp[-3000:]))
        return times

    # Baseline: the unmutated runner must pass, suite by suite; each suite's
    # time sets its timeout (a mutant that loops is killed after 5x + 10 s).
    bw = os.path.join(work, "baseline")
    os.makedirs(bw, exist_ok=True)
    exe, r = link(bw, None, None)
    if r.returncode:
        sys.exit("mutate.py: baseline link failed:\n" + r.stdout.decode())
    tsuite = baseline(exe, bw, "test runner")
    tbase = sum(tsuite.values())
    tasan, asan_lock = {}, threading.Lock()
    if a.asan_base:
        aw = os.path.join(work, "baseline-asan")
        os.makedirs(aw, exist_ok=True)
        aexe, r = link(aw, None, None, os.path.abspath(a.asan_base), shlex.split(a.asan_ldflags))
        if r.returncode:
            sys.exit("mutate.py: ASan baseline link failed:\n" + r.stdout.decode())

    def asan_time(sname):
        """A survivor counts as killed when an ASan+UBSan run of a suite fails, so that
        suite must pass unmutated (else every survivor would be "killed" by a leak or
        error the gate already has): run once, the first time a survivor needs it."""
        with asan_lock:
            if sname not in tasan:
                t1 = time.time()
                rc, outp = run(aexe, 1800, aw, sname)
                if rc != 0:
                    print("mutate.py: the unmutated ASan+UBSan runner fails suite %s (rc %s); fix the gate first:\n%s"
                          % (sname, rc, outp[-3000:]), flush=True)
                    os._exit(2)
                tasan[sname] = time.time() - t1
            return tasan[sname]

    def suite_timeout(t):
        return a.timeout or 5 * t + 10

    timeout = suite_timeout(tbase)
    print("mutate: seed %d; %s; baseline %.1f s over %d suites (slowest: %s), %d jobs"
          % (seed, sample_note, tbase, len(tsuite),
             ", ".join("%s %.1f s" % kv for kv in sorted(tsuite.items(), key=lambda kv: -kv[1])[:3]), a.jobs),
          flush=True)

    srcs = {f: open(f).read() for f in files}
    suites = {f[5:-2]: open(os.path.join("tests", f)).read() for f in os.listdir("tests")
              if f.startswith("test_") and f.endswith(".c")}
    first_suites = {name: fs for name, _, fs, _ in PARTS}

    def suites_for(path):
        fs = first_suites.get(part_of[path])
        if fs is not None:
            return [s for s in fs if s in suites]
        mod = os.path.basename(path)[:-2]
        inc = re.compile(r'#include\s+"(?:[\w./]*/)?%s\.h"' % re.escape(mod))
        return ([mod] if mod in suites else []) + sorted(t for t, txt in suites.items()
                                                          if t != mod and inc.search(txt))

    def one(idx_m):
        idx, m = idx_m
        wdir = os.path.join(work, "m", "%05d" % idx)
        os.makedirs(wdir, exist_ok=True)
        t1 = time.time()
        try:
            st, why = classify(m, wdir)
            return idx, st, why, time.time() - t1
        finally:
            shutil.rmtree(wdir, ignore_errors=True)

    def classify(m, wdir):
        text = srcs[m.file]
        mt = text[:m.start] + m.repl + text[m.end:]
        obj = os.path.join(wdir, "mut.o")
        r = compile_to(m.file, mt, wdir, obj, flags_for(m.file))
        if r.returncode:
            return "stillborn", ""
        if open(obj, "rb").read() == pristine[m.file]:
            return "equivalent-tce", "same object code"
        if m.key in eq:
            return "equivalent", eq[m.key]
        exe, r = link(wdir, m.file, obj)
        if r.returncode:
            return "stillborn", "link"
        # The part's suites first, one by one (or the module's own suite and
        # every suite that includes its header), stopping at the first that
        # fails: most mutants die there in a fraction of the full run; a
        # mutant that passes them all gets every other suite in one run.
        rc, why = 0, ""
        first = suites_for(m.file)
        for suite in first:
            rc, outp = run(exe, suite_timeout(tsuite.get(suite, tbase)), wdir, suite)
            if rc != 0:
                why = "suite %s" % suite
                break
        if rc == 0:
            rest = [x for x in suite_names if x not in first]
            rc, outp = run(exe, suite_timeout(sum(tsuite.get(x, 0) for x in rest)), wdir, None,
                           skip=",".join(first))
            why = "other suites"
        if rc == "timeout":
            return "killed", "timeout (%s)" % why
        if rc == 0 and a.asan_base and first:
            # The gate also runs every suite under ASan+UBSan: a mutant that
            # reads or writes out of bounds, leaks or hits UB is killed there.
            # Re-run on the part's suites (the code they exercise directly;
            # running all suites under ASan for every survivor would double a
            # sample's time for the rare kill it adds elsewhere).
            aobj = os.path.join(wdir, "mut_asan.o")
            r = compile_to(m.file, mt, wdir, aobj, flags_for(m.file, asan=True))
            if r.returncode == 0:
                exe, r = link(wdir, m.file, aobj, os.path.abspath(a.asan_base), shlex.split(a.asan_ldflags))
                if r.returncode == 0:
                    for suite in first:
                        rc2, _ = run(exe, 2 * suite_timeout(asan_time(suite)), wdir, suite)
                        if rc2 != 0:
                            return "killed", ("asan" if rc2 != "timeout" else "asan-timeout") + " (suite %s)" % suite
        return ("killed" if rc != 0 else "survived"), why

    t0 = time.time()
    results, seconds = {}, {}
    done = 0
    os.makedirs(work, exist_ok=True)
    # Every mutant's outcome, written as it comes (a long campaign can be watched).
    tsv = open(os.path.join(work, "results-seed%d.tsv" % seed), "w")
    with ThreadPoolExecutor(max_workers=a.jobs) as ex:
        for idx, status, why, secs in ex.map(one, list(enumerate(allm))):
            results[idx] = (status, why)
            seconds[idx] = secs
            m = allm[idx]
            tsv.write("%s\t%s:%d\t%s\t%s\t%s\t%.1f\t%s\n" % (m.part, m.file, m.line, m.op, status, why, secs, m.key))
            tsv.flush()
            done += 1
            if done % 25 == 0:
                print("mutate: %d/%d done (%.0f s)" % (done, len(allm), time.time() - t0), flush=True)
    elapsed = time.time() - t0

    def tally(idxs):
        d = {}
        for i in idxs:
            st = results[i][0]
            d[st] = d.get(st, 0) + 1
        return d

    def score_of(d):
        k, s = d.get("killed", 0), d.get("survived", 0)
        return (100.0 * k / (k + s) if k + s else 100.0), k, s

    counts = tally(range(len(allm)))
    score, killed, survived = score_of(counts)
    by_asan = sum(1 for st, why in results.values() if st == "killed" and why.startswith("asan"))
    eq_tce, eq_arg = counts.get("equivalent-tce", 0), counts.get("equivalent", 0)
    eq_alloc = sum(1 for st, why in results.values() if st == "equivalent" and why.startswith("Allocation failure only"))
    still = counts.get("stillborn", 0)
    used_keys = {m.key for m in allm}
    stale = [k for k in eq if k not in used_keys] if not a.max and not a.parts and not a.files else []

    per_part = {}
    for p in PART_NAMES:
        idxs = [i for i, m in enumerate(allm) if m.part == p]
        if idxs:
            per_part[p] = (idxs, tally(idxs))
    # Population-weighted estimate: each part's score weighted by its share of all mutants.
    wsum = sum(population[p] for p in per_part)
    weighted = sum(score_of(per_part[p][1])[0] * population[p] for p in per_part) / wsum if wsum else 100.0

    lines = []
    lines.append("hkref mutation report: %s" % sample_note)
    lines.append("commit %s%s" % (head_at_start, "" if os.environ.get("HK_MUTATE_COMMIT") or clean_at_start
                                   else " (with uncommitted changes)"))
    lines.append("seed %d (replay: make mutate MUTATE_MAX=%d MUTATE_SEED=%d%s)" % (
        seed, a.max, seed, (" MUTATE_PARTS=" + a.parts) if a.parts else ""))
    lines.append("runtime %.0f s on %d jobs, %.1f s per mutant (baseline: every suite %.1f s; per-suite timeout 5x + 10 s)"
                 % (elapsed, a.jobs, elapsed / max(1, len(allm)), tbase))
    lines.append("survivors re-run under ASan+UBSan on the part's suites: %s" % ("yes" if a.asan_base else "no"))
    lines.append("killed %d (%d of them only under ASan+UBSan), survived %d, equivalent %d (%d same object code, "
                 "%d argued in %s, of which %d reachable only on allocation failure), stillborn %d"
                 % (killed, by_asan, survived, eq_tce + eq_arg, eq_tce, eq_arg, a.equivalent, eq_alloc, still))
    if eq_alloc:
        lines.append("  (counting the allocation-failure mutants as survivors instead: %d / %d = %.1f %%)"
                     % (killed, killed + survived + eq_alloc, 100.0 * killed / (killed + survived + eq_alloc)))
    lines.append("MUTATION SCORE: %d / %d = %.1f %% of non-equivalent mutants killed (target %.0f %%; "
                 "population-weighted %.1f %%)" % (killed, killed + survived, score, a.target, weighted))
    lines.append("")
    lines.append("  %-8s %9s %7s %8s %6s %6s %9s  %s" % ("part", "mutants", "killed", "survived", "equiv",
                                                        "still", "score", "(population)"))
    verdict_ok = score >= a.target
    for p, (idxs, d) in per_part.items():
        sc, k, s = score_of(d)
        tgt = a.target_checker if p == "checker" else None
        if tgt is not None and sc < tgt:
            verdict_ok = False
        lines.append("  %-8s %9d %7d %8d %6d %6d %8.1f%%  (%d)%s" % (
            p, len(idxs), k, s, d.get("equivalent", 0) + d.get("equivalent-tce", 0), d.get("stillborn", 0), sc,
            population[p], "  target %.0f %%" % tgt if tgt is not None else ""))
    lines.append("")
    per_file = {}
    for idx, m in enumerate(allm):
        per_file.setdefault(m.file, []).append(idx)
    for f in sorted(per_file, key=lambda f: (PART_NAMES.index(part_of[f]), f)):
        d = tally(per_file[f])
        sc, k, s = score_of(d)
        lines.append("  %-8s %-30s killed %4d survived %3d equivalent %3d stillborn %3d  (%.1f %%)"
                     % (part_of[f], f, k, s, d.get("equivalent", 0) + d.get("equivalent-tce", 0),
                        d.get("stillborn", 0), sc))
    lines.append("")
    lines.append("surviving mutants (part file:line [function] operator: mutation):")
    for idx, m in enumerate(allm):
        if results[idx][0] == "survived":
            lines.append("  %s %s:%d [%s] %s: %s\n      - %s\n      + %s" % (
                m.part, m.file, m.line, m.fn, m.op, m.desc, m.orig_line.strip(), m.mut_line.strip()))
            lines.append("      key: %s" % m.key)
    if stale:
        lines.append("")
        lines.append("stale entries in %s (no such mutant any more):" % a.equivalent)
        for k in stale:
            lines.append("  " + k)
    rep = "\n".join(lines) + "\n"
    os.makedirs(work, exist_ok=True)
    for name in ("report.txt", "report-seed%d.txt" % seed):
        with open(os.path.join(work, name), "w") as fh:
            fh.write(rep)
    tsv.close()
    sys.stdout.write(rep)
    print("(report in %s)" % os.path.join(os.path.relpath(work, ROOT), "report-seed%d.txt" % seed))
    return 0 if verdict_ok else 1


def git_head():
    if os.environ.get("HK_MUTATE_COMMIT"):  # a snapshot of a commit (git archive) names it here
        return os.environ["HK_MUTATE_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip() or "?"
    except OSError:
        return "?"


def git_clean():
    try:
        r = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True)
        return r.returncode == 0 and not r.stdout.strip()
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
