"""Prompts as token ids, the way Stable Diffusion's pipeline makes them: padded to the tokenizer's full length
(``model_max_length``: 77 for SD's CLIP, 16 for the bundled model's) and cut there."""

from __future__ import annotations

import torch


def token_ids(tokenizer, texts, device=None) -> torch.Tensor:
    """A (len(texts), tokenizer.model_max_length) tensor of ids for a string or a list of strings."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    ids = tokenizer(texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids
    return ids if device is None else ids.to(device)
