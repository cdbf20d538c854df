"""pytest plugin: one test item per golden case and dtype.

Enable it in your conftest.py (`pytest_plugins = ["hkharness.pytest_plugin"]`, with
examples/ on sys.path) or with `pytest -p hkharness.pytest_plugin`; then any test that
takes the `hk_case` argument is parametrized over every case of the golden directory:

    def test_golden(hk_case):
        hk_case.check(my_backend)        # a hkharness.Backend

Item ids are "<dtype>-<case name>" (`-k dropkey`, `-k "f32 and lora"`, `-x` as usual).
A case of an op the backend does not implement is skipped with the reason; a failing
case fails with the checker's report (tensor lines, first failing elements, __REPRO).

Options: --hk-golden DIR (default golden, or $HK_GOLDEN: the committed set or a directory
of on-demand cases), --hk-dtype f64,f32, --hk-hkref PATH (default $HKREF or build/hkref),
--hk-out DIR (where the backend's files go; default a temporary directory, removed at exit),
--hk-partial (the golden directory holds only some of the registered cases on purpose: the
checker's --partial, reported as partial, never as a full pass).
"""
import os
import shutil
import tempfile

import pytest

import hkharness as hk


def pytest_addoption(parser):
    g = parser.getgroup("hkref", "hkref golden cases")
    g.addoption("--hk-golden", default=os.environ.get("HK_GOLDEN", "golden"),
                help="directory of <op>/<case>.safetensors (default: golden, or $HK_GOLDEN)")
    g.addoption("--hk-dtype", default="f64,f32", help="dtypes to check, comma-separated (default f64,f32)")
    g.addoption("--hk-hkref", default=None, help="the hkref binary (default: $HKREF or build/hkref)")
    g.addoption("--hk-out", default=None, help="directory for the backend's output files (default: a temp dir)")
    g.addoption("--hk-partial", action="store_true",
                help="the golden directory is deliberately partial (hkref golden check --partial)")


def pytest_configure(config):
    out = config.getoption("--hk-out")
    config._hk_tmp = None
    if out is None:
        out = config._hk_tmp = tempfile.mkdtemp(prefix="hkharness-")
    config._hk_out = out


def pytest_unconfigure(config):
    if getattr(config, "_hk_tmp", None):
        shutil.rmtree(config._hk_tmp, ignore_errors=True)


class CaseRun:
    """One golden case in one dtype; check(backend) is the whole test.

    The selected items of one test function and dtype form a group: the first of them to
    run computes every case of the group its backend implements and runs the checker once
    (one process instead of one per case); each item then reports its own case's result."""

    def __init__(self, case, dtype, config):
        self.case, self.dtype = case, dtype
        self.golden = config.getoption("--hk-golden")
        self.hkref = config.getoption("--hk-hkref")
        self.partial = config.getoption("--hk-partial")
        self.outdir = os.path.join(config._hk_out, dtype)
        self.group = None

    def check(self, backend):
        if not backend.implements(self.case.op):
            pytest.skip(f"{backend.name} does not implement op '{self.case.op}'")
        group = self.group or _Group([self])
        kind, payload = group.result(backend, self)
        if kind == "error":
            raise payload
        if kind == "fail":
            pytest.fail(f"{self.case.rel} ({self.dtype}) fails the golden check:\n{payload}", pytrace=False)
        if kind != "pass":
            pytest.fail(payload, pytrace=False)

    def __repr__(self):
        return f"{self.dtype}-{self.case.name}"


class _Group:
    def __init__(self, runs):
        self.runs, self.results = runs, {}

    def result(self, backend, run):
        key = id(backend)
        if key not in self.results:
            self.results[key] = self._compute(backend)
        return self.results[key][run.case.name]

    def _compute(self, backend):
        res, ok = {}, []
        first = self.runs[0]
        for r in self.runs:
            if not backend.implements(r.case.op):
                continue
            try:
                backend.write(r.case, r.dtype, first.outdir)
                ok.append(r.case)
            except Exception as e:  # reported by that case's item only
                res[r.case.name] = ("error", e)
        if not ok:
            return res
        runs = backend.check(first.golden, first.outdir, first.dtype, first.hkref, ops=sorted({c.op for c in ok}),
                             cases=[c.name for c in ok], args=("-q",) + (("--partial",) if first.partial else ()),
                             json_report=True)
        for run in runs:
            records = run.cases()
            for c in ok:
                if c.op not in run.ops:
                    continue
                rec = records.get(c.name)
                if run.returncode not in (0, 1) or rec is None:
                    res[c.name] = ("checker", f"hkref golden check could not run (exit {run.returncode}): "
                                              f"{' '.join(run.cmd)}\n{run.stderr}{run.stdout}")
                elif rec["status"] == "pass":
                    res[c.name] = ("pass", None)
                else:
                    res[c.name] = ("fail", hk.failure_text(rec))
        return res


def pytest_collection_modifyitems(session, config, items):
    groups = {}
    for it in items:
        run = getattr(getattr(it, "callspec", None), "params", {}).get("hk_case")
        if isinstance(run, CaseRun):
            groups.setdefault((it.module.__name__ if it.module else "", it.originalname, run.dtype), []).append(run)
    for runs in groups.values():
        g = _Group(runs)
        for r in runs:
            r.group = g


def pytest_generate_tests(metafunc):
    if "hk_case" not in metafunc.fixturenames:
        return
    config = metafunc.config
    golden = config.getoption("--hk-golden")
    dtypes = [d for d in config.getoption("--hk-dtype").split(",") if d]
    for d in dtypes:
        if d not in hk.Backend.DTYPES:
            raise pytest.UsageError(f"--hk-dtype: '{d}' is not f64 or f32")
    try:
        cases = hk.list_cases(golden)
    except FileNotFoundError as e:
        raise pytest.UsageError(f"--hk-golden: {e}")
    runs = [CaseRun(c, d, config) for d in dtypes for c in cases]
    metafunc.parametrize("hk_case", runs, ids=[repr(r) for r in runs])
