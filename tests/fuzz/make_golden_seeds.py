#!/usr/bin/python3
"""Writes the seed corpus of the golden-checker fuzzer (tests/fuzz/corpus/golden/)
from a generated golden set:  tools/../make_golden_seeds.py GOLDEN_DIR
Per chosen case: (gold, gold): the golden file as its own output, refused
(its format marker; every tensor fails); (gold, gold with one output value
changed); (gold, missing) fails all; an F32 check; a golden file whose
tolerance metadata is broken.  The oracle's verdict properties run on every
golden file that parses (the golden's own outputs are built from it), so the
seeds need no honest backend file.  Layout: see golden_oracle.h."""
import os, struct, sys, glob, json

src = sys.argv[1]
D = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "golden")
os.makedirs(D, exist_ok=True)
files = sorted(glob.glob(os.path.join(src, "*", "*.safetensors")), key=os.path.getsize)


def pack(flags, gold, got=b""):
    return bytes([flags]) + struct.pack("<I", len(gold)) + gold + got


def split(b):
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:], n


def rebuild(hdr, data, n):
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


picked = {}
for f in files:  # the smallest case of each op
    op = os.path.basename(os.path.dirname(f))
    picked.setdefault(op, f)
k = 0
for op, f in sorted(picked.items())[:8]:
    g = open(f, "rb").read()
    base = os.path.basename(f)[:-12]
    out = {"%s_self" % base: pack(0, g, g), "%s_missing" % base: pack(1, g), "%s_f32" % base: pack(2, g, g)}
    hdr, data, n = split(g)
    outs = [(name, e) for name, e in hdr.items() if name.startswith(("out.", "grad.")) and e["dtype"] == "F64"]
    if outs:
        name, e = outs[0]
        b0 = e["data_offsets"][0]
        d2 = bytearray(data)
        v = struct.unpack_from("<d", d2, b0)[0]
        struct.pack_into("<d", d2, b0, v + 0.5 + abs(v))
        out["%s_wrong" % base] = pack(0, g, g[:8 + n] + bytes(d2))
    meta = dict(hdr.get("__metadata__", {}))
    if "tolerance" in meta:
        meta["tolerance"] = "{\"bogus\":"
        h2 = dict(hdr)
        h2["__metadata__"] = meta
        out["%s_badtol" % base] = pack(0, rebuild(h2, data, n), g)
    for name, b in out.items():
        open(os.path.join(D, name), "wb").write(b)
        k += 1
print("%d seeds in %s" % (k, D))
