"""The speed and memory settings that suit a device, chosen by a pure function so they can be tested anywhere.

    from course_utils.settings import plan_settings
    plan_settings("cuda", memory=2 * 2**30)   # a small GPU: fp16, attention slicing, VAE tiling, CPU offload

`pipeline.load_pipeline` measures the device and the model, asks `plan_settings`, and applies the answer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from . import runtime

GiB = 2**30
SD15_FP16_BYTES = int(2.1e9)  # UNet + VAE + text encoder of Stable Diffusion 1.5 in half precision
DTYPES = {
    "fp16": torch.float16,
    "float16": torch.float16,
    "half": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp32": torch.float32,
    "float32": torch.float32,
    "float": torch.float32,
}


@dataclass(frozen=True)
class Settings:
    """How a pipeline runs on its device: `plan_settings` chooses it, `apply_settings` applies it."""

    device: str
    dtype: torch.dtype
    attention_slicing: bool = False
    vae_tiling: bool = False
    cpu_offload: bool = False
    compile_unet: bool = False
    reason: str = ""

    def describe(self) -> str:
        """One line such as "cuda · float16 · attention slicing · VAE tiling (3.5 GiB free for 2.0 GiB ...)"."""
        savers = {
            "attention slicing": self.attention_slicing,
            "VAE tiling": self.vae_tiling,
            "model CPU offload": self.cpu_offload,
            "compiled UNet": self.compile_unet,
        }
        parts = [self.device, str(self.dtype).removeprefix("torch.")] + [k for k, on in savers.items() if on]
        return " · ".join(parts) + (f" ({self.reason})" if self.reason else "")


def plan_settings(
    device: str,
    memory: int | None = None,
    *,
    model_bytes: int | None = None,
    dtype: torch.dtype | None = None,
    bf16: bool = False,
    low_memory: bool | None = None,
    compile: bool = False,
) -> Settings:
    """The dtype and memory savers for `device` ("cuda", "mps" or "cpu"), from the numbers given only.

    memory: free GPU memory in bytes on CUDA; the machine's RAM on MPS (Apple's GPU shares it); unused on CPU.
    model_bytes: size of the weights at the chosen dtype (default: Stable Diffusion 1.5 in fp16, 2.1 GB).
    dtype: keep this dtype instead of choosing one. bf16: the GPU computes natively in bfloat16.
    low_memory: None decides from `memory`; True turns the savers on; False turns them off.

    - cuda: bf16 where the GPU computes in it, else fp16, with PyTorch 2's fused attention (SDPA, diffusers'
      default). Working memory is taken as 1.2x the weights (2.4 GiB for SD 1.5 at 512 px; at least 256 MiB).
      When weights plus working memory don't fit in the free memory: attention slicing and VAE tiling; when
      the weights plus half that don't fit: model CPU offload as well. `compile=True` compiles the UNet (not
      together with offload, whose hooks defeat compilation).
    - mps: fp32, and attention slicing below 64 GiB of RAM, as diffusers' Apple-silicon guide recommends.
    - cpu: fp32; slicing and tiling only with `low_memory=True` (lower peak RAM, a little slower).
    """
    kind = torch.device(device).type
    if kind == "cuda":
        dtype = dtype or (torch.bfloat16 if bf16 else torch.float16)
        size = SD15_FP16_BYTES if model_bytes is None else int(model_bytes)
        offload = tight = False
        reason = ""
        if low_memory is True and memory is None:
            tight, reason = True, "low_memory=True"
        elif low_memory is not False and memory is not None:
            working = max(GiB / 4, 1.2 * size)
            offload = memory < size + working / 2
            tight = bool(low_memory) or offload or memory < size + working
            if tight:
                reason = f"{memory / GiB:.1f} GiB free for {size / GiB:.2f} GiB of weights"
        compiled = bool(compile) and not offload
        if compile and offload:
            reason += "; no torch.compile with CPU offload"
        return Settings("cuda", dtype, tight, tight, offload, compiled, reason)
    note = f"torch.compile is only worth it on CUDA, skipped on {kind}" if compile else ""
    if kind == "mps":
        slicing = low_memory is True or (low_memory is None and (memory is None or memory < 64 * GiB))
        return Settings("mps", dtype or torch.float32, slicing, low_memory is True, reason=note)
    if kind == "cpu":
        saving = low_memory is True
        return Settings("cpu", dtype or torch.float32, saving, saving, reason=note)
    raise ValueError(f"unknown device {device!r}: use 'cuda', 'mps' or 'cpu'")


def resolve_device(device=None, hint: str = "use device=None or 'cpu'") -> torch.device:
    """torch.device for None (the best one here), "cuda", "cuda:1", "mps", "cpu" or a torch.device that is
    available on this machine (`runtime.parse_device` reads it); `hint` ends the message when it is not."""
    if device is None:
        return torch.device(runtime.device())
    parsed = runtime.parse_device(device)
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
    }
    if not available.get(parsed.type, True):
        raise ValueError(f"device {parsed.type!r} is not available on this machine: {hint}")
    return parsed


def resolve_dtype(dtype) -> torch.dtype | None:
    """None, a torch float dtype, or a name such as "fp16" / "bfloat16" / "float32"."""
    if dtype is None or (isinstance(dtype, torch.dtype) and dtype in DTYPES.values()):
        return dtype
    if isinstance(dtype, str):
        key = dtype.strip().lower().removeprefix("torch.")
        if key in DTYPES:
            return DTYPES[key]
    raise ValueError(
        f"unknown dtype {dtype!r}: use None (what suits the device), 'float32', 'float16' or 'bfloat16'"
    )


def memory_for(device: torch.device) -> int | None:
    """What `plan_settings` wants as `memory`: free bytes on CUDA, the machine's RAM on MPS, None on CPU."""
    if device.type == "cuda":
        info = runtime.gpu_memory(device)
        return info[0] if info else None
    if device.type == "mps":
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):
            return None
    return None


