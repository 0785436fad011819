"""The mini model's architecture: the real Stable Diffusion classes, at tiny size.

- ``build_vae``: diffusers ``AutoencoderKL``, 64×64×3 → 8×8×4 (factor 8, as in SD);
- ``build_tokenizer``: a transformers ``CLIPTokenizer`` whose BPE merges make every word of the
  shapes world one token;
- ``build_clip``: a transformers ``CLIPModel`` (text + image encoder); its text half is the pipeline's
  ``CLIPTextModel``;
- ``build_unet``: diffusers ``UNet2DConditionModel`` with cross-attention;
- ``noise_scheduler``: SD's schedule (scaled_linear, beta 0.00085 → 0.012, 1000 steps).
"""

from __future__ import annotations

import json
import string
from collections import Counter
from pathlib import Path

from .. import shapes

MAX_TOKENS = 20  # model_max_length: the longest caption is 11 words + start and end tokens
SD_SCHEDULE = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear"}


VAE_CHANNELS = (32, 64, 128, 128)


def build_vae(channels=VAE_CHANNELS):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3, out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=tuple(channels), layers_per_block=1, latent_channels=4,
        norm_num_groups=4,  # few groups: one group per channel erases absolute colour on flat images
        sample_size=64,
    )


def build_unet(cross_attention_dim: int):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=(64, 128, 128), layers_per_block=1,
        cross_attention_dim=cross_attention_dim, attention_head_dim=4, norm_num_groups=16,
    )


def noise_scheduler(kind: str = "ddpm"):
    """SD's noise schedule as a scheduler: "ddpm" (training), "euler" (what the bundled model ships) or "pndm"
    (what SD v1.5 ships). The bundled model ships Euler because PNDM cannot sample it: through plain
    `StableDiffusionPipeline.from_pretrained`, at diffusers' default 50 steps and guidance 7.5, 9 of 32 full
    prompts came out right with PNDM against 31 of 32 with Euler (v0.3; tests/test_mini_quality.py)."""
    from diffusers import DDPMScheduler, EulerDiscreteScheduler, PNDMScheduler

    if kind == "ddpm":
        return DDPMScheduler(**SD_SCHEDULE, clip_sample=False)
    if kind == "euler":
        # SD's timestep spacing (so load_pipeline's Euler is this very scheduler), and SD's settings for the
        # samplers a learner may build from this config (`DDIMScheduler.from_config(pipe.scheduler.config)`):
        # PNDM without its Runge-Kutta warm-up, DDIM and PNDM ending on the last trained alpha, and DDIM and DDPM
        # not clipping latents to [-1, 1] (their default; with it DDIM got none of 200 prompts right).
        # Euler keeps the keys it does not use in its config.
        return EulerDiscreteScheduler.from_config({**SD_SCHEDULE, "timestep_spacing": "leading", "steps_offset": 1,
                                                   "skip_prk_steps": True, "set_alpha_to_one": False,
                                                   "clip_sample": False})
    if kind == "pndm":
        return PNDMScheduler(**SD_SCHEDULE, skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False)
    raise ValueError(f"unknown scheduler kind {kind!r}: use 'ddpm', 'euler' or 'pndm'")


# ---------------------------------------------------------------- tokenizer
def _bpe_merges(words: list[str]) -> list[tuple[str, str]]:
    """Learn merges as BPE training would, until every word is a single symbol.

    Applying merges in the learned order reproduces each training word whole, which naive
    left-to-right merges do not guarantee (two merges can compete for the same character).
    """
    segs = {w: tuple(w[:-1]) + (w[-1] + "</w>",) for w in words}
    merges = []
    while True:
        counts = Counter(p for seg in segs.values() for p in zip(seg, seg[1:], strict=False))
        if not counts:
            return merges
        pair = max(counts, key=lambda p: (counts[p], p))
        merges.append(pair)
        for w, seg in segs.items():
            out, i = [], 0
            while i < len(seg):
                if i + 1 < len(seg) and (seg[i], seg[i + 1]) == pair:
                    out.append(seg[i] + seg[i + 1])
                    i += 2
                else:
                    out.append(seg[i])
                    i += 1
            segs[w] = tuple(out)


def bpe_vocab(words, alphabet) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """vocab.json's contents and the merges of a CLIP-style BPE tokenizer in which each of ``words`` is one token:
    every character of ``alphabet`` (alone and word-final, ``c</w>``), the merged pieces, CLIP's two specials."""
    vocab: list[str] = []
    for c in alphabet:
        vocab += [c, c + "</w>"]
    merges = _bpe_merges(sorted(w for w in words if len(w) > 1))
    vocab += ["".join(p) for p in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(dict.fromkeys(vocab))}, merges


def write_bpe_files(folder: Path, vocab: dict[str, int], merges) -> Path:
    """vocab.json and merges.txt (with CLIP's '#version' header), as CLIPTokenizer reads them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, indent=0))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    return folder


def tokenizer_files(folder: Path) -> Path:
    """Write vocab.json and merges.txt for the shapes world's words."""
    return write_bpe_files(folder, *bpe_vocab(shapes.VOCAB_WORDS, string.ascii_lowercase + string.digits + ",.!?'-<>"))


def build_tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    # from the files, not from in-memory lists: transformers 4.x's CLIPTokenizer only reads files
    return CLIPTokenizer.from_pretrained(tokenizer_files(folder), model_max_length=MAX_TOKENS,
                                         pad_token="<|endoftext|>")


def write_slow_tokenizer_files(folder: Path) -> None:
    """transformers 5 saves only tokenizer.json; older versions and other tools want vocab.json and merges.txt."""
    tokenizer_files(folder)


def build_clip(tokenizer):
    from transformers import CLIPConfig, CLIPModel

    text = {
        "vocab_size": len(tokenizer), "hidden_size": 128, "intermediate_size": 256,
        "num_hidden_layers": 3, "num_attention_heads": 4, "max_position_embeddings": MAX_TOKENS,
        "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    vision = {
        "image_size": 64, "patch_size": 8, "num_channels": 3, "hidden_size": 128, "intermediate_size": 256,
        "num_hidden_layers": 3, "num_attention_heads": 4,
    }
    return CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=64))


def portable_text_encoder(folder: Path) -> None:
    """Rewrite `folder`/model.safetensors (a CLIPTextModel that transformers 5 saved) with the `text_model.` key
    prefix that every CLIP checkpoint on the Hub has. transformers 5 saves the keys without it, and
    transformers 4.x then loads none of them: it starts the text encoder from random weights, with only a
    warning. Both versions load the prefixed keys. The values are untouched."""
    from safetensors.torch import load_file, save_file

    path = Path(folder) / "model.safetensors"
    state = load_file(path)
    if all(k.startswith("text_model.") for k in state):
        return
    save_file({k if k.startswith("text_model.") else f"text_model.{k}": v for k, v in state.items()}, path,
              metadata={"format": "pt"})
