"""Throwaway: writes notebooks/03_autoencoders.ipynb (no outputs) with nbformat."""

import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = []


def md(text):
    cells.append(new_markdown_cell(text.strip("\n")))


def code(text):
    cells.append(new_code_cell(text.strip("\n")))


md(r"""
# 03 · Autoencoders: squeezing an image into a few numbers

In lesson 02 a small U-Net learned to predict the noise in 16×16 digits. Every step of that network touches
every pixel, and at Stable Diffusion's 512×512 pixels that gets expensive very fast. Stable Diffusion's way out
is to **compress first**: an *autoencoder* squeezes each image into a much smaller grid of numbers, the
*latent*, and the diffusion model works on latents instead of pixels. In this lesson we build one: stride-2
convolutions take a 64×64 picture from the shapes world down to an 8×8 grid, transposed convolutions bring it
back up, and training asks for nothing but "output = input". Then we measure what it costs: how much it
compresses, how close the reconstructions come (against plain resizing), whether the judge still reads the
right shapes, and how the error falls as the bottleneck grows. We end with the arithmetic of why Stable
Diffusion works on 64×64×4 latents rather than 512×512×3 pixels. Lesson 04 then opens the pipeline's own
autoencoder.
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
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import judge, runtime, shapes
from course_utils.display import show
from course_utils.seeds import seed_everything
from course_utils.training import lr_lambda
""")

code(r"""
# Config. This lesson needs no Stable Diffusion model: it trains its own small autoencoders on the shapes world.
# (Lesson 04 opens the pipeline's VAE: MODEL = "mini" there, "stable-diffusion-v1-5/stable-diffusion-v1-5" on a GPU.)
QUICK = runtime.quick_mode()          # make test sets COURSE_QUICK=1: a shorter run, the same checks
SEED = seed_everything(0)
N_TRAIN = 1000 if QUICK else 2000     # training pictures
N_TEST = 128 if QUICK else 256        # held-out pictures: every measurement is made on these
STEPS = 600 if QUICK else 2000        # optimizer steps per autoencoder
BATCH = 8
BOTTLENECKS = (1, 2, 4, 8)            # latent channels at 8×8, for the bottleneck sweep
DEVICE = runtime.device()             # a GPU, when there is one, is used for training
""")

md(r"""
## The data: the shapes world as tensors

`course_utils.shapes` draws 64×64 pictures of one flat-coloured shape on a flat background, each from a seeded
random *scene* (shape, colour, background, size, position). `shapes.to_tensor` turns a picture into a tensor of
shape (3, 64, 64) with values in $[-1, 1]$, the range Stable Diffusion's autoencoder takes. A few thousand such
pictures fit easily in memory, so we stack them into one tensor. The held-out pictures come from another seed:
we always measure on pictures the autoencoder never trained on.
""")

code(r"""
t0 = time.perf_counter()
train_x = torch.stack([shapes.to_tensor(shapes.render(s)) for s in shapes.scenes(N_TRAIN, seed=0)])
test_scenes = shapes.scenes(N_TEST, seed=1)
test_x = torch.stack([shapes.to_tensor(shapes.render(s)) for s in test_scenes])
print(f"training pictures {tuple(train_x.shape)}, held-out pictures {tuple(test_x.shape)}, "
      f"values from {train_x.min():.0f} to {train_x.max():.0f} ({time.perf_counter() - t0:.0f} s to draw)")
show([shapes.to_image(t) for t in test_x[:8]], titles=[f"{s.size} {s.colour} {s.shape}" for s in test_scenes[:8]],
     cols=8, scale=1.6)
""")

md(r"""
## Going down: a stride-2 convolution halves the picture

A convolution slides a small kernel over the image. With **stride 2** it moves two pixels at a time, so the
output is half as tall and half as wide. The size follows from one formula (kernel 4, padding 1):

$$\text{out} = \left\lfloor \frac{\text{in} + 2\cdot\text{padding} - \text{kernel}}{\text{stride}} \right\rfloor + 1
= \left\lfloor \frac{64 + 2 - 4}{2} \right\rfloor + 1 = 32$$

The number of output *channels* is ours to choose: here 3 colours in, 24 feature maps out. Three such layers
take 64×64 down to 8×8, the factor of 8 per side that Stable Diffusion's autoencoder uses too.
""")

