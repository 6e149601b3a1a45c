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
import os
import random
import shutil
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402
from schedule import warmup_cosine  # noqa: E402
from threads import set_torch_threads  # noqa: E402
from train_cells import HEADS_FILE, KIND_WEIGHT, Heads, cell_masks, cells_loss, targets  # noqa: E402
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


def greedy_text(model, tok, img, prompt, max_new_tokens=60):
    """@model's greedy answer to @prompt about picture @img, decoded."""
    ids, _ = encode(tok, model.config.image_token_index, model.config.image_seq_length, prompt)
    with torch.no_grad():
        out = model.generate(input_ids=torch.tensor([ids]), pixel_values=pixels(img)[None],
                             max_new_tokens=max_new_tokens, do_sample=False)
    return tok.decode(out[0, len(ids):].tolist(), skip_special_tokens=True)


def llava_loss(model, image_id, ids, pixel_values, mask, labels, token_weights=None):
    """LlavaForConditionalGeneration's loss, computed in its steps so that
    the tower's patch features (the layer the projector reads) are at hand
    for the cell loss: what the model's forward does with pixel_values.
    @token_weights ([vocab] or None) weighs each target token's loss."""
    cfg = model.config
    hidden = model.model.vision_tower(pixel_values=pixel_values, output_hidden_states=True).hidden_states
    feats = hidden[cfg.vision_feature_layer][:, 1:]          # "default": the class row dropped
    image = model.model.multi_modal_projector(feats)
    embeds = model.get_input_embeddings()(ids)
    where = (ids == image_id).unsqueeze(-1).expand_as(embeds)
    embeds = embeds.masked_scatter(where, image.reshape(-1, image.shape[-1]).to(embeds.dtype))
    if token_weights is None:
        return model(inputs_embeds=embeds, attention_mask=mask, labels=labels).loss, feats
    logits = model(inputs_embeds=embeds, attention_mask=mask).logits[:, :-1]
    target = labels[:, 1:]
    keep = target != -100
    ce = F.cross_entropy(logits[keep].float(), target[keep], reduction="none")
    w = token_weights[target[keep]]
    return (ce * w).sum() / w.sum(), feats


def save(model, args, steps, loss, seconds):
    model.eval()
    os.makedirs(args.out, exist_ok=True)
    model.save_pretrained(args.out)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(args.llm, name), args.out)
    shutil.copy(os.path.join(args.clip, "preprocessor_config.json"), args.out)
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump({"generator": "tools/world/train_llava.py", "steps": steps, "batch": args.batch, "lr": args.lr,
                   "tune_scale": args.tune_scale,
                   "cells_weight": args.cells_weight,
                   "kind_token_weight": args.kind_token_weight,
                   "size_token_weight": args.size_token_weight,
                   "describe_share": args.describe_share, "reword": args.reword, "tune_llm": args.tune_llm,
                   "tune_vision": args.tune_vision,
                   "init": os.path.basename(os.path.normpath(args.init)) if args.init else None,
                   "vision": os.path.basename(os.path.normpath(args.vision)) if args.vision else None,
                   "final_loss": loss, "seconds": seconds}, f, indent=1)


