#!/usr/bin/env python3
"""Builds the InstructBLIP and BLIP-2 fidelity fixtures from HuggingFace
transformers (the numerical reference): tiny random-weight
InstructBlipForConditionalGeneration and Blip2ForConditionalGeneration
models with a LLaMA language model, saved as the hub checkpoints are laid
out, with the reference's intermediate tensors, logits and greedy
continuations.

    python3 tools/make_blip_fixtures.py          # writes tests/fixtures/instructblip-tiny, blip2-tiny

reference.safetensors holds:
  image, pixel_values               the input and the processor's output
  vision_hidden_states, image_embeds the EVA tower (hidden states; post-LN last layer)
  qformer_input_ids                 the instruction, tokenized by the Q-Former's BERT tokenizer
  qformer_output, projected         query outputs of the Q-Former and their language projection
  input_ids, logits, greedy_tokens  the LLM input (query placeholders + BOS + prompt), its logits, 20 greedy tokens
and for InstructBLIP the same without text conditioning (queries only, as
BLIP-2 runs its Q-Former): qformer_output_noinstr, projected_noinstr,
logits_noinstr, greedy_tokens_noinstr.
"""
import argparse
import json
import os
import shutil
import sys

import torch
from PIL import Image
from safetensors.torch import save_file
from transformers import (Blip2Config, Blip2ForConditionalGeneration, Blip2Processor, Blip2QFormerConfig,
                          Blip2VisionConfig, BlipImageProcessorPil, InstructBlipConfig,
                          InstructBlipForConditionalGeneration, InstructBlipProcessor, InstructBlipQFormerConfig,
                          InstructBlipVisionConfig, LlamaConfig, PreTrainedTokenizerFast)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import (add_special, synthetic_image, train_bert_tokenizer,  # noqa: E402
                            train_llama_tokenizer)

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
INSTRUCTION = "What is unusual about this image?"
N_GREEDY = 20

CONFIGS = {
    # InstructBLIP as published for Vicuna: the LLM tokenizer's BOS is </s>;
    # hub names, the EVA attention bias as one qkv.bias; one file.
    "instructblip-tiny": dict(
        kind="instructblip",
        vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                    image_size=28, patch_size=7),
        qformer=dict(hidden_size=32, num_hidden_layers=4, num_attention_heads=4, intermediate_size=48,
                     cross_attention_frequency=2, max_position_embeddings=64),
        text=dict(hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, rms_norm_eps=1e-6, max_position_embeddings=128),
        queries=6, image=(40, 33), seed=11, bos="</s>", split_qkv_bias=False, shards=1, init=0.15),
    # BLIP-2 with a LLaMA model: a Q-Former without text input, cross-attention
    # in every layer, the EVA biases as q_bias / v_bias (the original LAVIS
    # form, which transformers 5 no longer reads: checked by reassembling),
    # two shards.
    "blip2-tiny": dict(
        kind="blip2",
        vision=dict(hidden_size=40, intermediate_size=72, num_hidden_layers=2, num_attention_heads=5,
                    image_size=24, patch_size=8, layer_norm_eps=1e-5),
        qformer=dict(hidden_size=24, num_hidden_layers=3, num_attention_heads=3, intermediate_size=40,
                     cross_attention_frequency=1, max_position_embeddings=64),
        text=dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=8,
                  num_key_value_heads=8, rms_norm_eps=1e-5, max_position_embeddings=128),
        queries=5, image=(20, 31), seed=12, bos="<s>", split_qkv_bias=True, shards=2, init=0.15),
}


