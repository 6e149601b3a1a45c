#!/usr/bin/env python3
"""Builds the LLaVA fidelity fixtures from HuggingFace transformers (the
numerical reference): tiny random-weight LlavaForConditionalGeneration models
saved in the published llava-hf layout, with the reference's intermediate
tensors, logits and greedy continuation; plus CLIPImageProcessor outputs for
the real LLaVA-1.5 preprocessing on images of many sizes.

    python3 tools/make_llava_fixtures.py            # writes tests/fixtures/llava-*, preprocess-clip

Outputs per model fixture directory:
  config.json, model*.safetensors (+ index when sharded), tokenizer.json,
  preprocessor_config.json, ...  -- the checkpoint, as a user would have it
  image.png                      -- the input image
  reference.safetensors          -- tensors recorded from transformers (fp32)
  reference.json                 -- prompt, ids and settings of the recording
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from transformers import (CLIPImageProcessorPil, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                          LlavaForConditionalGeneration, LlavaProcessor, PreTrainedTokenizerFast)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import add_special, published_name, synthetic_image, train_llama_tokenizer  # noqa: E402

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
PROMPT = "What is in the picture?"
TEMPLATE = "USER: <image>\n{prompt} ASSISTANT:"
N_GREEDY = 20

# Two tiny configurations. A: multi-head attention, "default" strategy,
# layer -2, the names published on the hub (llava-hf), one file.
# B: grouped-query attention, non-square dims, "full" strategy with two
# feature layers concatenated, tied embeddings, rope_theta 5e5, the
# names of transformers' state dict, three shards with an index.
CONFIGS = {
    "llava-tiny-a": dict(
        vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                    image_size=30, patch_size=6),
        text=dict(hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=4, rms_norm_eps=1e-5, max_position_embeddings=256),
        llava=dict(vision_feature_layer=-2, vision_feature_select_strategy="default"),
        image=(45, 37), seed=1, layout="llava-hf", shards=1, tie=False, init=0.15),
    "llava-tiny-b": dict(
        vision=dict(hidden_size=40, intermediate_size=72, num_hidden_layers=4, num_attention_heads=5,
                    image_size=28, patch_size=7, layer_norm_eps=1e-6),
        text=dict(hidden_size=64, intermediate_size=112, num_hidden_layers=3, num_attention_heads=8,
                  num_key_value_heads=2, rms_norm_eps=1e-6, max_position_embeddings=200,
                  rope_parameters={"rope_type": "default", "rope_theta": 500000.0}),
        llava=dict(vision_feature_layer=[-3, -1], vision_feature_select_strategy="full"),
        image=(23, 61), seed=2, layout="state-dict", shards=3, tie=True, init=0.15),
}

# Sizes (width, height) for the CLIP preprocessing fixture: down- and
# up-scaling, both orientations, extreme aspect ratios, exact size.
PREPROCESS_SIZES = [(640, 480), (480, 640), (1000, 337), (100, 80), (336, 336), (801, 599), (17, 500),
                    (337, 336)]


def save_checkpoint(model, out_dir, layout, n_shards):
    """Writes the weights as model.safetensors, or as n_shards files
    model-0000i-of-0000n.safetensors with model.safetensors.index.json, in
    the given name layout; then checks transformers loads them back exactly."""
    for f in os.listdir(out_dir):
        if f.startswith("model") and ("safetensors" in f):
            os.remove(os.path.join(out_dir, f))
    state = {published_name(k, layout): v.detach().contiguous() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop(published_name("lm_head.weight", layout))
    names = list(state)
    if n_shards == 1:
        save_file(state, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    else:
        weight_map, total = {}, 0
        for i in range(n_shards):
            fname = "model-%05d-of-%05d.safetensors" % (i + 1, n_shards)
            part = {k: state[k] for k in names[i::n_shards]}
            save_file(part, os.path.join(out_dir, fname), metadata={"format": "pt"})
            for k, v in part.items():
                weight_map[k] = fname
                total += v.numel() * v.element_size()
        with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
    again = LlavaForConditionalGeneration.from_pretrained(out_dir).eval()
    mine, theirs = model.state_dict(), again.state_dict()
    assert mine.keys() == theirs.keys()
    for k in mine:
        assert torch.equal(mine[k], theirs[k]), k


def make_processor(tok, image_size, strategy, patch_size):
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", pad_token="<pad>")
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size},
        do_center_crop=True, resample=3, image_mean=CLIP_MEAN, image_std=CLIP_STD)
    return LlavaProcessor(image_processor=image_processor, tokenizer=fast, patch_size=patch_size,
                          vision_feature_select_strategy=strategy, image_token="<image>",
                          num_additional_image_tokens=1)


def greedy_margins(scores):
    """Smallest gap between the best and second-best logit over the steps."""
    gaps = []
    for s in scores:
        top = torch.topk(s[0].float(), 2).values
        gaps.append(float(top[0] - top[1]))
    return min(gaps)


def build_model_fixture(name, spec, out_dir):
    torch.manual_seed(spec["seed"])
    tok = train_llama_tokenizer()
    image_token = add_special(tok, "<image>")
    pad_token = add_special(tok, "<pad>")
    vocab = ((tok.get_vocab_size() + 63) // 64) * 64         # padded like llava's 32064

    vision = CLIPVisionConfig(**spec["vision"])
    text = LlamaConfig(vocab_size=vocab, bos_token_id=1, eos_token_id=2, pad_token_id=pad_token,
                       tie_word_embeddings=spec["tie"], initializer_range=spec["init"], **spec["text"])
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_index=image_token,
                         image_seq_length=(spec["vision"]["image_size"] // spec["vision"]["patch_size"]) ** 2,
                         projector_hidden_act="gelu", tie_word_embeddings=spec["tie"], **spec["llava"])
    config.pad_token_id = pad_token
    config.initializer_range = spec["init"]
    vision.initializer_range = spec["init"]
    model = LlavaForConditionalGeneration(config).eval()
    # Random init leaves norms at 1 and biases at 0: perturb them so that a
    # swapped weight/bias or a skipped norm cannot pass unnoticed.
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("bias") or "norm" in pname or "layrnorm" in pname:
                p.add_(torch.randn_like(p) * 0.1)
            if "class_embedding" in pname or "position_embedding" in pname:
                p.normal_(0, 0.5)
    model.generation_config.pad_token_id = pad_token

    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    model.save_pretrained(out_dir)
    save_checkpoint(model, out_dir, spec["layout"], spec["shards"])
    processor = make_processor(tok, spec["vision"]["image_size"], spec["llava"]["vision_feature_select_strategy"],
                               spec["vision"]["patch_size"])
    processor.save_pretrained(out_dir)
    if spec["layout"] == "llava-hf":
        # as published: the image processor in its own preprocessor_config.json
        with open(os.path.join(out_dir, "processor_config.json")) as f:
            proc_cfg = json.load(f)
        with open(os.path.join(out_dir, "preprocessor_config.json"), "w") as f:
            json.dump(dict(proc_cfg.pop("image_processor"), processor_class="LlavaProcessor"), f, indent=2)
        with open(os.path.join(out_dir, "processor_config.json"), "w") as f:
            json.dump(proc_cfg, f, indent=2)
    w, h = spec["image"]
    image = synthetic_image(w, h, seed=spec["seed"] * 100)
    Image.fromarray(image).save(os.path.join(out_dir, "image.png"))
    text_in = TEMPLATE.format(prompt=PROMPT)
    inputs = processor(images=Image.fromarray(image), text=text_in, return_tensors="pt")

    with torch.no_grad():
        vis = model.model.vision_tower(inputs["pixel_values"], output_hidden_states=True)
        hidden = torch.stack([hs[0] for hs in vis.hidden_states])           # [layers + 1, T, Dv]
        selected = model.model.get_image_features(
            inputs["pixel_values"], vision_feature_layer=config.vision_feature_layer,
            vision_feature_select_strategy=config.vision_feature_select_strategy,
            output_hidden_states=True)
        layer = config.vision_feature_layer
        layers = [layer] if isinstance(layer, int) else layer
        feats = torch.cat([vis.hidden_states[i][0] for i in layers], dim=-1)
        if config.vision_feature_select_strategy == "default":
            feats = feats[1:]
        projected = model.model.multi_modal_projector(feats[None])[0]
        assert torch.allclose(projected, selected.pooler_output[0], atol=0, rtol=0)
        logits = model(**inputs).logits[0]
        gen = model.generate(**inputs, max_new_tokens=N_GREEDY, do_sample=False, output_scores=True,
                             return_dict_in_generate=True)
    new_tokens = gen.sequences[0, inputs["input_ids"].shape[1]:]
    margin = greedy_margins(gen.scores)

    save_file({
        "image": torch.from_numpy(image.copy()),
        "pixel_values": inputs["pixel_values"][0].contiguous(),
        "vision_hidden_states": hidden.contiguous(),
        "vision_features": feats.contiguous(),
        "projector_output": projected.contiguous(),
        "input_ids": inputs["input_ids"][0].to(torch.int64).contiguous(),
        "logits": logits.contiguous(),
        "greedy_tokens": new_tokens.to(torch.int64).contiguous(),
    }, os.path.join(out_dir, "reference.safetensors"))
    meta = {
        "generator": "tools/make_llava_fixtures.py",
        "transformers_version": __import__("transformers").__version__,
        "torch_version": torch.__version__,
        "prompt": PROMPT, "template": TEMPLATE, "text": text_in,
        "image_size": [w, h], "image_token_index": image_token,
        "n_image_tokens": int((inputs["input_ids"][0] == image_token).sum()),
        "greedy_text": processor.tokenizer.decode(new_tokens, skip_special_tokens=True),
        "greedy_min_margin": margin,
        "max_new_tokens": N_GREEDY,
    }
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("%s: %d prompt tokens (%d image), vocab %d, greedy %s (min top-2 margin %.4f)"
          % (name, inputs["input_ids"].shape[1], meta["n_image_tokens"], vocab, new_tokens.tolist(), margin))
    assert margin > 1e-3, "greedy continuation too close to a tie to be a stable fixture"


def build_preprocess_fixture(out_dir):
    """CLIPImageProcessor (PIL backend) with LLaVA-1.5's settings: the
    processed image is stored as uint8 (the exact pixel values before
    rescaling), after checking that it reproduces pixel_values exactly."""
    os.makedirs(out_dir, exist_ok=True)
    proc = CLIPImageProcessorPil(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336},
                                 do_center_crop=True, resample=3, image_mean=CLIP_MEAN, image_std=CLIP_STD)
    tensors, cases = {}, []
    for i, (w, h) in enumerate(PREPROCESS_SIZES):
        # per-pixel noise only on the small images: it keeps the PNGs small
        image = synthetic_image(w, h, seed=1000 + i, noise=12 if w * h < 200000 else 0)
        Image.fromarray(image).save(os.path.join(out_dir, "image-%d.png" % i))
        pv = proc(images=Image.fromarray(image), return_tensors="np")["pixel_values"][0]   # [3, 336, 336]
        mean = np.array(CLIP_MEAN, dtype=np.float32)[:, None, None]
        std = np.array(CLIP_STD, dtype=np.float32)[:, None, None]
        u = (pv * std + mean) * 255.0
        u8 = np.rint(u)
        assert np.abs(u - u8).max() < 1e-3, "pixel values are not an exact uint8 image"
        rebuilt = ((u8.astype(np.float32) / np.float32(255.0)) - mean) / std
        assert np.abs(rebuilt - pv).max() < 1e-6
        tensors["processed-%d" % i] = torch.from_numpy(u8.astype(np.uint8).copy())
        cases.append({"file": "image-%d.png" % i, "width": w, "height": h})
    save_file(tensors, os.path.join(out_dir, "reference.safetensors"))
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump({"generator": "tools/make_llava_fixtures.py", "processor": "CLIPImageProcessorPil",
                   "size": {"shortest_edge": 336}, "crop": True,
                   "crop_size": {"height": 336, "width": 336},
                   "resample": "bicubic", "image_mean": CLIP_MEAN, "image_std": CLIP_STD,
                   "note": "processed-N is the uint8 image [3, 336, 336] that, rescaled by 1/255 and "
                           "normalized, gives transformers' pixel_values (checked at generation to 1e-6)",
                   "cases": cases}, f, indent=1)
    print("preprocess-clip: %d images" % len(cases))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    for name, spec in CONFIGS.items():
        build_model_fixture(name, spec, os.path.join(args.out, name))
    build_preprocess_fixture(os.path.join(args.out, "preprocess-clip"))


if __name__ == "__main__":
    main()
