"""LoRA for the UNet (and, if asked, the text encoder): add low-rank adapters to their attention, train them,
save them in a small file (lesson 11).

    from course_utils.finetune import finetune
    from course_utils.lora import add_lora, save_lora
    params = add_lora(pipe, rank=4)                   # B·A beside each attention projection; B starts at zero
    finetune(pipe, data, train=params, steps=300, lr=1e-3)
    path = save_lora(pipe, "outputs/11_lora/outlined")  # pytorch_lora_weights.safetensors, a few hundred kB

``add_lora(pipe, text_encoder=True)`` also puts adapters on the text encoder's attention (``q_proj``, ``k_proj``,
``v_proj``, ``out_proj``), what diffusers' LoRA training scripts call ``--train_text_encoder``: needed when the
captions hold a word the text encoder never learned. Both go in the same file, and ``set_adapters``,
``fuse_lora``, ``unfuse_lora`` and ``unload_lora_weights`` act on both.

Loading back (``load_lora``: diffusers' ``pipe.load_lora_weights``, from safetensors only, offline, with an error
that says what to do when the file is missing), weighting and removing (diffusers' own):

    load_lora(pipe, "outputs/11_lora/outlined", name="outlined")
    pipe.set_adapters("outlined", adapter_weights=0.5)   # the LoRA's scale: 0 is the base model, 1 the full update
    pipe.fuse_lora(); pipe.unfuse_lora()                   # bake W + B·A into W, and take it out again
    pipe.unload_lora_weights()                             # every adapter removed: the base model is back

What this module adds to peft's ``LoraConfig`` and diffusers' ``unet.add_adapter``/``save_lora_weights``: checks
that say what to do (a rank that is no positive whole number, a target that names no layer of this UNet, a
pipeline without LoRA to save), a seeded initialisation (the same adapters on every run), the list of exactly
the parameters that should train, and a saved file that carries its own rank and alpha (peft's config, as
diffusers' training scripts store it), so ``load_lora_weights`` rebuilds the adapter exactly.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import torch

TARGETS = ("to_q", "to_k", "to_v", "to_out.0")  # the attention projections, self- and cross-attention alike
TEXT_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")  # the text encoder's (CLIP's) attention projections
WEIGHT_NAME = "pytorch_lora_weights.safetensors"  # the file name load_lora_weights looks for in a folder


def _unet(pipe):
    unet = getattr(pipe, "unet", None)
    if not isinstance(unet, torch.nn.Module):
        raise TypeError(f"pipe must be a Stable Diffusion pipeline with a UNet (load it with load_pipeline()), "
                        f"not {type(pipe).__name__}")
    return unet


def adapter_names(pipe) -> list[str]:
    """The names of the LoRA adapters on ``pipe.unet`` (added by ``add_lora`` or ``load_lora_weights``)."""
    unet = _unet(pipe)
    return list(getattr(unet, "peft_config", {}) or {}) if getattr(unet, "_hf_peft_config_loaded", False) else []


def _layer_names(unet) -> set[str]:
    """The names of the UNet's Linear and Conv2d layers (a layer that already has LoRA: the name it had before)."""
    return {name.replace(".base_layer", "") for name, module in unet.named_modules()
            if isinstance(module, torch.nn.Linear | torch.nn.Conv2d) and ".lora_" not in name}


def _check_targets(unet, targets) -> list[str]:
    if isinstance(targets, str):
        targets = [targets]
    try:
        targets = list(targets)
    except TypeError:
        raise TypeError(f"targets must be a list of layer names such as {list(TARGETS)}, not {targets!r}") from None
    if not targets or not all(isinstance(t, str) and t.strip() for t in targets):
        raise ValueError(f"targets must be a non-empty list of layer names such as {list(TARGETS)}, not {targets!r}")
    layers = _layer_names(unet)
    for target in targets:
        # peft's rule: a target names a layer whose full name is it, or ends with "." + it
        if not any(name == target or name.endswith("." + target) for name in layers):
            inside = sorted({re.split(r"\.attn\d+\.", n)[-1] for n in layers if re.search(r"\.attn\d+\.", n)})
            raise ValueError(f"target {target!r} names no Linear or Conv2d layer of this UNet: choose among the "
                             f"attention layers' {', '.join(inside) or 'names'} (print(pipe.unet) shows them all)")
    return targets


