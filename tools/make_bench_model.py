#!/usr/bin/env python3
"""Makes random-weight models shaped like the published ones, for
benchmarks, with a ~1.1B Llama with TinyLlama's dimensions (22 layers,
width 2048, GQA 32/4 heads, MLP 5632) as the language model:
  --family llava (default): LLaVA-1.5's real vision tower (CLIP ViT-L/14 at
      336 px, 24 layers, width 1024) and mlp2x_gelu projector, llava-hf layout;
  --family instructblip: InstructBLIP's EVA ViT-g (224 px, 39 layers, width
      1408) and Q-Former (12 layers, 32 queries), with a qformer_tokenizer;
  --family llama-adapter: three directories as tools/convert_llama_adapter.py
      writes them: OUT/clip (OpenAI CLIP ViT-L/14, 224 px), OUT/adapter
      (LLaMA-Adapter V2 multimodal: 8 visual blocks of width 768, 10 queries
      for each of the top n_layers - 1 layers, biases, no LoRA, as the BIAS
      release) and OUT/llama (the Llama, HF layout);
  --family blip2-opt: BLIP-2's EVA ViT-g and Q-Former (12 layers, 32
      queries, no text input) in front of an OPT with OPT-2.7B's dimensions
      (32 layers, width 2560, 32 heads, FFN 10240, vocabulary 50272), as
      Salesforce/blip2-opt-2.7b; written tensor by tensor (--llm is not
      used), with a small byte-level BPE tokenizer in OPT's layout;
  --family blip2-flan-t5: the same EVA ViT-g and Q-Former in front of a T5
      with Flan-T5-XL's dimensions (24 + 24 layers, width 2048, 32 heads of
      64, gated-GELU FFN 5120, vocabulary 32128, its own lm_head), as
      Salesforce/blip2-flan-t5-xl; tensor by tensor, with a small Unigram
      tokenizer in T5's layout.
Saved as float16 (or --dtype float32 / bfloat16).

    python3 tools/make_bench_model.py /tmp/vtp-bench-llava [--dtype float16]
    python3 tools/make_bench_model.py /tmp/vtp-bench-instructblip --family instructblip
    python3 tools/make_bench_model.py /tmp/vtp-bench-adapter --family llama-adapter
    python3 tools/make_bench_model.py /tmp/vtp-bench-blip2-opt --family blip2-opt     # about 7.5 GB in float16
    python3 tools/make_bench_model.py /tmp/vtp-bench-blip2-t5 --family blip2-flan-t5  # about 9.4 GB in float16
    python3 tools/make_bench_model.py /tmp/vtp-bench-7b --llm 7b     # LLaVA-1.5-7B's shape, 14 GB

--llm 7b gives the language model LLaVA-1.5-7B's (Vicuna-7B) dimensions: 32
layers, width 4096, 32 heads, MLP 11008. Such a model is written tensor by
tensor from a model built on torch's meta device (no 14 GB in memory at
once), in shards of about 2 GB with an index, as published checkpoints are.

The weights are random: the text is noise, the timings are real. The
tokenizer is the Llama-2 tokenizer.json from ../shared/testdata when present
(with <image> and <pad> added as llava-hf does), else the small one the
fixtures train."""
import argparse
import json
import os
import sys

