"""Where we run: Colab, Kaggle or a local machine; CUDA, Apple's MPS or the CPU; memory; the dtype that suits
the device; and the two switches every notebook reads (quick mode and the model to load).

    from course_utils import runtime
    runtime.describe()        # prints e.g. "local · cpu · 2 cores · 23.5 GiB RAM · torch 2.13.0 · ..."
    dtype = runtime.preferred_dtype(runtime.device())
"""

from __future__ import annotations

import os
import sys
from importlib import metadata
from typing import TYPE_CHECKING

from . import threads

if TYPE_CHECKING:
    import torch

# torch is imported inside the functions, not here: `describe()` must choose the thread policy before torch loads.
DEVICES = ("cuda", "mps", "cpu")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def environment() -> str:
    """Where the kernel runs: "colab", "kaggle" or "local", from the variables those hosted notebooks set."""
    if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ or "COLAB_GPU" in os.environ:
        return "colab"
    if "KAGGLE_KERNEL_RUN_TYPE" in os.environ or "KAGGLE_URL_BASE" in os.environ:
        return "kaggle"
    return "local"


def _mps_available() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _best_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if _mps_available():
        return "mps"
    return "cpu"


def device() -> str:
    """The best device torch can use here: "cuda", then "mps" (Apple silicon), then "cpu"."""
    return _best_device()


def parse_device(device: str | torch.device) -> torch.device:
    """torch.device for "cuda", "cuda:1", "CPU" or a torch.device; ValueError for what the course can't use."""
    import torch

    choices = ", ".join(map(repr, DEVICES))
    if isinstance(device, str):
        try:
            parsed = torch.device(device.strip().lower())
        except RuntimeError:
            raise ValueError(f"unknown device {device!r}: use one of {choices}") from None
    elif isinstance(device, torch.device):
        parsed = device
    else:
        raise TypeError(
            f"device must be a string such as 'cpu' or a torch.device, not {type(device).__name__}"
        )
    if parsed.type not in DEVICES:
        raise ValueError(f"unknown device {device!r}: use one of {choices}")
    return parsed


def gpu_memory(device: str | torch.device | None = None) -> tuple[int, int] | None:
    """(free_bytes, total_bytes) of the GPU, or None on the CPU or when the GPU is not there.

    On Apple silicon the GPU shares the machine's memory: "total" is what Metal recommends a process uses
    at most, and "free" is that less what Metal has already handed out.
    """
    import torch

    name = parse_device(device).type if device is not None else _best_device()
    if name == "cuda" and torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        return int(free), int(total)
    if name == "mps" and _mps_available() and hasattr(torch.mps, "recommended_max_memory"):
        total = int(torch.mps.recommended_max_memory())
        return max(total - int(torch.mps.driver_allocated_memory()), 0), total
    return None


def quick_mode() -> bool:
    """True when the environment variable COURSE_QUICK is "1", "true" or "yes" (`make test` sets it).

    Quick mode shortens training and sampling so the whole course runs as a test in minutes on a CPU.
    """
    value = os.environ.get("COURSE_QUICK", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"COURSE_QUICK={os.environ['COURSE_QUICK']!r} is not understood: set it to 1 (quick mode) "
        "or 0 (full mode), or unset it"
    )


def default_model() -> str:
    """The model the notebooks load: the environment variable COURSE_MODEL, or "mini" (the bundled model)."""
    return os.environ.get("COURSE_MODEL", "").strip() or "mini"


def default_dtype() -> str | None:
    """The dtype the notebooks load models in: the environment variable COURSE_DTYPE ("float32", "float16",
    "bfloat16"), or None, which leaves the choice to the device (`preferred_dtype`). The any-model test sets
    COURSE_DTYPE=bfloat16 on the CPU, so that a float32 tensor sent into the model fails as it would on a GPU."""
    return os.environ.get("COURSE_DTYPE", "").strip() or None


def preferred_dtype(device: str | torch.device) -> torch.dtype:
    """The dtype to run Stable Diffusion in on `device`.

    - cuda: bfloat16 on GPUs that compute in it natively (Ampere and newer), else float16. Older GPUs such as
      Colab's T4 only emulate bfloat16, slowly, so they get float16.
    - mps: float32, as in diffusers' Apple-silicon guide; half precision on MPS has a history of black images
      and crashes that depend on the macOS and torch versions.
    - cpu: float32; CPUs are slow at half precision and some operations lack half-precision kernels there.
    """
    import torch

    parsed = parse_device(device)
    if parsed.type == "cuda":
        if torch.cuda.is_available():
            major, _ = torch.cuda.get_device_capability(parsed.index)
            if major >= 8:
                return torch.bfloat16
        return torch.float16
    return torch.float32


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _ram_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None  # Windows: no sysconf; the summary leaves RAM out


def _version(package: str) -> str:
    try:
        return metadata.version(package).split("+")[0]
    except metadata.PackageNotFoundError:
        return "missing"


def describe() -> str:
    """Print and return one line that says where we run, e.g.

    "local · cpu · 2 cores · 23.5 GiB RAM · torch 2.13.0 · diffusers 0.42.1 · model mini · quick mode"

    Called first in every lesson: it chooses how torch's idle threads wait (`threads.choose_wait_policy`)
    before it loads torch, and says so at the end of the line when it chose to let them sleep.
    """
    chose = "OMP_WAIT_POLICY" not in os.environ and threads.choose_wait_policy() is not None
    import torch

    dev = _best_device()
    parts = [environment()]
    if dev == "cuda":
        memory = gpu_memory("cuda")
        size = f", {memory[1] / 2**30:.1f} GiB" if memory else ""
        parts.append(f"cuda ({torch.cuda.get_device_name()}{size})")
    else:
        parts.append(dev)
    parts.append(f"{_cores()} cores")
    ram = _ram_bytes()
    if ram:
        parts.append(f"{ram / 2**30:.1f} GiB RAM")
    parts += [f"torch {_version('torch')}", f"diffusers {_version('diffusers')}", f"model {default_model()}"]
    if default_dtype():
        parts.append(f"dtype {default_dtype()}")
    parts.append("quick mode" if quick_mode() else "full mode")
    if chose:
        parts.append("threads sleep when idle (the machine is busy)")
    line = " · ".join(parts)
    print(line)
    return line
