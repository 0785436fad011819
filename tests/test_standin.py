"""The SD-1.5 stand-in: Stable Diffusion 1.5's structure with random weights, built offline (course_utils.standin).
It must look to the pipeline exactly like the real checkpoint: CLIP's own tokenizer, 77 positions, 768-wide
text states, 4 latent channels at a factor of 8, SD's scaling factor and schedule; and it must run in bfloat16,
so that a float32 tensor sent into it fails here as it would on a GPU."""

from __future__ import annotations

import pytest
import torch

from course_utils import standin


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return standin.save_standin(tmp_path_factory.mktemp("standin") / "sd15")


def test_tokenizer_is_clips_own(folder):
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(folder / "tokenizer")
    assert len(tok) == 49408 and tok.model_max_length == 77
    # ids of CLIP ViT-L/14's tokenizer, as SD 1.5 uses it: <|startoftext|> a photo of a cat <|endoftext|>
    assert tok("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tok("A Photo of a CAT").input_ids == tok("a photo of a cat").input_ids  # CLIP lower-cases
    assert tok.pad_token == tok.eos_token == "<|endoftext|>"
    long = tok("red " * 100, padding="max_length", truncation=True, max_length=tok.model_max_length).input_ids
    assert len(long) == 77 and long[-1] == 49407


def test_structure_is_sd15s(folder):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(folder, dtype=torch.bfloat16)
    unet, vae, text = pipe.unet.config, pipe.vae.config, pipe.text_encoder.config
    assert unet.down_block_types == list(standin.SD15_UNET["down_block_types"])
    assert unet.up_block_types == list(standin.SD15_UNET["up_block_types"])
    assert unet.cross_attention_dim == text.hidden_size == 768 and unet.layers_per_block == 2
    assert vae.latent_channels == 4 and vae.scaling_factor == 0.18215 and len(vae.block_out_channels) == 4
    assert pipe.vae_scale_factor == 8 and unet.sample_size * 8 == vae.sample_size == 128
    assert text.max_position_embeddings == 77 and text.vocab_size == 49408
    assert type(pipe.scheduler).__name__ == "PNDMScheduler" and pipe.scheduler.config.steps_offset == 1
    assert pipe.unet.dtype == pipe.text_encoder.dtype == pipe.vae.dtype == torch.bfloat16


def test_runs_in_bfloat16_and_refuses_float32_tensors(folder):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(folder, dtype=torch.bfloat16)
    pipe.set_progress_bar_config(disable=True)
    image = pipe("a red circle", num_inference_steps=2, generator=torch.Generator().manual_seed(0)).images[0]
    assert image.size == (128, 128)  # the native size: unet.sample_size × 8
    with pytest.raises(RuntimeError):  # what a stray float32 tensor meets on a GPU in half precision
        pipe.vae.encode(torch.zeros(1, 3, 128, 128))


def test_full_size_is_sd15_exactly():
    assert standin.SIZES == ("slim", "full")
    assert standin.SD15_UNET["block_out_channels"] == (320, 640, 1280, 1280)
    with pytest.raises(ValueError, match="unknown size"):
        standin.build_standin("huge")


def test_a_folder_of_another_size_is_refused_not_reused(folder):
    assert standin.save_standin(folder) == folder  # the same size: reused as it is
    with pytest.raises(ValueError, match="another size"):
        standin.save_standin(folder, size="full")


def test_missing_merges_file_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(standin.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps open_clip_torch"):
        standin.clip_merges_file()
