"""Tensors where the pipeline computes: on its device, and floating-point ones in its dtype.

On a GPU the models live on CUDA in float16 or bfloat16, so a tensor made on the CPU in float32 (a picture, a
token list, a starting noise) must move before it goes in. One helper does it for every lesson:

    from course_utils.placement import to_pipe
    latents = pipe.vae.encode(to_pipe(pixels, pipe)).latent_dist.mean

Starting noise is drawn the way diffusers draws it by `seeds.noise` and `seeds.fixed_latents`.
"""

from __future__ import annotations

import torch


def to_pipe(tensor: torch.Tensor, pipe, module: torch.nn.Module | None = None) -> torch.Tensor:
    """`tensor` on `pipe`'s device; a floating-point tensor also in the pipeline's dtype (or in `module`'s,
    e.g. pipe.vae, when a part runs in another dtype). Integer tensors (token ids, timesteps) keep theirs."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, not {type(tensor).__name__}: make one with torch.tensor(...)")
    dtype = module.dtype if module is not None else pipe.dtype
    device = module.device if module is not None else pipe.device
    if tensor.is_floating_point():
        return tensor.to(device=device, dtype=dtype)
    return tensor.to(device=device)
