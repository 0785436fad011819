"""Training pieces shared by the bundled model's script and the fine-tuning lessons.

- ``Checkpoint``: the course's one checkpoint format and resume mechanism, for ``course_utils.mini.train`` and
  ``course_utils.finetune`` alike: a folder ``step-NNNNNN`` per save (weights in safetensors, optimizer and
  the rest read back with ``weights_only=True``, the run's settings in config.json), written atomically, and
  a resume with other settings refused;
- ``atomic_write``: write a file or a folder so that a killed run never leaves a half-written one;
- ``noise_prediction_loss``: Stable Diffusion's objective, with optional min-SNR weighting;
- ``contrastive_step``: one step of CLIP's contrastive training on a batch of matching captions and images.

The rest comes from diffusers as it is: ``diffusers.training_utils.EMAModel`` for weight averages,
``diffusers.optimization.get_scheduler`` for learning-rate schedules.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .tokens import token_ids

STEP_DIR = "step-"  # a checkpoint is the folder step-000120 (its step) inside the run's folder


class OtherRunError(ValueError):
    """A checkpoint folder holds another run's checkpoint (saved with other settings)."""


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call ``write(tmp)`` to write a file or a folder at a temporary path beside ``path``, then rename it to
    ``path`` (replacing what was there): readers see the old version or the whole new one, never half of it."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    _remove(tmp)
    write(tmp)
    if tmp.is_dir():
        _remove(path)  # os.replace cannot put a folder over a folder that holds files
    os.replace(tmp, path)
    return path


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def noise_prediction_loss(pred: torch.Tensor, target: torch.Tensor, timesteps: torch.Tensor | None = None,
                          scheduler=None, min_snr_gamma: float | None = None,
                          sample_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error between the UNet's prediction and its target (the noise, or for a v-prediction
    model the velocity), as Stable Diffusion trains.

    With ``min_snr_gamma`` (e.g. 5), each sample is weighted as in min-SNR training (Hang et al., 2023), which
    stops the easy, low-noise timesteps from dominating: min(SNR, γ)/SNR for ε-prediction, min(SNR, γ)/(SNR + 1)
    for v-prediction (diffusers' train_text_to_image.py), read from ``scheduler.config.prediction_type``.
    ``sample_weights`` (one number per sample) scales each sample's loss before the mean, e.g. DreamBooth's
    prior-preservation weight on the class images.
    """
    from diffusers.training_utils import compute_snr

    per_sample = ((pred.float() - target.float()) ** 2).mean(dim=tuple(range(1, pred.ndim)))
    if sample_weights is not None:
        if sample_weights.shape != per_sample.shape:
            raise ValueError(f"sample_weights must have one weight per sample, shape {tuple(per_sample.shape)}, "
                             f"not {tuple(sample_weights.shape)}")
        per_sample = per_sample * sample_weights.to(per_sample.device, per_sample.dtype)
    if min_snr_gamma is None:
        return per_sample.mean()
    if timesteps is None or scheduler is None:
        raise ValueError("min_snr_gamma needs the timesteps and the noise scheduler: pass timesteps= and scheduler=")
    prediction_type = scheduler.config.get("prediction_type", "epsilon")
    if prediction_type not in ("epsilon", "v_prediction"):
        raise ValueError(f"min-SNR weighting is defined for 'epsilon' and 'v_prediction' models, not "
                         f"{prediction_type!r}: pass min_snr_gamma=None")
    snr = compute_snr(scheduler, timesteps)
    weight = torch.clamp(snr, max=min_snr_gamma) / (snr + 1 if prediction_type == "v_prediction" else snr)
    return (weight * per_sample).mean()


class Checkpoint:
    """The checkpoints of one run in a folder: ``<folder>/step-NNNNNN/`` holds ``<name>.safetensors`` for each
    model, ``state.pt`` for the optimizer, the learning-rate scheduler and the random generators, and
    ``config.json`` for the step and the run's settings. Only the newest is kept.

    >>> ckpt = Checkpoint("runs/my-run", config={"lr": 1e-4, "batch_size": 16})
    >>> step = ckpt.load(models={"unet": unet}, optimizer=opt)   # 0 when there is nothing to resume
    >>> ckpt.save(step, models={"unet": unet}, optimizer=opt)

    ``config`` is what makes two runs the same run (JSON values): a folder whose checkpoint was saved with other
    settings is refused, so a resume never mixes two runs. A model may be a ``torch.nn.Module`` or a diffusers
    ``EMAModel`` (its averaged weights are saved, and its step count). ``states`` take anything else with
    ``state_dict``/``load_state_dict`` (a gradient scaler, say).
    """

    def __init__(self, folder: str | os.PathLike, config: dict | None = None, every_seconds: float = 180.0):
        self.folder = Path(folder)
        self.config = json.loads(json.dumps(config or {}))  # as it reads back: tuples become lists
        self.every_seconds = every_seconds
        self._last = time.monotonic()

    def latest(self) -> Path | None:
        """The newest complete checkpoint (``step-000120``), or None when there is none."""
        done = sorted(p for p in self.folder.glob(f"{STEP_DIR}*") if p.is_dir() and (p / "config.json").is_file())
        return done[-1] if done else None

    def exists(self) -> bool:
        return self.latest() is not None

    def check(self) -> dict | None:
        """The newest checkpoint's config.json (None without one); ``OtherRunError`` (a ValueError) if it is
        another run's."""
        last = self.latest()
        if last is None:
            return None
        saved = json.loads((last / "config.json").read_text())
        if saved.get("config") != self.config:
            theirs, ours = saved.get("config") or {}, self.config
            diff = [f"{k}: {theirs.get(k)!r} there, {ours.get(k)!r} here" for k in sorted({*theirs, *ours})
                    if theirs.get(k) != ours.get(k)]
            raise OtherRunError(f"{self.folder} holds a checkpoint of another run ({'; '.join(diff)}): resume with "
                             "the same settings, or use a new folder (or delete that one) to start afresh")
        return saved

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.every_seconds

    def save(self, step: int, models: dict, optimizer=None, scheduler=None, states: dict | None = None) -> Path:
        """Write ``step-NNNNNN`` (through a temporary folder), then delete the older checkpoints."""
        def write(tmp: Path) -> None:
            tmp.mkdir(parents=True)
            state = {"step": step, "rng": _rng_state(), "models": {}}
            for name, model in models.items():
                tensors, rest = _weights(model)
                save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp / f"{name}.safetensors"))
                state["models"][name] = rest
            for name, obj in _states(optimizer, scheduler, states).items():
                state[name] = obj.state_dict()
            torch.save(state, tmp / "state.pt")
            # config.json is written last: a folder that has it is a complete checkpoint
            (tmp / "config.json").write_text(json.dumps({"step": step, "config": self.config}, indent=1) + "\n")

        self.folder.mkdir(parents=True, exist_ok=True)
        final = atomic_write(self.folder / f"{STEP_DIR}{step:06d}", write)
        for old in self.folder.glob(f"{STEP_DIR}*"):
            if old != final:
                _remove(old)  # keep only the newest (and any half-written .tmp of a killed save)
        self._last = time.monotonic()
        return final

    def load(self, models: dict, optimizer=None, scheduler=None, states: dict | None = None) -> int:
        """Restore the newest checkpoint and return its step (0 when there is none). Refuses another run's."""
        saved = self.check()
        if saved is None:
            return 0
        last = self.latest()
        state = torch.load(last / "state.pt", weights_only=True)
        for name, model in models.items():
            tensors = load_file(str(last / f"{name}.safetensors"))
            if _is_ema(model):
                rest = state["models"][name]
                model.load_state_dict({**rest, "shadow_params": [tensors[str(i)].to(p.device, p.dtype)
                                                                 for i, p in enumerate(model.shadow_params)]})
            else:
                model.load_state_dict(tensors)
        for name, obj in _states(optimizer, scheduler, states).items():
            if name in state:
                obj.load_state_dict(state[name])
        _set_rng_state(state["rng"])
        return int(saved["step"])


