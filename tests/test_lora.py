"""LoRA on the UNet (course_utils.lora), on the tiny random Stable Diffusion: what is added, what trains, saving
and loading back, the scale, fusing, and the errors a learner meets."""

import logging

import pytest
import torch
from safetensors import safe_open

from course_utils import shapes
from course_utils.finetune import finetune
from course_utils.lora import TARGETS, WEIGHT_NAME, adapter_names, add_lora, load_lora, save_lora
from course_utils.pipeline import load_pipeline
from course_utils.tokens import token_ids


@pytest.fixture(scope="module")
def data():
    return [(image, shapes.full_caption(scene)) for image, scene in shapes.style_images(4, seed=2)]


def unet_out(pipe):
    """The UNet's noise prediction for fixed latents, timestep and prompt: what every picture is made of."""
    g = torch.Generator().manual_seed(0)
    size = pipe.unet.config.sample_size
    latents = torch.randn((1, 4, size, size), generator=g)
    ids = token_ids(pipe.tokenizer, ["a red circle"])
    with torch.no_grad():
        return pipe.unet(latents, 500, encoder_hidden_states=pipe.text_encoder(ids)[0]).sample


def base_weights(pipe):
    return {k.replace(".base_layer", ""): v.detach().clone() for k, v in pipe.unet.state_dict().items()
            if "lora_" not in k}


