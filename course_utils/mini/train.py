"""Train the bundled mini Stable Diffusion from scratch, on the shapes world.

    python -m course_utils.mini.train            # every stage, resuming whatever is done
    python -m course_utils.mini.train --stage vae

Stages, in order (each resumes from its last checkpoint in the work folder, default ``.mini-work/``):
1. ``data``     render the training images (seeded) and some generic clutter for the VAE;
2. ``vae``      the AutoencoderKL: 64×64×3 → 8×8×4, as Stable Diffusion's factor 8;
3. ``clip``     a CLIP (text encoder + image encoder) trained contrastively on captions ↔ images;
                its text half is where the pipeline's text encoder starts;
4. ``latents``  encode the training set once and compute the VAE's scaling factor as SD's was (1/std);
5. ``unet``     the UNet2DConditionModel, with caption dropout for classifier-free guidance, trained together
                with the text encoder (which starts as CLIP's text half): see ``stage_unet`` for why;
6. ``export``   save the StableDiffusionPipeline folder (safetensors) to ``<work>/export`` (``--out``), or over
                the bundled model in ``course_utils/weights/mini/`` with ``--replace-bundled``.

Losses go to ``<work>/log.jsonl``; a checkpoint (``course_utils.training.Checkpoint``) is written every few
minutes, with the stage's settings: resuming a stage with other ``--set`` values is refused.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel
from PIL import Image, ImageDraw
from safetensors.torch import load_file, save_file

from .. import scoring, shapes
from ..images import tensor_to_pil, to_batch
from ..tokens import token_ids
from ..training import Checkpoint, OtherRunError, atomic_write, contrastive_step, noise_prediction_loss
from . import MINI_DIR
from .model import (
    VAE_CHANNELS,
    build_clip,
    build_tokenizer,
    build_unet,
    build_vae,
    noise_scheduler,
    portable_text_encoder,
)

STAGES = ("data", "vae", "clip", "latents", "unet", "export")
CFG = {
    "n_train": 24000,
    "n_clutter": 6000,
    "data_seed": 0,
    "heldout_seed": 99,
    "vae_channels": VAE_CHANNELS, "vae_bf16": True,
    "vae_steps": 5000, "vae_batch": 16, "vae_lr": 6e-4,
    "clip_steps": 800, "clip_batch": 128, "clip_lr": 1e-3,
    "unet_steps": 10000, "unet_batch": 64, "unet_lr": 5e-4, "unet_ema": 0.999,
    "text_lr": 3e-4,  # the text encoder learns with the UNet (stage_unet)
    "uncond_prob": 0.1,
    "min_snr_gamma": 5.0,
    "eval_every": 2000, "eval_n": 48,  # unet stage: judge EMA samples every so many steps (0: never)
    "ckpt_seconds": 180.0,
}
# The settings each stage's weights depend on (its own and those of the stages it builds on): a stage's
# checkpoint carries them, and a resume with other values is refused.
_DATA = ("n_train", "n_clutter", "data_seed", "heldout_seed")
_VAE = _DATA + ("vae_channels", "vae_bf16", "vae_steps", "vae_batch", "vae_lr")
_CLIP = _DATA + ("clip_steps", "clip_batch", "clip_lr")
STAGE_SETTINGS = {
    "vae": _VAE,
    "clip": _CLIP,
    "unet": tuple(dict.fromkeys(_VAE + _CLIP + ("unet_steps", "unet_batch", "unet_lr", "unet_ema", "text_lr",
                                                "uncond_prob", "min_snr_gamma"))),
}
# Learning rates follow diffusers' "cosine" schedule: a linear warm-up from 0, then a cosine down to 0. The
# committed weights were trained with the course's earlier schedule, whose warm-up started at 1/warmup and whose
# cosine ended at a floor (5 % of the peak for the VAE and CLIP, 10 % for the UNet); diffusers' schedules have
# no such floor, and cosine is the nearest of them.
WARMUP = {"vae": 200, "clip": 100, "unet": 200}


def parse_setting(key: str, text: str):
    """A ``--set key=text`` value as the type of CFG[key]: "32,64,128,128" for a tuple, 1/0/true/false for a flag."""
    if key not in CFG:
        raise KeyError(f"unknown setting {key!r}: use one of {', '.join(CFG)}")
    kind = type(CFG[key])
    try:
        if kind is bool:
            if text.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("1", "true", "yes")
        if kind is tuple:
            return tuple(int(c) for c in text.split(","))
        return kind(text)
    except ValueError:
        example = {bool: "1 or 0", tuple: "32,64,128,128"}.get(kind, kind.__name__)
        raise ValueError(f"setting {key!r} takes {example}, not {text!r}") from None


def checkpoint(work: Path, stage: str) -> Checkpoint:
    """The stage's checkpoint folder, carrying the settings its weights depend on."""
    folder = work / f"ckpt-{stage}"
    if (folder / "state.pt").exists():
        raise OtherRunError(f"{folder} holds a checkpoint in the format before step-NNNNNN folders: delete it to "
                            f"train stage {stage!r} afresh")
    ckpt = Checkpoint(folder, {k: CFG[k] for k in STAGE_SETTINGS[stage]}, CFG["ckpt_seconds"])
    ckpt.check()  # also when the stage is done: its results came from those settings
    return ckpt


