"""How good the judge is: its per-attribute accuracy on held-out renders, clean, blurred and noisy.

    python -m course_utils.judge_report        # the table, on 1,000 renders per row
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from . import shapes
from .judge import ATTRIBUTES
from .scoring import accuracy

TEST_SEED = 20261123  # held out: the judge was never tuned on scenes from this seed


def blurred(image: Image.Image, radius: float = 1.0) -> Image.Image:
    """Gaussian blur (radius in pixels), the mild blur the judge is tested against."""
    return image.filter(ImageFilter.GaussianBlur(radius))


def noisy(image: Image.Image, sigma: float = 10 / 255, seed: int = 0) -> Image.Image:
    """Add Gaussian noise (sigma on the 0..1 scale), the mild noise the judge is tested against."""
    a = np.asarray(image.convert("RGB"), dtype=np.float32)
    a = a + np.random.default_rng(seed).normal(0, 255 * sigma, a.shape)
    return Image.fromarray(np.clip(a, 0, 255).round().astype(np.uint8))


def report(n: int = 1000, seed: int = TEST_SEED) -> dict:
    """Print (and return) the judge's per-attribute accuracy on held-out renders: clean, blurred, noisy."""
    sets = {}
    for style in shapes.STYLES:
        scene_list = shapes.scenes(n, seed + (style != "flat"), shapes=shapes.ALL_SHAPES, style=style)
        images = [shapes.render(s) for s in scene_list]
        sets[f"{style}, clean"] = accuracy(images, scene_list)
        sets[f"{style}, blur r=1px"] = accuracy([blurred(im) for im in images], scene_list)
        sets[f"{style}, noise 10/255"] = accuracy([noisy(im, seed=i) for i, im in enumerate(images)], scene_list)
        sets[f"{style}, blur 2px (stress)"] = accuracy([blurred(im, 2.0) for im in images], scene_list)
        sets[f"{style}, noise 20/255 (stress)"] = accuracy(
            [noisy(im, 20 / 255, seed=i) for i, im in enumerate(images)], scene_list)
    print(f"Judge accuracy on {n} held-out renders per row (seed {seed}; all shapes incl. {shapes.SUBJECT}):")
    print(f"{'set':<32}" + "".join(f"{k:>11}" for k in ATTRIBUTES + ("all",)))
    for name, acc in sets.items():
        print(f"{name:<32}" + "".join(f"{acc[k]:>11.3f}" for k in ATTRIBUTES + ("all",)))
    return sets


if __name__ == "__main__":
    report()
