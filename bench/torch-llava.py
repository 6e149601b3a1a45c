#!/usr/bin/env python3
"""PyTorch/transformers' side of bench/compare-gpu.sh: a llava-hf checkpoint
(tools/make_bench_model.py writes random ones) answering the prompt
vtp-bench uses -- BOS, "USER: ", the image tokens, "\\nWhat is in the
picture? Describe it in detail. ASSISTANT:" (vtp's LLaVA template) -- with
LlavaForConditionalGeneration's greedy generate on one picture.

  torch-llava.py DIR [--device cuda|cpu] [--dtype fp16|bf16|fp32]
                 [--new-tokens N] [--repeats R] [--compile]

Prints "key: value" lines, medians of R runs after a warm-up:
  torch_time_to_first_token_ms  generate with max_new_tokens=1: the picture
                                encoded and projected, the prompt prefilled,
                                one token chosen (vtp-bench's
                                time_to_first_token_ms counts the same steps)
  torch_decode_tokens_per_s     (N - 1) / (generate of N tokens, forced with
                                min_new_tokens, less the first token's run)
  with --compile also torch_compiled_*: the static KV cache and
  torch.compile(mode="reduce-overhead") on the forward, the fastest plain
  transformers configuration (it falls back to a "failed" line).
A developer tool: CI never runs it."""
import argparse
import json
import os
import statistics
import sys
import time

import torch
from tokenizers import Tokenizer
from transformers import LlavaForConditionalGeneration

QUESTION = "What is in the picture? Describe it in detail."


def prompt_ids(model_dir, cfg):
    """vtp's LLaVA prompt with the image token repeated once per patch row
    the projector hands the LLM (the class row dropped: "default")."""
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    vision = cfg["vision_config"]
    patches = (vision["image_size"] // vision["patch_size"]) ** 2
    if cfg.get("vision_feature_select_strategy", "default") == "full":
        patches += 1
    image = cfg.get("image_token_index", cfg.get("image_token_id"))
    bos = cfg["text_config"].get("bos_token_id", 1)
    before = tok.encode("USER: ", add_special_tokens=False).ids
    after = tok.encode("\n" + QUESTION + " ASSISTANT:", add_special_tokens=False).ids
    return [bos] + before + [image] * patches + after, vision["image_size"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", default=None, choices=["fp16", "bf16", "fp32"],
                    help="default: fp16 on a GPU, bf16 on the CPU")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--compile", action="store_true")
    args = ap.parse_args()
    dev = torch.device(args.device)
    name = args.dtype or ("fp16" if dev.type == "cuda" else "bf16")
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[name]
    if dev.type == "cpu":
        torch.set_num_threads(os.cpu_count())

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    ids, size = prompt_ids(args.model, cfg)
    t0 = time.perf_counter()
    model = LlavaForConditionalGeneration.from_pretrained(args.model, dtype=dtype).to(dev).eval()
    sync()
    print("torch_load_s: %.1f" % (time.perf_counter() - t0))
    print("torch_device: %s" % (torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu, %d threads"
                                % torch.get_num_threads()))
    print("torch_dtype: %s" % name)
    print("torch_version: %s" % torch.__version__)
    print("torch_prompt_tokens: %d" % len(ids))
    input_ids = torch.tensor([ids], device=dev)
    attention = torch.ones_like(input_ids)
    # the timings do not depend on the picture: a fixed random one, already normalized
    gen = torch.Generator().manual_seed(0)
    pixels = torch.randn(1, 3, size, size, generator=gen).to(dev, dtype)

    def run(n):
        sync()
        t = time.perf_counter()
        with torch.inference_mode():
            model.generate(input_ids=input_ids, attention_mask=attention, pixel_values=pixels, max_new_tokens=n,
                           min_new_tokens=n, do_sample=False)
        sync()
        return time.perf_counter() - t

    def measure(prefix):
        run(4)
        first = statistics.median(run(1) for _ in range(args.repeats))
        whole = statistics.median(run(args.new_tokens) for _ in range(args.repeats))
        print("%stime_to_first_token_ms: %.1f" % (prefix, first * 1e3))
        if whole > first:
            print("%sdecode_tokens_per_s: %.2f" % (prefix, (args.new_tokens - 1) / (whole - first)))
        else:       # a tiny model's decode hides in the noise of the picture's encode: no figure
            print("%sdecode_note: %d tokens took no longer than 1 (ask more --new-tokens)" % (prefix, args.new_tokens))
        if dev.type == "cuda":
            print("%speak_gpu_memory_mb: %.0f" % (prefix, torch.cuda.max_memory_allocated(dev) / 2**20))

    measure("torch_")
    if args.compile:
        try:
            model.generation_config.cache_implementation = "static"
            model.forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=False)
            run(8)              # compiles
            measure("torch_compiled_")
        except Exception as e:  # noqa: BLE001 -- a peer configuration that does not run is reported, not fatal
            print("torch_compiled: failed: %s %s" % (type(e).__name__, str(e)[:200].replace("\n", " ")))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
