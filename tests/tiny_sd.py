"""A tiny, randomly initialised Stable Diffusion for fast tests.

It has the architecture of the real thing (CLIP tokenizer and text encoder, a UNet with cross-attention,
a VAE that shrinks 64x64 images to 8x8x4 latents, SD's noise schedule, no safety checker) but only a few
hundred thousand parameters, so building, saving and sampling it take well under a second. The pictures
it draws are noise: tests use it for shapes, plumbing, determinism and error messages, never quality.

    from tests.tiny_sd import build_tiny_sd, save_tiny_sd
    path = save_tiny_sd(tmp_path / "tiny-sd")
"""

from __future__ import annotations

from pathlib import Path

import torch

IMAGE_SIZE = 64
LATENT_SIZE = 8  # 64 / 2**3: four VAE blocks, three of them downsample
TEXT_DIM = 32

# A few whole-word merges on top of single bytes, so the tokenizer behaves like CLIP's BPE
# ("red" is one token, "zebra" falls back to characters), learned by the bundled model's own BPE builder.
_WORDS = ["a", "red", "blue", "green", "circle", "square", "on", "background", "large", "small"]


def build_tokenizer(folder: Path):
    """Write vocab.json and merges.txt to `folder` and load a CLIPTokenizer from them."""
    from transformers import CLIPTokenizer

    from course_utils.mini.model import bpe_vocab, write_bpe_files
    from course_utils.standin import byte_alphabet

    folder = write_bpe_files(folder, *bpe_vocab(_WORDS, byte_alphabet()))
    return CLIPTokenizer.from_pretrained(folder, model_max_length=77)


def build_tiny_safety_checker():
    """A tiny random StableDiffusionSafetyChecker and its image processor, shaped like a real checkpoint's.

    Its concept thresholds are set so that it never flags an image: it only has to be there, as in a real
    Stable Diffusion checkpoint, for tests of what load_pipeline keeps and drops.
    """
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    config = CLIPConfig(
        text_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        checker = StableDiffusionSafetyChecker(config)
    with torch.no_grad():
        checker.concept_embeds_weights.fill_(10.0)  # cosine similarity never exceeds these: nothing flagged
        checker.special_care_embeds_weights.fill_(10.0)
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return checker, processor


def build_tiny_sd(workdir: Path, seed: int = 0, safety_checker: bool = False):
    """A StableDiffusionPipeline with random weights; `workdir` holds the tokenizer's source files.

    With `safety_checker=True` it carries a (tiny, never-flagging) safety checker, as real checkpoints do.
    """
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = build_tokenizer(Path(workdir) / "tokenizer-src")
    vocab = tokenizer.get_vocab()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            sample_size=LATENT_SIZE,
            in_channels=4,
            out_channels=4,
            block_out_channels=(16, 32),
            layers_per_block=1,
            norm_num_groups=8,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=TEXT_DIM,
            attention_head_dim=8,
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(8, 16, 16, 16),
            layers_per_block=1,
            norm_num_groups=4,
            latent_channels=4,
            sample_size=IMAGE_SIZE,
        )
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=len(vocab),
                hidden_size=TEXT_DIM,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                max_position_embeddings=77,
                bos_token_id=vocab["<|startoftext|>"],
                eos_token_id=vocab["<|endoftext|>"],
                pad_token_id=vocab["<|endoftext|>"],
            )
        )
    # Stable Diffusion 1.x's scheduler_config.json, clip_sample included (PNDM ignores it, DDIM needs it)
    scheduler = PNDMScheduler.from_config(
        {
            "num_train_timesteps": 1000,
            "beta_start": 0.00085,
            "beta_end": 0.012,
            "beta_schedule": "scaled_linear",
            "skip_prk_steps": True,
            "set_alpha_to_one": False,
            "steps_offset": 1,
            "clip_sample": False,
            "trained_betas": None,
        }
    )
    checker, processor = build_tiny_safety_checker() if safety_checker else (None, None)
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=checker,
        feature_extractor=processor,
        requires_safety_checker=safety_checker,
    )


def save_tiny_sd(path: Path, seed: int = 0, safety_checker: bool = False) -> Path:
    """Build the tiny model and save it as a diffusers folder (safetensors) at `path`."""
    path = Path(path)
    pipe = build_tiny_sd(path.parent / f".{path.name}-work", seed=seed, safety_checker=safety_checker)
    pipe.save_pretrained(path, safe_serialization=True)
    # transformers 5 saves only tokenizer.json; keep the classic files too, as the bundled model does.
    src = path.parent / f".{path.name}-work" / "tokenizer-src"
    for name in ("vocab.json", "merges.txt"):
        (path / "tokenizer" / name).write_bytes((src / name).read_bytes())
    return path
