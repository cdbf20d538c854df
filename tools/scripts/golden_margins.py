#!/usr/bin/python3
"""Margins of the committed golden cases against their own tolerances.

For every output tensor (out.* / grad.*) of every case under golden/, and
for each tier (f64, f32), the margin is

    margin = max_i |ref_i| / (atol + rtol * |ref_i|)

i.e. how many tolerances the largest element stands above zero.  A backend
that gets that output wrong by as much as the output itself (drops the
term, computes nothing, returns zeros) is caught iff margin > 1; "far above"
is margin >= --min (default 100).  A case obeys the generator rule
(golden/README.md, "Tolerances"; enforced by the generator itself,
tools/golden/case.c) when at least one output that is not zeros_expected is
far above its tolerance in the tier -- or, for a case whose every output is
zeros_expected by design, one of those; outputs below --min are listed as
weak.

Reads the safetensors files directly (8-byte header length, JSON header,
little-endian F64 / I64 data: golden/README.md), no package needed.

usage: tools/scripts/golden_margins.py [--dir golden] [--min 100] [--all]
exit status: 0 every case obeys the rule in both tiers, 1 some case does not,
2 a file does not parse.
"""
import argparse
import json
import math
import os
import struct
import sys

TIERS = ("f64", "f32")


def read_case(path):
    with open(path, "rb") as fh:
        blob = fh.read()
    if len(blob) < 8:
        raise ValueError("shorter than the 8-byte header length")
    (hlen,) = struct.unpack("<Q", blob[:8])
    if hlen > len(blob) - 8:
        raise ValueError("header length %d beyond the file" % hlen)
    header = json.loads(blob[8 : 8 + hlen])
    meta = header.pop("__metadata__", {})
    tol = json.loads(meta.get("tolerance", "{}"))
    data = blob[8 + hlen :]
    tensors = {}
    for name, t in header.items():
        lo, hi = t["data_offsets"]
        if t["dtype"] == "F64":
            tensors[name] = struct.unpack("<%dd" % ((hi - lo) // 8), data[lo:hi])
    return meta.get("case", os.path.basename(path)), tensors, tol


def margins(tensors, tol):
    """name -> {tier: margin}, zeros_expected flag (float outputs only)."""
    out = {}
    for name, t in sorted(tol.items()):
        if t.get("exact") or name not in tensors:
            continue
        vals = tensors[name]
        m = {}
        for tier in TIERS:
            atol, rtol = t[tier]["atol"], t[tier]["rtol"]
            best = 0.0
            for v in vals:
                a = abs(v)
                if a > 0 and math.isfinite(a):
                    best = max(best, a / (atol + rtol * a))
            m[tier] = best
        out[name] = (m, bool(t.get("zeros_expected")))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default="golden")
    ap.add_argument("--min", type=float, default=100.0, help="margin that counts as far above (default 100)")
    ap.add_argument("--all", action="store_true", help="print every output, not only the weak ones")
    a = ap.parse_args()
    files = []
    for root, _, names in os.walk(a.dir):
        files += [os.path.join(root, n) for n in names if n.endswith(".safetensors")]
    if not files:
        print("golden_margins: no .safetensors under %s" % a.dir, file=sys.stderr)
        return 2
    broken = []
    weak_outputs = []
    for path in sorted(files):
        try:
            case, tensors, tol = read_case(path)
        except (ValueError, KeyError, json.JSONDecodeError, struct.error) as e:
            print("golden_margins: %s: %s" % (path, e), file=sys.stderr)
            return 2
        ms = margins(tensors, tol)
        for tier in TIERS:
            plain = any(not z for _, z in ms.values())
            carried = [n for n, (m, z) in ms.items() if (not z or not plain) and m[tier] >= a.min]
            if ms and not carried:
                best = max(((m[tier], n) for n, (m, z) in ms.items() if not z), default=(0.0, "-"))
                best_z = max(((m[tier], n) for n, (m, z) in ms.items() if z), default=(0.0, "-"))
                broken.append((case, tier, best, best_z))
        for n, (m, z) in ms.items():
            if a.all or (not z and min(m.values()) < a.min):
                weak_outputs.append((case, n, m, z))
    print("outputs below %g x tolerance (not zeros_expected)%s:" % (a.min, " and all others" if a.all else ""))
    print("%-58s %-26s %12s %12s" % ("case", "output", "f64 margin", "f32 margin"))
    for case, n, m, z in weak_outputs:
        print("%-58s %-26s %12.3g %12.3g%s" % (case, n, m["f64"], m["f32"], "  zeros_expected" if z else ""))
    print()
    print("cases with no non-zeros_expected output (all-zeros_expected cases: no output) >= %g x tolerance "
          "(the generator rule):" % a.min)
    for case, tier, (best, n), (bz, nz) in broken:
        print("  %-52s %s: best %s %.3g; best zeros_expected %s %.3g" % (case, tier, n, best, nz, bz))
    if not broken:
        print("  none")
    print("%d cases, %d weak outputs, %d (case, tier) pairs break the rule" % (len(files), len(weak_outputs),
                                                                                len(broken)))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
