"""Stable Diffusion's sampling loop written out, step by step, with classifier-free guidance.

Lesson 06 writes this loop by hand and checks it against the pipeline; lesson 07 reuses it for a
hand-written image-to-image. Each function is one idea:

    from course_utils import sampling
    text, empty = sampling.encode_text(pipe, ["a red circle"]), sampling.encode_text(pipe, [""])
    latents = sampling.start_latents(pipe, seed=0)                  # noise × init_noise_sigma
    pipe.scheduler.set_timesteps(20)
    latents = sampling.denoise(pipe, latents, text, empty, 7.5, pipe.scheduler.timesteps)
    image = sampling.decode(pipe, latents)[0]

or, all at once, `sampling.sample(pipe, "a red circle", seed=0)`, which gives the same picture as
`generation.generate(pipe, "a red circle", seed=0)`. Unlike diffusers, these functions always run the
empty (or negative) prompt, so guidance 0 really means "ignore the prompt" (diffusers treats every
guidance <= 1 as 1 and skips the empty prompt to save time).
"""

from __future__ import annotations

import torch
from PIL import Image

from . import seeds
from .checks import (
    check_guidance,
    check_negative,
    check_prompts,
    check_seed_range,
    check_steps,
    check_strength,
)
from .images import load_image, tensor_to_pil
from .tokens import token_ids

__all__ = ["decode", "denoise", "encode_image", "encode_text", "guided_noise", "img2img", "sample",
           "start_latents", "timesteps_for_strength"]


@torch.no_grad()
def encode_text(pipe, prompts) -> torch.Tensor:
    """Tokenize `prompts` (a string or a list) padded to the tokenizer's full length, as the pipeline does,
    and run the text encoder: a tensor (len(prompts), length, hidden size)."""
    prompts = [prompts] if isinstance(prompts, str) else prompts
    if not isinstance(prompts, (list, tuple)) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise TypeError(f"prompts must be a string or a non-empty list of strings ('' is the empty prompt), "
                        f"not {prompts!r}")
    return pipe.text_encoder(token_ids(pipe.tokenizer, prompts, pipe.device))[0]


def start_latents(pipe, seed: int = 0, n: int = 1) -> torch.Tensor:
    """The pipeline's starting point: Gaussian noise for seeds seed, seed+1, ... (one generator each, as
    `generate` uses), scaled by the scheduler's `init_noise_sigma`. Call `set_timesteps` first: some
    schedulers' sigma depends on it."""
    seed = check_seed_range(seed, n)
    noise = torch.cat([seeds.fixed_latents(pipe, seed + k) for k in range(n)])
    return noise * pipe.scheduler.init_noise_sigma


@torch.no_grad()
def guided_noise(pipe, latents, t, text, empty, guidance: float) -> torch.Tensor:
    """One UNet call on the doubled batch [empty, text], combined as empty + guidance · (text − empty).

    `empty` is the embedding of the empty prompt, or of a negative prompt, which takes its place."""
    model_input = pipe.scheduler.scale_model_input(torch.cat([latents, latents]), t)
    noise = pipe.unet(model_input, t, encoder_hidden_states=torch.cat([empty, text])).sample
    noise_empty, noise_text = noise.chunk(2)
    return noise_empty + guidance * (noise_text - noise_empty)


def denoise(pipe, latents, text, empty, guidance: float, timesteps) -> torch.Tensor:
    """Run the scheduler over `timesteps`, one guided noise prediction and one `scheduler.step` each."""
    guidance = check_guidance(guidance)
    if len(empty) == 1 and len(latents) > 1:
        empty = empty.expand(len(latents), -1, -1)
    if len(text) == 1 and len(latents) > 1:
        text = text.expand(len(latents), -1, -1)
    for t in timesteps:
        noise = guided_noise(pipe, latents, t, text, empty, guidance)
        latents = pipe.scheduler.step(noise, t, latents).prev_sample
    return latents


@torch.no_grad()
def decode(pipe, latents) -> list[Image.Image]:
    """Latents to PIL images: undo the VAE's scaling factor, decode, map [-1, 1] to 0..255."""
    pixels = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    return [tensor_to_pil(x) for x in pixels]