def _is_ema(model) -> bool:
    from diffusers.training_utils import EMAModel

    return isinstance(model, EMAModel)


def _weights(model) -> tuple[dict, dict]:
    """(tensors for the safetensors file, the rest for state.pt) of a module or an EMAModel."""
    if _is_ema(model):
        rest = {k: v for k, v in model.state_dict().items() if k != "shadow_params"}
        return {str(i): p for i, p in enumerate(model.shadow_params)}, rest
    return model.state_dict(), {}


def _states(optimizer, scheduler, states) -> dict:
    named = {"optimizer": optimizer, "scheduler": scheduler, **(states or {})}
    return {k: v for k, v in named.items() if v is not None}


def _rng_state() -> dict:
    # the generators a run may draw from, as accelerate's save_state keeps them (numpy's as plain lists, which
    # torch.load(weights_only=True) reads)
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(), "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
            "python": random.getstate()}


def _set_rng_state(rng: dict) -> None:
    torch.set_rng_state(rng["torch"])
    kind, keys, pos, has_gauss, cached = rng["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = rng["python"]
    random.setstate((version, tuple(internal), gauss))


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
    out = clip(input_ids=token_ids(tokenizer, texts, pixel_values.device), pixel_values=pixel_values,
               return_loss=True)
    optimizer.zero_grad(set_to_none=True)
    out.loss.backward()
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(clip.parameters(), max_grad_norm)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    return out
