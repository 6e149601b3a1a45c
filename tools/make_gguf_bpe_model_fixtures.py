#!/usr/bin/env python3
"""Makes tests/fixtures/gguf-llama3-tiny, gguf-llama32-tiny, gguf-qwen2-tiny,
gguf-kquant-tiny, gguf-lowk-tiny, gguf-iq4-tiny, gguf-iq-tiny,
gguf-iq1-tiny, gguf-atload-tiny and gguf-fallback-tiny: tiny random Llamas with a Llama 3 style vocabulary
(byte-level BPE split by Llama 3's regex, BOS <|begin_of_text|>:
tests/fixtures/gguf-vocab/llama3-mini, made by
tools/make_bpe_split_fixtures.py) as llama.cpp makes GGUF files of it, with
llama.cpp's own greedy continuation of a prompt, for
tests/test-gguf-fidelity.c.

    python3 tools/make_gguf_bpe_model_fixtures.py [--llama-cpp DIR]

(and a tiny random Qwen2 with the Qwen2 style one, gguf-vocab/qwen2-mini, and
a tiny random Mistral, v0.1's shape with a sliding window, gguf-mistral-tiny)

Steps (DIR: a llama.cpp source tree with a build in DIR/build, e.g. the one
bench/compare-llamacpp.sh builds):
  1. transformers makes the model (2 layers, width 64, 4 heads of 16, 2 KV
     heads, MLP 128, vocabulary 601, RoPE theta 500000; matrices drawn
     from N(0, 0.08) with torch's seed SEED) and saves it as F32
     safetensors with the vocabulary's tokenizer.json;
  2. DIR/convert_hf_to_gguf.py converts it to llm-f32.gguf. Its check that
     the pre-tokenizer is one it knows hashes the ids of a fixed text, which
     only Meta's own vocabulary gives: the converter is run with that check
     answering "llama-bpe" (the pre-tokenizer this vocabulary uses);
     everything else is the converter's own;
  3. llama-quantize makes llm-q8_0.gguf (gguf-kquant-tiny: llm-q4_k_m,
     llm-q5_k_m and llm-q6_k.gguf, and its F32 file is not kept; the
     other width-256 folders their mixes below; gguf-iq-tiny with an
     importance matrix that llama-imatrix makes first);
  4. tools/llamacpp_greedy.c runs each file on PROMPT as llama-simple does
     (BOS added, special tokens parsed) and records the prompt ids, the
     greedy ids, each step's top-2 margin and the last prompt position's
     logits in reference-<type>.json;
  5. for gguf-llama32-tiny (shaped as Llama 3.2: Llama 3.1's RoPE scaling,
     which the converter writes as the tensor rope_freqs.weight, and the
     output head tied to the embeddings), the safetensors are kept in hf/
     with transformers' own last-position logits and greedy ids
     (reference-hf.json); the same for gguf-qwen2-tiny (Qwen2: biases on
     q, k and v, RoPE in the halves layout, which llama.cpp's converter
     does not permute for "qwen2" files, tied output head).
SEED is the first from 0 (to 59) on whose greedy steps all have a top-2 margin of
at least MIN_MARGIN in both files (llama.cpp's F16 KV cache and int8
activations move logits by a few hundredths here: a step nearer a tie
would test rounding, not the engine).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
import llamacpp_peer
from llamacpp_peer import run
from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config,
                          Qwen2ForCausalLM)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCABS = os.path.join(ROOT, "tests", "fixtures", "gguf-vocab")
PROMPT = "What is in the picture? A red circle, 12 squares and 345 triangles."
N_PREDICT = 12
TYPES = ["f32", "q8_0"]
MIN_MARGIN = 0.04

# convert_hf_to_gguf.py with its pre-tokenizer check answering argv[2]
CONVERT = """
import sys
src, pre = sys.argv[1], sys.argv[2]
sys.path.insert(0, src)
sys.argv = [src + "/convert_hf_to_gguf.py"] + sys.argv[3:]
import conversion.base
conversion.base.TextModel.get_vocab_base_pre = lambda self, tokenizer: pre
import convert_hf_to_gguf
convert_hf_to_gguf.main()
"""


# fixture folder: family, RoPE scaling, tied embeddings, keep the
# safetensors with transformers' reference. gguf-llama32-tiny is shaped as
# Llama 3.2 is: Llama 3.1's RoPE scaling ("llama3"; original_max_position_
# embeddings 64, so that with 8 frequencies of RoPE theta 500000 one is
# kept, one blended and the rest slowed) and the output head tied to the
# embeddings.
VARIANTS = {
    "gguf-kquant-tiny": ("llama", None, False, False),
    "gguf-lowk-tiny": ("llama", None, False, False),
    "gguf-iq4-tiny": ("llama", None, False, False),
    "gguf-iq-tiny": ("llama", None, False, False),
    "gguf-iq1-tiny": ("llama", None, False, False),
    "gguf-atload-tiny": ("llama", None, False, False),
    "gguf-fallback-tiny": ("llama", None, False, False),
    "gguf-llama3-tiny": ("llama", None, False, False),
    "gguf-llama32-tiny": ("llama", dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                        original_max_position_embeddings=64, rope_theta=500000.0), True, True),
    "gguf-qwen2-tiny": ("qwen2", None, True, True),
    "gguf-mistral-tiny": ("mistral", None, False, True),
}
# gguf-kquant-tiny: the llama3-tiny model at width 256 and MLP 512 (4
# heads of 64), so that every matrix's rows are whole K-quant super-blocks,
# in llama-quantize's K-quant mixes instead of F32 and Q8_0 (the F32 file
# it quantizes is not kept): Q4_K_M (Q4_K, with Q6_K for the output head
# and some v and down matrices), Q5_K_M (Q5_K and Q6_K), Q6_K.
KQUANT = dict(
    shape=dict(hidden_size=256, intermediate_size=512),
    # the matrices' spread: N(0, 0.08) at width 64; N(0, 0.04) at width 256
    # keeps each product's gain (0.08 sqrt 64 = 0.04 sqrt 256)
    std=0.04,
    keep_source=False,
    types=["q4_k_m", "q5_k_m", "q6_k"],
    # at width 256 no seed below 60 gives every step of the three files a
    # margin of 0.04 (the best: 0.011), so 0.02; vtp's and llama.cpp's first
    # logits differ by ~0.04 there (test-gguf-fidelity prints it), and all
    # 12 greedy tokens still agree on the three files
    min_margin=0.02)
# per-variant settings beyond VARIANTS' (defaults: width 64, N(0, 0.08),
# the F32 file kept, Q8_0, MIN_MARGIN)
# gguf-lowk-tiny: the same shape in llama-quantize's smallest mixes: Q3_K_S
# (every matrix Q3_K but the head, Q6_K), Q3_K_M (Q3_K with Q4_K / Q5_K for
# some v, o and down matrices), Q2_K (Q2_K with Q3_K / Q4_K ones)
LOWK = dict(KQUANT, types=["q3_k_s", "q3_k_m", "q2_k"])
# gguf-iq4-tiny: the same shape in IQ4_NL and IQ4_XS (llama-quantize makes
# both without an importance matrix; the head stays Q6_K)
IQ4 = dict(KQUANT, types=["iq4_nl", "iq4_xs"])
# gguf-iq-tiny: the same shape in llama.cpp's lattice mixes, each made with
# an importance matrix (llama-imatrix on CALIBRATION, as users' IQ files
# are; llama-quantize refuses IQ2_XXS and IQ2_XS without one): IQ3_XXS,
# IQ3_S, IQ2_XXS, IQ2_XS and IQ2_M (whose matrices are IQ2_S)
# (no seed below 60 gives all five files' 60 steps a margin of 0.02: 0.005,
# and test-gguf-fidelity compares the steps before a near-tie its logit gap
# to llama.cpp exceeds)
IQ = dict(KQUANT, types=["iq3_xxs", "iq3_s", "iq2_xxs", "iq2_xs", "iq2_m"], imatrix=True, min_margin=0.005)
# gguf-iq1-tiny: the same in IQ1_S and IQ1_M (1.56 and 1.75 bits a weight;
# importance matrix too)
IQ1 = dict(IQ, types=["iq1_s", "iq1_m"])
# gguf-atload-tiny: what vtp's quantizers at load are checked against as a
# whole model: one layer at width 256, MLP 256, converted to F16 (kept), and
# llama-quantize's files of it with every matrix in one type (--pure, the
# output head too) and the token embedding left F16, as vtp's
# weight-type=TYPE leaves it: IQ4_NL, IQ4_XS and Q4_K
ATLOAD = dict(KQUANT, shape=dict(hidden_size=256, intermediate_size=256, num_hidden_layers=1), source="f16",
              keep_source=True, types=["iq4_nl", "iq4_xs", "q4_k"],
              quantize_args=["--pure", "--token-embedding-type", "f16"],
              # no seed below 60 gives the four files' steps a margin of 0.02
              # (the best: 0.006): test-gguf-fidelity compares llama.cpp's
              # greedy steps up to the first near-tie
              min_margin=0.005)
# gguf-fallback-tiny: the same at width 64 (MLP 128, two layers), whose
# rows are not whole 256-blocks: llama-quantize --pure writes its 32-block
# fallback types (Q4_K -> Q5_0, Q6_K -> Q8_0, Q2_K -> Q4_0, IQ4_XS ->
# IQ4_NL), which vtp's weight-type must give too
FALLBACK = dict(ATLOAD, shape=None, std=0.08, types=["q4_k", "q6_k", "q2_k", "iq4_xs"], min_margin=MIN_MARGIN)
OPTIONS = {"gguf-kquant-tiny": KQUANT, "gguf-lowk-tiny": LOWK, "gguf-iq4-tiny": IQ4, "gguf-iq-tiny": IQ,
           "gguf-iq1-tiny": IQ1, "gguf-atload-tiny": ATLOAD, "gguf-fallback-tiny": FALLBACK}
# the importance matrix's text (gguf-iq-tiny): sentences of the fixture's
# world, 40 times over in varied order
CALIBRATION = " ".join(
    "%s %s %s." % (a, b, c)
    for i in range(40)
    for a, b, c in [(("A red circle", "Two blue squares", "The green triangle", "What is in the picture?")[i % 4],
                     ("is next to", "lies above", "and", "with")[(i // 4) % 4],
                     ("12 squares", "345 triangles", "a yellow star", "the black line")[(i * 7) % 4])])
# family: (vocabulary, its tokenizer.ggml.pre, BOS, EOS, add BOS)
FAMILIES = {
    "llama": ("llama3-mini", "llama-bpe", "<|begin_of_text|>", "<|end_of_text|>", True),
    "qwen2": ("qwen2-mini", "qwen2", "<|endoftext|>", "<|endoftext|>", False),
    "mistral": ("llama3-mini", "llama-bpe", "<|begin_of_text|>", "<|end_of_text|>", True),
}


def make_model(d, seed, family="llama", rope_scaling=None, tied=False, shape=None, std=0.08):
    vocab, _, bos, eos, add_bos = FAMILIES[family]
    torch.manual_seed(seed)
    extra = dict(rope_parameters=rope_scaling) if rope_scaling else {}
    common = dict(vocab_size=601, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                  rms_norm_eps=1e-5, tie_word_embeddings=tied, torch_dtype="float32")
    common.update(shape or {})
    if family == "qwen2":
        cfg = Qwen2Config(rope_theta=1000000.0, bos_token_id=0, eos_token_id=0, use_sliding_window=False, **common)
        model = Qwen2ForCausalLM(cfg).eval()
    elif family == "mistral":
        # a window (128) longer than the fixture's 36 positions and shorter
        # than max_position_embeddings (256): vtp's context becomes 128
        cfg = MistralConfig(rope_theta=10000.0, bos_token_id=0, eos_token_id=1, sliding_window=128, **common)
        model = MistralForCausalLM(cfg).eval()
    else:
        cfg = LlamaConfig(rope_theta=500000.0, bos_token_id=0, eos_token_id=1, **common, **extra)
        model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                p.normal_(0.0, std)
            elif name.endswith(".bias"):
                p.normal_(0.0, 0.1)
    model.save_pretrained(d, safe_serialization=True)
    shutil.copy(os.path.join(VOCABS, vocab + ".tokenizer.json"), os.path.join(d, "tokenizer.json"))
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": bos, "eos_token": eos,
                   "add_bos_token": add_bos, "model_max_length": 256}, f, indent=1)
    return model


def torch_reference(model, prompt_ids):
    """transformers' logits of the last prompt position and greedy ids."""
    ids = torch.tensor([prompt_ids])
    with torch.no_grad():
        logits = model(ids).logits[0, -1]
        # the mask given: generate would otherwise mask every id equal to
        # the pad id it is told (BOS here)
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=N_PREDICT, do_sample=False,
                             eos_token_id=None, pad_token_id=1, output_scores=True, return_dict_in_generate=True)
    margins = [float(torch.topk(sc[0], 2).values[0] - torch.topk(sc[0], 2).values[1]) for sc in out.scores]
    return dict(prompt_ids=prompt_ids, greedy_ids=out.sequences[0, len(prompt_ids):].tolist(), margins=margins,
                first_logits=logits.tolist())


