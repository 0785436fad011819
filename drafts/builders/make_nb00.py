"""Throwaway: writes notebooks/00_first_image.ipynb."""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = []


def md(text):
    cells.append(new_markdown_cell(text.strip("\n")))


def code(text):
    cells.append(new_code_cell(text.strip("\n")))


md(r"""
# 00 · Your first image

In this lesson you make a picture from a sentence with Stable Diffusion, and then turn every knob the pipeline
offers: the **seed**, the number of **steps**, the **prompt**, the **guidance scale** and the **scheduler**.
You will see what a pipeline is made of (a tokenizer, a text encoder, a UNet, a VAE and a scheduler), how to make
a picture that anyone can reproduce exactly, and what each knob changes. Nothing is only shown: each claim is
measured, by comparing pixels or by asking the course's *judge* to read the pictures back. This is the first
lesson, so it builds on nothing; the later lessons open each part of the pipeline up.

We use the course's own **mini Stable Diffusion**: the real Stable Diffusion architecture at a tiny size, trained
on a *shapes world* of 64×64 pictures (one flat-coloured circle, square, triangle, star, heart or cross on a flat
background). It makes a picture in a fraction of a second on a laptop CPU, with no download. Change one line and
the same code runs the real Stable Diffusion 1.5 on a GPU.
""")

code(r'''
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("course_utils") is None:  # Colab or a fresh environment: install the course package
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/sd-course/stable-diffusion-course"], check=True)
from course_utils import runtime
runtime.describe();
''')

code(r'''
from pathlib import Path

MODEL = "mini"  # the bundled model: offline, 64×64 pictures, a fraction of a second each on a CPU
# MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"  # the real one: needs internet (4 GB download) and a GPU;
#                                                        # its pictures are 512×512 and prompts can be about anything
QUICK = runtime.quick_mode()  # COURSE_QUICK=1 (set by `make test`): fewer pictures to measure, same lesson
OUT = Path("outputs/00_first_image")  # every file this notebook writes goes here
OUT.mkdir(parents=True, exist_ok=True)
PROMPT = "a large red circle on a blue background"
''')

code(r'''
import itertools
import time

import numpy as np
import torch

from course_utils import display, judge, seeds, shapes, widgets
from course_utils.pipeline import generate, load_pipeline, scheduler_name
''')

md(r"""
## 1. Load the pipeline

A *pipeline* is everything that turns a prompt into a picture, bundled into one object. `load_pipeline` reads
it from the folder that ships with the course, picks the device (GPU if there is one) and the number format
that suit this machine, and switches the progress bars off.
""")

code(r'''
pipe = load_pipeline(MODEL)
print(f"{type(pipe).__name__} on {pipe.device} in {pipe.dtype}, scheduler {scheduler_name(pipe)!r}")
''')

md(r"""
## 2. The first image

One line: a prompt in, a list of pictures out. `seed=0` picks the random starting point; more on that in
section 4.
""")

code(r'''
image = generate(pipe, PROMPT, seed=0)[0]
display.show(image, titles=PROMPT, scale=3);
''')

md(r"""
Every picture remembers how it was made, and the course's **judge** can read it back into words: shape,
colour, background and size. The judge is plain image processing (no neural network), and it is how every
lesson *measures* whether the model did what the prompt asked.
""")

code(r'''
print(image.info["course_settings"])
print("the judge reads:", judge.judge(image))
''')

md(r"""
Four prompts at once: a list of prompts gives one picture each (the `k`-th uses seed `0 + k`). This little
grid is also saved to `OUT`; it is the lesson's thumbnail in the course map.
""")

code(r'''
FIRSTS = [PROMPT, "a large yellow star on a purple background",
          "a large white heart on a green background", "a small black cross on a pink background"]
firsts = generate(pipe, FIRSTS, seed=0)
display.show(firsts, titles=FIRSTS, scale=2.5)
display.image_grid(firsts, cols=2, scale=2).save(OUT / "00_first_image.png");
''')

