"""course_utils.pipeline: loading (offline-aware), device settings, schedulers, task switching and generate()'s
checks, on the tiny random Stable Diffusion from tests/tiny_sd.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from diffusers import (
    DDIMScheduler,
    EulerDiscreteScheduler,
    PNDMScheduler,
    StableDiffusionImg2ImgPipeline,
    StableDiffusionPipeline,
)
from PIL import Image

from course_utils import pipeline as pl
from course_utils.generation import generate
from course_utils.hub import CourseModelError, ModelNotFoundError, ModelOfflineError
from course_utils.pipeline import load_pipeline, switch_task, task_of
from course_utils.schedulers import SCHEDULERS, scheduler_name, set_scheduler
from course_utils.settings import plan_settings

GiB = 2**30
PROMPT = "a large red circle on a blue background"


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


# ---------------------------------------------------------------- loading


def test_loads_a_local_folder_on_the_cpu_quietly(tiny_sd_dir, capfd):
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipe = load_pipeline(tiny_sd_dir, device="cpu")
    err = capfd.readouterr().err.lower()
    assert isinstance(pipe, StableDiffusionPipeline)
    assert pipe.safety_checker is None
    assert "safety" not in err and "torchvision" not in err, err
    assert not [w for w in caught if "safety" in str(w.message).lower() or "dtype" in str(w.message)]
    assert pipe.dtype == torch.float32 and pipe.device.type == "cpu"
    assert isinstance(pipe.scheduler, EulerDiscreteScheduler)  # the course default, "euler"
    assert pipe.course_device.device == "cpu" and not pipe.course_device.attention_slicing
    assert pipe.course_model == str(tiny_sd_dir)


def test_default_model_comes_from_course_model(tiny_sd_dir, monkeypatch):
    monkeypatch.setenv("COURSE_MODEL", str(tiny_sd_dir))
    assert load_pipeline(device="cpu").course_model == str(tiny_sd_dir)


def test_img2img_task_and_model_scheduler(tiny_sd_dir):
    pipe = load_pipeline(tiny_sd_dir, task="img2img", device="cpu", scheduler="model")
    assert isinstance(pipe, StableDiffusionImg2ImgPipeline) and task_of(pipe) == "img2img"
    assert isinstance(pipe.scheduler, PNDMScheduler)  # the checkpoint's own


def test_unknown_task_is_refused(tiny_sd_dir):
    with pytest.raises(ValueError, match="'text2img', 'img2img'"):
        load_pipeline(tiny_sd_dir, task="inpaint", device="cpu")


def test_unknown_dtype_and_device_are_refused(tiny_sd_dir):
    with pytest.raises(ValueError, match="float16"):
        load_pipeline(tiny_sd_dir, device="cpu", dtype="int8")
    with pytest.raises(ValueError, match="'cuda', 'mps', 'cpu'"):
        load_pipeline(tiny_sd_dir, device="tpu")


def test_a_real_checkpoint_keeps_its_safety_checker_unless_asked(tmp_path):
    from tests.tiny_sd import save_tiny_sd

    folder = save_tiny_sd(tmp_path / "with-checker", safety_checker=True)
    kept = load_pipeline(folder, device="cpu")
    assert kept.safety_checker is not None and kept.feature_extractor is not None
    assert len(generate(kept, PROMPT, steps=2)) == 1
    dropped = load_pipeline(folder, device="cpu", safety_checker=False)
    assert dropped.safety_checker is None


def test_offline_hub_id_raises_a_clear_error(network_attempts):
    model = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    with pytest.raises(ModelOfflineError) as info:
        load_pipeline(model, device="cpu")
    message = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert model in message and "load_pipeline('mini')" in message and "offline" in message
    assert not network_attempts


def test_failed_download_raises_the_offline_error(monkeypatch):
    """Online, but the connection fails: the same clear error, naming the model and offering "mini"."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    def no_connection(*args, **kwargs):
        try:
            raise ConnectionError("Failed to resolve 'huggingface.co'")
        except ConnectionError as error:
            raise OSError("We couldn't connect to 'https://huggingface.co'") from error

    monkeypatch.setattr(pl.AutoPipelineForText2Image, "from_pretrained", no_connection)
    with pytest.raises(ModelOfflineError, match="'someone/some-model'.*'mini'"):
        load_pipeline("someone/some-model", device="cpu")


