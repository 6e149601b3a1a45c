#!/usr/bin/env python3
"""The world's query-based and parameter-efficient bridges (issue 7), each
trained on top of the frozen encoder (train_clip.py) and the frozen LLM
(train_text.py), and saved in the layout vtp loads:

  --bridge adapter                 LLaMA-Adapter V2 multimodal on the encoder's features
                                   -> OUT/ (llama_adapter, release names)
  --bridge qformer --into input    InstructBLIP: the Q-Former's queries before the prompt
                                   -> OUT/ (InstructBLIP layout, qformer_tokenizer/)
  --bridge qformer --into adapter  the unified framework's other column: the queries are the
                                   visual input of a V2 adapter -> OUT/qformer/, OUT/adapter/
  --no-text-conditioning           the Q-Former reads the queries only (BLIP-2's way)

Adapter gates (tanh, per adapted layer and head) are logged over training
to OUT/gates.json.

    python3 tools/world/train_bridge.py --encoder E --llm L --bridge adapter --out world-models/adapter
"""
import argparse
import json
import os
import random
import time

import torch

import bridges
from bridges import world
from schedule import warmup_cosine
from threads import set_torch_threads


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder", required=True)
    ap.add_argument("--llm", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bridge", choices=["adapter", "qformer"], required=True)
    ap.add_argument("--into", choices=["input", "adapter"], default="input")
    ap.add_argument("--no-text-conditioning", dest="text", action="store_false")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--gate-every", type=int, default=25)
    ap.add_argument("--seed", type=int, default=None, help="another run of the same training (default: the shipped "
                    "models' seeds)")
    ap.add_argument("--init-qformer", help="start the Q-Former from this directory (a trained --into input one, "
                    "or BLIP-2's first stage: train_qformer_stage1.py)")
    ap.add_argument("--qformer-lr-scale", type=float, default=1.0,
                    help="the Q-Former's learning rate as a share of --lr (a pretrained one is kept from drifting "
                    "while the adapter's gates are still near zero)")
    args = ap.parse_args()
    torch.manual_seed(4 if args.seed is None else args.seed)
    set_torch_threads()
    os.makedirs(args.out, exist_ok=True)

    enc = bridges.Encoder(args.encoder)
    llm, tok = bridges.load_llm(args.llm)
    D, L, H = llm.config.hidden_size, llm.config.num_hidden_layers, llm.config.num_attention_heads
    qf = wp = adapter = None
    if args.bridge == "qformer":
        wp_root = args.out if args.into == "input" else os.path.join(args.out, "qformer")
        if args.init_qformer:
            import shutil
            qf, wp = bridges.load_qformer(args.init_qformer)
            qf.train()
            shutil.copytree(os.path.join(args.init_qformer, "qformer_tokenizer"),
                            os.path.join(wp_root, "qformer_tokenizer"), dirs_exist_ok=True)
            if os.path.exists(os.path.join(args.init_qformer, "stage1.json")):     # BLIP-2's first stage's log
                shutil.copy(os.path.join(args.init_qformer, "stage1.json"), args.out)
        else:
            wp = bridges.train_wordpiece(wp_root)
            qf = bridges.QFormer(wp.get_vocab_size(), enc.width, D)
    if args.bridge == "adapter" or args.into == "adapter":
        adapter = bridges.Adapter(bridges.meta_from_hf(llm), L, H, D if qf else enc.width, query_layer=L)
    model = bridges.Bridge(enc, llm, tok, qf, wp, adapter, args.text)
    params = model.parameters()
    print("trainable parameters: %d" % sum(p.numel() for p in params), flush=True)
    qf_params = list(qf.parameters()) if qf is not None else []
    groups = [{"params": [p for p in params if all(p is not q for q in qf_params)], "scale": 1.0}]
    if qf_params:
        groups.append({"params": qf_params, "scale": args.qformer_lr_scale})
    opt = torch.optim.AdamW(groups, lr=args.lr, weight_decay=0.0)

    rng = random.Random(9 if args.seed is None else 1000 + args.seed)
    gates = []
    t0 = time.time()
    for step in range(args.steps):
        lr = warmup_cosine(step, args.steps, args.lr, 50)
        for g in opt.param_groups:
            g["lr"] = lr * g["scale"]
        if adapter is not None and step % args.gate_every == 0:
            gates.append({"step": step, "gates": adapter.gates()})
        imgs, qs, ans = zip(*bridges.draw_batch(rng, args.batch))
        logits, labels = model.forward(imgs, qs, [bridges.answer_ids(tok, a) for a in ans])
        loss = bridges.lm_loss(logits, labels)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 100 == 0 or step == args.steps - 1:
            extra = ""
            if adapter is not None:
                # how much the visual queries depend on the picture (docs/bridges-compared.md): their spread
                # over the batch against their size; near 0 is the collapse of the first Q-Former->adapter runs
                with torch.no_grad():
                    v = enc.features(imgs)
                    if qf is not None:
                        instr, imask = bridges.qformer_instructions(wp, qs) if args.text else (None, None)
                        v = qf(v, instr, imask)
                    vq = adapter.visual_queries(v)
                    spread = ((vq - vq.mean(0)).norm(dim=-1).mean() / vq.norm(dim=-1).mean()).item()
                extra = " visual-query spread %.3f" % spread
            print("step %d loss %.3f%s (%.0f s)" % (step, loss.item(), extra, time.time() - t0), flush=True)

    info = {"generator": "tools/world/train_bridge.py", "bridge": args.bridge, "into": args.into,
            "init_qformer": os.path.basename(os.path.normpath(args.init_qformer)) if args.init_qformer else None,
            "qformer_lr_scale": args.qformer_lr_scale,
            "text_conditioning": args.text, "steps": args.steps, "batch": args.batch, "lr": args.lr,
            "final_loss": loss.item(), "seconds": time.time() - t0, "trainable_parameters":
            sum(p.numel() for p in params)}
    if qf is not None:
        qdir = args.out if args.into == "input" else os.path.join(args.out, "qformer")
        bridges.save_qformer(qf.eval(), os.path.join(qdir, "qformer_tokenizer"), args.encoder, llm, qdir)
    if adapter is not None:
        gates.append({"step": args.steps, "gates": adapter.gates()})
        adapter.save(args.out if args.bridge == "adapter" else os.path.join(args.out, "adapter"))
        with open(os.path.join(args.out, "gates.json"), "w") as f:
            json.dump({"layers": sorted(gates[-1]["gates"]), "log": gates}, f)
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump(info, f, indent=1)

    # a look: held-out pictures, greedy answers
    for index in (1, 2):
        img, rec = world.scene("test", index)
        for q, a in [(bridges.DESCRIBE, rec["caption"]), (rec["qa"][0]["q"], rec["qa"][0]["a"])]:
            print("test-%05d %r -> %r (want %r)" % (index, q, model.greedy(img, q), a), flush=True)


if __name__ == "__main__":
    main()
