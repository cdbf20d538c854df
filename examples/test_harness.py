"""The harness and its pytest plugin tested as a user meets them (in-process pytest runs, pytester):
a wrong backend fails exactly the items of the cases it gets wrong, unimplemented ops are skipped with
a reason, an exception in one case errors that item only, any directory of cases can be gated, and the
gradient-set rule matches the checker's.  Expected outcomes are derived from the cases' definitions
(golden/README.md), not from a previous run."""
import glob
import os
import shutil
import subprocess

import numpy as np
import pytest

import hkharness as hk

pytest_plugins = ["pytester"]
GOLDEN = os.path.abspath(os.environ.get("HK_GOLDEN", "golden"))
HKREF = os.path.abspath(hk.hkref_path())


def run(pytester, body, *args, golden=GOLDEN):
    """pytest in-process on a user's test file, the plugin enabled with -p as a user may."""
    pytester.makepyfile(test_user=body)
    return pytester.runpytest_inprocess("-p", "hkharness.pytest_plugin", f"--hk-golden={golden}",
                                        f"--hk-hkref={HKREF}", "-p", "no:cacheprovider",
                                        "-W", "ignore::pytest.PytestAssertRewriteWarning", *args)


def test_wrong_backend_fails_exactly_its_cases(pytester):
    # LoRA scaled by alpha instead of alpha / r: wrong for r > 1; the r = 1 case cannot see it
    # (alpha / 1 = alpha).  golden/lora/ has 4 standard cases (and the rsLoRA one, left out here), one with
    # r = 1: 3 fail and 1 passes, per dtype.
    r = run(pytester, "import torch_backend\nBUG = torch_backend.backend('lora_scale_alpha')\n"
                      "def test_bug(hk_case):\n    hk_case.check(BUG)\n", "-k", "(lora_p or lora_r) and not rslora")
    r.assert_outcomes(failed=6, passed=2)
    out = r.stdout.str()
    assert "__REPRO: hkref golden check" in out and "test_bug[f64-lora_r1_n1_5to3] PASSED" not in out
    assert out.count("fails the golden check") == 6


def test_unimplemented_ops_are_skipped_with_the_reason(pytester):
    r = run(pytester, "import mini_backend\ndef test_mini(hk_case):\n    hk_case.check(mini_backend.backend)\n",
            "-k", "attention_lora_kv or softmax_3x7", "-rs")
    # softmax_3x7 in f64 and f32 pass; the attention case and logsoftmax_3x7 (-k matches it too) are skipped
    r.assert_outcomes(passed=2, skipped=4)
    assert "mini_backend.py does not implement op 'attention'" in r.stdout.str()


def test_an_exception_errors_that_item_only(pytester):
    body = ("import hkharness as hk, numpy as np\n"
            "be = hk.Backend('flaky', framework='numpy')\n"
            "@be.op('softmax', grads='none')\n"
            "def softmax(t, cfg):\n"
            "    if t['x'].shape[0] == 5:\n"
            "        raise RuntimeError('backend crashed on this shape')\n"
            "    e = np.exp(t['x'] - t['x'].max(-1, keepdims=True))\n"
            "    return {'y': e / e.sum(-1, keepdims=True)}\n"
            "def test_flaky(hk_case):\n    hk_case.check(be)\n")
    r = run(pytester, body, "-k", "softmax", "--hk-dtype", "f64")
    # golden/softmax/: one case with N = 5 rows (softmax_large_logits_ties_5x6), the others pass; -k softmax
    # also selects the logsoftmax cases, not implemented
    n_soft = len(glob.glob(os.path.join(GOLDEN, "softmax", "*.safetensors")))
    n_log = len(glob.glob(os.path.join(GOLDEN, "logsoftmax", "*.safetensors")))
    r.assert_outcomes(passed=n_soft - 1, failed=1, skipped=n_log)
    assert "backend crashed on this shape" in r.stdout.str()


def test_any_directory_of_cases(pytester, tmp_path):
    # a directory of cases made by `hkref golden generate` (with its own MANIFEST): one case
    # of the registry, so the checker needs --partial (a copied file without a manifest is refused)
    subprocess.run([HKREF, "golden", "generate", str(tmp_path / "cases"), "--case", "softmax_3x7"], check=True,
                   capture_output=True)
    body = "import mini_backend\ndef test_mini(hk_case):\n    hk_case.check(mini_backend.backend)\n"
    r = run(pytester, body, "--hk-dtype", "f32", golden=str(tmp_path / "cases"))
    r.assert_outcomes(failed=1)  # refused as incomplete without --hk-partial
    r = run(pytester, body, "--hk-dtype", "f32", "--hk-partial", golden=str(tmp_path / "cases"))
    r.assert_outcomes(passed=1)
    r = run(pytester, "def test_x(hk_case):\n    pass\n", golden=str(tmp_path / "nowhere"))
    assert r.ret != 0 and "--hk-golden: golden directory" in r.stdout.str()


def test_gradient_sets_match_the_checker():
    arrays, _ = hk.st_read(os.path.join(GOLDEN, "attention", "attention_lora_kv_2x5_c8_nh2.safetensors"))
    grads = sorted(g for g in arrays if g.startswith("grad."))
    sel = {s: [g for g in grads if hk.grad_selected(arrays, g, s)] for s in
           ("lora", "inputs", "frozen", "params", "none", "all", "W_*", "lora,inputs")}
    # golden/README.md, attention with LoRA on k, v: grad.x; grad.W_q..W_o, b_q, b_v, b_o; lora_A/B_k, _v
    assert sel["lora"] == ["grad.lora_A_k", "grad.lora_A_v", "grad.lora_B_k", "grad.lora_B_v"]
    assert sel["inputs"] == ["grad.x"]
    assert sel["frozen"] == ["grad.W_k", "grad.W_o", "grad.W_q", "grad.W_v", "grad.b_o", "grad.b_q", "grad.b_v"]
    assert sel["params"] == sorted(sel["lora"] + sel["frozen"])
    assert sel["none"] == [] and sel["all"] == grads
    assert sel["W_*"] == ["grad.W_k", "grad.W_o", "grad.W_q", "grad.W_v"]
    assert sel["lora,inputs"] == sorted(sel["lora"] + ["grad.x"])


def test_the_reader_round_trips_every_dtype(tmp_path):
    t = {"a": np.arange(6, dtype=np.float64).reshape(2, 3) / 7, "b": np.float32(2.5) * np.ones(()),
         "m": np.array([1, 0, 1], np.uint8), "i": np.array([-3, 2**40], np.int64), "k": np.array([True, False])}
    p = tmp_path / "x.safetensors"
    hk.st_write(str(p), t, {"k": "v"})
    back, meta = hk.st_read(str(p))
    assert meta == {"k": "v"} and set(back) == set(t)
    for k, v in t.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape and (back[k] == v).all()


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__]))
