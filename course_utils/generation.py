"""Generate pictures with checked arguments: `generate` (any number of prompts, text-to-image or
image-to-image, one seed per picture) and `generate_each` (one picture per prompt, in batches).

    from course_utils.generation import generate, generate_each
    images = generate(pipe, "a large red circle on a blue background", n=4, seed=0)
    images = generate_each(pipe, prompts, seed=0, batch_size=32)   # picture k from seed k, as in one call

Each picture carries its settings in `image.info[provenance.SETTINGS_KEY]`, which `provenance.save_image`
writes into the PNG.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field

from fastcore.meta import delegates
from PIL import Image

from . import seeds
from .checks import (
    check_count,
    check_guidance,
    check_negative,
    check_prompts,
    check_seed_range,
    check_side,
    check_steps,
    check_strength,
)
from .images import load_image
from .pipeline import switch_task, task_of
from .provenance import SETTINGS_KEY
from .schedulers import scheduler_key, scheduler_name, set_scheduler
from .settings import batch_size


@dataclass
class _Request:
    """generate()'s arguments, checked: what the pipeline is asked for, and the settings each picture records."""

    prompts: list[str]
    negatives: list[str] | None
    steps: int
    guidance: float
    n: int
    seed: int
    height: int | None
    width: int | None
    multiple: int
    scheduler: str | None
    settings: dict = field(default_factory=dict)


def _native_size(pipe) -> tuple[int, int]:
    size = pipe.unet.config.sample_size
    h, w = (size, size) if isinstance(size, int) else size
    return int(h) * pipe.vae_scale_factor, int(w) * pipe.vae_scale_factor


def _fit(image: Image.Image, height, width, native: tuple[int, int], multiple: int) -> Image.Image:
    """Resize an img2img input to height x width; a missing side keeps the image's shape, and with neither
    given the longer side becomes the model's own size."""
    w, h = image.size
    if height is None or width is None:
        if height is not None:
            scale = height / h
        elif width is not None:
            scale = width / w
        else:
            scale = max(native) / max(w, h)
        height = height or max(multiple, multiple * round(h * scale / multiple))
        width = width or max(multiple, multiple * round(w * scale / multiple))
    return image if image.size == (width, height) else image.resize((width, height), Image.Resampling.LANCZOS)


def _check_request(pipe, prompt, negative_prompt, steps, guidance, seed, n, height, width, scheduler) -> _Request:
    """Step 1: every argument checked, with a message that says what to write instead."""
    from diffusers import DiffusionPipeline

    if not isinstance(pipe, DiffusionPipeline):
        raise TypeError(
            f"pipe must be a loaded pipeline, not {type(pipe).__name__}: first run pipe = load_pipeline('mini')"
        )
    prompts = check_prompts(prompt)
    negatives = check_negative(negative_prompt, len(prompts))
    steps, guidance, n = check_steps(steps), check_guidance(guidance), check_count(n)
    seed = check_seed_range(seed, len(prompts) * n)
    multiple = math.lcm(8, int(pipe.vae_scale_factor))
    height = None if height is None else check_side("height", height, multiple)
    width = None if width is None else check_side("width", width, multiple)
    key = None if scheduler is None else scheduler_key(scheduler)
    return _Request(prompts, negatives, steps, guidance, n, seed, height, width, multiple, key,
                    {"steps": steps, "guidance": guidance})


def _image_to_image(pipe, request: _Request, image, strength) -> tuple:
    """Step 2, with an input image: the img2img pipeline and its `image` and `strength` arguments."""
    strength = check_strength(strength, request.steps)
    several = isinstance(image, (list, tuple))
    if several and len(image) != len(request.prompts):
        raise ValueError(
            f"{len(image)} images for {len(request.prompts)} prompt(s): give one image per prompt (a list of "
            "both), or a single image"
        )
    inits = [_fit(load_image(im), request.height, request.width, _native_size(pipe), request.multiple)
             for im in (image if several else [image])]
    runner = switch_task(pipe, "img2img")
    # a list: each prompt's image, repeated for its n pictures (the pipeline's order: prompt 0's n first)
    extra = {"image": [im for im in inits for _ in range(request.n)] if several else inits[0],
             "strength": strength}
    request.settings["strength"] = strength
    if isinstance(image, (str, os.PathLike)):
        request.settings["image"] = str(image)
    return runner, extra


def _text_to_image(pipe, request: _Request) -> tuple:
    """Step 2, without an input image: the pipeline itself, at the size asked for or the model's own."""
    if task_of(pipe) == "img2img":
        raise ValueError(
            "this is an image-to-image pipeline: pass image=... (a path or a PIL image), "
            "or make a text-to-image one with switch_task(pipe, 'text2img')"
        )
    native_h, native_w = _native_size(pipe)
    return pipe, {"height": request.height or native_h, "width": request.width or native_w}


