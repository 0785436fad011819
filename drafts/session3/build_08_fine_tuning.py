"""Builds notebooks/08_fine_tuning.ipynb (outputs are filled by running it)."""

import nbformat as nbf

cells = []


def md(text):
    cells.append(nbf.v4.new_markdown_cell(text.strip("\n")))


def code(text):
    cells.append(nbf.v4.new_code_cell(text.strip("\n")))


md(r"""
# 08 · Fine-tuning: teach the whole UNet a new style

The bundled model has only ever seen *flat* shapes: one colour, filled in. In this lesson we teach it a style it
has never seen, **outlined** shapes (only the outline is drawn), by fine-tuning: we carry on training the UNet,
exactly as it was trained in the first place, on a new captioned dataset. This is how the well-known
"Pokémon" Stable Diffusion was made from Stable Diffusion 1.5.

You will:

- build a captioned dataset the way that example did, with a model writing the captions (there BLIP, here the
  course's CLIP, zero-shot), and **measure how good those captions are**;
- fine-tune the UNet with a loop written on 🤗 accelerate's `Accelerator`, so the same code runs on one CPU or on
  eight GPUs; save checkpoints, stop the run half-way and **resume** it;
- measure what was gained (does the style appear when the prompt asks for it?) and what was kept (do ordinary
  prompts still work as well as before?).

It builds on lesson 02 (training a noise predictor), lesson 05 (CLIP and zero-shot classification) and lesson 06
(guidance). Lessons 09–11 reuse this lesson's training loop for textual inversion, DreamBooth and LoRA.
""")

code(r"""
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("course_utils") is None:  # Colab or a fresh environment: install the course package
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/sd-course/stable-diffusion-course"], check=True)
from course_utils import runtime
runtime.describe();
""")

code(r"""
import shutil
from pathlib import Path

import torch

from course_utils.seeds import seed_everything

MODEL = "mini"  # the bundled model: offline, 64×64 pictures, trains at a few steps per second on a CPU
# MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"  # the real one: needs internet (4 GB download) and a GPU
#                                                        # with ≥ 16 GB for a full fine-tune (use LoRA, lesson 11, below that)
QUICK = runtime.quick_mode()  # COURSE_QUICK=1 (set by `make test`): a shorter run, the same checks
SEED = seed_everything(0)
STEPS = 20                    # sampling steps
GUIDANCE = 3.0                # the mini model's sweet spot (lesson 06)
TRAIN_STEPS = 160 if QUICK else 600
LR = 3e-4
N_STYLED = 64                 # outlined pictures in the new dataset
N_FLAT = 64                   # ordinary pictures mixed in, so the model keeps what it knew
N_TEST = 32 if QUICK else 64  # prompts per measurement
OUT = Path("outputs/08_fine_tuning")  # every file this notebook writes goes here
shutil.rmtree(OUT, ignore_errors=True)  # a fresh start on every run: old checkpoints would be resumed
OUT.mkdir(parents=True)
""")

code(r"""
import collections

import numpy as np

from course_utils import display, judge, shapes
from course_utils.captions import caption_images
from course_utils.finetune import finetune, latest_checkpoint
from course_utils.pipeline import generate, load_pipeline
""")

md(r"""
## 1. A new dataset, captioned by a model

`shapes.style_images` draws pictures in the held-out style. The base model never saw one of these in training.
""")

code(r"""
styled = shapes.style_images(N_STYLED, seed=2)
images = [image for image, _ in styled]
truth = [scene for _, scene in styled]
display.show(images[:8], titles=[shapes.full_caption(s).replace(" on a ", "\non a ") for s in truth[:8]],
             cols=8, scale=1.6);
""")

md(r"""
Real datasets come without captions. The Pokémon example captioned its pictures with BLIP, an image-captioning
model. We use the course's own CLIP (the bundled model's partner, trained as in lesson 05) as a *zero-shot
captioner*: `caption_images` scores each picture against every full caption the shapes world can say ("a large
red circle on a blue background", 972 of them) and keeps the best. A captioner makes mistakes, so before we
train on its captions we **measure** them against the truth, attribute by attribute.
""")

