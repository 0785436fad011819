"""Throwaway: write notebooks/05_clip.ipynb."""

import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = []


def md(text):
    cells.append(new_markdown_cell(text.strip()))


def code(text):
    cells.append(new_code_cell(text.strip()))


md(r"""
# 05 · CLIP: how a prompt becomes vectors

In lesson 04 you met one input of Stable Diffusion's UNet, the latents. This lesson is about the other one,
the prompt. The pipeline cuts the prompt into *tokens*, and a text encoder turns those into one vector per
token, which the UNet reads through cross-attention at every denoising step. That text encoder is the text half
of CLIP, a pair of encoders (one for text, one for images) trained to agree on which caption goes with which
picture. You will look inside the tokenizer, train a tiny CLIP yourself on the shapes world, use it to
classify pictures it has never seen from captions alone, and then follow the text encoder's output into the
UNet, including the vectors of the *empty* prompt, which lesson 06 needs for guidance.
""")

code(r"""
import importlib.util, subprocess, sys
if importlib.util.find_spec("course_utils") is None:  # Colab or a fresh environment: install the course package
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/sd-course/stable-diffusion-course"], check=True)
from course_utils import runtime
runtime.describe();
""")

code(r"""
import math
import random
from pathlib import Path

import numpy as np
import torch
from IPython.display import Image, display
from matplotlib.figure import Figure
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

from course_utils import shapes
from course_utils.display import plot, show
from course_utils.mini import MINI_DIR
from course_utils.pipeline import load_pipeline
from course_utils.seeds import seed_everything
from course_utils.training import contrastive_step, lr_lambda

MODEL = "mini"  # the bundled model; on a GPU, try "stable-diffusion-v1-5/stable-diffusion-v1-5"
QUICK = runtime.quick_mode()
OUT = Path("outputs/05_clip")
OUT.mkdir(parents=True, exist_ok=True)

STEPS = __STEPS__  # training steps of the tiny CLIP
N_TEST = 200 if QUICK else 500  # held-out pictures for zero-shot classification
SEED = seed_everything(0)
""")

md(r"""
## 1. The tokenizer

A text encoder does not read letters. The pipeline's tokenizer (`pipe.tokenizer`, a transformers
`CLIPTokenizer`) cuts the prompt into tokens from a fixed vocabulary and replaces each by its number, its *id*.
`</w>` marks the end of a word. The list starts with a start token and ends with the end token
`<|endoftext|>`; then it is padded, here with more end tokens, to a fixed length, `model_max_length`.
""")

code(r"""
pipe = load_pipeline(MODEL)
tok = pipe.tokenizer
prompt = "a large red circle on a blue background"
ids = tok(prompt, padding="max_length", max_length=tok.model_max_length, truncation=True).input_ids
print(f"vocabulary: {len(tok)} tokens; model_max_length: {tok.model_max_length}")
for position, (token, i) in enumerate(zip(tok.convert_ids_to_tokens(ids), ids)):
    print(f"{position:>3} {i:>6}  {token}")
""")

code(r"""
words = len(prompt.split())
assert len(ids) == tok.model_max_length
assert ids[0] == tok.bos_token_id and ids[words + 1] == tok.eos_token_id
assert all(i == tok.pad_token_id for i in ids[words + 1:]), "the rest is padding"
""")

md(r"""
A word that is not in the vocabulary is not lost: it is split into smaller pieces that are, down to single
letters if need be. The mini model's vocabulary holds only the words of the shapes world (and the letters);
Stable Diffusion's holds 49,408 tokens, so most English words are one token there, and rare words or names
become a few.

A prompt that is too long is cut: the tokenizer keeps the first `model_max_length - 1` tokens and closes with
the end token. The pipeline warns when that happens, and the words after the cut have no effect at all.
""")

code(r"""
word = "zorblax"
pieces = tok.tokenize(word)
print(f"{word!r} → {pieces}")
assert len(pieces) > 1 and "".join(pieces).replace("</w>", "") == word

long_prompt = ", ".join(["a large red circle on a blue background"] * 3)
cut = tok(long_prompt, truncation=True, max_length=tok.model_max_length).input_ids
print(f"{len(tok(long_prompt).input_ids)} tokens → {len(cut)}: {tok.decode(cut, skip_special_tokens=True)!r}")
assert len(cut) == tok.model_max_length and cut[-1] == tok.eos_token_id
""")

