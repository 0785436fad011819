"""The bundled model's quality, measured by the judge. A retrained model that gets worse fails here.

These are floors a little under what the committed model (v0.3) measures on these fixed prompts and seeds (the
run is deterministic on one machine); MODEL_CARD.md has the same measurements on more prompts. Raise a floor
whenever a retrained model beats it; never lower one to let a worse model in.

Where v0.3 stands against the course's targets (issue "The shapes world, the judge, and the bundled mini Stable
Diffusion"): full-prompt adherence at guidance 7.5 >= 0.90 (met: 0.92 here, 0.935 on 200 prompts); the negative
prompt "red" (met); img2img layout (mean IoU >= 0.7) and colours (met on 64 sketches); VAE PSNR and small stars
(met). Adherence rising from guidance 1 to 3 to 7.5: met on short prompts ("a red star": 0.92, 0.98, 1.00 here),
which leave the model room to drift; on full prompts the model is already right 98% of the time without
guidance, 100% at guidance 3, and guidance 7.5 costs small shapes a little of their outline (0.92).
"""

import pytest
import torch
from diffusers import StableDiffusionPipeline

from course_utils import scoring
from course_utils.mini import MINI_DIR, evaluate
from course_utils.pipeline import load_pipeline

N = 64


@pytest.fixture(scope="module")
def pipe():
    return load_pipeline("mini")


@pytest.fixture(scope="module")
def text2img(pipe):
    return evaluate.text2img(pipe, n=N, guidances=(1.0, 3.0, 7.5))


def test_full_prompt_adherence_at_guidance_7_5(text2img):
    got = text2img["7.5"]
    print(got)  # measured on the committed model (v0.3): all 0.92, shape 0.92, colour/background/size 1.00
    assert got["colour"] >= 0.97 and got["background"] >= 0.97 and got["size"] >= 0.97
    assert got["all"] >= 0.89, f"shape, colour and background all right in {got['all']:.0%} of {N} images"


def test_adherence_across_guidance(text2img):
    a1, a3, a75 = (text2img[g]["all"] for g in ("1.0", "3.0", "7.5"))
    print(f"guidance 1.0: {a1:.2f}, 3.0: {a3:.2f}, 7.5: {a75:.2f}")  # measured (v0.3): 0.98, 1.00, 0.92
    assert a1 >= 0.95, "the model should follow full prompts without guidance"
    assert a3 >= a1 and a3 >= 0.97, "guidance 3 should be at least as good as none"
    assert a75 >= 0.89  # what guidance 7.5 keeps (it costs small shapes some of their outline)


def test_guidance_raises_adherence_on_short_prompts(pipe):
    got = evaluate.text2img(pipe, n=N, guidances=(1.0, 3.0, 7.5), prompts="short")
    a1, a3, a75 = (got[g]["all"] for g in ("1.0", "3.0", "7.5"))
    print(f"short prompts, guidance 1.0: {a1:.2f}, 3.0: {a3:.2f}, 7.5: {a75:.2f}")  # measured (v0.3): 0.92, 0.98, 1.00
    assert a3 >= a1 + 0.04, "guidance 3 should follow short prompts clearly better than no guidance"
    assert a75 >= a3, "and guidance 7.5 at least as well as 3"


def test_negative_prompt_removes_red(pipe):
    got = evaluate.negative_prompt(pipe, n=N)
    print(got)  # measured (v0.3): red 0.14 without, 0.00 with; circles 1.00 and 1.00
    assert got["with"]["red"] <= 0.05
    assert got["with"]["red"] < got["without"]["red"]
    assert got["with"]["circle"] >= 0.95, "the negative prompt should remove red, not the circle"


def test_img2img_keeps_the_sketch_layout_and_follows_the_colours(pipe):
    got = evaluate.img2img(pipe, n=64, strength=0.6)
    print(got)  # measured (v0.3): mean IoU 0.712, median 0.78, colours 1.00
    assert got["iou_mean"] >= 0.69
    assert got["colours"] >= 0.95


def test_vae_round_trip(pipe):
    got = evaluate.vae(pipe, n=256)
    print(got)  # measured (v0.3): 35.4 dB; the judge reads 99.6% of round trips right, 96% of small stars
    assert got["psnr"] >= 34.5
    assert got["roundtrip"]["all"] >= 0.98
    assert got["roundtrip"]["small_star_shape"] >= 0.9


def test_plain_diffusers_defaults_follow_prompts():
    """A learner who skips course_utils gets the model's own scheduler, diffusers' 50 steps and guidance 7.5.
    With SD's PNDM there, 9 of these 32 prompts came out right (v0.3): the model ships Euler instead."""
    pipe = StableDiffusionPipeline.from_pretrained(MINI_DIR)
    pipe.set_progress_bar_config(disable=True)
    prompts, _ = evaluate.full_prompts(32)
    images = pipe(prompts, generator=[torch.Generator().manual_seed(k) for k in range(len(prompts))]).images
    got = scoring.adherence(images, prompts)["all"]
    print(f"{type(pipe.scheduler).__name__}, diffusers' defaults: {got:.2f} of 32 full prompts right")
    assert got >= 0.85  # measured (v0.3, Euler): 0.97
