#!/usr/bin/env python3
"""Converts the official LLaMA-Adapter release files into the safetensors
directories vtp reads (docs/llama-adapter.md describes the layouts).

    # Meta LLaMA: consolidated.00.pth + params.json + tokenizer.model
    python3 tools/convert_llama_adapter.py llama --checkpoint-dir /dl/llama/7B \\
        --tokenizer /dl/llama/tokenizer.model --out /models/llama-7b
    # OpenAI CLIP (the clip package's ViT-L-14.pt, TorchScript or a state dict)
    python3 tools/convert_llama_adapter.py clip --weights /dl/ViT-L-14.pt --out /models/clip-vit-large-patch14
    # the adapter: LLaMA-Adapter V2 multimodal (default) or V1
    python3 tools/convert_llama_adapter.py adapter --weights /dl/7fa55208379faf2dd862565284101b0e4a2a72114d6490a95e432cf9d9b6c813_BIAS-7B.pth \\
        --out /models/llama-adapter-v2-multimodal7b
    python3 tools/convert_llama_adapter.py adapter --version v1 --weights /dl/llama_adapter_len10_layer30_release.pth \\
        --out /models/llama-adapter-v1

Tensor names are kept as the release files have them (Meta names for LLaMA,
OpenAI's visual.* for CLIP, the adapter's own); what the files leave to the
code (dimensions, hyperparameters) goes into config.json. Only single-shard
LLaMA checkpoints (7B) are handled.
"""
import argparse
import json
import math
import os

import torch
from safetensors.torch import save_file


