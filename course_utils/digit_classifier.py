"""A small classifier that says whether an image is a handwritten digit at all, and which one: lesson 01 climbs
its P(digit) by gradient ascent, lesson 02 uses it to judge the digits a diffusion model draws.

    from course_utils.digit_classifier import train_classifier, p_digit, predict
    model = train_classifier(size=8, seed=0)     # about half a minute on a CPU
    p_digit(model, images)                       # P(digit) per image, for 8, 16 or 32 px images
    predict(model, images)                       # (which digit, how sure)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .digits import check_digits, load_digits

NOT_A_DIGIT = 10  # the classifier's eleventh class
NOISE_KINDS = ("uniform", "gaussian", "shuffled", "blobs", "specks", "drowned digit")


class DigitClassifier(nn.Module):
    """A small convolutional network that reads (N, 1, size, size) images in [0, 1] and returns 11 logits:
    one for each digit 0-9 and one, class 10 (NOT_A_DIGIT), for "not a digit"."""

    def __init__(self, size: int = 8, width: int = 32):
        super().__init__()
        check_digits(size, "all", 0)
        self.size = size
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1, stride=2),
            nn.SiLU(),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1),
            nn.SiLU(),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(2 * width * (size // 2) ** 2, 128), nn.SiLU(), nn.Linear(128, 11)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def not_digits(n: int, size: int = 8, seed: int = 0) -> torch.Tensor:
    """`n` images (n, 1, size, size) in [0, 1] that are *not* digits, the kinds of NOISE_KINDS in turn:
    uniform noise, Gaussian noise around grey, a digit's pixels shuffled (the same ink, no shape), smooth
    blobs, scattered specks, and a digit drowned in 70-100% noise."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a whole number >= 0, not {n!r}")
    check_digits(size, "all", seed)
    g = torch.Generator().manual_seed(seed)
    digits = load_digits(size=size, split="train").images
    kinds = torch.arange(n) % len(NOISE_KINDS)
    out = torch.empty(n, 1, size, size)
    for kind in range(len(NOISE_KINDS)):
        idx = (kinds == kind).nonzero().flatten()
        k = len(idx)
        some_digits = digits[torch.randint(len(digits), (k,), generator=g)]
        noise = torch.rand(k, 1, size, size, generator=g)
        amount = torch.rand(k, 1, 1, 1, generator=g)  # how strong, drawn per image
        if kind == 0:
            x = noise
        elif kind == 1:
            x = 0.5 + 0.6 * amount * torch.randn(k, 1, size, size, generator=g)
        elif kind == 2:
            order = torch.argsort(noise.flatten(1), dim=1)
            x = torch.gather(some_digits.flatten(1), 1, order).view(k, 1, size, size)
        elif kind == 3:
            coarse = torch.rand(k, 1, 3, 3, generator=g)
            x = 2 * F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False) - 0.6
        elif kind == 4:
            x = (noise < 0.1 + 0.3 * amount).float()
        else:
            a = 0.7 + 0.3 * amount
            x = (1 - a) * some_digits + a * torch.rand(k, 1, size, size, generator=g)
        out[idx] = x.clamp(0, 1)
    return out


def climb(model: DigitClassifier, images: torch.Tensor, steps: int, step_size: float = 0.3) -> torch.Tensor:
    """Gradient ascent on P(digit): `steps` times, move every image `step_size` along the gradient of
    log P(digit) (the same direction as P's own gradient, but it does not vanish when P is tiny), scaled to
    length `step_size`, and keep the pixels in [0, 1]. Returns new images; the model is left unchanged."""
    x = images.detach().clone()
    for _ in range(steps):
        x.requires_grad_(True)
        (grad,) = torch.autograd.grad(log_p_digit(model, x).sum(), x)
        length = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        x = (x.detach() + step_size * grad / length).clamp(0, 1)
    return x.detach()


