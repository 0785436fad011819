"""Throwaway: write notebooks/04_latents.ipynb."""

import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = []


def md(text):
    cells.append(new_markdown_cell(text.strip()))


def code(text):
    cells.append(new_code_cell(text.strip()))


md(r"""
# 04 · Latents: the space where Stable Diffusion works

Stable Diffusion's UNet never sees a pixel. It removes noise from *latents*: the small grids of numbers that the
pipeline's variational autoencoder (VAE) squeezes every image into. In lesson 03 you built and measured an
autoencoder of your own; here you take apart the one inside the pipeline. You will encode pictures from the
shapes world into 8×8×4 latents and look at their four channels, decode them back and measure what is lost,
find out why the pipeline multiplies every latent by a *scaling factor*, walk from one latent to another, and
add noise in latent space and in pixel space to see why diffusing latents is not the same as diffusing pixels.
""")

code(r"""
import importlib.util, subprocess, sys
if importlib.util.find_spec("course_utils") is None:  # Colab or a fresh environment: install the course package
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/sd-course/stable-diffusion-course"], check=True)
from course_utils import runtime
runtime.describe();
""")

code(r"""
from pathlib import Path

import numpy as np
import torch

from course_utils import judge, shapes
from course_utils.display import compare, plot, show
from course_utils.pipeline import load_pipeline
from course_utils.seeds import generator, seed_everything

MODEL = "mini"  # the bundled model; on a GPU, try "stable-diffusion-v1-5/stable-diffusion-v1-5"
QUICK = runtime.quick_mode()
OUT = Path("outputs/04_latents")
OUT.mkdir(parents=True, exist_ok=True)

N_TEST = 64 if QUICK else 256  # held-out pictures for the measurements
SEED = seed_everything(0)
""")

md(r"""
## 1. The pipeline's VAE

`load_pipeline` gives the whole Stable Diffusion pipeline; its autoencoder is `pipe.vae`, a diffusers
`AutoencoderKL`, the same class as in the real Stable Diffusion. Its encoder shrinks each side of the image by a
factor of 8 and keeps 4 numbers per position, the *channels* of the latent.
""")

code(r"""
pipe = load_pipeline(MODEL)
vae = pipe.vae.requires_grad_(False)
SIZE = pipe.unet.config.sample_size * pipe.vae_scale_factor  # the pipeline's image size: 64 here, 512 for SD
LATENT = SIZE // pipe.vae_scale_factor
print(f"{type(vae).__name__}, {sum(p.numel() for p in vae.parameters()) / 1e6:.2f} M parameters")
print(f"images {SIZE}×{SIZE}×3  →  latents {LATENT}×{LATENT}×{vae.config.latent_channels}")
print(f"scaling factor {vae.config.scaling_factor:.5f}")
""")

md(r"""
The pictures we measure on are *held out*: drawn from seed 99, which the training script kept aside (it
trained on seed 0). `pipe.image_processor` is the pipeline's own converter between PIL images and the tensors
in [-1, 1] that the VAE takes, the same one the pipeline uses for img2img.
""")

code(r"""
test_scenes = shapes.scenes(N_TEST, seed=99)
originals = [shapes.render(s) for s in test_scenes]
x = pipe.image_processor.preprocess(originals, height=SIZE, width=SIZE)  # (N, 3, SIZE, SIZE) in [-1, 1]

with torch.no_grad():
    posterior = vae.encode(x[:1]).latent_dist  # a Gaussian for every latent number: a mean and a spread
print("image", tuple(x[:1].shape), "→ latent mean", tuple(posterior.mean.shape), "and std", tuple(posterior.std.shape))
print(f"{x[:1].numel()} numbers in, {posterior.mean.numel()} out: {x[:1].numel() // posterior.mean.numel()}× fewer")
""")

code(r"""
assert x[:1].numel() == 48 * posterior.mean.numel()  # 8×8 positions × 3 colours → 1 position × 4 channels
""")

md(r"""
What do the four channels hold? Show each one as a small greyscale picture (white = its largest value in that
picture, black = its smallest). They are not colour planes: each channel mixes colour and shape, and a latent
"pixel" stands for an 8×8 patch of the image.
""")

