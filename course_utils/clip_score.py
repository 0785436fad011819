"""CLIP score: how well a picture matches its prompt, for models whose pictures the shapes-world judge can't read.

The CLIP score of a picture I and a caption C is max(100 · cos(E_I, E_C), 0), the cosine similarity of CLIP's
image and text embeddings, scaled to 0–100 (torchmetrics' definition; Hessel et al. 2021, "CLIPScore", weight
the cosine by 2.5 instead). It is what diffusers' evaluation guide uses for text-to-image models, with
openai/clip-vit-large-patch14, the CLIP whose text encoder Stable Diffusion 1.5 itself uses.

    from course_utils.clip_score import load_clip_scorer
    score = load_clip_scorer()             # None (and one printed line) when the CLIP model can't be had
    if score:
        print(score(images, prompts))      # one score per picture

The weights load from safetensors only, and no code from the Hub is run. Offline, a Hub id that is not in the
local cache gives None with a line that says so, so that a lesson can go on without it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .hub import hub_offline, is_cached
from .images import load_image

DEFAULT_CLIP = "openai/clip-vit-large-patch14"


class ClipScorer:
    """A CLIP model and its processor, called as scorer(images, prompts) -> list of CLIP scores."""

    def __init__(self, model, processor, batch_size: int = 16):
        self.model, self.processor, self.batch_size = model.eval(), processor, batch_size

    @torch.no_grad()
    def __call__(self, images, prompts) -> list[float]:
        images = [load_image(im) for im in (images if isinstance(images, (list, tuple)) else [images])]
        prompts = [prompts] * len(images) if isinstance(prompts, str) else list(prompts)
        if len(prompts) != len(images):
            raise ValueError(f"{len(images)} pictures and {len(prompts)} prompts: give one prompt per picture, "
                             "or one prompt for all")
        device = self.model.device
        scores = []
        for i in range(0, len(images), self.batch_size):
            batch = self.processor(text=prompts[i:i + self.batch_size], images=images[i:i + self.batch_size],
                                   return_tensors="pt", padding=True, truncation=True)
            pixels = batch["pixel_values"].to(device, self.model.dtype)
            image_embeds = self.model.get_image_features(pixel_values=pixels)
            text_embeds = self.model.get_text_features(input_ids=batch["input_ids"].to(device),
                                                       attention_mask=batch["attention_mask"].to(device))
            cos = torch.nn.functional.cosine_similarity(_tensor(image_embeds).float(),
                                                        _tensor(text_embeds).float(), dim=-1)
            scores += (100 * cos).clamp(min=0).tolist()
        return scores


def _tensor(features):
    """transformers 5 may return an output object where 4.x returned the embedding tensor."""
    return features if isinstance(features, torch.Tensor) else features.pooler_output


def load_clip_scorer(model: str = DEFAULT_CLIP, device=None) -> ClipScorer | None:
    """A ClipScorer for `model` (a Hub id or a local folder with a CLIP model and its processor), on `device`
    (default: the GPU if there is one). None, with one printed line, when it can't be loaded offline."""
    from transformers import CLIPModel, CLIPProcessor

    local = Path(model).expanduser().is_dir()
    if not local and hub_offline() and not is_cached(model):
        print(f"no CLIP score here: {model} is not in the local cache and the Hub is offline "
              "(with internet, the first use downloads it)")
        return None
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    clip = CLIPModel.from_pretrained(model, use_safetensors=True, local_files_only=hub_offline())
    clip = clip.to(device, dtype)
    return ClipScorer(clip, CLIPProcessor.from_pretrained(model, local_files_only=hub_offline()))
