"""The shapes world: 64×64 images of one flat-coloured shape on a flat background, with exact captions.

Everything is generated from a seed, so the same seed gives the same dataset on any machine.
Images are drawn at 4× (256 px) and downsampled with Lanczos, which anti-aliases the edges.

Held out of the base model's training, for the fine-tuning lessons:
- ``SUBJECT`` ("moon", a crescent): the DreamBooth subject, a shape the base model never saw;
- ``STYLE`` ("outlined": only the outline is drawn): the style for LoRA and full fine-tuning;
- ``CONCEPT``: the textual-inversion concept, a purple heart on an orange background,
  a combination that never appears in the base training data.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter
from scipy.ndimage import distance_transform_edt

from .images import to_tensor

SIZE = 64
SCALE = 4  # draw at 4× and downsample
SHAPES = ("circle", "square", "triangle", "star", "heart", "cross")
COLOURS = {
    "red": (220, 40, 40),
    "orange": (245, 140, 20),
    "yellow": (245, 220, 40),
    "green": (40, 170, 60),
    "blue": (40, 90, 220),
    "purple": (140, 60, 190),
    "pink": (245, 130, 190),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
SIZES = ("small", "large")
RADIUS = {"small": (12.0, 14.0), "large": (19.0, 22.0)}  # circumscribed radius, in 64-px pixels
JITTER = {"small": 10.0, "large": 4.0}  # max offset of the centre from the middle

SUBJECT = "moon"
STYLE = "outlined"
STYLES = ("flat", STYLE)
CONCEPT = {"shape": "heart", "colour": "purple", "background": "orange"}
ALL_SHAPES = SHAPES + (SUBJECT,)

# Words every caption is built from; the mini model's tokenizer holds each as one token.
# "sks" is the rare token of the DreamBooth lesson; it is never in a base caption.
VOCAB_WORDS = (
    ("a", "on", "background", "shape", "with", "sks", ",")
    + SHAPES
    + (SUBJECT, STYLE)
    + tuple(COLOURS)
    + SIZES
)


@dataclass(frozen=True)
class Scene:
    """Everything needed to draw one image: the exact truth the judge tries to read back."""

    shape: str
    colour: str
    background: str
    size: str
    cx: float  # centre, in 64-px pixels
    cy: float
    radius: float
    style: str = "flat"

    def attributes(self) -> dict:
        return asdict(self)


def _check_choice(name: str, value: str, choices) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}: choose one of {', '.join(choices)}")


# ---------------------------------------------------------------- geometry (unit radius, y down)
def _star(n: int = 5, inner: float = 0.45) -> list[tuple[float, float]]:
    pts = []
    for i in range(2 * n):
        r = 1.0 if i % 2 == 0 else inner
        a = -math.pi / 2 + i * math.pi / n
        pts.append((r * math.cos(a), r * math.sin(a)))
    return pts


def _heart(k: int = 96) -> list[tuple[float, float]]:
    pts = []
    for i in range(k):
        t = 2 * math.pi * i / k
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        pts.append((x, -y))
    xs, ys = zip(*pts, strict=True)
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    half = max(max(xs) - min(xs), max(ys) - min(ys)) / 2
    return [((x - cx) / half, (y - cy) / half) for x, y in pts]


def _polygon(shape: str) -> list[tuple[float, float]] | None:
    if shape == "square":
        s = 0.75
        return [(-s, -s), (s, -s), (s, s), (-s, s)]
    if shape == "triangle":
        return [(0.0, -1.0), (0.92, 0.75), (-0.92, 0.75)]
    if shape == "star":
        return _star()
    if shape == "heart":
        return _heart()
    if shape == "cross":
        a, b = 0.32, 0.9
        return [(-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a), (a, b), (-a, b), (-a, a), (-b, a),
                (-b, -a), (-a, -a)]
    return None  # circle and moon are drawn with ellipses


def _draw_filled(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, fill, back) -> None:
    """Draw the shape's filled silhouette at full resolution (coordinates already scaled)."""
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "moon":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
        off = 0.45 * r
        r2 = 0.85 * r
        draw.ellipse([cx + off - r2, cy - 0.25 * r - r2, cx + off + r2, cy - 0.25 * r + r2], fill=back)
    else:
        pts = [(cx + r * x, cy + r * y) for x, y in _polygon(shape)]
        draw.polygon(pts, fill=fill)


