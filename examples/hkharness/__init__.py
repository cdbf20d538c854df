"""hkharness: gate a Python backend (PyTorch or numpy) on hkref's golden cases.

Nothing to install beyond Debian's python3-numpy (python3-torch for autograd,
python3-pytest for the plugin): put examples/ on sys.path and

    import hkharness as hk
    be = hk.Backend("mybackend")                     # framework="torch" (autograd) or "numpy"

    @be.op("softmax")                                # one function per op you implement
    def softmax(t, cfg):                             # t: the case's tensors, cfg: its config
        return {"y": torch.softmax(t["x"], -1)}      # outputs by name; gradients by autograd

    be.gate("golden", "build/mine", ["f64", "f32"])  # write every case of those ops, run the checker

A case's tensors reach the op function as a dict: `in.<x>` and `param.<w>` under
their short names ("x", "weight", "d_y" for the upstream gradient `in.d_y`),
masks under their full name ("mask.att", bool, True = dropped), as torch
tensors (float ones requiring grad, in the run's dtype) or numpy arrays.  The
function returns {"y": ...} for `out.y`, and optionally {"grad.x": ...} to
supply gradients itself (numpy backends must; torch backends may).  The
harness runs L = sum over outputs of <out.y, in.d_y> backward through autograd
otherwise, and writes `<outdir>/<case>.safetensors` for `hkref golden check`.

An op registered with grads="none" is checked forward-only; grads="lora"
(or any `hkref golden check --grads` set) checks only those gradients.  Ops
the backend does not register are not selected (gate) or skipped with a reason
(pytest).  The golden directory may be the committed golden/ or any directory
of <op>/<case>.safetensors (on-demand cases).  docs/backends.md has the rest.

This module is also the one safetensors reader/writer of the examples
(st_read, st_write) and the one loop over cases (Backend.run).
"""
import contextlib
import fnmatch
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

__all__ = ["Backend", "Case", "CheckRun", "list_cases", "st_read", "st_write", "grad_selected", "hkref_path",
           "failure_text"]

# ---------------------------------------------------------------- safetensors

_DT = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1", "I8": "i1", "BOOL": "?"}


