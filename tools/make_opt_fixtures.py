#!/usr/bin/env python3
"""Builds the OPT fidelity fixtures from HuggingFace transformers (the
numerical reference): a tiny random-weight Blip2ForConditionalGeneration
whose language model is OPT (as Salesforce/blip2-opt-* are laid out), and a
tiny OPTForCausalLM whose word embeddings are narrower than its hidden size
(project_in / project_out, as facebook/opt-350m), each with a small
byte-level BPE tokenizer in OPT's layout (<s> <pad> </s> <unk> = 0..3; the
post-processor prepends </s>, OPT's BOS).

    python3 tools/make_opt_fixtures.py     # writes tests/fixtures/blip2-opt-tiny, opt-tiny-proj

reference.safetensors holds, for blip2-opt-tiny (as make_blip_fixtures.py):
  image, pixel_values                the input and BlipImageProcessor's output
  vision_hidden_states, image_embeds the EVA tower (hidden states; post-LN last layer)
  qformer_output, projected          the Q-Former's query outputs and their language projection
and for both:
  input_ids                          the LLM input as the processor / tokenizer makes it
                                     (BLIP-2: query placeholders, </s>, the prompt)
  logits                             the logits of every input position
  greedy_tokens                      20 greedy tokens (generate, do_sample=False)
  step_logits                        the raw logits each greedy step chose from
                                     (row 0 = the last input position's)
"""
import argparse
import json
import os
import shutil
import sys

import torch
from PIL import Image
from safetensors.torch import save_file
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (Blip2Config, Blip2ForConditionalGeneration, Blip2Processor, Blip2QFormerConfig,
                          Blip2VisionConfig, BlipImageProcessorPil, OPTConfig, OPTForCausalLM,
                          PreTrainedTokenizerFast)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import TRAIN_TEXT, add_special, check_reload, greedy_margin, synthetic_image  # noqa: E402
from make_blip_fixtures import CLIP_MEAN, CLIP_STD, perturb  # noqa: E402

OPT_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
BLIP_PROMPT = "Question: what is in the picture? Answer:"
TEXT_PROMPT = "The picture shows a small cat"
N_GREEDY = 20

CONFIGS = {
    # BLIP-2 + OPT as the hub's blip2-opt-* checkpoints: tied lm_head (absent
    # from the file), word embeddings as wide as the hidden size.
    "blip2-opt-tiny": dict(
        kind="blip2",
        vision=dict(hidden_size=40, intermediate_size=72, num_hidden_layers=2, num_attention_heads=5,
                    image_size=24, patch_size=8, layer_norm_eps=1e-5),
        qformer=dict(hidden_size=24, num_hidden_layers=2, num_attention_heads=3, intermediate_size=40,
                     cross_attention_frequency=1, max_position_embeddings=64),
        text=dict(hidden_size=64, ffn_dim=112, num_hidden_layers=3, num_attention_heads=4,
                  max_position_embeddings=96),
        queries=6, image=(29, 22), seed=21, init=0.15, vocab=384),
    # A plain OPTForCausalLM with project_in / project_out (word_embed_proj_dim
    # 32 < hidden_size 48) and an untied lm_head.
    "opt-tiny-proj": dict(
        kind="opt",
        text=dict(hidden_size=48, word_embed_proj_dim=32, ffn_dim=80, num_hidden_layers=2, num_attention_heads=6,
                  max_position_embeddings=64, tie_word_embeddings=False),
        seed=22, init=0.15, vocab=320),
}


