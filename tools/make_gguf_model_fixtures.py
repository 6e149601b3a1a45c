#!/usr/bin/env python3
"""Makes tests/fixtures/gguf-tiny: the language model of the tiny random
LLaVA (tests/fixtures/llava-tiny-q) as llama.cpp makes GGUF files of it, and
llama.cpp's own greedy continuation of a fixed prompt on each, for
tests/test-gguf-fidelity.c.

    python3 tools/make_gguf_model_fixtures.py [--llama-cpp DIR]

Steps, all with llama.cpp's own tools (DIR: a llama.cpp source tree with a
build in DIR/build, e.g. the one bench/compare-llamacpp.sh builds):
  1. tools/llava_text_model.py writes the LLM as a plain Llama directory;
  2. DIR/convert_hf_to_gguf.py converts it to llm-f32.gguf (F32: the
     safetensors' values exactly, so vtp must give the same logits on both);
  3. llama-quantize makes llm-q8_0.gguf and llm-q4_0.gguf (its default
     choices: the output head falls back to Q8_0 as its rows of 64 are not
     whole Q6_K super-blocks);
  4. tools/llamacpp_greedy.c, built against DIR's libllama, runs each file
     on PROMPT as llama-simple does (BOS added, special tokens parsed,
     default context settings) and records the prompt's token ids, the
     greedy ids, each step's top-2 margin and the first step's logits in
     reference-<type>.json.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import llamacpp_peer
from llamacpp_peer import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "tests", "fixtures", "llava-tiny-q")
OUT = os.path.join(ROOT, "tests", "fixtures", "gguf-tiny")
DEFAULT_LLAMA_CPP = "/work/peer/llama_cpp_python-0.3.36/vendor/llama.cpp"
PROMPT = "USER: What is in the picture? ASSISTANT:"
N_PREDICT = 12
TYPES = ["f32", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k_m", "q5_k_m"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    llamacpp_peer.add_argument(ap, DEFAULT_LLAMA_CPP)
    args = ap.parse_args()
    src = args.llama_cpp
    bindir = llamacpp_peer.bindir(src)
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        llm = os.path.join(work, "llm")
        run([sys.executable, os.path.join(ROOT, "tools", "llava_text_model.py"), SOURCE, llm])
        env = dict(os.environ, PYTHONPATH=os.path.join(src, "gguf-py"))
        f32 = os.path.join(OUT, "llm-f32.gguf")
        run([sys.executable, os.path.join(src, "convert_hf_to_gguf.py"), llm, "--outtype", "f32", "--outfile", f32],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for t in TYPES[1:]:
            run([os.path.join(bindir, "llama-quantize"), f32, os.path.join(OUT, "llm-%s.gguf" % t), t.upper()],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        greedy = llamacpp_peer.build_tool(src, work, "llamacpp_greedy")
        for t in TYPES:
            out = run([greedy, os.path.join(OUT, "llm-%s.gguf" % t), str(N_PREDICT), PROMPT], capture_output=True,
                      text=True).stdout
            ref = json.loads(out)
            ref = dict(generator="tools/make_gguf_model_fixtures.py (tools/llamacpp_greedy.c)",
                       llama_cpp=src, type=t,
                       source="tests/fixtures/llava-tiny-q (its language model)", **ref)
            with open(os.path.join(OUT, "reference-%s.json" % t), "w") as f:
                json.dump(ref, f, indent=1)
            print("%s: prompt %s -> %s (min margin %.4f)" % (t, ref["prompt_ids"], ref["greedy_ids"],
                                                             min(ref["margins"])))


if __name__ == "__main__":
    main()