def st_read(path):
    """Returns (tensors: dict name -> np.ndarray, metadata: dict)."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", buf[:8])
    if 8 + n > len(buf):
        raise ValueError(f"{path}: header length {n} exceeds the file")
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    data = memoryview(buf)[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for name, e in header.items():
        if e["dtype"] not in _DT:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {e['dtype']}")
        b, end = e["data_offsets"]
        arr = np.frombuffer(data[b:end], dtype=_DT[e["dtype"]]).reshape(e["shape"])
        out[name] = arr.copy()
    return out, meta


def st_write(path, tensors, meta=None):
    """Writes tensors (name -> np.ndarray) atomically (temp file + rename)."""
    rev = {np.dtype(v).str: k for k, v in _DT.items()}  # "<f8" -> F64, "|u1" -> U8, "|b1" -> BOOL
    items = sorted(tensors.items(), key=lambda kv: (-kv[1].dtype.itemsize, kv[0]))
    header, blobs, off = {}, [], 0
    if meta:
        header["__metadata__"] = dict(meta)
    for name, a in items:
        a = np.array(a, order="C")  # (ascontiguousarray would turn a 0-d scalar into shape (1,))
        key = a.dtype.str if a.dtype.str in rev else a.dtype.newbyteorder("<").str
        raw = a.astype(key).tobytes()
        header[name] = {"dtype": rev[key], "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    d = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# ---------------------------------------------------------------- cases

class Case:
    """One golden file <golden>/<op>/<name>.safetensors."""

    def __init__(self, golden, op, name):
        self.golden, self.op, self.name = golden, op, name
        self.rel = f"{op}/{name}.safetensors"
        self.path = os.path.join(golden, op, name + ".safetensors")

    def load(self):
        """(arrays, metadata, config) of the golden file."""
        arrays, meta = st_read(self.path)
        if meta.get("op") not in (None, self.op):
            raise ValueError(f"{self.path}: metadata op '{meta.get('op')}' is not its directory '{self.op}'")
        return arrays, meta, json.loads(meta.get("config", "{}"))

    def __repr__(self):
        return f"Case({self.rel})"


def list_cases(golden):
    """Every <golden>/<op>/<case>.safetensors, sorted by "<op>/<case>" as the checker lists them."""
    if not os.path.isdir(golden):
        raise FileNotFoundError(f"golden directory '{golden}' not found")
    cases = []
    for op in os.listdir(golden):
        d = os.path.join(golden, op)
        if op.startswith(".") or not os.path.isdir(d):
            continue
        for f in os.listdir(d):
            if f.endswith(".safetensors") and len(f) > len(".safetensors"):
                cases.append(Case(golden, op, f[:-len(".safetensors")]))
    cases.sort(key=lambda c: c.rel)
    if not cases:
        raise FileNotFoundError(f"no <op>/<case>.safetensors files under '{golden}'")
    return cases


def grad_selected(arrays, grad, grads):
    """Whether grad.* tensor `grad` of a golden case is in the gradient set `grads` (the rule of
    `hkref golden check --grads`: all | none | inputs | params | lora | frozen | a glob over the
    name after "grad.", comma-separated union).  The checker is the judge: a tensor this leaves
    out that the checker wants is reported missing."""
    if grads in (None, "all"):
        return True
    x = grad[len("grad."):]
    is_in, is_par, lora = ("in." + x) in arrays, ("param." + x) in arrays, "lora_" in x
    for tok in grads.split(","):
        if tok == "all" or (tok == "inputs" and is_in) or (tok == "params" and is_par) \
                or (tok == "lora" and is_par and lora) or (tok == "frozen" and is_par and not lora):
            return True
        if tok not in ("all", "none", "inputs", "params", "lora", "frozen") and fnmatch.fnmatchcase(x, tok):
            return True
    return False


def hkref_path(path=None):
    """The hkref binary: path, else $HKREF, else build/hkref."""
    return path or os.environ.get("HKREF") or os.path.join("build", "hkref")


class CheckRun:
    """One `hkref golden check` run: returncode (0 pass, 1 failed, 2 usage / bad golden set),
    stdout, stderr, and with json=True the report (schema hkref-golden-check/2) as a dict."""

    def __init__(self, cmd, proc, report=None, ops=()):
        self.cmd, self.returncode, self.stdout, self.stderr = cmd, proc.returncode, proc.stdout, proc.stderr
        self.report, self.ops = report, list(ops)

    def __bool__(self):
        return self.returncode == 0

    def cases(self):
        """{case name: its JSON record} (json=True runs)."""
        return {c["case"]: c for c in (self.report or {}).get("cases", [])}


def failure_text(record):
    """The failure of one case record of the JSON report, as the checker's text shows it."""
    lines = [f"FAILED {record['case']} ({record['file']})"]
    if record.get("problem"):
        lines.append("  " + record["problem"])
    lines += ["  " + f for f in record.get("failures", [])]
    if record.get("first_failing_elements"):
        lines.append("  first failing elements:")
        lines += ["    " + e for e in record["first_failing_elements"]]
    if record.get("repro"):
        lines.append("__REPRO: " + record["repro"])
    return "\n".join(lines)


# ---------------------------------------------------------------- backends