def save_checkpoint(model, out_dir, spec):
    for f in os.listdir(out_dir):
        if f.startswith("model") and "safetensors" in f:
            os.remove(os.path.join(out_dir, f))
    state = {}
    for k, v in model.state_dict().items():
        v = v.detach().contiguous()
        if spec["split_qkv_bias"] and k.endswith("self_attn.qkv.bias"):
            d = v.shape[0] // 3
            assert torch.all(v[d:2 * d] == 0)
            state[k.replace("qkv.bias", "q_bias")] = v[:d].clone()
            state[k.replace("qkv.bias", "v_bias")] = v[2 * d:].clone()
        else:
            state[k] = v
    names = list(state)
    if spec["shards"] == 1:
        save_file(state, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    else:
        n = spec["shards"]
        weight_map, total = {}, 0
        for i in range(n):
            fname = "model-%05d-of-%05d.safetensors" % (i + 1, n)
            part = {k: state[k] for k in names[i::n]}
            save_file(part, os.path.join(out_dir, fname), metadata={"format": "pt"})
            for k, v in part.items():
                weight_map[k] = fname
                total += v.numel() * v.element_size()
        with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
    mine = model.state_dict()
    if spec["split_qkv_bias"]:
        # what was written, with q_bias / v_bias put back together
        theirs = dict(state)
        for k in [k for k in theirs if k.endswith("q_bias")]:
            q, v = theirs.pop(k), theirs.pop(k.replace("q_bias", "v_bias"))
            theirs[k.replace("q_bias", "qkv.bias")] = torch.cat([q, torch.zeros_like(q), v])
    else:
        theirs = type(model).from_pretrained(out_dir).eval().state_dict()
    assert mine.keys() == theirs.keys()
    for k in mine:
        assert torch.equal(mine[k], theirs[k]), k


def perturb(model, init):
    """Norms at 1 and biases at 0 would hide a swapped or skipped one."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "norm" in name.lower():
                p.add_(torch.randn_like(p) * 0.1)
            if "class_embedding" in name or "position_embedding" in name or "query_tokens" in name:
                p.normal_(0, 0.5)
            if name.endswith("qkv.bias"):
                d = p.shape[0] // 3
                p[d:2 * d] = 0          # the EVA key has no bias


def min_margin(scores):
    return min(float(torch.topk(s[0].float(), 2).values[0] - torch.topk(s[0].float(), 2).values[1]) for s in scores)


def build(name, spec, out_dir):
    torch.manual_seed(spec["seed"])
    llm_tok = train_llama_tokenizer(bos=spec["bos"])
    image_token = add_special(llm_tok, "<image>")
    pad_token = add_special(llm_tok, "<pad>")
    vocab = ((llm_tok.get_vocab_size() + 63) // 64) * 64
    bert = train_bert_tokenizer()
    instruct = spec["kind"] == "instructblip"

    text = LlamaConfig(vocab_size=vocab, bos_token_id=llm_tok.token_to_id(spec["bos"]), eos_token_id=2,
                       pad_token_id=pad_token, initializer_range=spec["init"], **spec["text"])
    if instruct:
        vision = InstructBlipVisionConfig(initializer_range=spec["init"], **spec["vision"])
        qformer = InstructBlipQFormerConfig(vocab_size=bert.get_vocab_size(), encoder_hidden_size=vision.hidden_size,
                                            initializer_range=spec["init"], **spec["qformer"])
        config = InstructBlipConfig(vision_config=vision.to_dict(), qformer_config=qformer.to_dict(),
                                    text_config=text.to_dict(), num_query_tokens=spec["queries"],
                                    image_token_index=image_token, initializer_range=spec["init"])
        model = InstructBlipForConditionalGeneration(config).eval()
    else:
        vision = Blip2VisionConfig(initializer_range=spec["init"], **spec["vision"])
        qformer = Blip2QFormerConfig(encoder_hidden_size=vision.hidden_size, initializer_range=spec["init"],
                                     **spec["qformer"])
        config = Blip2Config(vision_config=vision.to_dict(), qformer_config=qformer.to_dict(),
                             text_config=text.to_dict(), num_query_tokens=spec["queries"],
                             image_token_index=image_token, initializer_range=spec["init"])
        model = Blip2ForConditionalGeneration(config).eval()
    perturb(model, spec["init"])
    model.generation_config.pad_token_id = pad_token

    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    model.save_pretrained(out_dir)
    save_checkpoint(model, out_dir, spec)

    llm_fast = PreTrainedTokenizerFast(tokenizer_object=llm_tok, bos_token=spec["bos"], eos_token="</s>",
                                       unk_token="<unk>", pad_token="<pad>")
    image_processor = BlipImageProcessorPil(size={"height": vision.image_size, "width": vision.image_size},
                                            resample=3, image_mean=CLIP_MEAN, image_std=CLIP_STD, do_convert_rgb=True)
    if instruct:
        bert_fast = PreTrainedTokenizerFast(tokenizer_object=bert, unk_token="[UNK]", sep_token="[SEP]",
                                            pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]")
        processor = InstructBlipProcessor(image_processor=image_processor, tokenizer=llm_fast,
                                          qformer_tokenizer=bert_fast, num_query_tokens=spec["queries"])
    else:
        processor = Blip2Processor(image_processor=image_processor, tokenizer=llm_fast,
                                   num_query_tokens=spec["queries"])
    processor.save_pretrained(out_dir)

    w, h = spec["image"]
    image = synthetic_image(w, h, seed=spec["seed"] * 100)
    Image.fromarray(image).save(os.path.join(out_dir, "image.png"))
    inputs = processor(images=Image.fromarray(image), text=INSTRUCTION, return_tensors="pt")
    Q = spec["queries"]

    rec = {"image": torch.from_numpy(image.copy()), "pixel_values": inputs["pixel_values"][0].contiguous()}
    with torch.no_grad():
        vis = model.vision_model(inputs["pixel_values"], output_hidden_states=True)
        rec["vision_hidden_states"] = torch.stack([s[0] for s in vis.hidden_states]).contiguous()
        image_embeds = vis.last_hidden_state
        rec["image_embeds"] = image_embeds[0].contiguous()
        qkw = dict(query_embeds=model.query_tokens.expand(1, -1, -1), encoder_hidden_states=image_embeds)
        if instruct:
            q_out = model.qformer(input_ids=inputs["qformer_input_ids"], **qkw).last_hidden_state[:, :Q]
            rec["qformer_input_ids"] = inputs["qformer_input_ids"][0].to(torch.int64).contiguous()
        else:
            q_out = model.qformer(**qkw).last_hidden_state[:, :Q]
        rec["qformer_output"] = q_out[0].contiguous()
        projected = model.language_projection(q_out)
        rec["projected"] = projected[0].contiguous()
        out = model(**inputs)
        rec["logits"] = out.logits[0].contiguous()
        # the model's own path must agree with the pieces recorded above
        assert torch.allclose(out.language_model_outputs.logits if hasattr(out, "language_model_outputs")
                              and out.language_model_outputs is not None else out.logits, out.logits)
        gen = model.generate(**inputs, max_new_tokens=N_GREEDY, do_sample=False, output_scores=True,
                             return_dict_in_generate=True)
    rec["input_ids"] = inputs["input_ids"][0].to(torch.int64).contiguous()
    new = gen.sequences[0, inputs["input_ids"].shape[1]:] if gen.sequences.shape[1] > N_GREEDY else gen.sequences[0]
    rec["greedy_tokens"] = new.to(torch.int64).contiguous()
    margins = [min_margin(gen.scores)]

    if instruct:
        # Text conditioning off on the same weights: queries only.
        with torch.no_grad():
            q0 = model.qformer(input_ids=None, **qkw).last_hidden_state[:, :Q]
            p0 = model.language_projection(q0)
            text_ids = inputs["input_ids"][:, Q:]                      # BOS + prompt
            emb = torch.cat([p0, model.get_input_embeddings()(text_ids)], dim=1)
            rec["qformer_output_noinstr"] = q0[0].contiguous()
            rec["projected_noinstr"] = p0[0].contiguous()
            rec["logits_noinstr"] = model.language_model(inputs_embeds=emb).logits[0].contiguous()
            g0 = model.language_model.generate(inputs_embeds=emb, attention_mask=torch.ones(emb.shape[:2],
                                               dtype=torch.long), max_new_tokens=N_GREEDY, do_sample=False,
                                               output_scores=True, return_dict_in_generate=True,
                                               pad_token_id=pad_token)
        rec["greedy_tokens_noinstr"] = g0.sequences[0].to(torch.int64).contiguous()
        margins.append(min_margin(g0.scores))

    save_file(rec, os.path.join(out_dir, "reference.safetensors"))
    meta = {
        "generator": "tools/make_blip_fixtures.py",
        "transformers_version": __import__("transformers").__version__,
        "torch_version": torch.__version__,
        "kind": spec["kind"], "instruction": INSTRUCTION, "num_query_tokens": Q,
        "image_size": [w, h], "image_token_index": image_token, "llm_bos": spec["bos"],
        "greedy_text": processor.tokenizer.decode(rec["greedy_tokens"], skip_special_tokens=True),
        "greedy_min_margin": margins,
        "max_new_tokens": N_GREEDY,
    }
    if instruct:
        meta["greedy_text_noinstr"] = processor.tokenizer.decode(rec["greedy_tokens_noinstr"], skip_special_tokens=True)
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("%s: %d LLM input tokens, greedy %s, min margins %s" % (name, rec["input_ids"].shape[0],
                                                                  rec["greedy_tokens"].tolist(), margins))
    assert min(margins) > 1e-3, "greedy continuation too close to a tie to be a stable fixture"


# (width, height) for the BLIP preprocessing fixture: every pass order
# Pillow picks (it runs the vertical pass first when the height shrinks by
# more than twice what the width does), one-pass and identity cases.
BLIP_PREPROCESS_SIZES = [(640, 480), (300, 1000), (100, 600), (200, 150), (150, 300), (224, 500), (500, 224),
                         (1000, 300), (224, 224)]


def build_preprocess_fixture(out_dir):
    """BlipImageProcessor (PIL backend, 224 x 224, bicubic, no crop): the
    processed images stored as their exact uint8 values, as in
    tests/fixtures/preprocess-clip."""
    import numpy as np
    os.makedirs(out_dir, exist_ok=True)
    proc = BlipImageProcessorPil(size={"height": 224, "width": 224}, resample=3, image_mean=CLIP_MEAN,
                                 image_std=CLIP_STD)
    tensors, cases = {}, []
    for i, (w, h) in enumerate(BLIP_PREPROCESS_SIZES):
        image = synthetic_image(w, h, seed=2000 + i, noise=12 if w * h < 200000 else 0)
        Image.fromarray(image).save(os.path.join(out_dir, "image-%d.png" % i))
        pv = proc(images=Image.fromarray(image), return_tensors="np")["pixel_values"][0]
        mean = np.array(CLIP_MEAN, dtype=np.float32)[:, None, None]
        std = np.array(CLIP_STD, dtype=np.float32)[:, None, None]
        u = (pv * std + mean) * 255.0
        u8 = np.rint(u)
        assert np.abs(u - u8).max() < 1e-3, "pixel values are not an exact uint8 image"
        tensors["processed-%d" % i] = torch.from_numpy(u8.astype(np.uint8).copy())
        cases.append({"file": "image-%d.png" % i, "width": w, "height": h})
    save_file(tensors, os.path.join(out_dir, "reference.safetensors"))
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump({"generator": "tools/make_blip_fixtures.py", "processor": "BlipImageProcessorPil",
                   "pillow_version": Image.__version__ if hasattr(Image, "__version__") else None,
                   "size": {"height": 224, "width": 224}, "resample": "bicubic", "crop": False,
                   "image_mean": CLIP_MEAN, "image_std": CLIP_STD, "cases": cases}, f, indent=1)
    print("preprocess-blip: %d images" % len(cases))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    for name, spec in CONFIGS.items():
        build(name, spec, os.path.join(args.out, name))
    build_preprocess_fixture(os.path.join(args.out, "preprocess-blip"))


if __name__ == "__main__":
    main()