def _flagged(output) -> int:
    return sum(map(bool, getattr(output, "nsfw_content_detected", None) or []))


def _run(runner, request: _Request, extra: dict) -> tuple[list[Image.Image], int]:
    """Step 3: the pictures, picture k from its own CPU generator seeded seed + k, with this call's scheduler
    swapped in and the pipeline's own put back afterwards. As many pictures go into one call as the device
    holds (`settings.batch_size`); more are made in several calls, with the same seeds, so the same pictures."""
    total = len(request.prompts) * request.n
    generators = [seeds.generator(request.seed + k) for k in range(total)]
    height, width = extra.get("height"), extra.get("width")
    if height is None or width is None:  # img2img: the size of the (fitted) input image
        first = extra["image"][0] if isinstance(extra["image"], list) else extra["image"]
        width, height = first.size
    per_call = batch_size(runner, height, width, total)
    previous = runner.scheduler
    try:
        if request.scheduler is not None:
            set_scheduler(runner, request.scheduler)
        request.settings["scheduler"] = scheduler_name(runner)
        if per_call >= total:
            output = runner(prompt=request.prompts, negative_prompt=request.negatives,
                            num_inference_steps=request.steps, guidance_scale=request.guidance,
                            num_images_per_prompt=request.n, generator=generators, **extra)
            return list(output.images), _flagged(output)
        n, negatives, images, flagged = request.n, request.negatives, [], 0
        for start in range(0, total, per_call):
            ks = range(start, min(start + per_call, total))
            part = dict(extra)
            if isinstance(extra.get("image"), list):
                part["image"] = [extra["image"][k] for k in ks]
            output = runner(prompt=[request.prompts[k // n] for k in ks],
                            negative_prompt=[negatives[k // n] for k in ks] if negatives else None,
                            num_inference_steps=request.steps, guidance_scale=request.guidance,
                            generator=[generators[k] for k in ks], **part)
            images += output.images
            flagged += _flagged(output)
        return images, flagged
    finally:
        runner.scheduler = previous


def _label(pipe, request: _Request, images: list[Image.Image]) -> None:
    """Step 4: each picture's settings in its `info`, for `provenance.save_image`."""
    model = getattr(pipe, "course_model", None) or pipe.config.get("_name_or_path")
    n, negatives = request.n, request.negatives
    for k, picture in enumerate(images):
        picture.info[SETTINGS_KEY] = {
            "prompt": request.prompts[k // n],
            "negative_prompt": negatives[k // n] if negatives else None,
            "seed": request.seed + k,
            **request.settings,
            "height": picture.height,
            "width": picture.width,
            "model": model,
        }


def generate(
    pipe,
    prompt,
    negative_prompt=None,
    steps: int = 20,
    guidance: float = 7.5,
    seed: int = 0,
    n: int = 1,
    height: int | None = None,
    width: int | None = None,
    image=None,
    strength: float = 0.6,
    scheduler: str | None = None,
) -> list[Image.Image]:
    """Generate `n` images per prompt and return them as a list of PIL images.

    Image k uses its own CPU generator seeded with seed + k, so `generate(..., seed=seed + k, n=1)` redraws it
    alone. Pass `image` (a path or a PIL image, or a list with one per prompt) for image-to-image with
    `strength` (0 keeps the image, 1 ignores it); a text-to-image pipeline switches over without reloading.
    `scheduler` swaps the sampler for this call only. Each image carries its settings in
    `image.info["course_settings"]` (`provenance.SETTINGS_KEY`), which `provenance.save_image` writes into the PNG.
    """
    request = _check_request(pipe, prompt, negative_prompt, steps, guidance, seed, n, height, width, scheduler)
    if image is not None:
        runner, extra = _image_to_image(pipe, request, image, strength)
    else:
        runner, extra = _text_to_image(pipe, request)
    images, flagged = _run(runner, request, extra)
    if flagged:
        warnings.warn(f"the safety checker blacked out {flagged} of {len(images)} images", stacklevel=2)
    _label(pipe, request, images)
    return images


@delegates(generate, but=["n"])
def generate_each(pipe, prompts, *, seed: int = 0, batch_size: int = 32, **kwargs) -> list[Image.Image]:
    """One picture per prompt with `generate`, `batch_size` prompts at a time (a real Stable Diffusion on a
    GPU cannot take a hundred at once); picture k comes from seed ``seed + k``, as in one call. The other
    keyword arguments (steps, guidance, negative_prompt, ...) go to `generate` for every batch."""
    prompts = check_prompts(prompts)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number of at least 1, not {batch_size!r}")
    out = []
    for i in range(0, len(prompts), batch_size):
        out += generate(pipe, prompts[i:i + batch_size], seed=seed + i, **kwargs)
    return out
