"""Write notebooks/02_noise_prediction.ipynb (cells only; `make notebooks` executes it)."""

import nbformat as nbf

cells = []


def md(text):
    cells.append(nbf.v4.new_markdown_cell(text.strip("\n")))


def code(text):
    cells.append(nbf.v4.new_code_cell(text.strip("\n")))


md(r"""
# 02 · Noise prediction: train a network to see the noise, then draw digits from nothing

Lesson 01 turned noise into digits by climbing a classifier's gradient, and ended on a better idea: train a
network to tell us directly how to change a noisy image, by predicting the noise in it. That network is the
heart of Stable Diffusion. In this lesson we build a small one: we add noise to handwritten digits at chosen
levels (the *forward process*), train a small U-Net to predict that noise, and then run the process
backwards, from pure noise to new digits, one denoising step at a time. The classifier of lesson 01 then
tells us, with numbers, whether the results are digits.
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
import inspect
import time

import matplotlib.pyplot as plt
import torch
from diffusers import DDPMScheduler, UNet2DModel

from course_utils import runtime
from course_utils.digits import load_digits, p_digit, predict, train_classifier
from course_utils.display import image_grid, show
from course_utils.seeds import seed_everything
from course_utils.training import lr_lambda, noise_prediction_loss
""")

code(r"""
# Config. This lesson needs no Stable Diffusion model: it trains its own small one on digits.
QUICK = runtime.quick_mode()             # make test sets COURSE_QUICK=1: a shorter run, the same checks
SEED = seed_everything(0)
SIZE = 16                                # 16×16 digits
TRAIN_STEPS = __TRAIN_QUICK__ if QUICK else __TRAIN_FULL__     # optimizer steps of the U-Net
BATCH = 64
SAMPLE_STEPS = __SAMPLE_QUICK__ if QUICK else __SAMPLE_FULL__  # denoising steps when drawing new digits
N_SAMPLES = 64
DEVICE = runtime.device()                # a GPU, when there is one, is used for the U-Net
""")

md(r"""
## The digits, and the judge from lesson 01

The same handwritten digits, now at 16×16, and scaled to $[-1, 1]$ as diffusion models like them (noise
has mean 0, so the clean images should be centred too). And the same classifier as in lesson 01, trained by
the same code with the same seed, to judge what we make: $P(\text{digit})$ for any image.
""")

code(r"""
train_images = load_digits(size=SIZE, split="train").images * 2 - 1     # (N, 1, 16, 16) in [-1, 1]
test_images = load_digits(size=SIZE, split="test").images
print(f"{len(train_images)} training digits of {SIZE}×{SIZE}")

t0 = time.perf_counter()
judge = train_classifier(size=8, epochs=8 if QUICK else 20, seed=0)   # lesson 01's, with its settings
print(f"classifier trained in {time.perf_counter() - t0:.0f} s (it reads 8×8: 16-px images are averaged down)")


def to_unit(x):  # [-1, 1] back to [0, 1], for showing and judging
    return ((x + 1) / 2).clamp(0, 1)
""")

md(r"""
## The forward process: adding noise, in plain words

Training needs noisy digits whose noise we know. The **forward process** of DDPM (*Denoising Diffusion
Probabilistic Models*, Ho et al. 2020) makes them: pick a time step $t$ between 0 and 999, then mix the clean
image $x_0$ with Gaussian noise $\epsilon$:

$$x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon$$

$\bar\alpha_t$ falls from 1 at $t = 0$ (all image) to almost 0 at $t = 999$ (all noise), so $t$ is simply a
dial for *how much noise*. The two weights are chosen so that their squares add up to 1, which keeps the
image's overall scale the same at every step. The *noise schedule* is how fast the dial turns; we use the
cosine schedule, which suits small images. diffusers' `DDPMScheduler` holds the schedule and does the mixing
with `add_noise`.
""")

code(r"""
scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")

levels = torch.tensor([0, 50, 100, 200, 300, 400, 500, 600, 750, 999])
clean = train_images[:1].expand(len(levels), -1, -1, -1)
noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(SEED))
noisy = scheduler.add_noise(clean, noise, levels)
with torch.no_grad():
    p_noisy = p_digit(judge, to_unit(noisy))
show(list(to_unit(noisy)), titles=[f"t={t}\nP={p:.2f}" for t, p in zip(levels.tolist(), p_noisy, strict=True)],
     cols=len(levels), scale=1.4)

a_bar = scheduler.alphas_cumprod[levels].view(-1, 1, 1, 1)
assert torch.allclose(noisy, a_bar.sqrt() * clean + (1 - a_bar).sqrt() * noise, atol=1e-6)
""")

md(r"""
Under each image, the lesson-01 classifier's $P(\text{digit})$: a digit stays a digit under a little noise
and stops being one somewhere in the middle of the schedule. Here is the dial itself, the weight of the image
and of the noise at every $t$:
""")