code(r"""
ATTRIBUTES = ("size", "colour", "shape", "background")

def caption_accuracy(captions, scenes):
    said = [shapes.scene_from_caption(c) for c in captions]
    return {k: float(np.mean([s.get(k) == getattr(t, k) for s, t in zip(said, scenes, strict=True)]))
            for k in ATTRIBUTES}

full = caption_images(images, style=shapes.STYLE)
flat_scenes = shapes.scenes(N_STYLED, seed=3)
on_flat = caption_images([shapes.render(s) for s in flat_scenes])
acc_styled, acc_flat = caption_accuracy(full, truth), caption_accuracy(on_flat, flat_scenes)
print(f"{'CLIP reads right':24}" + "".join(f"{k:>12}" for k in ATTRIBUTES))
print(f"{'on flat pictures':24}" + "".join(f"{acc_flat[k]:>12.2f}" for k in ATTRIBUTES))
print(f"{'on outlined pictures':24}" + "".join(f"{acc_styled[k]:>12.2f}" for k in ATTRIBUTES))
print("chance:", {k: round(1 / n, 2) for k, n in zip(ATTRIBUTES, (2, 9, 6, 9))})
""")

md(r"""
The backgrounds are read perfectly, even on outlined pictures. Everything else gets worse on the new style:
the CLIP never saw an outline either, so its reading of the shape (already its weak point on flat pictures)
drops towards chance (1 in 6), and colours and sizes slip too. Training on false captions would teach the model
false things ("outlined triangle" for a cross). The remedy used on real datasets too: **keep only what the
captioner reads reliably**, and let the caption say less. Here we keep the background and say the style:
""")

code(r"""
KEEP = [k for k in ATTRIBUTES if acc_styled[k] >= 0.9]
captions = caption_images(images, style=shapes.STYLE, keep=KEEP)
print("kept:", KEEP)
for c, s in list(zip(captions, truth, strict=True))[:4]:
    print(f"  {c!r:48} (truth: {shapes.full_caption(s)})")
assert "background" in KEEP and "shape" not in KEEP
assert acc_styled["background"] >= 0.9 and acc_styled["shape"] < acc_flat["shape"]
""")

md(r"""
The dataset is these pictures with these captions, plus `N_FLAT` ordinary flat pictures with their exact
captions. Mixing in ordinary pictures is a standard trick against *forgetting*: every batch reminds the model of
what it already knew while it learns the new thing.
""")

code(r"""
flat = [(shapes.render(s), shapes.full_caption(s)) for s in shapes.scenes(N_FLAT, seed=80)]
data = list(zip(images, captions, strict=True)) + flat
print(len(data), "pictures:", N_STYLED, "outlined with CLIP's captions +", N_FLAT, "flat with exact captions")
""")

md(r"""
## 2. Before: what the base model does

Two measurements, made again after training with the same prompts and seeds:

- **style**: for prompts that ask for outlined shapes, the share of pictures the judge reads as outlined;
- **base skills**: for ordinary prompts, the share of pictures right on shape, colour, background and size
  together (`judge.adherence`, as in lessons 00 and 06).
""")

code(r"""
pipe = load_pipeline(MODEL, dtype=torch.float32)  # float32: the weights are trained in place
style_prompts = [shapes.full_caption(s) for s in shapes.scenes(N_TEST, seed=81, style=shapes.STYLE)]
plain_prompts = [shapes.full_caption(s) for s in shapes.scenes(N_TEST, seed=82)]

def measure(pipe):
    outlined = generate(pipe, style_prompts, seed=1000, steps=STEPS, guidance=GUIDANCE)
    plain = generate(pipe, plain_prompts, seed=2000, steps=STEPS, guidance=GUIDANCE)
    score = {"style": float(np.mean([judge.is_styled(v) for v in judge.judge_many(outlined)])),
             **{k: v for k, v in judge.adherence(plain, plain_prompts).items() if k in ("colour", "all")}}
    return score, outlined, plain

before, outlined_before, plain_before = measure(pipe)
print(f"before: outlined when asked {before['style']:.2f}; ordinary prompts all right {before['all']:.2f}, "
      f"colour right {before['colour']:.2f}")
display.show(outlined_before[:8], titles=[p.replace(" on a ", "\non a ") for p in style_prompts[:8]],
             cols=8, scale=1.6);
""")

