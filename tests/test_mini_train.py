"""The bundled model's training script: its stages run, a killed run resumes from its checkpoint, a resume with
other settings is refused, and the bundled weights are replaced only when asked."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

TINY = ["n_train=64", "n_clutter=8", "vae_batch=2", "clip_batch=8", "clip_steps=3", "unet_batch=4",
        "unet_steps=3", "ckpt_seconds=0"]


def run(work, *args, check=True, **kw):
    cmd = [sys.executable, "-m", "course_utils.mini.train", "--work", str(work), "--threads", "1", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if kw.pop("background", False):
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    return subprocess.run(cmd, env=env, check=check, capture_output=True, text=True, timeout=600)


def saved_step(folder: Path) -> int:
    """The step of the newest complete checkpoint in a stage's folder (0: none yet)."""
    done = sorted(folder.glob("step-*/config.json"))
    return json.loads(done[-1].read_text())["step"] if done else 0


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    work = tmp_path_factory.mktemp("mini-work")
    run(work, "--stage", "data", "--set", *TINY)
    return work


def test_killed_vae_run_resumes_from_its_checkpoint(work):
    proc = run(work, "--stage", "vae", "--set", *TINY, "vae_steps=100000", background=True)
    ckpt = work / "ckpt-vae"
    try:
        deadline = time.monotonic() + 120
        while saved_step(ckpt) < 3:
            assert proc.poll() is None, "the training run died before its first checkpoints"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed_at = saved_step(ckpt)
    assert killed_at >= 3
    target = killed_at + 2
    # another total of steps is another run (its learning-rate schedule differs): refused, saying what to do
    refused = run(work, "--stage", "vae", "--set", *TINY, f"vae_steps={target}", check=False)
    assert refused.returncode != 0
    assert f"another run (vae_steps: 100000 there, {target} here): resume with the same settings" in refused.stderr
    assert "Traceback" not in refused.stderr  # a message for the person who ran it, not a crash
    # the same run goes on from its checkpoint (it saves every step), not from step 0
    proc = run(work, "--stage", "vae", "--set", *TINY, "vae_steps=100000", background=True)
    seen = set()
    try:
        deadline = time.monotonic() + 120
        while max(seen, default=0) < target:
            assert proc.poll() is None, "the resumed run died"
            assert time.monotonic() < deadline, "the resumed run saved no checkpoint within 120 s"
            seen.add(saved_step(ckpt))
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert min(seen) >= killed_at, f"the resumed run started again from step {min(seen)}"
    shutil.rmtree(ckpt)  # the later stages start from a fresh, short VAE run


def test_later_stages_and_export_give_a_loadable_pipeline(work, tmp_path):
    from course_utils.mini import MINI_DIR

    bundled = (MINI_DIR / "unet" / "diffusion_pytorch_model.safetensors").stat().st_mtime_ns
    run(work, "--stage", "all", "--set", *TINY, "vae_steps=1")
    out = work / "export"  # by default the export goes to the work folder, never over the bundled model
    assert (MINI_DIR / "unet" / "diffusion_pytorch_model.safetensors").stat().st_mtime_ns == bundled
    assert (work / "latents.safetensors").exists() and not (work / "latents.pt").exists()
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(out)
    assert pipe.vae.config.scaling_factor != 0.18215  # computed from this VAE's latents, as SD did
    assert (out / "tokenizer" / "vocab.json").exists() and (out / "tokenizer" / "merges.txt").exists()
    assert (out / "tokenizer" / "merges.txt").read_text().startswith("#version")
    image = pipe("a red circle", num_inference_steps=2, height=64, width=64, output_type="pil").images[0]
    assert image.size == (64, 64)
    stages = [json.loads(line)["stage"] for line in (work / "log.jsonl").read_text().splitlines()]
    assert {"data", "latents", "export"} <= set(stages)
    # the unet stage trained the text encoder too: the pipeline's differs from CLIP's text half
    from transformers import CLIPModel

    clip = CLIPModel.from_pretrained(out / "clip")
    assert not torch.equal(pipe.text_encoder.get_input_embeddings().weight,
                           clip.text_model.get_input_embeddings().weight)


def test_unknown_setting_is_refused(work):
    result = run(work, "--set", "vae_stepz=3", check=False)
    assert result.returncode != 0 and "unknown setting 'vae_stepz'" in result.stderr


def test_settings_are_typed_and_set_parses_them():
    from course_utils.mini.train import CFG, parse_setting

    assert CFG["vae_channels"] == (32, 64, 128, 128) and CFG["vae_bf16"] is True
    assert parse_setting("vae_channels", "16,32,64,64") == (16, 32, 64, 64)
    assert parse_setting("vae_bf16", "0") is False and parse_setting("vae_bf16", "true") is True
    assert parse_setting("unet_steps", "200") == 200 and parse_setting("unet_lr", "1e-4") == 1e-4
    with pytest.raises(ValueError, match="setting 'vae_bf16' takes 1 or 0, not 'maybe'"):
        parse_setting("vae_bf16", "maybe")
    with pytest.raises(ValueError, match="takes 32,64,128,128"):
        parse_setting("vae_channels", "32;64")


def test_out_and_replace_bundled_are_one_or_the_other(work):
    result = run(work, "--stage", "export", "--out", "x", "--replace-bundled", check=False)
    assert result.returncode != 0 and "give one of them" in result.stderr
