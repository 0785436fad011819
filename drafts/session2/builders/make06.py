"""Builds notebooks/06_guidance.ipynb (scratch builder, not part of the course)."""

import nbformat as nbf

cells = []


def md(text):
    cells.append(nbf.v4.new_markdown_cell(text.strip("\n")))


def code(text):
    cells.append(nbf.v4.new_code_cell(text.strip("\n")))


md(r"""
# 06 · Guidance: the sampling loop by hand

Every picture so far came out of `pipe(...)` or `generate(...)`: a prompt in, a picture out. In this lesson we
open that box and write Stable Diffusion's sampling loop ourselves, in about fifteen lines: tokenize the prompt,
encode it, draw the starting noise, run the UNet and the scheduler step by step, decode. Our loop must give the
*same picture* as the pipeline, and we check that it does. Then we use it to understand the most important knob
in the pipeline, the **guidance scale**: what it computes, what it does to the pictures (measured over hundreds
of them with the judge), why very high guidance breaks them, and how a **negative prompt** slots into the same
formula.

It builds on lesson 02 (the denoising loop, where a network predicts the noise), lesson 04 (latents and the
VAE) and lesson 05 (the CLIP text encoder). Lesson 00 turned the guidance knob and saw its effect; here we see
how it works. Lesson 07 reuses this loop for image-to-image.
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
from pathlib import Path

from course_utils.seeds import seed_everything

MODEL = "mini"  # the bundled model: offline, 64×64 pictures, a fraction of a second each on a CPU
# MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"  # the real one: needs internet (4 GB download) and a GPU;
#                                                        # its latents are 4×64×64 and prompts can be about anything
QUICK = runtime.quick_mode()  # COURSE_QUICK=1 (set by `make test`): fewer pictures to measure, the same checks
SEED = seed_everything(0)
STEPS = 20
N = 64 if QUICK else 128      # prompts per guidance scale in the sweep
N_NEG = 64 if QUICK else 128  # pictures with and without each negative prompt
GUIDANCES = [1, 3, 15] if QUICK else [1, 1.5, 2, 3, 5, 7.5, 10, 15]
OUT = Path("outputs/06_guidance")  # every file this notebook writes goes here
OUT.mkdir(parents=True, exist_ok=True)
""")

code(r"""
import collections
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from course_utils import display, judge, sampling, seeds, shapes
from course_utils.pipeline import generate, load_pipeline, scheduler_name, set_scheduler
""")

md(r"""
## 1. The parts

`load_pipeline` gives us the whole pipeline; we take it apart. Five parts do the work: the tokenizer and the
text encoder turn the prompt into vectors, the UNet predicts noise, the scheduler turns predictions into steps,
and the VAE's decoder turns the final latents into a picture.
""")

code(r"""
pipe = load_pipeline(MODEL)
tokenizer, text_encoder, unet, vae = pipe.tokenizer, pipe.text_encoder, pipe.unet, pipe.vae
for name in ("tokenizer", "text_encoder", "unet", "vae", "scheduler"):
    print(f"{name:13} {type(getattr(pipe, name)).__name__}")
""")

md(r"""
## 2. The loop by hand

### Text: the prompt and the empty prompt

Classifier-free guidance needs two predictions of the noise at every step: one that listens to the prompt and
one that listens to nothing. So we encode two texts: the prompt, and the empty prompt `""`. The tokenizer pads
both to the same fixed length (the text encoder always sees that many positions) with an end-of-text token.
""")

code(r"""
PROMPT = "a large red circle on a blue background"
ids = tokenizer([PROMPT, ""], padding="max_length", max_length=tokenizer.model_max_length,
                truncation=True, return_tensors="pt").input_ids
for row in ids:
    print(tokenizer.convert_ids_to_tokens(row)[:11], "…")
print("token ids:", tuple(ids.shape))
""")

md(r"""
The text encoder turns each row of token ids into one vector per position. We write that as a small function,
because we will encode other texts later. (The pipeline encodes the prompt and the empty prompt in two separate
calls; we do the same, so that our numbers match its numbers to the last bit.)
""")

code(r"""
def embed(texts):
    ids = tokenizer(texts, padding="max_length", max_length=tokenizer.model_max_length,
                    truncation=True, return_tensors="pt").input_ids
    with torch.no_grad():
        return text_encoder(ids.to(pipe.device))[0]

text, empty = embed([PROMPT]), embed([""])
print("prompt vectors", tuple(text.shape), "| empty-prompt vectors", tuple(empty.shape))
""")

