"""The judge: reads a shapes-world image back into its attributes, so every "does it work?" cell can measure.

    from course_utils.judge import judge, matches
    judge(image)                 # Verdict(shape='star', colour='red', background='blue', size='large', ...)
    matches(judge(image), {"shape": "star"})   # True

Scores over many pictures (adherence to prompts, accuracy, PSNR) are `scoring`'s; how good the judge itself is,
`judge_report`'s.

How it reads an image (no learned black box, every step can be printed and looked at):

1. **Background**: the median colour of the 2-pixel frame (shapes never touch it), named by the nearest
   palette colour. A frame of two colours (a sketch's scribbles) gives two background colours; a frame
   with no flat colour at all (noise) gives nothing to judge.
2. **Ink**: how far each pixel has moved from the background *towards the shape's colour*, as a fraction
   ``alpha`` (0 = background, 1 = shape colour). Ink is ``alpha > 0.5``: the half-coverage edge of an
   anti-aliased shape, which blur and mild noise hardly move. The largest connected piece is kept and its
   holes are filled to give the **silhouette**.
3. **Colour**: the median of the ink's core pixels (eroded, so anti-aliased edges don't pull it), named
   by the nearest palette colour, allowing a little mixing with the background (thin blurred outlines).
4. **Shape**: the silhouette is centred on its centroid, scaled by the square root of its area and compared
   with clean renderings of every shape (templates rendered by ``shapes.py`` at many sizes and positions,
   built once, in about a second, at first use). ``score`` is the overlap (IoU) with the best template;
   below that shape's ``MIN_SCORE`` the shape is ``"unknown"``: a blob is not a star.
5. **Size**: the radius the silhouette's area implies for the nearest shape, split at the gap between the
   small (12–14 px) and large (19–22 px) radii.
6. **Style**: ``"outlined"`` when the silhouette's *core*, the part deeper inside than an outline's stroke,
   shows the background: its median ink is below ``HOLLOW`` and its colours are mixes of background and
   shape colour (a filled shape with a spot of another colour is not an outline, nor is one with a small
   hole). The silhouette for this is drawn with faint ink too (``alpha > FAINT``), so a ring with a faint
   stretch still closes. A shape too thin to have a core (a small star) is outlined when its ink dips below
   ``1 - OUTLINE_DIP`` inside.

Anything the judge cannot read is ``"unknown"``, which never matches a prompt.
"""

from __future__ import annotations

import functools
import random
from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image, ImageFilter
from scipy import ndimage

from . import shapes
from .images import tensor_to_pil

UNKNOWN = "unknown"
ATTRIBUTES = ("shape", "colour", "background", "size", "style")
NAMES = tuple(shapes.COLOURS)
PALETTE = np.array([shapes.COLOURS[c] for c in NAMES], dtype=np.float32)

MIN_CONTRAST = 40.0  # RGB distance the shape must stand out from the background by
MAX_COLOUR_DIST = 60.0  # farther than this from every palette colour: "unknown" (a muted grey is no colour)
MIN_MIX = 0.75  # a shape's core may be mixed with the background this much (blurred thin strokes)
MAX_FRAME_SPREAD = 40.0  # a frame this uneven is no flat background (noise, a photo): nothing to judge
MIN_AREA = 30  # pixels; smaller silhouettes are specks, not shapes
# The least IoU with a shape's templates to be called that shape: about 0.03 below the worst score of
# blurred and noisy renders of it (development seeds). Round shapes need more: a hexagon is 0.93 circle.
MIN_SCORE = {"circle": 0.93, "square": 0.91, "triangle": 0.89, "star": 0.86, "heart": 0.91,
             "cross": 0.88, "moon": 0.85}
OUTLINE_DIP = 0.40  # shapes with no core: how far ink must dip inside the silhouette to call it outlined
CORE_DEPTH = 4.5  # px from the edge: deeper than the outlined style's 3.2-px stroke, blurred a little
MIN_CORE = 4  # pixels; a smaller core is no core (small stars, thin crosses)
FAINT = 0.25  # ink this faint still closes a ring, for the style's silhouette
HOLLOW = 0.6  # a core whose median ink is below this shows the background (a blurred thin ring's is ~0.55)
SIZE_SPLIT = float(np.sqrt(shapes.RADIUS["small"][1] * shapes.RADIUS["large"][0]))  # ≈ 16.3 px
GRID = 32  # silhouettes are compared on a GRID×GRID raster ...
SPAN = 1.15  # ... covering ±SPAN·sqrt(area) around the centroid (every shape fits)


