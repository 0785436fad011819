"""The handwritten digits of lessons 01-02: scikit-learn's bundled 8x8 digits (1,797 of them; they ship inside
scikit-learn, so nothing is downloaded), as float tensors in [0, 1].

    from course_utils.digits import load_digits, DigitsDataset
    images, labels = load_digits(size=16, split="train")     # (1438, 1, 16, 16) and (1438,)
    loader = torch.utils.data.DataLoader(DigitsDataset(size=16), batch_size=64, shuffle=True)

The classifier that tells a digit from noise is `digit_classifier`'s.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

SIZES = (8, 16, 32)
SPLITS = ("train", "test", "all")
TEST_FRACTION = 0.2


class Digits(NamedTuple):
    images: torch.Tensor  # (N, 1, size, size) float32 in [0, 1], ink is 1
    labels: torch.Tensor  # (N,) int64, the digit 0-9


@lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits as sklearn_digits

    data = sklearn_digits()
    return data.images.astype(np.float32) / 16.0, data.target.astype(np.int64)  # pixels are counts 0-16


def _split_indices(labels: np.ndarray, split: str, seed: int) -> np.ndarray:
    """A deterministic, stratified 80/20 split: every digit keeps its share in both halves."""
    if split == "all":
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    test = []
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        test.append(rng.permutation(members)[: round(len(members) * TEST_FRACTION)])
    in_test = np.zeros(len(labels), dtype=bool)
    in_test[np.concatenate(test)] = True
    return np.flatnonzero(in_test if split == "test" else ~in_test)


def check_digits(size, split, seed) -> None:
    """ValueError unless size, split and seed are ones `load_digits` takes."""
    if size not in SIZES or isinstance(size, bool):
        raise ValueError(f"size must be one of {SIZES} pixels per side, not {size!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' (80%), 'test' (20%) or 'all', not {split!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0 such as 0, not {seed!r}")


def load_digits(size: int = 8, split: str = "train", seed: int = 0) -> Digits:
    """The digits as (images, labels): images (N, 1, size, size) float32 in [0, 1], labels (N,) int64.

    size 8 is the original; 16 and 32 are bilinear upsamplings, smoother but with no more detail.
    `split` picks the training 80%, the test 20% or all 1,797 digits; `seed` fixes which digits are which,
    the same on every machine.
    """
    check_digits(size, split, seed)
    pixels, labels = _raw()
    idx = _split_indices(labels, split, seed)
    images = torch.from_numpy(pixels[idx]).unsqueeze(1)
    if size != 8:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False).clamp_(0, 1)
    return Digits(images.contiguous(), torch.from_numpy(labels[idx]))


class DigitsDataset(Dataset):
    """The digits as a torch Dataset of (image, label) pairs, for a DataLoader."""

    def __init__(self, size: int = 8, split: str = "train", seed: int = 0):
        self.images, self.labels = load_digits(size=size, split=split, seed=seed)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]
