#!/usr/bin/env python3
"""Fixtures for the unified framework's adapter variants: a Q-Former's query
embeddings are the visual input of a LLaMA-Adapter V2-style adapter, whose
prompts are attended to inside the last layers of a LLaMA.

The pieces are the committed fixtures: the InstructBLIP-tiny Q-Former's
queries for its image, with and without text conditioning (recorded by
tools/make_blip_fixtures.py from transformers), and the LLaMA of
adapter-tiny (tools/make_adapter_fixtures.py). This script makes a random
adapter whose clip_dim is the queries' width (V2 layout: biases and norms,
no LoRA), converts it with tools/convert_llama_adapter.py, and records the
reference computed by make_adapter_fixtures.py's PyTorch implementation of
model-spec section 5 (visual queries, adapted attention):

  tests/fixtures/unified-tiny/adapter/       the converted adapter
  tests/fixtures/unified-tiny/reference.*    queries in, vq, prompts, logits, greedy ids and text per variant

Usage: tools/make_unified_fixtures.py [--out DIR]
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_adapter_fixtures as maf  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
UNI = dict(query_len=3, query_layer=2, v_embed_dim=24, v_depth=1, v_num_heads=4, v_mlp_ratio=4.0, lora_rank=4)
VARIANTS = {"text": "projected", "notext": "projected_noinstr"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(FIXTURES, "unified-tiny"))
    args = ap.parse_args()
    torch.manual_seed(11)
    torch.set_num_threads(1)
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)

    blip_ref = load_file(os.path.join(FIXTURES, "instructblip-tiny", "reference.safetensors"))
    with open(os.path.join(FIXTURES, "instructblip-tiny", "reference.json"), encoding="utf-8") as f:
        instruction = json.load(f)["instruction"]
    base = {k: v.float() for k, v in load_file(os.path.join(FIXTURES, "adapter-tiny", "llama",
                                                             "model.safetensors")).items()}
    width = blip_ref["projected"].shape[1]

    a = maf.adapter_v2(c=UNI, llm=maf.LLM, clip_dim=width, lora=False)
    with tempfile.TemporaryDirectory() as tmp:
        pth = os.path.join(tmp, "unified_adapter.pth")
        torch.save({"model": a, "config": {"w_bias": True, "w_lora": False, "lora_rank": UNI["lora_rank"]}}, pth)
        maf.conv.convert_adapter(argparse.Namespace(weights=pth, out=os.path.join(args.out, "adapter"),
                                                    version="v2-multimodal", query_len=UNI["query_len"],
                                                    v_depth=UNI["v_depth"], v_num_heads=UNI["v_num_heads"],
                                                    v_mlp_ratio=UNI["v_mlp_ratio"]))

    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(FIXTURES, "adapter-tiny", "llama", "tokenizer.json"))
    prompt_text = maf.ALPACA.format(instruction=instruction)
    ids = tok.encode(prompt_text).ids
    assert ids[0] == 1, "the converted tokenizer adds BOS"
    w = dict(base)
    w.update({k[len("llama."):]: v for k, v in a.items() if k.startswith("llama.")})
    first = maf.LLM["n_layers"] - UNI["query_layer"]
    qv = a["adapter_query.weight"].view(UNI["query_layer"], UNI["query_len"], maf.LLM["dim"])
    gates = {first + j: torch.tanh(a["llama.layers.%d.attention.gate" % (first + j)].view(-1))
             for j in range(UNI["query_layer"])}

    rec = {"input_ids": torch.tensor(ids, dtype=torch.int64)}
    meta = {"generator": "tools/make_unified_fixtures.py", "torch_version": torch.__version__,
            "instruction": instruction, "template": maf.ALPACA, "first_adapted_layer": first,
            "queries_from": "instructblip-tiny/reference.safetensors", "llm": "adapter-tiny/llama"}
    with torch.no_grad():
        for name, key in VARIANTS.items():
            queries = blip_ref[key].float()
            vq = maf.visual_queries(a, queries, c=UNI)
            prompts = {first + j: qv[j] + vq for j in range(UNI["query_layer"])}

            def fwd(t, prompts=prompts):
                return maf.llama_forward(w, maf.LLM, t, prompts, gates)
            logits = fwd(torch.tensor(ids))
            g = maf.greedy(fwd, ids)
            rec.update({"queries_" + name: queries.contiguous(), "vq_" + name: vq.contiguous(),
                        "prompts_" + name: torch.cat([prompts[i] for i in sorted(prompts)]).contiguous(),
                        "logits_" + name: logits.contiguous(), "greedy_" + name: torch.tensor(g, dtype=torch.int64)})
            meta["greedy_" + name] = g
            meta["greedy_text_" + name] = tok.decode(g, skip_special_tokens=True)
    meta["greedy_min_margins"] = maf.MARGINS
    assert min(maf.MARGINS) > 1e-3, "a greedy continuation is too close to a tie to be a stable fixture"
    save_file(rec, os.path.join(args.out, "reference.safetensors"))
    with open(os.path.join(args.out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    print("unified-tiny: greedy text-conditioned %s, without %s" % (meta["greedy_text"], meta["greedy_notext"]))


if __name__ == "__main__":
    main()