md(r"""
The text encoder (`pipe.text_encoder`, a transformers `CLIPTextModel`) turns the ids into one vector per
position: the `last_hidden_state`, of shape (batch, `model_max_length`, hidden size). It also gives a single
*pooled* vector per prompt, which is the vector at the position of the first end token.
""")

code(r"""
text_encoder = pipe.text_encoder
with torch.no_grad():
    encoded = text_encoder(torch.tensor([ids]))
print("last_hidden_state", tuple(encoded.last_hidden_state.shape), "  pooler_output", tuple(encoded.pooler_output.shape))
assert encoded.last_hidden_state.shape == (1, tok.model_max_length, text_encoder.config.hidden_size)
assert torch.equal(encoded.pooler_output[0], encoded.last_hidden_state[0, ids.index(tok.eos_token_id)])
""")

md(r"""
## 2. Train a tiny CLIP

Stable Diffusion did not train its text encoder. It borrowed the text half of OpenAI's CLIP, trained on 400
million pictures and their captions from the web, and kept it frozen. CLIP learns with a simple game: in a batch
of B pictures and their B captions, an image encoder and a text encoder each turn their input into a vector,
and every picture is compared with every caption (the cosine similarity of their vectors). The B×B table of
similarities should be large on the diagonal, where picture and caption belong together, and small everywhere
else. The loss is a cross-entropy that asks each row, and each column, to pick out its diagonal entry.

The mini model's text encoder was made the same way (`course_utils/mini/train.py`, stage "clip"). Here you
train a smaller one, with the same tokenizer and the same training step, `course_utils.training.contrastive_step`.
""")

code(r"""
tokenizer = CLIPTokenizer.from_pretrained(MINI_DIR / "tokenizer")  # the shapes world's vocabulary
width, layers = __WIDTH__, __LAYERS__
text = dict(vocab_size=len(tokenizer), hidden_size=width, intermediate_size=2 * width, num_hidden_layers=layers,
            num_attention_heads=4, max_position_embeddings=tokenizer.model_max_length,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
vision = dict(image_size=shapes.SIZE, patch_size=__PATCH__, hidden_size=width, intermediate_size=2 * width,
              num_hidden_layers=layers, num_attention_heads=4)
torch.manual_seed(SEED)
clip = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=32))
print(f"CLIPModel with {sum(p.numel() for p in clip.parameters()) / 1e6:.2f} M parameters")
""")

md(r"""
The pictures come from the shapes world with their full captions ("a small green star on a white background").
Eight held-out pictures, and their captions, show the similarity table before and after training.
""")

code(r"""
train = shapes.ShapesDataset(3000, seed=0, full_captions=True)
probe_scenes = shapes.scenes(8, seed=99)  # held out: the mini model never trained on seed 99
probe_images = torch.stack([shapes.to_tensor(shapes.render(s)) for s in probe_scenes])
probe_captions = [shapes.full_caption(s) for s in probe_scenes]

def similarities(model):
    ids = tokenizer(probe_captions, padding="max_length", max_length=tokenizer.model_max_length, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model(input_ids=ids, pixel_values=probe_images, return_loss=True)
    return (out.image_embeds @ out.text_embeds.T).numpy(), out.loss.item()  # cosine similarities, and the loss

before, loss_before = similarities(clip)
show([shapes.render(s) for s in probe_scenes], titles=[f"image {k + 1}" for k in range(8)], cols=8, scale=1.6);
""")

md(r"""
CLIP learns fastest from *hard* batches. If every picture in a batch has a different colour, colour alone tells
them apart and nothing pushes the encoders to see shape. So each batch here is made of groups of 8 pictures that
share their colour and background and differ only in shape, size and position.
""")