@dataclass(frozen=True)
class Verdict:
    """What the judge read from one image ("unknown" where it could not tell).

    ``nearest`` is the best-matching shape and ``score`` the overlap (IoU, 0–1) of the silhouette with
    its closest clean rendering; ``shape`` is ``nearest`` when ``score >= MIN_SCORE[nearest]``.
    """

    shape: str
    colour: str
    background: str
    size: str
    style: str
    score: float
    nearest: str

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return (f"{self.size} {self.style} {self.colour} {self.shape} on {self.background} "
                f"({self.nearest} {self.score:.2f})")


# ---------------------------------------------------------------- input
def _to_array(image) -> np.ndarray:
    """Any supported image -> float32 (64, 64, 3) in 0..255."""
    if isinstance(image, torch.Tensor):
        if image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(f"expected a (3, H, W) tensor in [-1, 1], got shape {tuple(image.shape)}")
        image = tensor_to_pil(image)
    elif isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) uint8 array, got shape {image.shape}")
        image = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    elif not isinstance(image, Image.Image):
        raise TypeError(f"judge() takes a PIL image, a (3, H, W) tensor or an (H, W, 3) array, "
                        f"not {type(image).__name__}")
    image = image.convert("RGB")
    if image.size != (shapes.SIZE, shapes.SIZE):
        image = image.resize((shapes.SIZE, shapes.SIZE), Image.LANCZOS)
    return np.asarray(image, dtype=np.float32)


def _nearest(rgb: np.ndarray, bg: np.ndarray | None = None) -> str:
    """The palette colour nearest to ``rgb``. With ``bg``, each palette colour c also stands for its mixes
    with the background down to MIN_MIX (bg + t·(c - bg), t in [MIN_MIX, 1]): a thin blurred stroke keeps
    its colour's direction but not its full strength."""
    target = PALETTE if bg is None else bg + np.clip(
        ((PALETTE - bg) @ (rgb - bg)) / np.maximum(((PALETTE - bg) ** 2).sum(1), 1.0), MIN_MIX, 1.0
    )[:, None] * (PALETTE - bg)
    dist = np.linalg.norm(target - rgb, axis=1)
    return NAMES[int(dist.argmin())] if dist.min() <= MAX_COLOUR_DIST else UNKNOWN


# ---------------------------------------------------------------- reading one image
def _backgrounds(frame: np.ndarray) -> np.ndarray:
    """The frame's colour, or its two colours when a sizeable part of it is another colour (a sketch's
    scribbled background): an array (k, 3), the commoner colour first."""
    centres = np.median(frame, axis=0)[None]
    far = np.linalg.norm(frame - centres[0], axis=1) > MIN_CONTRAST
    if far.mean() > 0.15:
        centres = np.stack([np.median(frame[~far], axis=0), np.median(frame[far], axis=0)])
        for _ in range(3):  # a few rounds of 2-medians
            near = np.linalg.norm(frame[:, None] - centres, axis=2).argmin(1)
            if near.min() == near.max():
                break
            centres = np.stack([np.median(frame[near == k], axis=0) for k in (0, 1)])
        if (near == 1).mean() > 0.5:
            centres = centres[::-1]
    return centres


def _read(rgb: np.ndarray):
    """Background colour (None if the frame is not flat), alpha map, ink and filled silhouette of one image."""
    f = 2
    frame = np.concatenate([rgb[:f].reshape(-1, 3), rgb[-f:].reshape(-1, 3),
                            rgb[f:-f, :f].reshape(-1, 3), rgb[f:-f, -f:].reshape(-1, 3)])
    bgs = _backgrounds(frame)
    empty = np.zeros(rgb.shape[:2], dtype=bool)
    if np.median(np.linalg.norm(frame[:, None] - bgs, axis=2).min(1)) > MAX_FRAME_SPREAD:
        return None, None, empty, empty  # no flat background: nothing to judge
    dist = np.linalg.norm(rgb[:, :, None] - bgs, axis=3).min(2)
    peak = np.percentile(dist, 99)
    if peak < MIN_CONTRAST:
        return bgs[0], None, empty, empty  # nothing stands out
    fg = np.median(rgb[dist > 0.7 * peak], axis=0)
    # alpha: the fraction of the way from the (nearest) background colour to the shape's colour
    steps = fg - bgs
    alpha = np.min([(rgb - b) @ st / max(float(st @ st), 1.0) for b, st in zip(bgs, steps, strict=True)], axis=0)
    labels, n = ndimage.label(alpha > 0.5)
    if n == 0:
        return bgs[0], alpha, empty, empty
    ink = labels == (np.bincount(labels.ravel())[1:].argmax() + 1)
    return bgs[0], alpha, ink, ndimage.binary_fill_holes(ink)


