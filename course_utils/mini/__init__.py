"""The bundled mini Stable Diffusion: a diffusers folder that ships inside this package."""

from pathlib import Path

MINI_DIR = Path(__file__).resolve().parent


def mini_path() -> Path:
    """The folder that holds the bundled model (model_index.json, unet/, vae/, ...)."""
    if not (MINI_DIR / "model_index.json").exists():
        raise FileNotFoundError(
            f"The bundled mini model is not in {MINI_DIR}. Train it with `make mini` "
            "(python -m course_utils.mini.train), or reinstall the course package."
        )
    return MINI_DIR