def averaged(ema: EMAModel, model: torch.nn.Module) -> dict:
    """``model``'s state dict with the EMA's averaged parameters in place of its own."""
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for (name, _), shadow in zip(model.named_parameters(), ema.shadow_params, strict=True):
        weights[name] = shadow.detach().clone()
    return weights


class Log:
    def __init__(self, work: Path):
        self.path = work / "log.jsonl"
        self.t0 = time.monotonic()

    def __call__(self, stage: str, **values) -> None:
        row = {"stage": stage, "time": time.strftime("%H:%M:%S"), **values}
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)


# ---------------------------------------------------------------- 1. data
def clutter_image(rng: random.Random) -> np.ndarray:
    """Generic shapes, strokes, outlines and stripes in palette colours: teaches the VAE to be a general
    autoencoder (as SD's is) rather than one that only knows the base shapes."""
    big = shapes.SIZE * shapes.SCALE
    cols = list(shapes.COLOURS.values())
    img = Image.new("RGB", (big, big), rng.choice(cols))
    d = ImageDraw.Draw(img)
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["poly", "ellipse", "line", "outline", "stripes"])
        c = rng.choice(cols)
        cx, cy, r = rng.uniform(40, 216), rng.uniform(40, 216), rng.uniform(24, 100)
        if kind == "poly":
            k = rng.randint(3, 8)
            pts = [(cx + r * rng.uniform(0.5, 1) * np.cos(a), cy + r * rng.uniform(0.5, 1) * np.sin(a))
                   for a in sorted(rng.uniform(0, 2 * np.pi) for _ in range(k))]
            d.polygon(pts, fill=c)
        elif kind == "ellipse":
            d.ellipse([cx - r, cy - r * rng.uniform(0.5, 1), cx + r, cy + r * rng.uniform(0.5, 1)], fill=c)
        elif kind == "line":
            d.line([(rng.uniform(0, big), rng.uniform(0, big)), (rng.uniform(0, big), rng.uniform(0, big))],
                   fill=c, width=rng.randint(8, 24))
        elif kind == "outline":
            d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=c, width=rng.randint(8, 16))
        else:
            w = rng.randint(28, 56)
            for x in range(-big, big, 2 * w):
                d.polygon([(x, 0), (x + w, 0), (x + w + big, big), (x + big, big)], fill=c)
    return np.asarray(img.resize((shapes.SIZE, shapes.SIZE), Image.LANCZOS))


def stage_data(work: Path, log: Log) -> None:
    out = work / "data.npz"
    if out.exists():
        return
    t = time.monotonic()
    scenes = shapes.scenes(CFG["n_train"], CFG["data_seed"])
    images = shapes.render_many(scenes)
    rng = random.Random(CFG["data_seed"] + 1)
    clutter = np.stack([clutter_image(rng) for _ in range(CFG["n_clutter"])])
    held = shapes.render_many(shapes.scenes(512, CFG["heldout_seed"]))
    np.savez(out, images=images, clutter=clutter, heldout=held)
    (work / "scenes.json").write_text(json.dumps([s.attributes() for s in scenes]))
    log("data", images=len(images), clutter=len(clutter), seconds=round(time.monotonic() - t, 1))


