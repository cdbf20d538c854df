#!/usr/bin/python3
"""The reference as a backend: writes OUT/<case>.safetensors holding only the
out.* / grad.* tensors of each GOLDEN/<op>/<case>.safetensors (no metadata),
as an honest F64 backend would.  `hkref golden check` refuses a copy of the
golden file itself (its format marker), so demos and tools/scripts/valgrind.sh
use this.
  tools/scripts/golden_outputs.py GOLDEN_DIR OUT_DIR [CASE_PREFIX]"""
import glob, json, os, struct, sys

src, dst = sys.argv[1], sys.argv[2]
prefix = sys.argv[3] if len(sys.argv) > 3 else ""
os.makedirs(dst, exist_ok=True)
n = 0
for f in sorted(glob.glob(os.path.join(src, "*", "*.safetensors"))):
    name = os.path.basename(f)[:-len(".safetensors")]
    if not name.startswith(prefix):
        continue
    b = open(f, "rb").read()
    hl = struct.unpack("<Q", b[:8])[0]
    hdr, data = json.loads(b[8:8 + hl]), b[8 + hl:]
    out, raw = {}, b""
    for k in sorted(hdr):
        if k.startswith(("out.", "grad.")):
            e = hdr[k]
            chunk = data[e["data_offsets"][0]:e["data_offsets"][1]]
            out[k] = {"dtype": e["dtype"], "shape": e["shape"], "data_offsets": [len(raw), len(raw) + len(chunk)]}
            raw += chunk
    h = json.dumps(out, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(dst, name + ".safetensors"), "wb") as o:
        o.write(struct.pack("<Q", len(h)) + h + raw)
    n += 1
print("golden_outputs: %d backend files in %s" % (n, dst))