def render(scene: Scene) -> Image.Image:
    """Draw a scene as a 64×64 RGB PIL image."""
    for name, value, choices in (
        ("shape", scene.shape, ALL_SHAPES),
        ("colour", scene.colour, tuple(COLOURS)),
        ("background", scene.background, tuple(COLOURS)),
        ("size", scene.size, SIZES),
        ("style", scene.style, STYLES),
    ):
        _check_choice(name, value, choices)
    if scene.colour == scene.background:
        raise ValueError("the shape's colour is the background's, so the shape is invisible: the colours must differ")
    big = SIZE * SCALE
    fg, bg = COLOURS[scene.colour], COLOURS[scene.background]
    img = Image.new("RGB", (big, big), bg)
    draw = ImageDraw.Draw(img)
    cx, cy, r = scene.cx * SCALE, scene.cy * SCALE, scene.radius * SCALE
    _draw_filled(draw, scene.shape, cx, cy, r, fg, bg)
    if scene.style == STYLE:
        # Keep an outline of even thickness: erase every pixel deeper inside than `thick`.
        mask = Image.new("L", (big, big), 0)
        _draw_filled(ImageDraw.Draw(mask), scene.shape, cx, cy, r, 255, 0)
        depth = distance_transform_edt(np.asarray(mask) > 127)
        inner = Image.fromarray(((depth > 3.2 * SCALE) * 255).astype(np.uint8))
        img.paste(bg, mask=inner)
    return img.resize((SIZE, SIZE), Image.LANCZOS)


# ---------------------------------------------------------------- sampling scenes and captions
def random_scene(
    rng: random.Random,
    shapes=SHAPES,
    style: str = "flat",
    exclude_concept: bool = True,
    **fixed,
) -> Scene:
    """A random scene; any attribute can be fixed by keyword (shape=, colour=, background=, size=)."""
    for key, value in fixed.items():
        if key not in ("shape", "colour", "background", "size"):
            raise TypeError(f"random_scene() cannot fix {key!r}: use shape, colour, background or size")
        choices = {"shape": ALL_SHAPES, "colour": tuple(COLOURS), "background": tuple(COLOURS), "size": SIZES}[key]
        _check_choice(key, value, choices)
    concept = tuple(CONCEPT.values())
    if exclude_concept and all(fixed.get(k) == v for k, v in CONCEPT.items()):
        raise ValueError("these fixed attributes make the held-out concept: pass exclude_concept=False to draw it")
    while True:
        shape = fixed.get("shape") or rng.choice(shapes)
        colour = fixed.get("colour") or rng.choice(list(COLOURS))
        background = fixed.get("background") or rng.choice(list(COLOURS))
        if colour == background:
            if "colour" in fixed and "background" in fixed:
                raise ValueError("colour and background are the same: they must differ")
            continue
        if exclude_concept and (shape, colour, background) == concept:
            continue
        break
    size = fixed.get("size") or rng.choice(SIZES)
    lo, hi = RADIUS[size]
    radius = rng.uniform(lo, hi)
    j = JITTER[size]
    cx = SIZE / 2 + rng.uniform(-j, j)
    cy = SIZE / 2 + rng.uniform(-j, j)
    return Scene(shape, colour, background, size, cx, cy, radius, style)


def full_caption(scene: Scene) -> str:
    """The caption with every attribute: 'a large red circle on a blue background'."""
    style = f" {STYLE}" if scene.style == STYLE else ""
    return f"a {scene.size}{style} {scene.colour} {scene.shape} on a {scene.background} background"


def caption(
    scene: Scene,
    rng: random.Random,
    p_size: float = 0.6,
    p_colour: float = 0.85,
    p_background: float = 0.7,
    p_shape: float = 0.92,
    p_fragment: float = 0.04,
) -> str:
    """A caption with attributes randomly left out, from varied templates.

    What is left out is unknown, not wrong: "a red circle" is true of a small red circle on any background.
    """
    if rng.random() < p_fragment:
        return rng.choice([scene.colour, scene.shape, f"{scene.background} background"])
    words = []
    if rng.random() < p_size:
        words.append(scene.size)
    if scene.style == STYLE:
        words.append(STYLE)
    if rng.random() < p_colour:
        words.append(scene.colour)
    words.append(scene.shape if rng.random() < p_shape else "shape")
    thing = " ".join(words)
    if rng.random() < p_background:
        template = rng.choice(["a {t} on a {b} background", "{t}, {b} background", "a {t} with a {b} background"])
        return template.format(t=thing, b=scene.background)
    return rng.choice(["a {t}", "{t}"]).format(t=thing)


def scene_from_caption(text: str) -> dict:
    """The attributes a caption names (None where it says nothing): the truth a generated image is judged by."""
    if not isinstance(text, str):
        raise TypeError(f"caption must be a string, not {type(text).__name__}")
    words = text.lower().replace(",", " , ").split()
    out = {"shape": None, "colour": None, "background": None, "size": None, "style": None}
    for i, w in enumerate(words):
        if w in ALL_SHAPES:
            out["shape"] = w
        elif w in SIZES:
            out["size"] = w
        elif w == STYLE:
            out["style"] = STYLE
        elif w in COLOURS:
            follows = words[i + 1] if i + 1 < len(words) else ""
            if follows == "background":
                out["background"] = w
            elif out["colour"] is None:
                out["colour"] = w
    return out


