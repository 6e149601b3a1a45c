#!/usr/bin/env python3
"""The world's LLaVA (issue 7): the frozen image encoder (train_clip.py)
and the frozen language model (train_text.py) joined by an mlp2x_gelu
projector trained on the world's questions and descriptions, as LLaVA's
first stage trains it. Saved as a llava-hf checkpoint directory
(LlavaForConditionalGeneration, tokenizer.json with <image>,
preprocessor_config.json) that vtp loads as it loads llava-1.5-7b-hf.

    python3 tools/world/train_llava.py --clip DIR --llm DIR --out world-models/llava
"""
import argparse
import json
import math
import os
import random
import shutil
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402
from train_clip import pixels  # noqa: E402
from train_text import DESCRIBE, IMAGE  # noqa: E402

TEMPLATE = "USER: <image>\n{prompt} ASSISTANT:"     # vtpllm's default for image embeddings


def build(clip_dir, llm_dir):
    from transformers import (CLIPVisionModel, LlamaForCausalLM, LlavaConfig, LlavaForConditionalGeneration)
    vision = CLIPVisionModel.from_pretrained(clip_dir)
    llm = LlamaForCausalLM.from_pretrained(llm_dir)
    n_patches = (vision.config.image_size // vision.config.patch_size) ** 2
    cfg = LlavaConfig(vision_config=vision.config.to_dict(), text_config=llm.config.to_dict(),
                      image_token_index=llm.config.vocab_size - 1, projector_hidden_act="gelu",
                      vision_feature_layer=-2, vision_feature_select_strategy="default",
                      image_seq_length=n_patches)
    model = LlavaForConditionalGeneration(cfg)
    model.model.vision_tower.load_state_dict(vision.state_dict())
    model.model.language_model.load_state_dict(llm.model.state_dict())
    model.lm_head.load_state_dict(llm.lm_head.state_dict())
    return model, n_patches


def encode(tok, image_id, n_patches, prompt, answer=None):
    """input_ids with the <image> marker expanded to one id per patch (what
    LlavaProcessor does), and labels on the answer and </s> only."""
    ids = []
    for i in tok.encode(TEMPLATE.format(prompt=prompt)).ids:
        ids += [image_id] * n_patches if i == image_id else [i]
    labels = [-100] * len(ids)
    if answer is not None:
        # as the LM was trained: "ASSISTANT: red" is ... "▁ASSISTANT:" "▁red"
        a = tok.encode(answer, add_special_tokens=False).ids + [2]
        ids += a
        labels += a
    return ids, labels


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", required=True)
    ap.add_argument("--llm", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--init", help="continue from this llava directory (its projector)")
    ap.add_argument("--tune-llm", action="store_true",
                    help="LLaVA's second stage: the language model is trained with the projector")
    ap.add_argument("--tune-vision", action="store_true",
                    help="the vision tower is trained too (end to end: beyond LLaVA's recipe)")
    args = ap.parse_args()
    torch.manual_seed(3)
    torch.set_num_threads(int(os.environ.get("TRAIN_THREADS", os.cpu_count() or 1)))
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(args.llm, "tokenizer.json"))
    image_id = tok.token_to_id(IMAGE)
    model, n_patches = build(args.clip, args.llm)
    if args.init:
        from transformers import LlavaForConditionalGeneration
        model.model.multi_modal_projector.load_state_dict(
            LlavaForConditionalGeneration.from_pretrained(args.init).model.multi_modal_projector.state_dict())
    assert model.config.image_token_index == image_id
    for p in model.parameters():
        p.requires_grad_(False)
    proj = model.model.multi_modal_projector
    groups = [{"params": list(proj.parameters()), "scale": 1.0}]
    if args.tune_llm:
        llm_params = list(model.model.language_model.parameters()) + list(model.lm_head.parameters())
        groups.append({"params": llm_params, "scale": 0.25})
    if args.tune_vision:
        groups.append({"params": list(model.model.vision_tower.parameters()), "scale": 0.25})
    for g in groups:
        for p in g["params"]:
            p.requires_grad_(True)
    opt = torch.optim.AdamW(groups, lr=2e-3, weight_decay=0.0)
    rng = random.Random(8)
    t0 = time.time()
    model.train()
    for step in range(args.steps):
        lr = 2e-3 * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        for g in opt.param_groups:
            g["lr"] = lr * g["scale"]
        imgs, seqs = [], []
        for _ in range(args.batch):
            img, rec = world.scene("train", rng.randrange(1_000_000))
            q, a = rng.choice([(qa["q"], qa["a"]) for qa in rec["qa"]] + [(DESCRIBE, rec["caption"])] * 2)
            imgs.append(pixels(img))
            seqs.append(encode(tok, image_id, n_patches, q, a))
        n = max(len(s[0]) for s in seqs)
        ids = torch.zeros(len(seqs), n, dtype=torch.long)
        labels = torch.full((len(seqs), n), -100, dtype=torch.long)
        mask = torch.zeros(len(seqs), n, dtype=torch.long)
        for i, (s, l) in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            labels[i, : len(l)] = torch.tensor(l)
            mask[i, : len(s)] = 1
        loss = model(input_ids=ids, pixel_values=torch.stack(imgs), attention_mask=mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == args.steps - 1:
            print("step %d loss %.3f (%.0f s)" % (step, loss.item(), time.time() - t0), flush=True)
    model.eval()
    os.makedirs(args.out, exist_ok=True)
    model.save_pretrained(args.out)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(args.llm, name), args.out)
    shutil.copy(os.path.join(args.clip, "preprocessor_config.json"), args.out)
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump({"generator": "tools/world/train_llava.py", "steps": args.steps, "batch": args.batch,
                   "tune_llm": args.tune_llm, "tune_vision": args.tune_vision, "init": os.path.basename(os.path.normpath(args.init)) if args.init
                   else None,
                   "final_loss": loss.item(), "seconds": time.time() - t0}, f, indent=1)
    # a look: one held-out picture, described
    img, rec = world.scene("test", 1)
    ids, _ = encode(tok, image_id, n_patches, DESCRIBE)
    with torch.no_grad():
        out = model.generate(input_ids=torch.tensor([ids]), pixel_values=pixels(img)[None], max_new_tokens=40,
                             do_sample=False)
    print("test-00001:", repr(tok.decode(out[0, len(ids):].tolist(), skip_special_tokens=True)),
          "want", repr(rec["caption"]))


if __name__ == "__main__":
    main()
