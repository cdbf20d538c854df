#!/usr/bin/python3
"""Seeds of the file-level fuzzers (layouts in tests/fuzz/fuzz_<target>.c):
  make_cli_seeds.py HKREF          writes tests/fuzz/corpus/{golden_dir,cli,loaders}/
golden_dir: small golden cases with a harness-written manifest and honest, wrong or
missing outputs, and with the committed MANIFEST's own bytes; cli: golden files and a
`hkref dylora demo` adapter (also with alpha nan / inf / ''), for inspect and spectrum;
loaders: a tiny data file (and, for train mode, the model `hkref pretrain` makes of it),
plus the vocab = 2^57 + 1 file of the issue."""
import glob, hashlib, json, os, struct, subprocess, sys, tempfile

HK = sys.argv[1]
ROOT = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(ROOT))


def out(target, name, b):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, name), "wb").write(b)


def split(b):
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]


def build(hdr, data):
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def tensors(d):
    """d: name -> (dtype, shape, bytes) in order; returns a safetensors image."""
    hdr, data = {}, b""
    for name, (dt, shape, raw) in d.items():
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    return hdr, data


def seg(b):
    return struct.pack("<H", len(b)) + b


files = sorted(glob.glob(os.path.join(REPO, "golden", "*", "*.safetensors")), key=os.path.getsize)[:6]
manifest = open(os.path.join(REPO, "golden", "MANIFEST"), "rb").read()
for f in files:
    g = open(f, "rb").read()
    base = os.path.basename(f)[:-12]
    hdr, data = split(g)
    own = {k: v for k, v in hdr.items() if k.startswith(("out.", "grad."))}
    raw = b""
    for k, v in own.items():
        raw += data[v["data_offsets"][0]:v["data_offsets"][1]]
    pos, oh = 0, {}
    for k, v in own.items():
        n = v["data_offsets"][1] - v["data_offsets"][0]
        oh[k] = {"dtype": v["dtype"], "shape": v["shape"], "data_offsets": [pos, pos + n]}
        pos += n
    ob = build(oh, raw)
    if len(g) < 65000 and len(ob) < 65000:
        out("golden_dir", base + "_honest", bytes([1 | 16]) + seg(g) + seg(b"") + seg(b""))
        out("golden_dir", base + "_given", bytes([1 | 8 | 4]) + seg(g) + seg(ob) + seg(b""))
        out("golden_dir", base + "_missing", bytes([1 | 32]) + seg(g) + seg(b"") + seg(b""))
        out("golden_dir", base + "_rawmanifest", bytes([4]) + seg(g) + seg(ob) + seg(manifest[:65000]))
        own_manifest = ("# hkref-golden-manifest-1\n# registry 1\n%s  fz/fz_case.safetensors\n"
                        % hashlib.sha256(g).hexdigest()).encode()
        out("golden_dir", base + "_ownmanifest", bytes([8]) + seg(g) + seg(ob) + seg(own_manifest))
    out("cli", base + "_inspect", b"\0" + g)
tmp = tempfile.mkdtemp()
ad = os.path.join(tmp, "ad.safetensors")
subprocess.run([HK, "dylora", "demo", "--steps", "2", "--out", ad], check=True, capture_output=True)
a = open(ad, "rb").read()
out("cli", "adapter_spectrum", b"\1" + a)
out("cli", "adapter_alpha", b"\2" + a)
out("cli", "adapter_struct_noalpha", b"\3\5\13\11")  # structured: r 6, IN 12, OUT 10, alpha ''
out("cli", "adapter_struct_12.5", b"\3\5\13\11" + b"12.5")
hdr, data = split(a)
for v, name in (("nan", "nan"), ("inf", "inf"), ("", "empty")):
    hdr["__metadata__"]["alpha"] = v
    out("cli", "adapter_alpha_" + name, b"\1" + build(hdr, data))

# loaders: a tiny data set (ids < vocab, lengths in [1, T], labels 0/1)
N, T, V = 4, 3, 6
i32 = lambda xs: struct.pack("<%di" % len(xs), *xs)
i64 = lambda xs: struct.pack("<%dq" % len(xs), *xs)


def data_file(splits, vocab):
    d = {}
    for s in splits:
        d[s + ".ids"] = ("I32", [N, T], i32([(k * 7 + 1) % V for k in range(N * T)]))
        d[s + ".len"] = ("I32", [N], i32([3, 2, 3, 1]))
        d[s + ".label"] = ("I64", [N], i64([0, 1, 1, 0]))
    hdr, raw = tensors(d)
    hdr["__metadata__"] = {"vocab": vocab}
    return build(hdr, raw)


pre = data_file(["train", "dev"], str(V))
fine = data_file(["train", "dev", "test"], str(V))
out("loaders", "pretrain_ok", b"\0" + struct.pack("<I", len(pre)) + pre)
out("loaders", "pretrain_vocab_2p57", b"\0" + struct.pack("<I", len(pre)) +
    data_file(["train", "dev"], "144115188075855873"))
dd = os.path.join(tmp, "data")
os.makedirs(dd)
open(os.path.join(dd, "pretrain.safetensors"), "wb").write(pre)
subprocess.run([HK, "pretrain", "--data", dd, "--out", os.path.join(tmp, "pt"), "--dim", "8", "--heads", "2",
                "--ffn", "8", "--layers", "1", "--batch", "2", "--quiet"], check=True, capture_output=True)
model = open(os.path.join(tmp, "pt", "model.safetensors"), "rb").read()
out("loaders", "struct_vocab6", b"\2" + struct.pack("<Q", 6) + b"\2\2")
out("loaders", "train_ok", b"\1" + struct.pack("<I", len(fine)) + fine + model)
print("seeds written under", os.path.join(ROOT, "corpus"))