code(r"""
by_colours = {}
for k, s in enumerate(train.scenes):
    by_colours.setdefault((s.colour, s.background), []).append(k)
rng = random.Random(SEED)

def hard_batch(groups=8, per_group=8):
    keys = rng.sample(sorted(by_colours), groups)
    picks = [k for key in keys for k in rng.sample(by_colours[key], per_group)]
    images, captions = zip(*(train[k] for k in picks))
    return torch.stack(images), list(captions)

optimizer = torch.optim.AdamW(clip.parameters(), lr=2e-3, weight_decay=0.1)
schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(STEPS // 10, STEPS, 0.05))
losses = []
for step in range(STEPS):
    images, captions = hard_batch()
    losses.append(contrastive_step(clip, tokenizer, captions, images, optimizer, schedule).loss.item())
after, loss_after = similarities(clip)
print(f"loss of one training batch: first {losses[0]:.2f}, last {losses[-1]:.2f} (chance: ln 64 = {math.log(64):.2f})")
""")

code(r"""
every = max(1, STEPS // 50)
smooth = [float(np.mean(losses[k:k + every])) for k in range(0, STEPS, every)]
fig = plot(list(range(0, STEPS, every)), smooth, xlabel="step", ylabel="contrastive loss", title="Training the tiny CLIP")
fig.savefig(OUT / "loss.png", bbox_inches="tight")
""")

code(r"""
fig = Figure(figsize=(13, 5.5))
for k, (sim, title) in enumerate([(before, "before training"), (after, f"after {STEPS} steps")]):
    ax = fig.add_subplot(1, 2, k + 1)
    im = ax.imshow(sim, cmap="viridis", vmin=-1, vmax=1)
    ax.set_xticks(range(8), probe_captions, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(8), [f"image {k + 1}" for k in range(8)])
    ax.set_title(f"cosine similarity, {title}")
fig.colorbar(im, ax=fig.axes, shrink=0.8)
fig.savefig(OUT / "similarity.png", bbox_inches="tight")
display(Image(filename=OUT / "similarity.png"))
""")

code(r"""
diagonal = np.diag(after).mean() - after[~np.eye(8, dtype=bool)].mean()
print(f"loss on the 8 held-out pairs: {loss_before:.3f} before, {loss_after:.3f} after (chance: ln 8 = {math.log(8):.3f})")
print(f"after training, matching pairs are {diagonal:.2f} more similar than the others, on average")
assert loss_after < loss_before, "training should lower the loss on held-out pairs"
assert np.mean(losses[-20:]) < np.mean(losses[:20]), "training should lower the loss"
""")

md(r"""
## 3. Zero-shot classification

A trained CLIP can classify pictures it has never seen, with labels nobody trained it on, by writing the
labels as captions. Score a picture against every caption that the shapes world can describe (every shape,
colour, background and size: 864 captions) and take the best one. Its words are the prediction; check each
attribute against the truth. The same function measures the CLIP you just trained and the one whose text half
is the pipeline's text encoder (`course_utils/mini/clip`).
""")

code(r"""
candidates = [shapes.Scene(shape, colour, background, size, 32, 32, 20)
              for shape in shapes.SHAPES for colour in shapes.COLOURS for background in shapes.COLOURS
              for size in shapes.SIZES if colour != background]
candidate_ids = tokenizer([shapes.full_caption(c) for c in candidates], padding="max_length",
                          max_length=tokenizer.model_max_length, return_tensors="pt").input_ids
test_scenes = shapes.scenes(N_TEST, seed=99)
test_images = torch.stack([shapes.to_tensor(shapes.render(s)) for s in test_scenes])
ATTRIBUTES = {"shape": len(shapes.SHAPES), "colour": len(shapes.COLOURS), "background": len(shapes.COLOURS),
              "size": len(shapes.SIZES)}  # attribute: number of choices (chance = 1 / choices)

def zero_shot(model):
    with torch.no_grad():
        scores = model(input_ids=candidate_ids, pixel_values=test_images).logits_per_image  # (pictures, captions)
    best = [candidates[k] for k in scores.argmax(1).tolist()]
    accuracy = {a: float(np.mean([getattr(b, a) == getattr(s, a) for b, s in zip(best, test_scenes)])) for a in ATTRIBUTES}
    return accuracy, best

bundled = CLIPModel.from_pretrained(MINI_DIR / "clip").eval()
scores = {"chance": {a: 1 / n for a, n in ATTRIBUTES.items()}}
scores["tiny CLIP (this lesson)"], ours = zero_shot(clip.eval())
scores["bundled CLIP (mini model)"], theirs = zero_shot(bundled)
print(f"zero-shot accuracy on {N_TEST} held-out pictures, {len(candidates)} candidate captions")
print(f"{'':28}" + "".join(f"{a:>12}" for a in ATTRIBUTES))
for name, acc in scores.items():
    print(f"{name:28}" + "".join(f"{acc[a]:>12.2f}" for a in ATTRIBUTES))
""")