md(r"""
The base model ignores the word "outlined" (it has no idea what it means) and draws flat shapes.

## 3. The training loop, on accelerate

`course_utils.finetune.finetune` is Stable Diffusion's training step from lesson 02, on latents: encode each
picture with the frozen VAE, add noise at a random timestep, ask the UNet to predict that noise given the
caption's text vectors, and take a gradient step on the mean squared error. A caption is replaced by the empty
prompt one time in ten, so that classifier-free guidance (lesson 06) still has its unconditional prediction.

It is written on 🤗 accelerate's `Accelerator`, which takes care of devices, mixed precision and several
processes. Open `course_utils/finetune.py` and read `finetune`: the loop is a few dozen lines. With 8 GPUs the
*same* code runs as

```bash
accelerate launch --multi_gpu --num_processes 8 train.py
```

where each process takes an eighth of every batch and `accelerator.backward` averages the gradients across
processes, so all eight end every step with identical weights. (The course's test
`tests/test_finetune_two_processes.py` checks exactly that with 2 processes on a CPU.)

Checkpoints: every `save_every` steps the loop saves its whole state (weights in safetensors, the optimizer, the
learning-rate schedule) into `folder`. Calling it again with the same folder *resumes* from the newest one.
To rehearse a crash, we stop the run half-way with `stop_after`, as if the machine had died:
""")

code(r"""
CHECKPOINTS = OUT / "checkpoints"
first = finetune(pipe, data, steps=TRAIN_STEPS, lr=LR, batch_size=16, folder=CHECKPOINTS,
                 save_every=TRAIN_STEPS // 4, stop_after=TRAIN_STEPS // 2, seed=SEED)
print(f"stopped at step {first.end} after {first.seconds:.0f} s; newest checkpoint: {latest_checkpoint(CHECKPOINTS).name}")
assert first.end == TRAIN_STEPS // 2 and latest_checkpoint(CHECKPOINTS).name.endswith(f"{TRAIN_STEPS // 4:06d}")
""")

md(r"""
The run died at step `TRAIN_STEPS // 2`, but the newest checkpoint is the one saved at a quarter: the steps in
between are lost, as they would be in a real crash. A new Python process would load a fresh pipeline and call
`finetune` again; we do just that:
""")

code(r"""
pipe = load_pipeline(MODEL, dtype=torch.float32)  # a fresh start, as after a crash
second = finetune(pipe, data, steps=TRAIN_STEPS, lr=LR, batch_size=16, folder=CHECKPOINTS,
                  save_every=TRAIN_STEPS // 4, seed=SEED)
print(f"resumed from step {second.start}, ran to {second.end} in {second.seconds:.0f} s")
assert second.resumed and second.start == TRAIN_STEPS // 4 and second.end == TRAIN_STEPS
redone = slice(second.start, first.end)  # steps run by both: before the crash and again after resuming
same = np.allclose(first.losses[redone], second.losses[: first.end - second.start], rtol=1e-4)
print("the steps run twice gave the same losses:", same)
assert same
""")

md(r"""
The resumed run repeated the lost steps *exactly*, with the same losses: every batch, noise and timestep is
drawn from the seed and the step number, so resuming is the same as never having stopped.

The loss curve, with the crash and the resume:
""")

code(r"""
import matplotlib.pyplot as plt

def smooth(losses, window=10):
    return np.convolve(losses, np.ones(window) / window, mode="valid")

fig, ax = plt.subplots(figsize=(6.5, 3))
ax.plot(np.arange(len(smooth(first.losses))) + 10, smooth(first.losses), label="first run, stopped (crash)")
ax.plot(np.arange(len(smooth(second.losses))) + second.start + 10, smooth(second.losses), label="resumed from the checkpoint")
ax.axvline(first.end, color="grey", ls=":", lw=1)
ax.set_xlabel("step")
ax.set_ylabel("loss (mean of 10 steps)")
ax.legend()
ax.grid(alpha=0.3)
fig.savefig(OUT / "loss.png", dpi=100, bbox_inches="tight")
plt.show()
""")

md(r"""
## 4. After: what was gained, what was kept
""")

code(r"""
after, outlined_after, plain_after = measure(pipe)
print(f"{'':28}{'before':>8}{'after':>8}")
print(f"{'outlined when asked':28}{before['style']:>8.2f}{after['style']:>8.2f}")
print(f"{'ordinary prompts: all right':28}{before['all']:>8.2f}{after['all']:>8.2f}")
print(f"{'ordinary prompts: colour':28}{before['colour']:>8.2f}{after['colour']:>8.2f}")
""")

