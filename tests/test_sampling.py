import numpy as np
import pytest
import torch
from PIL import Image

from course_utils import sampling, seeds
from course_utils.generation import generate
from course_utils.schedulers import set_scheduler

PROMPT = "a large red circle on a blue background"


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def max_diff(a, b) -> int:
    return max(int(np.abs(pixels(x) - pixels(y)).max()) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("scheduler", ["dpm++", "euler", "ddim"])
def test_sample_equals_the_pipeline(tiny_pipe, scheduler):
    set_scheduler(tiny_pipe, scheduler)
    kwargs = {"steps": 4, "guidance": 5.0, "seed": 3, "n": 2}
    assert max_diff(generate(tiny_pipe, [PROMPT, "a green star"], **kwargs),
                    sampling.sample(tiny_pipe, [PROMPT, "a green star"], **kwargs)) <= 1
    with_negative = {**kwargs, "negative_prompt": "red"}
    by_hand = sampling.sample(tiny_pipe, PROMPT, **with_negative)
    assert max_diff(generate(tiny_pipe, PROMPT, **with_negative), by_hand) <= 1


def test_guidance_one_is_the_text_prediction_and_zero_ignores_the_prompt(tiny_pipe):
    # diffusers skips the empty prompt for guidance <= 1; our loop runs it and gets the same at 1
    assert max_diff(generate(tiny_pipe, PROMPT, steps=4, guidance=1.0), sampling.sample(tiny_pipe, PROMPT, steps=4,
                                                                                         guidance=1.0)) <= 2
    red = sampling.sample(tiny_pipe, "a red square", steps=4, guidance=0.0)
    blue = sampling.sample(tiny_pipe, "a blue star", steps=4, guidance=0.0)
    assert max_diff(red, blue) == 0  # guidance 0: the empty prompt alone, whatever the prompt says


def test_start_latents_are_the_pipelines_noise_times_init_sigma(tiny_pipe):
    set_scheduler(tiny_pipe, "euler")
    tiny_pipe.scheduler.set_timesteps(5)
    latents = sampling.start_latents(tiny_pipe, seed=4, n=2)
    assert latents.shape == (2, 4, 8, 8)
    expected = seeds.fixed_latents(tiny_pipe, 5)[0] * tiny_pipe.scheduler.init_noise_sigma
    assert torch.allclose(latents[1], expected)
    assert tiny_pipe.scheduler.init_noise_sigma > 1


def test_encode_text_pads_to_full_length_and_accepts_the_empty_prompt(tiny_pipe):
    text = sampling.encode_text(tiny_pipe, [PROMPT, ""])
    assert text.shape[:2] == (2, tiny_pipe.tokenizer.model_max_length)
    assert torch.allclose(text[1:], sampling.encode_text(tiny_pipe, ""))
    with pytest.raises(TypeError, match="string or a non-empty list"):
        sampling.encode_text(tiny_pipe, [])
    with pytest.raises(TypeError, match="string or a non-empty list"):
        sampling.encode_text(tiny_pipe, 3)


@pytest.mark.parametrize("strength", [0.25, 0.5, 1.0])
def test_img2img_equals_the_pipeline(tiny_pipe, strength):
    images = [Image.new("RGB", (64, 64), (220, 40, 40)), Image.new("RGB", (64, 64), (40, 90, 220))]
    by_hand = sampling.img2img(tiny_pipe, images, [PROMPT, "a green star"], strength=strength, steps=8, seed=2)
    pipeline = generate(tiny_pipe, [PROMPT, "a green star"], image=images, strength=strength, steps=8, seed=2)
    assert max_diff(by_hand, pipeline) <= 2


def test_timesteps_for_strength_keeps_the_last_steps(tiny_pipe):
    timesteps = sampling.timesteps_for_strength(tiny_pipe, 10, 0.3)
    assert len(timesteps) == 3
    assert torch.equal(timesteps, tiny_pipe.scheduler.timesteps[-3:])
    with pytest.raises(ValueError, match="leaves no denoising step"):
        sampling.timesteps_for_strength(tiny_pipe, 10, 0.05)


def test_img2img_and_encode_image_check_their_counts(tiny_pipe):
    image = Image.new("RGB", (64, 64), "white")
    with pytest.raises(ValueError, match="2 images but 3 prompts"):
        sampling.img2img(tiny_pipe, [image, image], ["a", "b", "c"], steps=4)
    with pytest.raises(ValueError, match="one generator per image"):
        sampling.encode_image(tiny_pipe, [image, image], [seeds.generator(0)])
    assert sampling.encode_image(tiny_pipe, image, 0).shape == (1, 4, 8, 8)
