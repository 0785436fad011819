"""The bundled mini Stable Diffusion: built from the real classes, in SD's layout, loadable offline."""

import json

import pytest
from transformers import CLIPTokenizer

from course_utils import shapes
from course_utils.mini import MINI_DIR, mini_path
from course_utils.mini.model import MAX_TOKENS, _bpe_merges, build_tokenizer


def test_every_world_word_is_one_token(tmp_path):
    tok = build_tokenizer(tmp_path)
    for word in shapes.VOCAB_WORDS:
        ids = tok(word, add_special_tokens=False).input_ids
        assert len(ids) == 1, f"{word!r} splits into {tok.convert_ids_to_tokens(ids)}"
    # unknown words still tokenize (into pieces), nothing is lost
    assert len(tok("teal", add_special_tokens=False).input_ids) > 1


def test_bpe_merges_rebuild_each_training_word():
    words = ["red", "reed", "read", "ready", "bread"]
    merges = _bpe_merges(words)
    ranks = {m: i for i, m in enumerate(merges)}
    for w in words:  # apply the merges as a BPE tokenizer does: lowest rank first
        seg = list(w[:-1]) + [w[-1] + "</w>"]
        while len(seg) > 1:
            pairs = [(ranks.get((a, b), 1e9), i) for i, (a, b) in enumerate(zip(seg, seg[1:], strict=False))]
            rank, i = min(pairs)
            if rank == 1e9:
                break
            seg[i:i + 2] = [seg[i] + seg[i + 1]]
        assert seg == [w + "</w>"]


def test_bundled_model_layout():
    folder = mini_path()
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert index["unet"] == ["diffusers", "UNet2DConditionModel"]
    assert index["vae"] == ["diffusers", "AutoencoderKL"]
    assert index["text_encoder"] == ["transformers", "CLIPTextModel"]
    assert index["tokenizer"] == ["transformers", "CLIPTokenizer"]
    assert index["requires_safety_checker"] is False
    assert index["scheduler"] == ["diffusers", "EulerDiscreteScheduler"]  # the sampler it works with (model.py)
    assert (folder / "tokenizer" / "merges.txt").read_text().startswith("#version")
    assert (folder / "MODEL_CARD.md").exists()
    weights = list(folder.rglob("*.safetensors"))
    assert len(weights) >= 4 and not list(folder.rglob("*.bin")) and not list(folder.rglob("*.pt"))
    total = sum(p.stat().st_size for p in weights)
    assert total <= 40e6, f"weights are {total / 1e6:.1f} MB; the course promises at most 40 MB"
    sched = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
    assert (sched["beta_start"], sched["beta_end"], sched["beta_schedule"], sched["num_train_timesteps"]) == (
        0.00085, 0.012, "scaled_linear", 1000)
    # SD's settings for a sampler built from this config by hand: DDIM must not clip latents to [-1, 1]
    assert (sched["clip_sample"], sched["set_alpha_to_one"], sched["skip_prk_steps"]) == (False, False, True)


def test_bundled_tokenizer_loads_with_max_length():
    tok = CLIPTokenizer.from_pretrained(MINI_DIR / "tokenizer")
    assert tok.model_max_length == MAX_TOKENS
    assert tok("a large red circle on a blue background").input_ids[0] == tok.bos_token_id


def test_loads_with_plain_diffusers_pipelines():
    import torch
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(MINI_DIR)
    assert pipe.unet.dtype == torch.float32 and pipe.text_encoder.dtype == torch.float32
    assert pipe.vae_scale_factor == 8 and pipe.unet.config.sample_size == 8
    assert pipe.vae.config.latent_channels == 4
    img2img = StableDiffusionImg2ImgPipeline(**pipe.components)
    assert img2img.unet is pipe.unet


def test_mini_path_explains_a_missing_model(monkeypatch, tmp_path):
    import course_utils.mini as mini

    monkeypatch.setattr(mini, "MINI_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="make mini"):
        mini.mini_path()


def test_bundled_text_encoder_has_the_keys_every_transformers_version_loads():
    """transformers 5 saves CLIPTextModel keys without `text_model.`; transformers 4.x then loads none of them
    and silently starts from random weights (make test-oldest found it). The bundled file has the prefix."""
    from safetensors import safe_open

    from course_utils.mini import mini_path

    with safe_open(str(mini_path() / "text_encoder" / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert keys and all(k.startswith("text_model.") for k in keys)
