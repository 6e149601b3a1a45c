#!/usr/bin/env python3
"""A tokenizer fixture for the bundled world LLM (issue 7): HF tokenizers'
ids and decodes of the world's own text — captions, questions, answers and
the three prompt forms, from held-out scenes — plus probes outside it
(byte fallback, <image>), in the layout of tests/fixtures/tokenizer/small-*
so tests/test-tokenizer.c checks vtp's C tokenizer against it.

    python3 tools/world/make_tokenizer_fixture.py     # writes tests/fixtures/tokenizer/world/
"""
import os
import random
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
import world  # noqa: E402
from make_tokenizer_fixtures import (HAND_WRITTEN, decode_rows, dedup, expected_rows, random_id_lists,  # noqa
                                     write_json, write_jsonl)
from train_text import ALPACA, DESCRIBE, LLAVA  # noqa: E402


def world_texts(n):
    texts = []
    for i in range(n):
        _, rec = world.scene("val", i)
        texts.append(rec["caption"])
        for qa in rec["qa"] + [{"q": DESCRIBE, "a": rec["caption"]}]:
            texts += [qa["q"], qa["a"], LLAVA.format(context="<image>", prompt=qa["q"]) + " " + qa["a"],
                      ALPACA.format(prompt=qa["q"]) + qa["a"], rec["caption"] + " " + qa["q"] + " " + qa["a"]]
    return texts


def main():
    from tokenizers import Tokenizer
    out = os.path.join(ROOT, "tests", "fixtures", "tokenizer", "world")
    os.makedirs(out, exist_ok=True)
    src = os.path.join(ROOT, "world-models", "llm", "tokenizer.json")
    shutil.copy(src, os.path.join(out, "tokenizer.json"))
    tok = Tokenizer.from_file(src)
    texts = dedup(world_texts(30) + HAND_WRITTEN[:80])
    rows = expected_rows(tok, texts)
    write_jsonl(os.path.join(out, "expected.jsonl"), rows)
    dec = decode_rows(tok, random_id_lists(random.Random(17), tok, 200, extra_ids=[tok.token_to_id("<image>")]))
    write_jsonl(os.path.join(out, "decode.jsonl"), dec)
    write_json(os.path.join(out, "meta.json"), {
        "vocab_size": tok.get_vocab_size(True), "model_vocab_size": tok.get_vocab_size(False), "bos_id": 1,
        "n_expected": len(rows), "n_decode": len(dec),
        "token_ids": {t: tok.token_to_id(t) for t in ["<unk>", "<s>", "</s>", "<image>"]}})
    print("%s: %d strings, %d decode cases" % (out, len(rows), len(dec)))


if __name__ == "__main__":
    main()
