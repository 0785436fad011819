"""The bundled mini Stable Diffusion: the code that builds and trains it (``model``, ``train``, ``evaluate``).

Its weights are a diffusers folder of their own, ``course_utils/weights/mini/`` (model_index.json, unet/, vae/,
...), with the model card and the logs of the runs that made them; ``mini_path()`` finds it.
"""

from pathlib import Path

MINI_DIR = Path(__file__).resolve().parent.parent / "weights" / "mini"


def mini_path() -> Path:
    """The folder that holds the bundled model (model_index.json, unet/, vae/, ...)."""
    if not (MINI_DIR / "model_index.json").exists():
        raise FileNotFoundError(
            f"the bundled mini model is not in {MINI_DIR}: reinstall the course package, or train it with "
            "`make mini MINI_ARGS=--replace-bundled` (python -m course_utils.mini.train --replace-bundled)"
        )
    return MINI_DIR
