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

In lesson 02 you trained a network to predict the noise in small images. Every step of that network
touches every pixel, and at 512×512 pixels that gets expensive very fast. Stable Diffusion's way out is to
**compress first**: an *autoencoder* squeezes each image into a much smaller grid of numbers, the *latent*,
and the diffusion model works on latents instead of pixels. In this lesson you will build and train a small
convolutional autoencoder on the shapes world, watch the shapes change layer by layer (stride-2
convolutions going down, upsampling coming back up), measure how much it compresses and what it loses, and
see with `judge` that whatever the autoencoder cannot reconstruct, no diffusion model on top of it can ever
draw. Lesson 04 then opens the real pipeline's VAE and its latents.
""")

code(r"""
import importlib.util, subprocess, sys
if importlib.util.find_spec("course_utils") is None:  # Colab or a fresh environment: install the course package
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/sd-course/stable-diffusion-course"], check=True)
from course_utils import runtime
runtime.describe();
""")

md(r"""
## Settings

Quick mode (`COURSE_QUICK=1`, what `make test` uses) trains each autoencoder for fewer steps on fewer
images, so the numbers are a little worse; the checks below allow for that. The files this notebook
writes go to `outputs/03_autoencoders/`.
""")

code(r"""
from pathlib import Path

import torch
from torch import nn

from course_utils import display, judge, seeds, shapes, training

QUICK = runtime.quick_mode()
OUT = Path("outputs/03_autoencoders")
OUT.mkdir(parents=True, exist_ok=True)
SEED = seeds.seed_everything(0)

N_TRAIN = @N_TRAIN@           # training images
N_TEST = @N_TEST@             # held-out images (other scenes) that every measurement uses
STEPS = @STEPS@               # optimisation steps per autoencoder
BATCH = @BATCH@
LR = @LR@
BOTTLENECKS = (1, 2, 4, 8)   # latent channels at 8×8 for the bottleneck sweep
print(f"quick={QUICK}: {N_TRAIN} training images, {STEPS} steps of {BATCH} per autoencoder")
""")

md(r"""
## The data: the shapes world as tensors

`shapes.ShapesDataset` draws seeded 64×64 scenes and gives each as a tensor of shape (3, 64, 64) with
values in [-1, 1], the range Stable Diffusion's VAE expects. We stack them into one tensor (a few
thousand small images fit easily in memory), and keep a held-out set drawn from another seed: we always
measure on images the autoencoder never trained on.
""")

code(r"""
train_set = shapes.ShapesDataset(N_TRAIN, seed=0)
test_set = shapes.ShapesDataset(N_TEST, seed=1)
train_x = torch.stack([train_set[i][0] for i in range(len(train_set))])
test_x = torch.stack([test_set[i][0] for i in range(len(test_set))])
test_scenes = test_set.scenes
print("training images:", tuple(train_x.shape), " held-out images:", tuple(test_x.shape))
print(f"values from {train_x.min():.0f} to {train_x.max():.0f}")
display.show([shapes.to_image(t) for t in test_x[:8]], cols=8, scale=1.6,
             titles=[f"{s.size} {s.colour} {s.shape}" for s in test_scenes[:8]]);
""")

md(r"""
## Going down: a stride-2 convolution halves the picture

A convolution slides a small kernel over the image. With **stride 2** it takes every second position, so
the output is half as tall and half as wide. The size follows from one formula:

out = ⌊(in + 2·padding − kernel) / stride⌋ + 1 = ⌊(64 + 2 − 4) / 2⌋ + 1 = 32.

The number of *channels* is ours to choose: here 3 colours in, 16 feature maps out. Three such layers take
64×64 down to 8×8, the factor of 8 per side that Stable Diffusion's VAE uses too.
""")

code(r"""
down = nn.Conv2d(3, 16, kernel_size=4, stride=2, padding=1)
x = test_x[:1]                       # a batch of one image
h = down(x)
print("image              ", tuple(x.shape))
print("after stride-2 conv", tuple(h.shape))
""")

md(r"""
## Coming back up: transposed convolution or upsampling

The decoder has to undo that: make the picture twice as large per step. Two common ways:

- A **transposed convolution** (`nn.ConvTranspose2d`) spreads each input value over a kernel-sized patch
  of the output, stepping 2 pixels at a time: out = (in − 1)·stride − 2·padding + kernel = 31·2 − 2 + 4 = 64.
- **Upsampling then convolving**: repeat every value in a 2×2 block (`nn.Upsample`, nearest neighbour),
  then an ordinary 3×3 convolution with padding 1, which keeps the size. Stable Diffusion's VAE decoder
  does this.
""")

code(r"""
up_transposed = nn.ConvTranspose2d(16, 3, kernel_size=4, stride=2, padding=1)
up_nearest = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(16, 3, 3, padding=1))
print("stride-2 conv output ", tuple(h.shape))
print("transposed conv      ", tuple(up_transposed(h).shape))
print("upsample + 3×3 conv  ", tuple(up_nearest(h).shape))
""")

md(r"""
Why prefer upsampling? When the kernel size is not a multiple of the stride, the patches a transposed
convolution spreads overlap unevenly: some output pixels receive two or four contributions, their
neighbours one. Feed a 3×3 transposed convolution whose weights are all 1 an input of all 1s and the
unevenness shows directly, as a checkerboard that a network must then learn to cancel (it often
doesn't quite, and the artefact shows in generated images). With kernel 4 and stride 2 the overlap is even
inside the picture; upsampling then convolving avoids the problem by construction.
""")

code(r"""
ones = torch.ones(1, 1, 4, 4)
for kernel in (3, 4):
    spread = nn.ConvTranspose2d(1, 1, kernel_size=kernel, stride=2, padding=1, bias=False)
    nn.init.ones_(spread.weight)
    print(f"kernel {kernel}, stride 2: output {tuple(spread(ones).shape[2:])}")
    print(spread(ones)[0, 0].detach().int(), "\n")
""")

md(r"""
## The autoencoder

The **encoder** is three stride-2 convolutions (64 → 32 → 16 → 8) that widen the channels as the picture
shrinks, and a final 1×1 convolution that squeezes the channels down to the *bottleneck*: at 8×8 with 4
channels, just like Stable Diffusion's latents (with one small difference: its bottleneck is 64×64×4 for
512×512 images). The **decoder** mirrors it: three rounds of "upsample ×2, then 3×3 convolution", and a
last convolution back to 3 colour channels. SiLU activations sit between the layers. The class is
defined here because it is this lesson's subject; lesson 04 uses the real one.
""")

code(r"""
def conv(c_in, c_out, kernel=3, stride=1):
    return nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=1, padding_mode="replicate")


