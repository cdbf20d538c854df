#!/usr/bin/python3
"""Writes the committed seed corpus of the safetensors fuzzer
(tests/fuzz/corpus/safetensors/): small valid files covering every dtype,
scalars, empty tensors and metadata, and small invalid ones, one per reader
rule.  Deterministic; re-run only to change the seeds."""
import json, os, struct

D = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "safetensors")
os.makedirs(D, exist_ok=True)
SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "U16": 2, "I16": 2, "F16": 2, "BF16": 2, "U32": 4, "I32": 4, "F32": 4,
        "U64": 8, "I64": 8, "F64": 8}


def st(tensors, meta=None, pad=0, trailing=b"", raw_header=None, hlen=None):
    hdr, data, pos = {}, b"", 0
    if meta is not None:
        hdr["__metadata__"] = meta
    for name, dt, shape, payload in tensors:
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [pos, pos + len(payload)]}
        data += payload
        pos += len(payload)
    h = raw_header if raw_header is not None else json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * pad
    return struct.pack("<Q", len(h) if hlen is None else hlen) + h + data + trailing


f64 = lambda *v: struct.pack("<%dd" % len(v), *v)
seeds = {
    "valid_empty": st([]),
    "valid_f64_2x3": st([("in.x", "F64", [2, 3], f64(0.5, -1.25, 2.385, 1e300, -0.0, 5e-324))]),
    "valid_golden_like": st([("in.qkv", "F64", [1, 2, 3], f64(*[0.1 * i for i in range(6)])),
                             ("mask.att", "U8", [1, 2, 2], bytes([0, 1, 1, 0])),
                             ("in.b", "I64", [], struct.pack("<q", 3))],
                            meta={"format": "1", "op": "dropkey", "config": "{\"p\":0.1}"}, pad=5),
    "valid_scalar_and_empty": st([("s", "F32", [], struct.pack("<f", 1.5)), ("e", "F64", [0, 4], b"")]),
    "valid_every_dtype": st([(dt, dt, [2], bytes(range(1, 1 + 2 * SIZE[dt])) if dt != "BOOL" else b"\x00\x01")
                             for dt in SIZE]),
    "valid_f16_bf16_specials": st([("h", "F16", [4], struct.pack("<4H", 0x7c00, 0xfc00, 0x7e00, 0x0001)),
                                   ("b", "BF16", [3], struct.pack("<3H", 0x7f80, 0x7fc0, 0x0001))]),
    "valid_meta_null": st([("a", "U8", [1], b"\x07")], meta=None, raw_header=b'{"__metadata__":null,"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}'),
    "bad_short": b"\x02\x00\x00",
    "bad_header_len_past_end": st([], hlen=1000),
    "bad_header_len_huge": st([], hlen=(1 << 64) - 1),
    "bad_json": st([], raw_header=b'{"a":{"dtype":"F64",'),
    "bad_duplicate_key": st([], raw_header=b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}') + b"\x01",
    "bad_overlap": st([], raw_header=b'{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}') + b"\x01\x02\x03",
    "bad_gap": st([], raw_header=b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}') + b"\x01\x02",
    "bad_bool_value": st([("m", "BOOL", [2], b"\x00\x02")]),
    "bad_negative_dim": st([], raw_header=b'{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}'),
    "bad_unknown_dtype": st([], raw_header=b'{"a":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}') + b"\x00",
    "bad_meta_not_string": st([], raw_header=b'{"__metadata__":{"k":1}}'),
    "bad_trailing": st([("a", "U8", [1], b"\x05")], trailing=b"\x00"),
    "bad_size_mismatch": st([], raw_header=b'{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}') + b"\x00" * 8,
    "bad_overflow_shape": st([], raw_header=b'{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}'),
    "bad_nine_dims": st([], raw_header=b'{"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}}') + b"\x00",
    "bad_padding_not_space": st([("a", "U8", [1], b"\x05")], raw_header=b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}\x00\x00'),
}
for name, b in sorted(seeds.items()):
    with open(os.path.join(D, name + ".safetensors"), "wb") as fh:
        fh.write(b)
print("%d seeds in %s" % (len(seeds), D))
