#!/usr/bin/env python3
"""Writes llama.cpp's mmproj GGUF (CLIP tower + LLaVA projector) of a
llava-hf checkpoint directory with llama.cpp's own legacy converter, the way
its docs/multimodal/llava.md converts llava-hf style towers: a CLIP vision
directory (config.json + weights) and a llava.projector file, then
tools/mtmd/legacy-models/convert_image_encoder_to_gguf.py
--clip-model-is-vision (which keeps 2-D projector weights and the patch
embedding in F16, the rest in F16 too unless --f32, and drops the tower's
last layer, which LLaVA-1.5 does not read). That converter needs
transformers 4 (its CLIPVisionModel has .vision_model): PY is a python with
it, e.g. a venv made with
`python3 -m venv --system-site-packages V && V/bin/pip install "transformers<5"`.

    python3 tools/llava_mmproj.py LLAVA_DIR OUT.gguf [--f32] [--llama-cpp DIR] [--converter-python PY]

The pair for the elements: a directory holding OUT (named mmproj*.gguf) and
the language model's GGUF (tools/llava_text_model.py, then llama.cpp's
convert_hf_to_gguf.py)."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
from safetensors import safe_open
from safetensors.torch import save_file

DEFAULT_LLAMA_CPP = os.path.expanduser("~/.cache/vtp-peer/llama_cpp_python-0.3.36/vendor/llama.cpp")
DEFAULT_PYTHON = "/work/venv-tf4/bin/python"


def convert(model, out, llama_cpp=DEFAULT_LLAMA_CPP, converter_python=DEFAULT_PYTHON, f32=False, mean=None,
            std=None):
    """Writes the mmproj file of @model (a LlavaForConditionalGeneration) to @out."""
    # transformers 5's CLIPVisionModel is the transformer itself; 4's (the
    # converter's) wraps it as .vision_model
    tower = {"vision_model." + k: v.detach().contiguous()
             for k, v in model.model.vision_tower.state_dict().items()}
    projector = {"multi_modal_projector." + k: v.detach().clone()
                 for k, v in model.model.multi_modal_projector.state_dict().items()}
    convert_tensors(model.config.vision_config.to_dict(), tower, projector, out, llama_cpp, converter_python, f32,
                    mean, std)


def read_checkpoint(llava_dir):
    """The vision config, the tower's tensors (as "vision_model.*") and the
    projector's ("multi_modal_projector.*") of a llava-hf directory, read
    from its safetensors without building the model (a 7B one would not fit
    in memory as F32)."""
    with open(os.path.join(llava_dir, "config.json")) as f:
        vcfg = json.load(f)["vision_config"]
    index = os.path.join(llava_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
    else:
        shards = ["model.safetensors"]
    tower, projector = {}, {}
    for shard in shards:
        with safe_open(os.path.join(llava_dir, shard), "pt") as f:
            for name in f.keys():
                for pre in ("vision_tower.vision_model.", "model.vision_tower."):
                    if name.startswith(pre):
                        tower["vision_model." + name[len(pre):]] = f.get_tensor(name)
                for pre in ("multi_modal_projector.", "model.multi_modal_projector."):
                    if name.startswith(pre):
                        projector["multi_modal_projector." + name[len(pre):]] = f.get_tensor(name)
    return vcfg, tower, projector


def convert_tensors(vcfg, tower, projector, out, llama_cpp=DEFAULT_LLAMA_CPP, converter_python=DEFAULT_PYTHON,
                    f32=False, mean=None, std=None):
    with tempfile.TemporaryDirectory() as work:
        vit = os.path.join(work, "vit")
        os.makedirs(vit)
        vcfg = dict(vcfg, architectures=["CLIPVisionModel"])
        with open(os.path.join(vit, "config.json"), "w") as f:
            json.dump(vcfg, f, indent=1)
        save_file(tower, os.path.join(vit, "model.safetensors"), metadata={"format": "pt"})
        torch.save(projector, os.path.join(vit, "llava.projector"))
        env = dict(os.environ, PYTHONPATH=os.path.join(llama_cpp, "gguf-py"))
        cmd = [converter_python, os.path.join(llama_cpp, "tools", "mtmd", "legacy-models",
                                              "convert_image_encoder_to_gguf.py"),
               "-m", vit, "--llava-projector", os.path.join(vit, "llava.projector"), "--output-dir", vit,
               "--clip-model-is-vision"]
        if f32:
            cmd.append("--use-f32")
        if mean:
            cmd += ["--image-mean", *map(str, mean)]
        if std:
            cmd += ["--image-std", *map(str, std)]
        print("+", " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        shutil.copy(os.path.join(vit, "mmproj-model-%s.gguf" % ("f32" if f32 else "f16")), out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("llava")
    ap.add_argument("out")
    ap.add_argument("--f32", action="store_true")
    ap.add_argument("--llama-cpp", default=DEFAULT_LLAMA_CPP)
    ap.add_argument("--converter-python", default=DEFAULT_PYTHON)
    args = ap.parse_args()
    vcfg, tower, projector = read_checkpoint(args.llava)
    convert_tensors(vcfg, tower, projector, args.out, args.llama_cpp, args.converter_python, args.f32)


if __name__ == "__main__":
    main()