def save(tensors, out_dir, config, name="model.safetensors"):
    os.makedirs(out_dir, exist_ok=True)
    tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(out_dir, name), metadata={"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def ffn_hidden(dim, multiple_of, ffn_dim_multiplier=None):
    """The FFN width Meta's code derives from params.json."""
    hidden = int(2 * (4 * dim) / 3)
    if ffn_dim_multiplier is not None:
        hidden = int(ffn_dim_multiplier * hidden)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


def convert_tokenizer(model_file, out_dir):
    """tokenizer.model (sentencepiece) -> tokenizer.json, by transformers'
    own conversion (BOS added, the Llama decoder). It agrees with
    sentencepiece except on runs of leading spaces, a known difference."""
    import shutil
    import tempfile
    from transformers import LlamaTokenizer
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(model_file, os.path.join(tmp, "tokenizer.model"))
        tok = LlamaTokenizer.from_pretrained(tmp, legacy=True, add_bos_token=True)
        tok.backend_tokenizer.save(os.path.join(out_dir, "tokenizer.json"))
    return len(tok)


def convert_llama(args):
    with open(os.path.join(args.checkpoint_dir, "params.json")) as f:
        params = json.load(f)
    shards = sorted(p for p in os.listdir(args.checkpoint_dir) if p.startswith("consolidated.") and p.endswith(".pth"))
    if len(shards) != 1:
        raise SystemExit("%s has %d consolidated shards; only single-shard checkpoints are handled" %
                         (args.checkpoint_dir, len(shards)))
    state = torch.load(os.path.join(args.checkpoint_dir, shards[0]), map_location="cpu", weights_only=True)
    state.pop("rope.freqs", None)
    os.makedirs(args.out, exist_ok=True)
    n_vocab = convert_tokenizer(args.tokenizer, args.out)
    dim, n_heads = params["dim"], params["n_heads"]
    vocab = params.get("vocab_size", -1)
    if vocab <= 0:
        vocab = state["tok_embeddings.weight"].shape[0]
    config = {
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "weight_layout": "meta",
        "hidden_size": dim, "num_hidden_layers": params["n_layers"], "num_attention_heads": n_heads,
        "num_key_value_heads": params.get("n_kv_heads", n_heads),
        "intermediate_size": ffn_hidden(dim, params.get("multiple_of", 256), params.get("ffn_dim_multiplier")),
        "rms_norm_eps": params.get("norm_eps", 1e-6), "rope_theta": params.get("rope_theta", 10000.0),
        "vocab_size": vocab, "max_position_embeddings": args.max_positions, "bos_token_id": 1, "eos_token_id": 2,
        "tie_word_embeddings": False, "hidden_act": "silu", "torch_dtype": str(next(iter(state.values())).dtype)[6:],
    }
    assert n_vocab <= vocab, "the tokenizer has more tokens than the embeddings"
    save(state, args.out, config)
    print("%s: LLaMA %d layers, width %d, %d tensors, tokenizer %d tokens" % (args.out, params["n_layers"], dim,
                                                                            len(state), n_vocab))


def convert_clip(args):
    try:
        state = torch.jit.load(args.weights, map_location="cpu").state_dict()
    except RuntimeError:
        state = torch.load(args.weights, map_location="cpu", weights_only=True)
    visual = {k: v.float() if args.float32 else v for k, v in state.items() if k.startswith("visual.")}
    width = visual["visual.conv1.weight"].shape[0]
    patch = visual["visual.conv1.weight"].shape[-1]
    n_pos = visual["visual.positional_embedding"].shape[0]
    layers = len({k.split(".")[3] for k in visual if k.startswith("visual.transformer.resblocks.")})
    config = {
        "model_type": "openai_clip_vision", "hidden_size": width,
        "intermediate_size": visual["visual.transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
        "num_hidden_layers": layers, "num_attention_heads": args.heads or width // 64, "patch_size": patch,
        "image_size": patch * int(round(math.sqrt(n_pos - 1))), "projection_dim": visual["visual.proj"].shape[1],
        "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5,
    }
    save(visual, args.out, config)
    # LLaMA-Adapter's transform: torchvision Resize(S, bicubic) on the short
    # side, CenterCrop(S) (offsets rounded half to even), CLIP's mean/std.
    with open(os.path.join(args.out, "preprocessor_config.json"), "w") as f:
        json.dump({"image_processor_type": "torchvision", "size": {"shortest_edge": config["image_size"]},
                   "crop_size": {"height": config["image_size"], "width": config["image_size"]},
                   "do_center_crop": True, "crop_rounding": "round_half_even", "resample": 3,
                   "image_mean": [0.48145466, 0.4578275, 0.40821073],
                   "image_std": [0.26862954, 0.26130258, 0.27577711]}, f, indent=2)
    print("%s: CLIP visual, %d layers, width %d, %d px" % (args.out, layers, width, config["image_size"]))


def convert_adapter(args):
    ckpt = torch.load(args.weights, map_location="cpu", weights_only=True)
    model = ckpt.get("model", ckpt)
    given = ckpt.get("config", {}) if isinstance(ckpt.get("config"), dict) else {}
    if args.version == "v1":
        q = model["adapter_query.weight"]
        config = {"model_type": "llama_adapter", "version": "v1", "query_len": args.query_len,
                  "query_layer": q.shape[0] // args.query_len, "gate": "raw"}
    else:
        q = model["adapter_query.weight"]
        config = {
            "model_type": "llama_adapter", "version": "v2-multimodal", "gate": "tanh",
            "query_len": args.query_len, "query_layer": q.shape[0] // args.query_len,
            "clip_dim": model["clip_proj.weight"].shape[1],
            "v_embed_dim": model["clip_proj.weight"].shape[0], "v_depth": args.v_depth,
            "v_num_heads": args.v_num_heads, "v_mlp_ratio": args.v_mlp_ratio,
            "w_bias": bool(given.get("w_bias", any(k.endswith("wq.bias") for k in model))),
            "w_lora": bool(given.get("w_lora", any("lora" in k for k in model))),
            "lora_rank": int(given.get("lora_rank", 16)),
        }
    config["llm_dim"] = q.shape[1]
    save(model, args.out, config)
    print("%s: LLaMA-Adapter %s, %d tensors, %d adapted layers" % (args.out, config["version"], len(model),
                                                                   config["query_layer"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    a = sub.add_parser("llama")
    a.add_argument("--checkpoint-dir", required=True)
    a.add_argument("--tokenizer", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--max-positions", type=int, default=2048)
    a = sub.add_parser("clip")
    a.add_argument("--weights", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--heads", type=int, default=0, help="attention heads (default width / 64, as OpenAI's)")
    a.add_argument("--float32", action="store_true")
    a = sub.add_parser("adapter")
    a.add_argument("--weights", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--version", default="v2-multimodal", choices=["v2-multimodal", "v1"])
    a.add_argument("--query-len", type=int, default=10)
    a.add_argument("--v-depth", type=int, default=8)
    a.add_argument("--v-num-heads", type=int, default=16)
    a.add_argument("--v-mlp-ratio", type=float, default=4.0)
    args = ap.parse_args()
    {"llama": convert_llama, "clip": convert_clip, "adapter": convert_adapter}[args.what](args)


if __name__ == "__main__":
    main()