code(r"""
rows = [originals[i] for i in range(3)]
with torch.no_grad():
    means = vae.encode(pipe.image_processor.preprocess(rows, height=SIZE, width=SIZE)).latent_dist.mean

def normalised(channel):
    return (channel - channel.min()) / (channel.max() - channel.min() + 1e-8)

tiles, titles = [], []
for image, latent in zip(rows, means):
    tiles += [image] + [normalised(c) for c in latent]
    titles += ["image"] + [f"channel {c}" for c in range(len(latent))]
fig = show(tiles, titles=titles, cols=1 + len(means[0]), scale=2.2)
fig.savefig(OUT / "channels.png", bbox_inches="tight")
""")

md(r"""
Decoding goes the other way. The encoder gives a Gaussian for every latent number; its mean (`mode()`) is the
latent to decode. The spread (`std`) is tiny next to how much the means vary from image to image: this VAE is
almost deterministic, as Stable Diffusion's is.
""")

code(r"""
with torch.no_grad():
    decoded = vae.decode(posterior.mode()).sample
round_trip = pipe.image_processor.postprocess(decoded)[0]  # tensor in [-1, 1] → PIL image
spread = posterior.std.mean().item() / posterior.mean.std().item()
print(f"posterior std / spread of the means: {spread:.3f}")
compare(originals[0], round_trip, labels=["original", "encoded, then decoded"], scale=3);
""")

md(r"""
## 2. The scaling factor

The pipeline never hands raw latents to the UNet. It multiplies them by `vae.config.scaling_factor` after
encoding and divides by it before decoding. Why? Diffusion mixes a clean sample with Gaussian noise of standard
deviation 1, and the noise schedule (lesson 02) decides how much of each there is at every step. That schedule
assumes the clean sample is also about unit-sized. Stable Diffusion's VAE gave latents with a standard deviation
of about 5.5, so its authors scaled them by 1/5.5 ≈ 0.18215. The mini model's factor was computed the same
way: one over the standard deviation of its training latents. Measure it on held-out pictures:
""")

code(r"""
SCALE = vae.config.scaling_factor
with torch.no_grad():
    posteriors = [vae.encode(chunk).latent_dist for chunk in x.split(64)]
means = torch.cat([p.mean for p in posteriors])  # the latent of every test picture
raw = torch.cat([p.sample(generator=generator(SEED)) for p in posteriors])  # as the training script drew them
scaled = raw * SCALE
print(f"raw latents: mean {raw.mean():+.3f}, std {raw.std():.3f}")
print(f"× {SCALE:.4f}:    mean {scaled.mean():+.3f}, std {scaled.std():.3f}")
""")

code(r"""
edges = np.linspace(-4, 4, 41)
centres = (edges[1:] + edges[:-1]) / 2
density = {name: np.histogram(v.numpy().ravel(), bins=edges, density=True)[0] for name, v in
           [("raw latents", raw), ("scaled latents", scaled)]}
density["N(0, 1), the noise"] = np.exp(-centres**2 / 2) / np.sqrt(2 * np.pi)
fig = plot(centres, density, xlabel="value", ylabel="density", title="Latent values, before and after scaling")
fig.savefig(OUT / "scaling.png", bbox_inches="tight")
""")

code(r"""
print(f"std of the scaled held-out latents: {scaled.std():.3f}")
assert 0.75 < scaled.std() < 1.33, "the scaling factor should make the latents about unit-sized"
""")

md(r"""
Where does the pipeline use it? At the very end of a generation, `StableDiffusionPipeline` divides the final
latents by the scaling factor and decodes them. Check it: ask the pipeline for its final latents
(`output_type="latent"`), decode them by hand, and compare with the picture the pipeline makes from the same
seed. This holds for any model, trained or not: it is how the pipeline is wired.
""")

