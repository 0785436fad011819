"""Load a Stable Diffusion pipeline the course can use anywhere, and generate pictures with checked arguments.

    from course_utils.pipeline import load_pipeline, generate
    pipe = load_pipeline("mini")                       # the bundled model; or a folder, or a Hub id on a GPU
    images = generate(pipe, "a large red circle on a blue background", n=4, seed=0)

`load_pipeline` picks the dtype and memory savers that suit the device (`settings.plan_settings`), loads
only safetensors weights and never runs code from the Hub. Offline, a Hub id that is not in the local cache
raises `ModelOfflineError`, whose message offers the bundled "mini" model instead.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import warnings
from pathlib import Path

import torch
from PIL import Image

from . import runtime, seeds
from .checks import (
    check_choice,
    check_count,
    check_guidance,
    check_negative,
    check_prompts,
    check_seed_range,
    check_side,
    check_steps,
    check_strength,
)
from .display import load_image
from .settings import Settings, apply_settings, memory_for, plan_settings, resolve_device, resolve_dtype

__all__ = [
    "SCHEDULERS",
    "TASKS",
    "CourseModelError",
    "ModelNotFoundError",
    "ModelOfflineError",
    "Settings",
    "generate",
    "load_image",
    "load_pipeline",
    "plan_settings",
    "scheduler_name",
    "set_scheduler",
    "switch_task",
    "task_of",
]

TASKS = ("text2img", "img2img")
SCHEDULERS = {
    "ddim": "DDIMScheduler",
    "dpm++": "DPMSolverMultistepScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler_a": "EulerAncestralDiscreteScheduler",
    "lms": "LMSDiscreteScheduler",
    "pndm": "PNDMScheduler",
    "ddpm": "DDPMScheduler",
}
_ALIASES = {"dpm": "dpm++", "dpmpp": "dpm++", "euler-a": "euler_a", "euler_ancestral": "euler_a"}
DEFAULT_SCHEDULER = "euler"


class CourseModelError(RuntimeError):
    """A model the course cannot load here; the message says why and what to use instead."""


class ModelOfflineError(CourseModelError):
    """A Hub model that cannot be downloaded now (offline, or the connection failed) and is not cached."""


class ModelNotFoundError(CourseModelError, FileNotFoundError):
    """A local folder that is missing or is not a diffusers pipeline."""


@contextlib.contextmanager
def _quiet_loading():
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


with _quiet_loading():
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForText2Image, DiffusionPipeline
    from diffusers.utils import deprecation_utils

# diffusers renamed from_pretrained's `torch_dtype` to `dtype` (0.36-ish); use whichever this version knows
_DTYPE_ARG = "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"

# ---------------------------------------------------------------- loading

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


def _hub_offline() -> bool:
    from huggingface_hub import constants

    flags = [os.environ.get(name, "").strip().lower() for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")]
    return any(flag in ("1", "true", "yes", "on") for flag in flags) or bool(constants.HF_HUB_OFFLINE)


def _is_cached(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "model_index.json"), str)


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
    if _HUB_ID.match(model):
        return model, model, False
    raise ModelNotFoundError(
        f"there is no folder {str(folder.absolute())!r}, and {model!r} is not a Hub id (owner/name): "
        "check the path, or use model='mini' for the bundled model"
    )


def _offline_message(model: str, why: str) -> str:
    return (
        f"can't load {model!r}: {why}. Use the bundled model instead, load_pipeline('mini'), which works "
        f"offline; or, with internet access, unset HF_HUB_OFFLINE and run once to download {model!r} to the "
        f"cache. (If you meant a folder: there is no folder {str(Path(model).absolute())!r}.)"
    )


def _explain_load_error(model: str, error: BaseException) -> Exception | None:
    """A course error for a failed Hub download, or None if the failure is something else."""
    from huggingface_hub import errors as hub

    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (hub.RepositoryNotFoundError, hub.GatedRepoError)):
            return CourseModelError(
                f"the Hub has no model {model!r} that you can access: check the spelling, or accept its license "
                "on huggingface.co and log in (`hf auth login`); offline, use load_pipeline('mini')"
            )
        connection = (ConnectionError, TimeoutError, hub.LocalEntryNotFoundError, hub.OfflineModeIsEnabled)
        if isinstance(error, connection) or type(error).__name__ in (
            "ConnectError",
            "ConnectTimeout",
            "ReadTimeout",
        ):
            return ModelOfflineError(
                _offline_message(model, "the download failed (no connection to the Hub)")
            )
        text = str(error)
        if "safetensors" in text and ("not find" in text or "not found" in text):
            return CourseModelError(
                f"{model!r} has no safetensors weights. The course loads only safetensors (pickled .bin files "
                "can run code when they load): pick a checkpoint that ships .safetensors, or use 'mini'"
            )
        error = error.__cause__ or error.__context__
    return None


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
    device, dtype: None picks the best device and the dtype that suits it (`runtime.preferred_dtype`).
    scheduler: None for the course default "euler", "model" for the checkpoint's own, or a name in SCHEDULERS.
    low_memory, compile: see `settings.plan_settings`; the choice is in `pipe.course_settings`.
    safety_checker: a checkpoint that ships a safety checker keeps it unless you pass False; models without
        one (like "mini") load without it, and without warnings.
    Weights load from safetensors only, and no code from the Hub is ever run.
    """
    task = check_choice("task", task, TASKS)
    keep_scheduler = isinstance(scheduler, str) and scheduler.strip().lower() == "model"
    scheduler = (
        None if keep_scheduler else _scheduler_key(DEFAULT_SCHEDULER if scheduler is None else scheduler)
    )
    device = resolve_device(device)
    dtype = resolve_dtype(dtype) or runtime.preferred_dtype(device)
    label, source, local = _resolve_model(model)
    kwargs = {_DTYPE_ARG: dtype, "use_safetensors": True}
    if safety_checker is False:
        kwargs["safety_checker"] = None
    if not local:
        offline = _hub_offline()
        if offline and not _is_cached(source):
            why = "the Hugging Face Hub is offline here (HF_HUB_OFFLINE) and the model is not in the local cache"
            raise ModelOfflineError(_offline_message(label, why))
        kwargs["local_files_only"] = offline
    auto = AutoPipelineForImage2Image if task == "img2img" else AutoPipelineForText2Image
    try:
        with _quiet_loading():
            pipe = auto.from_pretrained(source, **kwargs)
    except Exception as error:
        explained = None if local else _explain_load_error(label, error)
        if explained is None:
            raise
        raise explained from error
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
    if scheduler is not None:
        set_scheduler(pipe, scheduler)
    pipe.set_progress_bar_config(disable=True)
    pipe.course_model, pipe.course_settings = label, settings
    return pipe