def make_variant(name, family, rope_scaling, tied, keep_hf, src, greedy, work):
    out_dir = os.path.join(ROOT, "tests", "fixtures", name)
    bindir = llamacpp_peer.bindir(src)
    os.makedirs(out_dir, exist_ok=True)
    opt = OPTIONS.get(name, {})
    min_margin = opt.get("min_margin", MIN_MARGIN)
    for seed in range(60):
        hf = os.path.join(work, "%s-%d" % (name, seed))
        model = make_model(hf, seed, family, rope_scaling, tied, opt.get("shape"), opt.get("std", 0.08))
        env = dict(os.environ, PYTHONPATH=os.path.join(src, "gguf-py"))
        # the converted file the others are quantized from (F32 unless the
        # variant says), kept in the folder unless the variant says
        source, keep_source = opt.get("source", "f32"), opt.get("keep_source", True)
        source_file = os.path.join(out_dir if keep_source else work, "llm-%s.gguf" % source)
        run([sys.executable, "-c", CONVERT, src, FAMILIES[family][1], hf, "--outtype", source, "--outfile",
             source_file],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        types = ([source] if keep_source else []) + opt.get("types", TYPES[1:])
        imatrix = []
        if opt.get("imatrix"):
            text, dat = os.path.join(work, "calibration.txt"), os.path.join(work, "imatrix-%d.gguf" % seed)
            with open(text, "w") as f:
                f.write(CALIBRATION)
            run([os.path.join(bindir, "llama-imatrix"), "-m", source_file, "-f", text, "-c", "64", "-b", "64", "-t", "2",
                 "-o", dat], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            imatrix = ["--imatrix", dat]
        for t in types[1 if keep_source else 0:]:
            run([os.path.join(bindir, "llama-quantize")] + imatrix + opt.get("quantize_args", [])
                + [source_file, os.path.join(out_dir, "llm-%s.gguf" % t), t.upper()],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        refs = {}
        for t in types:
            out = run([greedy, os.path.join(out_dir, "llm-%s.gguf" % t), str(N_PREDICT), PROMPT],
                      capture_output=True, text=True).stdout
            refs[t] = dict(generator="tools/make_gguf_bpe_model_fixtures.py (tools/llamacpp_greedy.c)",
                           llama_cpp=src, type=t, seed=seed,
                           source="a random %s with tests/fixtures/gguf-vocab/%s" % (family, FAMILIES[family][0]),
                           **json.loads(out))
        if keep_hf:
            refs["hf"] = dict(generator="tools/make_gguf_bpe_model_fixtures.py (transformers %s)" %
                              __import__("transformers").__version__, type="hf", seed=seed,
                              source="hf/ (the safetensors the GGUF files were converted from)",
                              prompt=PROMPT, **torch_reference(model, refs["f32"]["prompt_ids"]))
        worst = min(min(r["margins"]) for r in refs.values())
        print("%s seed %d: min margin %.4f" % (name, seed, worst))
        if worst >= min_margin:
            break
    else:
        sys.exit("%s: no seed below 60 gives margins of %g" % (name, min_margin))
    if keep_hf:
        dst = os.path.join(out_dir, "hf")
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(hf, dst, ignore=shutil.ignore_patterns("generation_config.json"))
    for t, ref in refs.items():
        with open(os.path.join(out_dir, "reference-%s.json" % t), "w") as f:
            json.dump(ref, f, indent=1)
        print("%s %s: prompt %s -> %s (min margin %.4f)" % (name, t, ref["prompt_ids"], ref["greedy_ids"],
                                                          min(ref["margins"])))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    llamacpp_peer.add_argument(ap)
    ap.add_argument("--only", nargs="*", help="fixture folders to make (default: all)")
    args = ap.parse_args()
    src = args.llama_cpp
    with tempfile.TemporaryDirectory() as work:
        greedy = llamacpp_peer.build_tool(src, work, "llamacpp_greedy")
        for name, (family, rope_scaling, tied, keep_hf) in VARIANTS.items():
            if args.only and name not in args.only:
                continue
            make_variant(name, family, rope_scaling, tied, keep_hf, src, greedy, work)


if __name__ == "__main__":
    main()