code(r"""
prompt = "a large red circle on a blue background"
settings = dict(num_inference_steps=10, height=SIZE, width=SIZE)
latents = pipe(prompt, generator=generator(SEED), output_type="latent", **settings).images
pixels = pipe(prompt, generator=generator(SEED), output_type="pt", **settings).images  # in [0, 1]
with torch.no_grad():
    by_hand = (vae.decode(latents / SCALE).sample / 2 + 0.5).clamp(0, 1)
print("latents", tuple(latents.shape), f"std {latents.std():.2f}")
print(f"largest difference, by hand vs pipeline: {(by_hand - pixels).abs().max():.2e}")
assert torch.allclose(by_hand, pixels, atol=1e-5)
""")

md(r"""
## 3. Walking between two latents

Take two held-out pictures, encode both, and decode points on the straight line between their latents. For
comparison, the first row cross-fades the pixels themselves.

A straight line is not always the right path. A diffusion run starts from Gaussian noise, and a Gaussian
vector in many dimensions has an almost fixed length, √(number of numbers). The midpoint of the line between
two such vectors is about 1/√2 ≈ 0.71 times too short: noise the UNet has never seen. *Spherical*
interpolation (slerp) follows the arc between them instead and keeps the length. It is the third row.
""")

code(r"""
def slerp(a, b, t):
    # spherical interpolation: along the arc from a to b, so that the length stays about the same
    omega = torch.arccos(torch.clamp((a / a.norm() * b / b.norm()).sum(), -1, 1))
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)

i, j = next((i, j) for i in range(N_TEST) for j in range(N_TEST) if all(
    getattr(test_scenes[i], k) != getattr(test_scenes[j], k) for k in ("shape", "colour", "background")))
ts = torch.linspace(0, 1, 7)
za, zb = means[i], means[j]
with torch.no_grad():
    lerped = vae.decode(torch.stack([(1 - t) * za + t * zb for t in ts])).sample
    slerped = vae.decode(torch.stack([slerp(za, zb, t) for t in ts])).sample
faded = [(1 - t) * x[i] + t * x[j] for t in ts]
strip = faded + list(lerped) + list(slerped)
titles = [f"{name} t={t:.2f}" for name in ("pixels", "latents", "slerp") for t in ts.tolist()]
fig = show(strip, titles=titles, cols=len(ts), scale=2)
fig.savefig(OUT / "interpolation.png", bbox_inches="tight")
""")

md(r"""
The latent path is not a cross-fade: halfway, the decoder draws one blend of the two pictures rather than two
ghosts on top of each other. It is no smooth morph either. The VAE was trained only to reconstruct, so the
points between two latents are places it never had to make sense of.

Now measure the lengths of noise vectors, as the diffusion run would start from them:
""")

code(r"""
g = generator(SEED)
noise = torch.randn(200, 2, *means.shape[1:], generator=g)  # 200 pairs of starting latents
length = noise[:, 0].flatten(1).norm(dim=1)
mid_line = (0.5 * noise[:, 0] + 0.5 * noise[:, 1]).flatten(1).norm(dim=1) / length
mid_arc = torch.stack([slerp(a, b, 0.5) for a, b in noise]).flatten(1).norm(dim=1) / length
print(f"length of the midpoint / length of the ends: line {mid_line.mean():.3f}, arc {mid_arc.mean():.3f}")
assert abs(mid_line.mean() - 2**-0.5) < 0.03 and abs(mid_arc.mean() - 1) < 0.03
""")

md(r"""
## 4. Noise in latent space against noise in pixel space

In lesson 02 the diffusion model added noise to pixels. Stable Diffusion adds it to latents. Give both the
*same amount* of noise, in the sense that matters to diffusion: the same signal-to-noise ratio. The noise's
standard deviation is `SIGMA` times the spread of the values in each space (pixels, or scaled latents). Then
look at what the noise *changed*: the noisy picture minus the clean one (grey = no change). For the latents,
that is the decoded noisy latent minus the decoded clean latent.
""")

