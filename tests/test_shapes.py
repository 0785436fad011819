"""The shapes world: renders, scenes, captions, datasets and sketches are exact, seeded and checked."""

import random

import numpy as np
import pytest
import torch
from PIL import Image

from course_utils import shapes as S
from course_utils.images import tensor_to_pil, to_tensor

CONCEPT_TRIPLE = (S.CONCEPT["shape"], S.CONCEPT["colour"], S.CONCEPT["background"])


def _words(text: str) -> list[str]:
    return text.replace(",", " , ").split()


# ---------------------------------------------------------------- rendering
@pytest.mark.parametrize("shape", S.ALL_SHAPES)
@pytest.mark.parametrize("style", S.STYLES)
def test_render_is_64px_rgb_with_exact_background(shape, style):
    rng = random.Random(0)
    for size in S.SIZES:
        scene = S.random_scene(rng, shapes=(shape,), style=style, size=size)
        image = S.render(scene)
        assert image.mode == "RGB" and image.size == (S.SIZE, S.SIZE)
        a = np.asarray(image)
        frame = np.concatenate([a[:2].reshape(-1, 3), a[-2:].reshape(-1, 3), a[:, :2].reshape(-1, 3),
                                a[:, -2:].reshape(-1, 3)])
        assert (frame == S.COLOURS[scene.background]).all(), "the shape must never touch the frame"
        near = (np.abs(a.astype(int) - S.COLOURS[scene.colour]) <= 16).all(axis=2)
        assert near.sum() > 20, "the shape carries its colour (up to the anti-aliasing's ringing)"


def test_render_size_matches_the_radius():
    areas = {size: [S.foreground_mask(s).sum() for s in S.scenes(60, 1, shapes=("circle",), size=size)]
             for size in S.SIZES}
    assert max(areas["small"]) < np.pi * 14.5**2 and min(areas["large"]) > np.pi * 18.5**2
    for scene in S.scenes(200, 2, shapes=S.ALL_SHAPES):
        lo, hi = S.RADIUS[scene.size]
        assert lo <= scene.radius <= hi
        assert abs(scene.cx - 32) <= S.JITTER[scene.size] and abs(scene.cy - 32) <= S.JITTER[scene.size]


def test_outlined_render_leaves_the_inside_to_the_background():
    scene = S.Scene("square", "red", "blue", "large", 32.0, 32.0, 20.0)
    flat, outlined = np.asarray(S.render(scene)), np.asarray(S.render(S.Scene(**{**scene.attributes(),
                                                                                   "style": S.STYLE})))
    assert (flat[32, 32] == S.COLOURS["red"]).all() and (outlined[32, 32] == S.COLOURS["blue"]).all()
    assert np.abs(outlined[32, 32 - 14].astype(int) - S.COLOURS["red"]).max() <= 16  # on the outline


def test_foreground_mask_and_render_many():
    scene_list = S.scenes(5, 3)
    mask = S.foreground_mask(scene_list[0])
    assert mask.shape == (64, 64) and mask.dtype == bool and 100 < mask.sum() < 2000
    batch = S.render_many(scene_list)
    assert batch.shape == (5, 64, 64, 3) and batch.dtype == np.uint8
    assert (batch[2] == np.asarray(S.render(scene_list[2]))).all()
    assert S.render_many([]).shape == (0, 64, 64, 3)


def test_tensor_round_trip():
    image = S.render(S.scenes(1, 4)[0])
    t = to_tensor(image)
    assert t.shape == (3, 64, 64) and t.dtype == torch.float32 and t.min() >= -1 and t.max() <= 1
    assert (np.asarray(tensor_to_pil(t)) == np.asarray(image)).all()
    with pytest.raises(ValueError, match="3, H, W"):
        tensor_to_pil(torch.zeros(1, 3, 64, 64))


# ---------------------------------------------------------------- scenes and datasets
def test_scenes_are_deterministic():
    assert S.scenes(50, 7) == S.scenes(50, 7)
    assert S.scenes(50, 7) != S.scenes(50, 8)
    assert S.scenes(0, 7) == []


def test_colour_never_equals_background():
    for kwargs in ({}, {"shapes": S.ALL_SHAPES, "style": S.STYLE}, {"colour": "red"}, {"background": "red"}):
        assert all(s.colour != s.background for s in S.scenes(2000, 5, **kwargs))


def test_the_concept_never_appears_in_base_scenes():
    for kwargs in ({}, {"shapes": S.ALL_SHAPES}, {"style": S.STYLE}):
        triples = {(s.shape, s.colour, s.background) for s in S.scenes(20000, 6, **kwargs)}
        assert CONCEPT_TRIPLE not in triples
    assert all((s.shape, s.colour, s.background) == CONCEPT_TRIPLE for _, s in S.concept_images(4))