class ConvAutoencoder(nn.Module):
    # 64×64×3 image -> 8×8×latent_channels latent -> 64×64×3 image
    def __init__(self, latent_channels=4, width=@WIDTH@):
        super().__init__()
        w = width
        self.encoder = nn.Sequential(
            conv(3, w), nn.SiLU(),                                  # 64×64: look at the pixels
            conv(w, w, 4, stride=2), nn.SiLU(),                     # -> 32×32
            conv(w, 2 * w, 4, stride=2), nn.SiLU(),                 # -> 16×16
            conv(2 * w, 4 * w, 4, stride=2), nn.SiLU(),             # -> 8×8
            nn.Conv2d(4 * w, latent_channels, 1),                   # the bottleneck: 8×8×latent_channels
        )
        self.decoder = nn.Sequential(
            conv(latent_channels, 4 * w), nn.SiLU(),                # 8×8
            nn.Upsample(scale_factor=2), conv(4 * w, 2 * w), nn.SiLU(),  # -> 16×16
            nn.Upsample(scale_factor=2), conv(2 * w, w), nn.SiLU(),      # -> 32×32
            nn.Upsample(scale_factor=2), conv(w, w), nn.SiLU(),          # -> 64×64
            conv(w, 3),                                             # back to 3 colour channels
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))
""")

md(r"""
Walk one image through the untrained network and print what every layer hands on (activations are
left out: they don't change the shape). Watch height and width fall by 2 at each stride-2 convolution and
rise by 2 at each upsampling, while the channels do the opposite.
""")

code(r"""
model = ConvAutoencoder(latent_channels=4)
x = test_x[:1]
print(f"{'':<9}{'layer':<34}{'output shape':<18}{'numbers':>8}")
print(f"{'':<9}{'input':<34}{str(tuple(x.shape)):<18}{x.numel():>8,}")
for part, layers in (("encoder", model.encoder), ("decoder", model.decoder)):
    for layer in layers:
        x = layer(x)
        if isinstance(layer, nn.Conv2d):
            k, s = layer.kernel_size[0], layer.stride[0]
            name = f"Conv2d {layer.in_channels}→{layer.out_channels}, {k}×{k}, stride {s}"
        elif isinstance(layer, nn.Upsample):
            name = "Upsample ×2 (nearest)"
        else:
            continue  # SiLU: same shape
        print(f"{part:<9}{name:<34}{str(tuple(x.shape)):<18}{x.numel():>8,}")
print(f"\n{sum(p.numel() for p in model.parameters()):,} parameters")
""")

md(r"""
## How much does it compress?

The compression ratio is the count of numbers going in over the count of numbers at the bottleneck.
""")

code(r"""
latent = model.encoder(test_x[:1])
n_image, n_latent = test_x[0].numel(), latent[0].numel()
ratio = n_image / n_latent
print(f"image : {tuple(test_x.shape[1:])} = {n_image:,} numbers")
print(f"latent: {tuple(latent.shape[1:])} = {n_latent:,} numbers")
print(f"compression ratio: {ratio:.0f}×")
assert ratio == 48, ratio
""")

md(r"""
48×, the same ratio as Stable Diffusion's VAE (512×512×3 → 64×64×4). An untrained decoder turns the
latent into noise-coloured mush, of course. Training fixes that with the simplest possible objective:
make the output equal to the input, measured by the mean squared error (MSE) between them. Nothing
else tells the encoder what to keep: it has to discover that "which colour, which shape, where" is what
matters, because that is what reconstructs the most pixels.
""")

md(r"""
## Training

One function trains an autoencoder with a given bottleneck; we will reuse it for the sweep below, so every
model gets the same data, steps and seed. Adam, with the course's learning-rate schedule
(`training.lr_lambda`: a short warm-up, then cosine decay), and the gradient clipped so that one unlucky
batch cannot throw the small network off course.
""")

code(r"""
def train_autoencoder(latent_channels, steps=STEPS, seed=SEED):
    seeds.seed_everything(seed)
    model = ConvAutoencoder(latent_channels)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, training.lr_lambda(steps // 10, steps, floor=0.05))
    batches = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        x = train_x[torch.randint(len(train_x), (BATCH,), generator=batches)]
        loss = nn.functional.mse_loss(model(x), x)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # no single huge step can wreck the small network
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return model.eval(), losses


@torch.no_grad()
def reconstruct(model, x):
    return model(x).clamp(-1, 1)


def psnr(a, b):
    # peak signal-to-noise ratio in dB on the usual 0..1 scale (the [-1, 1] range is twice as wide: /4)
    mse = ((a - b) ** 2).mean(dim=(1, 2, 3)) / 4
    return (10 * torch.log10(1 / mse)).mean().item()
""")

code(r"""
model, losses = train_autoencoder(latent_channels=4)
smooth = [sum(losses[max(0, i - 19):i + 1]) / len(losses[max(0, i - 19):i + 1]) for i in range(len(losses))]
fig = display.plot(range(1, len(losses) + 1), {"training loss (MSE, running mean of 20)": smooth},
                   xlabel="step", ylabel="MSE on [-1, 1] images", title="Training the 8×8×4 autoencoder")
fig.savefig(OUT / "loss.png")
print(f"MSE: first 20 steps {sum(losses[:20]) / 20:.4f}, last 20 steps {sum(losses[-20:]) / 20:.4f}")
""")

md(r"""
## Reconstructions

Encode the held-out images to 8×8×4, decode them, and look: originals on top, reconstructions below.
PSNR (peak signal-to-noise ratio) turns the MSE into decibels: about 20 dB is visibly soft, 30 dB is hard
to tell from the original. Each +10 dB is a tenfold smaller error.
""")

code(r"""
rec = reconstruct(model, test_x)
PSNR_4 = psnr(rec, test_x)
print(f"held-out PSNR with an 8×8×4 bottleneck: {PSNR_4:.2f} dB")
fig = display.show([shapes.to_image(t) for t in test_x[:8]] + [shapes.to_image(t) for t in rec[:8]], cols=8,
                   scale=1.6, suptitle="top: originals · bottom: reconstructions from 8×8×4 = 256 numbers")
fig.savefig(OUT / "reconstructions.png")
assert PSNR_4 > @PSNR_MIN@, f"PSNR {PSNR_4:.2f} dB: the autoencoder did not learn to reconstruct"
""")

md(r"""
What is *in* the latent? Here are its four 8×8 channels for the first image, each stretched to black–white.
They are not a small copy of the picture: the encoder is free to spread "what colour, what shape, where"
over the channels however it likes, and only the decoder knows how to read them. That is the point to
carry into lesson 04: the diffusion model never sees pixels, only grids like these.
""")

code(r"""
with torch.no_grad():
    z = model.encoder(test_x[:1])[0]
channels = [(c - c.min()) / (c.max() - c.min() + 1e-8) for c in z]
fig = display.show([shapes.to_image(test_x[0])] + channels + [shapes.to_image(rec[0])], cols=6, scale=1.8,
                   titles=["original"] + [f"latent channel {i}" for i in range(4)] + ["decoded"])
fig.savefig(OUT / "latent.png")
""")

md(r"""
## Does the reconstruction keep the shape and the colours?

PSNR counts pixels. What we care about is whether the *scene* survives: the same shape, colour,
background and size. `judge` reads an image back into those attributes, and `judge.accuracy` compares them
with the true scenes. The originals tell us how good the judge itself is; the reconstructions, how much
the autoencoder loses.
""")

code(r"""
acc_original = judge.accuracy(test_x, test_scenes)
acc_rec = judge.accuracy(rec, test_scenes)
print(f"{'':<18}" + "".join(f"{k:>11}" for k in acc_rec))
print(f"{'originals':<18}" + "".join(f"{v:>11.2f}" for v in acc_original.values()))
print(f"{'reconstructions':<18}" + "".join(f"{v:>11.2f}" for v in acc_rec.values()))
for size in shapes.SIZES:
    idx = [i for i, s in enumerate(test_scenes) if s.size == size]
    kept = judge.accuracy(rec[idx], [test_scenes[i] for i in idx])["shape"]
    print(f"shape kept for {size} shapes: {kept:.2f} ({len(idx)} images)")
""")

md(r"""
The colours and backgrounds come through almost always; the shape is what suffers, and small shapes
most. Here are some reconstructions whose shape the judge could not read back, with what it saw:
""")

code(r"""
verdicts = judge.judge_many(rec)
lost = [i for i, (v, s) in enumerate(zip(verdicts, test_scenes)) if v.shape != s.shape][:6]
pairs = [im for i in lost for im in (shapes.to_image(test_x[i]), shapes.to_image(rec[i]))]
titles = [t for i in lost for t in (f"{test_scenes[i].size} {test_scenes[i].shape}",
                                    f"read: {verdicts[i].shape} (≈{verdicts[i].nearest})")]
if pairs:
    fig = display.show(pairs, titles=titles, cols=6, scale=1.8)
    fig.savefig(OUT / "lost_shapes.png")
""")

md(r"""
This is the most important measurement of the lesson. A diffusion model trained on these latents learns
to produce latents *like the encoder's*, and every image it makes goes through this same decoder. So the
decoder's reconstructions of perfect latents are the best images the whole system can ever produce: **the
autoencoder is the ceiling for generation quality.** If it turns small stars into blobs, no amount of
diffusion training will draw a crisp small star. (The bundled mini model's VAE was measured the same way
before any UNet time was spent on it.)
""")

code(r"""
print(f"judge on originals: all attributes right {acc_original['all']:.2f}, shape {acc_original['shape']:.2f}")
print(f"judge on reconstructions: all {acc_rec['all']:.2f}, shape {acc_rec['shape']:.2f}, "
      f"colour {acc_rec['colour']:.2f}, background {acc_rec['background']:.2f}")
assert acc_original["all"] >= 0.95, "the judge should read clean renders almost perfectly"
assert acc_rec["colour"] >= @COLOUR_MIN@ and acc_rec["background"] >= @BACKGROUND_MIN@, "colours should survive 48× compression"
assert acc_rec["shape"] >= @SHAPE_MIN@, "most shapes should survive too"
assert acc_rec["all"] <= acc_original["all"], "the reconstruction cannot be judged better than the original"
""")

md(r"""
## How much bottleneck is enough?

Keep the 8×8 grid and change only the number of latent channels: 1, 2, 4 or 8, that is 64 to 512 numbers
(compression from 192× down to 24×). Every model gets the same training; the 4-channel one is the model
above (the same function, data, steps and seed would train it again identically).
""")

code(r"""
sweep = {4: (PSNR_4, acc_rec)}
for channels in BOTTLENECKS:
    if channels not in sweep:
        sweep_model, _ = train_autoencoder(channels)
        sweep_rec = reconstruct(sweep_model, test_x)
        sweep[channels] = (psnr(sweep_rec, test_x), judge.accuracy(sweep_rec, test_scenes))
print(f"{'bottleneck':<12}{'numbers':>8}{'ratio':>8}{'PSNR dB':>9}{'shape':>7}{'colour':>7}{'all':>6}")
for c in BOTTLENECKS:
    p, a = sweep[c]
    print(f"8×8×{c:<8}{64 * c:>8}{n_image / (64 * c):>7.0f}×{p:>9.2f}{a['shape']:>7.2f}{a['colour']:>7.2f}{a['all']:>6.2f}")
""")

code(r"""
fig = display.plot(BOTTLENECKS, [sweep[c][0] for c in BOTTLENECKS], xlabel="latent channels at 8×8 (×64 numbers)",
                   ylabel="held-out PSNR, dB (higher is better)", title="Reconstruction error against bottleneck size")
fig.savefig(OUT / "psnr_vs_bottleneck.png")
""")

md(r"""
More room in the bottleneck, lower error. The curve is measured after a short training run, so it is a
little noisy from one size to the next; the robust claim, checked below, is that the largest bottleneck
beats the smallest by a clear margin.
""")

code(r"""
smallest, largest = min(BOTTLENECKS), max(BOTTLENECKS)
gain = sweep[largest][0] - sweep[smallest][0]
print(f"PSNR 8×8×{largest}: {sweep[largest][0]:.2f} dB, 8×8×{smallest}: {sweep[smallest][0]:.2f} dB, gain {gain:+.2f} dB")
assert gain >= @GAIN_MIN@, "a larger bottleneck should reconstruct clearly better"
""")

md(r"""
So why not a big bottleneck? Because the diffusion model pays for every number in it, at every step.

## Why Stable Diffusion works in a compressed space

Stable Diffusion 1.x generates 512×512 RGB images:

- pixels: 512 × 512 × 3 = **786,432** numbers per image;
- its VAE's latents: 64 × 64 × 4 = **16,384** numbers, **48× fewer**.

The UNet runs once per denoising step (twice with classifier-free guidance) for 20–50 steps, so whatever
one pass costs is paid 40–100 times per image. A convolution's cost grows with the number of positions
it visits, so going from 64×64 to 512×512 multiplies it by 64; self-attention compares every position
with every other one, so it grows with the *square* of that, 64² = 4,096×.

You can measure this without a GPU and without downloading anything: build SD 1.5's UNet architecture
on PyTorch's `meta` device (shapes only, no weights, no memory) and let `FlopCounterMode` count the
floating-point operations of one pass, once on a 64×64×4 latent and once as if the same network ran
directly on 512×512×3 pixels.
""")

code(r"""
from diffusers import UNet2DConditionModel
from torch.utils.flop_counter import FlopCounterMode


def unet_tflops(channels, side):
    with torch.device("meta"):  # SD 1.x's UNet: diffusers' defaults with CLIP ViT-L's 768-wide text features
        unet = UNet2DConditionModel(in_channels=channels, out_channels=channels, cross_attention_dim=768)
        sample, text = torch.empty(1, channels, side, side), torch.empty(1, 77, 768)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        unet(sample, 500, encoder_hidden_states=text)
    ops = {str(op): n / 1e12 for op, n in counter.get_flop_counts()["Global"].items()}
    return counter.get_total_flops() / 1e12, ops, sum(p.numel() for p in unet.parameters())


latent_tf, latent_ops, n_params = unet_tflops(4, 64)
pixel_tf, pixel_ops, _ = unet_tflops(3, 512)
print(f"UNet with {n_params / 1e6:.0f}M parameters, one pass:")
print(f"  on a 64×64×4 latent   : {latent_tf:8.2f} TFLOP  (convolutions {latent_ops['aten.convolution']:.2f})")
print(f"  on 512×512×3 pixels   : {pixel_tf:8.2f} TFLOP  (convolutions {pixel_ops['aten.convolution']:.2f}, "
      f"attention's batched matmuls {pixel_ops['aten.bmm']:.2f})")
print(f"  pixels cost {pixel_tf / latent_tf:.0f}× more per step; "
      f"50 steps with guidance = 100 passes: {100 * latent_tf:.0f} vs {100 * pixel_tf:,.0f} TFLOP per image")
assert pixel_tf / latent_tf >= 48
""")

md(r"""
The numbers to remember: working on latents makes each step several hundred times cheaper for this UNet
(the convolutions alone about 64×, the attention layers thousands of times), and the price is paid only
twice per image: one encode (for img2img and training; text-to-image starts from noise and skips it) and
one decode at the end.

The course's mini model does the same thing at toy scale: 64×64×3 images (12,288 numbers) become 8×8×4
latents (256 numbers), the same 48× and the same factor 8 per side as above. Its VAE is a trained
autoencoder like ours, with a few extras lesson 04 explains (a small KL penalty that keeps the latent space
smooth, and a scaling factor).
""")

md(r"""
## Exercises

1. **Checkerboards.** Replace each `nn.Upsample` + `conv` pair in the decoder by
   `nn.ConvTranspose2d(c_in, c_out, kernel_size=3, stride=2, padding=1, output_padding=1)`. Train, and look
   closely at flat backgrounds in the reconstructions. Then try `kernel_size=4, padding=1`.
2. **Same numbers, other shape.** 8×8×4 and 16×16×1 both hold 256 numbers. Build an encoder with only two
   stride-2 convolutions and a 1-channel bottleneck. Which one keeps small shapes better, by `judge`?
3. **Train longer.** Double `STEPS` for the 4-channel model. How far does PSNR move, and how much of the lost
   shape accuracy comes back? Is the ceiling the bottleneck or the training?
4. **Between two latents.** Encode two different images, mix their latents (`0.5 * z1 + 0.5 * z2`) and
   decode. Is the result a sensible image? Lesson 04's VAE is trained so that nearby latents decode to
   sensible images, which a plain autoencoder never promised.

## Recap

- An **encoder** of stride-2 convolutions halves height and width at each layer; a **decoder** of
  upsampling + convolution (or transposed convolutions) doubles them back.
- Our autoencoder squeezes 64×64×3 = 12,288 numbers into 8×8×4 = 256, **48×** fewer, exactly Stable
  Diffusion's ratio (512×512×3 → 64×64×4).
- Training is just "output = input" with an MSE loss; **more bottleneck, lower error**, but every number in
  the bottleneck is a number the diffusion model must generate.
- Colours survive compression easily; fine shape detail, especially on small shapes, is what gets lost. The
  autoencoder's reconstructions are the **ceiling** for what the diffusion model on top of it can draw.
- Working in latent space makes each UNet step hundreds of times cheaper than working on pixels.

Next, lesson 04 opens the pipeline's own VAE: encoding an image, looking at its latents and decoding them.
""")

nb = new_notebook(cells=cells)
nb.metadata = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}
params = dict(a.split("=", 1) for a in sys.argv[2:])
text = nbformat.writes(nb)
for key, value in params.items():
    text = text.replace(f"@{key}@", value)
assert "@" not in text.replace("@torch.no_grad", ""), [line for line in text.splitlines() if "@" in line][:5]
nbformat.validate(nbformat.reads(text, as_version=4))
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write(text + "\n")
print("wrote", sys.argv[1])
