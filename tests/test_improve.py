"""course_utils.improve: the gentle second pass is generate's img2img with the pass's settings, upscaling
enlarges after the pass (or before it, for the hires fix), and every result says how it was made."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from course_utils.generation import generate
from course_utils.improve import DEFAULTS, enlarge, improve
from course_utils.provenance import SETTINGS_KEY

PROMPTS = ["a red circle", "a large blue star on a white background"]


@pytest.fixture
def drafts(tiny_pipe):
    return generate(tiny_pipe, PROMPTS, steps=4, seed=3, guidance=7.5)


def pixels(image):
    return np.asarray(image, dtype=np.int16)


def test_the_pass_is_img2img_at_low_strength_with_the_drafts_prompts(tiny_pipe, drafts):
    better = improve(tiny_pipe, drafts, steps=4, seed=10)
    same = generate(tiny_pipe, PROMPTS, image=drafts, strength=DEFAULTS["strength"],
                    guidance=DEFAULTS["guidance"], steps=4, seed=10)
    assert [im.size for im in better] == [(64, 64)] * 2
    assert all(np.array_equal(pixels(a), pixels(b)) for a, b in zip(better, same, strict=True))
    assert not np.array_equal(pixels(better[0]), pixels(drafts[0]))  # it did redraw something
    again = improve(tiny_pipe, drafts, steps=4, seed=10)
    assert all(np.array_equal(pixels(a), pixels(b)) for a, b in zip(better, again, strict=True))


def test_results_keep_the_drafts_settings_and_describe_the_pass(tiny_pipe, drafts):
    better = improve(tiny_pipe, drafts, strength=0.4, guidance=2.0, steps=5, seed=7)
    for k, (draft, im) in enumerate(zip(drafts, better, strict=True)):
        settings = im.info[SETTINGS_KEY]
        assert {key: settings[key] for key in draft.info[SETTINGS_KEY]} == draft.info[SETTINGS_KEY]
        assert settings["guidance"] == 7.5 and settings["seed"] == 3 + k  # the draft's own
        assert settings["improve"] == {
            "prompt": PROMPTS[k], "negative_prompt": None, "strength": 0.4, "guidance": 2.0, "steps": 5,
            "seed": 7 + k, "upscale": 1.0, "hires": False, "height": 64, "width": 64,
        }
    assert SETTINGS_KEY in drafts[0].info and "improve" not in drafts[0].info[SETTINGS_KEY]  # drafts untouched


def test_prompts_given_override_and_one_prompt_serves_all(tiny_pipe, drafts):
    better = improve(tiny_pipe, drafts, "a green heart", steps=4)
    assert [im.info[SETTINGS_KEY]["improve"]["prompt"] for im in better] == ["a green heart"] * 2
    plain = [Image.new("RGB", (64, 64), "red")]  # no settings at all: a prompt is needed
    with pytest.raises(ValueError, match="carries no prompt"):
        improve(tiny_pipe, plain, steps=4)
    out = improve(tiny_pipe, plain[0], "a red square", steps=4)
    assert len(out) == 1 and out[0].info[SETTINGS_KEY]["prompt"] == "a red square"


def test_the_drafts_negative_prompt_is_kept(tiny_pipe):
    drafts = generate(tiny_pipe, "a circle", negative_prompt="red", steps=4, n=2)
    better = improve(tiny_pipe, drafts, steps=4)
    same = generate(tiny_pipe, ["a circle"] * 2, negative_prompt="red", image=drafts, strength=0.5,
                    guidance=3.0, steps=4)
    assert all(np.array_equal(pixels(a), pixels(b)) for a, b in zip(better, same, strict=True))
    assert better[0].info[SETTINGS_KEY]["improve"]["negative_prompt"] == "red"


def test_upscale_enlarges_after_the_pass(tiny_pipe, drafts):
    small = improve(tiny_pipe, drafts, steps=4)
    big = improve(tiny_pipe, drafts, steps=4, upscale=2)
    assert [im.size for im in big] == [(128, 128)] * 2
    # exactly the 64-px pass, enlarged with Lanczos: no model ran at 128 px
    assert np.array_equal(pixels(big[0]), pixels(small[0].resize((128, 128), Image.Resampling.LANCZOS)))
    assert big[0].info[SETTINGS_KEY]["improve"]["upscale"] == 2.0
    assert big[0].info[SETTINGS_KEY]["improve"]["width"] == 128


def test_hires_enlarges_first_and_runs_the_pass_at_the_larger_size(tiny_pipe, drafts):
    hires = improve(tiny_pipe, drafts, strength=0.25, steps=4, seed=2, upscale=2, hires=True)
    enlarged = [im.resize((128, 128), Image.Resampling.LANCZOS) for im in drafts]
    same = generate(tiny_pipe, PROMPTS, image=enlarged, strength=0.25, guidance=3.0, steps=4, seed=2,
                    height=128, width=128)
    assert [im.size for im in hires] == [(128, 128)] * 2
    assert all(np.array_equal(pixels(a), pixels(b)) for a, b in zip(hires, same, strict=True))
    assert hires[0].info[SETTINGS_KEY]["improve"]["hires"] is True


def test_enlarge_keeps_settings_and_rounds_to_multiples_of_8(drafts):
    big = enlarge(drafts, 1.5)
    assert [im.size for im in big] == [(96, 96)] * 2
    assert big[0].info[SETTINGS_KEY] == drafts[0].info[SETTINGS_KEY]
    assert enlarge(Image.new("RGB", (40, 24)), 1.3)[0].size == (48, 32)
    same = enlarge(drafts[0], 1)[0]
    assert same is not drafts[0] and np.array_equal(pixels(same), pixels(drafts[0]))


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"strength": 1.5}, ValueError, "outside 0..1"),
    ({"strength": 0.01}, ValueError, "leaves no denoising step"),
    ({"guidance": -1}, ValueError, "negative"),
    ({"upscale": 0.5}, ValueError, "outside 1..8"),
    ({"upscale": "2x"}, TypeError, "upscale must be a number"),
    ({"hires": "yes"}, TypeError, "hires must be True or False"),
    ({"prompts": ["a", "b", "c"]}, ValueError, "2 images but 3 prompts"),
    ({"seed": -1}, ValueError, "seed=-1"),
])
def test_bad_input_gets_a_clear_message(tiny_pipe, drafts, kwargs, error, match):
    with pytest.raises(error, match=match):
        improve(tiny_pipe, drafts, **{"steps": 4, **kwargs})


def test_empty_or_mixed_inputs_are_refused(tiny_pipe, drafts):
    with pytest.raises(ValueError, match="the list is empty"):
        improve(tiny_pipe, [], "a red circle")
    with pytest.raises(ValueError, match="differ in size"):
        improve(tiny_pipe, [drafts[0], Image.new("RGB", (32, 32))], "a red circle", steps=4)
    with pytest.raises(TypeError, match="expected a PIL image"):
        enlarge(["not an image"])
