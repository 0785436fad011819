"""Scores over many pictures: how often they show what their prompts ask (`adherence`), what their true scenes
are (`accuracy`), and how close they are pixel by pixel to originals (`psnr`).

    from course_utils.scoring import adherence, accuracy, psnr
    adherence(images, prompts)   # {'shape': 0.82, 'colour': 0.99, ..., 'all': 0.80, 'n': 100}
    accuracy(images, scenes)     # the judge's verdicts against the scenes the pictures were rendered from
    psnr(reconstructions, originals)   # dB, tensors in [-1, 1]
"""

from __future__ import annotations

import numpy as np
import torch

from . import shapes
from .judge import ATTRIBUTES, judge_many, wanted_attributes


def adherence(images, prompts) -> dict:
    """Prompt adherence: for each attribute the prompts name, the fraction of images that show it.

    ``"all"`` is the fraction right on everything their prompt names (prompts naming nothing are left
    out of it); ``"n"`` is the number of images. Attributes no prompt names are absent from the dict.
    """
    prompts = [prompts] * len(images) if isinstance(prompts, str) else list(prompts)
    if len(prompts) != len(images):
        raise ValueError(f"got {len(images)} images but {len(prompts)} prompts: pass one prompt per image "
                         "(or a single string for all)")
    right = {k: [] for k in ATTRIBUTES + ("all",)}
    for verdict, prompt in zip(judge_many(images), prompts, strict=True):
        named = wanted_attributes(shapes.scene_from_caption(prompt))
        for k, v in named.items():
            right[k].append(getattr(verdict, k) == v)
        if named:
            right["all"].append(all(getattr(verdict, k) == v for k, v in named.items()))
    out = {k: float(np.mean(v)) for k, v in right.items() if v}
    out["n"] = len(prompts)
    return out


def accuracy(images, scenes) -> dict:
    """Fraction of images whose verdict is right on each attribute of their true ``shapes.Scene``, and on
    all five together ("all"). The ceiling a model can reach: judge its VAE round-trips with this."""
    scenes = list(scenes)
    if len(scenes) != len(images):
        raise ValueError(f"got {len(images)} images but {len(scenes)} scenes: pass one scene per image")
    verdicts = judge_many(images)
    right = np.array([[getattr(v, k) == getattr(s, k) for k in ATTRIBUTES] for v, s in zip(verdicts, scenes,
                                                                                          strict=True)])
    out = {k: float(right[:, i].mean()) for i, k in enumerate(ATTRIBUTES)}
    out["all"] = float(right.all(1).mean())
    return out


def psnr(images: torch.Tensor, originals: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB between two image tensors in [-1, 1] (one image or a batch, the
    same shape), measured on the 0..1 scale: 10·log10(1 / MSE), the MSE taken over every pixel of the
    batch. Each +10 dB is a tenfold smaller squared error; identical images give ``inf``.

    Pixel-level only: pair it with ``accuracy`` to see whether the shapes themselves survive."""
    if not isinstance(images, torch.Tensor) or not isinstance(originals, torch.Tensor):
        raise TypeError("psnr takes two tensors in [-1, 1]: images.to_tensor gives one from a PIL image")
    if images.shape != originals.shape:
        raise ValueError(f"shapes differ: {tuple(images.shape)} vs {tuple(originals.shape)}: compare a batch with its own originals")
    diff = (images.detach().float().cpu().clamp(-1, 1) - originals.detach().float().cpu().clamp(-1, 1)) / 2
    mse = float((diff**2).mean())
    return float("inf") if mse == 0 else 10 * float(np.log10(1 / mse))
