"""Training: time per optimizer step, measured here on a few steps, and what the bundled model's training
log (.mini-work/log.jsonl, written by `make mini`) says about step times and steps to its quality bar."""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from .report import ROOT, Clock, Section, median, seconds, spread

# the log of a local `make mini` run if there is one, else the log of the run that made the bundled weights
LOG = next((p for p in (ROOT / ".mini-work" / "log.jsonl", ROOT / "course_utils/weights/mini/train_log.jsonl")
            if p.is_file()), ROOT / ".mini-work" / "log.jsonl")
VAE_PSNR_BAR = 28.0  # dB on held-out images: the course's bar for the bundled VAE (its model card)
# full-prompt adherence, from the log's unet_eval rows (48 held-out prompts judged during training, guidance 3,
# with the sampler the course used then: v0.3's log was written with DPM-Solver++, before Euler became the default)
UNET_BAR, UNET_BAR_KEY = 0.90, "all_g3.0"
FINETUNE_BATCH = 16


# ---------------------------------------------------------------- the training log


def read_log(path: Path = LOG) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a killed run
    return rows


def summarize_log(rows: list[dict]) -> dict[str, dict]:
    """Per stage of the latest run: the last step logged, the median seconds per step, and for the VAE the
    first step whose held-out PSNR reached VAE_PSNR_BAR. A stage that logs a step again, or an earlier one,
    was trained again from scratch and starts over; one that resumed from a checkpoint carries on."""
    stages: dict[str, dict] = {}
    last: dict[tuple, int] = {}  # (stage, kind of row) -> its last step: a loss row and a PSNR row share steps
    for row in rows:
        stage, step = row.get("stage"), row.get("step")
        if stage is None or step is None:
            continue
        kind = (stage, "s_per_step" in row, "heldout_psnr" in row)
        if stage not in stages or step <= last.get(kind, -1):
            stages[stage] = {"steps": 0, "s_per_step": [], "bar_step": None}
            last = {k: v for k, v in last.items() if k[0] != stage}
        last[kind] = step
        got = stages[stage]
        got["steps"] = max(got["steps"], step)
        if "s_per_step" in row:
            got["s_per_step"].append(row["s_per_step"])
        psnr, adherence = row.get("heldout_psnr"), row.get(UNET_BAR_KEY)
        reached = (psnr is not None and psnr >= VAE_PSNR_BAR) or (adherence is not None and adherence >= UNET_BAR)
        if reached and got["bar_step"] is None:
            got["bar_step"] = step
    return {k: {**v, "s_per_step": median(v["s_per_step"])} for k, v in stages.items()}


# ---------------------------------------------------------------- steps timed here


def time_steps(step, repeats: int, warmup: int = 2) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of `repeats` calls of step(), after `warmup` calls."""
    for _ in range(warmup):
        step()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus


def unet_step(train_text_encoder: bool):
    """One optimizer step of the bundled model's UNet as course_utils/mini/train.py takes it (stage "unet": the
    text encoder trains with it; False: frozen, as Stable Diffusion's was), on random latents and captions.
    The UNet is built from the bundled one's config with random weights (the step's cost does not depend on
    them); the text encoder is the bundled one."""
    import torch
    import transformers
    from diffusers import UNet2DConditionModel
    from diffusers.training_utils import EMAModel
    from transformers import CLIPTextModel, CLIPTokenizer

    from course_utils import shapes
    from course_utils.mini import mini_path
    from course_utils.mini.model import noise_scheduler
    from course_utils.mini.train import CFG
    from course_utils.tokens import token_ids
    from course_utils.training import noise_prediction_loss

    transformers.utils.logging.disable_progress_bar()
    folder = mini_path()
    tokenizer = CLIPTokenizer.from_pretrained(folder / "tokenizer")
    text_encoder = CLIPTextModel.from_pretrained(folder / "text_encoder", use_safetensors=True)
    text_encoder.requires_grad_(train_text_encoder).train(train_text_encoder)
    unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(folder / "unet"))  # random weights
    models = [unet, text_encoder] if train_text_encoder else [unet]
    params = [p for m in models for p in m.parameters()]
    optimizer = torch.optim.AdamW(params, lr=CFG["unet_lr"], weight_decay=0.01)
    emas = [EMAModel(m.parameters(), decay=CFG["unet_ema"]) for m in models]
    noise_schedule = noise_scheduler()
    batch, rng = CFG["unet_batch"], random.Random(0)
    scenes = shapes.scenes(batch * 4, seed=0)
    latent = (4, unet.config.sample_size, unet.config.sample_size)

    def step():
        texts = [shapes.caption(rng.choice(scenes), rng) for _ in range(batch)]
        with torch.set_grad_enabled(train_text_encoder):
            cond = text_encoder(token_ids(tokenizer, texts)).last_hidden_state
        x0 = torch.randn(batch, *latent)
        noise = torch.randn_like(x0)
        t = torch.randint(0, noise_schedule.config.num_train_timesteps, (batch,))
        pred = unet(noise_schedule.add_noise(x0, noise, t), t, encoder_hidden_states=cond).sample
        loss = noise_prediction_loss(pred, noise, t, noise_schedule, CFG["min_snr_gamma"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        for ema, model in zip(emas, models, strict=True):
            ema.step(model.parameters())

    return step, batch


def finetune_steps(loop, repeats: int, warmup: int = 2) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of `repeats` steps of course_utils.finetune.finetune, after `warmup` steps (the
    first of which also encodes the images), for one of benchmarks.bars' loops, set up as its lesson does."""
    from course_utils.finetune import finetune

    pipe, data, train, extra, hook = loop.setup()
    marks: list[tuple[float, float]] = []

    def on_step(step, loss):
        if hook is not None:
            hook(step, loss)
        marks.append((time.perf_counter(), time.process_time()))

    finetune(pipe, data, train=train, steps=warmup + repeats, batch_size=FINETUNE_BATCH, lr=loop.lr,
             on_step=on_step, **extra)
    walls = [b[0] - a[0] for a, b in zip(marks[warmup - 1:], marks[warmup:], strict=False)]
    cpus = [b[1] - a[1] for a, b in zip(marks[warmup - 1:], marks[warmup:], strict=False)]
    return walls, cpus


