"""Measure the bundled model with the judge: the numbers in MODEL_CARD.md and behind tests/test_mini_quality.py.

    python -m course_utils.mini.evaluate            # the model card's numbers (a few minutes)
    python -m course_utils.mini.evaluate --n 64     # what the quality test measures
"""

from __future__ import annotations

import argparse
import json
import random
import time

import numpy as np
import torch

from .. import judge, scoring, shapes
from ..generation import generate, generate_each
from ..images import tensor_to_pil, to_tensor
from ..pipeline import load_pipeline, switch_task

EVAL_SEED = 7  # the scenes prompts are drawn from; never used in training (data seed 0, held-out seed 99)


def full_prompts(n: int, seed: int = EVAL_SEED) -> tuple[list[str], list[shapes.Scene]]:
    """n prompts naming shape, colour, background and size, from seeded random scenes."""
    scenes = shapes.scenes(n, seed)
    return [shapes.full_caption(s) for s in scenes], scenes


def short_prompts(n: int, seed: int = EVAL_SEED) -> tuple[list[str], list[shapes.Scene]]:
    """n prompts naming only a colour and a shape ("a red star"), which leave the rest to the model."""
    scenes = shapes.scenes(n, seed)
    return [f"a {s.colour} {s.shape}" for s in scenes], scenes


def text2img(pipe, n=64, guidances=(1.0, 3.0, 7.5), steps=20, prompts="full") -> dict:
    """Adherence per guidance scale on n held-out prompts, "full" (every attribute named) or "short"."""
    prompts, scenes = {"full": full_prompts, "short": short_prompts}[prompts](n)
    out = {}
    for g in guidances:
        images = generate_each(pipe, prompts, guidance=g, steps=steps, batch_size=16)
        a = scoring.adherence(images, prompts)
        small = [i for i, s in enumerate(scenes) if s.size == "small"]
        a["shape_small"] = scoring.adherence([images[i] for i in small], [prompts[i] for i in small])["shape"]
        out[str(g)] = a
    return out


def negative_prompt(pipe, n=64, steps=20, guidance=7.5) -> dict:
    """'a circle' with and without the negative prompt 'red': the fraction of red circles."""
    prompts = ["a circle"] * n
    out = {}
    for name, neg in (("without", None), ("with", "red")):
        images = generate_each(pipe, prompts, guidance=guidance, steps=steps, negative_prompt=neg, batch_size=16)
        verdicts = judge.judge_many(images)
        out[name] = {"red": float(np.mean([v.colour == "red" for v in verdicts])),
                     "circle": float(np.mean([v.shape == "circle" for v in verdicts]))}
    return out


def img2img(pipe, n=32, strength=0.6, steps=20, guidance=7.5) -> dict:
    """Crude sketches to images: is the layout kept (foreground IoU) and are the prompt's colours followed?"""
    scenes = shapes.scenes(n, EVAL_SEED + 1)
    sketches = [shapes.sketch(s, seed=i) for i, s in enumerate(scenes)]
    prompts = [shapes.full_caption(s) for s in scenes]
    pipe_i2i = switch_task(pipe, "img2img")
    images = []
    for i, (sk, p) in enumerate(zip(sketches, prompts, strict=True)):
        images += generate(pipe_i2i, p, image=sk, strength=strength, steps=steps, guidance=guidance, seed=i)
    ious = [judge.iou(judge.foreground(im), shapes.foreground_mask(s)) for im, s in zip(images, scenes, strict=True)]
    verdicts = judge.judge_many(images)
    colours = [v.colour == s.colour and v.background == s.background for v, s in zip(verdicts, scenes, strict=True)]
    return {"strength": strength, "iou_mean": float(np.mean(ious)), "iou_median": float(np.median(ious)),
            "layout_kept": float(np.mean([x >= 0.7 for x in ious])), "colours": float(np.mean(colours)),
            "all": scoring.adherence(images, prompts)["all"]}


@torch.no_grad()
def vae(pipe, n=256, seed=99) -> dict:
    """Round trips through the VAE: PSNR, and what the judge still reads (the ceiling for generation)."""
    scenes = shapes.scenes(n, seed)
    x = torch.stack([to_tensor(shapes.render(s)) for s in scenes]).to(pipe.vae.dtype)
    rec = torch.cat([pipe.vae.decode(pipe.vae.encode(x[i:i + 64]).latent_dist.mode()).sample
                     for i in range(0, n, 64)]).float().clamp(-1, 1)
    images = [tensor_to_pil(r) for r in rec]
    acc = scoring.accuracy(images, scenes)
    stars = [i for i, s in enumerate(scenes) if s.shape == "star" and s.size == "small"]
    acc["small_star_shape"] = float(np.mean([judge.judge(images[i]).shape == "star" for i in stars]))
    return {"psnr": scoring.psnr(rec, x), "roundtrip": acc, "n": n}


def speed(pipe, n=4, steps=20, repeats=3) -> dict:
    times = []
    for r in range(repeats):
        t = time.perf_counter()
        generate(pipe, ["a large red circle on a blue background"] * n, steps=steps, seed=r)
        times.append(time.perf_counter() - t)
    return {"images": n, "steps": steps, "seconds_median": float(np.median(times))}


def evaluate(pipe=None, n=200, seed=0) -> dict:
    random.seed(seed)
    pipe = pipe or load_pipeline("mini")
    t = time.perf_counter()
    out = {"vae": vae(pipe), "text2img": text2img(pipe, n), "text2img_short": text2img(pipe, n, prompts="short"),
           "negative": negative_prompt(pipe, max(32, n // 2)),
           "img2img": img2img(pipe, max(32, n // 2)), "speed": speed(pipe)}
    out["seconds"] = time.perf_counter() - t
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200, help="prompts per guidance scale")
    p.add_argument("--model", default="mini")
    p.add_argument("--json", default=None, help="also write the numbers to this file")
    args = p.parse_args(argv)
    result = evaluate(load_pipeline(args.model), args.n)
    text = json.dumps(result, indent=2, default=float)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
