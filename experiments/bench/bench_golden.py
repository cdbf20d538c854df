#!/usr/bin/python3
"""make bench-golden: the golden set at the shapes real backends run (not a timed test).

For each op at B=2, T=512, C=768, NH=12 (F=3072 for the encoder; train_step with
L=1): the scalar reference's generation time (wall and user) and peak memory,
the checker's time per case, and the worst error of the example PyTorch backend
as % of its threshold, per tensor, in F64 and F32 -- PyTorch's own kernels,
the tiled / sharded implementation and (--sequential) recursive summation.
Then the two small real bugs at T = 4096 (dropkey op, B = NH = 1): a dropped
key that keeps 1e-3 of its weight, and (dropattention op) a factor missing in
one head: each must fail, the correct backend pass.  --t2048 adds the memory
of an attention case at T = 2048.

    /usr/bin/python3 experiments/bench/bench_golden.py --hkref build/hkref --out build/bench-golden
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
PY = "/usr/bin/python3"
SHAPE = "B=2,T=512,C=768,NH=12"
CASES = [  # (op, name, settings)
    ("dropkey", "dropkey_real", "B=2,NH=12,T=512,p=0.1,range=4"),
    ("dropattention", "dropattention_real", "B=2,NH=12,T=512,variant=norm,p=0.1,range=4"),
    ("attention", "attention_real", SHAPE + ",r=8,alpha=16,lora_p=0.1,method=dropkey,pattern=column,attn_p=0.1"),
    ("encoder", "encoder_real", SHAPE + ",F=3072,r=8,alpha=16,lora_p=0.1,method=dropkey,pattern=column,attn_p=0.1,"
                                "hidden_p=0.1,hidden_rescale=1"),
    ("train_step", "train_step_real", SHAPE + ",L=1,F=3072,r=8,K=2,preset=hiddenkey"),
]


def timed(cmd, log):
    """Runs cmd under /usr/bin/time; returns (rc, wall s, user s, peak MB)."""
    with open(log, "w") as f:
        rc = subprocess.call(["/usr/bin/time", "-f", "TIME %e %U %M"] + cmd, stdout=f, stderr=subprocess.STDOUT)
    m = re.findall(r"TIME ([0-9.]+) ([0-9.]+) ([0-9]+)", open(log).read())
    wall, user, kb = m[-1] if m else ("nan", "nan", "0")
    return rc, float(wall), float(user), int(kb) / 1024.0


def worst(json_path):
    """case -> [(tensor, pct, rtol)] from a checker JSON summary."""
    j = json.load(open(json_path))
    return {c["case"]: [(t["name"], t["pct_threshold"], t["rtol"], c["pass"]) for t in c["tensors"]]
            for c in j["cases"]}


def group(name):
    if name.startswith("grad.W") or name.startswith("grad.b") or name.startswith("grad.l"):
        return "weights" if "lora" not in name else "grad.lora_*"
    return name


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hkref", default=os.path.join(ROOT, "build", "hkref"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench-golden"))
    ap.add_argument("--sequential", action="store_true", help="also the recursive-summation backend (slow)")
    ap.add_argument("--t2048", action="store_true", help="also an attention case at T = 2048 (memory)")
    ap.add_argument("--only", default="", help="comma-separated ops of the table (default: all)")
    a = ap.parse_args(argv)
    gold, outs = os.path.join(a.out, "golden"), os.path.join(a.out, "torch")
    shutil.rmtree(a.out, ignore_errors=True)
    os.makedirs(a.out)
    only = set(a.only.split(",")) if a.only else None
    print(f"== generation at {SHAPE} (F = 3072) ==")
    gen = {}
    for op, name, sets in CASES:
        if only and op not in only:
            continue
        rc, wall, user, mb = timed([a.hkref, "golden", "generate", "--op", op, "--set", sets, "--name", name, gold],
                                   os.path.join(a.out, f"gen-{name}.log"))
        if rc:
            print(open(os.path.join(a.out, f"gen-{name}.log")).read())
            return 1
        size = os.path.getsize(os.path.join(gold, op, name + ".safetensors")) / 1e6
        gen[name] = (wall, user, mb, size)
        print(f"  {name:<20} {wall:7.1f} s wall {user:7.1f} s user  peak {mb:7.0f} MB  file {size:6.0f} MB")
    if not gen:
        return bugs_at_4096(a)
    impls = "reference,tiled" + (", sequential in f32" if a.sequential else "")
    print(f"== PyTorch example backend ({impls}; f64, f32) ==")
    runs = [("f64,f32", "reference,tiled")] + ([("f32", "sequential")] if a.sequential else [])
    for dts, imp in runs:
        rc = subprocess.call([PY, os.path.join(ROOT, "examples", "torch_backend.py"), "--golden", gold, "--out", outs,
                              "--dtype", dts, "--impl", imp], stdout=subprocess.DEVNULL)
        if rc:
            return 1
    res, chk = {}, {}
    dirs = ["f64", "f32", "tiled-f32"] + (["sequential-f32"] if a.sequential else [])
    for d in dirs:
        for op, name, _ in CASES:
            if name not in gen:
                continue
            js = os.path.join(a.out, f"check-{d}-{name}.json")
            rc, wall, user, _ = timed([a.hkref, "golden", "check", "--golden", gold, "--outputs", os.path.join(outs, d),
                                       "--dtype", d.split("-")[-1], "--case", name, "--json", js],
                                      os.path.join(a.out, f"check-{d}-{name}.log"))
            chk.setdefault(name, []).append((wall, user))
            res[(d, name)] = worst(js)[name]
    print("== checker time per case (wall / user s) ==")
    for name, ts in chk.items():
        print(f"  {name:<20} " + "  ".join(f"{w:5.2f}/{u:5.2f}" for w, u in ts))
    print("== worst error as % of threshold (per tensor group) ==")
    print(f"  {'case':<20} {'tensor':<14} " + " ".join(f"{d:>15}" for d in dirs) + "   rtol f32   pass")
    for op, name, _ in CASES:
        if name not in gen:
            continue
        groups = {}
        for d in dirs:
            for t, pct, rtol, ok in res[(d, name)]:
                g = group(t)
                prev = groups.setdefault(g, {}).get(d, (0, 0, True))
                groups[g][d] = (max(prev[0], pct or 0), rtol if d.endswith("f32") else prev[1], prev[2] and ok)
        for g, v in groups.items():
            print(f"  {name:<20} {g:<14} " + " ".join(f"{v[d][0]:14.3f}%" for d in dirs) +
                  f"   {v['f32'][1]:.3g}   {'all' if all(x[2] for x in v.values()) else 'NO'}")
    rc = bugs_at_4096(a)
    if a.t2048:
        print("== memory at T = 2048 ==")
        rc2, wall, user, mb = timed([a.hkref, "golden", "generate", "--op", "attention", "--set",
                                     "B=2,T=2048,C=768,NH=12,r=8,alpha=16,lora_p=0.1,method=dropkey,pattern=column,"
                                     "attn_p=0.1", "--name", "attention_t2048", os.path.join(a.out, "golden-2048")],
                                    os.path.join(a.out, "gen-t2048.log"))
        print(f"  attention_t2048      {wall:7.1f} s wall {user:7.1f} s user  peak {mb:7.0f} MB  (exit {rc2})")
        shutil.rmtree(os.path.join(a.out, "golden-2048"), ignore_errors=True)
    return rc


def bugs_at_4096(a):
    """The two small real bugs against the F32 bounds at T = 4096; 0 if each is caught and the correct passes."""
    print("== small real bugs at T = 4096 (B = NH = 1), F32 backend and F32 bounds ==")
    bugs = [("dropkey", "dropkey_t4096", "B=1,NH=1,T=4096,p=0.1,range=4", "dropkey_finite_leak"),
            ("dropattention", "dropattention_t4096", "B=1,NH=1,T=4096,variant=classic,p=0.1,range=4",
             "dropattention_head0_no_rescale")]
    g2, ok = os.path.join(a.out, "golden-4096"), True
    for op, name, sets, bug in bugs:
        rc, wall, user, mb = timed([a.hkref, "golden", "generate", "--op", op, "--set", sets, "--name", name, g2],
                                   os.path.join(a.out, f"gen-{name}.log"))
        o2 = os.path.join(a.out, "torch-4096-" + name)
        subprocess.call([PY, os.path.join(ROOT, "examples", "torch_backend.py"), "--golden", g2, "--out", o2,
                         "--dtype", "f32", "--bug", bug, "--bug-dtype", "f32"], stdout=subprocess.DEVNULL)
        for d in ("f32", "bug-" + bug):
            js = os.path.join(a.out, f"check-4096-{d}-{name}.json")
            rc = subprocess.call([a.hkref, "golden", "check", "--golden", g2, "--outputs", os.path.join(o2, d),
                                  "--dtype", "f32", "--case", name, "--json", js], stdout=subprocess.DEVNULL)
            w = worst(js)[name]
            print(f"  {name:<20} {d:<34} exit {rc}  " +
                  "  ".join(f"{t} {pct:.3g}% (rtol {rt:.2g})" for t, pct, rt, _ in w) +
                  ("  <- caught" if rc == 1 and d.startswith("bug") else ""))
            ok = ok and rc == (1 if d.startswith("bug") else 0)
        shutil.rmtree(o2, ignore_errors=True)
    shutil.rmtree(g2, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
