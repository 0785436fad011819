"""Training pieces shared by the bundled model's script and the fine-tuning lessons.

- ``Checkpoint``: save and resume a run (model weights as safetensors, optimizer state loaded with
  ``weights_only=True``), written atomically so a killed run never leaves a half-written file;
- ``noise_prediction_loss``: Stable Diffusion's objective, with optional min-SNR weighting;
- ``EMA``: an exponential moving average of a model's weights;
- ``lr_lambda``: linear warm-up, then cosine decay to a floor;
- ``contrastive_step``: one step of CLIP's contrastive training on a batch of matching captions and images.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def lr_lambda(warmup: int, total: int, floor: float = 0.1):
    """A multiplier for ``torch.optim.lr_scheduler.LambdaLR``: warm up linearly, then cosine down to ``floor``."""
    if warmup < 0 or total < 1 or not 0 <= floor <= 1:
        raise ValueError("Need warmup >= 0, total >= 1 and 0 <= floor <= 1.")

    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


class EMA:
    """Exponential moving average of a model's parameters (kept on the CPU, in fp32)."""

    def __init__(self, model: torch.nn.Module, decay: float = 0.999):
        if not 0 < decay < 1:
            raise ValueError(f"decay must be between 0 and 1, got {decay}.")
        self.decay = decay
        self.shadow = {k: v.detach().float().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int | None = None) -> None:
        # A warm-up on the decay so early averages are not dominated by the random initialisation.
        d = self.decay if step is None else min(self.decay, (1 + step) / (10 + step))
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                self.shadow[k].mul_(d).add_(v.detach().float(), alpha=1 - d)
            else:
                self.shadow[k].copy_(v)

    def copy_to(self, model: torch.nn.Module) -> None:
        model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in self.shadow.items()})


def noise_prediction_loss(pred: torch.Tensor, target: torch.Tensor, timesteps: torch.Tensor | None = None,
                          scheduler=None, min_snr_gamma: float | None = None,
                          sample_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error between predicted and true noise, as Stable Diffusion trains.

    With ``min_snr_gamma`` (e.g. 5), each sample is weighted by min(SNR, γ)/SNR, which stops the easy,
    low-noise timesteps from dominating and speeds up training (Hang et al., 2023).
    ``sample_weights`` (one number per sample) scales each sample's loss before the mean, e.g. DreamBooth's
    prior-preservation weight on the class images.
    """
    per_sample = ((pred.float() - target.float()) ** 2).mean(dim=tuple(range(1, pred.ndim)))
    if sample_weights is not None:
        if sample_weights.shape != per_sample.shape:
            raise ValueError(f"sample_weights must have one weight per sample, shape {tuple(per_sample.shape)}, "
                             f"not {tuple(sample_weights.shape)}")
        per_sample = per_sample * sample_weights.to(per_sample.device, per_sample.dtype)
    if min_snr_gamma is None:
        return per_sample.mean()
    if timesteps is None or scheduler is None:
        raise ValueError("min_snr_gamma needs the timesteps and the noise scheduler.")
    alphas = scheduler.alphas_cumprod.to(timesteps.device)[timesteps].float()
    snr = alphas / (1 - alphas)
    weight = torch.clamp(snr, max=min_snr_gamma) / snr
    return (weight * per_sample).mean()


class Checkpoint:
    """A resumable checkpoint in a folder: ``<name>.safetensors`` for each model, ``state.pt`` for the rest.

    >>> ckpt = Checkpoint("runs/my-run")
    >>> step = ckpt.load(models={"unet": unet}, optimizer=opt)   # 0 when there is nothing to resume
    >>> ckpt.save(step, models={"unet": unet}, optimizer=opt)
    """

    def __init__(self, folder: str | os.PathLike, every_seconds: float = 180.0):
        self.folder = Path(folder)
        self.every_seconds = every_seconds
        self._last = time.monotonic()

    def exists(self) -> bool:
        return (self.folder / "state.pt").exists()

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.every_seconds

    def save(self, step: int, models: dict, optimizer=None, scheduler=None, extra: dict | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, model in models.items():
            tensors = model.shadow if isinstance(model, EMA) else model.state_dict()
            tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
            _atomic(self.folder / f"{name}.safetensors", lambda p, t=tensors: save_file(t, str(p)))
        state = {"step": step, "extra": json.dumps(extra or {})}
        if optimizer is not None:
            state["optimizer"] = optimizer.state_dict()
        if scheduler is not None:
            state["scheduler"] = scheduler.state_dict()
        state["torch_rng"] = torch.get_rng_state()
        # state.pt is written last: its presence means the whole checkpoint is complete.
        _atomic(self.folder / "state.pt", lambda p: torch.save(state, p))
        self._last = time.monotonic()

    def load(self, models: dict, optimizer=None, scheduler=None) -> int:
        """Restore what was saved and return the step to resume from (0 when there is no checkpoint)."""
        if not self.exists():
            return 0
        state = torch.load(self.folder / "state.pt", weights_only=True)
        for name, model in models.items():
            tensors = load_file(str(self.folder / f"{name}.safetensors"))
            if isinstance(model, EMA):
                model.shadow = {k: v.float() for k, v in tensors.items()}
            else:
                model.load_state_dict(tensors)
        if optimizer is not None and "optimizer" in state:
            optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and "scheduler" in state:
            scheduler.load_state_dict(state["scheduler"])
        if "torch_rng" in state:
            torch.set_rng_state(state["torch_rng"])
        self.extra = json.loads(state.get("extra", "{}"))
        return int(state["step"])


def contrastive_step(clip, tokenizer, texts, pixel_values: torch.Tensor, optimizer, scheduler=None,
                     max_grad_norm: float | None = 1.0):
    """One step of CLIP's contrastive training: ``texts[i]`` describes ``pixel_values[i]``, and every other
    caption in the batch is a wrong answer for image i (and every other image one for caption i).

    ``clip`` is a transformers ``CLIPModel``; ``pixel_values`` a (B, 3, H, W) batch of images as the model
    takes them (the bundled model's: [-1, 1]). The captions are padded to ``tokenizer.model_max_length``. The
    loss is CLIP's: the cross-entropy of the (B, B) similarity matrix read by rows and by columns, averaged
    (``CLIPModel(..., return_loss=True)``). Gradients are clipped to ``max_grad_norm`` (None: not clipped),
    then the optimizer and, if given, the learning-rate scheduler step.

    Returns the model's output, for logging: ``.loss``, and ``.logits_per_image`` (B, B), whose diagonal
    holds the matching pairs. Used by ``course_utils.mini.train`` (stage "clip") and lesson 05.
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a list of captions, one per image, not a single string")
    texts = list(texts)
    if len(texts) != len(pixel_values):
        raise ValueError(f"{len(texts)} captions for {len(pixel_values)} images: give one caption per image")
    if len(texts) < 2:
        raise ValueError("a contrastive batch needs at least 2 pairs: the other pairs are the wrong answers")
    ids = tokenizer(texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids.to(pixel_values.device)
    out = clip(input_ids=ids, pixel_values=pixel_values, return_loss=True)
    optimizer.zero_grad(set_to_none=True)
    out.loss.backward()
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(clip.parameters(), max_grad_norm)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    return out


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)
