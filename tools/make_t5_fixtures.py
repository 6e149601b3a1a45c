#!/usr/bin/env python3
"""Builds the T5 fidelity fixtures from HuggingFace transformers (the
numerical reference): a tiny random-weight T5ForConditionalGeneration in
Flan-T5's layout (gated-GELU feed-forward, untied lm_head), a tiny
Blip2ForConditionalGeneration and a tiny InstructBlipForConditionalGeneration
whose language model is that kind of T5 (as Salesforce/blip2-flan-t5-* and
instructblip-flan-t5-* are laid out), a T5 1.0-style one (ReLU, tied and
scaled head), each with a small SentencePiece-style
Unigram tokenizer in T5's layout (<pad> </s> <unk> = 0..2, Metaspace, the
post-processor appending </s>).

    python3 tools/make_t5_fixtures.py     # writes tests/fixtures/t5-tiny, t5-tiny-tied, blip2-t5-tiny, instructblip-t5-tiny

reference.safetensors holds, for the BLIP ones (as make_blip_fixtures.py):
  image, pixel_values                the input and BlipImageProcessor's output
  vision_hidden_states, image_embeds the EVA tower (hidden states; post-LN last layer)
  qformer_output, projected          the Q-Former's query outputs and their language projection
  qformer_input_ids                  (InstructBLIP) the instruction's WordPiece ids
and for all three:
  input_ids                          the encoder input as the processor / tokenizer makes it
                                     (BLIP: query placeholders, then the prompt and </s>)
  encoder_output                     the encoder's last hidden state (after its final norm)
  greedy_tokens                      the greedy continuation (generate, do_sample=False) without the
                                     decoder start token; it ends with </s> when it stopped there
  step_logits                        the raw logits each greedy step chose from (row 0: after the
                                     decoder start token)
  decoder_logits                     the decoder's logits over [start, greedy tokens] in one pass
                                     (teacher forcing: checks the cache against the full pass)
"""
import argparse
import json
import math
import os
import shutil
import sys

import torch
from PIL import Image
from safetensors.torch import save_file
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (Blip2Config, Blip2ForConditionalGeneration, Blip2Processor, Blip2QFormerConfig,
                          Blip2VisionConfig, BlipImageProcessorPil, InstructBlipConfig,
                          InstructBlipForConditionalGeneration, InstructBlipProcessor, InstructBlipQFormerConfig,
                          InstructBlipVisionConfig, PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import (TRAIN_TEXT, add_special, check_reload, greedy_margin, synthetic_image,  # noqa: E402
                            train_bert_tokenizer)
from make_blip_fixtures import CLIP_MEAN, CLIP_STD, perturb  # noqa: E402

T5_SPECIALS = ["<pad>", "</s>", "<unk>"]
BLIP_PROMPT = "Question: what is in the picture? Answer:"
TEXT_PROMPT = "The picture shows a small cat sitting on a wooden table."
N_GREEDY = 20

# Flan-T5's settings (gated-gelu -> gelu_new, untied head), shrunk; few
# buckets and a short max_distance so that the inputs reach the logarithmic
# buckets and the clamp.
T5_COMMON = dict(feed_forward_proj="gated-gelu", relative_attention_num_buckets=8,
                 relative_attention_max_distance=12, layer_norm_epsilon=1e-6, dropout_rate=0.0)

CONFIGS = {
    # A plain T5ForConditionalGeneration: inner attention width (heads x d_kv
    # = 36) differs from d_model (40), (transformers 5.25 cannot generate
    # with num_decoder_layers != num_layers: its cache is sized by num_layers).
    "t5-tiny": dict(
        kind="t5",
        text=dict(d_model=40, d_kv=12, num_heads=3, d_ff=56, num_layers=2, num_decoder_layers=2),
        seed=31, init=1.0, vocab=200),
    # T5 1.0's layout: ReLU feed-forward (wi, wo), the head tied to the shared
    # embeddings (absent from the file) and the decoder output scaled by
    # d_model ** -0.5 before it.
    "t5-tiny-tied": dict(
        kind="t5", tied=True,
        text=dict(d_model=32, d_kv=8, num_heads=4, d_ff=48, num_layers=2, num_decoder_layers=2,
                  feed_forward_proj="relu"),
        seed=36, init=1.0, vocab=200),
    "blip2-t5-tiny": dict(
        kind="blip2",
        vision=dict(hidden_size=40, intermediate_size=72, num_hidden_layers=2, num_attention_heads=5,
                    image_size=24, patch_size=8, layer_norm_eps=1e-5),
        qformer=dict(hidden_size=24, num_hidden_layers=2, num_attention_heads=3, intermediate_size=40,
                     cross_attention_frequency=1, max_position_embeddings=64),
        text=dict(d_model=48, d_kv=12, num_heads=4, d_ff=64, num_layers=2, num_decoder_layers=2),
        queries=6, image=(29, 22), seed=32, init=0.15, vocab=200),
    "instructblip-t5-tiny": dict(
        kind="instructblip",
        vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                    image_size=28, patch_size=7),
        qformer=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
                     cross_attention_frequency=2, max_position_embeddings=64),
        text=dict(d_model=32, d_kv=8, num_heads=4, d_ff=48, num_layers=2, num_decoder_layers=2),
        queries=5, image=(40, 33), seed=34, init=0.15, vocab=200),
}