md(r"""
## 3. What is inside a pipeline

`pipe.components` lists the parts. Only three of them have learned weights; the whole mini model has a few
million parameters, where Stable Diffusion 1.5 has about a billion.
""")

code(r'''
for name, part in pipe.components.items():
    kind = type(part).__name__ if part is not None else "—"
    count = f"{part.num_parameters():>11,} parameters" if hasattr(part, "num_parameters") else ""
    print(f"{name:18} {kind:30} {count}")
''')

md(r"""
What each one does, in one sentence (and the lesson that opens it up):

| component | what it does | lesson |
| --- | --- | --- |
| `tokenizer` | cuts the prompt into *tokens* (words or pieces of words) and numbers them from a fixed vocabulary | 05 |
| `text_encoder` | CLIP's text transformer: turns the token numbers into one vector per token, the meaning the UNet listens to | 05 |
| `unet` | the heart of the model: given a noisy latent, the step and the text vectors, it predicts the noise in it; it runs at every step | 02, 04, 06 |
| `vae` | the autoencoder: its decoder turns a small *latent* (8×8×4 numbers here) into the picture; its encoder does the reverse, for img2img | 03, 07 |
| `scheduler` | no weights, just arithmetic: it picks the noise levels and takes each step from noise towards a picture using the UNet's prediction | 04 |
| `safety_checker`, `feature_extractor`, `image_encoder` | optional parts; the mini model has none (Stable Diffusion 1.5 ships a safety checker, and the course keeps it on) | — |

Follow the prompt through the parts by hand, and look at the shapes of what passes between them:
""")

code(r'''
ids = pipe.tokenizer(PROMPT, padding="max_length", max_length=pipe.tokenizer.model_max_length,
                     return_tensors="pt").input_ids.to(pipe.device)
with torch.no_grad():
    text_vectors = pipe.text_encoder(ids)[0]
    start = seeds.fixed_latents(pipe, 0)  # the starting noise that seed 0 gives
    decoded = pipe.vae.decode(start / pipe.vae.config.scaling_factor).sample
print("tokens      ", pipe.tokenizer.convert_ids_to_tokens(ids[0])[:12], "…")
print("token ids   ", tuple(ids.shape), "  -> text encoder ->  text vectors", tuple(text_vectors.shape))
print("latents     ", tuple(start.shape), "      -> VAE decoder  ->  picture     ", tuple(decoded.shape))
''')

md(r"""
The UNet and the scheduler work on the small latents, never on the picture: that is what makes Stable
Diffusion a *latent* diffusion model. The VAE's decoder blows each latent up by a factor of 8 per side at the
very end (4×64×64 latents become 512×512 pictures in the real model).
""")

code(r'''
# NBVAL_CHECK_OUTPUT
factor = decoded.shape[-1] // start.shape[-1]
print(f"picture side / latent side = {factor}; pipe.vae_scale_factor = {pipe.vae_scale_factor}")
assert factor == pipe.vae_scale_factor and decoded.shape[-2:] == (image.height, image.width)
''')

md(r"""
Here is seed 0's starting noise as the decoder sees it, next to the picture 20 steps of denoising made of it:
""")

code(r'''
noise_picture = pipe.image_processor.postprocess(decoded, output_type="pil")[0]
display.compare(noise_picture, image, labels=["seed 0's starting latents, decoded", "after 20 steps"], scale=3);
''')

md(r"""
## 4. Seeds: the same seed gives the same picture

Every picture starts from random noise, and the seed chooses which noise. With the same seed and the same
settings you get the same picture, down to the last bit. A different seed gives a different picture of the same
prompt.
""")

code(r'''
a, b = generate(pipe, PROMPT, seed=42)[0], generate(pipe, PROMPT, seed=42)[0]
c = generate(pipe, PROMPT, seed=43)[0]
same, other = np.array_equal(np.asarray(a), np.asarray(b)), np.array_equal(np.asarray(a), np.asarray(c))
print(f"seed 42 twice: identical = {same};  seed 43 identical to seed 42 = {other}")
display.compare(a, b, c, labels=["seed 42", "seed 42 again", "seed 43"], scale=2.5)
assert same and not other
''')

