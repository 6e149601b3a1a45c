"""Shared pieces of the fixture generators in tools/: synthetic images, a
small Llama-layout BPE tokenizer trained here, and safetensors writing.

Everything here is deterministic (fixed seeds) so that re-running a
generator reproduces its committed outputs."""
import json

import numpy as np
from PIL import Image, ImageDraw
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

LLAMA_SPECIALS = ["<unk>", "<s>", "</s>"]

TRAIN_TEXT = [
    "a red circle on a blue background", "two green squares and a yellow triangle",
    "What is in the picture?", "The picture shows a small cat sitting on a wooden table.",
    "USER: describe the image ASSISTANT: a large purple star in the top left corner",
    "How many shapes are there? There are three shapes.", "Is there a circle? Yes.",
    "the quick brown fox jumps over the lazy dog", "colour, count, presence, position, relation",
    "1234567890 + - * / = ( ) [ ] { } < > , . ; : ! ? ' \"", "hello world\nnew line\ttab",
]


def synthetic_image(width, height, seed, noise=12):
    """An RGB uint8 image [height, width, 3] with gradients, shapes and
    (optionally) per-pixel noise: enough structure that resampling errors
    show up."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([
        255 * xx / max(width - 1, 1),
        255 * yy / max(height - 1, 1),
        127 + 127 * np.sin((xx + yy) / max(3.0, (width + height) / 20.0)),
    ], axis=-1)
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    for _ in range(4):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        x1, y1 = x0 + rng.integers(1, width // 2 + 2), y0 + rng.integers(1, height // 2 + 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
    arr = np.asarray(pil).astype(np.int16)
    if noise:
        arr = arr + rng.integers(-noise, noise + 1, (height, width, 3))
    return np.clip(arr, 0, 255).astype(np.uint8)


def train_llama_tokenizer(extra_text=(), vocab_size=400, legacy=True, bos="<s>"):
    """A small BPE tokenizer in the Llama layout: ids 0/1/2 = <unk>/<s>/</s>,
    3..258 = <0x00>..<0xFF> byte-fallback pieces, then learned pieces; the
    Llama normalizer (legacy) or Metaspace pre-tokenizer, BOS post-processor
    and the Llama decoder chain. @bos is the token the post-processor
    prepends (InstructBLIP's Vicuna tokenizer uses "</s>")."""
    trainer_tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    trainer_tok.normalizer = normalizers.Replace(" ", "\u2581")
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - 256, special_tokens=LLAMA_SPECIALS, show_progress=False)
    trainer_tok.train_from_iterator(list(TRAIN_TEXT) + list(extra_text), trainer=trainer)
    learned = json.loads(trainer_tok.to_str())["model"]

    vocab = {tok: i for i, tok in enumerate(LLAMA_SPECIALS)}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for tok, _ in sorted(learned["vocab"].items(), key=lambda kv: kv[1]):
        if tok not in vocab:
            vocab[tok] = len(vocab)
    spec = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [
            {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True} for i, t in enumerate(LLAMA_SPECIALS)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]} if legacy else None,
        "pre_tokenizer": None if legacy else {
            "type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [LLAMA_SPECIALS.index(bos)], "tokens": [bos]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": learned["merges"]},
    }
    return Tokenizer.from_str(json.dumps(spec))


def train_bert_tokenizer(extra_text=(), vocab_size=300):
    """A small uncased BERT WordPiece tokenizer (the Q-Former's kind):
    BertNormalizer (lowercase, strip accents), BertPreTokenizer, WordPiece
    with ## continuations, [CLS] $A [SEP], and [DEC] added as InstructBLIP
    adds it. The vocabulary is built here, deterministically (the tokenizers
    WordPiece trainer is not: it breaks frequency ties in hash order):
    specials, every character alone and as a ## continuation, then the most
    frequent words and word endings of the text."""
    from collections import Counter
    from tokenizers import processors
    normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                            lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    words = Counter()
    for line in list(TRAIN_TEXT) + list(extra_text):
        words.update(w for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(line)))
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = sorted({c for w in words for c in w})
    vocab = specials + chars + ["##" + c for c in chars]
    endings = Counter("##" + w[i:] for w in words for i in range(1, len(w) - 1))
    ranked = sorted(words.items(), key=lambda kv: (-kv[1], kv[0])) + sorted(endings.items(), key=lambda kv: (-kv[1], kv[0]))
    for piece, _ in ranked:
        if len(vocab) >= vocab_size:
            break
        if piece not in vocab and len(piece) > 1:
            vocab.append(piece)
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]",
                                     max_input_chars_per_word=100))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab.index("[CLS]")), ("[SEP]", vocab.index("[SEP]"))])
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    tok.add_special_tokens([AddedToken("[DEC]", special=True, normalized=False)])
    return tok


def add_special(tok, content):
    """Adds @content as a special added token (normalized=False), as LLaVA's <image>."""
    tok.add_special_tokens([AddedToken(content, special=True, normalized=False)])
    return tok.token_to_id(content)


def published_name(name, layout):
    """Tensor names of transformers' state dict (model.vision_tower.*,
    model.language_model.*, model.multi_modal_projector.*, lm_head.*) in one
    of the layouts checkpoints are found in: "llava-hf" as published on the
    hub by transformers 4.x (vision_tower.vision_model.*, language_model.model.*,
    multi_modal_projector.*, language_model.lm_head.*), or "state-dict"."""
    if layout == "state-dict":
        return name
    for new, old in (("model.language_model.", "language_model.model."),
                     ("model.vision_tower.", "vision_tower.vision_model."),
                     ("model.multi_modal_projector.", "multi_modal_projector."),
                     ("lm_head.", "language_model.lm_head.")):
        if name.startswith(new):
            return old + name[len(new):]
    raise ValueError("unexpected tensor name " + name)


def greedy_margin(step_logits):
    """The smallest gap between the best and second-best logit over the
    greedy steps ([steps, vocab]): how safely a float reimplementation can
    be expected to choose the same tokens."""
    import torch                # here: the image and tokenizer helpers above need no torch
    top = torch.topk(step_logits.float(), 2, dim=-1).values
    return float((top[:, 0] - top[:, 1]).min())


def check_reload(model, out_dir):
    """@model saved to @out_dir loads back with every tensor identical."""
    import torch
    mine = model.state_dict()
    theirs = type(model).from_pretrained(out_dir).eval().state_dict()
    assert mine.keys() == theirs.keys()
    for k in mine:
        assert torch.equal(mine[k], theirs[k]), k