md(r"""
### The starting latents

Sampling starts from Gaussian noise in the latent space (4 channels, 8×8 here; 4×64×64 for Stable Diffusion at
512 px). The scheduler decides the noise level it starts from, `init_noise_sigma`, and we scale the noise by it.
For the course's default scheduler, DPM-Solver++, it is 1; for others it is not (section 2's last cell).
We draw the noise from a CPU generator seeded with the seed, as `generate` does.
""")

code(r"""
scheduler = pipe.scheduler
scheduler.set_timesteps(STEPS)
shape = (1, unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)
latents = torch.randn(shape, generator=seeds.generator(0)).to(pipe.device, unet.dtype) * scheduler.init_noise_sigma
print(f"{scheduler_name(pipe)}: init_noise_sigma = {float(scheduler.init_noise_sigma):g}, "
      f"latents {tuple(latents.shape)}")
print("timesteps:", scheduler.timesteps.tolist())
""")

md(r"""
### The loop

At each of the 20 timesteps printed above (from very noisy to almost clean; the model was trained on 1,000
noise levels, and the scheduler picks 20 of them):

1. `scale_model_input`: some schedulers want the latents rescaled before the UNet sees them (DPM-Solver++
   doesn't; Euler does).
2. Run the UNet **once** on a doubled batch: the same latents twice, the first copy with the empty prompt's
   vectors, the second with the prompt's. One call of batch 2 is cheaper than two calls of batch 1.
3. Combine the two predictions: **noise = uncond + g · (cond − uncond)**. The difference (cond − uncond) is the
   direction in which the prompt changes the prediction; guidance g stretches it.
4. The scheduler's `step` removes that noise from the latents, giving the latents of the next timestep.
""")

code(r"""
def denoise_by_hand(latents, text, empty, guidance):
    scheduler = pipe.scheduler
    for t in scheduler.timesteps:
        model_input = scheduler.scale_model_input(torch.cat([latents, latents]), t)
        with torch.no_grad():
            noise = unet(model_input, t, encoder_hidden_states=torch.cat([empty, text])).sample
        uncond, cond = noise.chunk(2)
        guided = uncond + guidance * (cond - uncond)
        latents = scheduler.step(guided, t, latents).prev_sample
    return latents

final_latents = denoise_by_hand(latents, text, empty, guidance=7.5)
""")

md(r"""
### Decode

The VAE's decoder turns latents into pixels. Stable Diffusion trains the UNet on latents multiplied by a
`scaling_factor` (so they have a standard deviation of about 1); we divide it out before decoding. The decoder
gives values in [-1, 1], which `shapes.to_image` maps to 0…255.
""")

code(r"""
def decode_by_hand(latents):
    with torch.no_grad():
        pixels = vae.decode(latents / vae.config.scaling_factor).sample
    return [shapes.to_image(p) for p in pixels]

by_hand = decode_by_hand(final_latents)[0]
from_pipeline = generate(pipe, PROMPT, steps=STEPS, guidance=7.5, seed=0)[0]
difference = np.abs(np.asarray(by_hand, dtype=int) - np.asarray(from_pipeline, dtype=int))
print(f"largest pixel difference: {difference.max()} grey levels (of 255), mean {difference.mean():.4f}")
display.compare(by_hand, from_pipeline, labels=["our loop", "the pipeline"], scale=2.5)
assert difference.max() <= 1, "the hand-written loop should give the pipeline's picture"
""")

md(r"""
The same picture. That is all a Stable Diffusion pipeline does; the rest of its code checks arguments, handles
batches, and offers options.

Here are the same pieces as one function, for a batch of prompts (picture k uses seed `seed + k`, like
`generate`). The `negative` argument is for section 5.
""")

code(r"""
def sample_by_hand(prompts, guidance=7.5, seed=0, negative=""):
    pipe.scheduler.set_timesteps(STEPS)
    noise = [torch.randn(shape, generator=seeds.generator(seed + k)) for k in range(len(prompts))]
    latents = torch.cat(noise).to(pipe.device, unet.dtype) * pipe.scheduler.init_noise_sigma
    text, uncond = embed(prompts), embed([negative] * len(prompts))
    return decode_by_hand(denoise_by_hand(latents, text, uncond, guidance))
""")