md(r"""
The seed does only one thing: it draws the starting latents. `seeds.fixed_latents` draws them yourself, exactly
as the pipeline would; hand them to the pipeline as `latents=` and you get the seed's picture without any seed.
The course draws the noise on the CPU even when the model runs on a GPU, so a seed means the same noise on every
machine. (GPUs round their arithmetic a little differently, so across different hardware expect the same
picture up to tiny differences; on one machine it is identical.)
""")

code(r'''
# NBVAL_CHECK_OUTPUT
latents = seeds.fixed_latents(pipe, 42)
x = pipe(PROMPT, latents=latents, num_inference_steps=20, guidance_scale=7.5).images[0]
y = pipe(PROMPT, latents=latents, num_inference_steps=20, guidance_scale=7.5).images[0]
print("latents", tuple(latents.shape), f"mean {latents.mean():+.3f}, std {latents.std():.3f}")
print("fixed latents twice: identical =", np.array_equal(np.asarray(x), np.asarray(y)),
      "| same as seed 42 =", np.array_equal(np.asarray(x), np.asarray(a)))
assert np.array_equal(np.asarray(x), np.asarray(y)) and np.array_equal(np.asarray(x), np.asarray(a))
''')

md(r"""
Fixed latents are the clean way to compare prompts: keep the noise, change only the words, and whatever
changes in the picture was caused by the words.
""")

code(r'''
VARIANTS = [PROMPT, "a large red star on a blue background",
            "a large green circle on a blue background", "a large red circle on a yellow background"]
same_start = pipe(VARIANTS, latents=latents.repeat(len(VARIANTS), 1, 1, 1),
                  num_inference_steps=20, guidance_scale=7.5).images
display.show(same_start, titles=VARIANTS, scale=2.5);
''')

md(r"""
**Share a seed with a classmate.** `display.save_image` writes the settings into the PNG file itself (as text
chunks, which image viewers ignore). Send the file; whoever has it reads the settings back with
`display.load_settings` and makes the same picture again.
""")

code(r'''
# NBVAL_CHECK_OUTPUT
path = display.save_image(a, OUT / "seed_42.png")
settings = display.load_settings(path)
print(path, settings)
''')

code(r'''
# NBVAL_CHECK_OUTPUT
# ... on your classmate's machine: only the file is needed
keys = ("prompt", "negative_prompt", "steps", "guidance", "seed", "scheduler", "height", "width")
again = generate(pipe, **{k: settings[k] for k in keys})[0]
received = display.load_image(path)
equal = np.array_equal(np.asarray(received), np.asarray(again))
print(f"model {settings['model']!r}, seed {settings['seed']}: regenerated picture identical to the file = {equal}")
assert equal and settings["seed"] == 42 and settings["model"] == pipe.course_model
''')

md(r"""
## 5. Steps

The picture is made in steps. At each step the UNet predicts the noise in the current latents and the
scheduler removes some of it. With very few steps the scheduler must take big, rough jumps; with more steps the
result settles, and each extra step costs the same time again.
""")

code(r'''
STEPS = [1, 2, 5, 10, 20, 50]
by_steps, seconds = [], []
for s in STEPS:
    begin = time.perf_counter()
    by_steps.append(generate(pipe, PROMPT, steps=s, seed=0)[0])
    seconds.append(time.perf_counter() - begin)
titles = [f"{s} step{'s' * (s > 1)}, {t:.2f} s" for s, t in zip(STEPS, seconds, strict=True)]
display.show(by_steps, titles=titles, scale=2.2);
''')

md(r"""
How far is each picture from the 50-step one? Measured as the mean absolute difference of the pixels, in grey
levels (0–255):
""")

code(r'''
final = np.asarray(by_steps[-1], dtype=float)
change = [np.abs(np.asarray(im, dtype=float) - final).mean() for im in by_steps]
for s, d, t in zip(STEPS, change, seconds, strict=True):
    print(f"{s:>3} steps: {d:5.1f} grey levels from the 50-step picture, {t:.2f} s")
assert change[STEPS.index(20)] < change[STEPS.index(5)] / 2  # by 20 steps the picture has (nearly) settled
''')

