"""The helpers that let one lesson run on any model: what the judge can measure (`world`), tensors on the
pipeline's device and dtype (`placement`), noise drawn as diffusers draws it (`seeds.noise`), and batches sized
to the device (`settings.batch_size`, used by `generation.generate`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils import generation, placement, runtime, seeds, settings, world
from course_utils.generation import generate
from course_utils.pipeline import load_pipeline


def test_the_judge_measures_only_the_shapes_world(tiny_pipe, capsys):
    tiny_pipe.course_model = "mini"
    assert world.draws_shapes(tiny_pipe) and world.judge_measures(tiny_pipe, "anything")
    assert capsys.readouterr().out == ""
    tiny_pipe.course_model = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert not world.judge_measures(tiny_pipe, "guidance raises adherence")
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and "guidance raises adherence" in line and "stable-diffusion-v1-5" in line


def test_picture_counts_follow_the_model(tiny_pipe, monkeypatch):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    tiny_pipe.course_model = "mini"
    assert world.pictures(tiny_pipe, 64) == 64
    tiny_pipe.course_model = "some/model"
    assert world.pictures(tiny_pipe, 64) == world.FEW and world.pictures(tiny_pipe, 3) == 3
    monkeypatch.setenv("COURSE_QUICK", "1")
    assert world.pictures(tiny_pipe, 64) == world.FEW // 2
    with pytest.raises(ValueError, match="whole number"):
        world.pictures(tiny_pipe, 0)


def test_to_pipe_moves_floats_to_the_pipeline_dtype_and_keeps_integers(tiny_sd_dir):
    pipe = load_pipeline(tiny_sd_dir, dtype="bfloat16")
    x = placement.to_pipe(torch.zeros(2, 3), pipe)
    ids = placement.to_pipe(torch.tensor([[1, 2]]), pipe)
    assert x.dtype == torch.bfloat16 and ids.dtype == torch.int64
    assert placement.to_pipe(torch.zeros(1), pipe, pipe.vae).dtype == pipe.vae.dtype
    with pytest.raises(TypeError, match="torch.tensor"):
        placement.to_pipe([1.0], pipe)


def test_course_dtype_chooses_the_dtype(tiny_sd_dir, monkeypatch):
    monkeypatch.setenv("COURSE_DTYPE", "bfloat16")
    assert runtime.default_dtype() == "bfloat16"
    assert load_pipeline(tiny_sd_dir).dtype == torch.bfloat16
    monkeypatch.setenv("COURSE_DTYPE", "float8")
    with pytest.raises(ValueError, match="unknown dtype"):
        load_pipeline(tiny_sd_dir)


def test_noise_is_drawn_in_the_pipeline_dtype_as_diffusers_draws_it(tiny_sd_dir):
    from diffusers.utils.torch_utils import randn_tensor

    pipe = load_pipeline(tiny_sd_dir, dtype="bfloat16")
    drawn = seeds.noise(pipe, (1, 4, 8, 8), 3)
    expected = randn_tensor((1, 4, 8, 8), generator=torch.Generator().manual_seed(3), dtype=torch.bfloat16)
    assert drawn.dtype == torch.bfloat16 and torch.equal(drawn, expected)
    assert torch.equal(seeds.fixed_latents(pipe, 3), seeds.noise(pipe, seeds.fixed_latents(pipe, 3).shape, 3))


def test_batch_plan():
    per = settings.picture_bytes(512, 512)
    assert per == settings.SD15_PICTURE_BYTES
    assert settings.picture_bytes(1024, 1024, dtype=torch.float32) == 8 * per
    assert settings.plan_batch(None, per, 64) == 64
    assert settings.plan_batch(10 * per + 1, per, 64) == 10
    with pytest.raises(MemoryError, match="smaller height and width"):
        settings.plan_batch(per // 2, per, 1)


def test_many_pictures_in_several_calls_are_the_pictures_of_one_call(tiny_pipe, monkeypatch):
    prompts = ["a red circle", "a blue square"]
    whole = generate(tiny_pipe, prompts, n=3, seed=5, steps=4, negative_prompt=["green", "yellow"])
    calls = []
    monkeypatch.setattr(generation, "batch_size", lambda pipe, h, w, wanted: calls.append(wanted) or 2)
    parts = generate(tiny_pipe, prompts, n=3, seed=5, steps=4, negative_prompt=["green", "yellow"])
    assert calls == [6] and len(parts) == 6
    for a, b in zip(whole, parts, strict=True):
        assert np.abs(np.asarray(a, float) - np.asarray(b, float)).max() <= 1  # float rounding only
        assert a.info["course_settings"] == b.info["course_settings"]


def test_img2img_in_several_calls(tiny_pipe, monkeypatch):
    from PIL import Image

    image = Image.new("RGB", (64, 64), (200, 30, 30))
    whole = generate(tiny_pipe, ["a", "b", "c"], image=image, steps=4, seed=1)
    monkeypatch.setattr(generation, "batch_size", lambda *args: 1)
    parts = generate(tiny_pipe, ["a", "b", "c"], image=image, steps=4, seed=1)
    for a, b in zip(whole, parts, strict=True):
        assert np.abs(np.asarray(a, float) - np.asarray(b, float)).max() <= 1


def test_a_size_the_device_cannot_hold_is_refused_before_it_runs(tiny_pipe, monkeypatch):
    monkeypatch.setattr(settings.runtime, "_ram_bytes", lambda: 2 * settings.GiB)
    with pytest.raises(MemoryError, match=r"GiB is free after the weights"):
        generate(tiny_pipe, "a red circle", height=4096, width=4096)