md(r"""
**Why `init_noise_sigma` and `scale_model_input`?** With DPM-Solver++ both do nothing, so let us check them
with a scheduler where they matter. The Euler scheduler works with the noise's standard deviation σ directly:
it starts from noise with a standard deviation of σ_max (printed below: far from 1), and divides the latents
by √(σ² + 1) before the UNet sees them. Swap it in, and the same loop still matches the pipeline:
""")

code(r"""
set_scheduler(pipe, "euler")
pipe.scheduler.set_timesteps(STEPS)
print(f"euler: init_noise_sigma = {float(pipe.scheduler.init_noise_sigma):.2f}")
euler_by_hand = sample_by_hand([PROMPT], seed=1)[0]
euler_pipeline = generate(pipe, PROMPT, steps=STEPS, seed=1)[0]
euler_difference = np.abs(np.asarray(euler_by_hand, dtype=int) - np.asarray(euler_pipeline, dtype=int)).max()
print(f"largest pixel difference with Euler: {euler_difference}")
set_scheduler(pipe, "dpm++")  # back to the course's default
assert euler_difference <= 1
""")

md(r"""
## 3. What guidance computes

**noise = uncond + g · (cond − uncond)** gives three special cases:

- **g = 0**: only the empty prompt's prediction. The prompt is ignored entirely: the model draws *something*
  from the shapes world.
- **g = 1**: only the prompt's prediction, `cond`. This is the model as it was trained, with no guidance.
- **g > 1**: past the prompt's prediction, further away from the empty prompt's: "more like the prompt
  than the model would naturally draw it".

A check of the first case: at g = 0, two completely different prompts with the same seed must give the very
same picture.
""")

code(r"""
zero_a = sample_by_hand(["a large red circle on a blue background"], guidance=0, seed=5)[0]
zero_b = sample_by_hand(["a small yellow star on a green background"], guidance=0, seed=5)[0]
identical = np.array_equal(np.asarray(zero_a), np.asarray(zero_b))
print("g = 0, two different prompts, same seed: identical pictures =", identical)
assert identical
""")

md(r"""
And over many prompts: at g = 0 the colour the judge reads should match the prompt about as often as a guess
among the 9 colours (1 in 9, 0.11), and at g = 1 most of the time.
""")

code(r"""
sweep_scenes = shapes.scenes(N, seed=606)        # random scenes, each described completely
sweep_prompts = [shapes.full_caption(s) for s in sweep_scenes]
few = sweep_prompts[: N // 2]
at_zero = judge.adherence(sample_by_hand(few, guidance=0), few)
at_one = judge.adherence(sample_by_hand(few, guidance=1), few)
print(f"{len(few)} prompts; colour as asked: g=0 {at_zero['colour']:.2f}, g=1 {at_one['colour']:.2f}")
print(f"             everything as asked: g=0 {at_zero['all']:.2f}, g=1 {at_one['all']:.2f}")
assert at_zero["colour"] < 0.35 < 0.8 < at_one["colour"]
""")

md(r"""
One detail of diffusers: its pipelines treat every guidance ≤ 1 as "no guidance" and skip the empty prompt's
prediction altogether, which halves the work. So `generate(..., guidance=0)` is *not* our g = 0: it gives the
same picture as guidance 1.
""")

code(r"""
pipe_zero, pipe_one = (generate(pipe, PROMPT, guidance=g, seed=5)[0] for g in (0, 1))
same = np.array_equal(np.asarray(pipe_zero), np.asarray(pipe_one))
print("pipeline: guidance 0 gives the same picture as guidance 1:", same)
assert same
""")

md(r"""
## 4. Sweeping the guidance scale

Now measure guidance properly, with the pipeline (which runs our loop). For each guidance scale we make one
picture per prompt from the same seeds, and the judge checks every attribute the prompts name: shape, colour,
background and size; "all" counts the pictures right on every one of them.
""")

code(r"""
begin = time.perf_counter()
swept, scores = {}, {}
for g in GUIDANCES:
    swept[g] = generate(pipe, sweep_prompts, steps=STEPS, guidance=g, seed=0)
    scores[g] = judge.adherence(swept[g], sweep_prompts)
print(f"{len(GUIDANCES)} × {N} pictures made and judged in {time.perf_counter() - begin:.0f} s")
print("guidance" + "".join(f"{k:>12}" for k in ("shape", "colour", "background", "size", "all")))
for g, s in scores.items():
    print(f"{g:>8g}" + "".join(f"{s[k]:>12.2f}" for k in ("shape", "colour", "background", "size", "all")))
curves = {k: [scores[g][k] for g in GUIDANCES] for k in ("shape", "colour", "background", "all")}
figure = display.plot(GUIDANCES, curves, xlabel="guidance scale g", ylabel="fraction of pictures as asked",
                      title=f"Prompt adherence ({N} prompts, judge)")
figure.savefig(OUT / "adherence.png", dpi=80)
""")