# ---------------------------------------------------------------- schedulers and tasks


def _scheduler_key(name) -> str:
    if isinstance(name, str):
        name = _ALIASES.get(name.strip().lower(), name)
    return check_choice("scheduler", name, tuple(SCHEDULERS))


def set_scheduler(pipe, name: str):
    """Swap `pipe`'s scheduler for the one called `name` (see SCHEDULERS), keeping the noise schedule."""
    import diffusers

    key = _scheduler_key(name)
    config = pipe.scheduler.config
    extra = {"clip_sample": False} if key in ("ddim", "ddpm") and "clip_sample" not in config else {}
    # (latents are not images in [-1, 1]: DDIM and DDPM must not clip them, whatever their defaults say)
    pipe.scheduler = getattr(diffusers, SCHEDULERS[key]).from_config(config, **extra)
    return pipe


def scheduler_name(pipe) -> str:
    """The course's name for `pipe`'s scheduler ("dpm++", "euler", ...), or its class name if it has none."""
    names = {cls: key for key, cls in SCHEDULERS.items()}
    return names.get(type(pipe.scheduler).__name__, type(pipe.scheduler).__name__)


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
    for name in ("course_model", "course_settings", "_progress_bar_config"):
        if hasattr(pipe, name):
            setattr(new, name, getattr(pipe, name))
    settings = getattr(pipe, "course_settings", None)
    if settings is not None and settings.cpu_offload:
        new.enable_model_cpu_offload(device=settings.device)
    return new


# ---------------------------------------------------------------- generation


def _native_size(pipe) -> tuple[int, int]:
    size = pipe.unet.config.sample_size
    h, w = (size, size) if isinstance(size, int) else size
    return int(h) * pipe.vae_scale_factor, int(w) * pipe.vae_scale_factor


