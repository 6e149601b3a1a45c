#!/usr/bin/env python3
"""The world's language side (issue 7): a Llama-style BPE tokenizer and a
small LlamaForCausalLM trained on the world's text, saved in HF layout.

    python3 tools/world/train_text.py --out world-models/llm [--steps 1500]

The text teaches three forms, one per bridge, so that a frozen LLM can
later be given the picture by each:
  LLaVA:          "USER: {context}\\n{question} ASSISTANT: {answer}"   (the image takes the context's place)
  InstructBLIP:   "{context}<s>{question} {answer}"                    (the queries take the context's place)
  LLaMA-Adapter:  the Alpaca instruction format, no context             (the adapter's prompts carry the picture)
where the context is the picture's caption and "Describe the picture." is
answered by the caption. Answers end with </s>.
"""
import argparse
import json
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402
from schedule import warmup_cosine  # noqa: E402
from threads import set_torch_threads  # noqa: E402

LLAVA = "USER: {context}\n{prompt} ASSISTANT:"
ALPACA = ("Below is an instruction that describes a task. Write a response that appropriately completes the "
          "request.\n\n### Instruction:\n{prompt}\n\n### Response:")
DESCRIBE = world.DESCRIBE
IMAGE = "<image>"
VOCAB = 512


def examples(split, index):
    """(form, context, prompt, answer) for one scene: its QA and a description."""
    _, rec = world.scene(split, index)
    pairs = [(qa["q"], qa["a"]) for qa in rec["qa"]] + [(DESCRIBE, rec["caption"])]
    return [(rec["caption"], q, a) for q, a in pairs]


def corpus(n):
    lines = []
    for i in range(n):
        for ctx, q, a in examples("train", i):
            lines.append(LLAVA.format(context=ctx, prompt=q) + " " + a)
            lines.append(ALPACA.format(prompt=q) + a)
            lines.append(ctx + " " + q + " " + a)
    return lines