md(r"""
Colour and background are nearly always right once there is a little guidance; the shape is the mini model's
weak point (its model card says so: small shapes come out as soft blobs). The claim we check: a little
guidance (g = 3) makes more pictures right on everything than no guidance (g = 1), and the colour more often.
""")

code(r"""
gain = scores[3]["all"] - scores[1]["all"]
print(f"all as asked: g=1 {scores[1]['all']:.2f} -> g=3 {scores[3]['all']:.2f} ({gain:+.2f}); "
      f"colour: {scores[1]['colour']:.2f} -> {scores[3]['colour']:.2f}")
assert gain > (0.0 if QUICK else 0.04)
assert scores[3]["colour"] >= scores[1]["colour"] and scores[3]["colour"] > 0.9
""")

md(r"""
The same prompts, the same seeds, one column per guidance scale: without guidance (left) shapes are vaguer
and colours sometimes off; somewhere after 7.5 the pictures start to break.
""")

code(r"""
rows = 4
grid = [swept[g][i] for i in range(rows) for g in GUIDANCES]
display.show(grid, titles=[f"g={g:g}" for _ in range(rows) for g in GUIDANCES], cols=len(GUIDANCES), scale=1.8);
""")

md(r"""
### Very high guidance

Push g further, to 30, and the pictures fall apart: blotchy backgrounds, colours that were never asked for,
ragged shapes. Why? The scheduler expects the UNet's output to look like the noise it was trained to predict,
with a standard deviation of about 1. The guided prediction `uncond + g·(cond − uncond)` grows with g: the
difference between the two predictions is small, but at g = 30 it is multiplied thirty times. Here are the
sizes at the first step, for a batch of 16 prompts:
""")

code(r"""
pipe.scheduler.set_timesteps(STEPS)
t0 = pipe.scheduler.timesteps[0]
start = torch.cat([torch.randn(shape, generator=seeds.generator(k)) for k in range(16)]).to(pipe.device, unet.dtype)
model_input = pipe.scheduler.scale_model_input(torch.cat([start, start]), t0)
with torch.no_grad():
    both = torch.cat([embed([""] * 16), embed(sweep_prompts[:16])])
    uncond, cond = unet(model_input, t0, encoder_hidden_states=both).sample.chunk(2)
sizes = {g: (uncond + g * (cond - uncond)).std().item() for g in (0, 1, 3, 7.5, 15, 30)}
print(f"std of cond − uncond: {(cond - uncond).std().item():.3f}")
print("std of the guided noise prediction at the first step:",
      ", ".join(f"g={g:g}: {s:.2f}" for g, s in sizes.items()))
assert sizes[30] > 2 * sizes[1]
""")

md(r"""
The scheduler takes a step as if all of that were noise, and overshoots. We measure the damage on the sweep's
prompts at g = 30, with the judge and with a simple number that needs no judge: how uneven the background is
(the standard deviation of the pixels in a 3-pixel frame around the picture, where the shapes world only ever
has flat background colour).
""")

code(r"""
def background_spread(images):
    frames = []
    for im in images:
        a = np.asarray(im, dtype=float)
        frames.append(np.concatenate([a[:3].reshape(-1, 3), a[-3:].reshape(-1, 3),
                                      a[3:-3, :3].reshape(-1, 3), a[3:-3, -3:].reshape(-1, 3)]).std(axis=0).mean())
    return float(np.mean(frames))

swept[30] = generate(pipe, sweep_prompts, steps=STEPS, guidance=30, seed=0)
scores[30] = judge.adherence(swept[30], sweep_prompts)
for g in (3, 15, 30):
    print(f"g={g:>2}: all as asked {scores[g]['all']:.2f}, colour {scores[g]['colour']:.2f}, "
          f"background spread {background_spread(swept[g]):.1f} grey levels")
display.show([swept[g][i] for i in range(6) for g in (3, 15, 30)], titles=["g=3", "g=15", "g=30"] * 6, cols=9,
             scale=1.6)
assert scores[30]["all"] < scores[3]["all"] - 0.25 and scores[30]["colour"] < scores[3]["colour"] - 0.2
assert background_spread(swept[30]) > 2 * background_spread(swept[3])
""")

