"""Write notebooks/01_finite_differencing.ipynb (cells only; `make notebooks` executes it)."""

import nbformat as nbf

cells = []


def md(text):
    cells.append(nbf.v4.new_markdown_cell(text.strip("\n")))


def code(text):
    cells.append(nbf.v4.new_code_cell(text.strip("\n")))


md(r"""
# 01 · Finite differencing: gradients by nudging pixels

Stable Diffusion turns noise into a picture one small change at a time. Where could such changes come from?
This lesson builds the oldest answer there is, on handwritten digits: a function $f(x)$ that says how much an
image $x$ looks like a digit, and its **gradient**, which says how to change every pixel to make $f$ bigger.
We compute that gradient twice: first by nudging each pixel in turn and watching $f$ (**finite
differences**, no calculus library at all), then with one backward pass of PyTorch's autograd. Both give the
same answer; one of them would take a day per step for a Stable Diffusion picture. Then we climb the gradient
and watch noise turn into digits.

It builds on lesson 00, where the pipeline made a picture out of noise; lesson 02 replaces the whole idea
with a network that predicts the noise, which is what Stable Diffusion does.
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
import torch.nn.functional as F
from IPython.display import Code, display

from course_utils import digits, runtime
from course_utils.digits import load_digits, not_digits, p_digit, predict, train_classifier
from course_utils.display import image_grid, show
from course_utils.seeds import seed_everything
""")

code(r"""
# Config. This lesson needs no Stable Diffusion model: its "model" is a small digits classifier.
QUICK = runtime.quick_mode()           # make test sets COURSE_QUICK=1: a shorter run, the same checks
SEED = seed_everything(0)
SIZE = 8                               # 8×8 pixels: the digits as scikit-learn ships them
EPOCHS = 8 if QUICK else 20            # training the classifier
CLIMB_STEPS = 100 if QUICK else 300    # gradient ascent from noise
""")

md(r"""
## The digits

scikit-learn ships 1,797 handwritten digits of 8×8 pixels, so nothing is downloaded.
`course_utils.digits.load_digits` gives them as tensors in $[0, 1]$ (ink is 1), split 80/20 into training
and test digits.
""")

code(r"""
images, labels = load_digits(size=SIZE, split="train")
test_images, test_labels = load_digits(size=SIZE, split="test")
print(f"{len(labels)} training digits, {len(test_labels)} test digits, each {tuple(images.shape[1:])}")
first_of_each = [int((labels == d).nonzero()[0]) for d in range(10)]
show([images[i] for i in first_of_each], titles=[str(d) for d in range(10)], scale=1.2)
""")

md(r"""
## $f(x)$: how much does an image look like a digit?

We want a number $f(x) = P(x \text{ is a digit})$ for any 8×8 image $x$. A classifier can give it, if it has
seen both digits and things that are not digits. `course_utils.digits` has one: a small convolutional
network with **eleven** outputs, one for each digit 0-9 and one, class 10, for *not a digit*. Then

$$f(x) = P(\text{digit}) = 1 - P(\text{not a digit}) = \sum_{k=0}^{9} P(k).$$

The non-digits it learns from are of six kinds: plain noise, noise around grey (what a diffusion model starts
from), a digit's own pixels shuffled (the same ink, no shape), smooth blobs, scattered specks, and digits
drowned in noise.
""")

code(r"""
junk = not_digits(12, size=SIZE, seed=0)
show(list(junk), titles=[digits.NOISE_KINDS[i % 6] for i in range(12)], cols=6, scale=1.5)
""")

md(r"""
Here is the training code. It is ordinary classification with cross-entropy, with one twist worth reading:
from the third epoch on, some of the non-digits are **hard negatives**, images made by climbing the model's
own $P(\text{digit})$ from noise (the function `climb`, which we write by hand below) and labelled *not a
digit*. A classifier trained only on digits against noise is easy to fool: climb its $P(\text{digit})$ and
you find stripes and checkerboards it has never seen, which it calls digits with 100% confidence (try it in
the exercises). Shown its own mistakes, it learns to refuse them, and what is left at the top of its
$P(\text{digit})$ has to look like a digit. The positives are roughened with a little noise, so a slightly
noisy digit still counts as a digit.
""")

code(r"""
display(Code(inspect.getsource(digits.DigitClassifier), language="python"))
display(Code(inspect.getsource(train_classifier), language="python"))
""")

code(r"""
t0 = time.perf_counter()
model = train_classifier(size=SIZE, epochs=EPOCHS, seed=SEED, verbose=True)
print(f"trained in {time.perf_counter() - t0:.0f} s, "
      f"{sum(p.numel() for p in model.parameters()):,} parameters")
""")