def _fit(image: Image.Image, height, width, native: tuple[int, int], multiple: int) -> Image.Image:
    """Resize an img2img input to height x width; a missing side keeps the image's shape, and with neither
    given the longer side becomes the model's own size."""
    w, h = image.size
    if height is None or width is None:
        if height is not None:
            scale = height / h
        elif width is not None:
            scale = width / w
        else:
            scale = max(native) / max(w, h)
        height = height or max(multiple, multiple * round(h * scale / multiple))
        width = width or max(multiple, multiple * round(w * scale / multiple))
    return image if image.size == (width, height) else image.resize((width, height), Image.Resampling.LANCZOS)


def generate(
    pipe,
    prompt,
    negative_prompt=None,
    steps: int = 20,
    guidance: float = 7.5,
    seed: int = 0,
    n: int = 1,
    height: int | None = None,
    width: int | None = None,
    image=None,
    strength: float = 0.6,
    scheduler: str | None = None,
) -> list[Image.Image]:
    """Generate `n` images per prompt and return them as a list of PIL images.

    Image k uses its own CPU generator seeded with seed + k, so `generate(..., seed=seed + k, n=1)` redraws it
    alone. Pass `image` (a path or a PIL image, or a list with one per prompt) for image-to-image with
    `strength` (0 keeps the image, 1 ignores it); a text-to-image pipeline switches over without reloading.
    `scheduler` swaps the sampler for this call only. Each image carries its settings in
    `image.info["course_settings"]`, which `display.save_image` writes into the PNG.
    """
    if not isinstance(pipe, DiffusionPipeline):
        raise TypeError(
            f"pipe must be a loaded pipeline, not {type(pipe).__name__}: first run pipe = load_pipeline('mini')"
        )
    prompts = check_prompts(prompt)
    negatives = check_negative(negative_prompt, len(prompts))
    steps, guidance, n = check_steps(steps), check_guidance(guidance), check_count(n)
    seed = check_seed_range(seed, len(prompts) * n)
    multiple = math.lcm(8, int(pipe.vae_scale_factor))
    height = None if height is None else check_side("height", height, multiple)
    width = None if width is None else check_side("width", width, multiple)
    key = None if scheduler is None else _scheduler_key(scheduler)
    settings = {"steps": steps, "guidance": guidance}
    if image is not None:
        strength = check_strength(strength, steps)
        several = isinstance(image, (list, tuple))
        if several and len(image) != len(prompts):
            raise ValueError(
                f"{len(image)} images for {len(prompts)} prompt(s): give one image per prompt (a list of both), "
                "or a single image"
            )
        inits = [_fit(load_image(im), height, width, _native_size(pipe), multiple)
                 for im in (image if several else [image])]
        runner = switch_task(pipe, "img2img")
        # a list: each prompt's image, repeated for its n pictures (the pipeline's order: prompt 0's n first)
        extra = {"image": [im for im in inits for _ in range(n)] if several else inits[0], "strength": strength}
        settings["strength"] = strength
        if isinstance(image, (str, os.PathLike)):
            settings["image"] = str(image)
    elif task_of(pipe) == "img2img":
        raise ValueError(
            "this is an image-to-image pipeline: pass image=... (a path or a PIL image), "
            "or make a text-to-image one with switch_task(pipe, 'text2img')"
        )
    else:
        runner = pipe
        native_h, native_w = _native_size(pipe)
        extra = {"height": height or native_h, "width": width or native_w}
    generators = [seeds.generator(seed + k) for k in range(len(prompts) * n)]
    previous = runner.scheduler
    try:
        if key is not None:
            set_scheduler(runner, key)
        settings["scheduler"] = scheduler_name(runner)
        output = runner(
            prompt=prompts,
            negative_prompt=negatives,
            num_inference_steps=steps,
            guidance_scale=guidance,
            num_images_per_prompt=n,
            generator=generators,
            **extra,
        )
    finally:
        runner.scheduler = previous
    images = list(output.images)
    flagged = sum(map(bool, getattr(output, "nsfw_content_detected", None) or []))
    if flagged:
        warnings.warn(f"the safety checker blacked out {flagged} of {len(images)} images", stacklevel=2)
    model = getattr(pipe, "course_model", None) or pipe.config.get("_name_or_path")
    for k, picture in enumerate(images):
        picture.info["course_settings"] = {
            "prompt": prompts[k // n],
            "negative_prompt": negatives[k // n] if negatives else None,
            "seed": seed + k,
            **settings,
            "height": picture.height,
            "width": picture.width,
            "model": model,
        }
    return images
