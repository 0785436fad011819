"""Show, compare, load and save images: grids with titles, notebook figures, PNGs that remember their settings.

    from course_utils.display import show, image_grid, compare, save_image, load_settings
    show(images, titles=["seed 0", "seed 1"])          # a figure; 64-px images are enlarged, pixels kept sharp
    save_image(images[0], "out/circle.png")            # generate()'s settings go into the PNG's text chunks
    load_settings("out/circle.png")["seed"]            # -> 0

Images may be PIL images, NumPy arrays or torch tensors (HWC or CHW; floats in [0, 1], or [-1, 1] when
they have negative values, as a VAE returns them).
"""

from __future__ import annotations

import functools
import io
import json
import math
import os
import textwrap
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from .checks import check_side

SETTINGS_KEY = "course_settings"  # where generate() leaves its settings in image.info


# ---------------------------------------------------------------- converting and loading


def to_pil(image) -> Image.Image:
    """A PIL image from a PIL image, a NumPy array or a torch tensor (see the module's docstring)."""
    if isinstance(image, Image.Image):
        return image
    if hasattr(image, "detach"):  # a torch tensor, without importing torch here
        image = image.detach().cpu().float().numpy()
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a PIL image, a NumPy array or a torch tensor, not {type(image).__name__}")
    array = image
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = array.transpose(1, 2, 0)  # CHW -> HWC
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ValueError(
            f"can't show an array of shape {image.shape} as an image: use (H, W), (H, W, 3) or (3, H, W)"
        )
    if array.dtype != np.uint8:
        array = array.astype(np.float64)
        if array.min() < 0:
            array = (array + 1) / 2
        array = (np.clip(array, 0, 1) * 255).round().astype(np.uint8)
    return Image.fromarray(array)


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB, with transparent parts (RGBA, LA, palette with transparency) laid on white rather than black."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def load_image(path_or_image, size=None) -> Image.Image:
    """An RGB PIL image from a path, a URL, a PIL image or an array; `size` (an int for a square, or
    (width, height), multiples of 8) resizes it. Transparent, grayscale and palette images become RGB."""
    from diffusers.utils import load_image as diffusers_load_image

    if isinstance(path_or_image, (str, os.PathLike)):
        text = os.fspath(path_or_image)
        if not text.startswith(("http://", "https://")):
            path = Path(text).expanduser()
            if not path.is_file():
                where = "is a folder, not an image" if path.is_dir() else "does not exist"
                raise FileNotFoundError(
                    f"no image at {text!r}: {path.absolute()} {where}. Check the file name; a relative path "
                    f"starts from the current folder, {Path.cwd()}"
                )
            text = str(path)
        try:
            image = diffusers_load_image(text, convert_method=lambda im: im)
        except UnidentifiedImageError:
            raise ValueError(
                f"{text!r} is not an image file that Pillow can read: use a PNG or JPEG"
            ) from None
    else:
        image = to_pil(path_or_image)
    image = _to_rgb(image)
    if size is not None:
        width, height = (size, size) if isinstance(size, int) and not isinstance(size, bool) else tuple(size)
        target = (check_side("width", width), check_side("height", height))
        if image.size != target:
            image = image.resize(target, Image.Resampling.LANCZOS)
    return image


# ---------------------------------------------------------------- grids


def _layout(count: int, rows: int | None, cols: int | None) -> tuple[int, int]:
    for name, value in (("rows", rows), ("cols", cols)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a whole number >= 1, not {value!r}")
    if rows is None and cols is None:
        cols = (
            count
            if count <= 6
            else next(
                (c for c in range(math.ceil(math.sqrt(count)), 9) if count % c == 0),
                math.ceil(math.sqrt(count)),
            )
        )
    if cols is None:
        cols = math.ceil(count / rows)
    if rows is None:
        rows = math.ceil(count / cols)
    if rows * cols < count:
        raise ValueError(
            f"{rows} rows x {cols} cols hold {rows * cols} images, not {count}: leave one of them out"
        )
    return rows, cols


def _as_list(images) -> list[Image.Image]:
    if isinstance(images, (list, tuple)):
        items = [to_pil(im) for im in images]
    else:
        items = [to_pil(images)]
    if not items:
        raise ValueError("no images to show: the list is empty")
    return items


def _titles(titles, count: int) -> list[str] | None:
    if titles is None:
        return None
    if isinstance(titles, str):
        titles = [titles]
    titles = ["" if t is None else str(t) for t in titles]
    if len(titles) != count:
        raise ValueError(f"{len(titles)} titles for {count} images: give one title per image (or None)")
    return titles


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType
        return ImageFont.load_default()


def _wrap(draw, text: str, font, width: int, max_lines: int = 3) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] += "…"
    return lines


