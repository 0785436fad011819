"""Argument checks for `generation.generate` and friends, with messages a learner can act on.

Each check returns the cleaned value or raises TypeError (wrong kind of value) or ValueError (right kind,
wrong value), and the message says what to write instead. They need no model, so they are cheap to test.
"""

from __future__ import annotations

import math
from numbers import Real

MAX_SEED = 2**32 - 1  # numpy's seeds stop here, so ours do too
EXAMPLE_PROMPT = "a large red circle on a blue background"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_prompts(prompt) -> list[str]:
    """A prompt string, or a list of them, as a non-empty list of non-empty strings."""
    if isinstance(prompt, str):
        prompts = [prompt]
    elif isinstance(prompt, (list, tuple)) and prompt:
        prompts = list(prompt)
    elif isinstance(prompt, (list, tuple)):
        raise ValueError(f"no prompts in the list: give at least one, e.g. [{EXAMPLE_PROMPT!r}]")
    else:
        raise TypeError(
            f"prompt must be text (a string) or a list of strings, not {type(prompt).__name__} {prompt!r}: "
            f"write e.g. prompt={EXAMPLE_PROMPT!r}"
        )
    for i, text in enumerate(prompts):
        where = "the prompt" if len(prompts) == 1 else f"prompt number {i} in the list"
        if not isinstance(text, str):
            raise TypeError(f"{where} must be a string, not {type(text).__name__} {text!r}: put it in quotes")
        if not text.strip():
            raise ValueError(
                f"{where} is empty: describe the picture, e.g. {EXAMPLE_PROMPT!r}. (To sample with no prompt "
                "at all, as the unconditional half of guidance does, call the pipeline directly: pipe(prompt='').)"
            )
    return prompts


def check_negative(negative_prompt, n_prompts: int) -> list[str] | None:
    """None, one string for every prompt, or a list with one string per prompt."""
    if negative_prompt is None:
        return None
    if isinstance(negative_prompt, str):
        return [negative_prompt] * n_prompts
    if isinstance(negative_prompt, (list, tuple)):
        negatives = list(negative_prompt)
        if len(negatives) != n_prompts:
            raise ValueError(
                f"there are {len(negatives)} negative prompts for {n_prompts} prompt(s): give one negative "
                "prompt per prompt, or a single string that applies to all of them"
            )
        for i, text in enumerate(negatives):
            if not isinstance(text, str):
                raise TypeError(
                    f"negative prompt number {i} must be a string, not {type(text).__name__} {text!r}: "
                    "use '' for 'no negative prompt'"
                )
        return negatives
    raise TypeError(
        f"negative_prompt must be a string, a list of strings or None, not {type(negative_prompt).__name__}: "
        "write e.g. negative_prompt='red'"
    )


def check_steps(steps) -> int:
    """Number of denoising steps: a whole number >= 1."""
    if not _is_int(steps):
        raise TypeError(f"steps must be a whole number such as 20, not {type(steps).__name__} {steps!r}")
    if steps < 1:
        raise ValueError(f"steps={steps} is too few: the sampler needs at least 1 step; 20 to 30 is typical")
    return steps


def check_guidance(guidance) -> float:
    """Classifier-free guidance scale: a finite number >= 0 (1 means no guidance)."""
    if isinstance(guidance, bool) or not isinstance(guidance, Real):
        raise TypeError(f"guidance must be a number such as 7.5, not {type(guidance).__name__} {guidance!r}")
    guidance = float(guidance)
    if not math.isfinite(guidance):
        raise ValueError(f"guidance={guidance} is not a finite number: use a value such as 7.5")
    if guidance < 0:
        raise ValueError(
            f"guidance={guidance} is negative: use 0 or more (1 turns guidance off; 3 to 8 is typical)"
        )
    return guidance


def check_count(n) -> int:
    """Images per prompt: a whole number >= 1."""
    if not _is_int(n):
        raise TypeError(
            f"n (images per prompt) must be a whole number such as 4, not {type(n).__name__} {n!r}"
        )
    if n < 1:
        raise ValueError(f"n={n}: ask for at least one image per prompt")
    return n


def check_seed(seed) -> int:
    """One seed: a whole number from 0 to MAX_SEED."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be a whole number such as 0 or 42, not {type(seed).__name__} {seed!r}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(
            f"seed must be between 0 and {MAX_SEED} (2**32 - 1), not {seed}: pick a number in that range, such as 0"
        )
    return seed


def check_seed_range(seed, count: int) -> int:
    """A seed for `count` images, which use seed, seed+1, ..., seed+count-1."""
    if not _is_int(seed):
        raise TypeError(f"seed must be a whole number such as 0 or 42, not {type(seed).__name__} {seed!r}")
    if seed < 0 or seed + count - 1 > MAX_SEED:
        raise ValueError(
            f"seed={seed} with {count} image(s) needs seeds up to {seed + count - 1}, but seeds run from 0 to "
            f"{MAX_SEED}: pick a smaller seed such as 0"
        )
    return seed


def check_side(name: str, value, multiple: int = 8) -> int:
    """An image height or width in pixels: a whole multiple of `multiple` (the VAE's factor)."""
    if not _is_int(value):
        raise TypeError(
            f"{name} must be a whole number of pixels such as 512, not {type(value).__name__} {value!r}"
        )
    if value < multiple or value % multiple:
        nearest = max(multiple, multiple * round(value / multiple))
        raise ValueError(
            f"{name}={value} is not a multiple of {multiple}: the VAE shrinks images by a factor of {multiple} "
            f"per side, so use {name}={nearest} instead"
        )
    return value


def check_strength(strength, steps: int) -> float:
    """img2img strength in [0, 1] that leaves at least one denoising step."""
    if isinstance(strength, bool) or not isinstance(strength, Real):
        raise TypeError(
            f"strength must be a number between 0 and 1 such as 0.6, not {type(strength).__name__}"
        )
    strength = float(strength)
    if not 0.0 <= strength <= 1.0:
        raise ValueError(
            f"strength={strength} is outside 0..1: 0 keeps your image, 1 ignores it; try 0.5 to 0.8"
        )
    if int(steps * strength) < 1:
        raise ValueError(
            f"strength={strength} with steps={steps} leaves no denoising step (img2img runs "
            f"int(steps * strength) = {int(steps * strength)} steps): raise strength to at least "
            f"{math.ceil(100 / steps) / 100:.2f} or use more steps"
        )
    return strength


def check_choice(name: str, value, choices) -> str:
    """A name from `choices` (case-insensitive), or ValueError listing them."""
    listed = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {listed}, not {type(value).__name__} {value!r}")
    key = value.strip().lower()
    if key not in choices:
        raise ValueError(f"unknown {name} {value!r}: use one of {listed}")
    return key
