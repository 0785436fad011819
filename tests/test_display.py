"""course_utils.display: grids, figures, comparisons, plots, image loading, and PNGs that keep their settings.

No model needed: the images are drawn here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from course_utils import display
from course_utils.display import compare, image_grid, plot, show
from course_utils.images import load_image, to_pil
from course_utils.provenance import load_settings, save_image

COLOURS = ["red", "green", "blue", "yellow", "purple"]


@pytest.fixture
def tiles():
    return [Image.new("RGB", (64, 64), c) for c in COLOURS]


# ---------------------------------------------------------------- grids


def test_grid_pads_the_last_row_with_blank_tiles(tiles):
    grid = image_grid(tiles[:3], cols=2)
    assert grid.size == (128, 128)
    assert grid.getpixel((100, 100)) == (255, 255, 255)  # the blank fourth tile
    assert grid.getpixel((10, 74)) == (0, 0, 255)  # the third tile starts the second row


def test_grid_layout_defaults_and_checks(tiles):
    assert image_grid(tiles).size == (5 * 64, 64)  # up to six in one row
    assert image_grid(tiles * 2 + tiles[:2]).size == (4 * 64, 3 * 64)  # twelve: 4 x 3
    assert image_grid(tiles, rows=5).size == (64, 5 * 64)
    with pytest.raises(ValueError, match="hold 4 images, not 5"):
        image_grid(tiles, rows=2, cols=2)
    with pytest.raises(ValueError, match="rows must be a whole number"):
        image_grid(tiles, rows=0)
    with pytest.raises(ValueError, match="empty"):
        image_grid([])


def test_grid_titles_scale_and_mixed_sizes(tiles, tmp_path):
    images = tiles[:3] + [Image.new("RGB", (32, 32), "orange")]
    titles = ["red circle", "guidance 7.5", "a long title that needs wrapping on tiles", None]
    grid = image_grid(images, cols=4, titles=titles, scale=3)
    assert grid.width == 4 * 192 and grid.height > 192  # a strip for the titles under the tiles
    strip = np.asarray(grid)[192:, :192]
    assert (strip < 128).any(), "the title is drawn in dark ink"
    assert grid.getpixel((3 * 192 + 5, 5)) == Image.new("RGB", (1, 1), "orange").getpixel((0, 0))
    grid.save(tmp_path / "grid.png")
    with pytest.raises(ValueError, match="3 titles for 4 images"):
        image_grid(images, titles=titles[:3])


def test_grid_accepts_arrays_and_tensors():
    array = np.zeros((64, 64, 3), dtype=np.uint8)
    tensor = torch.ones(3, 64, 64)  # CHW in [0, 1]
    vae_like = -torch.ones(1, 3, 64, 64)  # a batch of one in [-1, 1]
    grid = image_grid([array, tensor, vae_like])
    assert grid.getpixel((1, 1)) == (0, 0, 0) and grid.getpixel((65, 1)) == (255, 255, 255)
    assert grid.getpixel((129, 1)) == (0, 0, 0)
    with pytest.raises(ValueError, match="can't show an array of shape"):
        to_pil(np.zeros((2, 2, 7)))
    with pytest.raises(TypeError, match="PIL image, a NumPy array or a torch tensor"):
        to_pil("red.png")


# ---------------------------------------------------------------- figures


def test_show_draws_sharp_titled_tiles(tiles):
    fig = show(tiles[:3], titles=["a", "b", "c"], suptitle="three colours")
    axes = [ax for ax in fig.axes if ax.images]
    assert len(axes) == 3 and all(not ax.axison for ax in fig.axes)
    assert [ax.get_title() for ax in axes] == ["a", "b", "c"]
    assert all(ax.images[0].get_interpolation() == "nearest" for ax in axes)
    assert fig._suptitle.get_text() == "three colours"
    assert fig.get_size_inches()[0] == pytest.approx(12)  # 3 tiles x 4 inches


def test_show_keeps_wide_figures_within_16_inches(tiles):
    fig = show(tiles * 2, cols=10)
    assert fig.get_size_inches()[0] <= 16
    fig = show(tiles[0])  # one image, not in a list
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match="inches"):
        show(tiles, scale=0)


def test_show_displays_once_in_a_notebook(tiles, monkeypatch):
    shown = []

    class FakeShell:
        execution_count = 7

    monkeypatch.setattr(display, "_ipython", lambda: FakeShell())
    monkeypatch.setattr(display, "_display_png", lambda fig: shown.append(fig))
    fig = show(tiles[:2])
    assert shown == [fig]
    fig._ipython_display_()  # the same cell's result: not shown again
    assert shown == [fig]
    FakeShell.execution_count = 8
    fig._ipython_display_()  # named again in a later cell: shown
    assert shown == [fig, fig]


def test_compare_any_number_of_images(tiles):
    fig = compare(tiles[0], tiles[1])
    assert [ax.get_title() for ax in fig.axes] == ["before", "after"]
    fig = compare(*tiles[:3])
    assert [ax.get_title() for ax in fig.axes] == ["1", "2", "3"]
    fig = compare(tiles[:3], labels=["guidance 1", "guidance 3", "guidance 7.5"])
    assert fig.axes[2].get_title() == "guidance 7.5"
    with pytest.raises(ValueError, match="at least two"):
        compare(tiles[0])
    with pytest.raises(ValueError, match="one label per image"):
        compare(*tiles[:3], labels=["x"])


def test_plot_lines_of_measured_numbers():
    fig = plot(
        [1, 3, 7.5], {"shape": [0.6, 0.8, 0.8], "colour": [0.8, 1, 1]}, "guidance", "accuracy", "Adherence"
    )
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and ax.get_xlabel() == "guidance" and ax.get_title() == "Adherence"
    assert len(plot([1, 2], [3, 4]).axes[0].lines) == 1
    with pytest.raises(ValueError, match="2 values for 3 x positions in 'shape'"):
        plot([1, 2, 3], {"shape": [1, 2]})


# ---------------------------------------------------------------- loading images


def test_load_image_converts_to_rgb(tmp_path):
    rgba = Image.new("RGBA", (64, 64), (255, 0, 0, 0))  # fully transparent red
    rgba.putpixel((0, 0), (0, 0, 255, 255))
    rgba.save(tmp_path / "rgba.png")
    loaded = load_image(tmp_path / "rgba.png")
    assert loaded.mode == "RGB"
    assert loaded.getpixel((5, 5)) == (255, 255, 255) and loaded.getpixel((0, 0)) == (0, 0, 255)
    Image.new("L", (64, 64), 128).save(tmp_path / "grey.png")
    assert load_image(str(tmp_path / "grey.png")).getpixel((1, 1)) == (128, 128, 128)
    palette = Image.new("RGB", (64, 64), "green").convert("P")
    assert load_image(palette).mode == "RGB"


def test_load_image_resizes_to_multiples_of_8(tmp_path):
    image = Image.new("RGB", (100, 50), "red")
    assert load_image(image, size=64).size == (64, 64)
    assert load_image(image, size=(96, 48)).size == (96, 48)
    with pytest.raises(ValueError, match="use width=64"):
        load_image(image, size=62)


def test_load_image_missing_path_says_what_to_do(tmp_path):
    missing = tmp_path / "sketches" / "circle.png"
    with pytest.raises(
        FileNotFoundError, match="no image at .*circle.png.*does not exist: check the file name"
    ):
        load_image(missing)
    with pytest.raises(FileNotFoundError, match="is a folder"):
        load_image(tmp_path)
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match="not an image file"):
        load_image(tmp_path / "notes.png")


# ---------------------------------------------------------------- PNG settings


def test_settings_round_trip_with_their_types(tmp_path):
    settings = {
        "prompt": "a large red circle · ünïcode ✓",
        "negative_prompt": None,
        "seed": 42,
        "steps": 20,
        "guidance": 7.5,
        "scheduler": "dpm++",
        "model": "mini",
        "quick": True,
        "sizes": [64, 64],
        "extra": {"strength": 0.6, "notes": ["a", "b"]},
    }
    path = save_image(Image.new("RGB", (64, 64), "red"), tmp_path / "new" / "folder" / "out.png", **settings)
    assert path.is_file()
    loaded = load_settings(path)
    assert loaded == settings
    assert type(loaded["seed"]) is int and type(loaded["guidance"]) is float and loaded["quick"] is True
    assert Image.open(path).getpixel((0, 0)) == (255, 0, 0)


def test_generate_settings_travel_with_the_image(tmp_path):
    image = Image.new("RGB", (64, 64), "blue")
    image.info["course_settings"] = {"prompt": "a blue square", "seed": 3, "steps": 20}
    path = save_image(image, tmp_path / "blue", seed=4)  # keyword arguments win; .png is added
    assert path.suffix == ".png"
    assert load_settings(path) == {"prompt": "a blue square", "seed": 4, "steps": 20}


def test_settings_of_unknown_types_are_refused(tmp_path):
    image = Image.new("RGB", (8, 8))
    with pytest.raises(TypeError, match="setting 'folder' is a PosixPath|setting 'folder' is a WindowsPath"):
        save_image(image, tmp_path / "a.png", folder=Path("/tmp"))
    with pytest.raises(TypeError, match=r"setting 'extra.dtype' is a dtype.*str\(value\)"):
        save_image(image, tmp_path / "a.png", extra={"dtype": torch.float16})
    with pytest.raises(ValueError, match="only PNG keeps the settings"):
        save_image(image, tmp_path / "a.jpg", seed=1)
    assert not (tmp_path / "a.png").exists()


def test_load_settings_of_other_pngs(tmp_path):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Software", "another program")
    Image.new("RGB", (8, 8)).save(tmp_path / "other.png", pnginfo=info)
    assert load_settings(tmp_path / "other.png") == {"Software": "another program"}
    with pytest.raises(FileNotFoundError, match="no PNG at"):
        load_settings(tmp_path / "missing.png")
