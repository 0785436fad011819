"""Fine-tune a Stable Diffusion pipeline on (image, caption) pairs: the loop lessons 08–12 share.

    from course_utils.captions import caption_images
    from course_utils.finetune import finetune
    captions = caption_images(images, style="outlined")          # zero-shot, with the course's CLIP
    run = finetune(pipe, list(zip(images, captions)), train="unet", steps=300, folder="outputs/run")
    plot(run.steps, run.losses)

``finetune`` is built on accelerate's ``Accelerator``, so the same call runs on one CPU, one GPU, or several
processes started by ``accelerate launch``: each process computes its share of every batch and the
gradients are averaged across processes before each step. Checkpoints are the course's one format
(``course_utils.training.Checkpoint``: weights in safetensors, the rest read back with ``weights_only=True``,
the run's settings in config.json), one folder per saved step; calling ``finetune`` again with the same folder
and settings resumes from the newest. Which parameters train is up to you: a whole UNet (lesson 08), one token
embedding (09), the UNet with prior-preservation images weighted in the data (10), or LoRA adapters added with
peft (11).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from .images import to_tensor
from .tokens import token_ids
from .training import Checkpoint, noise_prediction_loss

PARTS = ("unet", "text_encoder")  # the pipeline parts whose parameters may train


@dataclass
class FinetuneRun:
    """What one call of ``finetune`` did: ``losses[i]`` is the mean loss of step ``steps[i]`` (1-based)."""

    start: int  # the step it resumed from (0: a fresh run)
    end: int  # the step it stopped at
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def resumed(self) -> bool:
        return self.start > 0


def latest_checkpoint(folder) -> Path | None:
    """The newest complete checkpoint in ``folder`` (``step-000120``), or None when there is none."""
    return Checkpoint(folder).latest()


# ---------------------------------------------------------------- the training loop
def finetune(pipe, data, *, train="unet", steps: int, lr: float = 1e-4, batch_size: int = 16, folder=None,
             save_every: int | None = None, stop_after: int | None = None, seed: int = 0,
             empty_prompt_prob: float = 0.1, min_snr_gamma: float | None = 5.0, warmup: int = 0,
             weight_decay: float = 1e-2, max_grad_norm: float | None = 1.0, mixed_precision: str = "no",
             on_step=None) -> FinetuneRun:
    """Train some of ``pipe``'s parameters to predict the noise on ``data``, as Stable Diffusion was trained.

    pipe: a Stable Diffusion pipeline (``unet``, ``vae``, ``text_encoder``, ``tokenizer``, ``scheduler``), in
        float32; it is trained in place. data: a sequence of ``(image, caption)`` or ``(image, caption,
        weight)``; images are PIL images or (3, H, W) tensors in [-1, 1], all the same size; ``weight``
        scales that example's loss (DreamBooth's prior-preservation weight, lesson 10).
    train: "unet", "text_encoder", a list of those, or a list of parameters (one embedding, LoRA's): exactly
        these train; every other parameter is frozen, and all are frozen again at the end.
    steps: optimizer steps in all; batch_size: images per step over all processes (each of n processes takes
        batch_size / n), so a run gives the same result on 1 or n processes.
    folder: where checkpoints go, every ``save_every`` steps (default: steps // 4) and at the end; a folder
        that holds one resumes from it (one of another run, with other settings, is refused). stop_after: stop
        at this step without saving, as if the run had been killed (to rehearse resuming).
    empty_prompt_prob: the share of captions replaced by "" so classifier-free guidance keeps working.
    min_snr_gamma: min-SNR loss weighting (None: plain MSE), for ε- and v-prediction models alike.
    warmup: steps of linear learning-rate warm-up; weight_decay, max_grad_norm: AdamW's and gradient clipping's.
    on_step: called as ``on_step(step, loss)`` after each step (e.g. to log, or to restore frozen rows).

    Batches, noise and timesteps are drawn from generators seeded by (seed, step), so a resumed run repeats
    the uninterrupted one exactly. Returns a ``FinetuneRun`` with the losses of the steps this call ran.
    """
    for name in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        if getattr(pipe, name, None) is None:
            raise TypeError(f"pipe must be a Stable Diffusion pipeline with a {name}: load it with load_pipeline()")
    steps = _positive_int("steps", steps)
    batch_size = _positive_int("batch_size", batch_size)
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a positive number such as 1e-4, not {lr!r}")
    if not 0 <= empty_prompt_prob < 1:
        raise ValueError(f"empty_prompt_prob must be in [0, 1), not {empty_prompt_prob!r}")
    if stop_after is not None and not 1 <= _positive_int("stop_after", stop_after) <= steps:
        raise ValueError(f"stop_after must be between 1 and steps ({steps}), not {stop_after}")
    save_every = max(1, steps // 4) if save_every is None else _positive_int("save_every", save_every)
    pixels, captions, weights = _unpack(data)
    params, modules = _trainable(pipe, train)

    t = _set_up(pipe, params, modules, steps=steps, lr=lr, batch_size=batch_size, warmup=warmup,
                weight_decay=weight_decay, mixed_precision=mixed_precision)
    mean, std, cache = _encode_once(pipe, t, pixels, captions)
    # what makes a checkpoint this run's: a folder saved with other settings is refused, not resumed
    config = {"examples": len(captions), "batch_size": batch_size, "seed": seed,
              "trainable": sum(p.numel() for p in params), "lr": lr, "warmup": warmup, "weight_decay": weight_decay,
              "min_snr_gamma": min_snr_gamma, "empty_prompt_prob": empty_prompt_prob, "max_grad_norm": max_grad_norm}
    ckpt = None if folder is None else Checkpoint(folder, config)
    start = 0 if ckpt is None else ckpt.load(**_saved(pipe, t))
    run = FinetuneRun(start=start, end=start)
    t0 = time.perf_counter()
    for step in range(start, steps):
        batch = _draw(step, seed, len(captions), batch_size, mean.shape[1:], t.noise_sched)
        loss = _step(pipe, t, batch, mean, std, cache, captions, weights, empty_prompt_prob=empty_prompt_prob,
                     min_snr_gamma=min_snr_gamma, max_grad_norm=max_grad_norm)
        run.steps.append(step + 1)
        run.losses.append(t.accelerator.reduce(loss.detach(), "mean").item())
        run.end = step + 1
        if on_step is not None:
            on_step(step + 1, run.losses[-1])
        if stop_after is not None and step + 1 >= stop_after:
            break
        if ckpt is not None and ((step + 1) % save_every == 0 or step + 1 == steps):
            _save(ckpt, t.accelerator, step + 1, _saved(pipe, t))
    run.seconds = time.perf_counter() - t0
    t.accelerator.wait_for_everyone()
    t.accelerator.free_memory()
    for part in ("unet", "vae", "text_encoder"):
        getattr(pipe, part).eval().requires_grad_(False)
    return run


@dataclass
class _Training:
    """What ``_set_up`` prepares for the loop."""

    accelerator: object
    device: torch.device
    rank: int
    local: int  # this process's share of each batch
    noise_sched: object
    modules: list  # the pipeline parts that hold trainable parameters
    params: list
    unet: object  # as the loop calls them: wrapped by accelerate when they train
    text_encoder: object
    text_trains: bool
    optimizer: object
    lr_sched: object


def _set_up(pipe, params, modules, *, steps, lr, batch_size, warmup, weight_decay, mixed_precision) -> _Training:
    """The accelerator, the parts in train or eval mode on its device, the noise scheduler, AdamW and its schedule."""
    from accelerate import Accelerator
    from diffusers import DDPMScheduler
    from diffusers.optimization import get_scheduler

    # train where the pipeline is; on a machine without GPUs, cpu=True is what lets `accelerate launch` processes
    # form one group (gloo) instead of each training alone
    accelerator = Accelerator(cpu=pipe.device.type == "cpu", mixed_precision=mixed_precision)
    n_proc, rank, device = accelerator.num_processes, accelerator.process_index, accelerator.device
    if batch_size % n_proc:
        raise ValueError(f"batch_size {batch_size} does not split over {n_proc} processes: "
                         f"use a multiple of {n_proc}")
    for part in ("unet", "vae", "text_encoder"):
        getattr(pipe, part).to(device).train(getattr(pipe, part) in modules)
    noise_sched = DDPMScheduler.from_config(pipe.scheduler.config)
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    # accelerate steps a prepared scheduler once per process at every step, hence the factor n_proc
    lr_sched = get_scheduler("constant_with_warmup", optimizer, num_warmup_steps=warmup * n_proc,
                             num_training_steps=steps * n_proc)
    prepared = accelerator.prepare(*modules, optimizer, lr_sched)
    wrapped, optimizer, lr_sched = prepared[:len(modules)], prepared[-2], prepared[-1]
    text_trains = pipe.text_encoder in modules
    return _Training(
        accelerator=accelerator, device=device, rank=rank, local=batch_size // n_proc, noise_sched=noise_sched,
        modules=modules, params=params,
        unet=wrapped[modules.index(pipe.unet)] if pipe.unet in modules else pipe.unet,
        text_encoder=wrapped[modules.index(pipe.text_encoder)] if text_trains else pipe.text_encoder,
        text_trains=text_trains, optimizer=optimizer, lr_sched=lr_sched)


def _encode_once(pipe, t: _Training, pixels, captions):
    """The images' latent distributions (mean, std: the VAE is frozen) and, when the text encoder is frozen
    too, the hidden states of every caption and of the empty prompt ({caption: states}; else None)."""
    with torch.no_grad():
        dists = [pipe.vae.encode(chunk.to(t.device)).latent_dist for chunk in pixels.split(32)]
    mean = torch.cat([d.mean for d in dists]).float()
    std = torch.cat([d.std for d in dists]).float()
    cache = None if t.text_trains else _encode(pipe, sorted(set(captions) | {""}), t.device)
    return mean, std, cache


def _step(pipe, t: _Training, batch, mean, std, cache, captions, weights, *, empty_prompt_prob, min_snr_gamma,
          max_grad_norm) -> torch.Tensor:
    """One optimizer step on this process's share of the global batch; returns its loss."""
    idx, eps, noise, timesteps, drop = batch
    mine = slice(t.rank * t.local, (t.rank + 1) * t.local)  # this process's share of the batch
    idx, drop = idx[mine], drop[mine]
    eps, noise, timesteps = (x[mine].to(t.device) for x in (eps, noise, timesteps))
    latents = (mean[idx] + std[idx] * eps) * pipe.vae.config.scaling_factor  # a sample of each latent distribution
    texts = ["" if d < empty_prompt_prob else captions[i] for i, d in zip(idx.tolist(), drop.tolist(), strict=True)]
    with t.accelerator.autocast():
        cond = _encode(pipe, texts, t.device, t.text_encoder) if t.text_trains else torch.stack([cache[x] for x in texts])
        pred = t.unet(t.noise_sched.add_noise(latents, noise, timesteps), timesteps, encoder_hidden_states=cond).sample
    v_pred = t.noise_sched.config.prediction_type == "v_prediction"  # SD 2.x's 768-px models
    target = t.noise_sched.get_velocity(latents, noise, timesteps) if v_pred else noise
    loss = noise_prediction_loss(pred, target, timesteps, t.noise_sched, min_snr_gamma, sample_weights=weights[idx])
    t.accelerator.backward(loss)  # with several processes, the gradients are averaged across them here
    if max_grad_norm is not None:
        t.accelerator.clip_grad_norm_(t.params, max_grad_norm)
    t.optimizer.step()
    t.lr_sched.step()
    t.optimizer.zero_grad(set_to_none=True)
    return loss


def _saved(pipe, t: _Training) -> dict:
    """What a checkpoint holds: the parts that train (whole), AdamW, its schedule, and fp16's loss scaler."""
    models = {name: getattr(pipe, name) for name in PARTS if getattr(pipe, name) in t.modules}
    scaler = getattr(t.accelerator, "scaler", None)
    return {"models": models, "optimizer": t.optimizer, "scheduler": t.lr_sched,
            "states": {"scaler": scaler} if scaler is not None else None}


def _save(ckpt: Checkpoint, accelerator, step: int, saved: dict) -> None:
    """The main process writes the checkpoint (every process holds the same weights); the others wait for it."""
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        ckpt.save(step, **saved)
    accelerator.wait_for_everyone()


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    return value


def _unpack(data):
    try:
        items = [data[i] for i in range(len(data))]
    except TypeError:
        raise TypeError("data must be a sequence (a list or a Dataset) of (image, caption) pairs, "
                        f"not {type(data).__name__}") from None
    if not items:
        raise ValueError("data is empty: give at least one (image, caption) pair")
    pixels, captions, weights = [], [], []
    for i, item in enumerate(items):
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ValueError(f"data[{i}] must be (image, caption) or (image, caption, weight), not {item!r:.80}")
        if not isinstance(item[1], str):
            raise TypeError(f"data[{i}]: the caption must be a string, not {type(item[1]).__name__}")
        if not isinstance(item[0], (torch.Tensor, Image.Image)):
            raise TypeError(f"data[{i}]: the image must be a PIL image or a (3, H, W) tensor in [-1, 1], "
                            f"not {type(item[0]).__name__}")
        pixels.append(to_tensor(item[0], where=f"data[{i}]"))
        captions.append(item[1])
        weights.append(float(item[2]) if len(item) == 3 else 1.0)
    if len({tuple(p.shape) for p in pixels}) > 1:
        raise ValueError("the images differ in size: resize them all to one size (e.g. the model's 64×64)")
    return torch.stack(pixels), captions, torch.tensor(weights)


def _trainable(pipe, train) -> tuple[list, list]:
    """(parameters that train, the pipeline parts that hold them); everything else is frozen."""
    parts = {name: getattr(pipe, name) for name in PARTS}
    hint = f"train must be {' or '.join(map(repr, PARTS))}, a list of them, or a list of parameters"
    items = [train] if isinstance(train, (str, torch.nn.Module)) else list(train)
    params = []
    for item in items:
        if isinstance(item, str):
            if item not in parts:
                raise ValueError(f"{hint}, not {item!r} (the VAE never trains here: its latents are precomputed)")
            params += list(parts[item].parameters())
        elif isinstance(item, torch.nn.Parameter):
            params.append(item)
        elif isinstance(item, torch.nn.Module):
            params += list(item.parameters())
        else:
            raise TypeError(f"{hint}, not {type(item).__name__}")
    if not params:
        raise ValueError("train selects no parameters: nothing would learn")
    owners = [m for m in parts.values() if {id(q) for q in m.parameters()} & {id(p) for p in params}]
    if {id(p) for p in params} - {id(q) for m in parts.values() for q in m.parameters()}:
        raise ValueError("train holds parameters that are not in pipe.unet or pipe.text_encoder: pass only "
                         "parameters of those two (or their names, 'unet' and 'text_encoder')")
    if any(p.dtype != torch.float32 for p in params):
        raise ValueError("the parameters that train must be float32: load the pipeline with dtype=torch.float32 "
                         "(use mixed_precision='fp16' or 'bf16' for speed on a GPU)")
    for module in (pipe.unet, pipe.vae, pipe.text_encoder):
        module.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    return params, owners


def _encode(pipe, texts, device, text_encoder=None):
    """Text-encoder hidden states: a tensor for a list being trained through, else a {caption: states} cache."""
    ids = token_ids(pipe.tokenizer, texts, device)
    if text_encoder is not None:
        return text_encoder(ids)[0]
    with torch.no_grad():
        states = torch.cat([pipe.text_encoder(chunk)[0] for chunk in ids.split(256)])
    return dict(zip(texts, states, strict=True))


def _draw(step: int, seed: int, n: int, batch_size: int, latent_shape, noise_sched):
    """One global batch, the same in every process and a function of (seed, step) only: the examples (a fresh
    shuffle of the data each epoch), the latent samples' noise, the added noise, timesteps, and caption drops."""
    positions = range(step * batch_size, (step + 1) * batch_size)
    perms = {e: torch.randperm(n, generator=torch.Generator().manual_seed(seed * 7919 + e + 1))
             for e in {p // n for p in positions}}
    idx = torch.stack([perms[p // n][p % n] for p in positions])
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    eps = torch.randn((batch_size, *latent_shape), generator=g)
    noise = torch.randn((batch_size, *latent_shape), generator=g)
    t = torch.randint(0, noise_sched.config.num_train_timesteps, (batch_size,), generator=g)
    return idx, eps, noise, t, torch.rand(batch_size, generator=g)