def train_tokenizer(lines, out):
    """BPE merges learned on the corpus, laid out as Llama-2's tokenizer.json:
    <unk> <s> </s>, the 256 byte tokens, then the pieces."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    trainer = trainers.BpeTrainer(vocab_size=VOCAB - 256, special_tokens=["<unk>", "<s>", "</s>"],
                                  show_progress=False)
    tok.train_from_iterator(lines, trainer)
    trained = json.loads(tok.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for piece, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        if piece not in vocab:
            vocab[piece] = len(vocab)
    merges = [m if isinstance(m, str) else " ".join(m) for m in trained["merges"]]
    # <image> after the pieces, as llava-hf's tokenizer has it: LLaVA's marker (image_token_index)
    special = [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
                "special": True} for i, c in [(0, "<unk>"), (1, "<s>"), (2, "</s>"), (len(vocab), IMAGE)]]
    spec = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": special,
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                           {"type": "Replace", "pattern": {"String": " "},
                                                            "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                                                     {"type": "ByteFallback"}, {"type": "Fuse"},
                                                     {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }
    path = os.path.join(out, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False)
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
                   "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": False}, f, indent=1)
    final = Tokenizer.from_file(path)
    for line in lines[:200]:
        assert final.decode(final.encode(line).ids, skip_special_tokens=True) == line, line
    return final, len(vocab) + 1         # the model's rows: the pieces and <image> (never trained, never read)


def encode_example(tok, form, ctx, q, a):
    """Token ids of one training sequence (BOS first, </s> after the answer)
    and how many of them are the prompt."""
    if form == "llava":
        prompt = tok.encode(LLAVA.format(context=ctx, prompt=q)).ids
    elif form == "alpaca":
        prompt = tok.encode(ALPACA.format(prompt=q)).ids
    else:
        # InstructBLIP's order: the context (where the queries go), then BOS and the prompt
        prompt = tok.encode(ctx, add_special_tokens=False).ids + tok.encode(q).ids
    # the tokenizer puts "▁" before the answer's first word itself: "ASSISTANT: red" = ... "▁ASSISTANT:" "▁red"
    return prompt + tok.encode(a, add_special_tokens=False).ids + [2], len(prompt)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--scenes", type=int, default=4000, help="training scenes for the tokenizer")
    ap.add_argument("--init", help="continue from this directory's model and tokenizer")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--answers-only", action="store_true",
                    help="loss on the answers only (the templates are predictable and swamp it)")
    ap.add_argument("--per-example", action="store_true",
                    help="each sequence's mean loss counts the same (a description's twenty tokens would "
                    "outweigh a one-word answer twenty times)")
    args = ap.parse_args()
    torch.manual_seed(1)
    set_torch_threads()
    os.makedirs(args.out, exist_ok=True)

    t0 = time.time()
    from transformers import LlamaConfig, LlamaForCausalLM
    if args.init:
        from tokenizers import Tokenizer
        import shutil
        for name in ("tokenizer.json", "tokenizer_config.json"):
            if os.path.abspath(args.init) != os.path.abspath(args.out):
                shutil.copy(os.path.join(args.init, name), args.out)
        tok = Tokenizer.from_file(os.path.join(args.out, "tokenizer.json"))
        model = LlamaForCausalLM.from_pretrained(args.init)
    else:
        tok, vocab_size = train_tokenizer(corpus(args.scenes), args.out)
        print("tokenizer: %d entries (%.1f s)" % (vocab_size, time.time() - t0), flush=True)
        cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=128, intermediate_size=344, num_hidden_layers=4,
                          num_attention_heads=4, max_position_embeddings=256, rms_norm_eps=1e-5, bos_token_id=1,
                          eos_token_id=2, tie_word_embeddings=False)
        model = LlamaForCausalLM(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    rng = random.Random(5)
    forms = ["llava", "alpaca", "blip"]
    model.train()
    for step in range(args.steps):
        lr = warmup_cosine(step, args.steps, args.lr, 100)
        for g in opt.param_groups:
            g["lr"] = lr
        seqs = []
        for _ in range(args.batch):
            ex = rng.choice(examples("train", rng.randrange(1_000_000)))
            seqs.append(encode_example(tok, rng.choice(forms), *ex))
        n = max(len(s) for s, _ in seqs)
        ids = torch.zeros(len(seqs), n, dtype=torch.long)
        labels = torch.full((len(seqs), n), -100, dtype=torch.long)
        mask = torch.zeros(len(seqs), n, dtype=torch.long)
        for i, (s, n_prompt) in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            labels[i, n_prompt if args.answers_only else 0: len(s)] = torch.tensor(s[n_prompt if args.answers_only
                                                                                    else 0:])
            mask[i, : len(s)] = 1
        if args.per_example:
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
            target = labels[:, 1:]
            tok_loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                                         ignore_index=-100, reduction="none").view(target.shape)
            counted = (target != -100).float()
            loss = ((tok_loss * counted).sum(1) / counted.sum(1).clamp(min=1)).mean()
        else:
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == args.steps - 1:
            print("step %d loss %.3f lr %.2e (%.0f s)" % (step, loss.item(), lr, time.time() - t0), flush=True)
    model.eval()
    model.save_pretrained(args.out)
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump({"generator": "tools/world/train_text.py", "steps": args.steps, "batch": args.batch,
                   "lr": args.lr, "answers_only": args.answers_only,
                   "per_example": args.per_example,
                   "init": os.path.basename(os.path.normpath(args.init)) if args.init else None,
                   "final_loss": loss.item(), "seconds": time.time() - t0, "torch_version": torch.__version__},
                  f, indent=1)
    # a look at what it learned: a caption in context, a question
    _, rec = world.scene("test", 0)
    prompt = LLAVA.format(context=rec["caption"], prompt=rec["qa"][2]["q"])
    ids = torch.tensor([tok.encode(prompt).ids])
    out = model.generate(ids, max_new_tokens=12, do_sample=False)
    print(repr(prompt), "->", repr(tok.decode(out[0, ids.shape[1]:].tolist(), skip_special_tokens=True)),
          "(want %r)" % rec["qa"][2]["a"])


if __name__ == "__main__":
    main()