def load_data(work: Path):
    d = np.load(work / "data.npz")
    scenes = [shapes.Scene(**s) for s in json.loads((work / "scenes.json").read_text())]
    return d["images"], d["clutter"], d["heldout"], scenes


# ---------------------------------------------------------------- 2. VAE
def new_vae():
    return build_vae(CFG["vae_channels"])


def vae_loss(vae, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    # bf16 autocast: on CPUs with bf16 units (AMX, AVX-512 BF16) the VAE's convolutions run ~1.5x faster
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=CFG["vae_bf16"]):
        post = vae.encode(x).latent_dist
        rec = vae.decode(post.sample()).sample.float()
    mse = F.mse_loss(rec, x)
    l1 = (rec - x).abs().mean()
    # an edge term: match the image gradients, which keeps outlines and small points sharp
    edge = ((rec.diff(dim=-1) - x.diff(dim=-1)).abs().mean() + (rec.diff(dim=-2) - x.diff(dim=-2)).abs().mean())
    kl = post.kl().mean()
    loss = mse + 0.1 * l1 + 0.1 * edge + 1e-6 * kl
    return loss, {"mse": mse.item(), "kl": kl.item()}


@torch.no_grad()
def eval_vae(vae, held: np.ndarray, held_scenes) -> dict:
    """PSNR of round trips of held-out images, and what the judge still reads in them (the UNet's ceiling)."""
    vae.eval()
    x = to_batch(held[:256])
    rec = torch.cat([vae.decode(vae.encode(x[i:i + 64]).latent_dist.mode()).sample for i in range(0, len(x), 64)])
    vae.train()
    images = [tensor_to_pil(r) for r in rec]
    small = [i for i, s in enumerate(held_scenes[:256]) if s.size == "small"]
    acc = scoring.accuracy(images, held_scenes[:256])
    acc_small = scoring.accuracy([images[i] for i in small], [held_scenes[i] for i in small])
    return {"heldout_psnr": scoring.psnr(rec, x), "roundtrip_all": acc["all"], "roundtrip_shape": acc["shape"],
            "roundtrip_small_shape": acc_small["shape"]}


def stage_vae(work: Path, log: Log) -> None:
    ckpt = checkpoint(work, "vae")
    if (work / "vae_final.safetensors").exists():
        return
    images, clutter, held, _ = load_data(work)
    held_scenes = shapes.scenes(len(held), CFG["heldout_seed"])
    vae = new_vae()
    opt = torch.optim.AdamW(vae.parameters(), lr=CFG["vae_lr"], weight_decay=0.0)
    sched = get_scheduler("cosine", opt, num_warmup_steps=WARMUP["vae"], num_training_steps=CFG["vae_steps"])
    step = ckpt.load({"vae": vae}, opt, sched)
    rng = np.random.default_rng(1000 + step)
    bs = CFG["vae_batch"]
    t0 = time.monotonic()
    while step < CFG["vae_steps"]:
        n_cl = rng.binomial(bs, 0.15)
        batch = np.concatenate([images[rng.integers(0, len(images), bs - n_cl)],
                                clutter[rng.integers(0, len(clutter), n_cl)]])
        loss, parts = vae_loss(vae, to_batch(batch))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        if step % 100 == 0:
            log("vae", step=step, loss=loss.item(), **parts, s_per_step=(time.monotonic() - t0) / 100)
            t0 = time.monotonic()
        if step % 1000 == 0 or step == CFG["vae_steps"]:
            log("vae", step=step, **eval_vae(vae, held, held_scenes))
        if ckpt.due() or step == CFG["vae_steps"]:
            ckpt.save(step, {"vae": vae}, opt, sched)
    weights = {k: v.contiguous() for k, v in vae.state_dict().items()}
    atomic_write(work / "vae_final.safetensors", lambda p: save_file(weights, str(p)))


def load_vae(work: Path):
    vae = new_vae()
    vae.load_state_dict(load_file(str(work / "vae_final.safetensors")))
    return vae.eval().requires_grad_(False)


