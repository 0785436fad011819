"""Caption shapes-world pictures zero-shot with a CLIP, as BLIP captions pictures in diffusers' text-to-image
example (lesson 08 builds its fine-tuning dataset this way).

    from course_utils.captions import caption_images
    captions = caption_images(images, style="outlined")                      # every attribute
    captions = caption_images(images, style="outlined", keep=["background"])  # only what it reads well

Each picture is scored against every full caption of the shapes world with the bundled CLIP
(``course_utils/weights/mini/clip``) and gets the best one.
"""

from __future__ import annotations

import itertools

import torch

from . import shapes
from .images import to_tensor
from .tokens import token_ids

CAPTION_ATTRIBUTES = ("size", "colour", "shape", "background")


def caption_images(images, style: str | None = None, keep=CAPTION_ATTRIBUTES, clip=None, tokenizer=None,
                   batch_size: int = 256) -> list[str]:
    """Caption shapes-world images zero-shot with a CLIP: the full caption (size, colour, shape, background)
    whose text embedding is closest to the image's, e.g. "a large red circle on a blue background".

    style: a style name (``shapes.STYLE``) written into every caption, as the name of what the images share.
    keep: the attributes to write; the others are left out ("a outlined shape on a blue background" keeps
        only the background): a caption that says less is better than one that says something false.
    clip, tokenizer: a transformers ``CLIPModel`` and its tokenizer; by default the bundled model's.
    """
    from transformers import CLIPModel, CLIPTokenizer

    from .mini import mini_path

    if isinstance(images, torch.Tensor) and images.ndim == 3:
        images = [images]
    if not len(images):
        raise ValueError("caption_images() got no images: pass a list of PIL images or (3, H, W) tensors")
    pixels = torch.stack([to_tensor(im, where=f"image {i}") for i, im in enumerate(images)])
    if style is not None and style not in shapes.STYLES:
        raise ValueError(f"unknown style {style!r}: choose one of {', '.join(shapes.STYLES)}, or None")
    keep = (keep,) if isinstance(keep, str) else tuple(keep)
    if not set(keep) <= set(CAPTION_ATTRIBUTES):
        raise ValueError(f"keep must list attributes among {CAPTION_ATTRIBUTES}, not {keep!r}")
    from .pipeline import quiet_loading

    with quiet_loading():  # no progress bars in the lessons' outputs
        clip = clip or CLIPModel.from_pretrained(mini_path() / "clip").eval()
        tokenizer = tokenizer or CLIPTokenizer.from_pretrained(mini_path() / "tokenizer")
    scenes = [shapes.Scene(sh, c, b, sz, 32.0, 32.0, 20.0) for sz, c, sh, b in
              itertools.product(shapes.SIZES, shapes.COLOURS, shapes.SHAPES, shapes.COLOURS) if c != b]
    ids = token_ids(tokenizer, [shapes.full_caption(s) for s in scenes])
    with torch.no_grad():
        text = _features(clip.get_text_features(input_ids=ids))
        best = torch.cat([(_features(clip.get_image_features(pixel_values=chunk)) @ text.T).argmax(1)
                          for chunk in pixels.split(batch_size)])
    return [_caption(scenes[k], style, keep) for k in best.tolist()]


def _caption(scene: shapes.Scene, style: str | None, keep) -> str:
    words = [scene.size] if "size" in keep else []
    words += [style] if style not in (None, "flat") else []
    words += [scene.colour] if "colour" in keep else []
    words += [scene.shape if "shape" in keep else "shape"]
    background = f" on a {scene.background} background" if "background" in keep else ""
    # always "a": the shapes world's captions say "a orange circle", and "an" is not in the model's vocabulary
    return f"a {' '.join(words)}{background}"


def _features(out) -> torch.Tensor:
    out = out if isinstance(out, torch.Tensor) else out.pooler_output  # transformers 4 gives a tensor, 5 an output
    return out / out.norm(dim=-1, keepdim=True)
