#!/usr/bin/env python3
"""How well the world's language model reads its context (issue 7): the
caption of a validation scene in the context of each bridge's prompt form,
a question after it, the greedy answer against the generator's. A bridge
can only do as well as its LLM does with the caption written out, so this
is the ceiling the bridges are measured against.

    python3 tools/world/lm_reading.py --llm world-models/llm --count 60
"""
import argparse
import collections
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402
from threads import set_torch_threads  # noqa: E402
from train_text import encode_example  # noqa: E402
from evaluate import correct  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llm", required=True)
    ap.add_argument("--count", type=int, default=60)
    ap.add_argument("--form", default="llava", choices=["llava", "blip"])
    args = ap.parse_args()
    set_torch_threads()
    from tokenizers import Tokenizer
    from transformers import LlamaForCausalLM
    tok = Tokenizer.from_file(os.path.join(args.llm, "tokenizer.json"))
    model = LlamaForCausalLM.from_pretrained(args.llm).eval()
    per = collections.defaultdict(lambda: [0, 0])
    with torch.no_grad():
        for i in range(args.count):
            _, rec = world.scene("val", i)
            for qa in rec["qa"]:
                ids, n = encode_example(tok, args.form, rec["caption"], qa["q"], "")
                prompt = torch.tensor([ids[:n]])
                out = model.generate(prompt, max_new_tokens=8, do_sample=False)
                answer = tok.decode(out[0, n:].tolist(), skip_special_tokens=True)
                per[qa["type"]][0] += correct(answer, qa["a"])
                per[qa["type"]][1] += 1
    total = [sum(v[0] for v in per.values()), sum(v[1] for v in per.values())]
    for k, (r, n) in sorted(per.items()):
        print("%-10s %5.1f%% of %d" % (k, 100 * r / n, n))
    print("all        %5.1f%% of %d" % (100 * total[0] / total[1], total[1]))


if __name__ == "__main__":
    main()
