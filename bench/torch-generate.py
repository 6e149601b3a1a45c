#!/usr/bin/env python3
"""PyTorch/transformers' side of a whole-path comparison with vtp-bench:
a BLIP-2 checkpoint (any language model transformers pairs with it: OPT,
Flan-T5, LLaMA) describing one picture with greedy generate, as
Blip2ForConditionalGeneration runs it.

  torch-generate.py BLIP2_DIR PICTURE [bf16|fp32] [NEW_TOKENS] [REPEATS]

Prints "key: value" lines, medians of REPEATS runs after one warm-up,
torch's threads = the machine's cores:
  torch_encode_ms       vision tower + Q-Former + language projection
  torch_prompt_positions  the language model's prompt: the 32 queries, BOS
                        and the prompt (vtp-bench's prompt_tokens)
  torch_first_token_ms  generate with max_new_tokens=1 (the picture encoded,
                        the prompt prefilled, one token chosen)
  torch_decode_tokens_per_s  (NEW_TOKENS - 1) / (generate of NEW_TOKENS
                        forced with min_new_tokens, less the first token's run)
A developer tool: CI never runs it."""
import os
import statistics
import sys
import time

import torch
from PIL import Image
from tokenizers import Tokenizer
from transformers import Blip2ForConditionalGeneration, Blip2Processor


# vtp-bench's prompt (bench/vtp-bench.c), which it gives a BLIP-2 model as
# it is (the plain template), so that both sides prefill the same positions
PROMPT = "What is in the picture? Describe it in detail."


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    model_dir, picture = sys.argv[1], sys.argv[2]
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[sys.argv[3] if len(sys.argv) > 3 else "bf16"]
    new_tokens = int(sys.argv[4]) if len(sys.argv) > 4 else 32
    repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    torch.set_num_threads(os.cpu_count())
    t0 = time.perf_counter()
    model = Blip2ForConditionalGeneration.from_pretrained(model_dir, dtype=dtype).eval()
    load_s = time.perf_counter() - t0
    processor = Blip2Processor.from_pretrained(model_dir)
    inputs = processor(images=Image.open(picture).convert("RGB"), return_tensors="pt")
    inputs["pixel_values"] = inputs["pixel_values"].to(dtype)
    # The language model's input as vtp-bench builds it: the 32 projected
    # queries, then the prompt as the checkpoint's tokenizer.json tokenizes
    # it (the tokenizers library: the file both engines read; transformers
    # 5's AutoTokenizer rebuilt the bench T5's pipeline without its
    # Metaspace step, 38 tokens against the file's 30). generate() puts the
    # queries where input_ids holds the image token (masked_scatter) and
    # silently drops them where it holds none, which the processor's text
    # path gave for the bench models (no num_query_tokens in their
    # processor config): before 2026-12-06 the language model here ran on
    # the text alone, 24 positions against vtp's 56.
    n_q, image_id = model.config.num_query_tokens, model.config.image_token_id
    text_ids = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json")).encode(PROMPT).ids
    ids = torch.tensor([[image_id] * n_q + text_ids], dtype=torch.long)
    inputs["input_ids"] = ids
    inputs["attention_mask"] = torch.ones_like(ids)
    print("torch_prompt_positions: %d" % ids.shape[1])

    def encode():
        with torch.inference_mode():
            vision = model.vision_model(pixel_values=inputs["pixel_values"]).last_hidden_state
            queries = model.query_tokens.expand(vision.shape[0], -1, -1)
            q = model.qformer(query_embeds=queries, encoder_hidden_states=vision).last_hidden_state
            return model.language_projection(q)

    def generate(n):
        with torch.inference_mode():
            return model.generate(**inputs, max_new_tokens=n, min_new_tokens=n, do_sample=False)

    def timed(fn, *args):
        t = time.perf_counter()
        fn(*args)
        return (time.perf_counter() - t) * 1e3

    encode()
    generate(2)                                         # warm-up
    enc = [timed(encode) for _ in range(repeats)]
    first = [timed(generate, 1) for _ in range(repeats)]
    full = [timed(generate, new_tokens) for _ in range(repeats)]
    decode_ms = statistics.median(full) - statistics.median(first)
    print("torch_dtype: %s" % str(dtype).replace("torch.", ""))
    print("torch_threads: %d" % torch.get_num_threads())
    print("torch_load_s: %.1f" % load_s)
    print("torch_encode_ms: %.1f" % statistics.median(enc))
    print("torch_first_token_ms: %.1f" % statistics.median(first))
    print("torch_decode_tokens_per_s: %.2f" % ((new_tokens - 1) / (decode_ms / 1e3)))


if __name__ == "__main__":
    main()
