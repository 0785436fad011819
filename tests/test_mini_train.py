"""The bundled model's training script: its stages run, and a killed run resumes from its checkpoint."""

import json
import os
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
    return int(torch.load(folder / "state.pt", weights_only=True)["step"])


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
        while not ((ckpt / "state.pt").exists() and saved_step(ckpt) >= 3):
            assert proc.poll() is None, "the training run died before its first checkpoints"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed_at = saved_step(ckpt)
    assert killed_at >= 3
    target = killed_at + 2
    run(work, "--stage", "vae", "--set", *TINY, f"vae_steps={target}")
    assert saved_step(ckpt) == target  # went on from the checkpoint, not from step 0
    assert (work / "vae_final.safetensors").exists()


def test_later_stages_and_export_give_a_loadable_pipeline(work, tmp_path):
    out = tmp_path / "pipe"
    run(work, "--stage", "all", "--out", str(out), "--set", *TINY, "vae_steps=1")
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