code(r"""
down = nn.Conv2d(3, 24, kernel_size=4, stride=2, padding=1)
x = test_x[:1]                        # a batch of one picture
h = down(x)
print("picture             ", tuple(x.shape))
print("after a stride-2 conv", tuple(h.shape))
assert h.shape == (1, 24, 32, 32)
""")

md(r"""
## Coming back up: the transposed convolution

The decoder has to undo that and make the picture twice as large at each step. A **transposed convolution**
(`nn.ConvTranspose2d`) runs the stride backwards: each input value is multiplied by the kernel and *spread*
over a 4×4 patch of the output, and the patches are laid 2 pixels apart, so the output is twice the size:

$$\text{out} = (\text{in} - 1)\cdot\text{stride} - 2\cdot\text{padding} + \text{kernel} = 31 \cdot 2 - 2 + 4 = 64$$

The other common way is to **upsample, then convolve**: repeat every value in a 2×2 block (`nn.Upsample`), then
apply an ordinary 3×3 convolution that keeps the size. Stable Diffusion's VAE decoder does that.
""")

code(r"""
up = nn.ConvTranspose2d(24, 3, kernel_size=4, stride=2, padding=1)
upsample_then_conv = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(24, 3, 3, padding=1))
print("from                ", tuple(h.shape))
print("transposed conv     ", tuple(up(h).shape))
print("upsample + 3×3 conv ", tuple(upsample_then_conv(h).shape))
""")

md(r"""
Why do some models prefer upsampling? Because of how the spread patches overlap. Give a transposed convolution
whose weights are all 1 an input of all 1s, and each output pixel simply counts how many patches landed on it.
With kernel 4 and stride 2 every pixel inside the picture gets the same count (only the border, with fewer
neighbours, gets less); with kernel 3 and stride 2 the counts alternate, a **checkerboard** that the network
must learn to cancel (and often doesn't quite: it shows in generated images as a faint grid). We use kernel 4;
upsampling avoids the problem by construction.
""")

code(r"""
ones = torch.ones(1, 1, 4, 4)
for kernel in (3, 4):
    spread = nn.ConvTranspose2d(1, 1, kernel_size=kernel, stride=2, padding=1, bias=False)
    nn.init.ones_(spread.weight)
    counts = spread(ones)[0, 0].detach()
    print(f"kernel {kernel}, stride 2: output {tuple(counts.shape)}, patches landing on each pixel:")
    print(counts.int().numpy(), "\n")
""")

md(r"""
## The autoencoder

The **encoder** is three stride-2 convolutions (64 → 32 → 16 → 8) that widen the channels as the picture
shrinks (24, 48, 96), and a final 1×1 convolution that squeezes the 96 channels into the few of the
**bottleneck**: 4 by default, like Stable Diffusion's latents. The **decoder** mirrors it: a 3×3 convolution
that widens the latent back to 96 channels, then three transposed convolutions (8 → 16 → 32 → 64), the last one
straight to the 3 colour channels. SiLU activations sit between the layers (without them the whole network
would be one linear map). It is small on purpose, so that it trains in a minute or two on a CPU.
""")

code(r"""
class Autoencoder(nn.Module):
    # 64×64×3 picture -> 8×8×latent_channels latent -> 64×64×3 picture
    def __init__(self, latent_channels=4, width=24):
        super().__init__()
        w = width
        self.encoder = nn.Sequential(
            nn.Conv2d(3, w, 4, stride=2, padding=1), nn.SiLU(),           # 64×64 -> 32×32
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.SiLU(),       # -> 16×16
            nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1), nn.SiLU(),   # -> 8×8
            nn.Conv2d(4 * w, latent_channels, 1),                         # the bottleneck: 8×8×latent_channels
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(latent_channels, 4 * w, 3, padding=1), nn.SiLU(),             # 8×8, widened again
            nn.ConvTranspose2d(4 * w, 2 * w, 4, stride=2, padding=1), nn.SiLU(),    # -> 16×16
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1), nn.SiLU(),        # -> 32×32
            nn.ConvTranspose2d(w, 3, 4, stride=2, padding=1),                       # -> 64×64×3
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))
""")