md(r"""
Before we trust $f$, we measure it on digits it has never seen and on fresh non-digits.
""")

code(r"""
with torch.no_grad():
    p_test = p_digit(model, test_images)
    junk = not_digits(600, size=SIZE, seed=123)   # a seed training never used
    p_junk = p_digit(model, junk)
guess, _ = predict(model, test_images)
accuracy = (guess == test_labels).float().mean().item()
print(f"test digits: {accuracy:.1%} read correctly, mean P(digit) = {p_test.mean():.3f}")
for k, kind in enumerate(digits.NOISE_KINDS):
    print(f"  {kind:>14}: mean P(digit) = {p_junk[k::6].mean():.4f}")

assert accuracy > (0.85 if QUICK else 0.93), accuracy
assert p_test.mean() > 0.8, "the classifier should call unseen digits digits"
assert p_junk.mean() < 0.1, "... and noise, not digits"
""")

md(r"""
## The gradient by finite differences

Take an image that is half-way: a test digit with noise over it, so that $f$ is neither 0 nor 1. Which way
should each pixel move to make it more digit-like? Nudge pixel $i$ up by a tiny $h$, then down by $h$, and
see how $f$ changes:

$$\frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}$$

(a *central* difference; its error shrinks like $h^2$). One pixel at a time: two evaluations of $f$ per
pixel, $2 \times 64 = 128$ for the whole 8×8 image. No calculus, only the function itself.
""")

code(r"""
gen = torch.Generator().manual_seed(SEED)
digit = test_images[3:4]
x = (0.75 * digit + 0.25 * torch.rand(digit.shape, generator=gen)).clamp(0, 1)   # shape (1, 1, 8, 8)

def f(image):
    with torch.no_grad():
        return p_digit(model, image).item()

print(f"f(x) = P(digit) = {f(x):.3f}")
""")

code(r"""
def finite_difference_gradient(f, x, h=1e-2):
    grad = torch.zeros_like(x)
    flat, g = x.view(-1), grad.view(-1)     # views: changing flat[i] changes x
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + h
        up = f(x)
        flat[i] = old - h
        down = f(x)
        flat[i] = old                       # put the pixel back
        g[i] = (up - down) / (2 * h)
    return grad

grad_fd = finite_difference_gradient(f, x.clone())
""")

md(r"""
## The same gradient with autograd

PyTorch records every operation on a tensor that `requires_grad`, and one call to `.backward()` walks that
record backwards with the chain rule: one forward pass and one backward pass give the derivative with respect
to **every** pixel at once.
""")

code(r"""
x_auto = x.clone().requires_grad_(True)
p_digit(model, x_auto).sum().backward()
grad_auto = x_auto.grad

cosine = F.cosine_similarity(grad_fd.flatten(), grad_auto.flatten(), dim=0).item()
rel_err = ((grad_fd - grad_auto).norm() / grad_auto.norm()).item()
print(f"cosine similarity {cosine:.6f}, relative error {rel_err:.2e}")
assert cosine > 0.99 and rel_err < 0.05, "finite differences and autograd should agree"

fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
axes[0].imshow(x[0, 0], cmap="gray", vmin=0, vmax=1)
axes[0].set_title(f"the noisy digit, P(digit) = {f(x):.2f}")
limit = grad_auto.abs().max().item()
for ax, grad, title in zip(axes[1:], (grad_fd, grad_auto), ("finite differences", "autograd"), strict=True):
    shown = ax.imshow(grad[0, 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(title)
for ax in axes:
    ax.axis("off")
fig.colorbar(shown, ax=axes[1:], shrink=0.9, label="∂ P(digit) / ∂ pixel")
plt.show()
""")

md(r"""
Both maps show the gradient: red where brightening the pixel raises $P(\text{digit})$, blue where darkening
it does, white where the pixel hardly matters. They agree to within the small error of the central difference (and of
`float32` arithmetic). What differs is the cost.

## What it costs

We time both, taking the fastest of a few repeats so that whatever else the machine is doing counts as
little as possible.
""")

code(r"""
def best_time(fn, repeats=5):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)

def autograd_gradient(model, x):
    x = x.clone().requires_grad_(True)
    p_digit(model, x).sum().backward()
    return x.grad

t_fd = best_time(lambda: finite_difference_gradient(f, x.clone()))
t_auto = best_time(lambda: autograd_gradient(model, x))
print(f"finite differences: {t_fd * 1e3:.1f} ms  ({2 * x.numel()} evaluations of f)")
print(f"autograd:           {t_auto * 1e3:.2f} ms  (1 forward + 1 backward)")
print(f"autograd is {t_fd / t_auto:.0f}× faster on {x.numel()} pixels")
assert t_fd / t_auto > 5
""")

