"""A stand-in for Stable Diffusion 1.5, built offline: its structure, random weights.

The course cannot download a real checkpoint, so the any-model path of every lesson is tested on this: a
``StableDiffusionPipeline`` folder with SD 1.5's parts and configs (CLIP's real BPE tokenizer with 49,408
tokens and 77 positions, a 768-wide CLIP text encoder, a four-level UNet with cross-attention on three levels,
a factor-8 VAE with 4 latent channels and scaling factor 0.18215, SD's PNDM schedule). It proves the plumbing
(sizes, dtypes, devices, token lengths), never quality: random weights draw noise.

- ``size="full"`` is SD 1.5 exactly (860 M UNet parameters, 512 px): what `make gpu-check` times on a GPU.
- ``size="slim"`` (the default) keeps every block, level, head count and width that the pipeline's plumbing
  sees (768-wide text states, 77 tokens, 4 latent channels, factor 8) but narrows the UNet and VAE channels,
  uses two text-encoder layers and a 128-px native size, so that a CPU runs it in seconds.

CLIP's BPE merges come from the ``open_clip_torch`` package, which ships them as
``open_clip/bpe_simple_vocab_16e6.txt.gz``; only that file is read (open_clip itself is never imported, so it
can be installed with ``pip install --no-deps open_clip_torch``).

    from course_utils.standin import save_standin
    folder = save_standin("outputs/sd15-standin")        # then MODEL = str(folder) in any lesson
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

# Stable Diffusion 1.5's configs, as in the checkpoint's unet/, vae/, text_encoder/ and scheduler/ folders
SD15_UNET = {
    "sample_size": 64, "in_channels": 4, "out_channels": 4, "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280, 1280),
    "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    "cross_attention_dim": 768, "attention_head_dim": 8, "norm_num_groups": 32,
}
SD15_VAE = {
    "sample_size": 512, "in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 2,
    "block_out_channels": (128, 256, 512, 512), "norm_num_groups": 32, "scaling_factor": 0.18215,
    "down_block_types": ("DownEncoderBlock2D",) * 4, "up_block_types": ("UpDecoderBlock2D",) * 4,
}
SD15_TEXT = {
    "vocab_size": 49408, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
    "num_attention_heads": 12, "max_position_embeddings": 77, "hidden_act": "quick_gelu", "projection_dim": 768,
    "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 1,
}
SD15_SCHEDULER = {
    "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "skip_prk_steps": True, "set_alpha_to_one": False, "steps_offset": 1, "clip_sample": False,
    "trained_betas": None,
}
# What "slim" changes: only widths, depth of the text encoder, and the native size
SLIM = {
    "unet": {"block_out_channels": (32, 64, 128, 128), "sample_size": 16},
    "vae": {"block_out_channels": (32, 32, 64, 64), "layers_per_block": 1, "sample_size": 128},
    "text": {"num_hidden_layers": 2},
}
SIZES = ("slim", "full")
_MERGES_FILE = "bpe_simple_vocab_16e6.txt.gz"
_N_MERGES = 49152 - 256 - 2  # the merges CLIP uses: its vocabulary is 2 × 256 bytes + merges + 2 specials


def clip_merges_file() -> Path:
    """Where open_clip_torch keeps CLIP's BPE merges; FileNotFoundError that says how to get it."""
    spec = importlib.util.find_spec("open_clip")  # finds the package without running its __init__
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / _MERGES_FILE
        if path.is_file():
            return path
    raise FileNotFoundError(f"CLIP's BPE merges ({_MERGES_FILE}) are not installed: "
                            "run `pip install --no-deps open_clip_torch`, which ships them")


def byte_alphabet() -> list[str]:
    """CLIP's (and GPT-2's) printable stand-ins for the 256 byte values, in vocabulary order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in printable + [b for b in range(256)
                                                                              if b not in printable]]


def write_clip_tokenizer(folder) -> Path:
    """Write SD 1.5's tokenizer (CLIP ViT-L/14's: vocab.json, merges.txt, its configs) into ``folder``."""
    lines = gzip.open(clip_merges_file(), "rt", encoding="utf-8").read().split("\n")
    merges = lines[1:_N_MERGES + 1]  # the first line is a header
    chars = byte_alphabet()
    tokens = chars + [c + "</w>" for c in chars] + ["".join(m.split()) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
               "pad_token": "<|endoftext|>"}
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "CLIPTokenizer", "model_max_length": 77, "do_lower_case": True, **special}))
    (folder / "special_tokens_map.json").write_text(json.dumps(special))
    return folder


def build_standin(size: str = "slim", seed: int = 0, workdir=None):
    """A StableDiffusionPipeline in SD 1.5's structure with random weights (float32, on the CPU)."""
    import tempfile

    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}: use one of {', '.join(map(repr, SIZES))}")
    slim = SLIM if size == "slim" else {"unet": {}, "vae": {}, "text": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = CLIPTokenizer.from_pretrained(write_clip_tokenizer(Path(workdir or tmp) / "tokenizer"))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(**{**SD15_UNET, **slim["unet"]})
        vae = AutoencoderKL(**{**SD15_VAE, **slim["vae"]})
        text_encoder = CLIPTextModel(CLIPTextConfig(**{**SD15_TEXT, **slim["text"]}))
    return StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=PNDMScheduler.from_config(SD15_SCHEDULER), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)


def save_standin(folder, size: str = "slim", seed: int = 0) -> Path:
    """Build the stand-in and save it as a diffusers folder (safetensors), with the classic tokenizer files
    (transformers 5 saves only tokenizer.json). An existing complete folder is reused."""
    folder = Path(folder)
    if (folder / "model_index.json").is_file() and (folder / "tokenizer" / "merges.txt").is_file():
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}: use one of {', '.join(map(repr, SIZES))}")
        built = json.loads((folder / "unet" / "config.json").read_text())["block_out_channels"]
        wanted = list((SLIM["unet"] if size == "slim" else SD15_UNET)["block_out_channels"])
        if built != wanted:
            raise ValueError(f"{folder} holds a stand-in of another size (UNet channels {built}, {size!r} has "
                             f"{wanted}): use another folder, or delete that one")
        return folder
    import shutil

    pipe = build_standin(size, seed)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    pipe.save_pretrained(tmp, safe_serialization=True)
    write_clip_tokenizer(tmp / "tokenizer")
    shutil.rmtree(folder, ignore_errors=True)  # an incomplete one, from a run that was killed
    tmp.replace(folder)
    return folder