def train_unigram_tokenizer(vocab_size):
    """A small Unigram tokenizer.json in T5's layout: Metaspace pre-tokenizer
    and decoder, <pad> </s> <unk> at 0..2, </s> appended to every input."""
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=T5_SPECIALS, unk_token="<unk>",
                                      show_progress=False)
    tok.train_from_iterator(list(TRAIN_TEXT) * 3 + [TEXT_PROMPT, BLIP_PROMPT], trainer=trainer)
    # the trainer's scores vary from run to run (its sums run over hash maps
    # and threads), and near-equal ones swap places: its pieces are kept,
    # their scores recomputed here from how often each occurs in the
    # training text (log relative count, ties in piece order), so that the
    # file is the same every time
    layout = json.loads(tok.to_str())
    n = len(T5_SPECIALS)
    assert [p for p, _ in layout["model"]["vocab"][:n]] == T5_SPECIALS
    corpus = "".join("\u2581" + t.replace(" ", "\u2581") for t in list(TRAIN_TEXT) + [TEXT_PROMPT, BLIP_PROMPT])
    counts = {p: 1 + sum(1 for i in range(len(corpus)) if corpus.startswith(p, i))
              for p, _ in layout["model"]["vocab"][n:]}
    total = sum(counts.values())
    learned = sorted(([p, round(math.log(c / total), 4)] for p, c in counts.items()), key=lambda v: (-v[1], v[0]))
    layout["model"]["vocab"] = layout["model"]["vocab"][:n] + learned
    tok = Tokenizer.from_str(json.dumps(layout))
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                       special_tokens=[("</s>", 1)])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in T5_SPECIALS])
    for i, t in enumerate(T5_SPECIALS):
        assert tok.token_to_id(t) == i
    return tok


def untie_head(lm):
    """transformers 5 builds T5's lm_head tied to the shared embeddings
    whatever the config says; Flan-T5 checkpoints carry their own head.
    Give the model one of its own, as those checkpoints do."""
    with torch.no_grad():
        lm.lm_head.weight = torch.nn.Parameter(torch.randn_like(lm.shared.weight) * 0.5)


