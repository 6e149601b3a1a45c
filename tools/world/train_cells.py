#!/usr/bin/env python3
"""Teach the world's image encoder what is in each cell (issue 7): the
vision tower learns, from the features LLaVA reads (the penultimate layer's
patch rows), the kind, colour and size of the shape in each of the 3 x 3
cells, and the background or videotestsrc pattern. Saved as a CLIP vision
tower directory (the heads are dropped), for train_llava.py --vision.

Why: descriptions from the contrastive tower and the end-to-end tuned
LLaVA named shapes' sizes, colours and places mostly right but their kind
at chance (17% of shapes on 40 validation pictures, four kinds). A caption
loss teaches the kind of a 10-pixel shape slowly: it is a few tokens among
sixty, and reaches the tower through the LLM. A loss per cell teaches it
directly; the tower stays the same shape, so vtpencoder runs it as before.

    python3 tools/world/train_cells.py --tower world-models/llava-tuned --out /tmp/world-cells
"""
import argparse
import json
import os
import random
import shutil
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402
from schedule import warmup_cosine  # noqa: E402
from threads import set_torch_threads  # noqa: E402
from train_clip import pixels  # noqa: E402

KIND_CLASSES = ["empty"] + world.KINDS
COLOUR_CLASSES = ["none"] + sorted(world.COLOURS)
SIZE_CLASSES = ["none"] + sorted(world.SIZES)
SCENE_CLASSES = sorted(world.BACKGROUNDS) + sorted(world.TESTSRC)   # background, or the test pattern
HEADS_FILE = "cells-heads.pt"
KIND_WEIGHT = 2.0               # the kind's loss, against 1 for colour, size and scene


def cell_masks(image_size, patch):
    """[9, n_patches]: each patch belongs to the cell its centre lies in,
    each cell's row averages its patches."""
    side = image_size // patch
    m = torch.zeros(9, side * side)
    for py in range(side):
        for px in range(side):
            row = min(2, int((py + 0.5) * patch * 3 // image_size))
            col = min(2, int((px + 0.5) * patch * 3 // image_size))
            m[row * 3 + col, py * side + px] = 1.0
    return m / m.sum(1, keepdim=True)


def targets(rec):
    """Class indices: per cell (kind, colour, size) and the scene class."""
    kind, colour, size = [0] * 9, [0] * 9, [0] * 9
    if rec["kind"] == "shapes":
        for s in rec["scene"]["shapes"]:
            c = s["row"] * 3 + s["col"]
            kind[c] = KIND_CLASSES.index(s["kind"])
            colour[c] = COLOUR_CLASSES.index(s["colour"])
            size[c] = SIZE_CLASSES.index(s["size"])
        scene = SCENE_CLASSES.index(rec["scene"]["background"])
    else:
        scene = SCENE_CLASSES.index(rec["scene"]["pattern"])
    return kind, colour, size, scene


def cells_loss(heads, masks, feats, tg, kind_weight):
    """Loss over a batch of patch features [batch, patches, width] with
    targets() each; also the kind's loss and accuracy on filled cells."""
    kind, colour, size, scene = (torch.tensor([t[i] for t in tg]) for i in range(4))
    cells = torch.einsum("cp,bpw->bcw", masks, feats)             # [batch, 9, width]
    # the kind counts where there is a shape, with more weight: it is the hard part (an empty cell is
    # already told by the colour and size heads' "none")
    filled = kind != 0
    kind_logits = heads.kind(cells)[filled]
    loss_kind = F.cross_entropy(kind_logits, kind[filled]) if filled.any() else feats.sum() * 0
    loss = (kind_weight * loss_kind + F.cross_entropy(heads.colour(cells).flatten(0, 1), colour.flatten())
            + F.cross_entropy(heads.size(cells).flatten(0, 1), size.flatten())
            + F.cross_entropy(heads.scene(feats.mean(1)), scene))
    acc = (kind_logits.argmax(-1) == kind[filled]).float().mean().item() if filled.any() else float("nan")
    return loss, loss_kind, acc


class Heads(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.kind = nn.Linear(width, len(KIND_CLASSES))
        self.colour = nn.Linear(width, len(COLOUR_CLASSES))
        self.size = nn.Linear(width, len(SIZE_CLASSES))
        self.scene = nn.Linear(width, len(SCENE_CLASSES))


def load_tower(path):
    """A CLIPVisionModel from a CLIP vision directory or a llava-hf one."""
    from transformers import CLIPVisionModel, LlavaForConditionalGeneration
    with open(os.path.join(path, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("model_type") == "llava":
        tower = LlavaForConditionalGeneration.from_pretrained(path).model.vision_tower
        layer = cfg.get("vision_feature_layer", -2)
    else:
        tower = CLIPVisionModel.from_pretrained(path)
        layer = -2
    return tower, layer


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tower", required=True, help="CLIP vision directory, or a llava-hf directory (its tower)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--kind-weight", type=float, default=KIND_WEIGHT)
    ap.add_argument("--fresh", action="store_true", help="start from random weights in --tower's shape")
    args = ap.parse_args()
    torch.manual_seed(4)
    set_torch_threads()
    from transformers import CLIPVisionModel
    tower, layer = load_tower(args.tower)
    cfg = tower.config
    if args.fresh:
        tower = CLIPVisionModel(cfg)
    masks = cell_masks(cfg.image_size, cfg.patch_size)
    heads = Heads(cfg.hidden_size)
    opt = torch.optim.AdamW(list(tower.parameters()) + list(heads.parameters()), lr=args.lr, weight_decay=0.01)
    rng = random.Random(12)
    t0 = time.time()
    tower.train()
    for step in range(args.steps):
        lr = warmup_cosine(step, args.steps, args.lr, 100)
        for g in opt.param_groups:
            g["lr"] = lr
        imgs, tg = [], []
        for _ in range(args.batch):
            img, rec = world.scene("train", rng.randrange(1_000_000))
            imgs.append(pixels(img))
            tg.append(targets(rec))
        feats = tower(pixel_values=torch.stack(imgs), output_hidden_states=True).hidden_states[layer][:, 1:]
        loss, loss_kind, acc = cells_loss(heads, masks, feats, tg, args.kind_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == args.steps - 1:
            print("step %d loss %.3f kind loss %.3f kind accuracy (filled cells) %.2f (%.0f s)"
                  % (step, loss.item(), loss_kind.item(), acc, time.time() - t0), flush=True)
    tower.eval()
    os.makedirs(args.out, exist_ok=True)
    tower.save_pretrained(args.out)     # a CLIPVisionModel, also when it came out of a llava directory
    # the heads, for train_llava.py --cells-weight (not part of the tower; ship.py leaves them out)
    torch.save(heads.state_dict(), os.path.join(args.out, HEADS_FILE))
    src_pre = os.path.join(args.tower, "preprocessor_config.json")
    shutil.copy(src_pre, args.out)
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump({"generator": "tools/world/train_cells.py", "tower": os.path.basename(os.path.normpath(args.tower)),
                   "fresh": args.fresh, "steps": args.steps, "batch": args.batch, "lr": args.lr, "final_loss": loss.item(),
                   "final_kind_accuracy": acc, "seconds": time.time() - t0}, f, indent=1)


if __name__ == "__main__":
    main()