md(r"""
How does that scale? Finite differences need two evaluations per pixel, so their cost grows with the number
of pixels *and* with the cost of one evaluation; a backward pass costs about two forward passes, whatever the
number of pixels. The same network at 16×16 and, in full mode, 32×32 (untrained: only the timing matters
here) shows it:
""")

code(r"""
sides = [8, 16] if QUICK else [8, 16, 32]
fd_ms, auto_ms = [], []
for side in sides:
    net = digits.DigitClassifier(side).eval().requires_grad_(False)
    img = torch.rand(1, 1, side, side, generator=gen)

    def f_side(image, net=net):
        with torch.no_grad():
            return p_digit(net, image).item()

    fd_ms.append(1e3 * best_time(lambda f=f_side, im=img: finite_difference_gradient(f, im.clone()), repeats=2))
    auto_ms.append(1e3 * best_time(lambda net=net, im=img: autograd_gradient(net, im)))
    print(f"{side:2d}×{side:<2d} = {side * side:4d} pixels: finite differences {fd_ms[-1]:8.1f} ms, "
          f"autograd {auto_ms[-1]:5.2f} ms, ratio {fd_ms[-1] / auto_ms[-1]:6.0f}×")
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.loglog([s * s for s in sides], fd_ms, "o-", label="finite differences")
ax.loglog([s * s for s in sides], auto_ms, "o-", label="autograd")
ax.set_xlabel("pixels")
ax.set_ylabel("ms per gradient")
ax.set_title("The cost of one gradient (log scales)")
ax.legend()
ax.grid(alpha=0.3, which="both")
plt.show()
assert fd_ms[-1] / auto_ms[-1] > fd_ms[0] / auto_ms[0], "the gap should widen with the pixel count"
""")

md(r"""
Now picture Stable Diffusion at 512×512: $512 \times 512 \times 3 = 786{,}432$ numbers per image (or, in its
latent space, $64 \times 64 \times 4 = 16{,}384$). Finite differences would need $2 \times 786{,}432 \approx
1.6$ million evaluations of a network with about a billion parameters *for one gradient*; if an evaluation
took 50 ms, that is about 22 hours. Autograd gets the same gradient for the price of about three evaluations.
That is why every deep-learning library has autograd, and why nobody trains or guides a network with finite
differences.

## Climbing the gradient: from noise to a digit

With a cheap gradient we can do **gradient ascent**: move the image a small step in the direction that raises
$f$, and repeat. Two details:

- We step along the gradient of $\log f$ rather than of $f$. It points the same way
  ($\nabla \log f = \nabla f / f$), but it does not vanish when $f$ is tiny, as it is for noise
  ($10^{-20}$ is typical), where $\nabla f$ is tiny too.
- Each step has the same length, 0.3 (in pixel units, over all 64 pixels together), and pixels stay in
  $[0, 1]$.
""")

code(r"""
def climb_by_hand(model, x, steps, step_size=0.3, every=None):
    snapshots = {0: x.clone()}
    for step in range(1, steps + 1):
        x = x.detach().requires_grad_(True)
        digits.log_p_digit(model, x).sum().backward()
        length = x.grad.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        x = (x + step_size * x.grad / length).clamp(0, 1)
        if every and step in every:
            snapshots[step] = x.detach().clone()
    return x.detach(), snapshots

noise = torch.rand(8, 1, SIZE, SIZE, generator=gen)
checkpoints = [s for s in (3, 10, 30, 100, 300) if s <= CLIMB_STEPS]
climbed, snapshots = climb_by_hand(model, noise, CLIMB_STEPS, every=checkpoints)

with torch.no_grad():
    p_by_step = {step: p_digit(model, im) for step, im in snapshots.items()}
tiles, titles = [], []
for i in range(len(noise)):
    for step, im in snapshots.items():
        tiles.append(im[i])
        titles.append(f"step {step}\nP={p_by_step[step][i]:.2f}")
show(tiles, titles=titles, cols=len(snapshots), scale=1.3)
""")

code(r"""
for step, p in p_by_step.items():
    print(f"step {step:3d}: mean P(digit) = {p.mean():.4f}")
p_start, p_end = p_by_step[0].mean().item(), p_by_step[CLIMB_STEPS].mean().item()
assert p_start < 0.01 and p_end > 0.9, (p_start, p_end)
assert (p_by_step[CLIMB_STEPS] > p_by_step[0]).all(), "P(digit) rose for every image"
""")

