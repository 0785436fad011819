"""An interactive explorer: change the prompt, negative prompt, steps, guidance, seed and batch size, press
Generate, and see the grid and the exact settings that made it.

    from course_utils.widgets import explorer
    ex = explorer(pipe)                       # the last line of a cell shows it
    ex.steps.value = 10; ex.generate()        # the same from code

With no front end to draw widgets (nbval, `make notebooks`, scripts; COURSE_HEADLESS=1 says so explicitly),
the explorer shows a static PNG of its first picture and the settings line instead, so a saved notebook
still shows a picture.
"""

from __future__ import annotations

import html
import io
import os
import time

from fastcore.meta import delegates

from .checks import MAX_SEED
from .display import image_grid
from .generation import generate
from .hub import CourseModelError
from .pipeline import task_of
from .provenance import SETTINGS_KEY

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
INPUT_ERRORS = (ValueError, TypeError, FileNotFoundError, CourseModelError)


def headless() -> bool:
    """True when no front end can draw widgets: COURSE_HEADLESS=1, or not inside a Jupyter kernel.

    COURSE_HEADLESS=0 forces live widgets; unset, a Jupyter kernel means live and anything else headless.
    """
    flag = os.environ.get("COURSE_HEADLESS", "").strip().lower()
    if flag in _TRUE:
        return True
    if flag in _FALSE:
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return True
    shell = get_ipython()
    return shell is None or not hasattr(shell, "kernel")


def settings_line(prompt, negative_prompt, steps, guidance, seed, n, strength=None) -> str:
    """ "prompt='…' · negative='…' · steps=20 · guidance=7.5 · seed=0 · n=4" (· strength=… for img2img)."""
    parts = [
        f"prompt={prompt!r}",
        f"negative={negative_prompt!r}" if negative_prompt else "negative=—",
        f"steps={steps}",
        f"guidance={guidance:g}" if isinstance(guidance, (int, float)) else f"guidance={guidance!r}",
        f"seed={seed}",
        f"n={n}",
    ]
    if strength is not None:
        parts.append(f"strength={strength:g}")
    return " · ".join(parts)


