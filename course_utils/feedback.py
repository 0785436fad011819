"""Ratings of generated pictures, kept as an image-folder dataset that 🤗 datasets reads as it is.

    from course_utils.feedback import FeedbackStore
    store = FeedbackStore("outputs/feedback")
    store.add(picture, "up")              # the picture's settings (prompt, seed, ...) come with it
    store.entries()                       # [{"file_name": "images/000000.png", "rating": "up", "prompt": ...}]
    # later, anywhere: datasets.load_dataset("imagefolder", data_dir="outputs/feedback")

The folder holds the PNGs in ``images/`` and one line of JSON per rating in ``metadata.jsonl``, the layout of
the ``imagefolder`` loader (``file_name`` names the picture, every other key becomes a column).

It is append-only, and a crash never costs an accepted entry or leaves a broken line. ``add`` writes the PNG
to a temporary name, flushes it to disk and renames it into place; then it appends the entry's line with a
single write and flushes that too. Only then does it return: an entry it returned is on disk for good. A
process killed half-way leaves at most a PNG without a line (never listed) or a line cut short, which the next ``FeedbackStore`` on that folder cuts off before appending.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from .images import to_pil
from .provenance import SETTINGS_KEY, check_json

RATINGS = ("up", "down")
METADATA = "metadata.jsonl"
IMAGES = "images"


class FeedbackStore:
    """An append-only image-folder dataset of rated pictures in ``folder`` (created if missing)."""

    def __init__(self, folder):
        self.folder = Path(folder).expanduser()
        (self.folder / IMAGES).mkdir(parents=True, exist_ok=True)
        self.metadata = self.folder / METADATA
        self.metadata.touch()
        self._repair()
        self._count = len(self.entries())

    def _repair(self) -> None:
        """Cut off a last line that a killed writer left unfinished (it was never accepted)."""
        data = self.metadata.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with open(self.metadata, "r+b") as f:
                f.truncate(keep)
                f.flush()
                os.fsync(f.fileno())

    def __len__(self) -> int:
        return self._count

    def entries(self) -> list[dict]:
        """Every accepted entry, oldest first."""
        lines = self.metadata.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def add(self, image, rating: str, **settings) -> dict:
        """Save ``image`` with ``rating`` ("up" or "down") and its settings; return the entry once it is on disk.

        The settings are those ``generate`` attached to the picture (prompt, negative_prompt, seed, steps,
        guidance, scheduler, model, ...), updated with the keyword arguments given here (e.g. strength=0.6).
        """
        if rating not in RATINGS:
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        picture = to_pil(image)
        merged = {**picture.info.get(SETTINGS_KEY, {}), **settings}
        for key, value in merged.items():
            if key in ("file_name", "rating"):
                raise ValueError(f"{key!r} is the store's own column: give the setting another name")
            check_json(key, value)
        # numbered in order, with a random tail so that two kernels writing to one folder never collide
        name = f"{IMAGES}/{self._count:06d}-{uuid.uuid4().hex[:8]}.png"
        target = self.folder / name
        partial = target.with_suffix(".png.partial")
        with open(partial, "wb") as f:
            picture.save(f, format="PNG")
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, target)
        entry = {"file_name": name, "rating": rating, **merged}
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        fd = os.open(self.metadata, os.O_WRONLY | os.O_APPEND)
        try:
            written = os.write(fd, line)
            if written != len(line):  # a full disk, say: leave no half line behind
                os.ftruncate(fd, os.fstat(fd).st_size - written)
                raise OSError(f"could only write {written} of {len(line)} bytes to {self.metadata}")
            os.fsync(fd)
        finally:
            os.close(fd)
        self._count += 1
        return entry

    def liked(self, **where) -> list[tuple]:
        """(picture, prompt) of every entry rated "up": what a fine-tune on the liked pictures trains on.

        ``where`` keeps only the entries whose columns have these values, e.g. ``liked(rater="you")``."""
        from PIL import Image

        pairs = []
        for entry in self.entries():
            if entry["rating"] == "up" and all(entry.get(key) == value for key, value in where.items()):
                with Image.open(self.folder / entry["file_name"]) as im:
                    pairs.append((im.convert("RGB"), entry.get("prompt", "")))
        return pairs
