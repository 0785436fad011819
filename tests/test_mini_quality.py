"""The bundled model's quality, measured by the judge. A retrained model that gets worse fails here.

These are floors a little under what the committed model measures on these fixed prompts and seeds (the
run is deterministic on one machine). The course's targets are higher for shape adherence (>= 0.90 at
guidance 7.5) and img2img layout (IoU >= 0.7); MODEL_CARD.md says where the model stands. Raise a floor
whenever a retrained model beats it; never lower one to let a worse model in.

v0.2 traded on purpose (MODEL_CARD.md, "v0.1 → v0.2"): full-prompt adherence rose from 0.30 to 0.47 here, while
img2img's colour following fell from 1.00 to 0.88 on these 32 sketches and adherence at guidance 7.5 no longer
clearly beats guidance 1.0 (0.47 against 0.45). Those two floors were lowered with it, and say so below.
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
    print(got)  # measured on the committed model (v0.2): all 0.47, shape 0.47, colour 0.95, background 0.95
    assert got["colour"] >= 0.93 and got["background"] >= 0.93 and got["size"] >= 0.95
    assert got["all"] >= 0.42, f"shape, colour and background all right in {got['all']:.0%} of {N} images"


def test_guidance_raises_adherence(text2img):
    a1, a3, a75 = (text2img[g]["all"] for g in ("1.0", "3.0", "7.5"))
    print(f"guidance 1.0: {a1:.2f}, 3.0: {a3:.2f}, 7.5: {a75:.2f}")  # measured (v0.2): 0.45, 0.56, 0.47
    assert a3 >= a1 + 0.05, "guidance 3 should follow the prompt clearly better than no guidance"
    # v0.1 also passed a1 < a75 (0.20 < 0.30); v0.2 holds it by one image in 64 (0.45 < 0.47), too thin to
    # assert across machines: the target, adherence rising all the way to 7.5, is open.
    assert a75 >= a1 - 0.05


def test_negative_prompt_removes_red(pipe):
    got = evaluate.negative_prompt(pipe, n=N)
    print(got)  # measured (v0.2): red 0.05 without, 0.00 with; circles 1.00 and 0.98
    assert got["with"]["red"] <= 0.05
    assert got["with"]["red"] < got["without"]["red"]


def test_img2img_keeps_the_sketch_layout_and_follows_the_colours(pipe):
    got = evaluate.img2img(pipe, n=32, strength=0.6)
    print(got)  # measured (v0.2): mean IoU 0.62, colours 0.88 (v0.1: 0.63, 1.00)
    assert got["iou_mean"] >= 0.6
    assert got["colours"] >= 0.84  # lowered from 0.9 with v0.2, see the module's docstring


def test_vae_round_trip(pipe):
    got = evaluate.vae(pipe, n=256)
    print(got)  # measured: 31.7 dB; the judge reads 96% of round trips right, 64% of small stars
    assert got["psnr"] >= 31.0
    assert got["roundtrip"]["all"] >= 0.93
    assert got["roundtrip"]["small_star_shape"] >= 0.6
