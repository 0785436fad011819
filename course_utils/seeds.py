"""Reproducible runs: seed every random number generator, make torch generators, and draw the starting
latents of a diffusion run yourself, so the same seed gives the same picture.

    from course_utils.seeds import seed_everything, generator, fixed_latents, noise
    seed_everything(0)
    image = pipe("a red circle", generator=generator(42)).images[0]
    same = pipe("a red circle", latents=fixed_latents(pipe, 42)).images[0]   # the same picture
"""

from __future__ import annotations

import math

import torch
from accelerate.utils import set_seed
from diffusers.utils.torch_utils import randn_tensor

from .checks import check_seed, check_side
from .settings import resolve_device


def seed_everything(seed: int, deterministic: bool = False) -> int:
    """Seed Python's `random`, NumPy and torch (CPU and every GPU) with `seed`, and return it.

    With `deterministic=True`, torch also refuses the few operations that have no deterministic kernel,
    which makes GPU runs repeatable at some cost in speed. The seed is returned so that a notebook can write
    `SEED = seed_everything(0)` and show it.
    """
    check_seed(seed)
    set_seed(seed, deterministic=bool(deterministic))
    return seed


def _check_generator_device(device) -> torch.device:
    """The device a generator can live on: a device that is here (`settings.resolve_device`), never None."""
    if device is None:
        raise ValueError("unknown device None: use 'cpu' (the default), 'cuda' or 'mps'")
    return resolve_device(device, hint="leave device='cpu' (the default)")


def generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch.Generator seeded with `seed`, for a pipeline's `generator=` argument.

    It lives on the CPU by default: diffusers then draws the starting noise on the CPU and moves it to the
    GPU, so the same seed gives the same picture on a laptop, on Colab and on a Mac. A generator on the GPU
    is a little faster but gives different noise on every kind of device.
    """
    check_seed(seed)
    return torch.Generator(device=_check_generator_device(device)).manual_seed(seed)


def noise(pipe, shape, seed: int) -> torch.Tensor:
    """Gaussian noise of `shape` as diffusers draws a pipeline's noise: on the CPU from `generator(seed)`, in the
    pipeline's dtype, then moved to its device. Hand-written loops that start from it equal the pipeline in
    float16 and bfloat16 too, with no dtype or device left to get wrong."""
    check_seed(seed)
    return randn_tensor(tuple(shape), generator=generator(seed), device=torch.device(pipe.device), dtype=pipe.dtype)


def fixed_latents(
    pipe, seed: int, n: int = 1, height: int | None = None, width: int | None = None
) -> torch.Tensor:
    """The starting noise `pipe` would draw for `seed`: n latents of shape
    (n, unet in_channels, height // vae_scale_factor, width // vae_scale_factor), on the pipe's device and dtype.

    The noise is drawn on the CPU from `generator(seed)` exactly as the pipeline draws it, so
    `pipe(prompt, latents=fixed_latents(pipe, s))` gives the same picture as `pipe(prompt, generator=generator(s))`,
    and the latents can be inspected, reused across prompts or nudged by hand. Height and width default to
    the size the model was trained at (`unet.config.sample_size * vae_scale_factor`).
    """
    check_seed(seed)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n is the number of latents to draw and must be a whole number >= 1, not {n!r}")
    factor = int(pipe.vae_scale_factor)
    multiple = math.lcm(8, factor)  # the pipelines themselves insist on multiples of 8
    size = pipe.unet.config.sample_size
    default_h, default_w = (size, size) if isinstance(size, int) else size
    height = check_side("height", int(default_h) * factor if height is None else height, multiple)
    width = check_side("width", int(default_w) * factor if width is None else width, multiple)
    shape = (n, int(pipe.unet.config.in_channels), height // factor, width // factor)
    return noise(pipe, shape, seed)