def _normalise(filled: np.ndarray) -> np.ndarray:
    """The silhouette resampled on a GRID×GRID raster centred on its centroid, scaled by sqrt(area)."""
    ys, xs = np.nonzero(filled)
    half = SPAN * np.sqrt(len(ys))
    u = np.linspace(-half, half, GRID)
    yy, xx = np.meshgrid(ys.mean() + u, xs.mean() + u, indexing="ij")
    return ndimage.map_coordinates(filled.astype(np.float32), [yy, xx], order=1, cval=0.0).ravel()


def _outline_dip(alpha: np.ndarray, filled: np.ndarray) -> float:
    """How far the (lightly smoothed) ink falls below full inside the silhouette: ~0 flat, ~1 outlined."""
    inside = ndimage.binary_erosion(filled, iterations=2)
    if not inside.any():
        return 0.0
    smooth = ndimage.gaussian_filter(np.clip(alpha, 0, 1), 0.6)
    return float(1.0 - smooth[inside].min())


def _style(rgb: np.ndarray, bg: np.ndarray, alpha: np.ndarray, ink: np.ndarray, filled: np.ndarray) -> str:
    """"outlined" or "flat": does the background show through the silhouette's core? (item 6 above)"""
    faint = ndimage.binary_closing(alpha > FAINT)  # bridges one-pixel gaps in a faint stretch of a ring
    labels, _ = ndimage.label(faint)
    pieces = np.setdiff1d(np.unique(labels[ink]), [0])  # the faint pieces the ink belongs to
    core = ndimage.distance_transform_edt(ndimage.binary_fill_holes(ink | np.isin(labels, pieces))) > CORE_DEPTH
    if core.sum() < MIN_CORE:
        return shapes.STYLE if _outline_dip(alpha, filled) > OUTLINE_DIP else "flat"
    a = np.clip(alpha[core], 0, 1)
    fg = np.median(rgb[ink], axis=0)
    # how far the core's colours are from mixes of background and shape colour (a third colour: a spot)
    off_mix = np.median(np.linalg.norm(rgb[core] - (bg + a[:, None] * (fg - bg)), axis=1))
    return shapes.STYLE if np.median(a) < HOLLOW and off_mix <= MAX_COLOUR_DIST else "flat"


@functools.lru_cache(maxsize=1)
def _templates():
    """Normalised silhouettes of every shape, rendered clean and mildly blurred, and each shape's
    area/radius² (to turn an area into a radius). Deterministic; built once per process (~1 s)."""
    rng = random.Random(314159)
    bank, labels, k = [], [], {}
    for i, shape in enumerate(shapes.ALL_SHAPES):
        ratios = []
        for j in range(48):
            scene = shapes.random_scene(rng, shapes=(shape,), size=shapes.SIZES[j % 2])
            image = shapes.render(scene)
            for variant in (image, image.filter(ImageFilter.GaussianBlur(1.0))):
                filled = _read(np.asarray(variant, dtype=np.float32))[3]
                bank.append(_normalise(filled))
                labels.append(i)
                ratios.append(filled.sum() / scene.radius**2)
        k[shape] = float(np.median(ratios))
    bank = np.stack(bank).astype(np.float32)
    return bank, bank.sum(1), np.array(labels), k


def _classify(filled: np.ndarray) -> tuple[str, float, float]:
    """(nearest shape, score, implied radius) of a silhouette by nearest template (IoU)."""
    bank, areas, labels, k = _templates()
    q = _normalise(filled)
    overlap = np.minimum(bank, q).sum(1)  # soft IoU: overlap / (area_a + area_b - overlap)
    iou = overlap / (areas + q.sum() - overlap)
    best = np.zeros(len(shapes.ALL_SHAPES))
    np.maximum.at(best, labels, iou)
    i = int(best.argmax())
    name = shapes.ALL_SHAPES[i]
    return name, float(best[i]), float(np.sqrt(filled.sum() / k[name]))


