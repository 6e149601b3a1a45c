#!/usr/bin/env python3
"""Writes a copy of a GGUF file (an mmproj file of llama.cpp's LLaVA pair)
with its matrices quantized by the gguf package's reference quantizer
(gguf.quants, bit-identical to llama.cpp's quantize_row_*_ref): llama.cpp's
LLaVA converters write F16/F32 mmproj files only, and llama-quantize does
not take mmproj files, so this is how a quantized mmproj is made for the
tests.

    python3 tools/quantize_mmproj.py IN.gguf OUT.gguf [q8_0|q4_0]

Every linear layer's matrix (the tower's attn_* and ffn_* weights, the
projector's mm.* weights) whose rows (ggml's first dimension) are whole
blocks of 32 is quantized from its float values; the others (the patch
embedding, vectors, position embeddings) are copied as they are, and so is every
metadata key (general.file_type set to the new type)."""
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

FILE_TYPE = {Q.Q8_0: gguf.LlamaFileType.MOSTLY_Q8_0, Q.Q4_0: gguf.LlamaFileType.MOSTLY_Q4_0}


def field_value(field):
    """A metadata field's value as GGUFWriter.add_key_value takes it."""
    types = field.types
    if types[0] == gguf.GGUFValueType.ARRAY:
        return [field.contents(i) for i in range(len(field.data))], types[0], types[1]
    return field.contents(), types[0], None


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    qtype = {"q8_0": Q.Q8_0, "q4_0": Q.Q4_0}[sys.argv[3] if len(sys.argv) > 3 else "q8_0"]
    reader = gguf.GGUFReader(src)
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(dst, arch)
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        value, vtype, sub = field_value(field)
        if name == "general.file_type":
            value = int(FILE_TYPE[qtype])
        writer.add_key_value(name, value, vtype, sub_type=sub)
    for t in reader.tensors:
        shape = [int(d) for d in reversed(t.shape)]              # numpy order: rows first
        data = t.data
        linear = t.name.endswith(".weight") and (".attn_" in t.name or ".ffn_" in t.name or t.name.startswith("mm."))
        if linear and t.tensor_type in (Q.F32, Q.F16) and len(shape) == 2 and shape[1] % 32 == 0:
            values = np.asarray(data, dtype=np.float32).reshape(shape)
            q = gguf.quants.quantize(values, qtype)
            writer.add_tensor(t.name, q, raw_shape=q.shape, raw_dtype=qtype)
        else:
            writer.add_tensor(t.name, np.asarray(data), raw_dtype=t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main()