class Backend:
    """A backend: one function per implemented op, f(t, cfg) -> {"y": out.y, ...[, "grad.x": ...]}.

    framework "torch": tensors are torch tensors, gradients by autograd unless supplied;
    framework "numpy": numpy arrays, gradients must be supplied (or the op registered grads="none").
    writer=False computes without writing (the ranks > 0 of a distributed backend)."""

    DTYPES = ("f64", "f32", "bf16", "f16", "tf32")
    # The torch dtype the op runs in, and the numpy dtype written (bf16 / f16 values widen to F32 exactly; the
    # checker's bf16 / f16 tiers accept F32).  tf32: f32 tensors; the backend rounds its matmul operands.
    _TORCH = {"f64": "float64", "f32": "float32", "bf16": "bfloat16", "f16": "float16", "tf32": "float32"}

    def __init__(self, name, framework="torch", writer=True):
        if framework not in ("torch", "numpy"):
            raise ValueError(f"framework must be 'torch' or 'numpy' (got '{framework}')")
        self.name, self.framework, self.writer = name, framework, writer
        self.ops = {}
        # context(dtype) -> a context manager entered around each case's forward and backward (e.g. an
        # emulated low-precision storage mode), or None
        self.context = None

    def op(self, name, grads="all"):
        """Decorator: registers f as op `name`; grads: which grad.* it is checked on (--grads)."""
        def reg(f):
            self.register(name, f, grads)
            return f
        return reg

    def register(self, name, fn, grads="all"):
        self.ops[name] = (fn, grads or "all")

    def implements(self, op):
        return op in self.ops

    def grads_of(self, op):
        return self.ops[op][1]

    # -- one case
    def _inputs(self, arrays, dtype):
        """(t, leaves): the op function's tensor dict, and the float leaves by short name."""
        t, leaves = {}, {}
        if self.framework == "torch":
            import torch
            tdt = getattr(torch, self._TORCH[dtype])
        npdt = np.float64 if dtype == "f64" else np.float32
        for name, a in arrays.items():
            role, _, short = name.partition(".")
            if role == "mask":
                m = a.astype(np.bool_)
                t[name] = torch.tensor(m) if self.framework == "torch" else m
            elif role in ("in", "param"):
                if self.framework == "numpy":
                    t[short] = a.astype(npdt) if a.dtype.kind == "f" else a
                elif a.dtype.kind == "f":
                    v = torch.tensor(a, dtype=tdt)
                    if not short.startswith("d_"):
                        v.requires_grad_(True)
                        leaves[short] = v
                    t[short] = v
                else:
                    t[short] = torch.tensor(a)
        return t, leaves

    def compute(self, case, dtype, want=None):
        """Runs op `case.op` on the case's inputs in dtype ("f64" / "f32"); returns the dict of
        out.* and grad.* arrays to write (the grad.* of the golden file that the op's set selects,
        or the names in `want`: for a file of inputs only)."""
        if dtype not in self.DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(self.DTYPES)} (got '{dtype}')")
        fn, grads = self.ops[case.op]
        arrays, _, cfg = case.load()
        t, leaves = self._inputs(arrays, dtype)
        with self.context(dtype) if self.context else contextlib.nullcontext():
            return self._compute(case, fn, grads, arrays, cfg, t, leaves, dtype, want)

    def _compute(self, case, fn, grads, arrays, cfg, t, leaves, dtype, want):
        res = fn(t, cfg)
        if not isinstance(res, dict):
            raise TypeError(f"{self.name}: op '{case.op}' returned {type(res).__name__}, expected a dict")
        outs = {("out." + k if not k.startswith(("out.", "grad.")) else k): v for k, v in res.items()}
        supplied = {k: v for k, v in outs.items() if k.startswith("grad.")}
        outs = {k: v for k, v in outs.items() if k.startswith("out.")}
        wanted = want if want is not None else \
            [g for g in arrays if g.startswith("grad.") and grad_selected(arrays, g, grads)]
        npdt = np.float64 if dtype == "f64" else np.float32
        written = {}
        if wanted and not supplied and self.framework == "torch":
            supplied = self._autograd(outs, t, leaves, wanted)
        for k, v in list(outs.items()) + [(g, supplied[g]) for g in wanted if g in supplied]:
            a = _to_numpy(v)
            written[k] = a.astype(npdt) if a.dtype.kind == "f" else a
        return written

    @staticmethod
    def _autograd(outs, t, leaves, wanted):
        """Back-propagates L = sum_y <out.y, in.d_y>; returns {grad.x: dL/dx} for the wanted names."""
        import torch
        loss = None
        for k, y in outs.items():
            d = t.get("d_" + k[len("out."):])
            if d is not None and getattr(y, "requires_grad", False):
                term = (y * d).sum()
                loss = term if loss is None else loss + term
        if loss is not None:
            loss.backward()
        grads = {}
        for g in wanted:
            v = leaves.get(g[len("grad."):])
            if v is not None:  # an input the loss does not reach has gradient 0
                grads[g] = v.grad if v.grad is not None else torch.zeros_like(v)
        return grads

    def write(self, case, dtype, outdir):
        """Computes one case and writes outdir/<case>.safetensors (only when self.writer)."""
        res = self.compute(case, dtype)
        if self.writer:
            os.makedirs(outdir, exist_ok=True)
            st_write(os.path.join(outdir, case.name + ".safetensors"), res, {"backend": self.name, "dtype": dtype})
        return res

    # -- a directory of cases
    def select(self, golden, cases=None, ops=None):
        """(the golden cases of the implemented ops [in ops] [whose name is in cases], {op: n} of the others)."""
        mine, others = [], {}
        for c in list_cases(golden):
            if cases is not None and c.name not in cases:
                continue
            if self.implements(c.op) and (ops is None or c.op in ops):
                mine.append(c)
            else:
                others[c.op] = others.get(c.op, 0) + 1
        return mine, others

    def run(self, golden, outdir, dtype, cases=None, ops=None):
        """The one loop: writes every selected case of the implemented ops; returns the cases run."""
        mine, _ = self.select(golden, cases, ops)
        for c in mine:
            self.write(c, dtype, outdir)
        return mine

    def check(self, golden, outdir, dtype, hkref=None, ops=None, cases=None, args=(), capture=True, json_report=False):
        """Runs `hkref golden check` on outdir for the implemented ops (or `ops`), one run per
        distinct gradient set; returns the list of CheckRun (all pass: every returncode 0).
        json_report=True: each run's --json report parsed into CheckRun.report."""
        groups = {}
        for op in (ops if ops is not None else sorted(self.ops)):
            groups.setdefault(self.grads_of(op), []).append(op)
        runs = []
        for grads, group in sorted(groups.items()):
            cmd = [hkref_path(hkref), "golden", "check", "--outputs", outdir, "--golden", golden, "--dtype", dtype]
            for op in group:
                cmd += ["--op", op]
            for c in cases or ():
                cmd += ["--case", c]
            if grads != "all":
                cmd += ["--grads", grads]
            cmd += list(args)
            report = None
            with tempfile.TemporaryDirectory(prefix="hkharness-") as tmp:
                jpath = os.path.join(tmp, "check.json")
                proc = subprocess.run(cmd + (["--json", jpath] if json_report else []), capture_output=capture,
                                      text=True)
                if json_report and os.path.exists(jpath):
                    with open(jpath) as f:
                        report = json.load(f)
            runs.append(CheckRun(cmd, proc, report, group))
        return runs

    def gate(self, golden, outdir, dtypes=("f64", "f32"), hkref=None, args=("-q",), out=sys.stdout):
        """Writes and checks every case of the implemented ops in each dtype (outdir/<dtype>/);
        prints the checker's report; returns the exit status (0 pass, else the checker's worst)."""
        mine, others = self.select(golden)
        if not mine:
            print(f"{self.name}: no golden case under '{golden}' is of an op it implements", file=out)
            return 1
        present = sorted({c.op for c in mine})
        rc = 0
        for dt in dtypes:
            d = os.path.join(outdir, dt)
            self.run(golden, d, dt)
            if not self.writer:
                continue
            for r in self.check(golden, d, dt, hkref, ops=present, args=args):
                out.write(r.stdout)
                out.write(r.stderr)
                rc = max(rc, r.returncode)
        if others and self.writer:
            print(f"{self.name}: not implemented (not checked): "
                  + ", ".join(f"{op} ({n})" for op, n in sorted(others.items())), file=out)
        return rc


def _to_numpy(v):
    if hasattr(v, "detach"):
        v = v.detach().cpu()
        if str(v.dtype) in ("torch.bfloat16", "torch.float16"):
            v = v.float()  # numpy has no bfloat16: widened exactly
        v = v.numpy()
    return np.asarray(v)