def add_lora(pipe, rank: int = 4, alpha: float | None = None, targets=TARGETS, seed: int = 0,
             name: str = "default", text_encoder: bool = False) -> list[torch.nn.Parameter]:
    """Add LoRA adapters (peft ``LoraConfig``) to the layers of ``pipe.unet`` named by ``targets``.

    Each chosen weight W (d_out × d_in) gains a low-rank update: the layer computes W·x + (alpha/rank)·B·A·x,
    with A (rank × d_in) drawn at random from ``seed`` and B (d_out × rank) zero, so the pipeline's pictures are
    unchanged until B trains. alpha: None means alpha = rank (the update's scale is 1). name: the adapter's name
    (``pipe.set_adapters(name, ...)``). text_encoder: also add an adapter of the same rank and alpha, under the
    same name, to the text encoder's attention projections (``TEXT_TARGETS``). Returns the LoRA parameters, all
    A's and B's and nothing else (the UNet's first), to pass to ``finetune(pipe, data, train=params, ...)``.
    """
    from peft import LoraConfig

    unet = _unet(pipe)
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValueError(f"rank must be a positive whole number such as 4, not {rank!r}")
    if alpha is None:
        alpha = rank
    elif isinstance(alpha, bool) or not isinstance(alpha, int | float) or not alpha > 0:
        raise ValueError(f"alpha must be a positive number (None: the same as rank), not {alpha!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be a whole number, not {seed!r}")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty string, not {name!r}")
    if name in adapter_names(pipe):
        raise ValueError(f"pipe.unet already has a LoRA adapter named {name!r}: give another name, or remove it "
                         "first with pipe.delete_adapters(name) (pipe.unload_lora_weights() removes them all)")
    if not isinstance(text_encoder, bool):
        raise TypeError(f"text_encoder must be True or False, not {text_encoder!r}")
    if text_encoder and not isinstance(getattr(pipe, "text_encoder", None), torch.nn.Module):
        raise TypeError("text_encoder=True needs a pipeline with a text encoder (pipe.text_encoder)")
    targets = _check_targets(unet, targets)
    config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=targets, init_lora_weights=True, lora_dropout=0.0)
    before = {id(p) for p in unet.parameters()}
    with torch.random.fork_rng(devices=[]):  # the adapters' random A's come from `seed`, not the global state
        torch.manual_seed(seed)
        unet.add_adapter(config, adapter_name=name)
    params = _added(unet, before)
    if text_encoder:
        from peft import inject_adapter_in_model

        # peft's inject_adapter_in_model, not transformers' text_encoder.add_adapter: the latter asks for a newer
        # peft than the course needs, and diffusers' loading, scaling, fusing and saving work the same either way.
        config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(TEXT_TARGETS), init_lora_weights=True,
                            lora_dropout=0.0)
        before = {id(p) for p in pipe.text_encoder.parameters()}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 1)
            inject_adapter_in_model(config, pipe.text_encoder, adapter_name=name)
        params += _added(pipe.text_encoder, before)
    return params


def _added(model, before: set[int]) -> list[torch.nn.Parameter]:
    added = [(n, p) for n, p in model.named_parameters() if id(p) not in before]
    if not added or not all(".lora_A." in n or ".lora_B." in n for n, _ in added):
        raise RuntimeError(f"peft added no LoRA parameters, or unexpected ones ({[n for n, _ in added][:3]}): "
                           "check the installed peft version")
    return [p for _, p in added]


def _text_encoder_adapter(pipe, name: str):
    """The peft config of the text encoder's LoRA adapter ``name``, or None when it has none of that name."""
    configs = getattr(getattr(pipe, "text_encoder", None), "peft_config", None) or {}
    return configs.get(name)


