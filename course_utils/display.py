"""Show and compare images: grids with titles, notebook figures, plots of measured numbers.

    from course_utils.display import show, image_grid, compare, plot
    show(images, titles=["seed 0", "seed 1"])          # a figure; 64-px images are enlarged, pixels kept sharp
    grid = image_grid(images, cols=4, titles=prompts)  # one PIL image
    compare(before, after)                             # side by side, labelled

Images may be PIL images, NumPy arrays or torch tensors (HWC or CHW; floats in [0, 1], or [-1, 1] when
they have negative values, as a VAE returns them): `images.to_pil` reads them.
"""

from __future__ import annotations

import functools
import io
import math
import textwrap

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .images import to_pil, to_rgb

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
        im = to_rgb(im)
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
            ax.imshow(np.asarray(to_rgb(im)), interpolation="nearest")
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
