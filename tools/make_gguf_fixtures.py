#!/usr/bin/env python3
"""Writes tests/fixtures/gguf/, what tests/test-gguf.c checks vtp's GGUF
reader (models/formats/vtp-gguf.c) against:

  small.gguf   written by the `gguf` package's GGUFWriter: metadata of every
               value type (scalars, arrays of numbers, bools and strings,
               a string with a NUL and non-ASCII text),
               general.alignment 64, and tensors of F32, F16, Q8_0 and Q4_0
               (quantized with gguf.quants.quantize from seeded numpy data),
               1 to 4 dimensions
  small.json   what the reader must find: every key's type and value, every
               tensor's name, ne (ggml order), type, data offset, byte size
               and sha256, and the file offsets of a few header fields that
               the test corrupts (counts, the first key's length, the
               alignment value, tensor offsets and types)

Deterministic: re-running reproduces the committed files.
Usage: tools/make_gguf_fixtures.py [out_dir]"""
import hashlib
import json
import os
import sys

import gguf
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "tests", "fixtures", "gguf")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "small.gguf")
    rng = np.random.default_rng(1234)

    w = gguf.GGUFWriter(path, arch="vtptest")
    T = gguf.GGUFValueType
    w.add_custom_alignment(64)
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_uint64("test.u64", 2 ** 63 + 5)
    w.add_int64("test.i64", -(2 ** 40))
    w.add_float32("test.f32", 0.1)
    w.add_float64("test.f64", 0.25)
    w.add_float64("test.f64_inexact", 0.1)
    w.add_bool("test.true", True)
    w.add_bool("test.false", False)
    w.add_string("test.string", "Grüße, 世界 🦙")
    w.add_key_value("test.string_nul", "a\0b", T.STRING)
    w.add_string("test.empty_string", "")
    w.add_uint32("test.small_u32", 7)
    w.add_array("test.strings", ["<unk>", "▁the", "", "Ġworld", "\n"])
    w.add_key_value("test.i32s", [1, -2, 2147483647, -2147483648], T.ARRAY, T.INT32)
    w.add_key_value("test.u8s", [0, 1, 255], T.ARRAY, T.UINT8)
    w.add_key_value("test.i64s", [5, -6, 2 ** 40], T.ARRAY, T.INT64)
    w.add_key_value("test.f32s", [0.0, -1.5, 3.25, 1e-30], T.ARRAY, T.FLOAT32)
    w.add_key_value("test.bools", [True, False, True], T.ARRAY, T.BOOL)

    tensors = []

    def add(name, data, qtype):
        if qtype in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            w.add_tensor(name, data.astype(np.float32 if qtype == gguf.GGMLQuantizationType.F32 else np.float16))
        else:
            q = gguf.quants.quantize(data.astype(np.float32), qtype)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qtype)
        tensors.append(name)

    add("f32.vector", rng.standard_normal(10), gguf.GGMLQuantizationType.F32)
    add("f16.matrix", rng.standard_normal((3, 5)), gguf.GGMLQuantizationType.F16)
    add("q8_0.weight", rng.standard_normal((4, 64)), gguf.GGMLQuantizationType.Q8_0)
    add("q4_0.weight", rng.standard_normal((2, 3, 32)), gguf.GGMLQuantizationType.Q4_0)
    add("f32.4d", rng.standard_normal((2, 1, 3, 2)), gguf.GGMLQuantizationType.F32)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    r = gguf.GGUFReader(path)
    raw = open(path, "rb").read()
    meta = {"keys": {}, "tensors": [], "offsets": {}, "data_offset": int(r.data_offset), "alignment": int(r.alignment), "size": len(raw)}
    for k, f in r.fields.items():
        if k.startswith("GGUF."):
            continue
        vt = f.types[0]
        entry = {"type": vt.name}
        if vt == T.ARRAY:
            entry["array_type"] = f.types[1].name if len(f.types) > 1 else "INT32"
            if f.types[1:] and f.types[1] == T.STRING:
                entry["value"] = [bytes(f.parts[i]).decode("utf-8") for i in f.data]
            else:
                entry["value"] = [f.parts[i][0].item() for i in f.data]
        elif vt == T.STRING:
            entry["value"] = bytes(f.parts[f.data[0]]).decode("utf-8")
        else:
            entry["value"] = f.parts[f.data[0]][0].item()
        meta["keys"][k] = entry
        # file offset of this entry's key length, and of its value
        meta["offsets"][k] = {"entry": int(f.offset),
                              "value": int(f.offset) + 8 + len(k.encode()) + 4}
    for t in r.tensors:
        # ReaderTensor.data_offset is from the start of the file
        start = int(t.data_offset)
        data = raw[start:start + int(t.n_bytes)]
        # the info's field layout: name_len, name, n_dims, dims, type, offset
        info = int(t.field.offset)
        name_len = len(t.name.encode())
        n_dims = len(t.shape)
        type_at = info + 8 + name_len + 4 + 8 * n_dims
        meta["tensors"].append({
            "name": t.name, "ne": [int(x) for x in t.shape], "type": t.tensor_type.name,
            "type_id": int(t.tensor_type), "offset": start - int(r.data_offset), "n_bytes": int(t.n_bytes),
            "sha256": hashlib.sha256(data).hexdigest(),
            "info_at": info, "type_at": type_at, "offset_at": type_at + 4,
        })
    with open(os.path.join(out, "small.json"), "w") as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {path} ({len(raw)} bytes) and small.json")


if __name__ == "__main__":
    main()
