"""Re-execute notebooks in place (what `make notebooks` does) and write each lesson's thumbnail for the README.

A learner's notebook holds no maintainer code: the cell after which the thumbnail can be drawn carries the cell
tag `thumbnail` (metadata, invisible in the lesson), and the code that draws it lives here, in THUMBNAILS. While
the notebook runs, that code runs in the same kernel right after the tagged cell, with `_THUMBNAIL_PATH` set to
images/<notebook name>.png; it leaves no cell, no output and no execution count in the notebook. `make test`
(nbval) never runs this file, so the committed pictures change only when `make notebooks` runs.

    python tools/run_notebooks.py notebooks/*.ipynb
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TAG = "thumbnail"
IMAGES = Path(__file__).resolve().parents[1] / "images"

# notebook name → the code that writes its thumbnail to _THUMBNAIL_PATH, run right after the cell tagged TAG.
# It reads the lesson's own variables; the drawing settings are those the README's pictures were made with.
_DIGIT_STRIP = """
from matplotlib.figure import Figure as _Figure
_thumb = _Figure(figsize=({w} * {cols}, {h} * 3))
for _ax, _tile, _title in zip(_thumb.subplots(3, {cols}).flat, {tiles}, {titles}, strict=False):
    _ax.imshow({pixels}[0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    _ax.set_title({title_text}, fontsize=9)
    _ax.axis("off")
_thumb.suptitle({suptitle!r})
_thumb.tight_layout()
_thumb.savefig(_THUMBNAIL_PATH, dpi=80)
"""

THUMBNAILS = {
    "00_first_image": 'display.image_grid(firsts, titles=FIRSTS, cols=4, scale=3).save(_THUMBNAIL_PATH)',
    "01_finite_differencing": _DIGIT_STRIP.format(
        w=1.6, h=1.9, cols="len(snapshots)", tiles="tiles", titles="titles", pixels="_tile",
        title_text='_title.replace("\\n", " · ")', suptitle="Climbing P(digit) from noise"),
    "02_noise_prediction": _DIGIT_STRIP.format(
        w=1.5, h=1.75, cols="len(strip)", tiles="tiles", titles="strip_titles * 3", pixels="to_unit(_tile)",
        title_text="_title", suptitle="From pure noise to digits, one denoising step at a time"),
    "03_autoencoders": """
from matplotlib.figure import Figure as _Figure
_rows, _cols = [0, 3, 5], len(BOTTLENECKS) + 1
_thumb = _Figure(figsize=(1.6 * _cols, 1.65 * len(_rows) + 0.5))
_tiles = [(test_x[i], "original") if c is None else (sweep[c][i], f"8×8×{c} latent")
          for i in _rows for c in (None,) + BOTTLENECKS]
for _k, (_ax, (_tile, _title)) in enumerate(zip(_thumb.subplots(len(_rows), _cols).flat, _tiles, strict=True)):
    _ax.imshow(tensor_to_pil(_tile), interpolation="nearest")
    if _k < _cols:  # column titles on the top row only
        _ax.set_title(_title, fontsize=10)
    _ax.axis("off")
_thumb.suptitle("An autoencoder's reconstructions, from 1 to 8 latent channels")
_thumb.tight_layout()
_thumb.savefig(_THUMBNAIL_PATH, dpi=80)
""",
    "04_latents": 'channels_fig.savefig(_THUMBNAIL_PATH, dpi=80, bbox_inches="tight")',
    "05_clip": 'fig.savefig(_THUMBNAIL_PATH, dpi=80, bbox_inches="tight")',
    **{name: "thumbnail.save(_THUMBNAIL_PATH)" for name in (
        "06_guidance", "07_img2img", "08_fine_tuning", "09_textual_inversion", "10_dreambooth", "11_lora",
        "12_app")},
}


class ThumbnailClient(NotebookClient):
    """A NotebookClient that runs `code` right after the cell tagged TAG, outside the notebook."""

    def __init__(self, nb, code: str | None, **kwargs):
        super().__init__(nb, **kwargs)
        self.thumbnail_code, self.thumbnail_written = code, False

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if self.thumbnail_code and TAG in cell.get("metadata", {}).get("tags", []):
            # nbclient writes a cell's outputs into self.nb.cells[index]: run the code as a cell of its own at the
            # end of the notebook, then take it out again
            self.nb.cells.append(nbformat.v4.new_code_cell(self.thumbnail_code))
            try:
                await super().async_execute_cell(self.nb.cells[-1], len(self.nb.cells) - 1,
                                                 store_history=False)  # raises on an error
            finally:
                self.nb.cells.pop()
            self.code_cells_executed -= 1  # the notebook's execution counts stay as if it had not run
            self.thumbnail_written = True
        return cell


def run(path: Path, images: Path = IMAGES) -> Path | None:
    """Execute `path` in place; return the thumbnail written (None when the notebook has none)."""
    nb = nbformat.read(path, as_version=4)
    code = THUMBNAILS.get(path.stem)
    out = images / f"{path.stem}.png"
    tagged = sum(TAG in c.get("metadata", {}).get("tags", []) for c in nb.cells)
    if code is not None and tagged != 1:
        raise SystemExit(f"{path}: {tagged} cells tagged {TAG!r}; the thumbnail needs exactly one")
    if code is not None:
        code = f"_THUMBNAIL_PATH = {str(out)!r}\n{code}\ndel _THUMBNAIL_PATH\n"
    client = ThumbnailClient(nb, code, timeout=None, kernel_name="python3",
                             resources={"metadata": {"path": str(path.parent.resolve())}})
    client.execute()
    nbformat.write(nb, path)
    return out if client.thumbnail_written else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.notebooks:
        start = time.perf_counter()
        thumbnail = run(path)
        note = f", wrote {thumbnail.relative_to(IMAGES.parent)}" if thumbnail else ""
        print(f"== {path}: {time.perf_counter() - start:.0f} s{note}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