code(r"""
pictures = [shapes.render(s) for s in test_scenes[:8]]
titles = [f"{b.size} {b.colour} {b.shape} on {b.background}" for b in ours[:8]]
fig = show(pictures, titles=titles, cols=8, scale=1.8, suptitle="What the tiny CLIP reads, zero-shot")
fig.savefig(OUT / "zero_shot.png", bbox_inches="tight")
""")

code(r"""
for name in ("tiny CLIP (this lesson)", "bundled CLIP (mini model)"):
    acc = scores[name]
    print(name, {a: round(v / scores["chance"][a], 1) for a, v in acc.items()}, "times chance")
    # quality: well above chance on every attribute (chance: 0.17 shape, 0.11 colours, 0.5 size)
    assert acc["colour"] >= 0.8 and acc["background"] >= 0.8, name
    assert acc["shape"] >= 0.35 and acc["size"] >= 0.65, name
""")

md(r"""
Colour and background are easy for both; shape is the hard part, and small shapes harder still (a small star
is a few dozen pixels). Both CLIPs also saw far fewer pictures than a real CLIP: learning from captions alone
is slow, and a model only learns what it needs to tell its batches apart.

## 4. How the pipeline uses the text encoder

The pipeline does not use CLIP's pooled vector. `pipe.encode_prompt` runs the tokenizer and the text encoder
and hands the UNet the whole `last_hidden_state`: all `model_max_length` vectors, one per token position.
Check that it is nothing more than that.
""")

code(r"""
def hidden_states(text):
    ids = tok(text, padding="max_length", max_length=tok.model_max_length, truncation=True, return_tensors="pt").input_ids
    with torch.no_grad():
        return text_encoder(ids).last_hidden_state

with torch.no_grad():
    cond, uncond = pipe.encode_prompt(prompt, device=pipe.device, num_images_per_prompt=1,
                                      do_classifier_free_guidance=True)
print("prompt", tuple(cond.shape), "  empty prompt", tuple(uncond.shape))
assert torch.equal(cond, hidden_states(prompt))
assert torch.equal(uncond, hidden_states(""))
""")

md(r"""
The second tensor is the encoding of the *empty* prompt, `""`: just the start token and end tokens. It is not
zero: it is what the text encoder says about "no description at all". With classifier-free guidance (lesson 06)
the UNet predicts the noise twice at every step, once with the prompt's vectors and once with these, and the
pipeline pushes the result away from the second prediction and towards the first.
""")

code(r"""
empty = tok("", padding="max_length", max_length=tok.model_max_length).input_ids
print("empty prompt's tokens:", tok.convert_ids_to_tokens(empty)[:4], "...")
print(f"length of each of its vectors: {uncond[0].norm(dim=-1)[:4].numpy().round(2)} ...")
assert empty[:2] == [tok.bos_token_id, tok.eos_token_id] and uncond.abs().sum() > 0
""")

md(r"""
The text encoder reads left to right: each position may only attend to itself and to the positions before it
(a *causal* mask, as in GPT). So two prompts that start with the same words have exactly the same vectors
there, and differ only from the first word that differs. The UNet sees *all* positions, so it is not limited to
the last one.
""")

