"""The samplers: the course's short names for diffusers' schedulers, and swapping one into a pipeline.

    from course_utils.schedulers import SCHEDULERS, set_scheduler, scheduler_name
    set_scheduler(pipe, "dpm++")
    scheduler_name(pipe)          # -> "dpm++"
"""

from __future__ import annotations

from .checks import check_choice

SCHEDULERS = {
    "ddim": "DDIMScheduler",
    "dpm++": "DPMSolverMultistepScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler_a": "EulerAncestralDiscreteScheduler",
    "lms": "LMSDiscreteScheduler",
    "pndm": "PNDMScheduler",
    "ddpm": "DDPMScheduler",
}
ALIASES = {"dpm": "dpm++", "dpmpp": "dpm++", "euler-a": "euler_a", "euler_ancestral": "euler_a"}
DEFAULT_SCHEDULER = "euler"


def scheduler_key(name) -> str:
    """The key in SCHEDULERS for a name or an alias, any case ("DPM" -> "dpm++"), or ValueError listing them."""
    if isinstance(name, str):
        name = ALIASES.get(name.strip().lower(), name)
    return check_choice("scheduler", name, tuple(SCHEDULERS))


def set_scheduler(pipe, name: str):
    """Swap `pipe`'s scheduler for the one called `name` (see SCHEDULERS), keeping the noise schedule."""
    import diffusers

    key = scheduler_key(name)
    config = pipe.scheduler.config
    extra = {"clip_sample": False} if key in ("ddim", "ddpm") and "clip_sample" not in config else {}
    # (latents are not images in [-1, 1]: DDIM and DDPM must not clip them, whatever their defaults say)
    pipe.scheduler = getattr(diffusers, SCHEDULERS[key]).from_config(config, **extra)
    return pipe


def scheduler_name(pipe) -> str:
    """The course's name for `pipe`'s scheduler ("dpm++", "euler", ...), or its class name if it has none."""
    names = {cls: key for key, cls in SCHEDULERS.items()}
    return names.get(type(pipe.scheduler).__name__, type(pipe.scheduler).__name__)