md(r"""
So guidance has a sweet spot. For the mini model it is around 2 to 5 (the plot above); Stable Diffusion 1.5 is
usually run at 7 to 8, and shows the same failure beyond 15 or so: harsh, oversaturated, "burnt" pictures.

## 5. Negative prompts

A negative prompt is not a separate mechanism: it **takes the empty prompt's place** in the formula.

**noise = neg + g · (cond − neg)**

The guided prediction now moves away from the negative prompt's prediction, instead of away from "nothing".
Our loop already has the slot: `sample_by_hand(..., negative="red")` puts `embed(["red"])` where the empty
prompt's vectors were. It matches the pipeline's `negative_prompt=`:
""")

code(r"""
neg_by_hand = sample_by_hand(["a circle"], seed=7, negative="red")[0]
neg_pipeline = generate(pipe, "a circle", negative_prompt="red", steps=STEPS, seed=7)[0]
neg_difference = np.abs(np.asarray(neg_by_hand, dtype=int) - np.asarray(neg_pipeline, dtype=int)).max()
print(f"largest pixel difference with a negative prompt: {neg_difference}")
assert neg_difference <= 1
""")

md(r"""
### "a circle", without red

"a circle" leaves the colour to chance. With the negative prompt "red" we ask for any colour but red. We make
the same `N_NEG` seeds with and without it and count the colours the judge reads:
""")

code(r"""
def counts(images, attribute):
    return collections.Counter(getattr(judge.judge(im), attribute) for im in images)

def share(counter, name):
    return counter[name] / sum(counter.values())

def bars(without, with_, title):
    names = sorted(set(without) | set(with_), key=lambda c: -without[c] - with_[c])
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 2.8))
    ax.bar(x - 0.2, [without[c] for c in names], 0.4, label="without")
    ax.bar(x + 0.2, [with_[c] for c in names], 0.4, label="with the negative prompt")
    ax.set_xticks(x, names)
    ax.set_ylabel("pictures")
    ax.set_title(title)
    ax.legend()
    plt.show()

plain = generate(pipe, "a circle", n=N_NEG, seed=1000)
no_red = generate(pipe, "a circle", negative_prompt="red", n=N_NEG, seed=1000)
colours, colours_neg = counts(plain, "colour"), counts(no_red, "colour")
bars(colours, colours_neg, f'Colours of "a circle", {N_NEG} seeds, without and with the negative prompt "red"')
RED_FAMILY = ("red", "orange", "pink", "purple")  # the palette's colours with a lot of red in them
reddish, reddish_neg = (sum(share(c, name) for name in RED_FAMILY) for c in (colours, colours_neg))
print(f"red circles:         without {share(colours, 'red'):.0%}, with {share(colours_neg, 'red'):.0%}")
print(f"red, orange, pink or purple: without {reddish:.0%}, with {reddish_neg:.0%}")
print(f"circles (judge):     without {share(counts(plain, 'shape'), 'circle'):.0%}, "
      f"with {share(counts(no_red, 'shape'), 'circle'):.0%}")
assert share(colours_neg, "red") <= 0.03 and share(colours, "red") > (0.0 if QUICK else 0.04)
assert reddish_neg <= 0.05 and reddish >= 0.15
""")

md(r"""
Red is gone (red circles were not common to start with: about one in ten). But look at the whole chart: the
negative prompt did more than delete red. Orange, pink and purple, the colours with red in them, went too, and
most circles are now green, white or black. A negative prompt is a *direction*:
every picture is pushed away from what "red" looks like, as far as guidance pushes, and the colours farthest
from red win. The same seeds, without (top) and with (bottom):
""")

code(r"""
display.show(plain[:8] + no_red[:8], titles=["without"] * 8 + ['with "red"'] * 8, cols=8, scale=1.6)
named = [len(set(c) - {judge.UNKNOWN}) for c in (colours, colours_neg)]
print(f"different colours among {N_NEG} circles: without {named[0]}, with the negative prompt {named[1]}")
""")

md(r"""
### Removing a background colour

The negative prompt can name anything the model knows, for example a background. "a large circle" gets a blue
background in about one picture in five; the negative prompt "blue background" should remove it:
""")

