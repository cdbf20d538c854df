#!/usr/bin/python3
"""Compares the stored tolerances of two golden trees (old, new): every bound of
new must be at most old's (rtol, and atol; with row scales, the largest row
atol).  Prints a table of the changed tensors and exits 1 on a looser bound.
    /usr/bin/python3 experiments/bench/tol_compare.py OLD_DIR NEW_DIR"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from torch_backend import st_read  # noqa: E402


def bounds(path):
    arrays, meta = st_read(path)
    tol = json.loads(meta["tolerance"])
    out = {}
    for name, e in tol.items():
        if e.get("exact"):
            continue
        for dt in ("f64", "f32"):
            atol, rtol = e[dt]["atol"], e[dt]["rtol"]
            if "row_scale" in e:  # the largest row's atol
                s = arrays[e["row_scale"]]
                atol = float(rtol * s.max()) + (atol - rtol * e["scale"])
            out[(name, dt)] = (atol, rtol, e["n"])
    return out


def main(old, new):
    looser, changed, same, n = [], [], 0, 0
    for op in sorted(os.listdir(new)):
        d = os.path.join(new, op)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            po = os.path.join(old, op, f)
            if not f.endswith(".safetensors") or not os.path.exists(po):
                continue
            bo, bn = bounds(po), bounds(os.path.join(d, f))
            for k, (a1, r1, nn) in bn.items():
                a0, r0, _ = bo[k]
                n += 1
                if r1 > r0 * (1 + 1e-12) or a1 > a0 * (1 + 1e-12) + 1e-300:
                    looser.append((f, k, a0, a1, r0, r1))
                elif r1 < r0 * (1 - 1e-12) or a1 < a0 * (1 - 1e-12):
                    changed.append((f[:-12], k[0], k[1], nn, r0, r1, a0, a1))
                else:
                    same += 1
    print(f"{n} bounds compared: {same} unchanged, {len(changed)} tighter, {len(looser)} looser")
    for c in changed:
        print("  tighter %-58s %-16s %s n=%-8g rtol %.3g -> %.3g (x%.2f)  atol %.3g -> %.3g" %
              (c[0], c[1], c[2], c[3], c[4], c[5], c[4] / c[5], c[6], c[7]))
    for l in looser:
        print("  LOOSER", l)
    return 1 if looser else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