class Explorer:
    """The explorer's widgets (`prompt`, `negative_prompt`, `steps`, `guidance`, `seed`, `n`, `strength` for
    image-to-image, `button`, `output`, `status`), the whole box in `widget`, and the last result in
    `images`, `grid`, `line` (the settings line) and `error` (None, or the message of the last bad input)."""

    def __init__(
        self,
        pipe,
        prompt: str = "a large red circle on a blue background",
        negative_prompt: str | None = None,
        steps: int = 20,
        guidance: float = 7.5,
        seed: int = 0,
        n: int = 4,
        image=None,
        strength: float = 0.6,
        scheduler: str | None = None,
        render: bool = True,
    ):
        self.pipe, self.image, self.scheduler = pipe, image, scheduler
        self._make_controls(prompt, negative_prompt, steps, guidance, seed, n, strength,
                            img2img=image is not None or task_of(pipe) == "img2img")
        self.widget = self._assemble()
        self.button.on_click(lambda _button: self.generate())
        self.images: list = []
        self.grid = None
        self.line = ""
        self.error: str | None = None
        self.seconds: float | None = None
        if render:
            self.generate()

    def _make_controls(self, prompt, negative_prompt, steps, guidance, seed, n, strength, img2img: bool) -> None:
        """The input widgets, each an attribute, starting at the values given; `strength` only for img2img."""
        import ipywidgets as w

        wide = w.Layout(width="95%")
        style = {"description_width": "80px"}
        self.prompt = w.Text(value=prompt, description="prompt", layout=wide, style=style)
        self.negative_prompt = w.Text(
            value=negative_prompt or "", description="negative", layout=wide, style=style
        )
        self.steps = w.IntSlider(value=steps, min=1, max=max(100, steps), description="steps", style=style)
        self.guidance = w.FloatSlider(
            value=guidance, min=0.0, max=max(20.0, guidance), step=0.5, description="guidance", style=style
        )
        self.seed = w.BoundedIntText(value=seed, min=0, max=MAX_SEED, description="seed", style=style)
        self.n = w.IntSlider(value=n, min=1, max=max(8, n), description="batch size", style=style)
        self.strength = (
            w.FloatSlider(value=strength, min=0.0, max=1.0, step=0.05, description="strength", style=style)
            if img2img
            else None
        )
        self.button = w.Button(description="Generate", button_style="primary", icon="paint-brush")
        # At its own pixel width: stretched to the box's width, the browser would blur the enlarged pixels.
        self.output = w.Image(format="png", layout=w.Layout(align_self="flex-start"))
        self.status = w.HTML()

    def _assemble(self):
        """The whole box: the controls, the Generate button, the picture and the settings line."""
        import ipywidgets as w

        controls = [
            self.prompt,
            self.negative_prompt,
            w.HBox([self.steps, self.guidance]),
            w.HBox([self.seed, self.n]),
        ]
        if self.strength is not None:
            controls.append(self.strength)
        return w.VBox([*controls, self.button, self.output, self.status])

    def _values(self) -> dict:
        values = {
            "prompt": self.prompt.value,
            "negative_prompt": self.negative_prompt.value or None,
            "steps": self.steps.value,
            "guidance": self.guidance.value,
            "seed": self.seed.value,
            "n": self.n.value,
        }
        if self.strength is not None:
            values.update(image=self.image, strength=self.strength.value)
        return values

    def generate(self) -> list | None:
        """Generate with the current values and show the result; returns the images, or None after an error
        (whose message is then in the settings line and in `error`)."""
        self.button.disabled, self.button.description = True, "Generating…"
        start = time.perf_counter()
        try:
            values = self._values()
            images = self._make(values)
        except INPUT_ERRORS as error:
            return self._fail(str(error))
        except Exception as error:  # noqa: BLE001 - a widget callback has nowhere to show a traceback
            return self._fail(f"unexpected {type(error).__name__}: {error}")
        finally:
            self.button.disabled, self.button.description = False, "Generate"
        self.seconds = time.perf_counter() - start
        self.images, self.error = images, None
        self._show(images, values)
        return images

    def _make(self, values: dict) -> list:
        """The pictures for these values (a subclass may add steps, as the app's improve pass does)."""
        return generate(self.pipe, scheduler=self.scheduler, **values)

    def _show(self, images: list, values: dict) -> None:
        tile = images[0].width
        titles = [f"seed {im.info[SETTINGS_KEY]['seed']}" for im in images] if len(images) > 1 else None
        self.grid = image_grid(images, titles=titles, scale=max(1, 192 // tile))
        buffer = io.BytesIO()
        self.grid.save(buffer, format="PNG")
        self.output.width = str(self.grid.width)  # CSS pixels, one per pixel of the grid
        self.output.value = buffer.getvalue()
        fields = ("prompt", "negative_prompt", "steps", "guidance", "seed", "n")
        self.line = settings_line(*(values[k] for k in fields), strength=values.get("strength"))
        self.status.value = f"<code>{html.escape(self.line, quote=False)}</code>"

    def _fail(self, message: str) -> None:
        self.error = message
        self.line = f"⚠ {message}"
        self.status.value = f"<span style='color:#b00020'>{html.escape(self.line, quote=False)}</span>"
        return None

    def png(self) -> bytes | None:
        """The last grid as PNG bytes (what the static view shows)."""
        return self.output.value or None

    def _ipython_display_(self):
        from IPython.display import Image, display

        if headless():
            if self.png():
                display(Image(data=self.png()))
            display({"text/plain": self.line}, raw=True)
        else:
            display(self.widget)

    def __repr__(self) -> str:
        return f"Explorer({self.line})"


@delegates(Explorer)
def explorer(pipe, prompt: str = "a large red circle on a blue background", **kwargs) -> Explorer:
    """An interactive explorer for `pipe`, starting from `prompt` and the other settings (negative_prompt, steps,
    guidance, seed, n, image and strength for image-to-image, scheduler). It renders once straight away;
    make it the last line of a cell to show it."""
    return Explorer(pipe, prompt, **kwargs)