md(r"""
$P(\text{digit})$ went from about zero to nearly one. But that is the classifier grading its own homework:
do the climbed images really look like digits? A check that does not use the classifier at all: how far is
each image from the nearest real training digit? Noise is far from all of them; a real test digit is close to
some; a digit-like image should be close too.
""")

code(r"""
def nearest_digit_distance(batch):
    return torch.cdist(batch.flatten(1), images.flatten(1)).min(dim=1).values

d_noise = nearest_digit_distance(noise).mean().item()
d_climbed = nearest_digit_distance(climbed).mean().item()
d_test = nearest_digit_distance(test_images).mean().item()
print(f"distance to the nearest training digit: noise {d_noise:.2f}, climbed {d_climbed:.2f}, "
      f"real test digits {d_test:.2f}")
assert d_climbed < d_noise - 0.5 * (d_noise - d_test), "climbing moved the images well toward real digits"
""")

md(r"""
The library's `digits.climb` is this same loop (it is what `train_classifier` used to find its hard
negatives); a last check that the hand-written version matches it:
""")

code(r"""
assert torch.allclose(digits.climb(model, noise, steps=10), climb_by_hand(model, noise, 10)[0], atol=1e-5)
""")

code(r"""
# The lesson's thumbnail (written in full mode only, so `make test` leaves the committed picture alone).
from pathlib import Path
images_dir = Path.cwd().parent / "images"
if not QUICK and images_dir.is_dir():
    image_grid(tiles[: 4 * len(snapshots)], cols=len(snapshots), scale=16).save(images_dir / "01_finite_differencing.png")
""")

md(r"""
## Why Stable Diffusion predicts the noise instead

In lesson 9 of fast.ai's *Practical Deep Learning* course, Jeremy Howard starts Stable Diffusion from exactly
this thought experiment: imagine a **magic function** that tells you how likely an image is to be a digit.
Its gradient tells you how to change every pixel to make the image more digit-like; follow it from noise and
you get a digit. We have just built that magic function and followed it. It works, but look at what it
took: a classifier trained on the right negatives, and at every step a gradient, which without autograd
costs two evaluations per pixel.

Diffusion models skip the middle man. What we actually used was never $f$ itself, only the **direction** in
which to change the image. So train a network to output that direction directly: show it an image with
noise added and ask it for the noise. Subtract a little of the predicted noise and the image moves toward
the digits, the same job our gradient did. (The predicted noise is, up to a scale, the gradient of the log
probability of the image, which mathematicians call the *score*; that is why these models are also called
score-based.) One forward pass per step: no classifier, no backward pass, no finite differences.

That is lesson 02: train a small U-Net to predict the noise, and draw new digits from pure noise. Stable
Diffusion is that same loop, run on the VAE's latents and steered by text.

## Exercises

1. **The step $h$.** Compute `finite_difference_gradient(f, x.clone(), h=...)` for $h$ = 1, 0.1, 0.01,
   1e-4, 1e-6 and compare each with `grad_auto`. Why does the error grow again for very small $h$?
   (Hint: `float32` keeps about 7 significant digits.) Try the one-sided difference $(f(x + h e_i) - f(x))/h$
   too: how does its error shrink with $h$?
2. **A classifier without hard negatives.** Train with `train_classifier(hard=0)` and climb from the same
   noise. What does gradient ascent find now, and what $P(\text{digit})$ does the classifier give it?
3. **One digit at a time.** Climb $\log P(k)$ for one digit $k$ instead of $\log P(\text{digit})$
   (`torch.log_softmax(model(x), dim=1)[:, k]`). Can you draw every digit from 0 to 9?
4. **Batch the nudges.** The 128 nudged images are independent: evaluate them as one batch of 128. How much
   faster is it, and why is it still hopeless at 512×512?

## Recap

- A gradient says how to change every input to raise a function's output. Finite differences find it by
  nudging each input in turn: two evaluations per pixel.
- Autograd finds the same gradient (we measured agreement) with one backward pass, whatever the number of
  pixels; finite differences grow with it, and at Stable Diffusion's size would take hours per gradient.
- Climbing $\log P(\text{digit})$ from noise turns noise into digit-like images, provided the classifier
  was taught to refuse the patterns that merely fool it.
- Stable Diffusion does not climb a classifier: a network predicts the noise, which gives the direction
  directly. Next: lesson 02.
""")

nb = nbf.v4.new_notebook()
nb.cells = cells
nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
nb.metadata["language_info"] = {"name": "python"}
nbf.write(nb, "/work/main/notebooks/01_finite_differencing.ipynb")
print("wrote", len(cells), "cells")
