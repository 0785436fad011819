"""course_utils.dreambooth: class pictures from the model itself, and prior preservation as a weighting of the
data that course_utils.finetune trains on."""

import numpy as np
import pytest
import torch

from course_utils import shapes
from course_utils.dreambooth import class_images, class_prompts, prior_preservation_data
from course_utils.finetune import finetune
from course_utils.pipeline import load_pipeline


@pytest.fixture(scope="module")
def subject():
    return [(im, f"a {s.colour} sks circle on a {s.background} background") for im, s in shapes.subject_images(4)]


@pytest.fixture(scope="module")
def classes():
    return [(shapes.render(s), f"a {s.colour} circle on a {s.background} background")
            for s in shapes.scenes(16, seed=5, shapes=("circle",))]


def test_prior_preservation_balances_the_subject_and_weights_the_class(subject, classes):
    data = prior_preservation_data(subject, classes, prior_weight=0.5)
    subject_part = [d for d in data if "sks" in d[1]]
    class_part = [d for d in data if "sks" not in d[1]]
    assert len(class_part) == 16 and len(subject_part) == 16  # 4 pictures repeated 4 times: half the examples
    assert all(w == 1.0 for _, _, w in subject_part) and all(w == 0.5 for _, _, w in class_part)
    assert [c for _, c, _ in class_part] == [c for _, c in classes]
    assert all(len(d) == 3 and isinstance(d[2], float) for d in data)


@pytest.mark.parametrize("share, repeats", [(0.5, 4), (0.25, 1), (0.8, 16), (0.05, 1)])
def test_subject_share_sets_how_often_the_subject_is_repeated(subject, classes, share, repeats):
    data = prior_preservation_data(subject, classes, subject_share=share)
    assert sum("sks" in c for _, c, _ in data) == repeats * len(subject)


def test_without_class_pictures_it_is_the_subject_alone(subject):
    data = prior_preservation_data(subject)
    assert [(c, w) for _, c, w in data] == [(c, 1.0) for _, c in subject]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"subject": []}, ValueError, "subject is empty"),
    ({"subject": "a sks circle"}, TypeError, "list of \\(image, caption\\) pairs"),
    ({"subject": [("image",)]}, ValueError, "subject\\[0\\] must be an \\(image, caption\\) pair"),
    ({"subject": [(None, 3)]}, TypeError, "caption must be a non-empty string"),
    ({"prior_weight": -1}, ValueError, "prior_weight"),
    ({"prior_weight": True}, ValueError, "prior_weight"),
    ({"subject_share": 1.0}, ValueError, "subject_share"),
    ({"subject_share": 0}, ValueError, "subject_share"),
])
def test_bad_arguments_are_explained(subject, classes, kwargs, error, message):
    args = {"subject": subject, "classes": classes, **kwargs}
    with pytest.raises(error, match=message):
        prior_preservation_data(args.pop("subject"), args.pop("classes"), **args)


def test_a_subject_caption_without_its_token_is_refused(subject, classes):
    image, caption = classes[0]
    with pytest.raises(ValueError, match="rare token"):
        prior_preservation_data(subject + [(image, caption)], classes)


def test_class_images_are_the_models_own_pictures_of_the_prompts(tiny_pipe):
    prompts = ["a red circle", "a blue circle", "a green circle"]
    pairs = class_images(tiny_pipe, prompts, seed=3, steps=2, batch_size=2)
    assert [p for _, p in pairs] == prompts
    assert all(im.size == (64, 64) for im, _ in pairs)
    assert [im.info["course_settings"]["seed"] for im, _ in pairs] == [3, 4, 5]
    again = class_images(tiny_pipe, "a red circle", seed=3, steps=2)
    assert len(again) == 1 and np.abs(np.asarray(again[0][0], int) - np.asarray(pairs[0][0], int)).max() <= 1
    with pytest.raises(ValueError, match="no prompts"):
        class_images(tiny_pipe, [])


def test_finetune_trains_on_the_weighted_data(tiny_sd_dir, subject, classes):
    pipe = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
    before = {k: v.clone() for k, v in pipe.unet.state_dict().items()}
    data = prior_preservation_data(subject, classes[:4], prior_weight=1.0)
    run = finetune(pipe, data, steps=2, batch_size=4, lr=1e-3)
    assert len(run.losses) == 2 and all(np.isfinite(run.losses))
    assert any(not torch.equal(before[k], v) for k, v in pipe.unet.state_dict().items())
    # weight 0 on every example: the loss is 0, whatever the model predicts
    silent = [(im, c, 0.0) for im, c, _ in prior_preservation_data(subject, classes[:4], prior_weight=0.0)
              if "sks" not in c]
    assert finetune(pipe, silent, steps=1, batch_size=4).losses == [0.0]


def test_class_prompts_are_the_subject_captions_without_the_token():
    captions = ["a small red sks circle on a black background", "a large blue sks circle on a white background"]
    assert class_prompts(captions, "sks") == ["a small red circle on a black background",
                                              "a large blue circle on a white background"]
    assert class_prompts(captions, "sks", repeats=3) == class_prompts(captions, "sks") * 3
    assert class_prompts("a sks circle", "sks") == ["a circle"]
    # only the whole word goes: a word that merely contains the token stays
    assert class_prompts(["a sks circle on a sksy background"], "sks") == ["a circle on a sksy background"]


@pytest.mark.parametrize("captions, token, repeats, error, message", [
    (["a red circle"], "sks", 1, ValueError, "does not contain the token"),
    (["sks"], "sks", 1, ValueError, "the token alone"),
    ([], "sks", 1, ValueError, "no captions"),
    ([3], "sks", 1, TypeError, "must be a string"),
    (["a sks circle"], "sks circle", 1, ValueError, "one word"),
    (["a sks circle"], "", 1, ValueError, "one word"),
    (["a sks circle"], "sks", 0, ValueError, "repeats"),
    (["a sks circle"], "sks", 1.5, ValueError, "repeats"),
])
def test_class_prompts_explain_bad_arguments(captions, token, repeats, error, message):
    with pytest.raises(error, match=message):
        class_prompts(captions, token, repeats=repeats)