@torch.no_grad()
def encode_image(pipe, images, generators) -> torch.Tensor:
    """Images (PIL, or paths) to scaled latents. The VAE's encoder gives a distribution; like the img2img
    pipeline, we draw one sample from it, image k with generator k (a list of torch generators, one per
    image; a seed s stands for generators seeded s, s+1, ...)."""
    images = [images] if isinstance(images, (str, Image.Image)) else list(images)
    if not isinstance(generators, (list, tuple)):
        first = check_seed_range(generators, len(images))
        generators = [seeds.generator(first + k) for k in range(len(images))]
    if len(generators) != len(images):
        raise ValueError(
            f"{len(images)} images but {len(generators)} generators: give one generator per image"
        )
    out = []
    for image, generator in zip(images, generators, strict=True):
        x = pipe.image_processor.preprocess(load_image(image)).to(pipe.device, pipe.vae.dtype)
        out.append(pipe.vae.encode(x).latent_dist.sample(generator=generator))
    return torch.cat(out) * pipe.vae.config.scaling_factor


def timesteps_for_strength(pipe, steps: int, strength: float) -> torch.Tensor:
    """Set the scheduler to `steps` steps and return the last int(steps · strength) of them, where img2img
    starts (it also tells the scheduler where it begins, as the pipeline does)."""
    steps = check_steps(steps)
    strength = check_strength(strength, steps)
    scheduler = pipe.scheduler
    scheduler.set_timesteps(steps, device=pipe.device)
    skip = (steps - int(steps * strength)) * scheduler.order
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(skip)
    return scheduler.timesteps[skip:]


def _embeddings(pipe, prompts, negative_prompt, count: int):
    prompts = check_prompts(prompts)
    negatives = check_negative(negative_prompt, len(prompts)) or [""] * len(prompts)
    text = encode_text(pipe, prompts).repeat_interleave(count, dim=0)
    empty = encode_text(pipe, negatives).repeat_interleave(count, dim=0)
    return text, empty


def sample(pipe, prompts, negative_prompt=None, steps: int = 20, guidance: float = 7.5, seed: int = 0,
           n: int = 1) -> list[Image.Image]:
    """Text to image with the loop above: `n` images per prompt, image k from seed + k, as `generate` does
    (same prompts, seed, steps and guidance > 1 give the same pictures)."""
    text, empty = _embeddings(pipe, prompts, negative_prompt, n)
    pipe.scheduler.set_timesteps(check_steps(steps), device=pipe.device)
    latents = start_latents(pipe, seed, len(text))
    return decode(pipe, denoise(pipe, latents, text, empty, guidance, pipe.scheduler.timesteps))


def img2img(pipe, images, prompts, strength: float = 0.6, negative_prompt=None, steps: int = 20,
            guidance: float = 7.5, seed: int = 0) -> list[Image.Image]:
    """Image to image by hand: one image per prompt (or one prompt for all images). Encode, add the noise
    of the start timestep, run the remaining steps, decode; image k uses seed + k for both random draws
    (the encoder's sample, then the noise), as the img2img pipeline does with one generator per image."""
    images = [images] if isinstance(images, (str, Image.Image)) else list(images)
    prompts = check_prompts(prompts)
    if len(prompts) == 1:
        prompts = prompts * len(images)
    if len(prompts) != len(images):
        raise ValueError(
            f"{len(images)} images but {len(prompts)} prompts: give one prompt per image, or one for all"
        )
    text, empty = _embeddings(pipe, prompts, negative_prompt, 1)
    timesteps = timesteps_for_strength(pipe, steps, strength)
    seed = check_seed_range(seed, len(images))
    generators = [seeds.generator(seed + k) for k in range(len(images))]
    clean = encode_image(pipe, images, generators)
    # each generator has given the encoder its sample; the noise is what it draws next, as in the pipeline
    noise = torch.cat([torch.randn((1, *clean.shape[1:]), generator=g, dtype=clean.dtype) for g in generators])
    noise = noise.to(clean.device)
    latents = pipe.scheduler.add_noise(clean, noise, timesteps[:1].repeat(len(images)))
    return decode(pipe, denoise(pipe, latents, text, empty, guidance, timesteps))