md(r"""
Walk one picture through an untrained network and print what each layer hands on (the SiLUs are left out:
they don't change the shape). Height and width halve at each stride-2 convolution and double at each
transposed one, while the channels do the opposite, except at the bottleneck, where everything is narrow.
""")

code(r"""
model = Autoencoder(latent_channels=4)
x = test_x[:1]
print(f"{'':9}{'layer':40}{'output shape':>18}{'numbers':>9}")
print(f"{'':9}{'the picture':40}{str(tuple(x.shape)):>18}{x[0].numel():>9,}")
with torch.no_grad():
    for part, layers in (("encoder", model.encoder), ("decoder", model.decoder)):
        for layer in layers:
            x = layer(x)
            if isinstance(layer, nn.SiLU):
                continue
            k, s = layer.kernel_size[0], layer.stride[0]
            name = f"{type(layer).__name__} {layer.in_channels}→{layer.out_channels}, {k}×{k}, stride {s}"
            print(f"{part:9}{name:40}{str(tuple(x.shape)):>18}{x[0].numel():>9,}")
print(f"\n{sum(p.numel() for p in model.parameters()):,} parameters")
""")

md(r"""
## How much does it compress?

The compression ratio is the count of numbers in a picture over the count of numbers in its latent.
""")

code(r"""
with torch.no_grad():
    latent = model.encoder(test_x[:1])
n_picture, n_latent = test_x[0].numel(), latent[0].numel()
print(f"picture: {tuple(test_x.shape[1:])} = {n_picture:,} numbers")
print(f"latent : {tuple(latent.shape[1:])} = {n_latent:,} numbers")
print(f"compression ratio: {n_picture / n_latent:.0f}×")
assert n_picture / n_latent == 48
""")

md(r"""
48 times fewer numbers: the same ratio as Stable Diffusion's VAE, which turns 512×512×3 pictures into
64×64×4 latents. Untrained, the decoder turns the latent into mush, of course.

## Training: output = input

Training asks for the simplest thing possible: make the output equal to the input, measured by the mean
squared error (MSE) between them. Nothing tells the encoder *what* to keep: it has to discover that "which
colour, which shape, where" is what matters, because that is what reconstructs the most pixels.

The loop is lesson 02's with a different target: a random batch, a forward pass, the loss, a backward pass, an
optimizer step, the same warm-up-then-cosine learning-rate schedule (`training.lr_lambda`), and the gradient
clipped so that one unlucky batch cannot throw the small network off course. We wrap it in a function because
we will train four autoencoders with it, with the same data, steps and seed for each.
""")

code(r"""
def train_autoencoder(latent_channels, steps=STEPS, report_every=None):
    seed_everything(SEED)  # the same starting weights and batches for every bottleneck size
    model = Autoencoder(latent_channels).to(DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(warmup=steps // 10, total=steps, floor=0.05))
    gen = torch.Generator().manual_seed(SEED)
    losses = []
    t0 = time.perf_counter()
    for step in range(steps):
        x = train_x[torch.randint(len(train_x), (BATCH,), generator=gen)].to(DEVICE)
        loss = F.mse_loss(model(x), x)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if report_every and (step + 1) % report_every == 0:
            print(f"step {step + 1:5d}: loss {sum(losses[-100:]) / len(losses[-100:]):.4f} "
                  f"({time.perf_counter() - t0:.0f} s)")
    return model.eval(), losses


@torch.no_grad()
def reconstruct(model, x):
    return model(x.to(DEVICE)).cpu().clamp(-1, 1)


model, losses = train_autoencoder(latent_channels=4, report_every=STEPS // 5)
""")

