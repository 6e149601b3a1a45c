#!/usr/bin/env python3
"""BLIP-2's first stage for the world's Q-Former (issue 17): the Q-Former
learns to read the frozen encoder's features from the captions alone,
before any language model sees it. Three losses on one batch of
(picture, caption), as BLIP-2 (Li et al. 2023, section 3.2) trains it:

  ITC  image-text contrastive: each query's output against the text's [CLS]
       output (queries and text do not see each other), the best query's
       similarity per pair, in-batch negatives;
  ITM  image-text matching: queries and text attend to each other, a binary
       head on the queries says whether the caption is the picture's; the
       negatives are hard ones, drawn from the batch in proportion to the
       contrastive similarity (with --itm-random-steps N, any other
       caption or picture of the batch for the first N steps: from the
       first step on, hard negatives left matching at its prior, "no" for
       every pair, docs/bridges-compared.md);
  ITG  image-grounded generation: the caption, [DEC] first, is written by
       the Q-Former's text side under a causal mask that sees every query
       but lets no query see the text, so whatever the text needs of the
       picture has to pass through the queries.

Captions that are the same text (test patterns) count as positives of each
other, not as negatives. The ITC projections, ITM head and LM head are
thrown away afterwards, as BLIP-2 does; the Q-Former (and its query tokens)
is saved in the InstructBLIP layout save_qformer writes, with a language
projection not yet trained, for `train_bridge.py --init-qformer OUT`. Its
WordPiece vocabulary is trained on questions and captions.

    python3 tools/world/train_qformer_stage1.py --encoder world-models/encoder --llm world-models/llm \\
        --out /tmp/qformer-stage1 --steps 500 --batch 32
"""
import argparse
import json
import os
import random
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import bridges
from bridges import world
from schedule import warmup_cosine
from threads import set_torch_threads


class Stage1(nn.Module):
    """The Q-Former with BLIP-2's first-stage heads."""

    def __init__(self, qf, embed=64):
        super().__init__()
        self.qf = qf
        W = qf.config.hidden_size
        self.vision_proj = nn.Linear(W, embed)
        self.text_proj = nn.Linear(W, embed)
        self.itm_head = nn.Linear(W, 2)
        self.temp = nn.Parameter(torch.tensor(0.07))
        # BERT's LM head, its decoder tied to the word embeddings as in BLIP-2's
        self.lm_transform = nn.Sequential(nn.Linear(W, W), nn.GELU(), nn.LayerNorm(W, eps=qf.config.layer_norm_eps))
        self.lm_bias = nn.Parameter(torch.zeros(qf.config.vocab_size))

    def bert(self, **kw):
        return self.qf.qformer(**kw).last_hidden_state

    def queries(self, B):
        return self.qf.query_tokens.expand(B, -1, -1)

    def losses(self, feats, ids, mask, same, dec_id, hard=True):
        """ITC, ITM, ITG for features [B, 64, C], caption ids/mask [B, T]
        ([CLS] first), same[i, j]: caption i is caption j's text."""
        B, Q = feats.shape[0], self.qf.query_tokens.shape[1]
        fmask = torch.ones(feats.shape[:2], dtype=torch.long)
        qmask = torch.ones(B, Q, dtype=torch.long)

        # ITC: queries alone (with the picture), text alone
        q_out = self.bert(input_ids=None, query_embeds=self.queries(B), encoder_hidden_states=feats,
                          encoder_attention_mask=fmask)
        img = F.normalize(self.vision_proj(q_out), dim=-1)
        txt = F.normalize(self.text_proj(self.bert(input_ids=ids, attention_mask=mask)[:, 0]), dim=-1)
        temp = self.temp.clamp(0.001, 0.5)
        sim_i2t = torch.einsum("iqd,jd->ijq", img, txt).max(-1).values / temp
        sim_t2i = sim_i2t.t()
        target = same.float() / same.float().sum(1, keepdim=True)
        itc = -((F.log_softmax(sim_i2t, 1) * target).sum(1).mean()
                + (F.log_softmax(sim_t2i, 1) * target).sum(1).mean()) / 2

        # ITM: a hard negative caption per picture and picture per caption (or, with hard False, any other)
        with torch.no_grad():
            if hard:
                w_i2t = F.softmax(sim_i2t, 1).masked_fill(same, 0) + 1e-6 * (~same)
                w_t2i = F.softmax(sim_t2i, 1).masked_fill(same, 0) + 1e-6 * (~same)
            else:
                w_i2t = w_t2i = (~same).float()
            neg_txt = torch.multinomial(w_i2t, 1).squeeze(1)
            neg_img = torch.multinomial(w_t2i, 1).squeeze(1)
        all_ids = torch.cat([ids, ids[neg_txt], ids])
        all_mask = torch.cat([mask, mask[neg_txt], mask])
        all_feats = torch.cat([feats, feats, feats[neg_img]])
        out = self.bert(input_ids=all_ids, attention_mask=torch.cat([torch.cat([qmask] * 3), all_mask], 1),
                        query_embeds=self.queries(3 * B), encoder_hidden_states=all_feats,
                        encoder_attention_mask=torch.cat([fmask] * 3))
        itm_logits = self.itm_head(out[:, :Q]).mean(1)
        itm_labels = torch.cat([torch.ones(B, dtype=torch.long), torch.zeros(2 * B, dtype=torch.long)])
        itm = F.cross_entropy(itm_logits, itm_labels)

        # ITG: [DEC] + caption, causal among the text, every query visible to the text, no text to a query
        dec = ids.clone()
        dec[:, 0] = dec_id
        T = ids.shape[1]
        allowed = torch.zeros(B, Q + T, Q + T, dtype=torch.bool)
        allowed[:, :Q, :Q] = True
        allowed[:, Q:, :Q] = True
        allowed[:, Q:, Q:] = torch.ones(T, T, dtype=torch.bool).tril()[None] & mask.bool()[:, None, :]
        additive = torch.zeros(allowed.shape).masked_fill(~allowed, torch.finfo(torch.float32).min)[:, None]
        out = self.bert(input_ids=dec, attention_mask=additive, query_embeds=self.queries(B),
                        encoder_hidden_states=feats, encoder_attention_mask=fmask)
        h = self.lm_transform(out[:, Q:])
        logits = F.linear(h, self.qf.qformer.embeddings.word_embeddings.weight, self.lm_bias)
        labels = ids.masked_fill(mask == 0, -100)
        itg = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                              ignore_index=-100, label_smoothing=0.1)
        acc = ((itm_logits.argmax(1) == itm_labels).float().mean().item(),
               (sim_i2t.argmax(1) == torch.arange(B)).float().mean().item())
        return itc, itm, itg, acc


