#!/usr/bin/env python3
"""The world's image encoder (issue 7): a small CLIP vision tower trained
contrastively against the pictures' captions, saved in HF CLIP layout
(CLIPVisionModel + preprocessor_config.json) for vtpencoder.

    python3 tools/world/train_clip.py --tokenizer world-models/llm/tokenizer.json --out /tmp/world-clip

The text side (only for training, not shipped) is a small transformer over
the world tokenizer's ids, mean-pooled. Pictures are drawn on the fly
(tools/world/world.py), each batch from fresh training scenes.

--cells-weight W adds train_cells.py's loss (the kind, colour and size of
the shape in each 3 x 3 cell and the background, from the penultimate
layer's patch rows, which every bridge reads) to the contrastive one, W
times it: the contrastive tower alone does not tell the shapes' kinds
apart, so no bridge on it can (docs/bridges-compared.md; issue 17 item 5).
"""
import argparse
import copy
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402
from schedule import warmup_cosine  # noqa: E402
from threads import set_torch_threads  # noqa: E402

MEAN = [0.48145466, 0.4578275, 0.40821073]   # CLIP's, written to preprocessor_config.json
STD = [0.26862954, 0.26130258, 0.27577711]
EMBED = 128


def pixels(img):
    a = (np.asarray(img, dtype=np.float32) / 255.0 - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    return torch.from_numpy(a.transpose(2, 0, 1).copy())


class TextTower(nn.Module):
    def __init__(self, vocab, width=128, layers=2, heads=4, length=64):
        super().__init__()
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Parameter(torch.randn(length, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.enc = nn.TransformerEncoder(layer, layers)
        self.norm = nn.LayerNorm(width)

    def forward(self, ids, mask):
        x = self.tok(ids) + self.pos[: ids.shape[1]]
        x = self.enc(x, src_key_padding_mask=~mask)
        x = self.norm(x)
        m = mask.unsqueeze(-1).float()
        return (x * m).sum(1) / m.sum(1)


def hard_negative(rec, r):
    """A caption that differs from @rec's in one detail (NegCLIP's idea):
    a shape's colour, kind, size or place, a shape left out, or the
    background. In-batch captions alone differ in so much that the tower
    passes with the background and one colour; these make it keep which
    colour goes with which kind, and where."""
    if rec["kind"] != "shapes":
        other = r.choice([p for p in sorted(world.TESTSRC) if world.TESTSRC[p][1] + "." != rec["caption"]])
        return world.TESTSRC[other][1] + "."
    sc = copy.deepcopy(rec["scene"])
    shapes = sc["shapes"]
    s = r.choice(shapes)
    change = r.choice(["colour", "colour", "kind", "place", "place", "size", "drop", "background"])
    if change == "drop" and len(shapes) > 1:
        shapes.remove(s)
    elif change == "kind" or (change == "drop" and len(shapes) == 1):
        s["kind"] = r.choice([k for k in world.KINDS if k not in {t["kind"] for t in shapes}])
    elif change == "place":
        taken = {(t["row"], t["col"]) for t in shapes}
        s["row"], s["col"] = r.choice([(i // 3, i % 3) for i in range(9) if (i // 3, i % 3) not in taken])
    elif change == "size":
        s["size"] = "small" if s["size"] == "large" else "large"
    elif change == "background":
        used = {t["colour"] for t in shapes}
        choices = [b for b in sorted(world.BACKGROUNDS) if b != sc["background"] and b not in used]
        if not choices:
            return hard_negative(rec, r)
        sc["background"] = r.choice(choices)
    else:
        s["colour"] = r.choice([c for c in sorted(world.COLOURS) if c != s["colour"] and c != sc["background"]])
    return world.caption_shapes(sc)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--negatives", type=int, default=3, help="hard-negative captions per picture")
    ap.add_argument("--cells-weight", type=float, default=0.0,
                    help="weight of the per-cell loss (train_cells.py) beside the contrastive one; 0: none")
    args = ap.parse_args()
    torch.manual_seed(2)
    set_torch_threads()
    from tokenizers import Tokenizer
    from transformers import CLIPVisionConfig, CLIPVisionModel
    tok = Tokenizer.from_file(args.tokenizer)

    vcfg = CLIPVisionConfig(hidden_size=128, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
                            image_size=world.SIZE, patch_size=8, projection_dim=EMBED, hidden_act="quick_gelu")
    vision = CLIPVisionModel(vcfg)
    vproj = nn.Linear(128, EMBED, bias=False)
    text = TextTower(tok.get_vocab_size(with_added_tokens=True))
    tproj = nn.Linear(128, EMBED, bias=False)
    scale = nn.Parameter(torch.tensor(math.log(10.0)))
    params = list(vision.parameters()) + list(vproj.parameters()) + list(text.parameters()) + list(tproj.parameters())
    cells = None
    if args.cells_weight > 0:
        import train_cells                   # here: it imports pixels from this module
        cells = train_cells
        heads = cells.Heads(vcfg.hidden_size)
        masks = cells.cell_masks(vcfg.image_size, vcfg.patch_size)
        params += list(heads.parameters())
    opt = torch.optim.AdamW(params + [scale], lr=1e-3, weight_decay=0.05)
    rng = random.Random(6)
    t0 = time.time()
    for step in range(args.steps):
        lr = warmup_cosine(step, args.steps, 1e-3, 100)
        for g in opt.param_groups:
            g["lr"] = lr
        imgs, caps, recs = [], [], []
        seen = set()
        while len(imgs) < args.batch:
            img, rec = world.scene("train", rng.randrange(1_000_000))
            if rec["caption"] in seen:       # one picture per caption: no false negatives
                continue
            seen.add(rec["caption"])
            imgs.append(pixels(img))
            caps.append(tok.encode(rec["caption"]).ids)
            recs.append(rec)
        for rec in recs:                     # after the batch's own captions: the targets stay 0..batch-1
            for _ in range(args.negatives):
                caps.append(tok.encode(hard_negative(rec, rng)).ids)
        n = max(len(c) for c in caps)
        ids = torch.zeros(len(caps), n, dtype=torch.long)
        mask = torch.zeros(len(caps), n, dtype=torch.bool)
        for i, c in enumerate(caps):
            ids[i, : len(c)] = torch.tensor(c)
            mask[i, : len(c)] = True
        out = vision(pixel_values=torch.stack(imgs), output_hidden_states=cells is not None)
        v = F.normalize(vproj(out.pooler_output), dim=-1)
        t = F.normalize(tproj(text(ids, mask)), dim=-1)
        logits = v @ t.T * scale.exp().clamp(max=100)
        target = torch.arange(len(imgs))
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits[:, : len(imgs)].T, target)) / 2
        contrastive = loss.item()
        if cells is not None:
            loss_cells, _, kind_acc = cells.cells_loss(heads, masks, out.hidden_states[-2][:, 1:],
                                                       [cells.targets(r) for r in recs], cells.KIND_WEIGHT)
            loss = loss + args.cells_weight * loss_cells
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == args.steps - 1:
            acc = (logits.argmax(1) == target).float().mean().item()
            extra = (" cells: kind accuracy (filled cells) %.2f" % kind_acc) if cells is not None else ""
            print("step %d loss %.3f (contrastive %.3f) in-batch retrieval %.2f%s (%.0f s)"
                  % (step, loss.item(), contrastive, acc, extra, time.time() - t0), flush=True)
    vision.eval()
    os.makedirs(args.out, exist_ok=True)
    vision.save_pretrained(args.out)
    with open(os.path.join(args.out, "preprocessor_config.json"), "w") as f:
        json.dump({"image_processor_type": "CLIPImageProcessor", "do_resize": True, "size": {"shortest_edge": world.SIZE},
                   "resample": 3, "do_center_crop": True, "crop_size": {"height": world.SIZE, "width": world.SIZE},
                   "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": MEAN,
                   "image_std": STD, "do_convert_rgb": True}, f, indent=1)
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump({"generator": "tools/world/train_clip.py", "steps": args.steps, "batch": args.batch,
                   "negatives": args.negatives, "cells_weight": args.cells_weight,
                   "final_loss": loss.item(), "final_contrastive_loss": contrastive, "seconds": time.time() - t0}, f, indent=1)


if __name__ == "__main__":
    main()
