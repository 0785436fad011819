"""Fine-tuning: how many steps each loop needs to reach its lesson's quality bar.

Each loop is set up as its lesson sets it up (the same data, learning rate, batch and steps as the lesson's full
mode, built from the same course_utils pieces), trained once with `course_utils.finetune`, and measured with the
judge at step 0 and every few steps along the way, on fixed prompts and seeds, from inside the run (finetune's
`on_step`): the measuring draws no training randomness, so the run is the run the lesson makes. The bar is the
lesson's own check, on fewer prompts than the lesson uses (so the numbers are a little noisier than its).
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field

from .report import Clock, Section, seconds

N_PROMPTS = 32  # prompts per measurement (the lessons' quick mode uses 24–32, their full mode 48–64)
EVERY = 50  # measure every so many steps


@dataclass
class Loop:
    """One fine-tuning loop: how to set it up (`setup()` -> pipe, data, train, extra finetune arguments, and an
    on_step hook the lesson needs), how to measure it (`measure(pipe)` -> named numbers), and its bar."""

    name: str
    lesson: str
    bar: str  # the bar, in words
    steps: int
    lr: float
    setup: object
    measure: object
    reached: object  # reached(numbers, numbers at step 0) -> bool
    every: int = EVERY


@dataclass
class Curve:
    loop: Loop
    points: list[tuple[int, dict]] = field(default_factory=list)  # (step, numbers)
    train_seconds: float = 0.0  # the training alone, without the measuring
    bar_step: int | None = None


# ---------------------------------------------------------------- the four lessons' set-ups


def _pipe():
    import torch

    from course_utils.pipeline import load_pipeline

    return load_pipeline("mini", dtype=torch.float32)  # fine-tuning trains float32 weights


def full_finetune() -> Loop:
    """Lesson 08: the whole UNet, on 256 outlined pictures captioned by the CLIP (only the background kept, the
    one attribute it reads right on them) plus 256 ordinary pictures replayed; bar: outlined when asked in the
    captions' own words ("a outlined shape on a blue background") gains at least 0.10 over the base model (the
    lesson's check; asked in words the captions never used, the style hardly comes, which the lesson shows)."""
    from course_utils import judge, shapes
    from course_utils.generation import generate
    from course_utils.measure import score

    prompts = [f"a {shapes.STYLE} shape on a {s.background} background" for s in shapes.scenes(N_PROMPTS, seed=84)]

    def setup():
        from course_utils.captions import caption_images

        styled = shapes.style_images(256, seed=2)
        images = [image for image, _ in styled]
        captions = caption_images(images, style=shapes.STYLE, keep=["background"])
        rng = random.Random(0)
        replay = [(shapes.render(s), shapes.caption(s, rng)) for s in shapes.scenes(256, seed=80)]
        return _pipe(), list(zip(images, captions, strict=True)) + replay, "unet", {}, None

    def measure(pipe):
        images = generate(pipe, prompts, seed=4000, steps=20, guidance=3)
        return {"outlined in the captions' words": score(images, prompts, judge.is_styled).rate}

    key = "outlined in the captions' words"
    return Loop("full fine-tuning (UNet, style)", "08", f"{key} ≥ base + 0.10", 320, 1e-4, setup,
                measure, lambda m, m0: m[key] >= m0[key] + 0.10, every=40)


def textual_inversion() -> Loop:
    """Lesson 09, section 7: a two-vector token for the concept (a purple heart on an orange background), started
    from "heart" and "orange"; bar: "a <my-concept>" draws the concept in ≥ 80% of the pictures."""
    from course_utils import judge, shapes
    from course_utils import textual_inversion as ti
    from course_utils.measure import measure as judged

    token = "<my-concept>"

    def setup():
        pipe = _pipe()
        ti.add_token(pipe, token, init_from=["heart", "orange"])
        matrix = pipe.text_encoder.get_input_embeddings().weight
        images = [image for image, _ in shapes.concept_images(6)]
        data = [(image, pipe.maybe_convert_prompt(c.format(token), pipe.tokenizer))
                for image in images for c in ("a {}", "{}")]
        return pipe, data, [matrix], {"empty_prompt_prob": 0.0}, ti.RestoreOthers(pipe, token)

    def measure(pipe):
        return {"the concept": judged(pipe, [f"a {token}"] * N_PROMPTS, judge.is_concept, seed=0, guidance=3.0).rate}

    return Loop("textual inversion (two token vectors)", "09", "the concept with the token ≥ 0.80", 400, 3e-3,
                setup, measure, lambda m, m0: m["the concept"] >= 0.8)


def dreambooth() -> Loop:
    """Lesson 10: the UNet on 8 pictures of the subject ("a … sks circle …") with prior preservation (the base
    model's own pictures for the captions without the token, 8 each, weight 0.5); bar: the lesson's checks
    with prior preservation, subject ≥ 0.15 and "circle" still a circle ≥ 0.30."""
    from course_utils import judge, shapes
    from course_utils.dreambooth import class_images, class_prompts, prior_preservation_data
    from course_utils.measure import measure as judged

    def caption(scene, word):
        return f"a {scene.size} {scene.colour} {word} on a {scene.background} background"

    scenes = shapes.scenes(N_PROMPTS, seed=51, shapes=("circle",))

    def setup():
        pipe = _pipe()
        subject = [(image, caption(scene, "sks circle")) for image, scene in shapes.subject_images(8, seed=1)]
        classes = class_images(pipe, class_prompts([c for _, c in subject], "sks", repeats=8), seed=5000)
        return pipe, prior_preservation_data(subject, classes, prior_weight=0.5), "unet", {}, None

    def measure(pipe):
        subject = judged(pipe, [caption(s, "sks circle") for s in scenes], judge.is_subject, seed=1000)
        kept = judged(pipe, [caption(s, "circle") for s in scenes], lambda v: v.shape == "circle", seed=1000)
        return {"subject": subject.rate, "class kept": kept.rate}

    return Loop("DreamBooth (UNet, subject + prior images)", "10", "subject ≥ 0.15 and class kept ≥ 0.30", 400,
                4e-4, setup, measure, lambda m, m0: m["subject"] >= 0.15 and m["class kept"] >= 0.3)


