#!/usr/bin/env python3
"""LLaMA-Adapter fidelity fixtures. The reference is written here, in
PyTorch, from the forward pass in shared/docs/model-spec.md section 5 (the
official LLaMA-Adapter code is not a package); it shares nothing with vtp's
C code. The PEFT form is run by the peft library itself.

    python3 tools/make_adapter_fixtures.py        # writes tests/fixtures/adapter-tiny/

What it does:
 1. makes tiny "release" files in the official formats (Meta consolidated.00.pth
    + params.json + a sentencepiece tokenizer.model, an OpenAI CLIP visual
    state dict, a LLaMA-Adapter V2 multimodal .pth with biases, LoRA and
    new_gate, and a V1 .pth), random weights, non-zero gates;
 2. converts them with tools/convert_llama_adapter.py (what users run);
 3. writes an HF-format copy of the base (q/k rows permuted for rotate_half,
    checked against transformers' LlamaForCausalLM), and a PEFT
    adaption-prompt adapter on a grouped-query HF Llama;
 4. records, from the reference: the image, pixel values, CLIP features,
    the visual queries vq, every adapted layer's prompt, logits and 20 greedy
    tokens for V2 (image + Alpaca prompt) and V1 (text), the V2 logits with
    the adaption prompts off, and PEFT's logits and greedy tokens (and its
    base model's logits).
"""
import argparse
import json
import math
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_llama_adapter as conv  # noqa: E402
from fixture_common import TRAIN_TEXT, synthetic_image  # noqa: E402

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
ALPACA = ("Below is an instruction that describes a task. Write a response that appropriately completes the "
          "request.\n\n### Instruction:\n{instruction}\n\n### Response:")
INSTRUCTION = "What is in the picture?"
N_GREEDY = 20

LLM = dict(dim=48, n_layers=3, n_heads=4, multiple_of=32, norm_eps=1e-6)
CLIP = dict(width=32, layers=2, heads=4, patch=7, image=28, output_dim=24, mlp=128)
V2 = dict(query_len=3, query_layer=2, v_embed_dim=24, v_depth=2, v_num_heads=4, v_mlp_ratio=4.0, lora_rank=4)
V1 = dict(query_len=3, query_layer=2)


# ---------------------------------------------------------------- the reference (model-spec section 5)

