"""The lessons that load Stable Diffusion, run on the SD 1.5 stand-in (`course_utils.standin`) in quick mode, as
tests/test_any_model_notebooks.py runs them: whether each runs, and how long it takes.

On the CPU (`make bench`): the slim stand-in in bfloat16, 128 px. On a GPU (`make gpu-check`): the full
stand-in, SD 1.5's exact size, in float16 at 512 px. Random weights: this times the plumbing, never quality.
"""

from __future__ import annotations

import sys
import tempfile

from .notebooks import NOTEBOOKS, run
from .report import Clock, Section, seconds

# The lessons of issue 19's any-model contract; lessons 08–12 join when they follow it too
LESSONS = ["00_first_image", "04_latents", "05_clip", "06_guidance", "07_img2img"]
TITLE = "Lessons on the SD 1.5 stand-in"


def measure(size: str = "slim", dtype: str = "bfloat16", lessons=LESSONS) -> Section:
    import torch

    from course_utils.standin import save_standin

    clock = Clock()
    device = f"cuda ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else "cpu"
    rows, failed = [], 0
    with tempfile.TemporaryDirectory(prefix="course-standin-") as scratch:
        folder = save_standin(f"{scratch}/sd15-{size}", size=size)
        env = {"COURSE_MODEL": str(folder), "COURSE_DTYPE": dtype}
        for name in lessons:
            print(f"  {name} on the {size} stand-in, {dtype} ...", file=sys.stderr, flush=True)
            got = run(NOTEBOOKS / f"{name}.ipynb", quick=True, env=env)
            failed += got["error"] is not None
            rows.append([name, "ran" if got["error"] is None else f"**failed**: {got['error']}",
                         seconds(got["wall"]), seconds(got["cpu"])])
    side = 512 if size == "full" else 128
    notes = [f"{size} stand-in ({side} px native size), {dtype}, on {device}, quick mode. "
             f"{len(lessons) - failed} of {len(lessons)} lessons ran to the end with every check that holds for "
             "any model; the shapes-world judge's checks print what they would measure instead."]
    return Section(f"{TITLE} ({size}, {dtype})", ["lesson", "result", "wall", "CPU"], rows, notes,
                   clock.stamp())