def apply_settings(pipe, settings: Settings, device: torch.device | None = None) -> None:
    """Move `pipe` to its device (or set up CPU offload) and switch on the chosen savers."""
    device = device or torch.device(settings.device)
    for part in pipe.components.values():  # every part in the plan's dtype, even where an older diffusers left one
        if isinstance(part, torch.nn.Module) and getattr(part, "dtype", settings.dtype) != settings.dtype:
            part.to(dtype=settings.dtype)
    if settings.cpu_offload:
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    if settings.attention_slicing:
        pipe.enable_attention_slicing()
    if settings.vae_tiling:
        pipe.vae.enable_tiling()
    if settings.compile_unet:
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.unet.compile()


# ---------------------------------------------------------------- how many pictures one call can hold

# Working memory of one picture (activations, guidance's two UNet passes, the VAE decode), taken as 1.5 GiB for
# SD 1.5 at 512 px in half precision and scaled by area, by the UNet's first width (320 for SD 1.5) and by the
# bytes per number. An estimate from the architecture, not a measurement: `make gpu-check` measures it on a GPU.
SD15_PICTURE_BYTES = int(1.5 * GiB)


def picture_bytes(height: int, width: int, unet_width: int = 320, dtype: torch.dtype = torch.float16) -> int:
    """Estimated working memory of one picture of height x width (see SD15_PICTURE_BYTES)."""
    size = torch.empty((), dtype=dtype).element_size()
    return int(SD15_PICTURE_BYTES * (height * width) / 512**2 * unet_width / 320 * size / 2)


def plan_batch(free: int | None, per_picture: int, wanted: int) -> int:
    """Pictures per pipeline call: all `wanted` when `free` (bytes left after the weights) is unknown or holds
    them, else as many as fit. MemoryError naming the limit when not even one fits, before anything is allocated."""
    if free is None or free >= per_picture * wanted:
        return wanted
    if free < per_picture:
        raise MemoryError(
            f"one picture needs about {per_picture / GiB:.1f} GiB here and {max(free, 0) / GiB:.1f} GiB is free "
            "after the weights: ask for a smaller height and width (the model's own size is safest), or load "
            "with low_memory=True"
        )
    return max(1, free // per_picture)


def batch_size(pipe, height: int, width: int, wanted: int) -> int:
    """How many of `wanted` pictures of height x width one call of `pipe` can make on its device: free GPU
    memory on CUDA, half the RAM on a CPU or Mac (the weights are in it already)."""
    device = torch.device(pipe.device)
    if device.type == "cuda":
        free = memory_for(device)
    else:
        ram = runtime._ram_bytes()
        free = None if ram is None else ram // 2
    unet = pipe.unet
    per_picture = picture_bytes(height, width, int(unet.config.block_out_channels[0]), unet.dtype)
    return plan_batch(free, per_picture, wanted)