code(r"""
window = max(1, STEPS // 50)
smooth = torch.tensor(losses).unfold(0, window, window).mean(dim=1)
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(losses, alpha=0.3, label="each step")
ax.plot(torch.arange(len(smooth)) * window + window / 2, smooth, label=f"mean of {window} steps")
ax.set_xlabel("training step")
ax.set_ylabel("MSE, output against input")
ax.set_yscale("log")
ax.legend()
ax.grid(alpha=0.3)
plt.show()

tenth = STEPS // 10
first, last = sum(losses[:tenth]) / tenth, sum(losses[-tenth:]) / tenth
print(f"mean loss over the first 10% of steps {first:.4f}, over the last 10% {last:.4f}")
assert last < 0.2 * first, "the loss should fall to a small fraction of its starting level"
""")

md(r"""
## Reconstructions, and what they are worth

Encode the held-out pictures to 8×8×4, decode them, and look. To put a number on "close", we use the **PSNR**
(peak signal-to-noise ratio), `judge.psnr`: $10 \log_{10}(1/\text{MSE})$ in decibels, with pixel values on the
0..1 scale. Higher is better; each +10 dB is a tenfold smaller squared error; around 20 dB looks visibly soft,
past 30 dB it is hard to tell from the original.

A number needs something to compare with. Two baselines that learn nothing:

- the **mean picture** of the training set, the same guess for every picture (0 numbers per picture);
- **shrink and enlarge**: average the picture down to a small grid, then blow it back up to 64×64 (bicubic).
  Shrunk to 9×9×3 it keeps 243 numbers, a little *fewer* than our latent's 256, and shrunk to 8×8×3, the
  latent's own grid, 192.
""")

code(r"""
def shrink_and_enlarge(x, side):
    small = F.interpolate(x, size=(side, side), mode="area")  # each small pixel: the mean of a block
    return F.interpolate(small, size=x.shape[-2:], mode="bicubic").clamp(-1, 1)


rec = reconstruct(model, test_x)
mean_picture = train_x.mean(dim=0, keepdim=True).expand_as(test_x)
resized = {side: shrink_and_enlarge(test_x, side) for side in (8, 9)}
psnr_mean = judge.psnr(mean_picture, test_x)
psnr_resized = {side: judge.psnr(resized[side], test_x) for side in resized}
psnr_ours = judge.psnr(rec, test_x)
print(f"{'mean picture (0 numbers)':46}{psnr_mean:6.2f} dB")
for side, db in psnr_resized.items():
    print(f"{f'shrink to {side}×{side}×3 and enlarge ({3 * side * side} numbers)':46}{db:6.2f} dB")
print(f"{'our autoencoder, 8×8×4 latent (256 numbers)':46}{psnr_ours:6.2f} dB")

n = 8
show([shapes.to_image(t) for batch in (test_x, resized[9], rec) for t in batch[:n]],
     titles=["original"] * n + ["shrunk to 9×9, enlarged"] * n + ["autoencoder, 8×8×4"] * n, cols=n, scale=1.6)
""")

md(r"""
Shrinking and enlarging keeps the colours but smears every edge; the autoencoder, with about the same number
of numbers, keeps edges and corners much sharper (and adds a faint texture of its own). It *learned* where to
spend its 256 numbers: not on a regular grid of colour samples, but on what these pictures are made of. The
check, with margins that hold for the short quick-mode run too:
""")

code(r"""
print(f"autoencoder {psnr_ours:.2f} dB: {psnr_ours - psnr_resized[9]:+.2f} dB over shrinking to 9×9 and "
      f"enlarging, {psnr_ours - psnr_mean:+.2f} dB over the mean picture")
assert psnr_ours > psnr_mean + 10, "the autoencoder should beat the mean picture by far"
assert psnr_ours > psnr_resized[9] + (0.5 if QUICK else 1.5), "it should beat resizing to fewer numbers, by a margin"
""")

md(r"""
What is *in* the latent? Here are the four 8×8 channels of the first picture's latent, each stretched from black
(its lowest value) to white (its highest). They are not a small copy of the picture: the encoder is free to
spread "what colour, which shape, where" over the channels however it likes, and only the decoder knows how to
read them. Keep this picture in mind for lesson 04: Stable Diffusion's UNet never sees pixels, only grids like
these.
""")