md(r"""
20 to 30 steps is the usual choice with the default scheduler (DPM-Solver++): most of the picture is
decided by then, and 50 steps costs 2.5 times as much for little change.

## 6. Prompts: say everything, or leave some to chance

The mini model learned from pictures like these, each with a caption:
""")

code(r'''
examples = shapes.scenes(6, seed=1)
display.show([shapes.render(s) for s in examples], titles=[shapes.full_caption(s) for s in examples], scale=2.2);
''')

md(r"""
Its training captions often left things out ("a red circle", "star, green background", or just "circle"), so a
*partial* prompt means something: the attributes it names, with everything else left to the seed. A full prompt
pins down shape, colour, size and background, and the seed only moves the shape a little. A few seeds of
each, with the judge's reading under each picture:
""")

code(r'''
N = 6 if QUICK else 8
PROMPTS = {"full": PROMPT, "partial": "a circle"}
rows = {name: generate(pipe, p, n=N, seed=100) for name, p in PROMPTS.items()}
verdicts = {name: judge.judge_many(ims) for name, ims in rows.items()}
titles = [f"{name}: {v.colour} on {v.background}" for name in rows for v in verdicts[name]]
display.show([im for ims in rows.values() for im in ims], titles=titles, cols=N, scale=1.9);
''')

md(r"""
Count the different colour-and-background combinations the judge reads in each row, and check that the named
attributes are kept:
""")

code(r'''
looks = {name: len({(v.colour, v.background) for v in vs}) for name, vs in verdicts.items()}
print(f"different colour/background pairs in {N} seeds: {looks}")
print("full prompt adherence:     ", judge.adherence(rows["full"], PROMPTS["full"]))
print("partial prompt adherence:  ", judge.adherence(rows["partial"], PROMPTS["partial"]))
assert looks["partial"] > looks["full"]  # what the prompt leaves out, the seed decides
''')

md(r"""
## 7. Guidance scale

At every step the UNet actually predicts the noise twice: once with your prompt and once with an empty prompt.
*Classifier-free guidance* then pushes the prediction away from the empty-prompt one, towards the prompt:

`noise = noise(empty) + guidance × (noise(prompt) − noise(empty))`

With guidance 1 that is just the prompt's prediction (and diffusers skips the second pass). Higher guidance
follows the prompt more closely, at the cost of variety and, when much too high, of strange colours. Lesson 06
takes this apart; here we look, then measure.
""")

code(r'''
GUIDANCES = [1.0, 3.0, 7.5, 15.0]
GUIDE_PROMPT = "a large yellow star on a purple background"
by_guidance = {g: generate(pipe, GUIDE_PROMPT, guidance=g, n=3, seed=0) for g in GUIDANCES}
grid = [by_guidance[g][i] for i in range(3) for g in GUIDANCES]  # one row per seed, one column per guidance
display.show(grid, titles=[f"g={g:g}, seed {i}" for i in range(3) for g in GUIDANCES], cols=4, scale=2.2);
''')

md(r"""
Now measure it. Take a set of full prompts (random scenes of the shapes world, each described completely),
make one picture per prompt at each guidance scale with the same seeds, and let the judge count how often every
attribute the prompt names is in the picture.
""")

code(r'''
scenes = shapes.scenes(16 if QUICK else 48, seed=7)
prompts = [shapes.full_caption(s) for s in scenes]
scores, made = {}, {}
begin = time.perf_counter()
for g in GUIDANCES:
    made[g] = generate(pipe, prompts, guidance=g, seed=0)
    scores[g] = judge.adherence(made[g], prompts)
print(f"{len(GUIDANCES)} × {len(prompts)} pictures judged in {time.perf_counter() - begin:.0f} s")
print("guidance " + "".join(f"{k:>12}" for k in ("shape", "colour", "background", "size", "all")))
for g, score in scores.items():
    print(f"{g:>8g} " + "".join(f"{score[k]:>12.2f}" for k in ("shape", "colour", "background", "size", "all")))
''')