def save_lora(pipe, folder, name: str | None = None) -> Path:
    """Save the UNet's LoRA adapter ``name`` (default: the only one) into ``folder`` as safetensors, with its
    rank and alpha, via ``StableDiffusionPipeline.save_lora_weights``; the text encoder's adapter of the same
    name too, when ``add_lora(..., text_encoder=True)`` made one. Returns the file's path; load it back
    with ``pipe.load_lora_weights(folder)``. Only the A and B matrices are saved, never the base weights."""
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    unet = _unet(pipe)
    names = adapter_names(pipe)
    if not names:
        raise ValueError("pipe.unet has no LoRA adapter to save: add one with add_lora(pipe) and train it first")
    if name is None:
        if len(names) > 1:
            raise ValueError(f"pipe.unet has several LoRA adapters ({', '.join(names)}): say which to save, "
                             "save_lora(pipe, folder, name=...)")
        name = names[0]
    elif name not in names:
        raise ValueError(f"pipe.unet has no LoRA adapter named {name!r}; it has: {', '.join(names)}")
    if getattr(pipe, "num_fused_loras", 0):
        raise ValueError("the LoRA is fused into the UNet's weights: call pipe.unfuse_lora() before saving it")
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet, adapter_name=name))
    metadata = unet.peft_config[name].to_dict()
    text = {}
    text_config = _text_encoder_adapter(pipe, name)
    if text_config is not None:
        state = get_peft_model_state_dict(pipe.text_encoder, adapter_name=name)
        text = {"text_encoder_lora_layers": convert_state_dict_to_diffusers(state),
                "text_encoder_lora_adapter_metadata": text_config.to_dict()}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    StableDiffusionPipeline.save_lora_weights(folder, unet_lora_layers=layers, safe_serialization=True,
                                              weight_name=WEIGHT_NAME, unet_lora_adapter_metadata=metadata, **text)
    return folder / WEIGHT_NAME


class _DropEmptyTextEncoderNotice(logging.Filter):
    """load_lora_weights warns that a UNet-only LoRA has no text-encoder keys: true, expected, and noise here."""

    def filter(self, record) -> bool:
        return not record.getMessage().startswith("No LoRA keys associated to CLIPTextModel")


def load_lora(pipe, path, name: str = "default") -> str:
    """Load a LoRA saved by ``save_lora`` (or any diffusers LoRA in safetensors) into ``pipe`` as adapter ``name``.

    path: the folder ``save_lora`` wrote, or the ``.safetensors`` file itself. This is
    ``pipe.load_lora_weights`` with safetensors only (never a pickle), local files only, and clear errors.
    Returns ``name``; set its scale with ``pipe.set_adapters(name, adapter_weights=0.5)``.
    """
    _unet(pipe)
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty string, not {name!r}")
    if name in adapter_names(pipe):
        raise ValueError(f"pipe.unet already has a LoRA adapter named {name!r}: give another name, or remove it "
                         "first with pipe.delete_adapters(name)")
    path = Path(path)
    if path.is_dir():
        files = [path / WEIGHT_NAME] if (path / WEIGHT_NAME).is_file() else sorted(path.glob("*.safetensors"))
        if len(files) != 1:
            found = "no .safetensors file" if not files else f"{len(files)} .safetensors files"
            raise FileNotFoundError(f"{path} holds {found}: pass the LoRA file itself, or the folder that "
                                    "save_lora(pipe, folder) wrote")
        path = files[0]
    elif not path.is_file():
        raise FileNotFoundError(f"no LoRA at {path}: save one with save_lora(pipe, folder) and pass that folder")
    if path.suffix != ".safetensors":
        raise ValueError(f"{path.name} is not a .safetensors file: the course loads weights from safetensors only")
    notice = _DropEmptyTextEncoderNotice()
    loggers = [logging.getLogger(f"diffusers.loaders.{module}") for module in ("lora_base", "peft")]
    for logger in loggers:
        logger.addFilter(notice)
    try:
        pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=name, use_safetensors=True,
                               local_files_only=True)
    finally:
        for logger in loggers:
            logger.removeFilter(notice)
    if name not in adapter_names(pipe):
        raise ValueError(f"{path} holds no LoRA for this pipeline's UNet (its keys did not match any layer)")
    return name
