"""Pictures between their three forms: PIL images, NumPy arrays and torch tensors.

The course's convention is Stable Diffusion's: a picture as a tensor is float (3, H, W) in [-1, 1], the range
its VAE expects; as an array it is uint8 (H, W, 3); anything shown or saved is a PIL RGB image.

    from course_utils.images import to_pil, to_tensor, tensor_to_pil, to_batch, load_image
    x = to_tensor(picture)               # (3, H, W) in [-1, 1]
    picture = tensor_to_pil(x)           # back to PIL, exactly: [-1, 1] -> 0..255
    batch = to_batch(uint8_array)        # (N, H, W, 3) uint8 -> (N, 3, H, W) in [-1, 1]
    picture = load_image("sketch.png", size=64)   # a file, a URL, or any of the forms above, as RGB

`to_pil` guesses a float's range (for showing anything); `tensor_to_pil` knows it is [-1, 1] (for measuring).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .checks import check_side


def to_pil(image) -> Image.Image:
    """A PIL image from a PIL image, a NumPy array or a torch tensor.

    Arrays and tensors may be (H, W), (H, W, C) or (C, H, W), with a leading batch axis of 1; uint8 is taken
    as 0..255, floats as [-1, 1] when they go below 0, else as [0, 1].
    """
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, torch.Tensor):
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


def tensor_to_pil(tensor: torch.Tensor) -> Image.Image:
    """A float tensor (3, H, W) in [-1, 1] as a PIL RGB image: clamped, then (x + 1) * 127.5, rounded."""
    if not isinstance(tensor, torch.Tensor) or tensor.ndim != 3 or tensor.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) tensor, got shape {tuple(getattr(tensor, 'shape', ()))}")
    a = ((tensor.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte()
    return Image.fromarray(a.permute(1, 2, 0).numpy())


def to_tensor(image, where: str | None = None) -> torch.Tensor:
    """A PIL image, a uint8 (H, W, 3) array or a (3, H, W) tensor as a float tensor (3, H, W) in [-1, 1].

    `where` names the picture in error messages, e.g. where="image 3" for the fourth of a list."""
    try:
        return _to_tensor(image)
    except (TypeError, ValueError) as error:
        if where is None:
            raise
        raise type(error)(f"{where}: {error}") from None


def _to_tensor(image) -> torch.Tensor:
    if isinstance(image, torch.Tensor):
        if image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(f"expected a (3, H, W) tensor, got shape {tuple(image.shape)}")
        if image.min() < -1.01 or image.max() > 1.01:
            raise ValueError(f"tensor values must be in [-1, 1], got {image.min().item():.3g}..{image.max().item():.3g}: "
                             "convert 0..1 pictures with x * 2 - 1")
        return image.float()
    return to_batch(np.array(to_pil(image).convert("RGB"))[None])[0].contiguous()  # a writable copy for torch


def to_batch(array: np.ndarray) -> torch.Tensor:
    """A uint8 (N, H, W, 3) array as a float tensor (N, 3, H, W) in [-1, 1]."""
    if not isinstance(array, np.ndarray) or array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"expected a uint8 (N, H, W, 3) array, got {getattr(array, 'shape', type(array).__name__)}")
    return torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def to_rgb(image: Image.Image) -> Image.Image:
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
                    f"no image at {text!r}: {path.absolute()} {where}: check the file name (a relative path "
                    f"starts from the current folder, {Path.cwd()})"
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
    image = to_rgb(image)
    if size is not None:
        width, height = (size, size) if isinstance(size, int) and not isinstance(size, bool) else tuple(size)
        target = (check_side("width", width), check_side("height", height))
        if image.size != target:
            image = image.resize(target, Image.Resampling.LANCZOS)
    return image