code(r"""
with torch.no_grad():
    z = model.encoder(test_x[:1].to(DEVICE))[0].cpu()
channels = [(c - c.min()) / (c.max() - c.min() + 1e-8) for c in z]
show([shapes.to_image(test_x[0])] + channels + [shapes.to_image(rec[0])],
     titles=["original"] + [f"latent channel {i}" for i in range(len(z))] + ["decoded"], cols=len(z) + 2, scale=2)
""")

md(r"""
## Does the reconstruction keep the shape?

PSNR counts pixels. What we care about is whether the *scene* survives: the same shape, colour, background and
size. `judge.accuracy` reads every picture back into those attributes and compares them with the true scenes.
Reading the originals tells us how good the judge itself is; reading the reconstructions, how much the
autoencoder loses.
""")

code(r"""
acc_original = judge.accuracy(test_x, test_scenes)
acc_rec = judge.accuracy(rec, test_scenes)
acc_resized = judge.accuracy(resized[9], test_scenes)
COLUMNS = ("shape", "colour", "background", "size", "all")
print(f"{'judge reads right':28}" + "".join(f"{k:>11}" for k in COLUMNS))
rows = {"originals": acc_original, "autoencoder, 8×8×4": acc_rec, "shrunk to 9×9, enlarged": acc_resized}
for name, acc in rows.items():
    print(f"{name:28}" + "".join(f"{acc[k]:>11.2f}" for k in COLUMNS))

verdicts = judge.judge_many(rec)
for size in shapes.SIZES:
    kept = [v.shape == s.shape for v, s in zip(verdicts, test_scenes, strict=True) if s.size == size]
    print(f"shape read right on the reconstructions of {size} shapes: {sum(kept) / len(kept):.2f} "
          f"({len(kept)} pictures)")
""")

md(r"""
Colours and backgrounds come through 48× compression untouched; the shape is what suffers, and small shapes
most, because their corners and points are only a few pixels across. Plain resizing to 9×9 keeps the colours
just as well, but loses many more shapes: blur a star enough and it reads as a blob. Here are reconstructions
whose shape the judge could not read back, each next to its original, with what the judge saw (`≈` its nearest
guess, when it would not commit):
""")

code(r"""
lost = [i for i, (v, s) in enumerate(zip(verdicts, test_scenes, strict=True)) if v.shape != s.shape][:4]
if lost:
    show([shapes.to_image(t) for i in lost for t in (test_x[i], rec[i])],
         titles=[t for i in lost for t in (f"{test_scenes[i].size} {test_scenes[i].shape}",
                                          f"read: {verdicts[i].shape} (≈ {verdicts[i].nearest})")],
         cols=2 * len(lost), scale=1.6)
else:
    print("the judge read every reconstructed shape right")
""")

md(r"""
This is the most important measurement of the lesson. A diffusion model trained on these latents learns to
produce latents *like the encoder's*, and every picture it makes goes through this same decoder. So the
decoder's reconstructions of perfect latents are the best pictures the whole system can ever produce: **the
autoencoder is the ceiling for generation quality.** If it turns small stars into blobs, no amount of diffusion
training will draw a crisp small star. (The course's mini model had its VAE measured this way before any UNet
time was spent on it; lesson 04 measures its round trips.)
""")

code(r"""
print(f"judge on the originals: all attributes right {acc_original['all']:.2f}; on the reconstructions: "
      f"shape {acc_rec['shape']:.2f}, colour {acc_rec['colour']:.2f}, background {acc_rec['background']:.2f}")
assert acc_original["all"] >= 0.95, "the judge should read clean renders almost perfectly"
assert acc_rec["colour"] >= 0.95 and acc_rec["background"] >= 0.95, "colours should survive 48× compression"
assert acc_rec["shape"] >= (0.5 if QUICK else 0.8), "most shapes should survive too"
""")

md(r"""
## How much bottleneck is enough?

Keep the 8×8 grid and change only the number of latent channels: 1, 2, 4 or 8, that is 64 to 512 numbers, a
compression of 192× down to 24×. Every autoencoder gets the same training; the 4-channel one is the model above
(the same function, data, steps and seed would train it again identically).
""")

