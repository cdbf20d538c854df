#!/usr/bin/python3
"""A minimal hkref backend: two ops in numpy, gated in ~30 lines (docs/backends.md).
softmax with a hand-written gradient; dropkey forward only.  Every other op is not
implemented, and the gate says so.  usage: mini_backend.py [GOLDEN_DIR [OUT_DIR]]"""
import sys

import numpy as np

import hkharness as hk

backend = hk.Backend("mini_backend.py", framework="numpy")


@backend.op("softmax")  # out.y and grad.x = y * (d_y - sum(d_y * y))
def softmax(t, cfg):
    e = np.exp(t["x"] - t["x"].max(-1, keepdims=True))
    y = e / e.sum(-1, keepdims=True)
    return {"y": y, "grad.x": y * (t["d_y"] - (t["d_y"] * y).sum(-1, keepdims=True))}


@backend.op("dropkey", grads="none")  # forward only: checked on out.w, grad.g not required
def dropkey(t, cfg):
    pad = t["mask.pad"][:, None, None, :]
    keep = ~t["mask.att"] & ~pad
    allmasked = ~keep.any(-1, keepdims=True)
    if cfg["allmasked_policy"] == "keep":  # a row with no kept key is left undropped
        keep = np.where(allmasked, ~pad, keep)
    g = np.where(keep, t["g"], 0)
    e = np.where(keep, np.exp(g - np.where(keep, g, -np.inf).max(-1, keepdims=True, initial=-np.inf)), 0)
    s = e.sum(-1, keepdims=True)
    return {"w": np.divide(e, s, out=np.zeros_like(e), where=s > 0)}


if __name__ == "__main__":
    args = sys.argv[1:] + ["golden", "build/mini"][len(sys.argv) - 1:]
    sys.exit(backend.gate(args[0], args[1], ["f64", "f32"]))
