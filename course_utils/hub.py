"""The Hugging Face Hub, offline-aware: which model names are Hub ids, whether the Hub can be reached, and the
course's errors, with what to do instead, for a model that can't be loaded here.

    from course_utils.hub import CourseModelError, ModelOfflineError, ModelNotFoundError
"""

from __future__ import annotations

import os
import re
from pathlib import Path

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


class CourseModelError(RuntimeError):
    """A model the course cannot load here; the message says why and what to use instead."""


class ModelOfflineError(CourseModelError):
    """A Hub model that cannot be downloaded now (offline, or the connection failed) and is not cached."""


class ModelNotFoundError(CourseModelError, FileNotFoundError):
    """A local folder that is missing or is not a diffusers pipeline."""


def hub_offline() -> bool:
    """Is the Hub switched off here (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE)?"""
    from huggingface_hub import constants

    flags = [os.environ.get(name, "").strip().lower() for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")]
    return any(flag in ("1", "true", "yes", "on") for flag in flags) or bool(constants.HF_HUB_OFFLINE)


def is_cached(repo_id: str) -> bool:
    """Is the pipeline `repo_id` in the local Hub cache?"""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "model_index.json"), str)


def offline_message(model: str, why: str) -> str:
    """What to say when `model` can't be downloaded now, and what to use instead."""
    return (
        f"can't load {model!r}: {why}: use the bundled model instead, load_pipeline('mini'), which works "
        f"offline; or, with internet access, unset HF_HUB_OFFLINE and run once to download {model!r} to the "
        f"cache (if you meant a folder: there is no folder {str(Path(model).absolute())!r})"
    )


def explain_load_error(model: str, error: BaseException) -> Exception | None:
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
                offline_message(model, "the download failed (no connection to the Hub)")
            )
        text = str(error)
        if "safetensors" in text and ("not find" in text or "not found" in text):
            return CourseModelError(
                f"{model!r} has no safetensors weights, and the course loads only safetensors (pickled .bin "
                "files can run code when they load): pick a checkpoint that ships .safetensors, or use 'mini'"
            )
        error = error.__cause__ or error.__context__
    return None
