"""course_utils.measure: the share of pictures that pass a judge test, paired before/after comparisons, and the
errors a learner meets. Rendered shapes stand in for generated pictures where the judge's answer must be known."""

import numpy as np
import pytest

from course_utils import judge, shapes
from course_utils.generation import generate_each
from course_utils.measure import Measurement, drift, measure, score


def render(shape, colour="red", background="blue", size="large"):
    return shapes.render(shapes.Scene(shape, colour, background, size, 32.0, 32.0, 20.0 if size == "large" else 13.0))


def is_circle(verdict):
    return verdict.shape == "circle"


def test_score_counts_the_pictures_that_pass_the_test():
    images = [render("circle"), render("moon"), render("circle", "green", "white")]
    prompts = ["a large red circle on a blue background"] * 3
    m = score(images, prompts, is_circle)
    assert isinstance(m, Measurement) and m.n == 3
    assert m.passed == (True, False, True) and m.rate == pytest.approx(2 / 3)
    assert str(m) == "0.67 (2/3)"
    assert [v.shape for v in m.verdicts] == ["circle", "moon", "circle"] and m.prompts == tuple(prompts)
    assert score(images, prompts, judge.is_subject).passed == (False, True, False)


def test_as_asked_requires_what_each_prompt_names():
    images = [render("moon", "red", "blue"), render("moon", "green", "blue"), render("moon", "red", "white")]
    prompts = ["a red sks circle on a blue background"] * 3
    m = score(images, prompts, judge.is_subject, as_asked=("colour", "background"))
    assert m.passed == (True, False, False)
    # an attribute the prompt does not name is not asked for
    assert score(images, ["a sks circle"] * 3, judge.is_subject, as_asked=("colour",)).rate == 1.0
    # as_asked alone, with no test; a single name works as well as a tuple
    assert score(images, prompts, as_asked="colour").passed == (True, False, True)
    # the prompt's shape word can be asked for too: "circle" is not what a moon shows
    assert score(images, prompts, as_asked=("shape",)).rate == 0.0


def test_drift_compares_each_picture_with_its_own_earlier_version():
    prompts = ["a circle"] * 4
    before = score([render("circle")] * 3 + [render("moon")], prompts, is_circle)
    after = score([render("circle"), render("moon"), render("moon"), render("circle")], prompts, is_circle)
    assert drift(before, after) == {"before": 0.75, "after": 0.5, "lost": 0.5, "gained": 0.25}
    assert drift(before, before) == {"before": 0.75, "after": 0.75, "lost": 0.0, "gained": 0.0}


def test_drift_refuses_what_cannot_be_paired():
    a = score([render("circle")], ["a circle"], is_circle)
    b = score([render("circle")], ["a red circle"], is_circle)
    with pytest.raises(ValueError, match="same prompts"):
        drift(a, b)
    with pytest.raises(TypeError, match="Measurement"):
        drift(0.5, a)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"test": None}, ValueError, "say what a picture must show"),
    ({"test": "circle"}, TypeError, "function of the judge's Verdict"),
    ({"test": is_circle, "as_asked": ("color",)}, ValueError, "spelled 'colour'"),
    ({"test": is_circle, "as_asked": ("shade",)}, ValueError, "choose among"),
])
def test_score_explains_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        score([render("circle")], ["a circle"], **kwargs)


def test_score_measure_and_generate_each_check_the_prompts(tiny_pipe):
    with pytest.raises(ValueError, match="2 pictures for 1 prompts"):
        score([render("circle")] * 2, ["a circle"], is_circle)
    with pytest.raises(ValueError, match="no prompts"):
        score([], [], is_circle)
    with pytest.raises(TypeError, match="prompt 1 must be a string"):
        score([render("circle")] * 2, ["a circle", 3], is_circle)
    with pytest.raises(ValueError, match="prompt 0 is empty"):
        measure(tiny_pipe, ["  "], is_circle)
    with pytest.raises(ValueError, match="the prompt is empty"):
        generate_each(tiny_pipe, ["  "])
    with pytest.raises(ValueError, match="batch_size"):
        generate_each(tiny_pipe, ["a circle"], batch_size=0)


def test_generate_each_in_batches_gives_the_pictures_of_one_call(tiny_pipe):
    prompts = ["a red circle", "a blue square", "a green circle", "a red square", "a blue circle"]
    whole = generate_each(tiny_pipe, prompts, seed=7, steps=2, guidance=3.0, batch_size=32)
    batched = generate_each(tiny_pipe, prompts, seed=7, steps=2, guidance=3.0, batch_size=2)
    assert len(whole) == len(batched) == 5 and whole[0].size == (64, 64)
    for a, b in zip(whole, batched, strict=True):
        assert np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).max() <= 1
    assert [im.info["course_settings"]["seed"] for im in batched] == [7, 8, 9, 10, 11]
    assert not np.array_equal(np.asarray(whole[0]), np.asarray(whole[2]))


def test_measure_makes_and_judges_one_picture_per_prompt(tiny_pipe):
    m = measure(tiny_pipe, ["a red circle", "a blue square", "a green circle"], is_circle, steps=2)
    assert m.n == 3 and len(m.images) == 3 and all(isinstance(v, judge.Verdict) for v in m.verdicts)
    assert m.rate == sum(v.shape == "circle" for v in m.verdicts) / 3
    again = measure(tiny_pipe, ["a red circle", "a blue square", "a green circle"], is_circle, steps=2)
    assert drift(m, again)["lost"] == 0.0  # same prompts, same seeds: the same pictures
    with pytest.raises(ValueError, match="say what a picture must show"):
        measure(tiny_pipe, ["a red circle"])