# ---------------------------------------------------------------- 3. CLIP
def stage_clip(work: Path, log: Log) -> None:
    ckpt = checkpoint(work, "clip")
    if (work / "clip_final" / "model.safetensors").exists():
        return
    images, _, held, scenes = load_data(work)
    tok = build_tokenizer(work / "tokenizer")
    clip = build_clip(tok)
    opt = torch.optim.AdamW(clip.parameters(), lr=CFG["clip_lr"], weight_decay=0.1)
    sched = get_scheduler("cosine", opt, num_warmup_steps=WARMUP["clip"], num_training_steps=CFG["clip_steps"])
    step = ckpt.load({"clip": clip}, opt, sched)
    rng = random.Random(2000 + step)
    bs = CFG["clip_batch"]
    t0 = time.monotonic()
    while step < CFG["clip_steps"]:
        idx = [rng.randrange(len(images)) for _ in range(bs)]
        # Mostly full captions (so in-batch negatives are true negatives), in varied templates.
        texts = [shapes.caption(scenes[i], rng, p_size=0.9, p_colour=1.0, p_background=0.9, p_shape=1.0,
                                p_fragment=0.0) for i in idx]
        out = contrastive_step(clip, tok, texts, to_batch(images[idx]), opt, sched, max_grad_norm=1.0)
        step += 1
        if step % 50 == 0:
            acc = (out.logits_per_image.argmax(1) == torch.arange(bs)).float().mean().item()
            log("clip", step=step, loss=out.loss.item(), batch_acc=acc, s_per_step=(time.monotonic() - t0) / 50)
            t0 = time.monotonic()
        if ckpt.due() or step == CFG["clip_steps"]:
            ckpt.save(step, {"clip": clip}, opt, sched)
    atomic_write(work / "clip_final", lambda p: clip.save_pretrained(p, safe_serialization=True))


# ---------------------------------------------------------------- 4. latents
def save_latents(path: Path, mean: torch.Tensor, std: torch.Tensor, scaling_factor: float) -> None:
    """The training set's latent distributions (fp16) and the VAE's scaling factor, as one safetensors file."""
    tensors = {"mean": mean.half().contiguous(), "std": std.half().contiguous()}
    atomic_write(path, lambda p: save_file(tensors, str(p), metadata={"scaling_factor": repr(float(scaling_factor))}))


def load_latents(work: Path) -> dict:
    """{"mean", "std": (N, 4, 8, 8) fp16, "scaling_factor": float}, as ``stage_latents`` saved them."""
    from safetensors import safe_open

    path = work / "latents.safetensors"
    with safe_open(str(path), framework="pt") as f:
        scaling = float(f.metadata()["scaling_factor"])
    return {**load_file(str(path)), "scaling_factor": scaling}


def stage_latents(work: Path, log: Log) -> None:
    out = work / "latents.safetensors"
    if out.exists():
        return
    images, _, _, _ = load_data(work)
    vae = load_vae(work)
    means, stds = [], []
    with torch.no_grad():
        for i in range(0, len(images), 256):
            dist = vae.encode(to_batch(images[i:i + 256])).latent_dist
            means.append(dist.mean)
            stds.append(dist.std)
    mean, std = torch.cat(means), torch.cat(stds)
    g = torch.Generator().manual_seed(0)
    sample = mean + std * torch.randn(mean.shape, generator=g)
    scaling = 1.0 / sample.std().item()  # as SD computed its 0.18215: one over the latents' std
    save_latents(out, mean, std, scaling)
    log("latents", n=len(mean), latent_std=sample.std().item(), scaling_factor=scaling)


# ---------------------------------------------------------------- the denoising step
def caption_batch(rng: random.Random, scenes, bs: int) -> tuple[torch.Tensor, list[str]]:
    """A random batch of scene indices and captions drawn afresh, `uncond_prob` of them empty (for CFG)."""
    idx = torch.tensor([rng.randrange(len(scenes)) for _ in range(bs)])
    texts = ["" if rng.random() < CFG["uncond_prob"] else shapes.caption(scenes[i], rng) for i in idx.tolist()]
    return idx, texts