def test_the_concept_never_appears_when_another_attribute_is_fixed():
    for kwargs in ({"size": "small"}, {"shape": "heart"}, {"background": "orange"}):
        triples = {(s.shape, s.colour, s.background) for s in S.scenes(5000, 6, **kwargs)}
        assert CONCEPT_TRIPLE not in triples, kwargs
    with pytest.raises(ValueError, match="exclude_concept=False"):
        S.scenes(1, 0, **S.CONCEPT)
    with pytest.raises(ValueError, match="choose one of"):
        S.scenes(1, 0, colour="teal")


def test_held_out_sets():
    assert all(s.shape == S.SUBJECT for _, s in S.subject_images(6))
    assert all(s.style == S.STYLE for _, s in S.style_images(8))
    assert S.SUBJECT not in {s.shape for s in S.scenes(2000, 9)}
    assert {s.style for s in S.scenes(2000, 9)} == {"flat"}


def test_dataset_is_deterministic():
    a, b = S.ShapesDataset(12, seed=3), S.ShapesDataset(12, seed=3)
    assert len(a) == 12
    for i in range(12):
        (ta, ca), (tb, cb) = a[i], b[i]
        assert torch.equal(ta, tb) and ca == cb
        assert ta.shape == (3, 64, 64) and ta.dtype == torch.float32 and -1 <= ta.min() and ta.max() <= 1
    assert a[5][1] == a[5][1], "the same index always gives the same caption"
    full = S.ShapesDataset(4, seed=3, full_captions=True)
    assert [full[i][1] for i in range(4)] == [S.full_caption(s) for s in a.scenes[:4]]
    assert [c for _, c in S.ShapesDataset(12, seed=4)] != [a[i][1] for i in range(12)]


# ---------------------------------------------------------------- captions
def test_captions_use_only_vocabulary_words():
    rng = random.Random(10)
    scene_list = S.scenes(500, 10, shapes=S.ALL_SHAPES) + S.scenes(200, 11, style=S.STYLE)
    for s in scene_list:
        for text in (S.caption(s, rng), S.full_caption(s)):
            assert set(_words(text)) <= set(S.VOCAB_WORDS), text
            assert "sks" not in _words(text)


def test_full_caption_round_trips():
    for s in S.scenes(300, 12, shapes=S.ALL_SHAPES) + S.scenes(100, 13, style=S.STYLE):
        named = S.scene_from_caption(S.full_caption(s))
        assert named == {"shape": s.shape, "colour": s.colour, "background": s.background, "size": s.size,
                         "style": S.STYLE if s.style == S.STYLE else None}


def test_partial_captions_never_contradict_the_scene():
    rng = random.Random(14)
    left_out = set()
    for s in S.scenes(500, 14):
        named = S.scene_from_caption(S.caption(s, rng))
        for key, value in named.items():
            if value is None:
                left_out.add(key)
            elif key != "style":
                assert value == getattr(s, key)
    assert {"shape", "colour", "background", "size"} <= left_out


def test_scene_from_caption_reads_templates():
    assert S.scene_from_caption("small yellow heart, black background") == {
        "shape": "heart", "colour": "yellow", "background": "black", "size": "small", "style": None}
    assert S.scene_from_caption("a green star")["background"] is None
    assert S.scene_from_caption("red background") == {
        "shape": None, "colour": None, "background": "red", "size": None, "style": None}
    assert S.scene_from_caption("") == dict.fromkeys(("shape", "colour", "background", "size", "style"))


# ---------------------------------------------------------------- bad inputs
def test_bad_inputs_raise_helpful_errors():
    good = S.Scene("circle", "red", "blue", "large", 32.0, 32.0, 20.0)
    for key, value in (("shape", "hexagon"), ("colour", "teal"), ("size", "huge"), ("style", "shaded")):
        with pytest.raises(ValueError, match="choose one of"):
            S.render(S.Scene(**{**good.attributes(), key: value}))
    with pytest.raises(ValueError, match="must differ"):
        S.render(S.Scene(**{**good.attributes(), "background": "red"}))
    with pytest.raises(ValueError, match="differ"):
        S.random_scene(random.Random(0), colour="red", background="red")
    with pytest.raises(TypeError, match="cannot fix 'color'"):
        S.random_scene(random.Random(0), color="red")
    for n in (-1, 2.5, "3"):
        with pytest.raises(ValueError, match="non-negative integer"):
            S.scenes(n, 0)
    with pytest.raises(TypeError, match="string"):
        S.scene_from_caption(None)


# ---------------------------------------------------------------- sketches
def test_sketch_is_64px_rgb_and_seeded():
    scene = S.scenes(1, 15)[0]
    a, b, c = S.sketch(scene, seed=1), S.sketch(scene, seed=1), S.sketch(scene, seed=2)
    assert isinstance(a, Image.Image) and a.mode == "RGB" and a.size == (64, 64)
    assert (np.asarray(a) == np.asarray(b)).all() and not (np.asarray(a) == np.asarray(c)).all()