code(r"""
rows = 2
grid = []
for i in range(rows * 4):
    grid += [outlined_before[i], outlined_after[i]]
display.show(grid, titles=["before", "after"] * (rows * 4), cols=8, scale=1.6,
             suptitle="Prompts asking for outlined shapes, before and after fine-tuning");
display.show(plain_before[:4] + plain_after[:4], titles=["before"] * 4 + ["after"] * 4, cols=8, scale=1.6,
             suptitle="Ordinary prompts, before and after");
""")

md(r"""
The claims, checked: the style now appears when the prompt asks for it, far more often than before; and
ordinary prompts still come out right as often as before, within 5 points (in quick mode, with half the prompts
and a shorter run, we allow 10: with 32 prompts one picture is 3 points).
""")

code(r"""
gain = after["style"] - before["style"]
kept = after["all"] - before["all"]
print(f"style {before['style']:.2f} -> {after['style']:.2f} ({gain:+.2f}); "
      f"ordinary prompts {before['all']:.2f} -> {after['all']:.2f} ({kept:+.2f})")
assert after["style"] >= (0.4 if QUICK else 0.6) and gain >= 0.3
assert kept >= (-0.10 if QUICK else -0.05), "the fine-tune should not cost more than 5 points of base skill"
""")

md(r"""
What did it learn from the captions we did *not* give it? The outlined pictures' captions named only the
background and the style, yet prompts like "a large red outlined circle" now draw outlines *in red* and *as
circles*: the model combines the new word with the shapes and colours it learned from flat pictures. The judge
reads the outlined results:
""")

code(r"""
scenes_asked = [shapes.scene_from_caption(p) for p in style_prompts]
verdicts = judge.judge_many(outlined_after)
for k in ("colour", "background"):
    share = np.mean([v.style == shapes.STYLE and getattr(v, k) == s[k] for v, s in zip(verdicts, scenes_asked, strict=True)])
    print(f"outlined and the {k} asked for: {share:.2f}")
""")

code(r"""
# The lesson's picture: prompts asking for outlined shapes, before (top) and after (bottom) fine-tuning.
# Saved to OUT always; to the course's images/ folder in full mode only (so `make test` leaves it alone).
thumbnail = display.image_grid(outlined_before[:6] + outlined_after[:6], rows=2, scale=2,
                               titles=["before"] * 6 + ["after"] * 6)
thumbnail.save(OUT / "before_after.png")
images_dir = Path.cwd().parent / "images"
if not QUICK and images_dir.is_dir():
    thumbnail.save(images_dir / "08_fine_tuning.png")
thumbnail
""")

md(r"""
## Exercises

1. **No reminders.** Set `N_FLAT = 0` and train again. How far do ordinary prompts fall? Which attribute goes
   first?
2. **Trust the captioner.** Train on the full CLIP captions (`full`) instead of the reduced ones. Do the outlined
   results follow the colours and shapes asked for as often? (Measure with the last cell of section 4.)
3. **How many steps?** Measure the style every 100 steps (call `finetune` with a growing `steps` and the same
   folder: it resumes). When is the style learned? When does the base start to suffer?
4. **Two processes.** Save sections 1 and 3 as `train.py` and run
   `accelerate launch --multi_gpu --num_processes 2 train.py` on your machine (`--multi_gpu` also works without
   GPUs: the processes then talk over gloo). Compare the weights with a single-process run.
5. **Smaller changes.** A full fine-tune changes every one of the UNet's parameters. Lesson 11 (LoRA) learns
   the same style with a few percent of them: predict how the results will compare, then check.

## Recap

- Fine-tuning is the original training, continued on new data: latents from the frozen VAE, noise, the UNet's
  prediction, mean squared error, with some empty captions kept for guidance.
- A model can caption a dataset (BLIP in the Pokémon example, our CLIP here), but measure it first: ours read
  backgrounds perfectly and shapes of the new style near chance, so the captions kept only what it reads well.
- `accelerate` makes the loop device-agnostic and multi-process; checkpoints of the whole training state let a
  stopped run resume exactly where it was.
- Measured: the new style appears when asked, and mixing ordinary pictures into the data kept the base skills.
""")

nb = nbf.v4.new_notebook()
nb.cells = cells
nb.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
               "language_info": {"name": "python"}}
nbf.write(nb, "/work/main/notebooks/08_fine_tuning.ipynb")
print("written", len(cells), "cells")
