"""The bundled model's quality, measured by the judge. A retrained model that gets worse fails here.

The bars are the course's promises (issue "the shapes world, the judge and the bundled model"); the
numbers a full evaluation measured are in course_utils/mini/MODEL_CARD.md.
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
    print(got)
    assert got["all"] >= 0.90, f"shape, colour and background all right in {got['all']:.0%} of {N} images"


def test_adherence_rises_with_guidance(text2img):
    a1, a3, a75 = (text2img[g]["all"] for g in ("1.0", "3.0", "7.5"))
    print(f"guidance 1.0: {a1:.2f}, 3.0: {a3:.2f}, 7.5: {a75:.2f}")
    assert a1 < a3 <= a75 + 1 / N  # 3.0 and 7.5 may tie within one image of 64


def test_negative_prompt_removes_red(pipe):
    got = evaluate.negative_prompt(pipe, n=N)
    print(got)
    assert got["with"]["red"] <= 0.05
    assert got["with"]["red"] < got["without"]["red"] or got["without"]["red"] == 0


def test_img2img_keeps_the_sketch_layout_and_follows_the_colours(pipe):
    got = evaluate.img2img(pipe, n=32, strength=0.6)
    print(got)
    assert got["iou_mean"] >= 0.7
    assert got["colours"] >= 0.9


def test_vae_round_trip(pipe):
    got = evaluate.vae(pipe, n=256)
    print(got)
    assert got["psnr"] >= 28.0
    assert got["roundtrip"]["small_star_shape"] >= 0.9, "small stars must stay stars after a round trip"