code(r"""
a, b = "a red circle on a blue background", "a red star on a blue background"
change = (hidden_states(a) - hidden_states(b))[0].norm(dim=-1)
first = next(k for k, (x, y) in enumerate(zip(tok(a).input_ids, tok(b).input_ids)) if x != y)
fig = plot(list(range(tok.model_max_length)), change.tolist(), xlabel="token position",
           ylabel="distance between the vectors", title=f"{a!r} vs {b!r}")
fig.savefig(OUT / "causal.png", bbox_inches="tight")
print(f"first differing token at position {first}; distance there: {change[first]:.3f}")
assert torch.all(change[:first] == 0) and change[first] > 0
""")

md(r"""
Inside the UNet, every cross-attention layer turns these vectors into *keys* and *values*, and lets each latent
position pick the token vectors it needs (lesson 06 visualises none of that, but measures its effect). That is
why the UNet's `cross_attention_dim` must equal the text encoder's hidden size:
""")

code(r"""
unet = pipe.unet
attention = next(m for name, m in unet.named_modules() if name.endswith("attn2"))  # a cross-attention layer
print(f"text encoder hidden size {text_encoder.config.hidden_size}, UNet cross_attention_dim {unet.config.cross_attention_dim}")
print(f"one cross-attention layer: keys {tuple(attention.to_k.weight.shape)}, values {tuple(attention.to_v.weight.shape)}")
assert unet.config.cross_attention_dim == text_encoder.config.hidden_size == attention.to_k.weight.shape[1]

latent = torch.randn(1, unet.config.in_channels, unet.config.sample_size, unet.config.sample_size,
                     generator=torch.Generator().manual_seed(SEED))
t = torch.tensor([500])
with torch.no_grad():
    with_prompt = unet(latent, t, encoder_hidden_states=cond).sample
    with_empty = unet(latent, t, encoder_hidden_states=uncond).sample
print(f"noise predictions with the prompt and with the empty prompt differ by {(with_prompt - with_empty).norm():.3f}"
      f" (their size: {with_empty.norm():.3f})")
""")

md(r"""
That difference between the two predictions is what classifier-free guidance amplifies, in lesson 06.

With Stable Diffusion 1.5 (`MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"`), the same cells show a
vocabulary of 49,408 tokens, `model_max_length` 77 and 768-dimensional vectors: the text half of OpenAI's
CLIP ViT-L/14. (Its image half is not part of the pipeline; section 3 always uses the mini CLIP.)

## Exercises

1. Train the tiny CLIP with random batches instead of hard ones (replace `hard_batch()` with 64 random
   pictures). Which attribute suffers?
2. Zero-shot with short prompts: score the test pictures against the six captions `f"a {shape}"` only. Are
   they as good as the full captions? (The bundled CLIP was trained on captions that always name the colour.)
3. Tokenise your name, a long word and an emoji with `tok.tokenize`. What happens to each?
4. Compare `hidden_states("a red circle")` with `hidden_states("a circle, red")`. Which positions differ, and
   why might the UNet still draw the same picture?

## Recap

- The tokenizer turns a prompt into `model_max_length` ids: start token, words (or pieces of words), end token,
  padding. Longer prompts are cut.
- CLIP trains a text encoder and an image encoder together, contrastively: matching pairs similar, the rest not.
- A trained CLIP classifies new pictures zero-shot, by scoring them against captions.
- The UNet reads all the text encoder's token vectors (`last_hidden_state`) through cross-attention, not
  the pooled vector. The empty prompt has vectors too; lesson 06 uses them for classifier-free guidance.
""")

STEPS = "100 if QUICK else 1000"
nb = new_notebook(cells=cells)
for c in nb.cells:
    c.source = (c.source.replace("__STEPS__", STEPS).replace("__WIDTH__", "64").replace("__LAYERS__", "2")
                .replace("__PATCH__", "16"))
nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
nb.metadata["language_info"] = {"name": "python"}
out = sys.argv[1] if len(sys.argv) > 1 else "/work/main/notebooks/05_clip.ipynb"
if len(sys.argv) > 2:  # dev only: point the notebook at another model folder
    for c in nb.cells:
        c.source = c.source.replace('MODEL = "mini"', f'MODEL = "{sys.argv[2]}"').replace(
            'MINI_DIR / "clip"', f'Path("{sys.argv[2]}") / "clip"')
nbformat.write(nb, out)
print("wrote", out)