def lora() -> Loop:
    """Lesson 11: rank-4 LoRA on the UNet's and the text encoder's attention, on 256 outlined and 256 ordinary
    pictures with exact captions; bar (at scale 1): the colours asked come back (≥ base + 0.5) and the
    pictures are outlined in them (≥ base + 0.10), the lesson's two checks on the style prompts."""
    from course_utils import judge, shapes
    from course_utils.generation import generate
    from course_utils.measure import score

    prompts = [shapes.full_caption(s) for s in shapes.scenes(N_PROMPTS, seed=1101, style=shapes.STYLE)]

    def setup():
        from course_utils.lora import add_lora

        pipe = _pipe()
        params = add_lora(pipe, rank=4, targets=("to_q", "to_k", "to_v", "to_out.0"), text_encoder=True)
        pictures = shapes.style_images(256, seed=2) + [(shapes.render(s), s) for s in shapes.scenes(256, seed=1103)]
        return pipe, [(image, shapes.full_caption(s)) for image, s in pictures], params, {}, None

    def measure(pipe):
        images = generate(pipe, prompts, seed=0, steps=20, guidance=3)
        colours = ("colour", "background")
        return {"colours asked": score(images, prompts, as_asked=colours).rate,
                "outlined in them": score(images, prompts, judge.is_styled, as_asked=colours).rate}

    return Loop("LoRA (UNet + text encoder adapters, style)", "11",
                "colours asked ≥ base + 0.5 and outlined in them ≥ base + 0.10", 400, 2e-3, setup, measure,
                lambda m, m0: (m["colours asked"] >= m0["colours asked"] + 0.5
                               and m["outlined in them"] >= m0["outlined in them"] + 0.1))


LOOPS = (full_finetune, textual_inversion, dreambooth, lora)


# ---------------------------------------------------------------- running one


def _measured(pipe, loop: Loop) -> dict:
    """loop.measure(pipe) with the trainable parts in eval mode for the while (finetune left them in train)."""
    parts = [pipe.unet, pipe.text_encoder]
    modes = [p.training for p in parts]
    for p in parts:
        p.eval()
    try:
        return loop.measure(pipe)
    finally:
        for p, mode in zip(parts, modes, strict=True):
            p.train(mode)


def run(loop: Loop) -> Curve:
    from course_utils.finetune import finetune

    pipe, data, train, extra, hook = loop.setup()
    curve = Curve(loop, [(0, _measured(pipe, loop))])
    spent = [0.0]  # seconds spent measuring inside the run

    def on_step(step, loss):
        if hook is not None:
            hook(step, loss)  # e.g. textual inversion puts the other word vectors back
        if step % loop.every == 0 or step == loop.steps:
            begin = time.perf_counter()
            numbers = _measured(pipe, loop)
            spent[0] += time.perf_counter() - begin
            curve.points.append((step, numbers))
            if curve.bar_step is None and loop.reached(numbers, curve.points[0][1]):
                curve.bar_step = step
            print(f"    step {step}: " + ", ".join(f"{k} {v:.2f}" for k, v in numbers.items()), file=sys.stderr,
                  flush=True)

    if loop.reached(curve.points[0][1], curve.points[0][1]):
        curve.bar_step = 0
    done = finetune(pipe, data, train=train, steps=loop.steps, lr=loop.lr, batch_size=16, seed=0, on_step=on_step,
                    **extra)
    curve.train_seconds = done.seconds - spent[0]
    return curve


def row(curve: Curve) -> list[str]:
    loop = curve.loop
    per_step = curve.train_seconds / loop.steps
    if curve.bar_step is None:
        reached = f"not reached in {loop.steps} steps"
        wall = "–"
    else:
        reached = f"**{curve.bar_step}**"
        wall = seconds(curve.bar_step * per_step)
    trail = " → ".join(f"{step}: " + " / ".join(f"{v:.2f}" for v in numbers.values()) for step, numbers in curve.points)
    names = " / ".join(curve.points[0][1])
    return [f"{loop.name} ({loop.lesson})", loop.bar, reached, wall, f"{loop.steps} ({seconds(per_step)} a step)",
            f"{names}: {trail}"]


def measure(only=None) -> Section:
    clock = Clock()
    rows = []
    for make in LOOPS:
        loop = make()
        if only and loop.lesson not in only:
            continue
        print(f"  {loop.name}: {loop.steps} steps, measured every {loop.every} ...", file=sys.stderr, flush=True)
        rows.append(row(run(loop)))
    headers = ["loop (lesson)", "the lesson's bar", "steps to the bar", "training time to the bar",
               "steps the lesson runs (full mode)", "measured along the way (step: numbers)"]
    notes = [
        f"Each loop set up as its lesson's full mode sets it up, trained once (batch 16), and measured with the "
        f"judge at step 0 and every {EVERY} steps (40 for the full fine-tune) on {N_PROMPTS} fixed prompts and "
        "seeds, guidance 3, 20 Euler steps. *Steps to the bar*: the first measured step at which the lesson's "
        "check holds, so the true number lies between it and the measurement before. *Training time* leaves "
        "the measuring out. The lessons measure more prompts; on 32, one picture is 0.03.",
    ]
    return Section("Fine-tuning: steps to each lesson's bar", headers, rows, notes, clock.stamp())