code(r"""
SIGMA = 0.25  # noise std / signal std: a signal-to-noise ratio of 1 / SIGMA² = 16
ac = pipe.scheduler.alphas_cumprod
t_equivalent = int((ac / (1 - ac) - 1 / SIGMA**2).abs().argmin())
print(f"the signal-to-noise ratio of the diffusion schedule at step {t_equivalent} of {len(ac)}")

def add_noise(values, sigma, seed):
    return values + sigma * values.std() * torch.randn(values.shape, generator=generator(seed))

with torch.no_grad():
    latents = means * SCALE
    clean = torch.cat([vae.decode(z / SCALE).sample for z in latents.split(64)]).clamp(-1, 1)
    pixel_noisy = add_noise(x, SIGMA, seed=1).clamp(-1, 1)
    latent_noisy = torch.cat([vae.decode(z / SCALE).sample for z in add_noise(latents, SIGMA, 2).split(64)])
    latent_noisy = latent_noisy.clamp(-1, 1)
""")

code(r"""
row = []
for k in range(2):
    row += [x[k], pixel_noisy[k], 2 * (pixel_noisy[k] - x[k]), latent_noisy[k], 2 * (latent_noisy[k] - clean[k])]
labels = ["original", "pixel noise", "what it changed", "latent noise, decoded", "what it changed"] * 2
fig = show(row, titles=labels, cols=5, scale=2.4)
fig.savefig(OUT / "noise.png", bbox_inches="tight")
""")

md(r"""
Pixel noise is speckle: every pixel moves on its own, and your eye looks straight through it. Latent noise
decodes to smooth, structured changes: a latent number speaks for a whole 8×8 patch, so nudging it bends an
edge, shifts a colour, or reshapes a corner. Two numbers say the same. Neighbouring pixels of the change are
uncorrelated for pixel noise and strongly correlated for latent noise; and the judge reads what survived.
""")

code(r"""
def neighbour_correlation(change):
    # correlation between each pixel's change and the change of the pixel to its right
    return torch.corrcoef(torch.stack([change[..., :-1].flatten(), change[..., 1:].flatten()]))[0, 1].item()

def psnr(a, b):
    return 10 * np.log10(4 / ((a - b) ** 2).mean().item())  # images in [-1, 1]: peak-to-peak 2

to_images = pipe.image_processor.postprocess
results = {
    "no noise (round trip)": judge.accuracy(to_images(clean), test_scenes),
    "pixel noise": judge.accuracy(to_images(pixel_noisy), test_scenes),
    "latent noise": judge.accuracy(to_images(latent_noisy), test_scenes),
}
corr = {"pixel noise": neighbour_correlation(pixel_noisy - x), "latent noise": neighbour_correlation(latent_noisy - clean)}
close = {"pixel noise": psnr(pixel_noisy, x), "latent noise": psnr(latent_noisy, x)}
print(f"{'':24}{'neighbours':>11}{'PSNR dB':>9}" + "".join(f"{k:>11}" for k in ("shape", "colour", "background", "all")))
for name, acc in results.items():
    extra = f"{corr[name]:>11.2f}{close[name]:>9.1f}" if name in corr else " " * 20
    print(f"{name:24}{extra}" + "".join(f"{acc[k]:>11.2f}" for k in ("shape", "colour", "background", "all")))
""")

code(r"""
assert corr["pixel noise"] < 0.1, "pixel noise is independent from pixel to pixel"
assert corr["latent noise"] > 0.5, "latent noise decodes to smooth, correlated changes"
# quality: the same signal-to-noise ratio destroys more of the content in latent space
assert results["latent noise"]["all"] < results["pixel noise"]["all"] - 0.1
""")

md(r"""
By PSNR the latent-noised pictures may even look *closer* to the originals, yet the judge finds more of them
changed: the noise did not sit on top of the picture, it changed what is drawn. That is why latent diffusion is
cheap. Every number the UNet cleans up carries content, and the 48 times fewer numbers mean 48 times less
work per step, with none of it spent on speckle.

## 5. Measured: what a round trip keeps

Everything Stable Diffusion draws passes through this decoder, so the VAE's losses are a ceiling for the
whole pipeline: a generated picture can only be as crisp as a decoded one. Measure the round trip on all the
held-out pictures: PSNR (as in lesson 03), and what the judge reads back compared with the original.
""")