code(r"""
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(scheduler.alphas_cumprod.sqrt(), label=r"image weight $\sqrt{\bar\alpha_t}$")
ax.plot((1 - scheduler.alphas_cumprod).sqrt(), label=r"noise weight $\sqrt{1-\bar\alpha_t}$")
ax.set_xlabel("time step t")
ax.legend()
ax.grid(alpha=0.3)
plt.show()
""")

md(r"""
## The model: a small U-Net

The network that predicts the noise is a **U-Net**: convolutions that shrink the image step by step to see
its overall shape, then grow it back to full size, with skip connections carrying the fine detail across.
It also receives the time step $t$ (as an embedding added inside every block), so it knows how much noise to
expect. Stable Diffusion's U-Net is diffusers' `UNet2DConditionModel` with 860 million parameters; ours is
its little sibling `UNet2DModel`, with about half a million, and one input and one output channel.
""")

code(r"""
unet = UNet2DModel(
    sample_size=SIZE, in_channels=1, out_channels=1, layers_per_block=1, norm_num_groups=8,
    block_out_channels=(16, 32, 64),
    down_block_types=("DownBlock2D", "DownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "UpBlock2D", "UpBlock2D"),
).to(DEVICE)
print(f"{sum(p.numel() for p in unet.parameters()):,} parameters")
""")

md(r"""
## Training: predict the noise

Each training step takes a batch of clean digits, draws fresh noise and a random $t$ for each, makes $x_t$
with `add_noise`, and asks the U-Net for the noise. The loss is the mean squared error between the predicted
and the true noise: `course_utils.training.noise_prediction_loss`, the same function that trained the
course's mini Stable Diffusion:
""")

code(r"""
print(inspect.getsource(noise_prediction_loss))
""")

code(r"""
optimizer = torch.optim.AdamW(unet.parameters(), lr=2e-3)
warm_then_cosine = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(warmup=50, total=TRAIN_STEPS))
gen = torch.Generator().manual_seed(SEED)
losses = []
t0 = time.perf_counter()
unet.train()
for step in range(TRAIN_STEPS):
    x0 = train_images[torch.randint(len(train_images), (BATCH,), generator=gen)]
    noise = torch.randn(x0.shape, generator=gen)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (BATCH,), generator=gen)
    x_t = scheduler.add_noise(x0, noise, t)
    predicted = unet(x_t.to(DEVICE), t.to(DEVICE)).sample
    loss = noise_prediction_loss(predicted, noise.to(DEVICE))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    warm_then_cosine.step()
    losses.append(loss.item())
    if (step + 1) % (TRAIN_STEPS // 5) == 0:
        print(f"step {step + 1:5d}: loss {sum(losses[-100:]) / len(losses[-100:]):.4f} "
              f"({time.perf_counter() - t0:.0f} s)")
unet.eval();
""")

code(r"""
window = max(1, TRAIN_STEPS // 50)
smooth = torch.tensor(losses).unfold(0, window, window).mean(dim=1)
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(losses, alpha=0.3, label="each step")
ax.plot(torch.arange(len(smooth)) * window + window / 2, smooth, label=f"mean of {window} steps")
ax.set_xlabel("training step")
ax.set_ylabel("MSE of the predicted noise")
ax.set_yscale("log")
ax.legend()
ax.grid(alpha=0.3)
plt.show()

tenth = TRAIN_STEPS // 10
first, last = sum(losses[:tenth]) / tenth, sum(losses[-tenth:]) / tenth
print(f"mean loss over the first 10% of steps {first:.4f}, over the last 10% {last:.4f}")
assert last < 0.5 * first, "the loss should fall well below its starting level"
""")

md(r"""
A loss of 1 is what predicting "no noise at all" scores (the noise has variance 1). The loss never reaches 0
and should not: at large $t$ the image is almost all noise, and nobody can tell exactly which digit will
come out of it.

## Sampling: from pure noise to digits

Now the process in reverse. Start from pure Gaussian noise, as if at $t = 999$. At each step the U-Net
predicts the noise in the current image; the scheduler's `step` uses that prediction to estimate the clean
image, and moves the current image to a slightly less noisy one, at the previous time step (adding back a
little fresh noise, as DDPM does). We take `SAMPLE_STEPS` steps, spread over the 1,000 training time steps.
""")

code(r"""
sampler = DDPMScheduler.from_config(scheduler.config)
sampler.set_timesteps(SAMPLE_STEPS)
gen = torch.Generator().manual_seed(SEED)
x = torch.randn(N_SAMPLES, 1, SIZE, SIZE, generator=gen)
start_noise = x.clone()
keep = set(torch.linspace(0, SAMPLE_STEPS - 1, 9).round().int().tolist())
strip, strip_titles = [], []
t0 = time.perf_counter()
with torch.no_grad():
    for i, t in enumerate(sampler.timesteps):
        predicted_noise = unet(x.to(DEVICE), t).sample.cpu()
        x = sampler.step(predicted_noise, t, x, generator=gen).prev_sample
        if i in keep:
            strip.append(x[:6].clone())
            strip_titles.append(f"t={int(t)}")
samples = to_unit(x)
print(f"{N_SAMPLES} digits in {SAMPLE_STEPS} steps: {time.perf_counter() - t0:.1f} s")

tiles = [strip[k][i] for i in range(6) for k in range(len(strip))]
show([to_unit(tile) for tile in tiles], titles=strip_titles * 6, cols=len(strip), scale=1.4)
""")