def train_bytelevel_tokenizer(vocab_size):
    """A small GPT-2 style byte-level BPE tokenizer.json in OPT's layout:
    ByteLevel pre-tokenizer (no prefix space) and decoder, specials
    <s> <pad> </s> <unk> at ids 0..3, and a post-processor that prepends
    </s> (OPT's BOS)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=OPT_SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(list(TRAIN_TEXT) * 3, trainer=trainer)
    bos = OPT_SPECIALS.index("</s>")
    tok.post_processor = processors.TemplateProcessing(single="</s> $A", pair="</s> $A </s> $B:1",
                                                       special_tokens=[("</s>", bos)])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in OPT_SPECIALS])
    for i, t in enumerate(OPT_SPECIALS):
        assert tok.token_to_id(t) == i
    return tok


def build(name, spec, out_dir):
    torch.manual_seed(spec["seed"])
    tok = train_bytelevel_tokenizer(spec["vocab"] - 16)
    image_token = add_special(tok, "<image>") if spec["kind"] == "blip2" else None
    vocab = ((tok.get_vocab_size() + 63) // 64) * 64
    text = OPTConfig(vocab_size=vocab, bos_token_id=2, eos_token_id=2, pad_token_id=1, init_std=spec["init"],
                     **spec["text"])
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="</s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>")
    rec = {}
    if spec["kind"] == "blip2":
        vision = Blip2VisionConfig(initializer_range=spec["init"], **spec["vision"])
        qformer = Blip2QFormerConfig(encoder_hidden_size=vision.hidden_size, initializer_range=spec["init"],
                                     **spec["qformer"])
        config = Blip2Config(vision_config=vision.to_dict(), qformer_config=qformer.to_dict(),
                             text_config=text.to_dict(), num_query_tokens=spec["queries"],
                             image_token_index=image_token, initializer_range=spec["init"])
        model = Blip2ForConditionalGeneration(config).eval()
        perturb(model, spec["init"])
        model.generation_config.pad_token_id = 1
        model.save_pretrained(out_dir)
        check_reload(model, out_dir)
        image_processor = BlipImageProcessorPil(size={"height": vision.image_size, "width": vision.image_size},
                                                resample=3, image_mean=CLIP_MEAN, image_std=CLIP_STD,
                                                do_convert_rgb=True)
        processor = Blip2Processor(image_processor=image_processor, tokenizer=fast, num_query_tokens=spec["queries"])
        processor.save_pretrained(out_dir)
        w, h = spec["image"]
        image = synthetic_image(w, h, seed=spec["seed"] * 100)
        Image.fromarray(image).save(os.path.join(out_dir, "image.png"))
        inputs = processor(images=Image.fromarray(image), text=BLIP_PROMPT, return_tensors="pt")
        Q = spec["queries"]
        rec["image"] = torch.from_numpy(image.copy())
        rec["pixel_values"] = inputs["pixel_values"][0].contiguous()
        with torch.no_grad():
            vis = model.vision_model(inputs["pixel_values"], output_hidden_states=True)
            rec["vision_hidden_states"] = torch.stack([s[0] for s in vis.hidden_states]).contiguous()
            rec["image_embeds"] = vis.last_hidden_state[0].contiguous()
            q_out = model.qformer(query_embeds=model.query_tokens.expand(1, -1, -1),
                                  encoder_hidden_states=vis.last_hidden_state).last_hidden_state[:, :Q]
            rec["qformer_output"] = q_out[0].contiguous()
            rec["projected"] = model.language_projection(q_out)[0].contiguous()
            rec["logits"] = model(**inputs).logits[0].contiguous()
            gen = model.generate(**inputs, max_new_tokens=N_GREEDY, do_sample=False, output_logits=True,
                                 return_dict_in_generate=True)
        prompt = BLIP_PROMPT
        # "instruction": the prompt under the name the BLIP tests read it by
        meta_extra = {"instruction": BLIP_PROMPT, "num_query_tokens": Q, "image_size": [w, h],
                      "image_token_index": image_token}
    else:
        model = OPTForCausalLM(text).eval()
        perturb(model, spec["init"])
        model.generation_config.pad_token_id = 1
        model.save_pretrained(out_dir)
        check_reload(model, out_dir)
        fast.save_pretrained(out_dir)
        inputs = fast(TEXT_PROMPT, return_tensors="pt")
        with torch.no_grad():
            rec["logits"] = model(**inputs).logits[0].contiguous()
            gen = model.generate(**inputs, max_new_tokens=N_GREEDY, do_sample=False, output_logits=True,
                                 return_dict_in_generate=True)
        prompt = TEXT_PROMPT
        meta_extra = {}
    ids = inputs["input_ids"][0]
    first_text = int((ids == image_token).sum()) if image_token is not None else 0
    assert int(ids[first_text]) == 2, "the tokenizer must prepend </s> (OPT's BOS)"
    rec["input_ids"] = ids.to(torch.int64).contiguous()
    new = gen.sequences[0, ids.shape[0]:]
    rec["greedy_tokens"] = new.to(torch.int64).contiguous()
    rec["step_logits"] = torch.stack([s[0] for s in gen.logits]).contiguous()
    assert torch.allclose(rec["step_logits"][0], rec["logits"][-1], atol=1e-5)
    margin = greedy_margin(rec["step_logits"])
    save_file(rec, os.path.join(out_dir, "reference.safetensors"))
    meta = {
        "generator": "tools/make_opt_fixtures.py",
        "transformers_version": __import__("transformers").__version__,
        "torch_version": torch.__version__,
        "kind": spec["kind"], "prompt": prompt, "llm_bos": "</s>",
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
    args = ap.parse_args()
    torch.set_num_threads(1)
    for name, spec in CONFIGS.items():
        build(name, spec, os.path.join(args.out, name))


if __name__ == "__main__":
    main()