def train_classifier(size: int = 8, epochs: int = 20, seed: int = 0, batch_size: int = 64, lr: float = 2e-3,
                     hard: int = 256, verbose: bool = False) -> DigitClassifier:
    """Train a DigitClassifier: the training digits are classes 0-9; as many images that are not digits are
    class 10. A few seconds to a minute on a CPU; the same `seed` gives the same model.

    The digits are roughened with up to 25% noise, so that a slightly noisy digit still counts as one. The
    non-digits are fresh `not_digits` every epoch, plus, from the third epoch on, *hard* ones: `hard` images
    made each epoch by climbing the model's own P(digit) from non-digits (`climb`, 20 steps). Without them
    gradient ascent finds stripes and patterns that the model wrongly calls digits; with them, what it calls
    a digit has to look like one. The model is returned in eval mode with its weights frozen.
    """
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, not {value!r}")
    if isinstance(hard, bool) or not isinstance(hard, int) or hard < 0:
        raise ValueError(f"hard must be a whole number >= 0, not {hard!r}")
    check_digits(size, "train", seed)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = DigitClassifier(size)
    digits, labels = load_digits(size=size, split="train")
    n = len(labels)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    hard_pool = torch.empty(0, 1, size, size)  # the latest hard negatives, at most half of the non-digits
    for epoch in range(epochs):
        if hard and epoch >= 2:
            start = not_digits(hard, size, seed=seed * 1000 + 500 + epoch)
            hard_pool = torch.cat([hard_pool, climb(model.eval(), start, steps=20, step_size=0.5)])[-(n // 2):]
        junk = torch.cat([not_digits(n - len(hard_pool), size, seed=seed * 1000 + epoch), hard_pool])
        rough = 0.25 * torch.rand(n, 1, 1, 1, generator=g)  # how much noise each digit gets, 0-25%
        rough_digits = (1 - rough) * digits + rough * torch.rand(digits.shape, generator=g)
        images = torch.cat([rough_digits, junk])
        targets = torch.cat([labels, torch.full((n,), NOT_A_DIGIT)])
        model.train()
        total = 0.0
        for batch in torch.randperm(2 * n, generator=g).split(batch_size):
            loss = F.cross_entropy(model(images[batch]), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        if verbose:
            print(f"epoch {epoch + 1:2d}/{epochs}: loss {total / (2 * n):.3f}")
    return model.eval().requires_grad_(False)


def _fit(model: DigitClassifier, images: torch.Tensor) -> torch.Tensor:
    """`images` as (N, 1, model.size, model.size): an (H, W) image or (N, H, W) images gain their missing
    axes, and other sizes are resized (blocks of pixels averaged when shrinking: 16 -> 8 undoes load_digits'
    upsampling)."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch tensor, not {type(images).__name__}")
    if images.ndim == 2:
        images = images[None, None]
    elif images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"expected grey images shaped (N, 1, H, W), not {tuple(images.shape)}")
    if images.shape[-2:] != (model.size, model.size):
        images = F.interpolate(images.float(), size=(model.size, model.size), mode="area")
    return images


def log_p_digit(model: DigitClassifier, images: torch.Tensor) -> torch.Tensor:
    """log P(digit) for each image, computed without rounding: for noise P(digit) can be 1e-30, which
    1 - P(not a digit) would round to exactly 0, with a gradient of exactly 0."""
    logits = model(_fit(model, images))
    return torch.logsumexp(logits[:, :NOT_A_DIGIT], dim=1) - torch.logsumexp(logits, dim=1)


def p_digit(model: DigitClassifier, images: torch.Tensor) -> torch.Tensor:
    """P(this image is a digit) = 1 - P(not a digit), one number per image, for images in [0, 1] of any of
    the sizes 8, 16, 32. Gradients flow through it (lesson 01 climbs it); wrap the call in torch.no_grad()
    when you only measure."""
    return log_p_digit(model, images).exp()


def predict(model: DigitClassifier, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(which digit, how sure): for each image the most likely of the ten digits, and its probability among
    the ten (the "not a digit" class left out)."""
    with torch.no_grad():
        probs = F.softmax(model(_fit(model, images))[:, :NOT_A_DIGIT], dim=1)
    confidence, digit = probs.max(dim=1)
    return digit, confidence