def val_descriptions(model, tok, count=40, prompt=DESCRIBE):
    """Greedy descriptions (asked with @prompt) of the first @count
    validation shape pictures: the share of whole captions right, and of
    shapes named with their size, colour, kind and place (the phrase found
    in the text)."""
    model.eval()
    exact = shapes = shapes_right = seen = 0
    for i in range(4 * count):
        img, rec = world.scene("val", i)
        if rec["kind"] != "shapes":
            continue
        text = greedy_text(model, tok, img, prompt).strip()
        exact += text == rec["caption"]
        for s in rec["scene"]["shapes"]:
            shapes += 1
            shapes_right += world.describe_shape(s) in text
        seen += 1
        if seen == count:
            break
    return {"pictures": seen, "exact": exact / seen, "shapes": shapes_right / shapes}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", required=True)
    ap.add_argument("--llm", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--init", help="continue from this llava directory (all of it: for a frozen encoder and LLM "
                    "that is its projector)")
    ap.add_argument("--vision", help="after --init, the vision tower from this CLIP vision directory "
                    "(train_cells.py's)")
    ap.add_argument("--cells-weight", type=float, default=0.0,
                    help="add train_cells.py's per-cell loss on the tower's features, this much of it")
    ap.add_argument("--kind-token-weight", type=float, default=1.0,
                    help="weight of the shape kinds' words in the loss (the others weigh 1)")
    ap.add_argument("--size-token-weight", type=float, default=1.0,
                    help="weight of the words small and large in the loss")
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate of the projector")
    ap.add_argument("--describe-share", type=float, default=None,
                    help="share of the samples that are descriptions (default: two among the scene's questions)")
    ap.add_argument("--reword", type=float, default=0.0,
                    help="share of the samples whose prompt is drawn from world.py's training wordings of it "
                    "(\"What do you see?\" for the description, \"Count the shapes.\" ...) instead of the "
                    "canonical one")
    ap.add_argument("--tune-scale", type=float, default=0.25,
                    help="learning rate of the tuned LLM and vision tower, relative to the projector's")
    ap.add_argument("--val-only", action="store_true", help="only describe validation pictures with --init")
    ap.add_argument("--save-every", type=int, default=0, help="also save the model every N steps")
    ap.add_argument("--tune-llm", action="store_true",
                    help="LLaVA's second stage: the language model is trained with the projector")
    ap.add_argument("--tune-vision", action="store_true",
                    help="the vision tower is trained too (end to end: beyond LLaVA's recipe)")
    args = ap.parse_args()
    torch.manual_seed(3)
    set_torch_threads()
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(args.llm, "tokenizer.json"))
    image_id = tok.token_to_id(IMAGE)
    model, n_patches = build(args.clip, args.llm)
    if args.init:
        from transformers import LlavaForConditionalGeneration
        model.load_state_dict(LlavaForConditionalGeneration.from_pretrained(args.init).state_dict())
    if args.vision:
        from transformers import CLIPVisionModel
        model.model.vision_tower.load_state_dict(CLIPVisionModel.from_pretrained(args.vision).state_dict())
    assert model.config.image_token_index == image_id
    if args.val_only:
        print("val descriptions:", json.dumps(val_descriptions(model, tok)), flush=True)
        return
    for p in model.parameters():
        p.requires_grad_(False)
    proj = model.model.multi_modal_projector
    groups = [{"params": list(proj.parameters()), "scale": 1.0}]
    if args.tune_llm:
        llm_params = list(model.model.language_model.parameters()) + list(model.lm_head.parameters())
        groups.append({"params": llm_params, "scale": args.tune_scale})
    if args.tune_vision:
        groups.append({"params": list(model.model.vision_tower.parameters()), "scale": args.tune_scale})
    for g in groups:
        for p in g["params"]:
            p.requires_grad_(True)
    token_weights = None
    if args.kind_token_weight != 1.0 or args.size_token_weight != 1.0:
        # the shape kinds' (and sizes') words count this much more in the loss: the attributes
        # descriptions learn last
        token_weights = torch.ones(model.config.text_config.vocab_size)
        for words, weight in ((world.KINDS, args.kind_token_weight), (sorted(world.SIZES), args.size_token_weight)):
            for word in words:
                token_weights[tok.encode(word, add_special_tokens=False).ids] = weight
    cells = None
    if args.cells_weight:
        # train_cells.py's per-cell heads on the tower's features, trained on with the captions' loss, so
        # that the tower keeps telling the shapes' kinds apart
        heads = Heads(model.config.vision_config.hidden_size)
        saved = os.path.join(args.vision or "", HEADS_FILE)
        if args.vision and os.path.exists(saved):
            heads.load_state_dict(torch.load(saved))
        cells = (heads, cell_masks(model.config.vision_config.image_size, model.config.vision_config.patch_size))
        groups.append({"params": list(heads.parameters()), "scale": 1.0})
    opt = torch.optim.AdamW(groups, lr=args.lr, weight_decay=0.0)
    rng = random.Random(8)
    t0 = time.time()
    model.train()
    for step in range(args.steps):
        lr = warmup_cosine(step, args.steps, args.lr, 50)
        for g in opt.param_groups:
            g["lr"] = lr * g["scale"]
        imgs, seqs, recs = [], [], []
        for _ in range(args.batch):
            img, rec = world.scene("train", rng.randrange(1_000_000))
            recs.append(rec)
            if args.describe_share is not None:
                pairs = [(DESCRIBE, rec["caption"])] if rng.random() < args.describe_share else \
                    [(qa["q"], qa["a"]) for qa in rec["qa"]]
            else:
                pairs = [(qa["q"], qa["a"]) for qa in rec["qa"]] + [(DESCRIBE, rec["caption"])] * 2
            q, a = rng.choice(pairs)
            if args.reword and rng.random() < args.reword:
                q = world.reword(q, rng)
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
        loss, feats = llava_loss(model, image_id, ids, torch.stack(imgs), mask, labels, token_weights)
        if cells is not None:
            heads, masks = cells
            loss = loss + args.cells_weight * cells_loss(heads, masks, feats, [targets(r) for r in recs],
                                                         KIND_WEIGHT)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == args.steps - 1:
            print("step %d loss %.3f (%.0f s)" % (step, loss.item(), time.time() - t0), flush=True)
        if args.save_every and (step + 1) % args.save_every == 0 and step + 1 < args.steps:
            save(model, args, step + 1, loss.item(), time.time() - t0)
            model.train()
    save(model, args, args.steps, loss.item(), time.time() - t0)
    print("val descriptions:", json.dumps(val_descriptions(model, tok)), flush=True)
    if args.reword:
        for prompt in (world.DESCRIBE_WORDINGS["train"][1], world.DESCRIBE_WORDINGS["heldout"][0]):
            print("val descriptions, asked %r:" % prompt, json.dumps(val_descriptions(model, tok, prompt=prompt)),
                  flush=True)
    # a look: one held-out picture, described
    img, rec = world.scene("test", 1)
    print("test-00001:", repr(greedy_text(model, tok, img, DESCRIBE, 40)), "want", repr(rec["caption"]))


if __name__ == "__main__":
    main()
