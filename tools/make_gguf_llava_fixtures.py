#!/usr/bin/env python3
"""Makes tests/fixtures/gguf-llava: llama.cpp's LLaVA pair (the text model
and the mmproj file with the CLIP tower and the projector) of the tiny random
LLaVA tests/fixtures/llava-tiny-q, converted by llama.cpp's own converters,
and transformers' outputs on exactly the weights the two files hold, for
tests/test-gguf-llava.c.

    python3 tools/make_gguf_llava_fixtures.py [--llama-cpp DIR] [--converter-python PY]

Steps:
  1. tools/llava_text_model.py writes the LLM as a plain Llama directory and
     DIR/convert_hf_to_gguf.py converts it to llm-f32.gguf (F32, the
     safetensors' values exactly);
  2. tools/llava_mmproj.py converts the tower and the projector with
     llama.cpp's legacy converter (--use-f32: F32 but for the 2-D projector
     weights and the patch embedding, which it keeps in F16) to
     mmproj-model-f32.gguf; PY is a python with transformers 4, which that
     converter needs (see tools/llava_mmproj.py). A non-default image mean
     and std are given so that the test sees them come from the file's
     metadata;
  3. tools/quantize_mmproj.py writes the same mmproj with its matrices in
     Q8_0 (gguf-llava-q8_0/mmproj-model-q8_0.gguf);
  4. the reference: transformers' LlavaForConditionalGeneration with the
     tower and projector weights read back from the mmproj file (so F16
     rounding included), the image preprocessed with that mean and std:
     pixel values, the tower's selected features, the projector's output,
     the logits of the prompt and the greedy continuation.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from transformers import AutoTokenizer, CLIPImageProcessor, LlavaForConditionalGeneration

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llava_mmproj  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "tests", "fixtures", "llava-tiny-q")
OUT = os.path.join(ROOT, "tests", "fixtures", "gguf-llava")
DEFAULT_LLAMA_CPP = os.path.expanduser("~/.cache/vtp-peer/llama_cpp_python-0.3.36/vendor/llama.cpp")
MEAN = [0.5, 0.45, 0.4]
STD = [0.25, 0.26, 0.27]
TEMPLATE = "USER: <image>\n{prompt} ASSISTANT:"
PROMPT = "What is in the picture?"
N_GREEDY = 20


def run(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, **kw)


def hf_name(gguf_name, n_layers_kept):
    """llava-hf's name of an mmproj tensor, written from the converter's
    renaming (get_tensor_name): the inverse, for reading the file back."""
    tower = "vision_tower.vision_model."
    fixed = {"v.class_embd": tower + "embeddings.class_embedding",
             "v.patch_embd.weight": tower + "embeddings.patch_embedding.weight",
             "v.position_embd.weight": tower + "embeddings.position_embedding.weight"}
    if gguf_name in fixed:
        return fixed[gguf_name]
    base, kind = gguf_name.rsplit(".", 1)
    if base.startswith("mm."):
        return "multi_modal_projector.linear_%d.%s" % ({"0": 1, "2": 2}[base[3:]], kind)
    if base == "v.pre_ln":
        return tower + "pre_layrnorm." + kind
    _, _, layer, part = base.split(".", 3)
    assert int(layer) < n_layers_kept
    part = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
            "attn_out": "self_attn.out_proj", "ln1": "layer_norm1", "ln2": "layer_norm2",
            "ffn_down": "mlp.fc1", "ffn_up": "mlp.fc2"}[part]   # the legacy converter's (swapped) names
    return "%sencoder.layers.%s.%s.%s" % (tower, layer, part, kind)


def load_mmproj_weights(model, path):
    """Puts the mmproj file's values into the model's tower and projector."""
    from gguf import GGUFReader
    reader = GGUFReader(path)
    kept = int(reader.fields["clip.vision.block_count"].parts[-1][0])
    state = model.state_dict()
    loaded = {}
    for t in reader.tensors:
        name = hf_name(t.name, kept)
        key = "model." + name.replace("vision_tower.vision_model.", "vision_tower.")
        value = torch.from_numpy(np.array(t.data, dtype=np.float32)).reshape(state[key].shape)
        loaded[key] = value
    missing = [k for k in state if (k.startswith("model.vision_tower.") or k.startswith("model.multi_modal"))
               and k not in loaded and ".encoder.layers.%d." % kept not in k and "post_layernorm" not in k]
    assert not missing, missing
    model.load_state_dict(loaded, strict=False)
    return kept


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llama-cpp", default=DEFAULT_LLAMA_CPP)
    ap.add_argument("--converter-python", default="/work/venv-tf4/bin/python")
    args = ap.parse_args()
    src = args.llama_cpp
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration.from_pretrained(SOURCE, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(SOURCE)
    with tempfile.TemporaryDirectory() as work:
        llm = os.path.join(work, "llm")
        run([sys.executable, os.path.join(ROOT, "tools", "llava_text_model.py"), SOURCE, llm])
        env = dict(os.environ, PYTHONPATH=os.path.join(src, "gguf-py"))
        run([sys.executable, os.path.join(src, "convert_hf_to_gguf.py"), llm, "--outtype", "f32", "--outfile",
             os.path.join(OUT, "llm-f32.gguf")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        llava_mmproj.convert(model, os.path.join(OUT, "mmproj-model-f32.gguf"), src, args.converter_python,
                             f32=True, mean=MEAN, std=STD)
    # the same mmproj with its matrices in Q8_0 (the gguf package's reference
    # quantizer; llama.cpp's converters write F16/F32 only)
    os.makedirs(OUT + "-q8_0", exist_ok=True)
    subprocess.check_call([sys.executable, os.path.join(ROOT, "tools", "quantize_mmproj.py"),
                           os.path.join(OUT, "mmproj-model-f32.gguf"),
                           os.path.join(OUT + "-q8_0", "mmproj-model-q8_0.gguf"), "q8_0"])
    kept = load_mmproj_weights(model, os.path.join(OUT, "mmproj-model-f32.gguf"))
    shutil.copy(os.path.join(SOURCE, "image.png"), os.path.join(OUT, "image.png"))

    cfg = model.config
    size = cfg.vision_config.image_size
    proc = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                              image_mean=MEAN, image_std=STD, resample=3)
    image = Image.open(os.path.join(OUT, "image.png")).convert("RGB")
    pixels = proc(images=image, return_tensors="pt")["pixel_values"]
    n_img = (size // cfg.vision_config.patch_size) ** 2
    text = TEMPLATE.format(prompt=PROMPT).replace("<image>", "<image>" * n_img)
    ids = tok(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        vis = model.model.vision_tower(pixels, output_hidden_states=True)
        # the last stored layer (block_count) is LLaVA's layer -2 of the original tower
        feats = vis.hidden_states[kept][:, 1:]
        assert torch.equal(feats, vis.hidden_states[cfg.vision_feature_layer][:, 1:])
        proj = model.model.multi_modal_projector(feats)
        out = model(input_ids=ids, pixel_values=pixels)
        gen = model.generate(input_ids=ids, pixel_values=pixels, max_new_tokens=N_GREEDY, do_sample=False,
                             output_scores=True, return_dict_in_generate=True)
    greedy = gen.sequences[0, ids.shape[1]:]
    margins = [float(s[0].topk(2).values[0] - s[0].topk(2).values[1]) for s in gen.scores]
    save_file({
        "image": torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()),
        "pixel_values": pixels[0].contiguous(),
        "vision_features": feats[0].contiguous(),
        "projector_output": proj[0].contiguous(),
        "input_ids": ids[0].to(torch.int64).contiguous(),
        "logits": out.logits[0].contiguous(),
        "greedy_tokens": greedy.to(torch.int64).contiguous(),
    }, os.path.join(OUT, "reference.safetensors"), metadata={"format": "pt"})
    import transformers
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(dict(generator="tools/make_gguf_llava_fixtures.py", llama_cpp=src,
                       transformers_version=transformers.__version__, torch_version=torch.__version__,
                       source="tests/fixtures/llava-tiny-q", template=TEMPLATE, prompt=PROMPT,
                       image_mean=MEAN, image_std=STD, vision_layers_kept=kept, n_image_tokens=n_img,
                       greedy_text=tok.decode(greedy, skip_special_tokens=True),
                       # the text up to the first padding row of the vocabulary (ids past the HF
                       # tokenizer's, which the GGUF file names "<unused_N>" and prints as llama.cpp does)
                       greedy_text_before_padding=tok.decode(
                           greedy[:next((i for i, t in enumerate(greedy.tolist()) if t >= len(tok)), len(greedy))],
                           skip_special_tokens=True),
                       greedy_min_margin=min(margins)), f, indent=1)
    print("greedy %s (min margin %.4f)" % (greedy.tolist(), min(margins)))


if __name__ == "__main__":
    main()