def captions_batch(wp, caps, max_len=48):
    """[CLS] caption [SEP] ids and mask (the WordPiece tokenizer as saved
    adds neither)."""
    cls, sep = wp.token_to_id("[CLS]"), wp.token_to_id("[SEP]")
    seqs = [[cls] + wp.encode(c).ids[: max_len - 2] + [sep] for c in caps]
    return bridges.pad(seqs), bridges.pad([[1] * len(s) for s in seqs])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder", required=True)
    ap.add_argument("--llm", required=True, help="only its width (the language projection's) and config")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--vocab", type=int, default=200)
    ap.add_argument("--itm-random-steps", type=int, default=0,
                    help="matching's negatives drawn at random for these first steps, hard ones after")
    args = ap.parse_args()
    torch.manual_seed(5)
    set_torch_threads()
    os.makedirs(args.out, exist_ok=True)

    enc = bridges.Encoder(args.encoder)
    llm, _ = bridges.load_llm(args.llm)
    wp = bridges.train_wordpiece(args.out, args.vocab, captions=True)
    qf = bridges.QFormer(wp.get_vocab_size(), enc.width, llm.config.hidden_size)
    model = Stage1(qf)
    # the language projection is trained in the second stage only
    params = [p for n, p in model.named_parameters() if not n.startswith("qf.language_projection")]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.05)
    dec_id = wp.token_to_id("[DEC]")

    rng = random.Random(11)
    t0 = time.time()
    log = []
    for step in range(args.steps):
        lr = warmup_cosine(step, args.steps, args.lr, 50)
        for g in opt.param_groups:
            g["lr"] = lr
        recs = [world.scene("train", rng.randrange(1_000_000)) for _ in range(args.batch)]
        caps = [r["caption"] for _, r in recs]
        ids, mask = captions_batch(wp, caps)
        same = torch.tensor([[a == b for b in caps] for a in caps])
        itc, itm, itg, (itm_acc, itc_acc) = model.losses(enc.features([i for i, _ in recs]), ids, mask, same, dec_id,
                                                      hard=step >= args.itm_random_steps)
        loss = itc + itm + itg
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 50 == 0 or step == args.steps - 1:
            e = {"step": step, "itc": itc.item(), "itm": itm.item(), "itg": itg.item(), "itm_acc": itm_acc,
                 "retrieval": itc_acc, "seconds": time.time() - t0}
            log.append(e)
            print("step %d itc %.3f itm %.3f (acc %.2f) itg %.3f in-batch retrieval %.2f (%.0f s)" % (
                step, e["itc"], e["itm"], itm_acc, e["itg"], itc_acc, e["seconds"]), flush=True)

    bridges.save_qformer(qf.eval(), os.path.join(args.out, "qformer_tokenizer"), args.encoder, llm, args.out)
    info = {"generator": "tools/world/train_qformer_stage1.py", "steps": args.steps, "batch": args.batch,
            "lr": args.lr, "vocab": wp.get_vocab_size(), "itm_random_steps": args.itm_random_steps, "seconds": time.time() - t0, "log": log}
    with open(os.path.join(args.out, "stage1.json"), "w") as f:
        json.dump(info, f, indent=1)

    # a look: captions written greedily from the queries alone, held-out pictures
    model.eval()
    with torch.no_grad():
        for index in (1, 2, 3):
            img, rec = world.scene("test", index)
            feats = enc.features([img])
            out = [dec_id]
            while len(out) < 40:
                T, Q = len(out), qf.query_tokens.shape[1]
                allowed = torch.zeros(1, Q + T, Q + T, dtype=torch.bool)
                allowed[:, :, :Q] = True
                allowed[:, Q:, Q:] = torch.ones(T, T, dtype=torch.bool).tril()
                allowed[:, :Q, Q:] = False
                additive = torch.zeros(allowed.shape).masked_fill(~allowed, torch.finfo(torch.float32).min)[:, None]
                h = model.bert(input_ids=torch.tensor([out]), attention_mask=additive, query_embeds=model.queries(1),
                               encoder_hidden_states=feats, encoder_attention_mask=torch.ones(feats.shape[:2],
                                                                                              dtype=torch.long))
                nxt = int(F.linear(model.lm_transform(h[0, -1]), qf.qformer.embeddings.word_embeddings.weight,
                                   model.lm_bias).argmax())
                if nxt == wp.token_to_id("[SEP]"):
                    break
                out.append(nxt)
            print("test-%05d -> %r (want %r)" % (index, wp.decode(out[1:]), rec["caption"]), flush=True)


if __name__ == "__main__":
    main()