def denoising_loss(unet, cond: torch.Tensor, latents: dict, idx: torch.Tensor, sched_noise) -> torch.Tensor:
    """Sample latents from the stored posteriors, noise them at random timesteps, and score the UNet's
    noise prediction (min-SNR weighted)."""
    mean, std = latents["mean"][idx].float(), latents["std"][idx].float()
    x0 = (mean + std * torch.randn_like(std)) * latents["scaling_factor"]
    noise = torch.randn_like(x0)
    t = torch.randint(0, sched_noise.config.num_train_timesteps, (len(idx),))
    pred = unet(sched_noise.add_noise(x0, noise, t), t, encoder_hidden_states=cond).sample
    return noise_prediction_loss(pred, noise, t, sched_noise, CFG["min_snr_gamma"])


def optimizer_step(loss: torch.Tensor, params, opt, sched) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    sched.step()


# ---------------------------------------------------------------- 5. UNet (+ text encoder)
def clip_text_encoder(work: Path):
    """The text half of the contrastive CLIP, as a standalone CLIPTextModel (what the pipeline holds)."""
    from transformers import CLIPModel, CLIPTextModel

    clip = CLIPModel.from_pretrained(work / "clip_final")
    # transformers 5 keeps a CLIPTextModel inside CLIPModel; 4.x keeps the bare transformer: copy either way
    text_encoder = CLIPTextModel(clip.config.text_config)
    getattr(text_encoder, "text_model", text_encoder).load_state_dict(
        getattr(clip.text_model, "text_model", clip.text_model).state_dict())
    return clip, text_encoder


def stage_unet(work: Path, log: Log) -> None:
    """Train the UNet, and the text encoder with it.

    Stable Diffusion froze its CLIP text encoder. Ours starts as the contrastive CLIP's text half, but that
    small CLIP tells colours apart far better than shapes (its image encoder does), so its six shape words sit
    close together: a shape swap moved the shape token's hidden state by 4.7 against 11.5 for a colour swap
    (v0.1). A UNet on that frozen encoder followed colours and ignored shapes. Letting the diffusion loss
    move the encoder too, at a lower learning rate than the UNet, pulls the shape words apart.
    """
    ckpt = checkpoint(work, "unet")
    out = work / "unet_final"
    if (out / "unet.safetensors").exists():
        return
    _, _, _, scenes = load_data(work)
    lat = load_latents(work)
    tok = build_tokenizer(work / "tokenizer")
    _, text_encoder = clip_text_encoder(work)
    text_encoder.train()
    unet = build_unet(text_encoder.config.hidden_size)
    sched_noise = noise_scheduler()
    # diffusers' EMAModel warms its decay up: min(decay, (1 + n) / (10 + n)), n the updates before this one (the
    # first update copies the weights)
    ema = EMAModel(unet.parameters(), decay=CFG["unet_ema"])
    ema_text = EMAModel(text_encoder.parameters(), decay=CFG["unet_ema"])
    params = list(unet.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW([{"params": unet.parameters(), "lr": CFG["unet_lr"]},
                             {"params": text_encoder.parameters(), "lr": CFG["text_lr"]}], weight_decay=0.01)
    sched = get_scheduler("cosine", opt, num_warmup_steps=WARMUP["unet"], num_training_steps=CFG["unet_steps"])
    models = {"unet": unet, "ema": ema, "text": text_encoder, "ema_text": ema_text}
    step = ckpt.load(models, opt, sched)
    rng = random.Random(3000 + step)
    bs = CFG["unet_batch"]
    t0 = time.monotonic()
    while step < CFG["unet_steps"]:
        idx, texts = caption_batch(rng, scenes, bs)
        loss = denoising_loss(unet, text_encoder(token_ids(tok, texts)).last_hidden_state, lat, idx, sched_noise)
        optimizer_step(loss, params, opt, sched)
        step += 1
        ema.step(unet.parameters())
        ema_text.step(text_encoder.parameters())
        if step % 100 == 0:
            log("unet", step=step, loss=loss.item(), lr=sched.get_last_lr()[0],
                s_per_step=(time.monotonic() - t0) / 100)
            t0 = time.monotonic()
        if ckpt.due() or step == CFG["unet_steps"]:
            ckpt.save(step, models, opt, sched)
        if CFG["eval_every"] and step % CFG["eval_every"] == 0:
            log("unet_eval", step=step, **eval_unet(work, averaged(ema, unet), averaged(ema_text, text_encoder)))
            t0 = time.monotonic()
    weights = {"unet": averaged(ema, unet), "text_encoder": averaged(ema_text, text_encoder)}

    def write(folder: Path) -> None:
        folder.mkdir()
        for name, tensors in weights.items():
            save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / f"{name}.safetensors"))

    atomic_write(out, write)


