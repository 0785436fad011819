"""The fine-tuning loop (course_utils.finetune), on the tiny random Stable Diffusion: what trains, what stays,
resuming, checkpoints, zero-shot captions, and the errors a learner meets."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from course_utils import shapes
from course_utils.captions import caption_images
from course_utils.finetune import FinetuneRun, finetune, latest_checkpoint
from course_utils.images import to_tensor
from course_utils.pipeline import load_pipeline


@pytest.fixture(scope="module")
def data():
    return [(image, shapes.full_caption(scene)) for image, scene in shapes.style_images(6, seed=2)]


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before, module):
    return [k for k, v in module.state_dict().items() if not torch.equal(before[k], v)]


def test_finetune_trains_the_unet_only_and_returns_the_losses(pipe, data):
    unet, vae, text = snapshot(pipe.unet), snapshot(pipe.vae), snapshot(pipe.text_encoder)
    run = finetune(pipe, data, steps=3, batch_size=2, lr=1e-3)
    assert isinstance(run, FinetuneRun) and not run.resumed
    assert (run.start, run.end, run.steps) == (0, 3, [1, 2, 3])
    assert len(run.losses) == 3 and all(np.isfinite(run.losses)) and run.seconds > 0
    assert changed(unet, pipe.unet), "the UNet should have learned"
    assert not changed(vae, pipe.vae) and not changed(text, pipe.text_encoder)
    assert not any(p.requires_grad for m in (pipe.unet, pipe.vae, pipe.text_encoder) for p in m.parameters())
    assert not pipe.unet.training


def test_finetune_is_deterministic_given_the_seed(tiny_sd_dir, data):
    runs = []
    for seed in (0, 0, 1):
        pipe = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
        runs.append(finetune(pipe, data, steps=2, batch_size=2, seed=seed).losses)
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_finetune_can_train_the_text_encoder_or_chosen_parameters(tiny_sd_dir, data):
    pipe = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
    unet, text = snapshot(pipe.unet), snapshot(pipe.text_encoder)
    finetune(pipe, data, train="text_encoder", steps=2, batch_size=2, lr=1e-3)
    assert changed(text, pipe.text_encoder) and not changed(unet, pipe.unet)

    # textual inversion's recipe (lesson 09): one embedding matrix trains, a gradient mask keeps all rows but one
    pipe = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
    embeddings = pipe.text_encoder.get_input_embeddings().weight
    before, unet = embeddings.detach().clone(), snapshot(pipe.unet)
    row = pipe.tokenizer.convert_tokens_to_ids("red</w>")
    mask = torch.zeros_like(embeddings[:, :1])
    mask[row] = 1
    hook = embeddings.register_hook(lambda grad: grad * mask)
    with_red = [(image, caption + " red") for image, caption in data]
    finetune(pipe, with_red, train=[embeddings], steps=2, batch_size=2, lr=1e-2, weight_decay=0.0,
             empty_prompt_prob=0.0)
    hook.remove()
    moved = (embeddings.detach() - before).abs().sum(1).nonzero().flatten().tolist()
    assert moved == [row] and not changed(unet, pipe.unet)


def test_sample_weights_scale_each_example(pipe, data):
    unet = snapshot(pipe.unet)
    weightless = [(image, caption, 0.0) for image, caption in data]
    run = finetune(pipe, weightless, steps=2, batch_size=2, weight_decay=0.0)
    assert run.losses == [0.0, 0.0] and not changed(unet, pipe.unet)


def test_a_stopped_run_resumes_exactly(tiny_sd_dir, data, tmp_path):
    whole = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
    reference = finetune(whole, data, steps=5, batch_size=2, lr=1e-3, folder=tmp_path / "whole", save_every=2)

    pipe = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
    first = finetune(pipe, data, steps=5, batch_size=2, lr=1e-3, folder=tmp_path / "run", save_every=2,
                     stop_after=3)
    assert first.end == 3 and latest_checkpoint(tmp_path / "run").name == "step-000002"
    pipe = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)  # a new session: fresh weights
    second = finetune(pipe, data, steps=5, batch_size=2, lr=1e-3, folder=tmp_path / "run", save_every=2)
    assert second.resumed and (second.start, second.end, second.steps) == (2, 5, [3, 4, 5])
    assert second.losses[0] == first.losses[2], "the replayed step 3 should repeat exactly"
    assert second.losses == reference.losses[2:]
    for k, v in whole.unet.state_dict().items():
        assert torch.equal(v, pipe.unet.state_dict()[k]), k


def test_checkpoints_are_safetensors_and_only_the_newest_is_kept(pipe, data, tmp_path):
    finetune(pipe, data, steps=4, batch_size=2, folder=tmp_path, save_every=2)
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert folders == ["step-000004"]
    last = latest_checkpoint(tmp_path)
    assert sorted(p.name for p in last.iterdir()) == ["config.json", "state.pt", "unet.safetensors"]
    weights = load_file(str(last / "unet.safetensors"))
    assert weights.keys() == pipe.unet.state_dict().keys()
    saved = json.loads((last / "config.json").read_text())
    assert saved["step"] == 4 and saved["config"]["batch_size"] == 2
    torch.load(last / "state.pt", weights_only=True)  # no pickled code: readable without trusting it


def test_finished_run_resumes_to_nothing_and_another_run_is_refused(tiny_sd_dir, data, tmp_path):
    pipe = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
    finetune(pipe, data, steps=2, batch_size=2, folder=tmp_path)
    again = finetune(pipe, data, steps=2, batch_size=2, folder=tmp_path)
    assert (again.start, again.end, again.losses) == (2, 2, [])
    with pytest.raises(ValueError, match="another run.*new folder"):
        finetune(pipe, data, steps=2, batch_size=4, folder=tmp_path)
    # a resume with another learning rate would silently mix two runs: refused, saying what differs
    with pytest.raises(ValueError, match=r"another run \(lr: 0.0001 there, 0.001 here\): resume with the same settings"):
        finetune(pipe, data, steps=3, batch_size=2, lr=1e-3, folder=tmp_path)


def test_latest_checkpoint_of_an_empty_or_missing_folder(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    assert latest_checkpoint(tmp_path / "nothing-here") is None
    (tmp_path / "step-000009.tmp").mkdir()  # a save that was killed half-way is not a checkpoint
    assert latest_checkpoint(tmp_path) is None


@pytest.mark.parametrize("kwargs, error, match", [
    ({"steps": 0}, ValueError, "steps must be a whole number"),
    ({"steps": 2.5}, ValueError, "steps must be a whole number"),
    ({"lr": -1}, ValueError, "lr must be a positive number"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"stop_after": 9}, ValueError, "stop_after must be between 1 and steps"),
    ({"empty_prompt_prob": 1.0}, ValueError, "empty_prompt_prob"),
    ({"train": "vae"}, ValueError, "VAE never trains"),
    ({"train": []}, ValueError, "no parameters"),
    ({"train": [torch.nn.Parameter(torch.zeros(2))]}, ValueError, "not in pipe.unet"),
    ({"train": [3]}, TypeError, "list of parameters"),
])
def test_finetune_rejects_bad_settings(pipe, data, kwargs, error, match):
    with pytest.raises(error, match=match):
        finetune(pipe, data, **{"steps": 2, "batch_size": 2, **kwargs})


def test_finetune_rejects_bad_data(pipe, data):
    image = data[0][0]
    cases = [
        (5, TypeError, "sequence"),
        ([], ValueError, "empty"),
        ([image], ValueError, r"\(image, caption\)"),
        ([(image, 3)], TypeError, "caption must be a string"),
        ([(image, "a"), (image.resize((32, 32)), "b")], ValueError, "differ in size"),
        ([(to_tensor(image) * 127.5 + 127.5, "a")], ValueError, r"\[-1, 1\]"),
        ([(np.zeros((64, 64, 3)), "a")], TypeError, "PIL image"),
    ]
    for bad, error, match in cases:
        with pytest.raises(error, match=match):
            finetune(pipe, bad, steps=1, batch_size=1)


def test_finetune_needs_a_pipeline_in_float32(tiny_sd_dir, data):
    with pytest.raises(TypeError, match="load_pipeline"):
        finetune(object(), data, steps=1)
    half = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
    half.unet.to(torch.float16)
    with pytest.raises(ValueError, match="float32"):
        finetune(half, data, steps=1)


def test_caption_images_reads_flat_shapes_and_writes_the_style():
    scenes = shapes.scenes(24, seed=99)
    captions = caption_images([shapes.render(s) for s in scenes])
    read = [shapes.scene_from_caption(c) for c in captions]
    for attribute in ("colour", "background"):
        assert np.mean([r[attribute] == getattr(s, attribute) for r, s in zip(read, scenes, strict=True)]) > 0.8
    styled = caption_images([to_tensor(shapes.render(scenes[0]))], style=shapes.STYLE)
    assert len(styled) == 1 and shapes.scene_from_caption(styled[0])["style"] == shapes.STYLE
    assert styled[0] == shapes.full_caption(shapes.Scene(**{**shapes.scene_from_caption(captions[0]),
                                                             "cx": 0, "cy": 0, "radius": 1, "style": "outlined"}))


def test_caption_images_rejects_bad_input():
    image = shapes.render(shapes.scenes(1, seed=0)[0])
    with pytest.raises(ValueError, match="no images"):
        caption_images([])
    with pytest.raises(ValueError, match="unknown style"):
        caption_images([image], style="dotted")
    with pytest.raises(TypeError, match="PIL image"):
        caption_images(["picture.png"])
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        caption_images([torch.full((3, 64, 64), 200.0)])


def test_caption_images_keeps_only_the_attributes_asked_for():
    image = shapes.render(shapes.scenes(1, seed=4)[0])
    full = shapes.scene_from_caption(caption_images([image])[0])
    short = caption_images([image], style=shapes.STYLE, keep=("background",))[0]
    assert short == f"a {shapes.STYLE} shape on a {full['background']} background"
    assert caption_images([image], keep="colour")[0] == f"a {full['colour']} shape"
    with pytest.raises(ValueError, match="keep must list attributes"):
        caption_images([image], keep=("color",))