import torch
from transformers import (Blip2Config, Blip2ForConditionalGeneration, Blip2QFormerConfig, Blip2VisionConfig,
                          CLIPVisionConfig, InstructBlipConfig, InstructBlipForConditionalGeneration,
                          InstructBlipQFormerConfig, InstructBlipVisionConfig, LlamaConfig, LlavaConfig,
                          LlavaForConditionalGeneration, OPTConfig, PreTrainedTokenizerFast)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import add_special, published_name, train_bert_tokenizer, train_llama_tokenizer  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from safetensors.torch import save_file  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
    ap.add_argument("--family", default="llava", choices=["llava", "instructblip", "llama-adapter", "blip2-opt",
                                                          "blip2-flan-t5"])
    ap.add_argument("--llm", default="1b", choices=["1b", "7b"], help="language model shape: TinyLlama 1.1B "
                    "(default) or LLaVA-1.5-7B's Vicuna-7B")
    ap.add_argument("--text-layers", type=int, default=None, help="layers of the language model (default: the shape's)")
    ap.add_argument("--vocab", type=int, default=32064, help="rows of the embedding and lm_head (at least the "
                    "tokenizer's size; 32064 as llava-1.5)")
    args = ap.parse_args()
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    if args.family == "blip2-opt":
        return make_blip2_opt(args, dtype)
    if args.family == "blip2-flan-t5":
        return make_blip2_t5(args, dtype)

    shared = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "testdata", "tokenizers", "llama2-7b",
                          "tokenizer.json")
    tok = Tokenizer.from_file(shared) if os.path.exists(shared) else train_llama_tokenizer()
    image_token = add_special(tok, "<image>")
    pad_token = add_special(tok, "<pad>")
    vocab = max(args.vocab, ((tok.get_vocab_size() + 63) // 64) * 64)

    shape = {"1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_key_value_heads=4,
                        max_position_embeddings=2048),
             "7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_key_value_heads=32,
                        max_position_embeddings=4096)}[args.llm]
    if args.text_layers:
        shape["num_hidden_layers"] = args.text_layers
    text = LlamaConfig(vocab_size=vocab, **shape, num_attention_heads=32,
                       rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, pad_token_id=pad_token)
    if args.family == "llama-adapter":
        return make_llama_adapter(args, text, tok, dtype)
    if args.family == "llava":
        vision = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                  num_attention_heads=16, image_size=336, patch_size=14, projection_dim=768)
        config = LlavaConfig(vision_config=vision, text_config=text, image_token_index=image_token,
                             vision_feature_layer=-2, vision_feature_select_strategy="default", image_seq_length=576)
        if args.llm == "7b":
            return write_sharded(args, config, tok, dtype)
        model = LlavaForConditionalGeneration(config).to(dtype).eval()
    else:
        bert = train_bert_tokenizer()
        config = InstructBlipConfig(vision_config=InstructBlipVisionConfig().to_dict(),
                                    qformer_config=InstructBlipQFormerConfig(vocab_size=30523).to_dict(),
                                    text_config=text.to_dict(), num_query_tokens=32, image_token_index=image_token)
        model = InstructBlipForConditionalGeneration(config).to(dtype).eval()
    os.makedirs(args.out, exist_ok=True)
    model.config.save_pretrained(args.out)
    layout = "llava-hf" if args.family == "llava" else "state-dict"
    state = {published_name(k, layout): v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(args.out, "model.safetensors"), metadata={"format": "pt"})
    tok.save(os.path.join(args.out, "tokenizer.json"))
    mean, std = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
    if args.family == "llava":
        processor = {"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 336},
                     "crop_size": {"height": 336, "width": 336}, "do_center_crop": True, "resample": 3,
                     "image_mean": mean, "image_std": std}
    else:
        processor = {"image_processor_type": "BlipImageProcessor", "size": {"height": 224, "width": 224},
                     "resample": 3, "image_mean": mean, "image_std": std}
        PreTrainedTokenizerFast(tokenizer_object=bert, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                                cls_token="[CLS]", mask_token="[MASK]").save_pretrained(
            os.path.join(args.out, "qformer_tokenizer"))
    with open(os.path.join(args.out, "preprocessor_config.json"), "w") as f:
        json.dump(processor, f, indent=2)
    n = sum(p.numel() for p in model.parameters())
    print("%s: %.2fB parameters (%s), vocab %d, image token %d" % (args.out, n / 1e9, args.dtype, vocab, image_token))