def test_hub_repository_not_found_is_explained(monkeypatch):
    from huggingface_hub import constants
    from huggingface_hub.errors import RepositoryNotFoundError

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    def missing(*args, **kwargs):
        import httpx

        url = "https://huggingface.co/api/models/someone/no-such-model"
        response = httpx.Response(404, request=httpx.Request("GET", url))
        raise RepositoryNotFoundError("404 Client Error", response=response)

    monkeypatch.setattr(pl.AutoPipelineForText2Image, "from_pretrained", missing)
    with pytest.raises(CourseModelError, match="check the spelling"):
        load_pipeline("someone/no-such-model", device="cpu")


def test_missing_local_folder_raises_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError) as info:
        load_pipeline(str(tmp_path / "no" / "such" / "model"), device="cpu")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, RuntimeError)
    assert "no folder" in str(info.value) and "model='mini'" in str(info.value)


def test_folder_that_is_not_a_pipeline_raises_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no model_index.json"):
        load_pipeline(tmp_path, device="cpu")


def test_missing_bundled_model_says_how_to_make_it(tmp_path, monkeypatch):
    import course_utils.mini as mini

    monkeypatch.setattr(mini, "MINI_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="make mini"):
        load_pipeline("mini", device="cpu")


def test_mini_loads_without_warnings_when_present(capfd):
    from course_utils.mini import mini_path

    try:
        mini_path()
    except FileNotFoundError:
        pytest.skip("the bundled mini model is not trained yet")
    capfd.readouterr()
    pipe = load_pipeline("mini", device="cpu")
    err = capfd.readouterr().err.lower()
    assert pipe.safety_checker is None and "safety" not in err and "torchvision" not in err
    assert pipe.course_model == "mini" and generate(pipe, PROMPT, steps=2)[0].size == (64, 64)


# ---------------------------------------------------------------- device settings


def test_plan_settings_for_a_big_gpu():
    s = plan_settings("cuda", 15 * GiB)
    assert s.dtype == torch.float16
    assert not (s.attention_slicing or s.vae_tiling or s.cpu_offload or s.compile_unet)
    assert plan_settings("cuda", 15 * GiB, bf16=True).dtype == torch.bfloat16
    assert plan_settings("cuda", 15 * GiB, compile=True).compile_unet


def test_plan_settings_for_a_small_gpu():
    small = plan_settings("cuda", int(3.5 * GiB))  # Stable Diffusion 1.5 in fp16 fits, with little room
    assert small.attention_slicing and small.vae_tiling and not small.cpu_offload
    tiny = plan_settings("cuda", 2 * GiB, compile=True)  # the weights alone barely fit: offload
    assert tiny.cpu_offload and tiny.attention_slicing and not tiny.compile_unet
    assert "GiB free" in tiny.describe()
    # a small model fits in a small GPU; and the learner can always overrule the plan
    assert not plan_settings("cuda", 2 * GiB, model_bytes=30_000_000).attention_slicing
    assert not plan_settings("cuda", 2 * GiB, low_memory=False).cpu_offload
    assert plan_settings("cuda", 15 * GiB, low_memory=True).attention_slicing


def test_plan_settings_for_apple_silicon_and_cpu():
    mac = plan_settings("mps", 16 * GiB)
    assert mac.dtype == torch.float32 and mac.attention_slicing and not mac.cpu_offload
    assert not plan_settings("mps", 128 * GiB).attention_slicing
    cpu = plan_settings("cpu", compile=True)
    assert cpu.dtype == torch.float32 and not (cpu.attention_slicing or cpu.compile_unet or cpu.cpu_offload)
    assert "only worth it on CUDA" in cpu.reason
    assert plan_settings("cpu", low_memory=True).vae_tiling
    with pytest.raises(ValueError, match="'cuda', 'mps' or 'cpu'"):
        plan_settings("xla")


def test_low_memory_savers_are_applied(tiny_sd_dir):
    pipe = load_pipeline(tiny_sd_dir, device="cpu", low_memory=True)
    assert pipe.course_device.attention_slicing and pipe.vae.use_tiling
    assert pipe.course_device.describe() == "cpu · float32 · attention slicing · VAE tiling"
    assert generate(pipe, PROMPT, steps=2)[0].size == (64, 64)


def test_gpu_settings_are_applied_in_order():
    from unittest import mock

    from course_utils.settings import Settings, apply_settings

    pipe = mock.MagicMock()
    apply_settings(pipe, Settings("cuda", torch.float16, True, True, cpu_offload=True), torch.device("cuda"))
    pipe.enable_model_cpu_offload.assert_called_once_with(device=torch.device("cuda"))
    pipe.to.assert_not_called()  # offload moves each model to the GPU when it runs
    pipe.enable_attention_slicing.assert_called_once_with()
    pipe.vae.enable_tiling.assert_called_once_with()
    pipe = mock.MagicMock()
    apply_settings(pipe, Settings("cuda", torch.bfloat16, compile_unet=True))
    pipe.to.assert_called_once_with(torch.device("cuda"))
    pipe.unet.compile.assert_called_once_with()
    pipe.enable_attention_slicing.assert_not_called()


# ---------------------------------------------------------------- schedulers and tasks


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_every_scheduler_swaps_in_and_samples(tiny_pipe, name):
    set_scheduler(tiny_pipe, name)
    assert type(tiny_pipe.scheduler).__name__ == SCHEDULERS[name] and scheduler_name(tiny_pipe) == name
    assert tiny_pipe.scheduler.config.beta_schedule == "scaled_linear"  # the noise schedule is kept
    assert generate(tiny_pipe, PROMPT, steps=3)[0].size == (64, 64)


def test_ddim_does_not_clip_latents(tiny_pipe):
    set_scheduler(tiny_pipe, "ddim")
    assert isinstance(tiny_pipe.scheduler, DDIMScheduler) and tiny_pipe.scheduler.config.clip_sample is False


def test_unknown_scheduler_lists_the_valid_ones(tiny_pipe, tiny_sd_dir):
    with pytest.raises(ValueError, match="unknown scheduler 'karras'.*'dpm\\+\\+'.*'euler_a'"):
        set_scheduler(tiny_pipe, "karras")
    with pytest.raises(ValueError, match="use one of"):
        load_pipeline(tiny_sd_dir, device="cpu", scheduler="karras")


def test_switch_task_shares_the_loaded_weights(tiny_pipe):
    img2img = switch_task(tiny_pipe, "img2img")
    assert isinstance(img2img, StableDiffusionImg2ImgPipeline)
    assert img2img.unet is tiny_pipe.unet and img2img.vae is tiny_pipe.vae
    assert img2img.text_encoder is tiny_pipe.text_encoder and img2img.dtype == tiny_pipe.dtype
    back = switch_task(img2img, "text2img")
    assert isinstance(back, StableDiffusionPipeline) and back.unet is tiny_pipe.unet
    assert switch_task(tiny_pipe, "text2img") is tiny_pipe
    assert img2img.course_device == tiny_pipe.course_device


# ---------------------------------------------------------------- generate


def test_generate_returns_pil_images_with_their_settings(tiny_pipe):
    images = generate(tiny_pipe, [PROMPT, "a green star"], negative_prompt="red", n=2, steps=4, seed=10)
    assert len(images) == 4 and all(isinstance(im, Image.Image) and im.size == (64, 64) for im in images)
    info = images[3].info["course_settings"]
    assert info["prompt"] == "a green star" and info["negative_prompt"] == "red" and info["seed"] == 13
    assert info["steps"] == 4 and info["guidance"] == 7.5 and info["scheduler"] == "euler"


def test_each_image_is_reproducible_alone(tiny_pipe):
    batch = generate(tiny_pipe, PROMPT, n=3, seed=5, steps=4)
    alone = generate(tiny_pipe, PROMPT, n=1, seed=7, steps=4)[0]
    # batched and single runs may round differently in the last bit; the picture is the same
    assert np.abs(pixels(batch[2]) - pixels(alone)).max() <= 2
    assert np.abs(pixels(batch[0]) - pixels(batch[1])).max() > 10  # different seeds, different pictures


def test_scheduler_argument_applies_to_one_call_only(tiny_pipe):
    images = generate(tiny_pipe, PROMPT, steps=3, scheduler="euler_a")
    assert images[0].info["course_settings"]["scheduler"] == "euler_a"
    assert isinstance(tiny_pipe.scheduler, EulerDiscreteScheduler)


def test_other_sizes_are_allowed_in_multiples_of_8(tiny_pipe):
    assert generate(tiny_pipe, PROMPT, steps=2, height=48, width=80)[0].size == (80, 48)


def test_image_to_a_text2img_pipeline_switches_automatically(tiny_pipe, tmp_path):
    start = Image.new("RGBA", (128, 128), (255, 0, 0, 255))
    path = tmp_path / "sketch.png"
    start.save(path)
    images = generate(tiny_pipe, PROMPT, image=path, strength=0.5, steps=4)
    assert images[0].size == (64, 64)  # resized to the model's own size
    assert images[0].info["course_settings"]["strength"] == 0.5
    assert images[0].info["course_settings"]["image"] == str(path)
    assert task_of(tiny_pipe) == "text2img"  # the learner's pipeline is left as it was


def test_a_list_of_images_is_one_image_per_prompt(tiny_pipe):
    red, blue = Image.new("RGB", (64, 64), (220, 40, 40)), Image.new("RGB", (64, 64), (40, 90, 220))
    batch = generate(tiny_pipe, [PROMPT, "a green star"], image=[red, blue], strength=0.5, steps=4, n=2, seed=3)
    assert len(batch) == 4
    pairs = [(PROMPT, red), (PROMPT, red), ("a green star", blue), ("a green star", blue)]  # n=2 per prompt
    alone = [generate(tiny_pipe, p, image=im, strength=0.5, steps=4, seed=3 + k)[0] for k, (p, im) in enumerate(pairs)]
    for b, a in zip(batch, alone, strict=True):
        assert np.abs(pixels(b) - pixels(a)).max() <= 2
    with pytest.raises(ValueError, match="3 images for 2 prompt.*one image per prompt"):
        generate(tiny_pipe, [PROMPT, "a green star"], image=[red, blue, red], strength=0.5, steps=4)


def test_img2img_pipeline_without_an_image_explains(tiny_pipe):
    with pytest.raises(ValueError, match="pass image=.*switch_task"):
        generate(switch_task(tiny_pipe, "img2img"), PROMPT)


@pytest.mark.parametrize(
    "kwargs, error, advice",
    [
        ({"height": 60}, ValueError, "not a multiple of 8.*use height=64"),
        ({"width": 70}, ValueError, "use width=72"),
        ({"height": 64.0}, TypeError, "whole number of pixels"),
        ({"steps": 0}, ValueError, "at least 1 step"),
        ({"steps": 2.5}, TypeError, "whole number such as 20"),
        ({"guidance": -1}, ValueError, "use 0 or more"),
        ({"guidance": "high"}, TypeError, "a number such as 7.5"),
        ({"guidance": float("nan")}, ValueError, "finite"),
        ({"prompt": ""}, ValueError, "empty: describe the picture"),
        ({"prompt": "   "}, ValueError, "empty: describe the picture"),
        ({"prompt": 42}, TypeError, "prompt must be text"),
        ({"prompt": []}, ValueError, "give at least one"),
        ({"prompt": ["a red circle", None]}, TypeError, "prompt number 1 in the list must be a string"),
        ({"prompt": ["a", "b"], "negative_prompt": ["x"]}, ValueError, "one negative prompt per prompt"),
        ({"negative_prompt": 3}, TypeError, "negative_prompt='red'"),
        ({"scheduler": "fast"}, ValueError, "unknown scheduler 'fast': use one of 'ddim', 'dpm\\+\\+'"),
        ({"seed": -1}, ValueError, "pick a smaller seed"),
        ({"seed": "0"}, TypeError, "whole number such as 0"),
        ({"n": 0}, ValueError, "at least one image"),
        (
            {"image": "no/such/sketch.png"},
            FileNotFoundError,
            "no image at 'no/such/sketch.png'.*check the file",
        ),
        ({"image": Image.new("RGB", (64, 64)), "strength": 1.5}, ValueError, "outside 0..1.*try 0.5 to 0.8"),
        ({"image": Image.new("RGB", (64, 64)), "strength": -0.1}, ValueError, "outside 0..1"),
        (
            {"image": Image.new("RGB", (64, 64)), "strength": 0.01},
            ValueError,
            "no denoising step.*at least 0.05",
        ),
    ],
)
def test_bad_input_says_what_to_do(tiny_pipe, kwargs, error, advice):
    kwargs = {"prompt": PROMPT, **kwargs}
    with pytest.raises(error, match=advice):
        generate(tiny_pipe, **kwargs)


def test_a_model_name_instead_of_a_pipeline_says_to_load_it():
    with pytest.raises(TypeError, match="load_pipeline\\('mini'\\)"):
        generate("mini", PROMPT)