# ---------------------------------------------------------------- datasets
def scenes(n: int, seed: int, **kwargs) -> list[Scene]:
    """n random scenes from a seed (same seed, same scenes, on any machine)."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, not {n!r}")
    rng = random.Random(seed)
    return [random_scene(rng, **kwargs) for _ in range(n)]


class ShapesDataset(torch.utils.data.Dataset):
    """A seeded dataset of (image tensor in [-1, 1], caption) pairs.

    Captions are drawn afresh for each epoch-independent index from ``seed`` so the set is reproducible;
    pass ``full_captions=True`` for captions that name every attribute.
    """

    def __init__(self, n: int, seed: int = 0, full_captions: bool = False, **scene_kwargs):
        self.scenes = scenes(n, seed, **scene_kwargs)
        self.seed = seed
        self.full_captions = full_captions
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, i: int):
        if i not in self._cache:
            self._cache[i] = to_tensor(render(self.scenes[i]))
        s = self.scenes[i]
        text = full_caption(s) if self.full_captions else caption(s, random.Random(self.seed * 1_000_003 + i))
        return self._cache[i].clone(), text


def render_many(scene_list: list[Scene]) -> np.ndarray:
    """Render scenes into a uint8 array (N, 64, 64, 3)."""
    return np.stack([np.asarray(render(s)) for s in scene_list]) if scene_list else np.zeros((0, SIZE, SIZE, 3), np.uint8)


# ---------------------------------------------------------------- held-out sets
def subject_images(n: int = 6, seed: int = 1) -> list[tuple[Image.Image, Scene]]:
    """The DreamBooth subject: a crescent moon in varied colours on varied backgrounds."""
    return [(render(s), s) for s in scenes(n, seed, shapes=(SUBJECT,))]


def style_images(n: int = 64, seed: int = 2) -> list[tuple[Image.Image, Scene]]:
    """The held-out style: outlined shapes (only the outline is drawn)."""
    return [(render(s), s) for s in scenes(n, seed, style=STYLE)]


def concept_images(n: int = 6, seed: int = 3) -> list[tuple[Image.Image, Scene]]:
    """The textual-inversion concept: always a purple heart on an orange background (sizes and places vary)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        s = random_scene(rng, exclude_concept=False, **CONCEPT)
        out.append((render(s), s))
    return out


# ---------------------------------------------------------------- sketches for img2img
def sketch(scene: Scene, seed: int = 0, wobble: float = 1.6) -> Image.Image:
    """A crude, hand-drawn-looking version of a scene: wobbly outline, uneven fill, paper-white background
    with scribbled background colour, as a learner might draw with a mouse."""
    rng = np.random.default_rng(seed)
    big = SIZE * SCALE
    bg = np.array(COLOURS[scene.background], dtype=np.float32)
    fg = np.array(COLOURS[scene.colour], dtype=np.float32)
    paper = np.array([250, 248, 240], dtype=np.float32)
    # background: scribble strokes of the background colour over paper
    img = Image.new("RGB", (big, big), tuple(int(v) for v in 0.35 * paper + 0.65 * bg))
    draw = ImageDraw.Draw(img)
    for _ in range(8):
        y = rng.uniform(0, big)
        col = tuple(int(v) for v in np.clip(bg + rng.normal(0, 12, 3), 0, 255))
        draw.line([(0, y), (big, y + rng.uniform(-40, 40))], fill=col, width=int(rng.uniform(10, 26)))
    # shape: the silhouette's polygon, wobbled
    mask = Image.new("L", (big, big), 0)
    _draw_filled(ImageDraw.Draw(mask), scene.shape, scene.cx * SCALE, scene.cy * SCALE, scene.radius * SCALE, 255, 0)
    m = np.asarray(mask, dtype=np.float32) / 255.0
    # wobble the mask by shifting rows and columns with a smooth random offset
    ys = np.arange(big)
    shift_x = (wobble * SCALE * np.sin(ys / big * 2 * np.pi * rng.uniform(1, 3) + rng.uniform(0, 6))).astype(int)
    m = np.stack([np.roll(m[i], shift_x[i]) for i in range(big)])
    shift_y = (wobble * SCALE * np.sin(ys / big * 2 * np.pi * rng.uniform(1, 3) + rng.uniform(0, 6))).astype(int)
    m = np.stack([np.roll(m[:, j], shift_y[j]) for j in range(big)], axis=1)
    base = np.asarray(img, dtype=np.float32)
    fill = fg + rng.normal(0, 14, (big, big, 1)).repeat(3, axis=2)
    out = base * (1 - m[..., None]) + fill * m[..., None]
    # a dark pencil outline
    edge = (np.abs(np.diff(m, axis=0, prepend=0)) + np.abs(np.diff(m, axis=1, prepend=0))) > 0
    edge_img = Image.fromarray((edge * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(7))
    e = np.asarray(edge_img, dtype=np.float32)[..., None] / 255.0
    out = out * (1 - 0.7 * e) + 40 * 0.7 * e
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8)).resize((SIZE, SIZE), Image.LANCZOS)


def foreground_mask(scene: Scene) -> np.ndarray:
    """The exact boolean silhouette of a scene at 64×64 (the truth for layout measurements)."""
    big = SIZE * SCALE
    mask = Image.new("L", (big, big), 0)
    _draw_filled(ImageDraw.Draw(mask), scene.shape, scene.cx * SCALE, scene.cy * SCALE, scene.radius * SCALE, 255, 0)
    return np.asarray(mask.resize((SIZE, SIZE), Image.BOX)) >= 128
