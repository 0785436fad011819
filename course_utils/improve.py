"""Improve a picture: a second, gentle image-to-image pass over a draft, and enlarging it to show it bigger.

    from course_utils.improve import improve, enlarge
    drafts = generate(pipe, prompts, seed=0)
    better = improve(pipe, drafts)                       # img2img at strength 0.5, guidance 3, the model's size
    big = improve(pipe, drafts, upscale=2)               # the same pass, then enlarged 2× with a Lanczos filter
    hires = improve(pipe, drafts, strength=0.15, upscale=2, hires=True)  # "hires fix": enlarge, then the pass

"Upscale" can mean two different things, and for a model trained at one size they do not do the same:

- ``hires=False`` (the default): the pass runs at the model's own size, and the result is enlarged with a
  filter (Lanczos) for showing. Nothing new is drawn by the enlargement; nothing breaks either.
- ``hires=True``: Stable Diffusion's "hires fix". The draft is enlarged first and the pass runs at the larger
  size, so the model redraws the edges with more pixels. It works for a model that has seen pictures of
  that size. Lesson 07 measured it on the bundled mini model, which only ever saw 64×64: at 128×128 the
  pictures got *worse* (fewer right, shapes with dents and extra bumps), so it is off by default.

Each result carries the draft's settings (``image.info["course_settings"]``, as ``generate`` left them) plus an
``"improve"`` entry with the pass's own (strength, guidance, steps, seed, negative_prompt, upscale, hires and
the final size), so a saved or rated picture says exactly how it was made.
"""

from __future__ import annotations

from numbers import Real

from PIL import Image

from .checks import check_guidance, check_prompts, check_seed_range, check_steps, check_strength
from .images import to_pil
from .provenance import SETTINGS_KEY

__all__ = ["DEFAULTS", "enlarge", "improve"]

# Lesson 07's pass: strength 0.5 keeps the layout and redraws the details; guidance 3 is the mini model's
# sweet spot (lesson 06). Measured in lesson 07 (v0.2 model, 48 prompts): right on everything 0.33 -> 0.50.
DEFAULTS = {"strength": 0.5, "guidance": 3.0, "steps": 20}
MAX_UPSCALE = 8


def _factor(upscale) -> float:
    if isinstance(upscale, bool) or not isinstance(upscale, Real):
        raise TypeError(f"upscale must be a number such as 2 (times the picture's size), not {upscale!r}")
    upscale = float(upscale)
    if not 1.0 <= upscale <= MAX_UPSCALE:
        raise ValueError(f"upscale={upscale:g} is outside 1..{MAX_UPSCALE}: 1 keeps the size, 2 doubles each side")
    return upscale


def _images(images) -> list[Image.Image]:
    items = list(images) if isinstance(images, (list, tuple)) else [images]
    if not items:
        raise ValueError("no images to improve: the list is empty")
    return [to_pil(im) for im in items]


def _enlarged_size(image: Image.Image, factor: float, multiple: int = 8) -> tuple[int, int]:
    """The image's size times ``factor``, each side rounded to a multiple of ``multiple`` (the VAE's)."""
    return tuple(max(multiple, multiple * round(side * factor / multiple)) for side in image.size)


def enlarge(images, factor: float = 2) -> list[Image.Image]:
    """Each image enlarged ``factor`` times per side (rounded to a multiple of 8 pixels) with a Lanczos filter,
    its settings kept. For showing a small picture bigger; no model runs."""
    factor = _factor(factor)
    out = []
    for image in _images(images):
        size = _enlarged_size(image, factor)
        big = image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)
        big = big.copy() if big is image else big
        if SETTINGS_KEY in image.info:
            big.info[SETTINGS_KEY] = dict(image.info[SETTINGS_KEY])
        out.append(big)
    return out


def _prompts_of(images: list[Image.Image], prompts) -> list[str]:
    if prompts is None:
        found = [im.info.get(SETTINGS_KEY, {}).get("prompt") for im in images]
        missing = [k for k, p in enumerate(found) if not isinstance(p, str)]
        if missing:
            raise ValueError(
                f"image {missing[0]} carries no prompt in its settings (it was not made by generate): "
                "pass prompts=... (one per image, or one for all)"
            )
        prompts = found
    prompts = check_prompts(prompts)
    if len(prompts) == 1:
        prompts = prompts * len(images)
    if len(prompts) != len(images):
        raise ValueError(f"{len(images)} images but {len(prompts)} prompts: give one prompt per image, or one for all")
    return prompts


def improve(pipe, images, prompts=None, strength: float = DEFAULTS["strength"],
            guidance: float = DEFAULTS["guidance"], steps: int = DEFAULTS["steps"], seed: int = 0,
            negative_prompt=None, upscale: float = 1, hires: bool = False) -> list[Image.Image]:
    """A second, gentle img2img pass over each of ``images`` (a PIL image, or a list), with its prompt.

    prompts: one per image, or one for all; None takes each image's own prompt from the settings ``generate``
        attached to it (and then its negative prompt too, unless ``negative_prompt`` is given).
    strength, guidance, steps: the pass's (low strength keeps the layout and redraws the details).
    seed: image k's pass uses seed + k, as ``generate`` does, so the same call gives the same pictures.
    upscale: enlarge each side this many times (1 to 8; sides are rounded to multiples of 8 pixels).
    hires: False runs the pass at the draft's size and then enlarges it (Lanczos); True enlarges first and runs
        the pass at the larger size (Stable Diffusion's "hires fix"; see the module's notes for the mini model).
    Returns new PIL images, with the draft's settings and an "improve" entry describing the pass.
    """
    from .generation import generate

    drafts = _images(images)
    prompts = _prompts_of(drafts, prompts)
    steps = check_steps(steps)
    strength, guidance = check_strength(strength, steps), check_guidance(guidance)
    seed = check_seed_range(seed, len(drafts))
    factor = _factor(upscale)
    if not isinstance(hires, bool):
        raise TypeError(f"hires must be True or False, not {hires!r}")
    if negative_prompt is None and all(SETTINGS_KEY in im.info for im in drafts):
        negatives = [im.info[SETTINGS_KEY].get("negative_prompt") or "" for im in drafts]
        negative_prompt = negatives if any(negatives) else None
    starts = enlarge(drafts, factor) if hires and factor > 1 else drafts
    sizes = {im.size for im in starts}
    if len(sizes) > 1:
        raise ValueError(f"the images differ in size ({sorted(sizes)}): improve pictures of one size at a time")
    width, height = sizes.pop()
    size = {"height": height, "width": width} if hires else {}  # else generate fits them to the model's size
    passed = generate(pipe, prompts, negative_prompt=negative_prompt, image=starts, strength=strength,
                      guidance=guidance, steps=steps, seed=seed, **size)
    results = enlarge(passed, factor) if factor > 1 and not hires else passed
    out = []
    for k, (draft, result) in enumerate(zip(drafts, results, strict=True)):
        negative = negative_prompt[k] if isinstance(negative_prompt, list) else negative_prompt
        settings = dict(draft.info.get(SETTINGS_KEY) or {"prompt": prompts[k]})
        settings["improve"] = {
            "prompt": prompts[k], "negative_prompt": negative or None, "strength": strength,
            "guidance": guidance, "steps": steps, "seed": seed + k, "upscale": factor, "hires": hires,
            "height": result.height, "width": result.width,
        }
        result.info[SETTINGS_KEY] = settings
        out.append(result)
    return out
