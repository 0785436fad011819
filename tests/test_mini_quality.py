"""The bundled model's quality, measured by the judge. A retrained model that gets worse fails here.

These are floors a little under what the committed model measures on these fixed prompts and seeds (the
run is deterministic on one machine). The course's targets are higher for shape adherence (>= 0.90 at
guidance 7.5) and img2img layout (IoU >= 0.7); MODEL_CARD.md says where the model stands. Raise a floor
whenever a retrained model beats it; never lower one to let a worse model in.
"""

import pytest

from course_utils.mini import evaluate
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
    print(got)  # measured on the committed model: all 0.30, shape 0.30, colour 1.00, background 1.00
    assert got["colour"] >= 0.95 and got["background"] >= 0.95 and got["size"] >= 0.95
    assert got["all"] >= 0.25, f"shape, colour and background all right in {got['all']:.0%} of {N} images"


def test_guidance_raises_adherence(text2img):
    a1, a3, a75 = (text2img[g]["all"] for g in ("1.0", "3.0", "7.5"))
    print(f"guidance 1.0: {a1:.2f}, 3.0: {a3:.2f}, 7.5: {a75:.2f}")  # measured: 0.20, 0.36, 0.30
    assert a1 < a3 and a1 < a75


def test_negative_prompt_removes_red(pipe):
    got = evaluate.negative_prompt(pipe, n=N)
    print(got)  # measured: red 0.06 without, 0.00 with
    assert got["with"]["red"] <= 0.05
    assert got["with"]["red"] < got["without"]["red"]


def test_img2img_keeps_the_sketch_layout_and_follows_the_colours(pipe):
    got = evaluate.img2img(pipe, n=32, strength=0.6)
    print(got)  # measured: mean IoU 0.63, colours 1.00
    assert got["iou_mean"] >= 0.6
    assert got["colours"] >= 0.9


def test_vae_round_trip(pipe):
    got = evaluate.vae(pipe, n=256)
    print(got)  # measured: 31.7 dB; the judge reads 96% of round trips right, 64% of small stars
    assert got["psnr"] >= 31.0
    assert got["roundtrip"]["all"] >= 0.93
    assert got["roundtrip"]["small_star_shape"] >= 0.6
