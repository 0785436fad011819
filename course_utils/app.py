"""The course's small image generator (lesson 12): text to image, or image to image from a built-in sketch or a
picture you upload; an optional improve pass; and 👍 / 👎 under every picture, each rating saved with the
picture's full settings in a ``FeedbackStore`` (an image-folder dataset).

    from course_utils.app import App
    from course_utils.feedback import FeedbackStore
    app = App(pipe, FeedbackStore("outputs/12_app/feedback"))
    app                                   # the last line of a cell shows it
    app.source.value = "sketch"           # the same from code: every widget is an attribute
    app.button.click()                    # "Generate"
    app.tiles[0].up.click()               # 👍 under the first picture: saved, with its settings

It is the explorer of ``course_utils.widgets`` with more controls. With no front end (nbval, scripts;
COURSE_HEADLESS=1), it shows a static PNG of the last pictures, with their ratings, and a line of text.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import html
import io
from dataclasses import dataclass

from fastcore.meta import delegates
from PIL import Image, UnidentifiedImageError

from . import shapes
from .display import image_grid
from .feedback import RATINGS, FeedbackStore
from .generation import generate
from .images import load_image
from .improve import enlarge, improve
from .pipeline import switch_task, task_of
from .provenance import SETTINGS_KEY
from .widgets import Explorer, headless

SOURCES = (("text → image", "text"), ("sketch → image", "sketch"), ("upload → image", "upload"))
# The built-in sketches: shapes.sketch of these scenes (large shapes, so a rough drawing reads well).
SKETCH_SCENES = tuple(shapes.scenes(6, seed=1200, size="large"))
RATED = {"up": "👍 saved", "down": "👎 saved", None: ""}


def sketches() -> list[tuple[str, Image.Image]]:
    """The app's built-in sketches, as (the scene's full caption, the sketch), the same on every machine."""
    return [(shapes.full_caption(scene), shapes.sketch(scene, seed=k)) for k, scene in enumerate(SKETCH_SCENES)]


def square(image: Image.Image, side: int) -> Image.Image:
    """The largest centred square of ``image``, resized to side × side (Lanczos): what an upload becomes."""
    w, h = image.size
    s = min(w, h)
    box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
    return image.crop(box).resize((side, side), Image.Resampling.LANCZOS)


@dataclass
class Tile:
    """One picture in the gallery: its ``image`` widget, the ``up`` and ``down`` buttons, a ``label``, and ``box``."""

    image: object
    up: object
    down: object
    label: object
    box: object


def _check_app(store, scale) -> None:
    if not isinstance(store, FeedbackStore):
        raise TypeError(f"store must be a FeedbackStore (FeedbackStore('a/folder')), not {type(store).__name__}")
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= 8:
        raise ValueError(f"scale (how many times the pictures are enlarged on screen) must be 1 to 8, not {scale!r}")


class App(Explorer):
    """The explorer's controls (``prompt``, ``negative_prompt``, ``steps``, ``guidance``, ``seed``, ``n``,
    ``strength``), plus ``source`` (text, sketch or upload), ``sketch`` (which built-in one), ``upload`` (an
    ipywidgets ``FileUpload``), ``improve`` (a checkbox for the second, gentle pass of lesson 07) and the gallery:
    ``tiles``, one per picture, with 👍 and 👎. The last pictures are in ``images``, their ratings in
    ``ratings`` (None until rated), the entries saved in ``saved``; ``store`` is the ``FeedbackStore``.
    ``rater`` is written with every rating (who clicked: "you" by default)."""

    def __init__(self, pipe, store: FeedbackStore, prompt: str = "a large red circle", negative_prompt=None,
                 steps: int = 20, guidance: float = 7.5, seed: int = 0, n: int = 4, strength: float = 0.6,
                 improve: bool = False, scheduler=None, scale: int = 3, rater: str = "you", render: bool = True):
        _check_app(store, scale)
        if task_of(pipe) == "img2img":
            pipe = switch_task(pipe, "text2img")  # generate switches to img2img by itself when given a picture
        self._sketches = sketches()
        super().__init__(pipe, prompt, negative_prompt=negative_prompt, steps=steps, guidance=guidance, seed=seed,
                         n=n, image=self._sketches[0][1], strength=strength, scheduler=scheduler, render=False)
        self.image = None
        self.store, self.scale, self.rater = store, scale, rater
        side = pipe.unet.config.sample_size * pipe.vae_scale_factor
        self.side = int(side if isinstance(side, int) else side[0])
        self._make_app_controls(improve)
        self._reset_gallery()
        self.widget = self._assemble_app()
        self._wire()
        counts = [e["rating"] for e in store.entries()]
        self._counts = {r: counts.count(r) for r in RATINGS}
        self._update_start()
        self._count_line()
        if render:
            self.generate()

    def _make_app_controls(self, improve: bool) -> None:
        """The app's own widgets: where img2img starts (source, sketch, upload, its preview), the improve
        checkbox, the gallery and the ratings counter."""
        import ipywidgets as w

        self.source = w.ToggleButtons(options=SOURCES, value="text", description="start from")
        self.sketch = w.Dropdown(options=[(c, k) for k, (c, _) in enumerate(self._sketches)], description="sketch")
        self.upload = w.FileUpload(accept="image/*", multiple=False, description="Upload")
        self.improve = w.Checkbox(value=improve, description="improve (a second, gentle img2img pass)",
                                  indent=False)
        self.start = w.Image(format="png", layout=w.Layout(width=f"{self.side * 2}px"))
        self.gallery = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.counter = w.HTML()

    def _reset_gallery(self) -> None:
        """No pictures yet: no tiles, ratings or saved entries, and no upload."""
        self.tiles: list[Tile] = []  # the last batch's (the first len(images) of the reused _pool)
        self._pool: list[Tile] = []
        self.ratings: list[str | None] = []
        self.saved: list[dict] = []
        self._upload: tuple[str, Image.Image, str] | None = None  # (name, picture, sha256 of the file)

    def _assemble_app(self):
        """The whole box: the explorer's controls, then where img2img starts, improve, Generate and the gallery."""
        import ipywidgets as w

        img2img = w.VBox([self.source, w.HBox([self.sketch, self.upload]), self.strength, self.start])
        controls = self.widget.children[:4]  # prompt, negative prompt, steps and guidance, seed and batch size
        return w.VBox([*controls, img2img, self.improve, self.button, self.gallery, self.status, self.counter])

    def _wire(self) -> None:
        """What changing the source, the sketch or the upload does."""
        self.source.observe(lambda _change: self._update_start(), names="value")
        self.sketch.observe(lambda _change: self._pick_sketch(), names="value")
        self.upload.observe(lambda _change: self._read_upload(), names="value")

    # ---------------------------------------------------------------- where img2img starts
    def _pick_sketch(self) -> None:
        self.prompt.value = self._sketches[self.sketch.value][0]  # the sketch's scene, as a starting prompt
        self._update_start()

    def _read_upload(self) -> None:
        files = self.upload.value
        if not files:
            self._upload = None
        else:
            item = files[0]
            data = bytes(item["content"])
            try:
                picture = load_image(Image.open(io.BytesIO(data)))
            except (UnidentifiedImageError, OSError, ValueError):
                self._upload = None
                self._fail(f"{item['name']!r} is not a picture Pillow can read: upload a PNG or a JPEG")
                return
            self._upload = (item["name"], square(picture, self.side), hashlib.sha256(data).hexdigest())
            self.source.value = "upload"
        self._update_start()

    def use_upload(self, data: bytes, name: str = "upload.png") -> None:
        """Upload from code: what choosing a file with the Upload button does (``data``: the file's bytes)."""
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"data must be the file's bytes (open(path, 'rb').read()), not {type(data).__name__}")
        now = datetime.datetime.now(datetime.timezone.utc)
        self.upload.value = ({"name": name, "type": "image/png", "size": len(data), "content": memoryview(bytes(data)),
                              "last_modified": now},)

    def start_image(self) -> Image.Image | None:
        """The picture img2img starts from (the chosen sketch or the upload), or None for text to image."""
        if self.source.value == "sketch":
            return self._sketches[self.sketch.value][1]
        if self.source.value == "upload":
            return self._upload[1] if self._upload else None
        return None

    def _update_start(self) -> None:
        mode = self.source.value
        self.strength.disabled = mode == "text"
        self.sketch.disabled = mode != "sketch"
        start = self.start_image()
        self.start.layout.display = None if start is not None else "none"
        if start is not None:
            buffer = io.BytesIO()
            enlarge(start, 2)[0].save(buffer, format="PNG")
            self.start.value = buffer.getvalue()

    # ---------------------------------------------------------------- generating
    def _values(self) -> dict:
        values = super()._values()  # the explorer's, with image= and strength=
        if self.source.value == "text":
            del values["image"], values["strength"]
        else:
            values["image"] = self.start_image()
            if values["image"] is None:
                raise ValueError("no picture uploaded yet: choose a file with the Upload button, "
                                 "or start from a sketch or from text")
        return values

    def _origin(self, values: dict) -> dict:
        """What the pictures started from, and the batch they were made in (a batch of n can round a few numbers
        differently from one picture alone: remake the batch, generate(..., n=n, seed=first_seed), to get them
        exactly), stored with each rating."""
        mode = self.source.value
        batch = {"n": values["n"], "first_seed": values["seed"]}
        if mode == "sketch":
            caption = self._sketches[self.sketch.value][0]
            return {"source": "sketch", "init_image": f"sketch {self.sketch.value}: {caption}", **batch}
        if mode == "upload":
            name, _, digest = self._upload
            return {"source": "upload", "init_image": f"upload {name} (sha256 {digest})", **batch}
        return {"source": "text", "init_image": None, **batch}

    def _make(self, values: dict) -> list:
        images = generate(self.pipe, scheduler=self.scheduler, **values)
        if self.improve.value:
            images = improve(self.pipe, images, seed=values["seed"], steps=values["steps"])
        origin = self._origin(values)
        for im in images:
            im.info[SETTINGS_KEY].update(origin)
        return images

    def _new_tile(self, k: int, width: int) -> Tile:
        import ipywidgets as w

        tile = Tile(image=w.Image(format="png"),
                    up=w.Button(description="👍", layout=w.Layout(width="48%"), tooltip="I like it"),
                    down=w.Button(description="👎", layout=w.Layout(width="48%"), tooltip="I don't"),
                    label=w.HTML(), box=None)
        tile.up.on_click(lambda _b: self._click(k, "up"))
        tile.down.on_click(lambda _b: self._click(k, "down"))
        tile.box = w.VBox([tile.image, w.HBox([tile.up, tile.down]), tile.label],
                          layout=w.Layout(width=f"{width * self.scale + 8}px", margin="2px"))
        return tile

    def _show(self, images: list, values: dict) -> None:
        super()._show(images, values)
        if self.improve.value:
            self.line += " · improved"
        self.status.value = f"<code>{html.escape(self.line, quote=False)}</code>"
        self.ratings, self.saved = [None] * len(images), []
        # The tiles are made once and reused: a new batch changes their pictures and resets their buttons (a new
        # set of widgets per batch would pile up in the browser, a dozen per picture).
        while len(self._pool) < len(images):
            self._pool.append(self._new_tile(len(self._pool), images[0].width))
        self.tiles = self._pool[:len(images)]
        for tile, picture in zip(self.tiles, images, strict=True):
            buffer = io.BytesIO()
            enlarge(picture, self.scale)[0].save(buffer, format="PNG")
            tile.image.value = buffer.getvalue()
            tile.up.disabled = tile.down.disabled = False
            tile.up.button_style = tile.down.button_style = ""
            tile.label.value = f"seed {picture.info[SETTINGS_KEY]['seed']}"
        boxes = tuple(t.box for t in self.tiles)
        if self.gallery.children != boxes:
            self.gallery.children = boxes
        self.output.value = b""  # the gallery replaces the explorer's grid (png() draws its own)

    def widgets(self) -> list:
        """Every widget the app is made of (its controls, the tiles made so far, and their layouts and styles)."""
        import ipywidgets as w

        found, todo = {}, [self.widget, self.output, *(t.box for t in self._pool)]  # output: the explorer's grid
        while todo:
            widget = todo.pop()
            if not isinstance(widget, w.Widget) or widget.model_id in found:
                continue
            found[widget.model_id] = widget
            todo.extend(getattr(widget, "children", ()))
            todo.extend(getattr(widget, name, None) for name in ("layout", "style"))
        return list(found.values())

    @contextlib.contextmanager
    def hold(self):
        """Send the screen updates of a block of code at once, when it ends: ``with app.hold(): ...``.

        Every change to a widget (a picture, a button turning green, a label) is a message to the browser. A script
        that generates and rates hundreds of pictures sends thousands, which the browser (and nbval, which reads
        them only after the cell has run) can fall behind on; held, each widget sends its final state once.
        Widgets made inside the block (tiles for a larger batch) are not held."""
        with contextlib.ExitStack() as stack:
            for widget in self.widgets():
                stack.enter_context(widget.hold_sync())
            yield self

    # ---------------------------------------------------------------- rating
    def _click(self, k: int, rating: str) -> None:
        try:
            self.rate(k, rating)
        except (ValueError, OSError) as error:  # a button has nowhere to show a traceback
            self._fail(str(error))

    def rate(self, k: int, rating: str) -> dict:
        """Rate picture ``k`` of the last batch "up" or "down" (what its 👍 / 👎 do): it is saved in the store
        with its settings and ``rater``, and the entry returned once it is on disk. A picture is rated once."""
        if rating not in RATINGS:
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(self.images):
            raise ValueError(f"there is no picture {k!r}: the last batch has {len(self.images)} "
                             f"(0 to {len(self.images) - 1})")
        if self.ratings[k] is not None:
            raise ValueError(f"picture {k} is already rated {self.ratings[k]!r}: ratings are append-only, "
                             "so each picture is rated once (generate again for new ones)")
        entry = self.store.add(self.images[k], rating, rater=self.rater)
        self.ratings[k] = rating
        self.saved.append(entry)
        self._counts[rating] += 1
        tile = self.tiles[k]
        tile.up.disabled = tile.down.disabled = True
        (tile.up if rating == "up" else tile.down).button_style = "success" if rating == "up" else "danger"
        tile.label.value = f"{RATED[rating]} · seed {self.images[k].info[SETTINGS_KEY]['seed']}"
        self._count_line()
        return entry

    def _count_line(self) -> None:
        up, down = self._counts["up"], self._counts["down"]
        self.count_line = f"{up + down} ratings in {self.store.folder} ({up} 👍, {down} 👎)"
        self.counter.value = html.escape(self.count_line, quote=False)

    # ---------------------------------------------------------------- showing
    def png(self) -> bytes | None:
        """The last pictures with their ratings, as one PNG (what the static view shows)."""
        if not self.images:
            return None
        words = {"up": "liked", "down": "disliked", None: "not rated"}
        titles = [f"seed {im.info[SETTINGS_KEY]['seed']} · {words[r]}"
                  for im, r in zip(self.images, self.ratings, strict=True)]
        grid = image_grid(enlarge(self.images, self.scale), titles=titles, cols=min(len(self.images), 4))
        buffer = io.BytesIO()
        grid.save(buffer, format="PNG")
        return buffer.getvalue()

    def _ipython_display_(self):
        from IPython.display import Image as PNG
        from IPython.display import display

        if headless():
            if self.png():
                display(PNG(data=self.png()))
            display({"text/plain": f"{self.line}\n{self.count_line}"}, raw=True)
        else:
            display(self.widget)

    def __repr__(self) -> str:
        return f"App({self.line}; {self.count_line})"


@delegates(App)
def app(pipe, store, prompt: str = "a large red circle", **kwargs) -> App:
    """The app for ``pipe``, saving ratings in ``store`` (a FeedbackStore, or a folder for one); see ``App``."""
    if not isinstance(store, FeedbackStore):
        store = FeedbackStore(store)
    return App(pipe, store, prompt, **kwargs)
