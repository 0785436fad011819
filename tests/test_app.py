"""course_utils.app: the lesson-12 app generates from text, a sketch or an upload, runs the improve pass when
asked, saves every 👍 / 👎 with the picture's settings, and renders once as a static PNG when headless."""

from __future__ import annotations

import io
import json

import ipywidgets as w
import numpy as np
import pytest
from PIL import Image

from course_utils import app as app_module
from course_utils.app import App, app, sketches, square
from course_utils.feedback import METADATA, FeedbackStore
from course_utils.generation import generate
from course_utils.improve import improve
from course_utils.pipeline import switch_task


@pytest.fixture(autouse=True)
def headless_env(monkeypatch):
    monkeypatch.setenv("COURSE_HEADLESS", "1")


@pytest.fixture
def store(tmp_path):
    return FeedbackStore(tmp_path / "feedback")


def png_bytes(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def same(a, b):
    return np.array_equal(np.asarray(a, dtype=np.int16), np.asarray(b, dtype=np.int16))


def test_renders_once_from_text_with_a_tile_per_picture(tiny_pipe, store):
    a = app(tiny_pipe, store, steps=3, n=3, seed=4)
    assert isinstance(a, App) and isinstance(a.widget, w.VBox)
    assert len(a.images) == 3 and len(a.tiles) == 3 and a.ratings == [None] * 3 and a.error is None
    assert a.gallery.children == tuple(t.box for t in a.tiles)
    assert a.source.value == "text" and a.strength.disabled and a.start.layout.display == "none"
    assert [im.info["course_settings"]["seed"] for im in a.images] == [4, 5, 6]
    assert a.images[0].info["course_settings"]["source"] == "text"
    ref = generate(tiny_pipe, "a large red circle", steps=3, n=3, seed=4)
    assert all(same(x, y) for x, y in zip(a.images, ref, strict=True))
    # each tile shows its picture enlarged (3×, Lanczos) with 👍 and 👎 under it
    tile = Image.open(io.BytesIO(a.tiles[0].image.value))
    assert tile.size == (192, 192)
    assert a.tiles[0].up.description == "👍" and a.tiles[0].down.description == "👎"
    assert a.count_line.startswith("0 ratings in")


def test_clicking_thumbs_saves_the_picture_with_its_settings(tiny_pipe, store):
    a = App(tiny_pipe, store, steps=3, n=2, seed=10, guidance=5.0, negative_prompt="blue")
    a.tiles[1].up.click()
    a.tiles[0].down.click()
    assert a.ratings == ["down", "up"] and not a.error
    entries = store.entries()
    assert [e["rating"] for e in entries] == ["up", "down"] and entries == a.saved
    first = entries[0]
    assert first["seed"] == 11 and first["guidance"] == 5.0 and first["negative_prompt"] == "blue"
    assert first["steps"] == 3 and first["prompt"] == "a large red circle" and first["rater"] == "you"
    assert first["source"] == "text" and first["init_image"] is None and "scheduler" in first
    with Image.open(store.folder / first["file_name"]) as saved:
        assert same(saved.convert("RGB"), a.images[1])
    assert a.tiles[1].up.disabled and a.tiles[1].down.disabled and "👍" in a.tiles[1].label.value
    assert a.count_line.endswith("(1 👍, 1 👎)")
    assert (first["n"], first["first_seed"]) == (2, 10)  # the batch it was made in
    # the settings are complete: the entry alone remakes the picture
    batch = generate(tiny_pipe, first["prompt"], negative_prompt=first["negative_prompt"], steps=first["steps"],
                     guidance=first["guidance"], seed=first["first_seed"], n=first["n"], scheduler=first["scheduler"])
    assert same(batch[first["seed"] - first["first_seed"]], a.images[1])


def test_a_picture_is_rated_once_and_bad_ratings_are_refused(tiny_pipe, store):
    a = App(tiny_pipe, store, steps=2, n=1)
    a.rate(0, "up")
    with pytest.raises(ValueError, match="already rated 'up'"):
        a.rate(0, "down")
    with pytest.raises(ValueError, match="rating must be 'up' or 'down'"):
        a.rate(0, "meh")
    with pytest.raises(ValueError, match="there is no picture 3"):
        a.rate(3, "up")
    assert len(store.entries()) == 1
    a.generate()  # a new batch can be rated again
    a.rate(0, "down")
    assert [e["rating"] for e in store.entries()] == ["up", "down"]


def test_a_second_app_on_the_folder_counts_what_is_there(tiny_pipe, store):
    App(tiny_pipe, store, steps=2, n=1).rate(0, "up")
    b = App(tiny_pipe, FeedbackStore(store.folder), steps=2, n=1, render=False)
    assert b.images == [] and b.png() is None and b.count_line.endswith("(1 👍, 0 👎)")


def test_sketch_source_runs_img2img_from_the_chosen_sketch(tiny_pipe, store):
    a = App(tiny_pipe, store, steps=4, n=1, strength=0.7, render=False)
    a.source.value = "sketch"
    a.sketch.value = 2
    caption, picture = sketches()[2]
    assert a.prompt.value == caption and not a.strength.disabled and a.start.layout.display is None
    images = a.generate()
    ref = generate(tiny_pipe, caption, image=picture, strength=0.7, steps=4, n=1)
    assert same(images[0], ref[0])
    a.rate(0, "up")
    entry = store.entries()[-1]
    assert entry["source"] == "sketch" and entry["strength"] == 0.7
    assert entry["init_image"] == f"sketch 2: {caption}"


def test_upload_source_squares_the_picture_and_records_it(tiny_pipe, store):
    a = App(tiny_pipe, store, steps=4, n=1, render=False)
    a.source.value = "upload"
    assert a.generate() is None and "no picture uploaded yet" in a.error
    upload = Image.new("RGB", (120, 80), "blue")
    upload.paste((250, 220, 40), (40, 20, 80, 60))
    data = png_bytes(upload)
    a.use_upload(data, "mine.png")
    assert a.source.value == "upload" and a.start_image().size == (64, 64)
    assert same(a.start_image(), square(upload, 64))
    images = a.generate()
    assert images and a.error is None
    ref = generate(tiny_pipe, "a large red circle", image=square(upload, 64), strength=0.6, steps=4)
    assert same(images[0], ref[0])
    entry = a.rate(0, "down")
    assert entry["source"] == "upload" and entry["init_image"].startswith("upload mine.png (sha256 ")


def test_an_upload_that_is_no_picture_is_a_message(tiny_pipe, store):
    a = App(tiny_pipe, store, steps=2, n=1, render=False)
    a.use_upload(b"not a picture", "notes.txt")
    assert "'notes.txt' is not a picture Pillow can read" in a.error and a.start_image() is None
    with pytest.raises(TypeError, match="the file's bytes"):
        a.use_upload("mine.png")


def test_improve_runs_the_second_pass_and_is_saved(tiny_pipe, store):
    a = App(tiny_pipe, store, steps=4, n=2, seed=3, improve=True)
    drafts = generate(tiny_pipe, "a large red circle", steps=4, n=2, seed=3)
    ref = improve(tiny_pipe, drafts, seed=3, steps=4)
    assert all(same(x, y) for x, y in zip(a.images, ref, strict=True))
    assert a.line.endswith("· improved")
    entry = a.rate(0, "up")
    assert entry["improve"]["strength"] == 0.5 and entry["improve"]["guidance"] == 3.0 and entry["seed"] == 3
    line = json.loads((store.folder / METADATA).read_text().splitlines()[-1])
    assert line == entry


def test_rater_is_recorded_and_img2img_pipelines_are_accepted(tiny_pipe, store):
    a = App(switch_task(tiny_pipe, "img2img"), store, steps=2, n=1, rater="script")
    assert a.images and a.rate(0, "up")["rater"] == "script"
    assert [p for _, p in store.liked(rater="script")] == ["a large red circle"]


def test_bad_input_is_a_message_not_a_traceback(tiny_pipe, store):
    a = App(tiny_pipe, store, steps=2, n=1)
    a.prompt.value = " "
    assert a.generate() is None and a.error.startswith("the prompt is empty")
    assert a.line.startswith("⚠") and len(a.tiles) == 1  # the last good pictures stay
    with pytest.raises(TypeError, match="store must be a FeedbackStore"):
        App(tiny_pipe, "outputs/x", render=False)
    with pytest.raises(ValueError, match="scale"):
        App(tiny_pipe, store, scale=0, render=False)


def test_headless_display_is_a_static_png_with_the_ratings(tiny_pipe, store, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    a = App(tiny_pipe, store, steps=2, n=2)
    a.rate(1, "up")
    a._ipython_display_()
    assert isinstance(shown[0], IPython.display.Image) and shown[0].data == a.png()
    grid = Image.open(io.BytesIO(a.png()))
    assert grid.width >= 2 * 192
    assert shown[1] == {"text/plain": f"{a.line}\n{a.count_line}"}
    assert not any(isinstance(obj, w.Widget) for obj in shown)
    monkeypatch.setenv("COURSE_HEADLESS", "0")
    shown.clear()
    a._ipython_display_()
    assert shown == [a.widget]


def test_sketches_and_square():
    first, again = sketches(), sketches()
    assert len(first) == len(app_module.SKETCH_SCENES) and all(c.startswith("a large ") for c, _ in first)
    assert all(same(a[1], b[1]) for a, b in zip(first, again, strict=True))
    assert square(Image.new("RGB", (200, 100)), 64).size == (64, 64)


def test_a_new_batch_reuses_the_tiles_and_resets_their_buttons(tiny_pipe, store):
    a = App(tiny_pipe, store, steps=2, n=3, seed=0)
    first = list(a.tiles)
    a.tiles[0].up.click()
    assert a.tiles[0].up.disabled and a.tiles[0].up.button_style == "success"
    made = len(w.Widget.widgets)
    a.seed.value = 7
    a.button.click()
    assert len(w.Widget.widgets) == made, "a batch of the same size must not make new widgets"
    assert a.tiles == first and a.ratings == [None] * 3
    assert not a.tiles[0].up.disabled and a.tiles[0].up.button_style == ""
    assert a.tiles[0].label.value == "seed 7"
    assert Image.open(io.BytesIO(a.tiles[2].image.value)).size == (192, 192)
    # a smaller batch shows fewer tiles; a larger one adds tiles; the buttons rate the right picture
    a.n.value = 2
    a.button.click()
    assert len(a.tiles) == 2 and a.gallery.children == (first[0].box, first[1].box)
    a.n.value = 4
    a.button.click()
    assert len(a.tiles) == 4 and a.tiles[:3] == first
    a.tiles[3].down.click()
    assert a.ratings == [None, None, None, "down"] and a.saved[-1]["seed"] == 10


def test_hold_sends_each_widget_once_at_the_end(tiny_pipe, store, monkeypatch):
    a = App(tiny_pipe, store, steps=2, n=4, seed=0)
    sent = []
    monkeypatch.setattr(w.Widget, "_send", lambda self, msg, buffers=None: sent.append(self.model_id))
    a.button.click()
    for tile in a.tiles:
        tile.up.click()
    unheld = len(sent)
    sent.clear()
    with a.hold():
        for seed in (10, 20, 30):
            a.seed.value = seed
            a.button.click()
            for tile in a.tiles:
                tile.down.click()
        assert sent == [], "nothing is sent while held"
    assert len(a.saved) == 4 and len(store) == 16
    assert 0 < len(sent) == len(set(sent)) <= len(a.widgets()), "one message per changed widget"
    assert unheld > 2 * len(sent) / 3, "one batch unheld sends more than three held ones"
    assert {t.label.model_id for t in a.tiles} <= set(sent)


def test_app_help_shows_the_settings_it_passes_on():
    """Shift-Tab in Jupyter shows inspect.signature: app(...)'s keywords for App, and generate_each's for generate."""
    import inspect

    from course_utils.generation import generate_each

    params = inspect.signature(app).parameters
    for name in ("negative_prompt", "steps", "guidance", "seed", "n", "strength", "improve", "scale", "rater"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values())
    each = inspect.signature(generate_each).parameters
    assert {"negative_prompt", "steps", "guidance", "scheduler"} <= set(each) and "n" not in each
