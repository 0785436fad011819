"""Provenance: the settings a picture was made with, kept beside it in `image.info` and in its PNG's text chunks.

    from course_utils.provenance import SETTINGS_KEY, save_image, load_settings
    image.info[SETTINGS_KEY]                           # what generate() used: prompt, seed, steps, ...
    save_image(images[0], "out/circle.png")            # those settings go into the PNG's text chunks
    load_settings("out/circle.png")["seed"]            # -> 0
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from .images import to_pil

SETTINGS_KEY = "course_settings"  # where generate() leaves a picture's settings in image.info


def check_json(key: str, value, where: str = "") -> None:
    """TypeError unless `value` can be stored as JSON in a PNG (text, numbers, bools, None, lists, dicts)."""
    where = where or key
    if value is None or isinstance(value, (str, bool, int, float)):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_json(key, item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                raise TypeError(
                    f"setting {where!r} has a key {k!r} that is not a string: PNG settings need string keys"
                )
            check_json(key, item, f"{where}.{k}")
        return
    raise TypeError(
        f"setting {where!r} is a {type(value).__name__} ({value!r}), which can't be stored in a PNG: use text, "
        "numbers, True/False, None, or lists and dicts of them, e.g. str(value) or int(value)"
    )


def save_image(image, path, **settings) -> Path:
    """Save `image` as a PNG at `path` (folders are created) with its settings in the PNG's text chunks.

    The settings are those `generate` attached to the image (prompt, negative_prompt, seed, steps, guidance,
    scheduler, model, ...) updated with the keyword arguments given here. Each is stored as JSON, so
    `load_settings` gives back the same types (tuples come back as lists). Returns the path written.
    """
    picture = to_pil(image)
    path = Path(path).expanduser()
    if path.suffix == "":
        path = path.with_suffix(".png")
    if path.suffix.lower() != ".png":
        raise ValueError(
            f"{path.name!r}: only PNG keeps the settings (JPEG would drop them): use a .png name"
        )
    merged = {**picture.info.get(SETTINGS_KEY, {}), **settings}
    info = PngInfo()
    for key, value in merged.items():
        if not 0 < len(key) < 80 or key != key.strip():
            raise ValueError(
                f"setting name {key!r} can't be a PNG text key: use 1 to 79 characters, no outer spaces"
            )
        check_json(key, value)
        info.add_itxt(key, json.dumps(value, ensure_ascii=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path, format="PNG", pnginfo=info)
    return path


def load_settings(path) -> dict:
    """The settings `save_image` wrote into a PNG, as a dict with their original types. Text chunks that
    other programs wrote, and that are not JSON, come back as plain strings."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no PNG at {str(path)!r} ({path.absolute()}): check the file name")
    with Image.open(path) as image:
        image.load()
        chunks = dict(getattr(image, "text", {}) or {})
    settings = {}
    for key, text in chunks.items():
        try:
            settings[key] = json.loads(text)
        except (json.JSONDecodeError, TypeError):
            settings[key] = str(text)
    return settings
