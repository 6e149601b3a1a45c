#!/usr/bin/env python3
"""How much an adapter variant's visual queries depend on the picture
(docs/bridges-compared.md, issue 17): over the first N test pictures, the
mean distance of each row from its mean over the pictures (spread) against
the rows' mean size, at each stage on the way to the LLM: the encoder's
features, the Q-Former's output (for the unified variants), the adapter's
projection of them (clip_proj + its norm) and the visual queries the
adapter's layers attend to. A spread near 0 means the LLM is shown the
same prompt whatever the picture. Then whether the LLM uses what the
queries carry: the answer loss on 64 test (picture, question, answer)
samples drawn as training draws them, with each question's own picture
and with the pictures shuffled among the samples; no difference means the
answers do not depend on the picture.

    python3 tools/world/query_spread.py --models world-models adapter qformer-text-adapter qformer-notext-adapter
"""
import argparse
import os
import random
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bridges  # noqa: E402
from bridges import world  # noqa: E402
from threads import set_torch_threads  # noqa: E402
from evaluate import VARIANTS  # noqa: E402


def spread(x):
    """(spread, size) of x [pictures, rows, width]."""
    return (x - x.mean(0)).norm(dim=-1).mean().item(), x.norm(dim=-1).mean().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="world-models")
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--question", default="How many shapes are there?",
                    help="the instruction a text-conditioned Q-Former reads")
    ap.add_argument("variants", nargs="+")
    args = ap.parse_args()
    set_torch_threads(1)
    imgs = [world.scene("test", i)[0] for i in range(args.count)]
    for name in args.variants:
        v = {k: os.path.join(args.models, d) for k, d in VARIANTS[name]["set"].items()}
        b = bridges.Bridge.load(v.get("encoder", v.get("clip")), v.get("llm", v.get("llama")), v.get("qformer"),
                                v.get("adapter"), text_conditioning="notext" not in name)
        rows = []
        with torch.no_grad():
            x = b.enc.features(imgs)
            rows.append(("features", x))
            if b.qf is not None:
                instr, mask = (bridges.qformer_instructions(b.wp, [args.question] * len(imgs)) if b.text
                               else (None, None))
                x = b.qf(x, instr, mask)
                rows.append(("Q-Former output", x))
            P, E = b.adapter.P, b.adapter.c["v_embed_dim"]
            proj = F.layer_norm(F.linear(x, P["clip_proj.weight"], P["clip_proj.bias"]), (E,),
                                P["clip_proj_norm.weight"], P["clip_proj_norm.bias"])
            rows.append(("adapter projection", proj))
            rows.append(("visual queries", b.adapter.visual_queries(x)))
            batch = bridges.draw_batch(random.Random(3), 64, "test")
            pics, qs, ans = zip(*batch)
            perm = list(range(len(pics)))
            random.Random(1).shuffle(perm)
            loss = [bridges.lm_loss(*b.forward(list(p), qs, [bridges.answer_ids(b.tok, a) for a in ans])).item()
                    for p in (pics, [pics[i] for i in perm])]
        print(name)
        for what, t in rows:
            s, m = spread(t)
            print("  %-20s spread %7.3f  size %7.3f  ratio %.3f" % (what, s, m, s / m), flush=True)
        print("  answer loss         own pictures %.3f  shuffled %.3f" % tuple(loss), flush=True)


if __name__ == "__main__":
    main()