code(r'''
display.plot(GUIDANCES, {k: [scores[g][k] for g in GUIDANCES] for k in ("shape", "colour", "background", "all")},
             xlabel="guidance scale", ylabel="fraction of pictures right", title="Prompt adherence (judge)");
''')

md(r"""
The judge's verdict on the first pictures, without guidance and with the usual 7.5 (✓ = everything the prompt
names is there):
""")

code(r'''
k = 6  # the first k prompts
for g in (1.0, 7.5):
    read = judge.judge_many(made[g][:k])
    right = [judge.matches(v, shapes.scene_from_caption(p)) for v, p in zip(read, prompts[:k], strict=True)]
    short = [p.replace("a ", "", 1).replace(" on a ", " on ").replace(" background", "") for p in prompts[:k]]
    display.show(made[g][:k], titles=[f"{'✓' if r else '✗'} {p}" for r, p in zip(right, short, strict=True)],
                 cols=k, scale=2.2, suptitle=f"guidance {g:g}")
''')

code(r'''
print(f"all attributes right: guidance 1.0 -> {scores[1.0]['all']:.2f}, guidance 7.5 -> {scores[7.5]['all']:.2f}")
assert scores[7.5]["all"] > scores[1.0]["all"]  # guidance makes the model follow the prompt more often
''')

md(r"""
## 8. Schedulers

The scheduler is the numerical method that walks from noise to picture. It has no weights, so you can swap it
without retraining anything. The ones below all follow the same path (the same differential equation, in the
language of lesson 04) with different rules for each step: with the same seed they aim at the same picture, and
differ in how well they get there in few steps. Each of them calls the UNet once per step, and the UNet is
nearly all the work, so at equal steps they cost about the same (the times printed also depend on what else
your machine is doing: run the cell twice and compare).
""")

code(r'''
SCHEDULERS = ["ddim", "dpm++", "euler", "lms", "pndm"]
by_scheduler, timing = {}, {}
for steps, name in itertools.product((5, 20), SCHEDULERS):
    begin = time.perf_counter()
    by_scheduler[steps, name] = generate(pipe, PROMPT, steps=steps, seed=0, scheduler=name)[0]
    timing[steps, name] = time.perf_counter() - begin
for steps in (5, 20):
    display.show([by_scheduler[steps, n] for n in SCHEDULERS], cols=len(SCHEDULERS), scale=2.2,
                 titles=[f"{n}: {timing[steps, n]:.2f} s" for n in SCHEDULERS], suptitle=f"{steps} steps, seed 0")
''')

md(r"""
How much do they disagree? The mean pixel difference between every pair of schedulers, at 5 and at 20 steps:
""")

code(r'''
spread = {}
for steps in (5, 20):
    pairs = itertools.combinations([np.asarray(by_scheduler[steps, n], dtype=float) for n in SCHEDULERS], 2)
    spread[steps] = np.mean([np.abs(p - q).mean() for p, q in pairs])
    print(f"{steps:>2} steps: schedulers differ by {spread[steps]:.1f} grey levels on average")
assert spread[20] < spread[5]  # the more steps, the closer they all get to the same picture
''')

md(r"""
The scheduler matters most when you are in a hurry: at few steps the pictures differ, at 20 steps they agree
closely. That is why fast schedulers such as DPM-Solver++ (the course's default) are worth having. To change the
scheduler for good rather than for one call, use `set_scheduler(pipe, "euler")` from `course_utils.pipeline`.

## 9. The explorer

Now play. In JupyterLab the explorer below is live: type a prompt, move the sliders, press **Generate**, and
the settings line under the pictures says exactly what made them (copy it into `generate` to make them again).
A saved copy of this notebook, on GitHub say, shows a still picture instead.
""")

code(r'''
widgets.explorer(pipe, PROMPT)
''')