def published_config(out_dir, tied=False):
    """config.json as Flan-T5's (written by transformers 4): tie_word_embeddings
    false and no scale_decoder_outputs (transformers 5 derives it from that);
    @tied: as T5 1.0's, neither field (tied and scaled by default)."""
    path = os.path.join(out_dir, "config.json")
    with open(path) as f:
        c = json.load(f)
    t = c.get("text_config", c)
    t.pop("scale_decoder_outputs", None)
    if tied:
        t.pop("tie_word_embeddings", None)
    else:
        t["tie_word_embeddings"] = False
    if "text_config" in c:
        c.pop("scale_decoder_outputs", None)
    with open(path, "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)


def build(name, spec, out_dir):
    torch.manual_seed(spec["seed"])
    tok = train_unigram_tokenizer(spec["vocab"] - 8)
    kind = spec["kind"]
    image_token = add_special(tok, "<image>") if kind != "t5" else None
    vocab = ((tok.get_vocab_size() + 63) // 64) * 64
    tied = spec.get("tied", False)
    text = T5Config(vocab_size=vocab, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
                    initializer_factor=spec["init"], tie_word_embeddings=tied, **dict(T5_COMMON, **spec["text"]))
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>", unk_token="<unk>", pad_token="<pad>")
    rec = {}
    meta_extra = {}
    if kind == "t5":
        model = T5ForConditionalGeneration(text).eval()
        if not tied:
            untie_head(model)
        assert model.config.scale_decoder_outputs == tied
        perturb(model, spec["init"])
        model.generation_config.decoder_start_token_id = 0
        model.save_pretrained(out_dir)
        published_config(out_dir, tied)
        check_reload(model, out_dir)
        fast.save_pretrained(out_dir)
        inputs = fast(TEXT_PROMPT, return_tensors="pt")
        lm = model
        prompt = TEXT_PROMPT
        with torch.no_grad():
            embeds = lm.get_input_embeddings()(inputs["input_ids"])
    else:
        instruct = kind == "instructblip"
        vcls, qcls, ccls, mcls = ((InstructBlipVisionConfig, InstructBlipQFormerConfig, InstructBlipConfig,
                                   InstructBlipForConditionalGeneration) if instruct else
                                  (Blip2VisionConfig, Blip2QFormerConfig, Blip2Config, Blip2ForConditionalGeneration))
        vision = vcls(initializer_range=spec["init"], **spec["vision"])
        qextra = {}
        if instruct:
            bert = train_bert_tokenizer()
            qextra["vocab_size"] = bert.get_vocab_size()
        qformer = qcls(encoder_hidden_size=vision.hidden_size, initializer_range=spec["init"], **qextra,
                       **spec["qformer"])
        config = ccls(vision_config=vision.to_dict(), qformer_config=qformer.to_dict(), text_config=text.to_dict(),
                      num_query_tokens=spec["queries"], image_token_index=image_token,
                      initializer_range=spec["init"])
        model = mcls(config).eval()
        untie_head(model.language_model)
        perturb(model, spec["init"])
        model.generation_config.decoder_start_token_id = 0
        model.generation_config.pad_token_id = 0
        model.generation_config.eos_token_id = 1
        model.save_pretrained(out_dir)
        published_config(out_dir)
        check_reload(model, out_dir)
        image_processor = BlipImageProcessorPil(size={"height": vision.image_size, "width": vision.image_size},
                                                resample=3, image_mean=CLIP_MEAN, image_std=CLIP_STD,
                                                do_convert_rgb=True)
        if instruct:
            bert_fast = PreTrainedTokenizerFast(tokenizer_object=bert, unk_token="[UNK]", sep_token="[SEP]",
                                                pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]")
            processor = InstructBlipProcessor(image_processor=image_processor, tokenizer=fast,
                                              qformer_tokenizer=bert_fast, num_query_tokens=spec["queries"])
        else:
            processor = Blip2Processor(image_processor=image_processor, tokenizer=fast,
                                       num_query_tokens=spec["queries"])
        processor.save_pretrained(out_dir)
        w, h = spec["image"]
        image = synthetic_image(w, h, seed=spec["seed"] * 100)
        Image.fromarray(image).save(os.path.join(out_dir, "image.png"))
        inputs = processor(images=Image.fromarray(image), text=BLIP_PROMPT, return_tensors="pt")
        Q = spec["queries"]
        rec["image"] = torch.from_numpy(image.copy())
        rec["pixel_values"] = inputs["pixel_values"][0].contiguous()
        lm = model.language_model
        with torch.no_grad():
            vis = model.vision_model(inputs["pixel_values"], output_hidden_states=True)
            rec["vision_hidden_states"] = torch.stack([s[0] for s in vis.hidden_states]).contiguous()
            rec["image_embeds"] = vis.last_hidden_state[0].contiguous()
            qkw = dict(query_embeds=model.query_tokens.expand(1, -1, -1), encoder_hidden_states=vis.last_hidden_state)
            if instruct:
                q_out = model.qformer(input_ids=inputs["qformer_input_ids"], **qkw).last_hidden_state[:, :Q]
                rec["qformer_input_ids"] = inputs["qformer_input_ids"][0].to(torch.int64).contiguous()
            else:
                q_out = model.qformer(**qkw).last_hidden_state[:, :Q]
            rec["qformer_output"] = q_out[0].contiguous()
            projected = model.language_projection(q_out)
            rec["projected"] = projected[0].contiguous()
            ids = inputs["input_ids"]
            assert bool((ids[0, :Q] == image_token).all())
            embeds = lm.get_input_embeddings()(ids)
            embeds[0, :Q] = projected[0]
        prompt = BLIP_PROMPT
        meta_extra = {"instruction": BLIP_PROMPT, "num_query_tokens": Q, "image_size": [w, h],
                      "image_token_index": image_token}
    ids = inputs["input_ids"][0]
    assert int(ids[-1]) == 1, "the tokenizer must append </s>"
    rec["input_ids"] = ids.to(torch.int64).contiguous()
    with torch.no_grad():
        enc = lm.get_encoder()(inputs_embeds=embeds).last_hidden_state
        rec["encoder_output"] = enc[0].contiguous()
        gen = model.generate(**inputs, max_new_tokens=N_GREEDY, do_sample=False, output_logits=True,
                             return_dict_in_generate=True)
        seq = gen.sequences[0]
        assert int(seq[0]) == 0, "the decoder starts from <pad>"
        rec["greedy_tokens"] = seq[1:].to(torch.int64).contiguous()
        rec["step_logits"] = torch.stack([s[0] for s in gen.logits]).contiguous()
        full = lm(encoder_outputs=(enc,), decoder_input_ids=seq[None, :]).logits[0]
        rec["decoder_logits"] = full.contiguous()
    n = rec["step_logits"].shape[0]
    assert torch.allclose(rec["decoder_logits"][:n], rec["step_logits"], atol=1e-5)
    margin = greedy_margin(rec["step_logits"])
    save_file(rec, os.path.join(out_dir, "reference.safetensors"))
    meta = {
        "generator": "tools/make_t5_fixtures.py",
        "transformers_version": __import__("transformers").__version__,
        "torch_version": torch.__version__,
        "kind": kind, "prompt": prompt, "decoder_start_token_id": 0,
        "greedy_text": fast.decode(rec["greedy_tokens"], skip_special_tokens=True),
        "greedy_min_margin": margin, "max_new_tokens": N_GREEDY, **meta_extra,
    }
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("%s: %d input tokens, greedy %s, min margin %.4f" % (name, ids.shape[0], rec["greedy_tokens"].tolist(),
                                                               margin))
    assert margin > 1e-3, "greedy continuation too close to a tie to be a stable fixture"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures"))
    ap.add_argument("names", nargs="*", help="fixtures to build (default: all)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for name, spec in CONFIGS.items():
        if not args.names or name in args.names:
            build(name, spec, os.path.join(args.out, name))


if __name__ == "__main__":
    main()