# ---------------------------------------------------------------- the report


def measure(repeats: int = 5) -> Section:
    clock = Clock()
    log = summarize_log(read_log())
    rows = []

    def log_cells(stage: str | None, bar: str) -> list[str]:
        if stage is None:
            return ["–", "–", "–"]
        got = log.get(stage)
        if got is None:
            return ["–", "–", "no training log here"]
        return [seconds(got["s_per_step"]), f"{got['steps']:,}", bar]

    loops = [("bundled model: VAE (stage vae)", None, "vae"),
             ("bundled model: CLIP (stage clip)", None, "clip"),
             ("bundled model: UNet, text encoder frozen (for comparison)", False, None),
             ("bundled model: UNet + text encoder (stage unet)", True, "unet")]
    for name, train_text, stage in loops:
        measured = ["–", "–", "–"]
        if train_text is not None:
            print(f"  {name}: {repeats} steps ...", file=sys.stderr, flush=True)
            step, batch = unet_step(train_text)
            walls, cpus = time_steps(step, repeats)
            measured = [str(batch), spread(walls), seconds(median(cpus))]
        if stage == "vae":
            bar_step = log.get("vae", {}).get("bar_step")
            bar = (f"{bar_step:,} (held-out PSNR ≥ {VAE_PSNR_BAR:g} dB)" if bar_step
                   else f"not reached in the log (PSNR ≥ {VAE_PSNR_BAR:g} dB)")
        elif stage == "clip":
            bar = "no bar (its quality shows in the UNet's)"
        elif stage == "unet":
            bar_step = log.get("unet_eval", {}).get("bar_step")
            bar = (f"{bar_step:,} (full-prompt adherence ≥ {UNET_BAR:.0%} at guidance 3, on the log's 48 samples)"
                   if bar_step else f"not reached in the log (adherence ≥ {UNET_BAR:.0%} at guidance 3)")
        else:
            bar = "–"
        rows.append([name] + measured + log_cells(stage, bar))
    from .bars import LOOPS

    for make in LOOPS:
        loop = make()
        name = f"fine-tuning: {loop.name}"
        print(f"  {name}: {repeats} steps ...", file=sys.stderr, flush=True)
        try:
            walls, cpus = finetune_steps(loop, repeats)
        except Exception as error:  # finetune's API moved on: say so, and go on with the rest
            rows.append([name, "–", f"**failed**: {type(error).__name__}: {str(error)[:80]}"])
            continue
        rows.append([name, str(FINETUNE_BATCH), spread(walls), seconds(median(cpus)), "–", "–",
                     f"lesson {loop.lesson}: see the next section"])
    headers = ["training loop", "batch", "time per step, measured here", "CPU per step",
               "training log: s/step (median)", "training log: steps run", "steps to the quality bar"]
    notes = [
        f"Measured here: {repeats} optimizer steps after 2 warm-up steps (forward, loss, backward, gradient "
        "clipping, AdamW, EMA update), on random latents and shapes-world captions; median (range, n). "
        f"The log columns read {LOG.relative_to(ROOT)} " + ("(its latest run of each stage)." if log else
                                                            "(not present on this machine: `make mini` writes it).")
        + " course_utils/weights/mini/MODEL_CARD.md gives the step times of the run that made the bundled weights.",
        f"Fine-tuning rows: course_utils.finetune.finetune on the bundled model, batch {FINETUNE_BATCH}, each set "
        "up as its lesson sets it up (benchmarks/bars.py: the same data, trainable parameters and learning "
        "rate). The steps each needs to reach its lesson's bar are in the next section.",
    ]
    return Section("Training", headers, rows, notes, clock.stamp())