def image_grid(
    images, rows: int | None = None, cols: int | None = None, titles=None, scale: int = 1
) -> Image.Image:
    """One PIL image with the images in a grid (blank tiles fill the last row) and optional titles under
    each tile. Tiles take the size of the first image; `scale` enlarges them (nearest neighbour)."""
    from diffusers.utils import make_image_grid

    items = _as_list(images)
    titles = _titles(titles, len(items))
    rows, cols = _layout(len(items), rows, cols)
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a whole number >= 1, not {scale!r}")
    w, h = items[0].size
    w, h = w * scale, h * scale
    tiles = []
    for im in items:
        im = _to_rgb(im)
        if im.size != (w, h):
            bigger = im.width < w or im.height < h
            im = im.resize((w, h), Image.Resampling.NEAREST if bigger else Image.Resampling.LANCZOS)
        tiles.append(im)
    tiles += [Image.new("RGB", (w, h), "white")] * (rows * cols - len(tiles))
    grid = make_image_grid(tiles, rows=rows, cols=cols)
    if not titles:
        return grid
    font_size = max(10, min(18, w // 7))
    font = _font(font_size)
    probe = ImageDraw.Draw(grid)
    wrapped = [_wrap(probe, t, font, w - 4) for t in titles]
    line_height = font_size + 3
    strip = line_height * max(1, max(len(lines) for lines in wrapped)) + 4
    canvas = Image.new("RGB", (cols * w, rows * (h + strip)), "white")
    draw = ImageDraw.Draw(canvas)
    for r in range(rows):
        canvas.paste(grid.crop((0, r * h, cols * w, (r + 1) * h)), (0, r * (h + strip)))
    for i, lines in enumerate(wrapped):
        r, c = divmod(i, cols)
        y = r * (h + strip) + h + 2
        for line in lines:
            x = c * w + (w - draw.textlength(line, font=font)) / 2
            draw.text((x, y), line, fill="black", font=font)
            y += line_height
    return canvas


# ---------------------------------------------------------------- notebook figures


@functools.cache
def _figure_class():
    from matplotlib.figure import Figure

    class CourseFigure(Figure):
        """A figure that shows itself once in a notebook: when `show` has already displayed it, the same
        cell's output does not repeat it (a later cell that names it does show it)."""

        shown_in_cell = None

        def _ipython_display_(self):
            ip = _ipython()
            if ip is not None and self.shown_in_cell == ip.execution_count:
                return
            _display_png(self)

    return CourseFigure


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _png_bytes(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", dpi=fig.dpi)
    return buffer.getvalue()


def _display_png(fig) -> None:
    from IPython.display import Image as IPImage
    from IPython.display import display

    display(IPImage(data=_png_bytes(fig)))


def _present(fig):
    """Display `fig` now when running in IPython, and mark it so the cell's result does not repeat it."""
    ip = _ipython()
    if ip is not None:
        _display_png(fig)
        fig.shown_in_cell = ip.execution_count
    return fig


def show(images, titles=None, cols: int | None = None, scale: float = 4, suptitle: str | None = None):
    """Show images in a matplotlib figure (axes off, optional titles) and return the figure.

    `scale` is each tile's size in inches (the figure is kept within 16 inches wide); pixels are drawn
    with nearest-neighbour interpolation, so 64-px images come out large and sharp. In a notebook the figure
    is displayed at once; in a script, save it with fig.savefig(...).
    """
    items = _as_list(images)
    titles = _titles(titles, len(items))
    rows, cols = _layout(len(items), None, cols)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
        raise ValueError(f"scale is the size of each image in inches and must be > 0, not {scale!r}")
    scale = min(float(scale), 16 / cols)
    aspect = items[0].height / items[0].width
    title_space = 0.45 if titles else 0.1
    fig = _figure_class()(
        figsize=(cols * scale, rows * (scale * aspect + title_space) + (0.5 if suptitle else 0))
    )
    for i in range(rows * cols):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.axis("off")
        if i >= len(items):
            continue
        im = items[i]
        if im.mode in ("L", "1", "I", "F"):
            ax.imshow(np.asarray(im.convert("L")), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        else:
            ax.imshow(np.asarray(_to_rgb(im)), interpolation="nearest")
        if titles and titles[i]:
            width = max(8, int(scale * 9))
            ax.set_title("\n".join(textwrap.wrap(titles[i], width)[:3]), fontsize=10)
    if suptitle:
        fig.suptitle(suptitle, fontsize=12)
    fig.tight_layout()
    return _present(fig)


def compare(*images, labels=("before", "after"), scale: float = 4, suptitle: str | None = None):
    """Show images side by side with a label under each: compare(a, b), or any number, compare(a, b, c,
    labels=[...]). A single list also works: compare([a, b])."""
    if len(images) == 1 and isinstance(images[0], (list, tuple)):
        images = tuple(images[0])
    if len(images) < 2:
        raise ValueError("compare needs at least two images: compare(a, b)")
    if labels is not None and len(labels) != len(images):
        if tuple(labels) == ("before", "after"):
            labels = [str(i + 1) for i in range(len(images))]
        else:
            raise ValueError(f"{len(labels)} labels for {len(images)} images: give one label per image")
    return show(list(images), titles=labels, cols=len(images), scale=scale, suptitle=suptitle)


def plot(x, ys, xlabel: str = "", ylabel: str = "", title: str | None = None, scale: float = 4):
    """A line plot of measured numbers: `ys` is one list of values, or a dict {label: values} for several
    lines. Returns the figure (displayed at once in a notebook)."""
    series = ys if isinstance(ys, dict) else {None: ys}
    fig = _figure_class()(figsize=(1.5 * scale, scale))
    ax = fig.add_subplot(1, 1, 1)
    for label, values in series.items():
        if len(values) != len(x):
            raise ValueError(
                f"{len(values)} values for {len(x)} x positions{f' in {label!r}' if label else ''}"
            )
        ax.plot(list(x), list(values), marker="o", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if any(label is not None for label in series):
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _present(fig)


# ---------------------------------------------------------------- PNGs with settings


def _check_json(key: str, value, where: str = "") -> None:
    where = where or key
    if value is None or isinstance(value, (str, bool, int, float)):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(key, item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                raise TypeError(
                    f"setting {where!r} has a key {k!r} that is not a string: PNG settings need string keys"
                )
            _check_json(key, item, f"{where}.{k}")
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
        _check_json(key, value)
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