def eval_unet(work: Path, unet_weights: dict, text_weights: dict) -> dict:
    """Export the EMA weights to a scratch folder and judge samples of held-out prompts (progress, not the card)."""
    from ..pipeline import load_pipeline
    from . import evaluate

    folder = work / "eval-pipe"
    pipeline_folder(work, unet_weights, text_weights).save_pretrained(folder, safe_serialization=True)
    portable_text_encoder(Path(folder) / "text_encoder")
    pipe = load_pipeline(str(folder))
    out = {}
    for g, a in evaluate.text2img(pipe, n=CFG["eval_n"], guidances=(3.0, 7.5)).items():
        out.update({f"all_g{g}": a["all"], f"shape_g{g}": a["shape"], f"small_shape_g{g}": a["shape_small"]})
    return out


# ---------------------------------------------------------------- 7. export
def pipeline_folder(work: Path, unet_weights: dict, text_weights: dict):
    """A StableDiffusionPipeline from the work folder's VAE, tokenizer and the given UNet and text-encoder weights."""
    from diffusers import StableDiffusionPipeline

    tok = build_tokenizer(work / "tokenizer")
    _, text_encoder = clip_text_encoder(work)
    text_encoder.load_state_dict(text_weights)
    lat = load_latents(work)
    vae = load_vae(work)
    vae.register_to_config(scaling_factor=float(lat["scaling_factor"]))
    unet = build_unet(text_encoder.config.hidden_size)
    unet.load_state_dict(unet_weights)
    return StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tok, unet=unet,
        scheduler=noise_scheduler(kind="euler"), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )


def stage_export(work: Path, log: Log, out: Path) -> None:
    final = work / "unet_final"
    pipe = pipeline_folder(work, load_file(str(final / "unet.safetensors")),
                           load_file(str(final / "text_encoder.safetensors")))
    # UNet and VAE are stored in fp16 (half the download; diffusers upcasts them to fp32 on load). The text
    # encoder stays fp32: it is tiny, and transformers 5 would otherwise load it as fp16 on the CPU.
    pipe.unet.to(torch.float16)
    pipe.vae.to(torch.float16)
    pipe.save_pretrained(out, safe_serialization=True)
    portable_text_encoder(Path(out) / "text_encoder")
    clip, _ = clip_text_encoder(work)
    clip.save_pretrained(out / "clip", safe_serialization=True)
    pipe.tokenizer.save_pretrained(out / "tokenizer")
    from .model import write_slow_tokenizer_files

    write_slow_tokenizer_files(out / "tokenizer")
    log("export", folder=str(out))
    # the log of the run that made these weights travels with them (the model card and `make bench` read it)
    shutil.copyfile(work / "log.jsonl", out / "train_log.jsonl")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", choices=STAGES + ("all",), default="all")
    p.add_argument("--work", default=".mini-work", help="folder for data, checkpoints and the log")
    p.add_argument("--out", default=None, help="where the export stage writes the pipeline folder "
                   "(default: <work>/export)")
    p.add_argument("--replace-bundled", action="store_true",
                   help=f"export over the bundled model in {MINI_DIR} (commit new weights only when they measurably "
                   "beat the old ones: see its MODEL_CARD.md)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. --set unet_steps=200 n_train=512 (for quick trials)")
    args = p.parse_args(argv)
    if args.replace_bundled and args.out is not None:
        p.error("--out and --replace-bundled name two places for the export: give one of them")
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            CFG[key] = parse_setting(key, value)
        except (KeyError, ValueError) as e:
            p.error(e.args[0])
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    log = Log(work)
    todo = STAGES if args.stage == "all" else (args.stage,)
    for name in todo:
        t = time.monotonic()
        try:
            if name == "export":
                stage_export(work, log, MINI_DIR if args.replace_bundled else Path(args.out or work / "export"))
            else:
                globals()[f"stage_{name}"](work, log)
        except OtherRunError as e:
            p.exit(1, f"{p.prog}: error: {e}\n")
        log("stage_done", name=name, minutes=round((time.monotonic() - t) / 60, 2))


if __name__ == "__main__":
    main()