CLIP_PROCESSOR = {"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 336},
                  "crop_size": {"height": 336, "width": 336}, "do_center_crop": True, "resample": 3,
                  "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]}


def make_blip2_opt(args, dtype):
    """BLIP-2 + OPT-2.7B's shape, written as write_sharded writes (the tied
    lm_head left out, as transformers saves it)."""
    from make_opt_fixtures import train_bytelevel_tokenizer
    tok = train_bytelevel_tokenizer(400)
    image_token = add_special(tok, "<image>")
    text = OPTConfig(vocab_size=max(args.vocab, 50272), hidden_size=2560, ffn_dim=10240,
                     num_hidden_layers=args.text_layers or 32, num_attention_heads=32, max_position_embeddings=2048,
                     word_embed_proj_dim=2560, bos_token_id=2, eos_token_id=2, pad_token_id=1)
    config = Blip2Config(vision_config=Blip2VisionConfig().to_dict(), qformer_config=Blip2QFormerConfig().to_dict(),
                         text_config=text.to_dict(), num_query_tokens=32, image_token_index=image_token)
    processor = dict(CLIP_PROCESSOR, image_processor_type="BlipImageProcessor", size={"height": 224, "width": 224},
                     do_center_crop=False)
    del processor["crop_size"]
    return write_sharded(args, config, tok, dtype, model_cls=Blip2ForConditionalGeneration, rename=lambda n: n,
                         processor=processor, skip=("language_model.lm_head.weight",))


def make_blip2_t5(args, dtype):
    """BLIP-2 + Flan-T5-XL's shape, written as write_sharded writes, the
    head kept (Flan-T5 unties it) and config.json as Flan-T5's."""
    from transformers import T5Config
    from make_t5_fixtures import published_config, train_unigram_tokenizer
    tok = train_unigram_tokenizer(400)
    image_token = add_special(tok, "<image>")
    layers = args.text_layers or 24
    text = T5Config(vocab_size=max(args.vocab, 32128), d_model=2048, d_kv=64, d_ff=5120, num_layers=layers,
                    num_decoder_layers=layers, num_heads=32, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                    pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    config = Blip2Config(vision_config=Blip2VisionConfig().to_dict(), qformer_config=Blip2QFormerConfig().to_dict(),
                         text_config=text.to_dict(), num_query_tokens=32, image_token_index=image_token)
    processor = dict(CLIP_PROCESSOR, image_processor_type="BlipImageProcessor", size={"height": 224, "width": 224},
                     do_center_crop=False)
    del processor["crop_size"]
    write_sharded(args, config, tok, dtype, model_cls=Blip2ForConditionalGeneration, rename=lambda n: n,
                  processor=processor, skip=("language_model.encoder.embed_tokens.weight",
                                             "language_model.decoder.embed_tokens.weight"))
    published_config(args.out)


def write_sharded(args, config, tok, dtype, model_cls=LlavaForConditionalGeneration,
                  rename=lambda n: published_name(n, "llava-hf"), processor=CLIP_PROCESSOR, skip=()):
    """A model too large to build in memory: the tensor names and shapes of
    a model on the meta device, each filled with N(0, 0.02) (norms 1,
    biases 0) and written in ~2 GB shards with model.safetensors.index.json."""
    with torch.device("meta"):
        model = model_cls(config)
    os.makedirs(args.out, exist_ok=True)
    model.config.save_pretrained(args.out)
    gen = torch.Generator().manual_seed(0)
    shard, size, n_shard, weight_map, total = {}, 0, 0, {}, 0
    names = list(model.state_dict().items())

    def flush():
        nonlocal shard, size, n_shard
        n_shard += 1
        fname = "model-%05d.safetensors" % n_shard
        save_file(shard, os.path.join(args.out, fname), metadata={"format": "pt"})
        for k in shard:
            weight_map[k] = fname
        shard, size = {}, 0

    for name, p in names:
        if name in skip:
            continue
        if "norm" in name.lower() or "layrnorm" in name:
            t = torch.ones(p.shape, dtype=dtype)
        elif name.endswith("bias"):
            t = torch.zeros(p.shape, dtype=dtype)
        else:
            t = (torch.randn(p.shape, generator=gen, dtype=torch.float32) * 0.02).to(dtype)
        shard[rename(name)] = t.contiguous()
        size += t.numel() * t.element_size()
        total += t.numel() * t.element_size()
        if size >= 2 << 30:
            flush()
    if shard:
        flush()
    with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    tok.save(os.path.join(args.out, "tokenizer.json"))
    with open(os.path.join(args.out, "preprocessor_config.json"), "w") as f:
        json.dump(processor, f, indent=2)
    print("%s: %.2f GB in %d shards (%s), vocab %d" % (args.out, total / 1e9, n_shard, args.dtype,
                                                      config.text_config.vocab_size))


def make_llama_adapter(args, text, tok, dtype):
    """OUT/llama (HF layout), and OUT/clip, OUT/adapter made from random
    release-format files by the converter users run."""
    import argparse as ap_
    import tempfile
    import convert_llama_adapter as conv
    import make_adapter_fixtures as fx
    from transformers import LlamaForCausalLM

    llama_dir = os.path.join(args.out, "llama")
    model = LlamaForCausalLM(text).to(dtype).eval()
    model.save_pretrained(llama_dir)
    tok.save(os.path.join(llama_dir, "tokenizer.json"))
    clip = dict(width=1024, layers=24, heads=16, patch=14, image=224, output_dim=768, mlp=4096)
    v2 = dict(query_len=10, query_layer=text.num_hidden_layers - 1, v_embed_dim=768, v_depth=8, v_num_heads=16,
              v_mlp_ratio=4.0, lora_rank=16)
    llm = dict(dim=text.hidden_size, n_layers=text.num_hidden_layers, n_heads=text.num_attention_heads,
               multiple_of=256)
    assert conv.ffn_hidden(llm["dim"], llm["multiple_of"]) == text.intermediate_size
    with tempfile.TemporaryDirectory() as rel:
        visual = {k: v.to(dtype) for k, v in fx.openai_clip(clip).items()}
        torch.save(visual, os.path.join(rel, "clip.pt"))
        torch.save({"model": fx.adapter_v2(v2, llm, clip["output_dim"], lora=False),
                    "config": {"w_bias": True, "w_lora": False}}, os.path.join(rel, "adapter.pth"))
        conv.convert_clip(ap_.Namespace(weights=os.path.join(rel, "clip.pt"), out=os.path.join(args.out, "clip"),
                                        heads=clip["heads"], float32=False))
        conv.convert_adapter(ap_.Namespace(weights=os.path.join(rel, "adapter.pth"),
                                           out=os.path.join(args.out, "adapter"), version="v2-multimodal",
                                           query_len=v2["query_len"], v_depth=v2["v_depth"],
                                           v_num_heads=v2["v_num_heads"], v_mlp_ratio=v2["v_mlp_ratio"]))
    print("%s: llama-adapter bench model (llama/, clip/, adapter/)" % args.out)


if __name__ == "__main__":
    main()
