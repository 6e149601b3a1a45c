"""What the world's bridge trainings share (issue 7): the frozen image
encoder and language model, batches of scenes, the InstructBLIP-style
Q-Former and the LLaMA-Adapter V2-style adapter as PyTorch modules, and
how each is saved in the layout vtp loads.

Every bridge reads the same visual features, those vtpencoder gives for the
encoder directory (a clip_vision_model: the second-to-last hidden state
without its CLS row, 64 rows x 128), and feeds the same frozen LLM, so the
bridges differ in nothing but themselves.
"""
import json
import math
import os
import shutil
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
import world  # noqa: E402
from train_clip import pixels  # noqa: E402
from train_text import ALPACA, DESCRIBE  # noqa: E402


# ---------------------------------------------------------------- the frozen parts

class Encoder:
    """The frozen CLIP tower; features() = what vtpencoder emits for it."""

    def __init__(self, path):
        from transformers import CLIPVisionModel
        self.model = CLIPVisionModel.from_pretrained(path).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.width = self.model.config.hidden_size

    @torch.no_grad()
    def features(self, imgs):
        out = self.model(pixel_values=torch.stack([pixels(i) for i in imgs]), output_hidden_states=True)
        return out.hidden_states[-2][:, 1:]


def load_llm(path):
    from tokenizers import Tokenizer
    from transformers import LlamaForCausalLM
    llm = LlamaForCausalLM.from_pretrained(path).eval()
    for p in llm.parameters():
        p.requires_grad_(False)
    return llm, Tokenizer.from_file(os.path.join(path, "tokenizer.json"))


def draw_batch(rng, n, split="train"):
    """@n (picture, question, answer) from fresh scenes; "Describe the
    picture." twice as often as any one question (as train_llava.py)."""
    out = []
    for _ in range(n):
        img, rec = world.scene(split, rng.randrange(1_000_000))
        q, a = rng.choice([(qa["q"], qa["a"]) for qa in rec["qa"]] + [(DESCRIBE, rec["caption"])] * 2)
        out.append((img, q, a))
    return out


def pad(seqs, value=0):
    n = max(len(s) for s in seqs)
    return torch.tensor([list(s) + [value] * (n - len(s)) for s in seqs], dtype=torch.long)


def answer_ids(tok, answer):
    """The answer as the LM learned it ("...Response:red" = "▁red"), then </s>."""
    return tok.encode(answer, add_special_tokens=False).ids + [2]


# ---------------------------------------------------------------- Q-Former (InstructBLIP layout)

def train_wordpiece(out_dir, vocab_size=160, captions=False):
    """A BERT-style uncased WordPiece vocabulary for the Q-Former's
    instructions, trained on the world's questions, saved as InstructBLIP
    keeps bert-base-uncased: DIR/qformer_tokenizer/{tokenizer.json,vocab.txt}.
    @captions: the captions too, and BLIP-2's [DEC] token, for the
    Q-Former's first stage (train_qformer_stage1.py), whose losses read and
    write captions (the questions alone left "gray", "large", "at" spelt
    letter by letter)."""
    from tokenizers import BertWordPieceTokenizer
    lines = []
    for i in range(3000):
        _, rec = world.scene("train", i)
        lines += [qa["q"] for qa in rec["qa"]] + ([rec["caption"]] if captions else [])
    lines += [DESCRIBE, "What is in the picture?"]
    tok = BertWordPieceTokenizer(lowercase=True)
    tok.train_from_iterator(lines, vocab_size=vocab_size, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                                                        "[MASK]"] + (["[DEC]"] if captions else []),
                            show_progress=False)
    d = os.path.join(out_dir, "qformer_tokenizer")
    os.makedirs(d, exist_ok=True)
    tok.save(os.path.join(d, "tokenizer.json"))
    tok.save_model(d)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizerFast", "do_lower_case": True, "model_max_length": 64}, f,
                  indent=1)
    from tokenizers import Tokenizer
    return Tokenizer.from_file(os.path.join(d, "tokenizer.json"))