def nudge(params, seed=1):
    """Give the B's (zero at first) some values, as training would."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in params:
            p.add_(0.5 * torch.randn(p.shape, generator=g))


def test_add_lora_adds_zero_updates_and_returns_only_their_parameters(pipe):
    before = unet_out(pipe)
    rank = 3
    params = add_lora(pipe, rank=rank)
    assert adapter_names(pipe) == ["default"]
    lora = {n: p for n, p in pipe.unet.named_parameters() if "lora_" in n}
    assert {id(p) for p in params} == {id(p) for p in lora.values()} and len(params) == len(lora)
    assert all(p.requires_grad and p.dtype == torch.float32 for p in params)
    # one A (rank × d_in) and one B (d_out × rank) per targeted layer, rank·(d_in + d_out) numbers in all
    layers = [m for n, m in pipe.unet.named_modules() if n.endswith(tuple("." + t for t in TARGETS))]
    assert layers and len(params) == 2 * len(layers)
    expected = sum(rank * (m.base_layer.in_features + m.base_layer.out_features) for m in layers)
    assert sum(p.numel() for p in params) == expected
    assert all(torch.count_nonzero(p) == 0 for n, p in lora.items() if "lora_B" in n), "B starts at zero"
    assert torch.equal(unet_out(pipe), before), "a fresh LoRA leaves the pictures unchanged"


def test_the_seed_fixes_the_random_start_and_leaves_the_global_generator_alone(tiny_sd_dir):
    starts = []
    for seed in (0, 0, 1):
        pipe = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
        torch.manual_seed(123)
        params = add_lora(pipe, rank=2, seed=seed)
        starts.append(torch.cat([p.detach().flatten() for p in params]))
        after = torch.rand(1)
        torch.manual_seed(123)
        assert torch.equal(after, torch.rand(1)), "add_lora should not draw from the global generator"
    assert torch.equal(starts[0], starts[1]) and not torch.equal(starts[0], starts[2])


def test_targets_choose_the_layers(pipe):
    params = add_lora(pipe, rank=2, targets=["to_q"])
    names = [n for n, p in pipe.unet.named_parameters() if "lora_" in n]
    assert names and all(".to_q.lora_" in n for n in names) and len(params) == len(names)


def test_finetune_trains_the_lora_and_nothing_else(pipe, data):
    base = base_weights(pipe)
    params = add_lora(pipe, rank=2)
    start = [p.detach().clone() for p in params]
    finetune(pipe, data, train=params, steps=2, batch_size=2, lr=1e-2)
    assert any(not torch.equal(a, p) for a, p in zip(start, params, strict=True)), "the LoRA should learn"
    after = base_weights(pipe)
    assert after.keys() == base.keys() and all(torch.equal(base[k], after[k]) for k in base), "base is frozen"


def test_save_and_load_round_trip_exactly_with_rank_and_alpha(pipe, tiny_sd_dir, tmp_path):
    params = add_lora(pipe, rank=2, alpha=8)  # alpha ≠ rank: the file must carry it, or the scale comes back wrong
    nudge(params)
    trained = unet_out(pipe)
    path = save_lora(pipe, tmp_path / "lora")
    assert path == tmp_path / "lora" / WEIGHT_NAME and path.is_file()
    with safe_open(str(path), "pt") as f:
        keys = list(f.keys())
    assert keys and all(k.startswith("unet.") and ".lora." in k for k in keys), "only the A's and B's are saved"
    assert sum(p.numel() for p in params) * 4 < path.stat().st_size < sum(p.numel() for p in params) * 4 + 50_000

    fresh = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
    base = unet_out(fresh)
    assert load_lora(fresh, tmp_path / "lora", name="style") == "style"
    assert adapter_names(fresh) == ["style"]
    config = fresh.unet.peft_config["style"]
    assert (config.r, config.lora_alpha) == (2, 8)
    assert torch.allclose(unet_out(fresh), trained, atol=1e-6)
    assert not torch.allclose(base, trained, atol=1e-3)
    load_lora(fresh, path, name="again")  # the file itself works too
    assert adapter_names(fresh) == ["style", "again"]


def test_load_lora_does_not_warn_that_a_unet_lora_has_no_text_encoder_part(pipe, tiny_sd_dir, tmp_path, caplog):
    add_lora(pipe)
    save_lora(pipe, tmp_path)
    fresh = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
    caplog.set_level(logging.WARNING)
    load_lora(fresh, tmp_path)
    assert not [r for r in caplog.records if "No LoRA keys" in r.getMessage()]
    fresh.load_lora_weights(str(tmp_path), adapter_name="plain")  # diffusers' own call does warn (the test can fail)
    assert [r for r in caplog.records if "No LoRA keys" in r.getMessage()]


def test_scale_zero_and_unloading_give_the_base_back(pipe):
    base = unet_out(pipe)
    nudge(add_lora(pipe, rank=2))
    full = unet_out(pipe)
    pipe.set_adapters("default", adapter_weights=0.0)
    assert torch.equal(unet_out(pipe), base)
    pipe.set_adapters("default", adapter_weights=0.5)
    half = unet_out(pipe)
    assert not torch.allclose(half, base) and not torch.allclose(half, full)
    pipe.set_adapters("default", adapter_weights=1.0)
    assert torch.equal(unet_out(pipe), full)
    pipe.unload_lora_weights()
    assert adapter_names(pipe) == [] and torch.equal(unet_out(pipe), base)


def test_fuse_bakes_the_update_in_and_unfuse_takes_it_out(pipe, tmp_path):
    base, weights = unet_out(pipe), base_weights(pipe)
    nudge(add_lora(pipe, rank=2))
    with_lora = unet_out(pipe)
    pipe.fuse_lora()
    assert torch.allclose(unet_out(pipe), with_lora, atol=1e-4)
    fused = base_weights(pipe)
    assert not torch.allclose(fused["down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_q.weight"],
                              weights["down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_q.weight"])
    with pytest.raises(ValueError, match="unfuse_lora"):
        save_lora(pipe, tmp_path)
    pipe.unfuse_lora()
    restored = base_weights(pipe)
    assert max((restored[k] - weights[k]).abs().max().item() for k in weights) < 1e-5
    pipe.unload_lora_weights()
    assert torch.allclose(unet_out(pipe), base, atol=1e-5)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"rank": 0}, ValueError, "rank must be a positive whole number"),
    ({"rank": 2.5}, ValueError, "rank must be a positive whole number"),
    ({"rank": True}, ValueError, "rank must be a positive whole number"),
    ({"rank": "4"}, ValueError, "rank must be a positive whole number"),
    ({"alpha": 0}, ValueError, "alpha must be a positive number"),
    ({"alpha": "8"}, ValueError, "alpha must be a positive number"),
    ({"targets": ["to_x"]}, ValueError, "target 'to_x' names no Linear or Conv2d layer.*to_q"),
    ({"targets": ["to_q", "query"]}, ValueError, "target 'query'"),
    ({"targets": []}, ValueError, "non-empty list"),
    ({"targets": 5}, TypeError, "targets must be a list"),
    ({"seed": 1.5}, ValueError, "seed must be a whole number"),
    ({"name": ""}, ValueError, "name must be a non-empty string"),
])
def test_add_lora_rejects_bad_settings(pipe, kwargs, error, match):
    with pytest.raises(error, match=match):
        add_lora(pipe, **kwargs)
    assert adapter_names(pipe) == [], "a refused call adds nothing"


def test_add_lora_refuses_a_second_adapter_of_the_same_name(pipe):
    add_lora(pipe)
    with pytest.raises(ValueError, match="already has a LoRA adapter named 'default'.*delete_adapters"):
        add_lora(pipe)
    add_lora(pipe, name="second")
    assert adapter_names(pipe) == ["default", "second"]


def test_save_lora_needs_one_adapter_to_save(pipe, tmp_path):
    with pytest.raises(ValueError, match="no LoRA adapter to save.*add_lora"):
        save_lora(pipe, tmp_path)
    add_lora(pipe)
    add_lora(pipe, name="second")
    with pytest.raises(ValueError, match="several LoRA adapters.*name="):
        save_lora(pipe, tmp_path)
    with pytest.raises(ValueError, match="no LoRA adapter named 'third'"):
        save_lora(pipe, tmp_path, name="third")
    assert save_lora(pipe, tmp_path, name="second").is_file()


def test_load_lora_rejects_what_it_cannot_load(pipe, tmp_path):
    with pytest.raises(FileNotFoundError, match="no LoRA at.*save_lora"):
        load_lora(pipe, tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no .safetensors file"):
        load_lora(pipe, tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="safetensors only"):
        load_lora(pipe, tmp_path / "weights.bin")
    add_lora(pipe, name="style")
    folder = tmp_path / "saved"
    save_lora(pipe, folder)
    with pytest.raises(ValueError, match="already has a LoRA adapter named 'style'"):
        load_lora(pipe, folder, name="style")


def test_a_pipe_without_a_unet_is_refused(tmp_path):
    for call in (lambda: add_lora(object()), lambda: save_lora("pipe", tmp_path), lambda: adapter_names(None),
                 lambda: load_lora(3, tmp_path)):
        with pytest.raises(TypeError, match="load_pipeline"):
            call()


def text_out(pipe):
    ids = token_ids(pipe.tokenizer, ["a red circle"])
    with torch.no_grad():
        return pipe.text_encoder(ids)[0]


def test_a_text_encoder_lora_trains_saves_loads_scales_and_unloads_with_the_unets(pipe, tiny_sd_dir, tmp_path,
                                                                                     data):
    base_text, base_unet = text_out(pipe), unet_out(pipe)
    params = add_lora(pipe, rank=2, text_encoder=True)
    unet_lora = [p for n, p in pipe.unet.named_parameters() if "lora_" in n]
    text_lora = [p for n, p in pipe.text_encoder.named_parameters() if "lora_" in n]
    text_layers = [n for n, _ in pipe.text_encoder.named_modules() if n.endswith((".q_proj", ".k_proj", ".v_proj",
                                                                                 ".out_proj"))]
    assert text_layers and len(text_lora) == 2 * len(text_layers)
    assert {id(p) for p in params} == {id(p) for p in unet_lora + text_lora}
    assert torch.equal(text_out(pipe), base_text), "B starts at zero: the text encoder's output is unchanged"
    run = finetune(pipe, data, train=params, steps=2, lr=1e-2, batch_size=2, seed=0)
    assert len(run.losses) == 2
    trained_text, trained_unet = text_out(pipe), unet_out(pipe)
    assert not torch.equal(trained_text, base_text), "the text encoder's adapters trained"
    path = save_lora(pipe, tmp_path)
    with safe_open(str(path), "pt") as f:
        keys = list(f.keys())
    assert any(k.startswith("text_encoder.") for k in keys) and any(k.startswith("unet.") for k in keys)
    fresh = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
    load_lora(fresh, tmp_path, name="both")
    assert torch.allclose(text_out(fresh), trained_text, atol=1e-6)
    assert torch.allclose(unet_out(fresh), trained_unet, atol=1e-5)
    fresh.set_adapters("both", adapter_weights=0.0)
    assert torch.equal(text_out(fresh), base_text) and torch.allclose(unet_out(fresh), base_unet, atol=1e-6)
    fresh.unload_lora_weights()
    assert not [n for n, _ in fresh.text_encoder.named_parameters() if "lora_" in n]
    assert torch.equal(text_out(fresh), base_text)


def test_text_encoder_must_be_a_bool(pipe):
    with pytest.raises(TypeError, match="True or False"):
        add_lora(pipe, text_encoder="yes")
