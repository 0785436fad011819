"""The same seed gives the same picture: two separate Python processes load the tiny model with load_pipeline,
generate with generate(), save with save_image, and write byte-identical PNGs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from course_utils.provenance import load_settings

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import sys
from course_utils.provenance import save_image
from course_utils.generation import generate
from course_utils.pipeline import load_pipeline

model, out = sys.argv[1], sys.argv[2]
pipe = load_pipeline(model, device="cpu")
images = generate(pipe, "a large red circle on a blue background", negative_prompt="green", n=2, seed=3, steps=6)
images += generate(pipe, "a blue square", image=images[0], strength=0.5, steps=6, seed=11, scheduler="euler_a")
for k, image in enumerate(images):
    save_image(image, f"{out}/{k}.png")
"""


def test_same_seed_gives_identical_pngs_in_two_processes(tiny_sd_dir, tmp_path):
    runs = []
    for run, hash_seed in (("a", "1"), ("b", "2")):
        out = tmp_path / run
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
        command = [sys.executable, "-c", SCRIPT, str(tiny_sd_dir), str(out)]
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        runs.append((out, process))  # both run at once: the test takes one start-up, not two
    for _, process in runs:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
    (a, _), (b, _) = runs
    names = sorted(p.name for p in a.glob("*.png"))
    assert names == ["0.png", "1.png", "2.png"] and names == sorted(p.name for p in b.glob("*.png"))
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), f"{name} differs between the two runs"
    assert (a / "0.png").read_bytes() != (a / "1.png").read_bytes()  # seeds 3 and 4 differ
    settings = load_settings(a / "1.png")
    assert settings["seed"] == 4 and settings["negative_prompt"] == "green" and settings["steps"] == 6
    assert load_settings(a / "2.png")["scheduler"] == "euler_a"
