"""On a CUDA GPU only: Stable Diffusion 1.5's architecture (UNet, VAE and text encoder built from their configs,
written out below, with random weights: nothing is downloaded) at 512×512, 50 steps, batch 1 and 4, with the
course's load settings (`settings.plan_settings` + `apply_settings`: fp16 or bf16, PyTorch's fused attention,
optionally torch.compile) against diffusers' defaults (fp32). Reports it/s and peak GPU memory.

Random weights make random pictures, but the same work per step as the real checkpoint."""

from __future__ import annotations

import gc
import sys
import time

# Stable Diffusion 1.5's configs (unet/, vae/, text_encoder/ of the checkpoint) have one home: the stand-in's
from course_utils.standin import SD15_TEXT, SD15_UNET, SD15_VAE

from .report import Clock, Section, seconds, size

STEPS, BATCHES = 50, (1, 4)


def build(device, unet=SD15_UNET, vae=SD15_VAE, text=SD15_TEXT):
    """A StableDiffusionPipeline with random weights in fp32 on `device` (the bundled model's tokenizer, padded
    to the text encoder's length: token ids don't change the cost)."""
    import torch
    from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from course_utils.mini import mini_path
    from course_utils.mini.model import noise_scheduler

    torch.manual_seed(0)
    with torch.device(device):
        parts = {"unet": UNet2DConditionModel(**unet), "vae": AutoencoderKL(**vae),
                 "text_encoder": CLIPTextModel(CLIPTextConfig(**text))}
    tokenizer = CLIPTokenizer.from_pretrained(mini_path() / "tokenizer",
                                              model_max_length=text["max_position_embeddings"])
    pipe = StableDiffusionPipeline(**parts, tokenizer=tokenizer, scheduler=noise_scheduler("pndm"),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def course_device(pipe, device, compile: bool = False):
    """What load_pipeline does after loading: the dtype and savers plan_settings picks, and its scheduler."""
    from course_utils import runtime
    from course_utils.pipeline import fit_to_device
    from course_utils.schedulers import DEFAULT_SCHEDULER, set_scheduler

    dtype = runtime.preferred_dtype(device)
    pipe.to(dtype=dtype)
    settings = fit_to_device(pipe, device, dtype, compile=compile)
    set_scheduler(pipe, DEFAULT_SCHEDULER)
    return settings


def time_call(pipe, batch: int, steps: int = STEPS, side: int = 512) -> dict:
    """One warm-up call, then one timed call of `batch` pictures: denoising it/s (between the first and last
    step's end), seconds for the whole call, and peak GPU memory (None off CUDA)."""
    import torch

    cuda = pipe.device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    ends: list[float] = []

    def on_step_end(_pipe, _step, _t, kwargs):
        sync()
        ends.append(time.perf_counter())
        return kwargs

    def call():
        pipe(["a red circle"] * batch, num_inference_steps=steps, height=side, width=side,
             generator=torch.Generator().manual_seed(0), callback_on_step_end=on_step_end)

    call()
    if cuda:
        sync()
        torch.cuda.reset_peak_memory_stats()
    ends.clear()
    start = time.perf_counter()
    call()
    sync()
    total = time.perf_counter() - start
    rate = (len(ends) - 1) / (ends[-1] - ends[0]) if len(ends) > 1 else None
    return {"it_s": rate, "seconds": total, "peak": torch.cuda.max_memory_allocated() if cuda else None}


def measure(compile: bool = False) -> Section:
    import torch

    clock = Clock()
    headers = ["SD 1.5 architecture, 512×512, 50 steps", "batch", "it/s (denoising)", "seconds per call",
               "peak GPU memory"]
    if not torch.cuda.is_available():
        note = ("**Skipped: no CUDA GPU here** (torch.cuda.is_available() is False). On a machine with one, "
                "this part times Stable Diffusion 1.5's UNet and VAE (random weights, built from their configs) "
                "with the course's settings against diffusers' defaults.")
        print("  skipped: no CUDA GPU here", file=sys.stderr)
        return Section("GPU: Stable Diffusion 1.5's architecture", headers, [], [note], clock.stamp())
    device = torch.device("cuda")
    variants = [("diffusers' defaults (fp32, PNDM)", None), ("course settings", False)]
    if compile:
        variants.append(("course settings + torch.compile", True))
    rows = []
    for name, compiled in variants:
        pipe = build(device)
        label = name
        if compiled is not None:
            settings = course_device(pipe, device, compile=compiled)
            label = f"{name}: {settings.describe()}, Euler"
        for batch in BATCHES:
            print(f"  {label}, batch {batch} ...", file=sys.stderr, flush=True)
            got = time_call(pipe, batch)
            rate = "–" if got["it_s"] is None else f"{got['it_s']:.2f}"
            rows.append([label, str(batch), rate, seconds(got["seconds"]), size(got["peak"])])
        del pipe
        gc.collect()
        torch.cuda.empty_cache()
    notes = ["Each row: one warm-up call, then one timed call (with torch.compile the warm-up includes "
             "compiling). it/s counts denoising steps of the whole batch (with classifier-free guidance, the "
             "UNet sees twice the batch); seconds per call include the text encoder and the VAE decode. "
             "Peak memory is torch.cuda.max_memory_allocated during the timed call."]
    return Section("GPU: Stable Diffusion 1.5's architecture", headers, rows, notes, clock.stamp())
