"""course_utils.widgets: the explorer generates through generation.generate, shows bad input as a message, and
falls back to a static PNG when no front end can draw widgets."""

from __future__ import annotations

import io

import ipywidgets as w
import pytest
from PIL import Image

from course_utils import widgets
from course_utils.widgets import Explorer, explorer, headless, settings_line


@pytest.fixture
def headless_env(monkeypatch):
    monkeypatch.setenv("COURSE_HEADLESS", "1")


def test_explorer_renders_once_with_its_defaults(tiny_pipe, headless_env):
    ex = explorer(tiny_pipe, steps=3, seed=5, n=2, negative_prompt="red")
    assert isinstance(ex, Explorer) and isinstance(ex.widget, w.VBox)
    assert (ex.steps.value, ex.seed.value, ex.n.value, ex.negative_prompt.value) == (3, 5, 2, "red")
    assert ex.strength is None  # text-to-image: no strength slider
    assert len(ex.images) == 2 and ex.error is None
    assert ex.line == (
        "prompt='a large red circle on a blue background' · negative='red' · steps=3 · guidance=7.5 · seed=5 · n=2"
    )
    assert ex.line in ex.status.value
    grid = Image.open(io.BytesIO(ex.output.value))
    assert grid.width == 2 * 192  # two 64-px images, enlarged three times
    # shown at its own width (one CSS pixel per pixel), not stretched to the box's width and blurred
    assert ex.output.width == str(grid.width) and ex.output.layout.align_self == "flex-start"
    assert [im.info["course_settings"]["seed"] for im in ex.images] == [5, 6]


def test_generate_and_button_use_the_current_values(tiny_pipe, headless_env):
    ex = explorer(tiny_pipe, steps=2, n=1)
    ex.prompt.value = "a green star"
    ex.seed.value = 9
    images = ex.generate()
    assert images[0].info["course_settings"]["prompt"] == "a green star" and "seed=9" in ex.line
    ex.n.value = 3
    ex.button.click()
    assert len(ex.images) == 3 and "n=3" in ex.line
    assert ex.output.width == str(Image.open(io.BytesIO(ex.output.value)).width)  # follows the new grid
    assert not ex.button.disabled and ex.button.description == "Generate"


def test_bad_input_shows_a_message_not_a_traceback(tiny_pipe, headless_env):
    ex = explorer(tiny_pipe, steps=2, n=1)
    before = ex.images
    ex.prompt.value = "   "
    assert ex.generate() is None
    assert ex.error.startswith("the prompt is empty: describe the picture")
    assert ex.line.startswith("⚠ the prompt is empty") and "empty" in ex.status.value
    assert ex.images is before  # the last good picture stays
    ex.prompt.value = "a red circle"
    assert ex.generate() and ex.error is None


def test_bad_defaults_show_a_message_too(tiny_pipe, headless_env):
    ex = explorer(tiny_pipe, scheduler="fastest", steps=2)
    assert ex.images == [] and "unknown scheduler 'fastest'" in ex.error


def test_image_to_image_explorer_has_a_strength_slider(tiny_pipe, headless_env):
    sketch = Image.new("RGB", (64, 64), "red")
    ex = explorer(tiny_pipe, image=sketch, strength=0.7, steps=4, n=1)
    assert ex.strength is not None and ex.strength.value == 0.7
    assert ex.strength in ex.widget.children
    assert ex.line.endswith("strength=0.7") and ex.images[0].info["course_settings"]["strength"] == 0.7


def test_headless_display_is_a_static_png(tiny_pipe, headless_env, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    ex = explorer(tiny_pipe, steps=2, n=1)
    ex._ipython_display_()
    assert isinstance(shown[0], IPython.display.Image) and shown[0].data == ex.png()
    assert shown[1] == {"text/plain": ex.line}
    assert not any(isinstance(obj, w.Widget) for obj in shown)


def test_live_display_is_the_widget(tiny_pipe, monkeypatch):
    import IPython.display

    monkeypatch.setenv("COURSE_HEADLESS", "0")
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    ex = explorer(tiny_pipe, steps=2, n=1, render=False)
    assert ex.images == [] and ex.png() is None
    ex._ipython_display_()
    assert shown == [ex.widget]


def test_headless_detection(monkeypatch):
    monkeypatch.setenv("COURSE_HEADLESS", "yes")
    assert headless()
    monkeypatch.setenv("COURSE_HEADLESS", "0")
    assert not headless()
    monkeypatch.delenv("COURSE_HEADLESS")
    assert headless()  # pytest is not a Jupyter kernel

    class Kernel:
        kernel = object()

    monkeypatch.setattr("IPython.get_ipython", lambda: Kernel())
    assert not headless()


def test_settings_line_format():
    line = settings_line("a red circle", None, 20, 7.5, 0, 4)
    assert line == "prompt='a red circle' · negative=— · steps=20 · guidance=7.5 · seed=0 · n=4"
    assert settings_line("a", "b", 1, 3, 2, 1, strength=0.6).endswith("· strength=0.6")
    assert widgets.INPUT_ERRORS  # the error kinds shown as messages


def test_explorer_help_shows_the_settings_it_passes_on():
    """Shift-Tab in Jupyter shows inspect.signature: the keywords explorer(...) hands to Explorer are in it."""
    import inspect

    params = inspect.signature(explorer).parameters
    for name in ("negative_prompt", "steps", "guidance", "seed", "n", "image", "strength", "scheduler", "render"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["steps"].default == 20 and not any(p.kind is p.VAR_KEYWORD for p in params.values())