md(r"""
## 10. Closed services and open weights

You have probably met other image generators. **DALL·E** (OpenAI) and **Midjourney** are closed services: you
send a prompt to their servers and get pixels back. You cannot download the model, look inside it, change how it
samples or teach it something new; you get the knobs the service chooses to offer (Midjourney, for instance,
lets you set a seed and a few style parameters; OpenAI's API may even rewrite your prompt before drawing it),
and the model can change under you without notice. **Craiyon** began as *DALL·E mini*, an open-source
re-creation whose weights were published, and became a free web service used through its website.

**Stable Diffusion** (CompVis, Stability AI and Runway, 2022) published its weights under a licence that lets
anyone download and use them (CreativeML OpenRAIL-M, which lists some uses it forbids).
That is why this course exists: anyone can load the same weights, run them offline, print every component as
you did above, swap the scheduler, write the sampling loop by hand (lesson 04) and fine-tune the model on their
own pictures (lessons 08–11). Open weights also move the responsibility to whoever runs them: no service stands in
between to filter what is made. The course keeps Stable Diffusion's safety checker on when it loads the real
model.

| | closed service (DALL·E, Midjourney) | open weights (Stable Diffusion) |
| --- | --- | --- |
| where it runs | their servers | your machine, offline if you like |
| what you can see | the picture | every layer, every intermediate latent |
| what you can change | the knobs they offer | anything: scheduler, guidance, code, weights |
| same picture next year | only if they keep the model | yes: same weights, same seed, same picture |

## Exercises

1. **Partial prompts.** Generate "a small star" with 12 seeds. How many colours does the judge read? Add a
   colour to the prompt: how many now?
2. **Steps per scheduler.** For each scheduler, find the fewest steps whose picture is within 3 grey levels of
   its own 50-step picture. Which one needs the fewest?
3. **A noisy scheduler.** Try `scheduler="euler_a"` (Euler *ancestral*, which adds fresh noise at every step).
   Is it still reproducible with the same seed? Does it agree with `euler` as the others do? Why not?
4. **The empty prompt.** `generate` refuses an empty prompt, but the pipeline itself takes one:
   `pipe("", generator=seeds.generator(0), num_inference_steps=20).images[0]`. Make eight (seeds 0–7): what
   does the model draw when it is told nothing? How often does the judge find a shape?
5. **Guidance 0.** Generate at guidance 0 and at guidance 1 with the same seed and compare the pixels. The
   formula above says 0 should ignore the prompt: what does diffusers actually do? (Lesson 06 builds the real
   thing.)
6. **Swap with a classmate.** Save your favourite picture with `display.save_image`, send the PNG, and have a
   classmate regenerate it from `display.load_settings` alone.
7. **The real model.** On a GPU with internet access, set `MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"`
   in the config cell and run the notebook again. The judge shrinks the 512×512 pictures to 64×64 and reads them
   as if they came from the shapes world: how often does it recognise what Stable Diffusion drew?

## Recap

- A pipeline is a tokenizer and a text encoder (prompt → vectors), a UNet (predicts noise, many times), a VAE
  (latents ↔ picture) and a scheduler (the steps). Only the UNet, the text encoder and the VAE have weights.
- The seed only chooses the starting latents. Same seed and settings: the same picture, bit for bit. Fixed
  latents let you compare prompts fairly, and a PNG with its settings lets anyone reproduce a picture.
- Steps: more is slower and, past about 20, changes little. The prompt: what it leaves out, the seed decides.
- Guidance: pushes the picture towards the prompt; the judge measured how much.
- Schedulers: different numerical methods for the same path; they disagree at few steps and agree at many.
- Next: lesson 01 starts building the machinery from scratch, with gradients by finite differences.
""")

nb = new_notebook(cells=cells)
nb.metadata = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}
for i, cell in enumerate(nb.cells):
    cell["id"] = f"cell-{i:02d}"
nbformat.validate(nb)
nbformat.write(nb, "/work/main/notebooks/00_first_image.ipynb")
print(len(cells), "cells")
