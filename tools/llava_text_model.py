#!/usr/bin/env python3
"""Writes the language model of a llava-hf checkpoint directory as a plain
Llama directory (LlamaForCausalLM layout), the form llama.cpp's
convert_hf_to_gguf.py takes: config.json (the text config, with
`architectures`), model.safetensors (the same tensors, renamed, bytes
unchanged), and the tokenizer padded with unused added tokens to the
embedding's row count (llava-1.5 pads its vocabulary to 32064; the converter
wants one token per row).

    python3 tools/llava_text_model.py LLAVA_DIR OUT_DIR

Used by bench/compare-llamacpp.sh so that vtp (on LLAVA_DIR) and llama.cpp
(on the GGUF converted from OUT_DIR) decode with the same weights."""
import argparse
import json
import os

from safetensors import safe_open
from safetensors.torch import save_file
from tokenizers import AddedToken, Tokenizer

PREFIXES = [  # llava-hf as published (transformers 4), then transformers 5's state dict
    ("language_model.model.", "model."), ("language_model.lm_head.", "lm_head."),
    ("model.language_model.", "model."), ("lm_head.", "lm_head."),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("llava")
    ap.add_argument("out")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.llava, "config.json")) as f:
        config = json.load(f)
    text = dict(config["text_config"])
    text["architectures"] = ["LlamaForCausalLM"]
    text.setdefault("model_type", "llama")
    text.setdefault("torch_dtype", "float16")
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(text, f, indent=2)

    # one output file a shard (a 7B model is not held in memory at once)
    index = os.path.join(args.llava, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
    else:
        shards = ["model.safetensors"]
    weight_map, rows, n_tensors = {}, None, 0
    for shard in shards:
        tensors = {}
        with safe_open(os.path.join(args.llava, shard), "pt") as f:
            for name in f.keys():
                for src, dst in PREFIXES:
                    if name.startswith(src):
                        tensors[dst + name[len(src):]] = f.get_tensor(name)
                        break
        if not tensors:
            continue
        if "model.embed_tokens.weight" in tensors:
            rows = tensors["model.embed_tokens.weight"].shape[0]
        out_name = "model.safetensors" if len(shards) == 1 else shard
        save_file(tensors, os.path.join(args.out, out_name), metadata={"format": "pt"})
        weight_map.update({k: out_name for k in tensors})
        n_tensors += len(tensors)
        del tensors
    if len(shards) > 1:
        with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)

    tok = Tokenizer.from_file(os.path.join(args.llava, "tokenizer.json"))
    extra = [AddedToken("<unused_%d>" % i, special=True) for i in range(rows - tok.get_vocab_size())]
    if extra:
        tok.add_special_tokens(extra)
    tok.save(os.path.join(args.out, "tokenizer.json"))
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
                   "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": False}, f, indent=2)
    print("%s: %d tensors, vocabulary %d (%d padding tokens)" % (args.out, n_tensors, tok.get_vocab_size(),
                                                                  len(extra)))


if __name__ == "__main__":
    main()