md(r"""
Each row is one digit being drawn, left to right: the shape settles early, while there is still a lot of
noise, and the last steps sharpen it. Here are all the samples:
""")

code(r"""
show(list(samples), cols=16, scale=0.8)
""")

md(r"""
## Are they digits? Measured

The lesson-01 classifier judges the samples, next to two references: real test digits (what a perfect model
would score) and the pure noise the samples started from (what no model at all scores).
""")

code(r"""
with torch.no_grad():
    p_samples = p_digit(judge, samples)
    p_real = p_digit(judge, test_images)
    p_noise = p_digit(judge, to_unit(start_noise))
digit, confidence = predict(judge, samples)
counts = torch.bincount(digit[p_samples > 0.5], minlength=10)
print(f"mean P(digit): real test digits {p_real.mean():.3f} · our samples {p_samples.mean():.3f} · "
      f"pure noise {p_noise.mean():.4f}")
print(f"samples called digits (P > 0.5): {(p_samples > 0.5).float().mean():.0%}; "
      f"of the test digits: {(p_real > 0.5).float().mean():.0%}")
print(f"which digits those are: {dict(enumerate(counts.tolist()))}")

fig, ax = plt.subplots(figsize=(6, 2.5))
ax.bar(range(10), counts)
ax.set_xticks(range(10))
ax.set_xlabel("digit (as the classifier reads it)")
ax.set_ylabel("samples")
plt.show()

assert p_noise.mean() < 0.01
assert p_samples.mean() > __P_THRESHOLD__, "the samples should look like digits to the classifier"
assert (counts > 0).sum() >= __KINDS_THRESHOLD__, "the samples should be many different digits, not one"
""")

code(r"""
# The lesson's thumbnail (written in full mode only, so `make test` leaves the committed picture alone).
from pathlib import Path
images_dir = Path.cwd().parent / "images"
if not QUICK and images_dir.is_dir():
    image_grid([to_unit(tile) for tile in tiles[: 3 * len(strip)]], cols=len(strip), scale=8).save(
        images_dir / "02_noise_prediction.png")
""")

md(r"""
## How this becomes Stable Diffusion

What we built is a complete diffusion model: a forward process that adds noise, a network trained to predict
it, and a sampler that removes it step by step. Stable Diffusion runs this same loop, with three changes:

- **Latents instead of pixels.** A 512×512×3 image is 786,432 numbers; Stable Diffusion first squeezes it
  with a VAE into 64×64×4 = 16,384 latent numbers and runs diffusion there, 48 times fewer. The VAE's decoder
  turns the final latent back into a picture (lessons 03 and 04).
- **Text conditioning.** Its U-Net also reads the prompt, encoded by CLIP's text encoder, through
  cross-attention layers, so the predicted noise leads toward *a red circle* and not just toward any image
  (lesson 05); classifier-free guidance makes it follow the prompt more strongly (lesson 06).
- **Size and samplers.** A U-Net of 860 million parameters trained on billions of images, and faster
  schedulers that need 20-50 steps instead of hundreds.

## Exercises

1. **Fewer steps.** Sample with `SAMPLE_STEPS` = 10, 25, 50 and measure the mean $P(\text{digit})$ each
   time. Where does quality start to drop?
2. **Swap the sampler.** Replace `DDPMScheduler` in the sampling cell by `DDIMScheduler.from_config(
   scheduler.config)` (no new training: the model only predicts noise). How many steps does DDIM need?
3. **The schedule.** Train again with `beta_schedule="linear"` (the original DDPM schedule) and compare the
   row of noisy digits and the samples' $P(\text{digit})$.
4. **Min-SNR weighting.** `noise_prediction_loss(..., timesteps=t, scheduler=scheduler, min_snr_gamma=5)`
   weights the easy, low-noise steps down. Does it change the samples after the same number of steps?

## Recap

- The forward process mixes an image with Gaussian noise; the time step $t$ sets how much
  (`DDPMScheduler.add_noise`).
- A U-Net trained with a plain mean-squared error learns to predict that noise; the loss falls, and
  measurably so.
- Run backwards with the scheduler's `step`, the predicted noise turns pure noise into new digits, which
  the classifier of lesson 01 recognises as digits, and as many different ones.
- Stable Diffusion is this loop on VAE latents, steered by text: lessons 03-06.
""")

nb = nbf.v4.new_notebook()
nb.cells = cells
nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
nb.metadata["language_info"] = {"name": "python"}

import json, sys  # noqa: E401
params = json.loads(sys.argv[1])
for cell in nb.cells:
    for key, value in params.items():
        cell.source = cell.source.replace(f"__{key}__", str(value))
    assert "__" not in cell.source.replace("__init__", "").replace("__name__", ""), cell.source
nbf.write(nb, "/work/main/notebooks/02_noise_prediction.ipynb")
print("wrote", len(cells), "cells")