code(r"""
t0 = time.perf_counter()
sweep = {4: rec}
for channels in BOTTLENECKS:
    if channels not in sweep:
        sweep[channels] = reconstruct(train_autoencoder(channels)[0], test_x)
print(f"{len(sweep) - 1} more autoencoders trained in {time.perf_counter() - t0:.0f} s\n")

sweep_psnr = {c: judge.psnr(sweep[c], test_x) for c in BOTTLENECKS}
sweep_acc = {c: judge.accuracy(sweep[c], test_scenes) for c in BOTTLENECKS}
print(f"{'latent':10}{'numbers':>8}{'ratio':>8}{'PSNR dB':>9}{'shape':>7}{'small shapes':>14}")
small = [i for i, s in enumerate(test_scenes) if s.size == "small"]
for c in BOTTLENECKS:
    small_acc = judge.accuracy(sweep[c][small], [test_scenes[i] for i in small])
    print(f"8×8×{c:<6}{64 * c:>8}{n_picture / (64 * c):>7.0f}×{sweep_psnr[c]:>9.2f}{sweep_acc[c]['shape']:>7.2f}"
          f"{small_acc['shape']:>14.2f}")

rows = [0, 3, 5]  # a few held-out pictures, one per row
cols = len(BOTTLENECKS) + 1
show([shapes.to_image(t) for i in rows for t in [test_x[i]] + [sweep[c][i] for c in BOTTLENECKS]],
     titles=["original"] + [f"8×8×{c} = {64 * c} numbers" for c in BOTTLENECKS] + [""] * (len(rows) - 1) * cols,
     cols=cols, scale=1.8)
""")

md(r"""
The plot puts each bottleneck's PSNR against the number of numbers it keeps, next to shrink-and-enlarge at
every grid from 4×4 to 16×16: the same question, "how much do you keep, and how close do you come back?", for a
learned code and for plain resizing.
""")

code(r"""
sides = range(4, 17)
resize_numbers = [3 * s * s for s in sides]
resize_psnr = [judge.psnr(shrink_and_enlarge(test_x, s), test_x) for s in sides]

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot([64 * c for c in BOTTLENECKS], [sweep_psnr[c] for c in BOTTLENECKS], "o-", label="autoencoder, 8×8×c latent")
ax.plot(resize_numbers, resize_psnr, "s--", alpha=0.7, label="shrink to s×s×3 and enlarge")
for c in BOTTLENECKS:
    ax.annotate(f"c={c}", (64 * c, sweep_psnr[c]), textcoords="offset points", xytext=(-8, 7))
ax.set_xscale("log", base=2)
ax.set_xlabel("numbers kept per picture (log scale)")
ax.set_ylabel("held-out PSNR, dB (higher is better)")
ax.set_title("Reconstruction error against bottleneck size")
ax.legend()
ax.grid(alpha=0.3)
plt.show()
""")

md(r"""
More room in the bottleneck, less error, and more shapes kept; and the learned code sits above plain resizing
that keeps as many numbers. Each doubling gains less than the one before: diminishing returns. The checks: PSNR
rises at every step of the sweep (a step may be flat within 0.3 dB in the short quick-mode run), and from the
smallest to the largest bottleneck by a clear margin; the judge reads more shapes right with 8 channels than
with 1.
""")

code(r"""
gains = [sweep_psnr[b] - sweep_psnr[a] for a, b in zip(BOTTLENECKS[:-1], BOTTLENECKS[1:], strict=True)]
print("PSNR gained at each doubling of the bottleneck:", ", ".join(f"{g:+.2f} dB" for g in gains))
smallest, largest = BOTTLENECKS[0], BOTTLENECKS[-1]
assert all(g > (-0.3 if QUICK else 0) for g in gains), "a larger bottleneck should not reconstruct worse"
assert sweep_psnr[largest] > sweep_psnr[smallest] + (2 if QUICK else 3), "8 channels should beat 1 clearly"
assert sweep_acc[largest]["shape"] > sweep_acc[smallest]["shape"] + 0.1, "more room should keep more shapes"
""")