def judge(image) -> Verdict:
    """Read one image: a PIL image (any mode; converted to RGB), a (3, H, W) tensor in [-1, 1] (as the
    pipelines and ``images.to_tensor`` give) or an (H, W, 3) uint8 array.

    Images that are not 64×64 are first resized to 64×64 (Lanczos), so a 512-px image from a real Stable
    Diffusion checkpoint is judged as if it were drawn in the shapes world; keep its shape square.
    Tensors must be in [-1, 1] (a [0, 1] tensor would read as washed-out colours).
    """
    rgb = _to_array(image)
    bg, alpha, ink, filled = _read(rgb)
    background = UNKNOWN if bg is None else _nearest(bg)
    if filled.sum() < MIN_AREA:
        return Verdict(UNKNOWN, UNKNOWN, background, UNKNOWN, UNKNOWN, 0.0, UNKNOWN)
    core = ndimage.binary_erosion(ink)
    colour = _nearest(np.median(rgb[core if core.sum() >= 5 else ink], axis=0), bg)
    nearest, score, radius = _classify(filled)
    frame = filled.copy()
    frame[2:-2, 2:-2] = False  # a silhouette that reaches the frame is no shape on a background
    shape = nearest if score >= MIN_SCORE[nearest] and not frame.any() else UNKNOWN
    size = "small" if radius < SIZE_SPLIT else "large"
    style = _style(rgb, bg, alpha, ink, filled)
    return Verdict(shape, colour, background, size, style, round(score, 3), nearest)


def judge_many(images) -> list[Verdict]:
    """Judge a list of images (or an (N, 3, H, W) tensor batch)."""
    return [judge(im) for im in images]


def foreground(image) -> np.ndarray:
    """The judge's filled silhouette: a boolean (64, 64) mask, all False when no shape is found."""
    return _read(_to_array(image))[3]


def iou(mask_a: np.ndarray, mask_b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 for two empty masks)."""
    a, b = np.asarray(mask_a, bool), np.asarray(mask_b, bool)
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} vs {b.shape}")
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def layout_iou(image_a, image_b) -> float:
    """How much of one image's layout the other keeps: IoU of their foregrounds (img2img lesson)."""
    return iou(foreground(image_a), foreground(image_b))


# ---------------------------------------------------------------- matching prompts
def wanted_attributes(wanted) -> dict:
    """The attributes a dict or a Scene asks for (None = don't care, left out), checked."""
    if isinstance(wanted, shapes.Scene):
        wanted = wanted.attributes()
    if isinstance(wanted, str):
        raise TypeError("matches() takes a dict of attributes, not a prompt: for a prompt use "
                        "shapes.scene_from_caption(prompt)")
    if not isinstance(wanted, dict):
        raise TypeError(f"wanted must be a dict of attributes or a Scene, not {type(wanted).__name__}")
    extra = set(wanted) - set(ATTRIBUTES) - {"cx", "cy", "radius"}
    if extra:
        hint = " (spelled 'colour')" if "color" in extra else ""
        raise ValueError(f"unknown attribute(s) {sorted(extra)}{hint}: use {', '.join(ATTRIBUTES)}")
    return {k: v for k, v in wanted.items() if k in ATTRIBUTES and v is not None}


def matches(verdict: Verdict, wanted) -> bool:
    """True when the verdict agrees with every attribute ``wanted`` names (None = don't care)."""
    return all(getattr(verdict, k) == v for k, v in wanted_attributes(wanted).items())


# ---------------------------------------------------------------- held-out sets
def _verdict(v) -> Verdict:
    return v if isinstance(v, Verdict) else judge(v)


def is_concept(verdict) -> bool:
    """Is it (a Verdict, or an image to judge) the textual-inversion concept, ``shapes.CONCEPT``?"""
    return matches(_verdict(verdict), shapes.CONCEPT)


def is_subject(verdict) -> bool:
    """Is it (a Verdict, or an image to judge) the DreamBooth subject, ``shapes.SUBJECT`` (a crescent)?"""
    return _verdict(verdict).shape == shapes.SUBJECT


def is_styled(verdict) -> bool:
    """Is it (a Verdict, or an image to judge) in the held-out style, ``shapes.STYLE`` (outlined)?"""
    return _verdict(verdict).style == shapes.STYLE
