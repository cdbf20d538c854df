#!/usr/bin/python3
"""Differential oracle for hkref's safetensors reader: an independent reader
(this file: json + struct, no numpy, written from the format and the reader
policy in ref/tensorfile.h, not from the C) against `st_dump` (hkref's
hk_st_parse + hk_st_to_f64).  For every file: both accept or both reject;
when both accept, the same metadata, tensor names, dtypes, shapes and
element values (the exact float64 bits; NaN as NaN), F16 and BF16 decoded
here by struct's IEEE binary16 and by widening the top half of a binary32.
  st_diff.py ST_DUMP FILE_OR_DIR...     exit 0 when they agree on every file
"""
import json, math, os, struct, subprocess, sys

SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "U16": 2, "I16": 2, "F16": 2, "BF16": 2, "U32": 4, "I32": 4,
         "F32": 4, "U64": 8, "I64": 8, "F64": 8}
FMT = {"BOOL": "B", "U8": "B", "I8": "b", "U16": "H", "I16": "h", "F16": "e", "U32": "I", "I32": "i",
       "F32": "f", "U64": "Q", "I64": "q", "F64": "d"}
MAX_HEADER = 100000000
LONG_MAX = 2**63 - 1


class Reject(Exception):
    pass


def no_dups(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Reject("duplicate key")
    return dict(pairs)


def bad_constant(c):
    raise Reject("non-JSON constant " + c)


def check_strings(x):
    """jansson refuses NUL and unpaired surrogates in strings (keys included)."""
    if isinstance(x, str):
        if "\0" in x or any(0xD800 <= ord(ch) <= 0xDFFF for ch in x):
            raise Reject("string with NUL or a lone surrogate")
    elif isinstance(x, list):
        for v in x:
            check_strings(v)
    elif isinstance(x, dict):
        for k, v in x.items():
            check_strings(k)
            check_strings(v)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def parse(b):
    if len(b) < 8:
        raise Reject("short")
    n = struct.unpack("<Q", b[:8])[0]
    if n > MAX_HEADER or n > len(b) - 8:
        raise Reject("header length")
    try:
        text = b[8:8 + n].decode("utf-8")
        root = json.loads(text, object_pairs_hook=no_dups, parse_constant=bad_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise Reject("json: %s" % e)
    if not isinstance(root, dict):
        raise Reject("root")
    check_strings(root)
    data = b[8 + n:]
    meta, ents = {}, []
    for name, e in root.items():
        if name == "__metadata__":
            if e is None:
                continue
            if not isinstance(e, dict) or not all(isinstance(v, str) for v in e.values()):
                raise Reject("metadata")
            meta = dict(e)
            continue
        if name == "" or not isinstance(e, dict) or set(e) - {"dtype", "shape", "data_offsets"}:
            raise Reject("entry")
        dt, sh, off = e.get("dtype"), e.get("shape"), e.get("data_offsets")
        if not isinstance(dt, str) or dt not in SIZES:
            raise Reject("dtype")
        if not isinstance(sh, list) or len(sh) > 8 or not all(is_int(d) and 0 <= d <= LONG_MAX for d in sh):
            raise Reject("shape")
        if not isinstance(off, list) or len(off) != 2 or not all(is_int(o) and o >= 0 for o in off):
            raise Reject("offsets")
        begin, end = off
        if begin > end or end > len(data):
            raise Reject("offsets range")
        numel = 1
        for d in sh:
            numel *= d
        if numel >= 2**64 or numel * SIZES[dt] >= 2**64 or numel * SIZES[dt] != end - begin:
            raise Reject("size")
        ents.append((begin, end, name, dt, sh, numel))
    ents.sort(key=lambda t: (t[0], t[1], t[2].encode("utf-8")))
    pos = 0
    for begin, end, *_ in ents:
        if begin != pos:
            raise Reject("gap or overlap")
        pos = end
    if pos != len(data):
        raise Reject("trailing")
    out = []
    for begin, end, name, dt, sh, numel in ents:
        raw = data[begin:end]
        if dt == "BF16":
            vals = [struct.unpack("<f", struct.pack("<I", h << 16))[0] for (h,) in struct.iter_unpack("<H", raw)]
        else:
            vals = [float(v) for (v,) in struct.iter_unpack("<" + FMT[dt], raw)] if numel else []
        if dt == "BOOL" and any(v > 1 for v in vals):
            raise Reject("bool")
        out.append((name, dt, sh, vals))
    return meta, out


def unhex(s):
    return "" if s == "-" else bytes.fromhex(s).decode("utf-8")


def read_dump(text):
    res, cur = {}, None
    for line in text.splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "F":
            cur = unhex(rest)
            res[cur] = None
        elif tag == "ERR":
            res[cur] = "ERR"
        elif tag == "OK":
            res[cur] = ({}, [])
        elif tag == "M":
            k, v = rest.split(" ")
            res[cur][0][unhex(k)] = unhex(v)
        elif tag == "T":
            name, dt, nd, shape = rest.split(" ")
            res[cur][1].append([unhex(name), dt, [] if shape == "-" else [int(x) for x in shape.split(",")], None])
        elif tag == "V":
            bits = rest.split()
            res[cur][1][-1][3] = [struct.unpack("<d", struct.pack("<Q", int(x, 16)))[0] for x in bits]
    return res


def same_value(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return struct.pack("<d", a) == struct.pack("<d", b)


def main():
    dump, paths = sys.argv[1], []
    for a in sys.argv[2:]:
        if os.path.isdir(a):
            paths += sorted(os.path.join(a, f) for f in os.listdir(a) if os.path.isfile(os.path.join(a, f)))
        else:
            paths.append(a)
    got = {}
    for i in range(0, len(paths), 500):
        chunk = paths[i:i + 500]
        got.update(read_dump(subprocess.run([dump] + chunk, capture_output=True, check=True).stdout.decode()))
    bad, accepted = 0, 0
    for p in paths:
        try:
            want = parse(open(p, "rb").read())
        except Reject as e:
            want = ("ERR", str(e))
        g = got.get(p)
        why = None
        if want[0] == "ERR" or g == "ERR":
            if (want[0] == "ERR") != (g == "ERR"):
                why = "hkref %s, the independent reader %s" % (
                    "rejects" if g == "ERR" else "accepts", "rejects (%s)" % want[1] if want[0] == "ERR" else "accepts")
        else:
            accepted += 1
            meta, tens = want
            if meta != g[0]:
                why = "metadata differs"
            elif [(t[0], t[1], t[2]) for t in tens] != [(t[0], t[1], t[2]) for t in g[1]]:
                why = "tensor names, dtypes or shapes differ"
            else:
                for (name, _, _, vals), (_, _, _, gv) in zip(tens, g[1]):
                    if len(vals) != len(gv) or not all(same_value(a, b) for a, b in zip(vals, gv)):
                        why = "values of %r differ" % name
                        break
        if why:
            bad += 1
            if bad <= 10:
                print("st_diff: %s: %s" % (p, why))
    print("st_diff: %d files, %d accepted by both, %d disagreements" % (len(paths), accepted, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