md(r"""
So why not simply use a big bottleneck? Because the diffusion model has to generate every number in it, at
every one of its steps. (Newer models did widen it: Stable Diffusion 3 and FLUX use 16 latent channels at the
same 8× per side, for finer detail such as small lettering, and pay for it with a bigger denoising network.)

## Why Stable Diffusion works in a compressed space

Stable Diffusion 1.x makes 512×512 RGB pictures:

- pixels: 512 × 512 × 3 = **786,432** numbers per picture;
- its VAE's latents: 64 × 64 × 4 = **16,384** numbers, **48× fewer**.

The UNet runs once per denoising step, twice with classifier-free guidance (lesson 06), for 20 to 50 steps: its
cost is paid 40 to 100 times per picture. A convolution's cost grows with the number of positions it visits, so
going from a 64×64 grid to 512×512 multiplies it by 64; self-attention compares every position with every
other one, so its cost grows with the *square* of that, 64² = 4,096×.

We can measure this without a GPU and without downloading anything: build Stable Diffusion 1.x's UNet
architecture (diffusers' `UNet2DConditionModel` defaults, with CLIP's 768-wide text features) on PyTorch's
`meta` device, which records shapes but holds no weights and computes nothing, and let `FlopCounterMode` count
the floating-point operations of one pass: once on a 64×64×4 latent, once as if the same network ran directly
on 512×512×3 pixels.
""")

code(r"""
from diffusers import UNet2DConditionModel
from torch.utils.flop_counter import FlopCounterMode


def unet_pass_tflop(channels, side):
    with torch.device("meta"):  # shapes only: no weights in memory, nothing computed
        unet = UNet2DConditionModel(in_channels=channels, out_channels=channels, cross_attention_dim=768)
        sample, text = torch.empty(1, channels, side, side), torch.empty(1, 77, 768)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        unet(sample, 500, encoder_hidden_states=text)
    convolutions = sum(n for op, n in counter.get_flop_counts()["Global"].items() if "convolution" in str(op))
    return counter.get_total_flops() / 1e12, convolutions / 1e12, sum(p.numel() for p in unet.parameters())


latent_tf, latent_conv, n_params = unet_pass_tflop(4, 64)
pixel_tf, pixel_conv, _ = unet_pass_tflop(3, 512)
print(f"Stable Diffusion 1.x's UNet, {n_params / 1e6:.0f} M parameters; one pass, in TFLOP (10^12 operations):")
print(f"{'':24}{'total':>9}{'convolutions':>14}{'the rest (attention blocks)':>30}")
for name, total, conv in (("on a 64×64×4 latent", latent_tf, latent_conv),
                          ("on 512×512×3 pixels", pixel_tf, pixel_conv)):
    print(f"{name:24}{total:>9.2f}{conv:>14.2f}{total - conv:>30.2f}")
print(f"pixels cost {pixel_tf / latent_tf:.0f}× more per pass (convolutions {pixel_conv / latent_conv:.0f}×, "
      f"the rest {(pixel_tf - pixel_conv) / (latent_tf - latent_conv):.0f}×); 50 steps with guidance, 100 passes: "
      f"{100 * latent_tf:.0f} TFLOP on latents, {100 * pixel_tf:,.0f} TFLOP on pixels")
assert 60 < pixel_conv / latent_conv < 66, "convolutions should cost about 64× more on 64× more positions"
assert pixel_tf / latent_tf > 48
""")

md(r"""
Working on latents makes each UNet pass hundreds of times cheaper: the convolutions 64×, as the arithmetic
said, and attention far more. On pixels, self-attention would compare each of 262,144 pixels with every other
one: 262,144² ≈ 69 billion scores per attention head, in every attention layer at full resolution. The price of
the latent space is paid only twice per picture, one encode (for img2img and for training; text-to-image starts
from noise and skips it) and one decode at the end, plus the ceiling on quality we measured above.

The course's mini model does the same at toy scale: 64×64×3 pictures (12,288 numbers) become 8×8×4 latents (256
numbers), the same 48× and the same factor of 8 per side as our autoencoder. Its VAE is a larger trained
autoencoder like ours, with two extras: a small KL penalty that keeps its latents well-behaved (the
"variational" in *variational autoencoder*), and a scaling factor, which lesson 04 explains.
""")