class QFormer(nn.Module):
    """transformers' InstructBlipQFormerModel with its query tokens and the
    language projection: queries (and, with text conditioning, the
    instruction) read the image features by cross-attention."""

    def __init__(self, vocab_size, encoder_width, llm_width, n_queries=8, width=128, layers=2, heads=4):
        super().__init__()
        from transformers import InstructBlipQFormerConfig
        from transformers.models.instructblip.modeling_instructblip import InstructBlipQFormerModel
        self.config = InstructBlipQFormerConfig(vocab_size=vocab_size, hidden_size=width, num_hidden_layers=layers,
                                                num_attention_heads=heads, intermediate_size=4 * width,
                                                cross_attention_frequency=1, encoder_hidden_size=encoder_width,
                                                max_position_embeddings=64, pad_token_id=0)
        self.qformer = InstructBlipQFormerModel(self.config)
        self.query_tokens = nn.Parameter(torch.randn(1, n_queries, width) * 0.02)
        self.language_projection = nn.Linear(width, llm_width)

    def forward(self, feats, instr_ids=None, instr_mask=None):
        B = feats.shape[0]
        q = self.query_tokens.expand(B, -1, -1)
        qmask = torch.ones(q.shape[:2], dtype=torch.long)
        mask = qmask if instr_ids is None else torch.cat([qmask, instr_mask], 1)
        out = self.qformer(input_ids=instr_ids, attention_mask=mask, query_embeds=q, encoder_hidden_states=feats,
                           encoder_attention_mask=torch.ones(feats.shape[:2], dtype=torch.long))
        return self.language_projection(out.last_hidden_state[:, : q.shape[1]])


def load_qformer(path):
    """A directory save_qformer wrote: (QFormer, its WordPiece tokenizer)."""
    from safetensors.torch import load_file
    from tokenizers import Tokenizer
    with open(os.path.join(path, "config.json")) as f:
        cfg = json.load(f)
    qc = cfg["qformer_config"]
    sd = {k: t.float() for k, t in load_file(os.path.join(path, "model.safetensors")).items()}
    qf = QFormer(qc["vocab_size"], qc["encoder_hidden_size"], sd["language_projection.weight"].shape[0],
                 n_queries=cfg["num_query_tokens"], width=qc["hidden_size"], layers=qc["num_hidden_layers"],
                 heads=qc["num_attention_heads"])
    missing, unexpected = qf.load_state_dict(sd, strict=False)
    assert not unexpected and all(k.endswith("position_ids") for k in missing), (missing, unexpected)
    return qf.eval(), Tokenizer.from_file(os.path.join(path, "qformer_tokenizer", "tokenizer.json"))


def qformer_instructions(wp, questions):
    ids = [wp.encode(q).ids for q in questions]
    return pad(ids), pad([[1] * len(i) for i in ids])


def save_qformer(qf, wp_dir, encoder_dir, llm, out):
    """An InstructBLIP-layout directory (config with qformer_config and
    num_query_tokens; query_tokens, qformer.*, language_projection.*;
    qformer_tokenizer/). Its vision tower and LLM are the world's
    encoder/ and llm/ directories, which the unified graphs name beside
    it; the config describes them so the shapes can be checked."""
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig
    os.makedirs(out, exist_ok=True)
    v = CLIPVisionConfig.from_pretrained(encoder_dir).to_dict()
    cfg = {"model_type": "instructblip", "architectures": ["InstructBlipForConditionalGeneration"],
           "num_query_tokens": qf.query_tokens.shape[1], "image_token_index": llm.config.vocab_size - 1,
           "vision_config": {k: v[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers",
                                               "num_attention_heads", "image_size", "patch_size", "layer_norm_eps")},
           "qformer_config": qf.config.to_dict(), "text_config": llm.config.to_dict(),
           "world": {"vision_tower": "the encoder directory beside this one (clip_vision_model)",
                     "language_model": "the llm directory beside this one"}}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1, default=str)
    sd = {"query_tokens": qf.query_tokens.detach()}
    sd.update({"qformer." + k: t.detach() for k, t in qf.qformer.state_dict().items()
               if not k.endswith("position_ids")})
    sd.update({"language_projection." + k: t.detach() for k, t in qf.language_projection.state_dict().items()})
    save_file({k: t.contiguous() for k, t in sd.items()}, os.path.join(out, "model.safetensors"))
    if os.path.abspath(wp_dir) != os.path.abspath(os.path.join(out, "qformer_tokenizer")):
        shutil.copytree(wp_dir, os.path.join(out, "qformer_tokenizer"), dirs_exist_ok=True)


# ---------------------------------------------------------------- LLaMA-Adapter V2 (release layout)