code(r"""
circles = generate(pipe, "a large circle", n=N_NEG, seed=2000)
no_blue = generate(pipe, "a large circle", negative_prompt="blue background", n=N_NEG, seed=2000)
backs, backs_neg = counts(circles, "background"), counts(no_blue, "background")
bars(backs, backs_neg, f'Backgrounds of "a large circle", {N_NEG} seeds, without and with "blue background"')
print(f"blue backgrounds: without {share(backs, 'blue'):.0%}, with the negative prompt {share(backs_neg, 'blue'):.0%}")
print(f"still circles: {share(counts(no_blue, 'shape'), 'circle'):.0%}")
display.show(circles[:8] + no_blue[:8], titles=["without"] * 8 + ['with "blue background"'] * 8, cols=8,
             scale=1.6)
assert share(backs_neg, "blue") <= 0.03 < share(backs, "blue")
assert share(counts(no_blue, "shape"), "circle") > 0.7
""")

md(r"""
## 6. The course's version of this loop

`course_utils.sampling` holds the same loop as library functions (`encode_text`, `start_latents`,
`guided_noise`, `denoise`, `decode`, and `sample` for all of them at once), so that lesson 07 can build
image-to-image on it without copying this notebook. A last check that it is the loop we just wrote, including
the negative prompt:
""")

code(r"""
mine = sample_by_hand(sweep_prompts[:4], guidance=3, seed=11, negative="green")
library = sampling.sample(pipe, sweep_prompts[:4], guidance=3, seed=11, negative_prompt="green", steps=STEPS)
assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(mine, library, strict=True))
assert torch.equal(embed([PROMPT]), sampling.encode_text(pipe, PROMPT))
print("sampling.sample is the loop of this lesson")
""")

code(r"""
# The lesson's picture: one prompt and one seed across the guidance scales, made with our own loop.
# Saved to OUT always; to the course's images/ folder in full mode only (so `make test` leaves it alone).
STRIP = [0, 1, 3, 7.5, 15, 30]
strip = [sample_by_hand(["a large yellow star on a purple background"], guidance=g, seed=3)[0] for g in STRIP]
thumbnail = display.image_grid(strip, titles=[f"g = {g:g}" for g in STRIP], scale=2)
thumbnail.save(OUT / "guidance_strip.png")
images_dir = Path.cwd().parent / "images"
if not QUICK and images_dir.is_dir():
    thumbnail.save(images_dir / "06_guidance.png")
thumbnail
""")

md(r"""
## Exercises

1. **Watch the loop.** Inside `denoise_by_hand`, keep the scheduler's estimate of the clean latents at each step
   (`scheduler.step(...).pred_original_sample` on schedulers that give it, such as DDIM or Euler:
   `set_scheduler(pipe, "ddim")`) and decode a few of them. When is the colour decided? The shape?
2. **Guidance below 1.** Try g = 0.5 and g = −1 with `sample_by_hand`. What does a negative g ask for?
3. **Two negatives at once.** `negative="red, blue background"`: does one negative prompt remove both? Count,
   as in section 5.
4. **A negative that is the prompt.** What happens with `sample_by_hand(["a red circle"], negative="a red circle")`?
   Work it out from the formula first.
5. **The sweet spot per attribute.** Use `judge.adherence` on small shapes only
   (`[p for p in sweep_prompts if "small" in p]`): is their best guidance the same as for large ones?

## Recap

- The sampling loop is short: tokenize and encode the prompt and the empty prompt; draw noise and scale it by
  `init_noise_sigma`; at each timestep `scale_model_input`, one UNet call on the doubled batch,
  `uncond + g·(cond − uncond)`, `scheduler.step`; decode. Ours gives the pipeline's picture (identical, here).
- Guidance 0 ignores the prompt; 1 is the model without guidance; a little more (3 for the mini model) makes
  more pictures follow the prompt; far more (15 to 30) multiplies the prediction beyond what the scheduler
  expects and breaks the pictures. We measured all four over many prompts.
- A negative prompt takes the empty prompt's place: the picture is pushed away from it. It removes what it names
  (red circles, blue backgrounds: to none in our counts) and pushes everything else away from it too.
- Next, lesson 07 starts the same loop from a picture instead of from noise: image-to-image.
""")

nb = nbf.v4.new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
nb.metadata["language_info"] = {"name": "python"}
nbf.write(nb, "/work/main/notebooks/06_guidance.ipynb")
print("wrote", len(cells), "cells")