code(r"""
# The lesson's thumbnail (written in full mode only, so `make test` leaves the committed picture alone).
from pathlib import Path

from matplotlib.figure import Figure

images_dir = Path.cwd().parent / "images"
if not QUICK and images_dir.is_dir():
    thumb_rows = [0, 3, 5]
    cols = len(BOTTLENECKS) + 1
    thumb = Figure(figsize=(1.6 * cols, 1.65 * len(thumb_rows) + 0.5))
    tiles = [(test_x[i], "original") if c is None else (sweep[c][i], f"8×8×{c} latent")
             for i in thumb_rows for c in (None,) + BOTTLENECKS]
    for k, (ax, (tile, title)) in enumerate(zip(thumb.subplots(len(thumb_rows), cols).flat, tiles, strict=True)):
        ax.imshow(shapes.to_image(tile), interpolation="nearest")
        if k < cols:  # column titles on the top row only
            ax.set_title(title, fontsize=10)
        ax.axis("off")
    thumb.suptitle("An autoencoder's reconstructions, from 1 to 8 latent channels")
    thumb.tight_layout()
    thumb.savefig(images_dir / "03_autoencoders.png", dpi=80)
""")

md(r"""
## Exercises

1. **Checkerboards.** Change the decoder's transposed convolutions to `kernel_size=3, padding=1,
   output_padding=1` (the output is still twice the size). Train, and look closely at the flat backgrounds of
   the reconstructions. Then replace each transposed convolution by `nn.Upsample(scale_factor=2)` followed by
   `nn.Conv2d(c_in, c_out, 3, padding=1)`, as Stable Diffusion's VAE does. Which one trains fastest on the CPU?
2. **Same numbers, other shape.** 8×8×4 and 16×16×1 both hold 256 numbers. Build an encoder with only two
   stride-2 convolutions and a 1-channel bottleneck (and a decoder to match). Which one keeps small shapes
   better, by the judge?
3. **Train longer.** Double `STEPS` for the 4-channel model. How far does the PSNR move, and how many of the
   lost shapes come back? Is the limit the bottleneck or the training?
4. **Between two latents.** Encode two different pictures, mix their latents (`0.5 * z1 + 0.5 * z2`) and decode
   with `model.decoder`. Is the result a sensible picture? Lesson 04's VAE is trained so that nearby latents
   decode to sensible pictures, something a plain autoencoder never promised.

## Recap

- An **encoder** of stride-2 convolutions halves height and width at each layer; a **decoder** of transposed
  convolutions (or upsampling + convolution) doubles them back. Kernel 4 with stride 2 avoids the checkerboard.
- Our autoencoder squeezes 64×64×3 = 12,288 numbers into 8×8×4 = 256, **48×** fewer: Stable Diffusion's ratio
  (512×512×3 → 64×64×4).
- Training is only "output = input" with an MSE loss. The learned code beats the mean picture and plain resizing
  to about as many numbers (we measured the PSNR of each); colours survive untouched; small shapes are what gets
  lost.
- **More bottleneck, less error**, measured over four sizes; but every number in the bottleneck is one the
  diffusion model must generate, at every step.
- The autoencoder's reconstructions are the **ceiling** for what a diffusion model on top of it can draw.
- Working on latents makes each pass of Stable Diffusion's UNet hundreds of times cheaper than on pixels.

Next, lesson 04 opens the pipeline's own VAE, diffusers' `AutoencoderKL`: encoding pictures, looking at their
latents, decoding them, and why the pipeline scales every latent before the UNet sees it.
""")

nb = new_notebook(cells=cells)
nb.metadata = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}
nbformat.validate(nb)
nbformat.write(nb, sys.argv[1])
print("wrote", sys.argv[1])