code(r"""
rt_psnr = psnr(clean, x)
acc_originals = judge.accuracy(originals, test_scenes)
acc_rt = results["no noise (round trip)"]
verdicts = judge.judge_many(to_images(clean))
for size in shapes.SIZES:
    picked = [v.shape == s.shape for v, s in zip(verdicts, test_scenes) if s.size == size]
    print(f"shape right after a round trip, {size} shapes: {np.mean(picked):.2f} ({len(picked)} pictures)")
print(f"round-trip PSNR on {N_TEST} held-out pictures: {rt_psnr:.2f} dB")
print(f"{'':12}" + "".join(f"{k:>11}" for k in judge.ATTRIBUTES + ("all",)))
for name, acc in (("originals", acc_originals), ("round trips", acc_rt)):
    print(f"{name:12}" + "".join(f"{acc[k]:>11.2f}" for k in judge.ATTRIBUTES + ("all",)))
""")

code(r"""
per_image = [psnr(c[None], o[None]) for c, o in zip(clean, x)]
worst = np.argsort(per_image)[:4].tolist()
pairs = [im for k in worst for im in (originals[k], to_images(clean[k:k + 1])[0])]
titles = [t for k in worst for t in ("original", f"round trip, {per_image[k]:.1f} dB")]
fig = show(pairs, titles=titles, cols=4, scale=2.4, suptitle="The four worst round trips")
fig.savefig(OUT / "worst_round_trips.png", bbox_inches="tight")
""")

code(r"""
# quality checks: they hold for the trained model (not for untrained weights)
print(f"round-trip PSNR {rt_psnr:.2f} dB; judge on round trips: {acc_rt}")
assert rt_psnr >= 28, "the VAE should reconstruct held-out shapes at 28 dB or better"
assert acc_rt["colour"] >= 0.9 and acc_rt["background"] >= 0.9, "colours should survive a round trip"
assert acc_rt["shape"] >= 0.6, "most shapes should survive a round trip"
""")

md(r"""
## 6. The same, in the real Stable Diffusion

Stable Diffusion 1.x works on 512×512×3 pictures and 64×64×4 latents: the same factor of 8 per side and the
same 48 times fewer numbers, with a VAE of 84 M parameters and a scaling factor of 0.18215 (its raw latents had
a standard deviation of about 5.5). Set `MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"` on a GPU and run
this notebook again: the cells read sizes and the scaling factor from the model, and the shapes pictures are
resized to 512 pixels. (Use a smaller `N_TEST` there: each picture is 64 times bigger.)

## Exercises

1. Change `SIGMA` to 0.1 and to 0.4 and rerun section 4. At which noise level does the judge stop recognising
   the shapes under latent noise? And under pixel noise?
2. Set one latent channel to zero (or to its mean) before decoding. What does each channel control?
3. Encode a crude sketch, `shapes.sketch(test_scenes[0])`, and decode it. Does the VAE keep the wobbly outline
   and the scribbled background, or does it "clean up" the picture towards the shapes it was trained on?
4. Decode `scaled` latents *without* dividing by the scaling factor. How much does it matter for the mini model
   (factor near 1) compared with Stable Diffusion (factor 0.18)?

## Recap

- The VAE turns a 64×64×3 picture into an 8×8×4 latent (512×512×3 → 64×64×4 for SD): 48 times fewer numbers.
- The pipeline multiplies latents by `vae.config.scaling_factor` (1 / their standard deviation) so that they
  are unit-sized like the noise, and divides by it before decoding.
- Straight-line interpolation shrinks Gaussian noise by 1/√2 at the midpoint; slerp keeps its length.
- At the same signal-to-noise ratio, latent noise changes what is drawn, where pixel noise is only speckle.
- The VAE's round trip is the ceiling for everything the pipeline generates; measure it before blaming the UNet.

Next, lesson 05 looks at the other half of the conditioning: how CLIP turns a prompt into the vectors the UNet
attends to.
""")

nb = new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
nb.metadata["language_info"] = {"name": "python"}
out = sys.argv[1] if len(sys.argv) > 1 else "/work/main/notebooks/04_latents.ipynb"
if len(sys.argv) > 2:  # dev only: point the notebook at another model folder
    for c in nb.cells:
        c.source = c.source.replace('MODEL = "mini"', f'MODEL = "{sys.argv[2]}"')
nbformat.write(nb, out)
print("wrote", out)