def rms_norm(x, w, eps):
    x = x.float()
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def freqs_cis(head_dim, end, theta=10000.0):
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim))
    t = torch.arange(end, dtype=torch.float32)
    return torch.polar(torch.ones(end, head_dim // 2), torch.outer(t, freqs))


def rope_meta(x, fc):
    """Meta's RoPE: complex multiply on the pairs (2j, 2j+1)."""
    xc = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(xc * fc[:, None, :]).flatten(-2)


def lin(x, w, b=None):
    return F.linear(x, w, b)


def lora(w, name, x):
    """The LoRA term of projection @name (zero when the adapter has none)."""
    l1, l2 = w.get(name + "_l1.weight"), w.get(name + "_l2.weight")
    return 0 if l1 is None else lin(lin(x, l1), l2)


def llama_forward(w, cfg, tokens, prompts=None, gates=None, new_gates=None):
    """Meta LLaMA with LLaMA-Adapter's adapted attention. @w: tensors by Meta
    name, with the adapter's LLM-side ones (biases, LoRA, norms) merged in;
    @prompts: {layer: [Lp, dim]}; @gates: {layer: [H] applied gate}."""
    dim, H = cfg["dim"], cfg["n_heads"]
    hd = dim // H
    n = tokens.shape[0]
    fc = freqs_cis(hd, n)
    mask = torch.full((n, n), float("-inf")).triu(1)
    h = w["tok_embeddings.weight"][tokens].float()
    for i in range(cfg["n_layers"]):
        p = "layers.%d." % i
        x = rms_norm(h, w[p + "attention_norm.weight"], cfg["norm_eps"])
        q = lin(x, w[p + "attention.wq.weight"], w.get(p + "attention.wq.bias")) + lora(w, p + "attention.lora_wq", x)
        k = lin(x, w[p + "attention.wk.weight"]) + lora(w, p + "attention.lora_wk", x)
        v = lin(x, w[p + "attention.wv.weight"]) + lora(w, p + "attention.lora_wv", x)
        q = rope_meta(q.view(n, H, hd), fc)
        k = rope_meta(k.view(n, H, hd), fc)
        v = v.view(n, H, hd)
        scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(hd) + mask
        out = torch.einsum("hqk,khd->qhd", F.softmax(scores.float(), dim=-1), v)
        if prompts is not None and i in prompts:
            ak = lin(prompts[i], w[p + "attention.wk.weight"]).view(-1, H, hd)      # no bias, no LoRA, no RoPE
            av = lin(prompts[i], w[p + "attention.wv.weight"]).view(-1, H, hd)
            a = F.softmax((torch.einsum("qhd,khd->hqk", q, ak) / math.sqrt(hd)).float(), dim=-1)
            a = gates[i][:, None, None] * a
            if new_gates is not None:
                a = new_gates[i] * a
            out = out + torch.einsum("hqk,khd->qhd", a, av)
        out = out.reshape(n, dim)
        h = h + lin(out, w[p + "attention.wo.weight"], w.get(p + "attention.wo.bias")) \
            + lora(w, p + "attention.lora_wo", out)
        x = rms_norm(h, w[p + "ffn_norm.weight"], cfg["norm_eps"])
        g = lin(x, w[p + "feed_forward.w1.weight"], w.get(p + "feed_forward.w1.bias")) + lora(w, p + "feed_forward.lora_w1", x)
        u = lin(x, w[p + "feed_forward.w3.weight"], w.get(p + "feed_forward.w3.bias")) + lora(w, p + "feed_forward.lora_w3", x)
        m = F.silu(g) * u
        h = h + lin(m, w[p + "feed_forward.w2.weight"], w.get(p + "feed_forward.w2.bias")) \
            + lora(w, p + "feed_forward.lora_w2", m)
    return lin(rms_norm(h, w["norm.weight"], cfg["norm_eps"]), w["output.weight"])


MARGINS = []


def greedy(forward, tokens, eos=2):
    """Greedy decoding by recomputing the whole sequence (no cache); the
    smallest top-1/top-2 gap goes to MARGINS (near-ties make fragile fixtures)."""
    out, gap = [], float("inf")
    for _ in range(N_GREEDY):
        logits = forward(torch.tensor(tokens + out))[-1]
        top = torch.topk(logits, 2).values
        gap = min(gap, float(top[0] - top[1]))
        nxt = int(torch.argmax(logits))
        if nxt == eos:
            break
        out.append(nxt)
    MARGINS.append(gap)
    return out


def layer_norm(x, w, b, eps=1e-5):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def clip_visual(v, cfg, pixels):
    """OpenAI CLIP's visual tower as LLaMA-Adapter calls it: ln_post on all
    tokens, then @ proj."""
    W, heads = cfg["width"], cfg["heads"]
    x = F.conv2d(pixels[None], v["visual.conv1.weight"], stride=cfg["patch"])[0]        # [W, g, g]
    x = x.reshape(W, -1).t()
    x = torch.cat([v["visual.class_embedding"][None], x]) + v["visual.positional_embedding"]
    x = layer_norm(x, v["visual.ln_pre.weight"], v["visual.ln_pre.bias"])
    hd = W // heads
    for i in range(cfg["layers"]):
        p = "visual.transformer.resblocks.%d." % i
        y = layer_norm(x, v[p + "ln_1.weight"], v[p + "ln_1.bias"])
        qkv = lin(y, v[p + "attn.in_proj_weight"], v[p + "attn.in_proj_bias"])
        q, k, vv = qkv.split(W, dim=-1)
        q, k, vv = (t.view(-1, heads, hd) for t in (q, k, vv))
        a = F.softmax(torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(hd), dim=-1)
        y = torch.einsum("hqk,khd->qhd", a, vv).reshape(-1, W)
        x = x + lin(y, v[p + "attn.out_proj.weight"], v[p + "attn.out_proj.bias"])
        y = layer_norm(x, v[p + "ln_2.weight"], v[p + "ln_2.bias"])
        y = lin(y, v[p + "mlp.c_fc.weight"], v[p + "mlp.c_fc.bias"])
        y = y * torch.sigmoid(1.702 * y)
        x = x + lin(y, v[p + "mlp.c_proj.weight"], v[p + "mlp.c_proj.bias"])
    return layer_norm(x, v["visual.ln_post.weight"], v["visual.ln_post.bias"]) @ v["visual.proj"]


def timm_block(a, p, x, heads):
    y = layer_norm(x, a[p + "norm1.weight"], a[p + "norm1.bias"])
    n, c = y.shape
    qkv = lin(y, a[p + "attn.qkv.weight"], a[p + "attn.qkv.bias"]).reshape(n, 3, heads, c // heads).permute(1, 2, 0, 3)
    q, k, v = qkv[0], qkv[1], qkv[2]
    att = F.softmax((q * (c // heads) ** -0.5) @ k.transpose(-2, -1), dim=-1)
    x = x + lin((att @ v).transpose(0, 1).reshape(n, c), a[p + "attn.proj.weight"], a[p + "attn.proj.bias"])
    y = layer_norm(x, a[p + "norm2.weight"], a[p + "norm2.bias"])
    return x + lin(F.gelu(lin(y, a[p + "mlp.fc1.weight"], a[p + "mlp.fc1.bias"])), a[p + "mlp.fc2.weight"],
                   a[p + "mlp.fc2.bias"])


def visual_queries(a, clip_feats, c=V2):
    """V2 multimodal: clip_proj + LN, visual query tokens through the blocks,
    visual_proj + LN: vq [query_len, dim]."""
    f = layer_norm(lin(clip_feats, a["clip_proj.weight"], a["clip_proj.bias"]), a["clip_proj_norm.weight"],
                   a["clip_proj_norm.bias"])
    x = torch.cat([a["visual_query.weight"], f])
    for i in range(c["v_depth"]):
        x = timm_block(a, "visual_blocks.%d." % i, x, c["v_num_heads"])
    x = x[: c["query_len"]]
    return layer_norm(lin(x, a["visual_proj.weight"], a["visual_proj.bias"]), a["visual_proj_norm.weight"],
                      a["visual_proj_norm.bias"])


def preprocess(image, size):
    """LLaMA-Adapter's torchvision transform on a PIL image: Resize(size,
    bicubic) of the short side, CenterCrop(size) with round-half-even
    offsets, ToTensor, Normalize."""
    pil = Image.fromarray(image)
    w, h = pil.size
    if w <= h:
        nw, nh = size, int(size * h / w)
    else:
        nw, nh = int(size * w / h), size
    pil = pil.resize((nw, nh), Image.BICUBIC)
    top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
    arr = np.asarray(pil.crop((left, top, left + size, top + size))).astype(np.float32) / 255.0
    arr = (arr - np.array(CLIP_MEAN, dtype=np.float32)) / np.array(CLIP_STD, dtype=np.float32)
    return torch.from_numpy(arr.transpose(2, 0, 1).copy())


# ---------------------------------------------------------------- the release files

def rnd(*shape, scale=0.15):
    return torch.randn(*shape) * scale


def make_sentencepiece(path_prefix):
    import sentencepiece as spm
    text = list(TRAIN_TEXT) * 3 + [ALPACA.format(instruction=INSTRUCTION)]
    spm.SentencePieceTrainer.train(sentence_iterator=iter(text), model_prefix=path_prefix, model_type="bpe",
                                   vocab_size=400, byte_fallback=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
                                   character_coverage=1.0, split_digits=True, normalization_rule_name="identity",
                                   remove_extra_whitespaces=False, add_dummy_prefix=True, num_threads=1,
                                   minloglevel=2)
    return path_prefix + ".model"


def meta_llama(vocab):
    c = LLM
    hidden = conv.ffn_hidden(c["dim"], c["multiple_of"])
    w = {"tok_embeddings.weight": rnd(vocab, c["dim"], scale=0.5), "norm.weight": 1 + rnd(c["dim"]),
         "output.weight": rnd(vocab, c["dim"])}
    for i in range(c["n_layers"]):
        p = "layers.%d." % i
        for n in ("wq", "wk", "wv", "wo"):
            w[p + "attention.%s.weight" % n] = rnd(c["dim"], c["dim"])
        w[p + "feed_forward.w1.weight"] = rnd(hidden, c["dim"])
        w[p + "feed_forward.w3.weight"] = rnd(hidden, c["dim"])
        w[p + "feed_forward.w2.weight"] = rnd(c["dim"], hidden)
        w[p + "attention_norm.weight"] = 1 + rnd(c["dim"])
        w[p + "ffn_norm.weight"] = 1 + rnd(c["dim"])
    return w


def openai_clip(c=CLIP):
    """An OpenAI CLIP visual state dict ("visual.*"), random, of shape @c
    (also used by tools/make_bench_model.py at ViT-L/14 size)."""
    W, g = c["width"], c["image"] // c["patch"]
    v = {"visual.conv1.weight": rnd(W, 3, c["patch"], c["patch"]), "visual.class_embedding": rnd(W, scale=0.5),
         "visual.positional_embedding": rnd(g * g + 1, W, scale=0.5), "visual.proj": rnd(W, c["output_dim"])}
    for n in ("ln_pre", "ln_post"):
        v["visual.%s.weight" % n], v["visual.%s.bias" % n] = 1 + rnd(W), rnd(W)
    for i in range(c["layers"]):
        p = "visual.transformer.resblocks.%d." % i
        v[p + "attn.in_proj_weight"], v[p + "attn.in_proj_bias"] = rnd(3 * W, W), rnd(3 * W)
        v[p + "attn.out_proj.weight"], v[p + "attn.out_proj.bias"] = rnd(W, W), rnd(W)
        v[p + "mlp.c_fc.weight"], v[p + "mlp.c_fc.bias"] = rnd(c["mlp"], W), rnd(c["mlp"])
        v[p + "mlp.c_proj.weight"], v[p + "mlp.c_proj.bias"] = rnd(W, c["mlp"]), rnd(W)
        for n in ("ln_1", "ln_2"):
            v[p + n + ".weight"], v[p + n + ".bias"] = 1 + rnd(W), rnd(W)
    return v


def adapter_v2(c=V2, llm=LLM, clip_dim=CLIP["output_dim"], lora=True):
    """A LLaMA-Adapter V2 multimodal state dict as the release's "model",
    random, for an LLM of shape @llm; @lora: with LoRA and new_gate."""
    D, E = llm["dim"], c["v_embed_dim"]
    hidden = conv.ffn_hidden(D, llm["multiple_of"])
    r = c["lora_rank"]
    a = {"clip_proj.weight": rnd(E, clip_dim), "clip_proj.bias": rnd(E),
         "clip_proj_norm.weight": 1 + rnd(E), "clip_proj_norm.bias": rnd(E),
         "visual_query.weight": rnd(c["query_len"], E, scale=0.5),
         "visual_proj.weight": rnd(D, E), "visual_proj.bias": rnd(D),
         "visual_proj_norm.weight": 1 + rnd(D), "visual_proj_norm.bias": rnd(D),
         "adapter_query.weight": rnd(c["query_layer"] * c["query_len"], D, scale=0.5),
         "llama.norm.weight": 1 + rnd(D)}
    for i in range(c["v_depth"]):
        p = "visual_blocks.%d." % i
        for n, shape in (("norm1", None), ("norm2", None)):
            a[p + n + ".weight"], a[p + n + ".bias"] = 1 + rnd(E), rnd(E)
        a[p + "attn.qkv.weight"], a[p + "attn.qkv.bias"] = rnd(3 * E, E), rnd(3 * E)
        a[p + "attn.proj.weight"], a[p + "attn.proj.bias"] = rnd(E, E), rnd(E)
        m = int(E * c["v_mlp_ratio"])
        a[p + "mlp.fc1.weight"], a[p + "mlp.fc1.bias"] = rnd(m, E), rnd(m)
        a[p + "mlp.fc2.weight"], a[p + "mlp.fc2.bias"] = rnd(E, m), rnd(E)
    for i in range(llm["n_layers"]):
        p = "llama.layers.%d." % i
        a[p + "attention.gate"] = rnd(1, llm["n_heads"], 1, 1, scale=1.0)
        if lora:
            a[p + "attention.new_gate"] = 1 + rnd(1, 1, 1, 1)
        a[p + "attention.wq.bias"], a[p + "attention.wo.bias"] = rnd(D), rnd(D)
        a[p + "feed_forward.w1.bias"], a[p + "feed_forward.w3.bias"] = rnd(hidden), rnd(hidden)
        a[p + "feed_forward.w2.bias"] = rnd(D)
        a[p + "attention_norm.weight"], a[p + "ffn_norm.weight"] = 1 + rnd(D), 1 + rnd(D)
        if not lora:
            continue
        for n in ("wq", "wk", "wv", "wo"):
            a[p + "attention.lora_%s_l1.weight" % n], a[p + "attention.lora_%s_l2.weight" % n] = rnd(r, D), rnd(D, r)
        a[p + "feed_forward.lora_w1_l1.weight"], a[p + "feed_forward.lora_w1_l2.weight"] = rnd(r, D), rnd(hidden, r)
        a[p + "feed_forward.lora_w3_l1.weight"], a[p + "feed_forward.lora_w3_l2.weight"] = rnd(r, D), rnd(hidden, r)
        a[p + "feed_forward.lora_w2_l1.weight"], a[p + "feed_forward.lora_w2_l2.weight"] = rnd(r, hidden), rnd(D, r)
    return a


def adapter_v1():
    a = {"adapter_query.weight": rnd(V1["query_layer"] * V1["query_len"], LLM["dim"], scale=0.5)}
    for i in range(LLM["n_layers"]):
        a["layers.%d.attention.gate" % i] = rnd(1, LLM["n_heads"], 1, 1, scale=1.0)
    return a


# Meta's tensor names and transformers' (whole-model, then per layer)
META_TO_HF = {"tok_embeddings.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight",
              "output.weight": "lm_head.weight"}
META_TO_HF_LAYER = {"attention.wq.weight": "self_attn.q_proj.weight", "attention.wk.weight": "self_attn.k_proj.weight",
                    "attention.wv.weight": "self_attn.v_proj.weight", "attention.wo.weight": "self_attn.o_proj.weight",
                    "feed_forward.w1.weight": "mlp.gate_proj.weight", "feed_forward.w3.weight": "mlp.up_proj.weight",
                    "feed_forward.w2.weight": "mlp.down_proj.weight", "attention_norm.weight": "input_layernorm.weight",
                    "ffn_norm.weight": "post_attention_layernorm.weight"}


def rename_llama(w, n_layers, to_hf, rope_rows):
    """Meta <-> HF names of a LLaMA state dict; @rope_rows(t) reorders the
    wq / wk rows between the two RoPE conventions."""
    pairs = list(META_TO_HF.items())
    for i in range(n_layers):
        pairs += [("layers.%d.%s" % (i, m), "model.layers.%d.%s" % (i, h)) for m, h in META_TO_HF_LAYER.items()]
    out = {}
    for meta, hf in pairs:
        src, dst = (meta, hf) if to_hf else (hf, meta)
        out[dst] = rope_rows(w[src]) if meta.endswith(("wq.weight", "wk.weight")) else w[src]
    return out


def to_hf_llama(w, cfg, vocab):
    """The base in HF layout: rows of wq/wk permuted so that rotate_half
    equals Meta's interleaved RoPE (as transformers' conversion script)."""
    H, D = cfg["n_heads"], cfg["dim"]

    def perm(m):
        return m.view(H, D // H // 2, 2, D).transpose(1, 2).reshape(D, D)
    return rename_llama(w, cfg["n_layers"], True, perm)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "adapter-tiny"))
    args = ap.parse_args()
    torch.manual_seed(7)
    torch.set_num_threads(1)
    out = args.out
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    rec, meta = {}, {"generator": "tools/make_adapter_fixtures.py", "torch_version": torch.__version__,
                     "instruction": INSTRUCTION, "template": ALPACA}

    with tempfile.TemporaryDirectory() as rel:
        # 1. release files
        os.makedirs(os.path.join(rel, "llama"))
        spm_file = make_sentencepiece(os.path.join(rel, "tokenizer"))
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_file=spm_file)
        vocab = sp.get_piece_size()
        base = meta_llama(vocab)
        torch.save(base, os.path.join(rel, "llama", "consolidated.00.pth"))
        with open(os.path.join(rel, "llama", "params.json"), "w") as f:
            json.dump(dict(LLM, vocab_size=-1), f)
        clip = openai_clip()
        torch.save(dict(clip, **{"text_projection": rnd(8, 8)}), os.path.join(rel, "ViT-tiny.pt"))
        v2 = adapter_v2()
        torch.save({"model": v2, "config": {"w_bias": True, "w_lora": True, "lora_rank": V2["lora_rank"]}},
                   os.path.join(rel, "adapter_v2.pth"))
        v1 = adapter_v1()
        torch.save(v1, os.path.join(rel, "adapter_v1.pth"))

        # 2. what users run
        conv.convert_llama(argparse.Namespace(checkpoint_dir=os.path.join(rel, "llama"), tokenizer=spm_file,
                                              out=os.path.join(out, "llama"), max_positions=128))
        conv.convert_clip(argparse.Namespace(weights=os.path.join(rel, "ViT-tiny.pt"), out=os.path.join(out, "clip"),
                                             heads=CLIP["heads"], float32=False))
        conv.convert_adapter(argparse.Namespace(weights=os.path.join(rel, "adapter_v2.pth"), out=os.path.join(out, "v2"),
                                                version="v2-multimodal", query_len=V2["query_len"],
                                                v_depth=V2["v_depth"], v_num_heads=V2["v_num_heads"],
                                                v_mlp_ratio=V2["v_mlp_ratio"]))
        conv.convert_adapter(argparse.Namespace(weights=os.path.join(rel, "adapter_v1.pth"), out=os.path.join(out, "v1"),
                                                version="v1", query_len=V1["query_len"], v_depth=0, v_num_heads=0,
                                                v_mlp_ratio=0))

    # 3. the HF-layout base, checked against transformers
    from transformers import LlamaConfig, LlamaForCausalLM
    hf_dir = os.path.join(out, "llama-hf")
    os.makedirs(hf_dir)
    hidden = conv.ffn_hidden(LLM["dim"], LLM["multiple_of"])
    hf_cfg = LlamaConfig(vocab_size=vocab, hidden_size=LLM["dim"], intermediate_size=hidden,
                         num_hidden_layers=LLM["n_layers"], num_attention_heads=LLM["n_heads"],
                         rms_norm_eps=LLM["norm_eps"], max_position_embeddings=128, bos_token_id=1, eos_token_id=2)
    hf_model = LlamaForCausalLM(hf_cfg).eval()
    hf_model.load_state_dict(to_hf_llama(base, LLM, vocab))
    hf_model.save_pretrained(hf_dir)
    shutil.copy(os.path.join(out, "llama", "tokenizer.json"), hf_dir)

    # 4. the reference
    cfg = dict(LLM)
    image = synthetic_image(41, 30, seed=77)
    Image.fromarray(image).save(os.path.join(out, "image.png"))
    pixels = preprocess(image, CLIP["image"])
    prompt_text = ALPACA.format(instruction=INSTRUCTION)
    ids = [1] + sp.encode(prompt_text)
    from tokenizers import Tokenizer
    converted = Tokenizer.from_file(os.path.join(out, "llama", "tokenizer.json"))
    for text in (prompt_text, "hello world, " + INSTRUCTION, INSTRUCTION):
        assert converted.encode(text).ids == [1] + sp.encode(text), "converted tokenizer disagrees: " + text
    with torch.no_grad():
        feats = clip_visual(clip, CLIP, pixels)
        vq = visual_queries(v2, feats)
        first = LLM["n_layers"] - V2["query_layer"]
        qv = v2["adapter_query.weight"].view(V2["query_layer"], V2["query_len"], LLM["dim"])
        prompts = {first + j: qv[j] + vq for j in range(V2["query_layer"])}
        gates = {i: torch.tanh(v2["llama.layers.%d.attention.gate" % i].view(-1)) for i in prompts}
        new_gates = {i: v2["llama.layers.%d.attention.new_gate" % i].view(()) for i in prompts}
        w2 = dict(base)
        w2.update({k[len("llama."):]: v for k, v in v2.items() if k.startswith("llama.")})

        def fwd_v2(t):
            return llama_forward(w2, cfg, t, prompts, gates, new_gates)
        logits = fwd_v2(torch.tensor(ids))
        plain = llama_forward(w2, cfg, torch.tensor(ids))
        g2 = greedy(fwd_v2, ids)
        assert torch.allclose(llama_forward(base, cfg, torch.tensor(ids)), hf_model(torch.tensor([ids])).logits[0],
                              atol=1e-5), "the HF-layout base disagrees with the Meta one"

        # V1: text only, raw gates, the last query_layer layers
        q1 = v1["adapter_query.weight"].view(V1["query_layer"], V1["query_len"], LLM["dim"])
        first1 = LLM["n_layers"] - V1["query_layer"]
        prompts1 = {first1 + j: q1[j] for j in range(V1["query_layer"])}
        gates1 = {i: v1["layers.%d.attention.gate" % i].view(-1) for i in prompts1}

        def fwd_v1(t):
            return llama_forward(base, cfg, t, prompts1, gates1)
        ids1 = [1] + sp.encode("hello world, " + INSTRUCTION)
        logits1 = fwd_v1(torch.tensor(ids1))
        g1 = greedy(fwd_v1, ids1)

    rec.update({"image": torch.from_numpy(image.copy()), "pixel_values": pixels.contiguous(),
                "clip_features": feats.contiguous(), "vq": vq.contiguous(),
                "prompts": torch.cat([prompts[i] for i in sorted(prompts)]).contiguous(),
                "input_ids_v2": torch.tensor(ids, dtype=torch.int64), "logits_v2": logits.contiguous(),
                "logits_v2_no_prompts": plain.contiguous(), "greedy_v2": torch.tensor(g2, dtype=torch.int64),
                "input_ids_v1": torch.tensor(ids1, dtype=torch.int64), "logits_v1": logits1.contiguous(),
                "greedy_v1": torch.tensor(g1, dtype=torch.int64)})
    # the answer as a pipeline prints it: the converted tokenizer.json decoded by HF tokenizers (byte-fallback
    # pieces that are not valid UTF-8 become one U+FFFD each, where sentencepiece merges some)
    meta.update({"text_v2": prompt_text, "greedy_text_v2": sp.decode(g2),
                 "greedy_text_v2_tokenizers": converted.decode(g2, skip_special_tokens=True), "greedy_v2": g2,
                 "greedy_v1": g1,
                 "v2_first_adapted_layer": first, "v1_first_adapted_layer": first1})

    # 5. PEFT adaption prompt on a grouped-query HF Llama, run by peft
    from peft import AdaptionPromptConfig, get_peft_model
    torch.manual_seed(8)
    pcfg = LlamaConfig(vocab_size=vocab, hidden_size=64, intermediate_size=96, num_hidden_layers=3,
                       num_attention_heads=8, num_key_value_heads=2, rms_norm_eps=1e-5, max_position_embeddings=128,
                       bos_token_id=1, eos_token_id=2, initializer_range=0.15)
    pbase = LlamaForCausalLM(pcfg).eval()
    with torch.no_grad():
        for n, p in pbase.named_parameters():
            if "norm" in n:
                p.add_(torch.randn_like(p) * 0.1)
    base_dir = os.path.join(out, "peft-base")
    pbase.save_pretrained(base_dir)
    shutil.copy(os.path.join(out, "llama", "tokenizer.json"), base_dir)
    ids_p = [1] + sp.encode(INSTRUCTION)
    with torch.no_grad():
        base_logits = pbase(torch.tensor([ids_p])).logits[0].clone()
    peft_model = get_peft_model(pbase, AdaptionPromptConfig(adapter_len=4, adapter_layers=2, task_type="CAUSAL_LM"))
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if n.endswith("adaption_gate"):
                p.copy_(torch.randn_like(p) * 0.8)
            if n.endswith("adaption_prompt"):
                p.copy_(torch.randn_like(p))
    peft_model.eval()
    peft_model.save_pretrained(os.path.join(out, "peft"))
    os.remove(os.path.join(out, "peft", "README.md"))          # a generated model card
    with torch.no_grad():
        p_logits = peft_model(input_ids=torch.tensor([ids_p])).logits[0]
        gen = peft_model.generate(input_ids=torch.tensor([ids_p]), max_new_tokens=N_GREEDY, do_sample=False,
                                  pad_token_id=0)
    gp = gen[0, len(ids_p):].tolist()
    if 2 in gp:
        gp = gp[: gp.index(2) + 1]
    rec.update({"input_ids_peft": torch.tensor(ids_p, dtype=torch.int64), "logits_peft": p_logits.contiguous(),
                "logits_peft_base": base_logits.contiguous(), "greedy_peft": torch.tensor(gp, dtype=torch.int64)})
    meta.update({"greedy_peft": gp})

    meta["greedy_min_margins"] = MARGINS
    assert min(MARGINS) > 1e-3, "a greedy continuation is too close to a tie to be a stable fixture"
    save_file(rec, os.path.join(out, "reference.safetensors"))
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("adapter-tiny: V2 greedy %s, V1 greedy %s, PEFT greedy %s" % (g2, g1, gp))


if __name__ == "__main__":
    main()