def meta_from_hf(llm):
    """The HF LLaMA's tensors under Meta's names, wq / wk rows back in Meta's
    interleaved-RoPE order: the adapter is trained, and saved, in the
    release's convention; vtp reorders it for an HF base at load."""
    c = llm.config
    H, D = c.num_attention_heads, c.hidden_size
    from make_adapter_fixtures import rename_llama

    def unperm(m):
        return m.view(H, 2, D // H // 2, D).transpose(1, 2).reshape(D, D)
    w = rename_llama(llm.state_dict(), c.num_hidden_layers, False, unperm)
    return {k: t.float() for k, t in w.items()}


def rope(x, n):
    """Meta's RoPE on [B, n, H, hd]: pairs (2j, 2j+1) rotated."""
    hd = x.shape[-1]
    freqs = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
    ang = torch.outer(torch.arange(n, dtype=torch.float32), freqs)
    cos, sin = ang.cos()[None, :, None], ang.sin()[None, :, None]
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack([a * cos - b * sin, a * sin + b * cos], -1).flatten(-2)


class Adapter(nn.Module):
    """LLaMA-Adapter V2 multimodal, as the release names its tensors:
    visual queries read the features through small ViT blocks (vq), each
    adapted layer's prompt is its adapter_query rows + vq, attended through
    a softmax of its own scaled per head by tanh(gate), gates starting at
    zero; bias and norm tuning in every layer (w_bias)."""

    def __init__(self, base, n_layers, n_heads, feat_dim, query_len=10, query_layer=4, embed=64, depth=2,
                 heads=4, mlp_ratio=4.0):
        super().__init__()
        D = base["tok_embeddings.weight"].shape[1]
        hidden = base["layers.0.feed_forward.w1.weight"].shape[0]
        self.c = dict(query_len=query_len, query_layer=query_layer, v_embed_dim=embed, v_depth=depth,
                      v_num_heads=heads, v_mlp_ratio=mlp_ratio, n_layers=n_layers, n_heads=n_heads, dim=D)
        self.base = base
        P = {}                  # by release name (a ParameterDict refuses dots)

        def lin(name, o, i, scale=None):
            P[name + ".weight"] = nn.Parameter(torch.randn(o, i) * (scale or 1 / math.sqrt(i)))
            P[name + ".bias"] = nn.Parameter(torch.zeros(o))

        def norm(name, d):
            P[name + ".weight"] = nn.Parameter(torch.ones(d))
            P[name + ".bias"] = nn.Parameter(torch.zeros(d))
        lin("clip_proj", embed, feat_dim)
        norm("clip_proj_norm", embed)
        P["visual_query.weight"] = nn.Parameter(torch.randn(query_len, embed) * 0.02)
        for i in range(depth):
            p = "visual_blocks.%d." % i
            norm(p + "norm1", embed)
            lin(p + "attn.qkv", 3 * embed, embed)
            lin(p + "attn.proj", embed, embed)
            norm(p + "norm2", embed)
            lin(p + "mlp.fc1", int(embed * mlp_ratio), embed)
            lin(p + "mlp.fc2", embed, int(embed * mlp_ratio))
        lin("visual_proj", D, embed)
        norm("visual_proj_norm", D)
        P["adapter_query.weight"] = nn.Parameter(torch.randn(query_layer * query_len, D) * 0.02)
        P["llama.norm.weight"] = nn.Parameter(base["norm.weight"].clone())
        for i in range(n_layers):
            p = "llama.layers.%d." % i
            if i >= n_layers - query_layer:
                P[p + "attention.gate"] = nn.Parameter(torch.zeros(1, n_heads, 1, 1))
            for n, d in (("attention.wq.bias", D), ("attention.wo.bias", D), ("feed_forward.w1.bias", hidden),
                         ("feed_forward.w3.bias", hidden), ("feed_forward.w2.bias", D)):
                P[p + n] = nn.Parameter(torch.zeros(d))
            P[p + "attention_norm.weight"] = nn.Parameter(base["layers.%d.attention_norm.weight" % i].clone())
            P[p + "ffn_norm.weight"] = nn.Parameter(base["layers.%d.ffn_norm.weight" % i].clone())
        self.P = P
        for name, t in P.items():
            self.register_parameter(name.replace(".", "__"), t)

    def visual_queries(self, feats):
        """feats [B, N, feat_dim] -> vq [B, query_len, D]."""
        P, c = self.P, self.c
        E, heads = c["v_embed_dim"], c["v_num_heads"]
        f = F.layer_norm(F.linear(feats, P["clip_proj.weight"], P["clip_proj.bias"]), (E,),
                         P["clip_proj_norm.weight"], P["clip_proj_norm.bias"])
        x = torch.cat([P["visual_query.weight"].expand(feats.shape[0], -1, -1), f], 1)
        B, n, _ = x.shape
        for i in range(c["v_depth"]):
            p = "visual_blocks.%d." % i
            y = F.layer_norm(x, (E,), P[p + "norm1.weight"], P[p + "norm1.bias"])
            qkv = F.linear(y, P[p + "attn.qkv.weight"], P[p + "attn.qkv.bias"]).view(B, n, 3, heads, E // heads)
            q, k, v = qkv.permute(2, 0, 3, 1, 4)
            a = F.softmax(q @ k.transpose(-2, -1) * (E // heads) ** -0.5, -1)
            x = x + F.linear((a @ v).transpose(1, 2).reshape(B, n, E), P[p + "attn.proj.weight"],
                             P[p + "attn.proj.bias"])
            y = F.layer_norm(x, (E,), P[p + "norm2.weight"], P[p + "norm2.bias"])
            x = x + F.linear(F.gelu(F.linear(y, P[p + "mlp.fc1.weight"], P[p + "mlp.fc1.bias"])),
                             P[p + "mlp.fc2.weight"], P[p + "mlp.fc2.bias"])
        x = x[:, : c["query_len"]]
        return F.layer_norm(F.linear(x, P["visual_proj.weight"], P["visual_proj.bias"]), (c["dim"],),
                            P["visual_proj_norm.weight"], P["visual_proj_norm.bias"])

    def gates(self):
        """tanh(gate) per adapted layer and head: {layer: [H]}."""
        c = self.c
        return {i: torch.tanh(self.P["llama.layers.%d.attention.gate" % i].detach().flatten()).tolist()
                for i in range(c["n_layers"] - c["query_layer"], c["n_layers"])}

    def logits(self, tokens, vq):
        """The frozen LLaMA with the adapter, tokens [B, n] (right padded)."""
        w, P, c = self.base, self.P, self.c
        B, n = tokens.shape
        D, H = c["dim"], c["n_heads"]
        hd = D // H
        first = c["n_layers"] - c["query_layer"]
        mask = torch.full((n, n), float("-inf")).triu(1)
        h = w["tok_embeddings.weight"][tokens]

        def rms(x, wt):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * wt
        for i in range(c["n_layers"]):
            p, a = "layers.%d." % i, "llama.layers.%d." % i
            x = rms(h, P[a + "attention_norm.weight"])
            q = rope(F.linear(x, w[p + "attention.wq.weight"], P[a + "attention.wq.bias"]).view(B, n, H, hd), n)
            k = rope(F.linear(x, w[p + "attention.wk.weight"]).view(B, n, H, hd), n)
            v = F.linear(x, w[p + "attention.wv.weight"]).view(B, n, H, hd)
            s = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(hd) + mask
            out = torch.einsum("bhqk,bkhd->bqhd", F.softmax(s, -1), v)
            if i >= first:
                j = i - first
                prompt = P["adapter_query.weight"][j * c["query_len"]:(j + 1) * c["query_len"]][None] + vq
                ak = F.linear(prompt, w[p + "attention.wk.weight"]).view(B, -1, H, hd)
                av = F.linear(prompt, w[p + "attention.wv.weight"]).view(B, -1, H, hd)
                att = F.softmax(torch.einsum("bqhd,bkhd->bhqk", q, ak) / math.sqrt(hd), -1)
                att = torch.tanh(P[a + "attention.gate"]) * att
                out = out + torch.einsum("bhqk,bkhd->bqhd", att, av)
            h = h + F.linear(out.reshape(B, n, D), w[p + "attention.wo.weight"], P[a + "attention.wo.bias"])
            x = rms(h, P[a + "ffn_norm.weight"])
            m = F.silu(F.linear(x, w[p + "feed_forward.w1.weight"], P[a + "feed_forward.w1.bias"])) * \
                F.linear(x, w[p + "feed_forward.w3.weight"], P[a + "feed_forward.w3.bias"])
            h = h + F.linear(m, w[p + "feed_forward.w2.weight"], P[a + "feed_forward.w2.bias"])
        return F.linear(rms(h, P["llama.norm.weight"]), w["output.weight"])

    @classmethod
    def load(cls, path, base, n_layers, n_heads):
        """A directory save() wrote, on the base LLaMA @base (Meta names)."""
        from safetensors.torch import load_file
        with open(os.path.join(path, "config.json")) as f:
            c = json.load(f)
        a = cls(base, n_layers, n_heads, c["clip_dim"], query_len=c["query_len"], query_layer=c["query_layer"],
                embed=c["v_embed_dim"], depth=c["v_depth"], heads=c["v_num_heads"], mlp_ratio=c["v_mlp_ratio"])
        sd = load_file(os.path.join(path, "model.safetensors"))
        assert set(sd) == set(a.P), set(sd) ^ set(a.P)
        with torch.no_grad():
            for k, t in sd.items():
                a.P[k].copy_(t.float())
        return a.eval()

    def save(self, out):
        """The release's names and vtp's converted layout (tools/convert_llama_adapter.py)."""
        import argparse
        import tempfile
        import convert_llama_adapter as conv
        sd = {k: t.detach().clone() for k, t in self.P.items()}
        c = self.c
        with tempfile.TemporaryDirectory() as tmp:
            pth = os.path.join(tmp, "adapter.pth")
            torch.save({"model": sd, "config": {"w_bias": True, "w_lora": False, "lora_rank": 16}}, pth)
            conv.convert_adapter(argparse.Namespace(weights=pth, out=out, version="v2-multimodal",
                                                    query_len=c["query_len"], v_depth=c["v_depth"],
                                                    v_num_heads=c["v_num_heads"], v_mlp_ratio=c["v_mlp_ratio"]))


def alpaca_batch(tok, questions, answers):
    """Alpaca-form token ids (BOS, instruction, response marker), the
    answers' token ids after them, and labels on the answers."""
    seqs, labels = [], []
    for q, a in zip(questions, answers):
        ids = tok.encode(ALPACA.format(prompt=q)).ids
        seqs.append(ids + a)
        labels.append([-100] * len(ids) + a)
    return pad(seqs), pad(labels, -100)


def lm_loss(logits, labels):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                           ignore_index=-100)


class Bridge:
    """Encoder -> bridge -> LLM as one PyTorch model: the Q-Former's queries
    into the LLM input (InstructBLIP), or an adapter reading the encoder's
    features or the queries (LLaMA-Adapter, unified framework)."""

    def __init__(self, enc, llm, tok, qformer=None, wordpiece=None, adapter=None, text_conditioning=True):
        self.enc, self.llm, self.tok = enc, llm, tok
        self.qf, self.wp, self.adapter, self.text = qformer, wordpiece, adapter, text_conditioning
        self.embed = llm.get_input_embeddings()

    @classmethod
    def load(cls, encoder, llm, qformer=None, adapter=None, text_conditioning=True):
        """From directories as shipped (f16 or f32 tensors, computed in f32)."""
        enc = Encoder(encoder)
        model, tok = load_llm(llm)
        model = model.float()
        qf = wp = ad = None
        if qformer:
            qf, wp = load_qformer(qformer)
        if adapter:
            c = model.config
            ad = Adapter.load(adapter, meta_from_hf(model), c.num_hidden_layers, c.num_attention_heads)
        return cls(enc, model, tok, qf, wp, ad, text_conditioning)

    def parameters(self):
        return [p for m in (self.qf, self.adapter) if m is not None for p in m.parameters()]

    def forward(self, imgs, qs, answers):
        """Logits and labels for pictures, questions and answer token ids
        (partial answers too: greedy decoding feeds what it has)."""
        visual = self.enc.features(imgs)
        if self.qf is not None:
            instr, imask = qformer_instructions(self.wp, qs) if self.text else (None, None)
            visual = self.qf(visual, instr, imask)
        if self.adapter is not None:
            ids, labels = alpaca_batch(self.tok, qs, answers)
            return self.adapter.logits(ids, self.adapter.visual_queries(visual)), labels
        # InstructBLIP's LLM input: the queries, then BOS + the instruction, then the answer
        seqs, labs = [], []
        for q, a in zip(qs, answers):
            ids = self.tok.encode(q).ids
            seqs.append(ids + a)
            labs.append([-100] * (visual.shape[1] + len(ids)) + a)
        x = torch.cat([visual, self.embed(pad(seqs))], 1)
        mask = torch.cat([torch.ones(visual.shape[:2], dtype=torch.long), pad([[1] * len(s) for s in seqs])], 1)
        return self.llm(inputs_embeds=x, attention_mask=mask).logits, pad(labs, -100)

    @torch.no_grad()
    def greedy(self, img, q, max_new_tokens=40):
        """The answer, greedy, recomputing the sequence per token (small model, no cache)."""
        out = []
        while len(out) < max_new_tokens:
            logits, _ = self.forward([img], [q], [out])
            nxt = int(logits[0, -1].argmax())
            if nxt == 2:
                break
            out.append(nxt)
        return self.tok.decode(out)
