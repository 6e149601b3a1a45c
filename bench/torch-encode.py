#!/usr/bin/env python3
"""PyTorch/transformers' side of the vision encode comparison
(bench/compare-encode.sh): the same llava-hf checkpoint's CLIP tower and
projector on one picture, as LlavaForConditionalGeneration computes its
image features (the configured feature layer, CLS dropped for "default",
then the projector).

  torch-encode.py LLAVA_DIR PICTURE [bf16|fp32] [REPEATS]

Prints "key: value" lines: torch_preprocess_ms (CLIPImageProcessor on the
host) and torch_encode_and_bridge_ms (tower + projector), medians of
REPEATS runs after one warm-up, with torch's threads = the machine's cores.
A developer tool: CI never runs it."""
import os
import statistics
import sys
import time

import torch
from PIL import Image
from transformers import CLIPImageProcessor, LlavaForConditionalGeneration


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    model_dir, picture = sys.argv[1], sys.argv[2]
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[sys.argv[3] if len(sys.argv) > 3 else "bf16"]
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    torch.set_num_threads(os.cpu_count())
    model = LlavaForConditionalGeneration.from_pretrained(model_dir, dtype=dtype).eval()
    cfg = model.config
    inner = getattr(model, "model", model)          # transformers >= 4.52 keeps the parts in .model
    tower, projector = inner.vision_tower, inner.multi_modal_projector
    processor = CLIPImageProcessor.from_pretrained(model_dir)
    image = Image.open(picture).convert("RGB")

    def preprocess():
        return processor(image, return_tensors="pt").pixel_values.to(dtype)

    def encode(pixels):
        with torch.inference_mode():
            hidden = tower(pixels, output_hidden_states=True).hidden_states[cfg.vision_feature_layer]
            if cfg.vision_feature_select_strategy == "default":
                hidden = hidden[:, 1:]
            return projector(hidden)

    def timed(fn, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        return out, (time.perf_counter() - t0) * 1e3

    pixels = preprocess()
    feats = encode(pixels)                          # warm-up
    pre_ms, enc_ms = [], []
    for _ in range(repeats):
        pixels, ms = timed(preprocess)
        pre_ms.append(ms)
        feats, ms = timed(encode, pixels)
        enc_ms.append(ms)
    print("torch_dtype: %s" % str(dtype).replace("torch.", ""))
    print("torch_threads: %d" % torch.get_num_threads())
    print("torch_image_tokens: %d" % feats.shape[1])
    print("torch_preprocess_ms: %.1f" % statistics.median(pre_ms))
    print("torch_encode_and_bridge_ms: %.1f" % statistics.median(enc_ms))


if __name__ == "__main__":
    main()
