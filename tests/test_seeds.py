import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from course_utils.checks import MAX_SEED
from course_utils.seeds import fixed_latents, generator, seed_everything


def _draws():
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_seed_everything_repeats_every_generator():
    assert seed_everything(123) == 123
    first = _draws()
    seed_everything(123)
    assert _draws() == first
    seed_everything(124)
    assert _draws() != first


def test_seed_everything_deterministic_flag():
    try:
        seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)


def test_seed_everything_accepts_the_extremes():
    assert seed_everything(0) == 0
    assert seed_everything(MAX_SEED) == MAX_SEED


@pytest.mark.parametrize("bad", [-1, MAX_SEED + 1])
def test_seed_out_of_range(bad):
    with pytest.raises(ValueError, match="between 0 and 4294967295.*pick a number in that range"):
        seed_everything(bad)


@pytest.mark.parametrize("bad", [1.5, "42", None, True])
def test_seed_not_a_whole_number(bad):
    with pytest.raises(TypeError, match="seed must be a whole number such as 0 or 42"):
        seed_everything(bad)


def test_generator_is_deterministic_and_on_cpu():
    g = generator(7)
    assert isinstance(g, torch.Generator) and g.device.type == "cpu"
    a = torch.randn(5, generator=g)
    b = torch.randn(5, generator=generator(7))
    assert torch.equal(a, b)
    assert not torch.equal(a, torch.randn(5, generator=generator(8)))


def test_generator_does_not_touch_the_global_rng():
    seed_everything(1)
    expected = torch.rand(3)
    seed_everything(1)
    torch.randn(10, generator=generator(99))
    assert torch.equal(torch.rand(3), expected)


def test_generator_rejects_bad_seed():
    with pytest.raises(ValueError, match="pick a number in that range"):
        generator(2**40)


def test_generator_rejects_unknown_device():
    with pytest.raises(ValueError, match="unknown device 'gpu': use one of 'cuda', 'mps', 'cpu'"):
        generator(0, device="gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_generator_rejects_missing_cuda():
    with pytest.raises(ValueError, match="not available on this machine: leave device='cpu'"):
        generator(0, device="cuda")


def stand_in_pipe(in_channels=4, sample_size=8, vae_scale_factor=8, dtype=torch.float32):
    """The attributes of a diffusers pipeline that fixed_latents reads, and nothing else."""
    return SimpleNamespace(
        unet=SimpleNamespace(config=SimpleNamespace(in_channels=in_channels, sample_size=sample_size)),
        vae_scale_factor=vae_scale_factor,
        device=torch.device("cpu"),
        dtype=dtype,
    )


def test_fixed_latents_default_shape_dtype_and_values():
    pipe = stand_in_pipe()
    latents = fixed_latents(pipe, 3)
    assert latents.shape == (1, 4, 8, 8) and latents.dtype == torch.float32 and latents.device.type == "cpu"
    assert torch.equal(latents, torch.randn((1, 4, 8, 8), generator=generator(3)))  # what a pipeline draws
    assert torch.equal(latents, fixed_latents(pipe, 3))
    assert not torch.equal(latents, fixed_latents(pipe, 4))


def test_fixed_latents_batch_and_size():
    pipe = stand_in_pipe(in_channels=4, sample_size=64)  # SD 1.5: 512 px, 64x64 latents
    assert fixed_latents(pipe, 0).shape == (1, 4, 64, 64)
    assert fixed_latents(pipe, 0, n=3, height=256, width=384).shape == (3, 4, 32, 48)


def test_fixed_latents_dtype_follows_pipe():
    latents = fixed_latents(stand_in_pipe(dtype=torch.float16), 0)
    assert latents.dtype == torch.float16
    # drawn directly in half precision, exactly as the pipeline does
    assert torch.equal(latents, torch.randn((1, 4, 8, 8), generator=generator(0), dtype=torch.float16))


def test_fixed_latents_rectangular_sample_size():
    pipe = stand_in_pipe(sample_size=(4, 6))
    assert fixed_latents(pipe, 0).shape == (1, 4, 4, 6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"height": 500}, "height=500 is not a multiple of 8.*use height=496 instead"),
        ({"width": 509}, "width=509 is not a multiple of 8.*use width=512 instead"),
        ({"height": 4}, "height=4 is not a multiple of 8.*use height=8 instead"),
        ({"height": 0}, "height=0 is not a multiple of 8.*use height=8 instead"),
    ],
)
def test_fixed_latents_rejects_sizes_the_vae_cannot_take(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fixed_latents(stand_in_pipe(), 0, **kwargs)


def test_fixed_latents_rejects_non_integer_size():
    with pytest.raises(TypeError, match="whole number of pixels such as 512"):
        fixed_latents(stand_in_pipe(), 0, height=64.0)


@pytest.mark.parametrize("bad", [0, -2, 1.0])
def test_fixed_latents_rejects_bad_n(bad):
    with pytest.raises(ValueError, match="whole number >= 1"):
        fixed_latents(stand_in_pipe(), 0, n=bad)


def test_fixed_latents_rejects_bad_seed():
    with pytest.raises(ValueError, match="between 0 and"):
        fixed_latents(stand_in_pipe(), -5)


@pytest.fixture
def plain_tiny_pipe(request):
    """conftest's tiny random Stable Diffusion, loaded by diffusers alone (not by course_utils.pipeline)."""
    try:
        folder = request.getfixturevalue("tiny_sd_dir")
    except pytest.FixtureLookupError:
        pytest.skip("tests/conftest.py has no tiny_sd_dir fixture yet")
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_fixed_latents_reproduce_the_pipeline(plain_tiny_pipe):
    pipe = plain_tiny_pipe
    latents = fixed_latents(pipe, 5, n=2)
    config = pipe.unet.config
    assert latents.shape == (2, config.in_channels, config.sample_size, config.sample_size)
    assert latents.dtype == pipe.dtype
    run = {
        "prompt": "a red circle",
        "num_inference_steps": 2,
        "num_images_per_prompt": 2,
        "output_type": "np",
    }
    from_latents = pipe(latents=latents, **run).images
    from_generator = pipe(generator=generator(5), **run).images
    np.testing.assert_array_equal(from_latents, from_generator)
