"""Load a Stable Diffusion pipeline the course can use anywhere, and switch it between tasks.

    from course_utils.pipeline import load_pipeline, switch_task
    pipe = load_pipeline("mini")                       # the bundled model; or a folder, or a Hub id on a GPU
    img2img = switch_task(pipe, "img2img")             # the same weights, nothing reloaded

`load_pipeline` picks the dtype and memory savers that suit the device (`settings.plan_settings`; the choice
is kept in `pipe.course_device`), loads only safetensors weights and never runs code from the Hub. Offline, a
Hub id that is not in the local cache raises `hub.ModelOfflineError`, whose message offers the bundled "mini"
model instead. Generating pictures is `generation.generate`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch

from . import runtime
from .checks import check_choice
from .hub import (
    HUB_ID,
    ModelNotFoundError,
    ModelOfflineError,
    explain_load_error,
    hub_offline,
    is_cached,
    offline_message,
)
from .schedulers import DEFAULT_SCHEDULER, scheduler_key, set_scheduler
from .settings import apply_settings, memory_for, plan_settings, resolve_device, resolve_dtype

TASKS = ("text2img", "img2img")


@contextlib.contextmanager
def quiet_loading():
    """No progress bars, and no "CLIPImageProcessor requires torchvision" notice (no image processor is used)."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    level, bars = tlog.get_verbosity(), (dlog.is_progress_bar_enabled(), tlog.is_progress_bar_enabled())
    tlog.set_verbosity_error()
    dlog.disable_progress_bar()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        tlog.set_verbosity(level)
        if bars[0]:
            dlog.enable_progress_bar()
        if bars[1]:
            tlog.enable_progress_bar()


with quiet_loading():
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForText2Image
    from diffusers.utils import deprecation_utils

# diffusers renamed from_pretrained's `torch_dtype` to `dtype` (0.36-ish); use whichever this version knows
_DTYPE_ARG = "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"

# ---------------------------------------------------------------- loading

def _resolve_model(model) -> tuple[str, str, bool]:
    """(label, what to pass to from_pretrained, whether it is a local folder)."""
    if model is None:
        model = runtime.default_model()
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    if not isinstance(model, str) or not model.strip():
        raise TypeError(f"model must be 'mini', a folder or a Hub id such as 'owner/name', not {model!r}")
    model = model.strip()
    if model.lower() == "mini":
        from .mini import mini_path

        return "mini", str(mini_path()), True
    folder = Path(model).expanduser()
    if folder.is_dir():
        if not (folder / "model_index.json").is_file():
            raise ModelNotFoundError(
                f"{folder} is a folder but not a diffusers pipeline (it has no model_index.json): point to the "
                "folder that pipe.save_pretrained(...) wrote, or use model='mini'"
            )
        return model, str(folder), True
    if HUB_ID.match(model):
        return model, model, False
    raise ModelNotFoundError(
        f"there is no folder {str(folder.absolute())!r}, and {model!r} is not a Hub id (owner/name): "
        "check the path, or use model='mini' for the bundled model"
    )


def _from_pretrained(task: str, label: str, source: str, local: bool, dtype, safety_checker: bool):
    """The pipeline's weights, in `dtype`, from a folder or the Hub (offline: only from its cache), with the
    Hub's failures turned into course errors that say what to do."""
    kwargs = {_DTYPE_ARG: dtype, "use_safetensors": True}
    if safety_checker is False:
        kwargs["safety_checker"] = None
    if not local:
        offline = hub_offline()
        if offline and not is_cached(source):
            why = "the Hugging Face Hub is offline here (HF_HUB_OFFLINE) and the model is not in the local cache"
            raise ModelOfflineError(offline_message(label, why))
        kwargs["local_files_only"] = offline
    auto = AutoPipelineForImage2Image if task == "img2img" else AutoPipelineForText2Image
    try:
        with quiet_loading():
            return auto.from_pretrained(source, **kwargs)
    except Exception as error:
        explained = None if local else explain_load_error(label, error)
        if explained is None:
            raise
        raise explained from error


def fit_to_device(pipe, device, dtype, low_memory: bool | None = None, compile: bool = False):
    """Plan the memory savers for this model's weights on this device (`settings.plan_settings`), apply them
    (`settings.apply_settings`) and return the plan, a `settings.Settings`."""
    modules = [c for c in pipe.components.values() if isinstance(c, torch.nn.Module)]
    size = sum(p.numel() * p.element_size() for m in modules for p in m.parameters())
    settings = plan_settings(
        device.type,
        memory_for(device),
        model_bytes=size,
        dtype=dtype,
        low_memory=low_memory,
        compile=compile,
    )
    apply_settings(pipe, settings, device)
    return settings


def load_pipeline(
    model=None,
    task: str = "text2img",
    device=None,
    dtype=None,
    scheduler: str | None = None,
    low_memory: bool | None = None,
    compile: bool = False,
    safety_checker: bool = True,
):
    """Load a Stable Diffusion pipeline with the settings that suit this machine.

    model: None (the COURSE_MODEL environment variable, default "mini"), "mini" (the bundled model), a local
        folder written by save_pretrained, or a Hub id such as "stable-diffusion-v1-5/stable-diffusion-v1-5".
    task: "text2img" or "img2img" (switch later without reloading: `switch_task`).
    device, dtype: None picks the best device, and the dtype in COURSE_DTYPE or else the one that suits the
        device (`runtime.preferred_dtype`).
    scheduler: None for the course default "euler", "model" for the checkpoint's own, or a name in SCHEDULERS.
    low_memory, compile: see `settings.plan_settings`; the choice is in `pipe.course_device`.
    safety_checker: a checkpoint that ships a safety checker keeps it unless you pass False; models without
        one (like "mini") load without it, and without warnings.
    Weights load from safetensors only, and no code from the Hub is ever run.
    """
    task = check_choice("task", task, TASKS)
    keep_scheduler = isinstance(scheduler, str) and scheduler.strip().lower() == "model"
    scheduler = (
        None if keep_scheduler else scheduler_key(DEFAULT_SCHEDULER if scheduler is None else scheduler)
    )
    device = resolve_device(device)
    dtype = resolve_dtype(dtype) or resolve_dtype(runtime.default_dtype()) or runtime.preferred_dtype(device)
    label, source, local = _resolve_model(model)
    pipe = _from_pretrained(task, label, source, local, dtype, safety_checker)
    settings = fit_to_device(pipe, device, dtype, low_memory, compile)
    if scheduler is not None:
        set_scheduler(pipe, scheduler)
    pipe.set_progress_bar_config(disable=True)
    pipe.course_model, pipe.course_device = label, settings
    return pipe


# ---------------------------------------------------------------- tasks


def task_of(pipe) -> str:
    """ "img2img" or "text2img", from the pipeline's class."""
    return "img2img" if "Img2Img" in type(pipe).__name__ else "text2img"


def switch_task(pipe, task: str):
    """The same model for another task ("text2img" or "img2img"), sharing its weights: nothing is reloaded."""
    task = check_choice("task", task, TASKS)
    if task_of(pipe) == task:
        return pipe
    auto = AutoPipelineForImage2Image if task == "img2img" else AutoPipelineForText2Image
    new = auto.from_pipe(pipe)
    for name in ("course_model", "course_device", "_progress_bar_config"):
        if hasattr(pipe, name):
            setattr(new, name, getattr(pipe, name))
    settings = getattr(pipe, "course_device", None)
    if settings is not None and settings.cpu_offload:
        new.enable_model_cpu_offload(device=settings.device)
    return new
