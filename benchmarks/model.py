"""The bundled model: load time, generation latency and peak memory, with the course's settings
(`load_pipeline("mini")` + `generate`: Euler, 20 steps) against a plain
`StableDiffusionPipeline.from_pretrained(folder)` with diffusers' defaults (the folder's own scheduler, 50 steps).

Each measurement runs in a fresh subprocess (`python -m benchmarks.model KIND REPEATS`, which prints one JSON
line): "course" and "plain" each load one pipeline and make the pictures, so their peak memory is theirs
alone; "compare" loads both and times them in turn, A B A B, so the ratio holds when the machine's speed drifts.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
import sys
import time
from collections import defaultdict

from .report import ROOT, Clock, Section, median, seconds, size, spread, table, target

PROMPT = "a large red circle on a blue background"
COUNTS = (1, 4)
LOAD_TARGET, FOUR_TARGET = 2.0, 1.5  # seconds, on the course's 2-core CPU


def own_scheduler() -> str:
    """The scheduler the bundled model's folder names, which a plain from_pretrained uses ("Euler")."""
    from course_utils.mini import mini_path

    name = json.loads((mini_path() / "model_index.json").read_text())["scheduler"][1]
    return name.removesuffix("Scheduler").removesuffix("Discrete")


def peak_rss() -> int | None:
    """This process's peak resident memory in bytes (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def timed(fn):
    """(result, wall seconds, CPU seconds of this process) of fn()."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


# ---------------------------------------------------------------- the two ways to load and generate


def load(kind: str):
    if kind == "course":
        from course_utils.pipeline import load_pipeline

        return load_pipeline("mini")
    from diffusers import StableDiffusionPipeline

    from course_utils.mini import mini_path

    pipe = StableDiffusionPipeline.from_pretrained(mini_path())
    pipe.set_progress_bar_config(disable=True)  # no progress bars in the report; the work is the same
    return pipe


def make(kind: str, pipe, n: int):
    """n pictures of PROMPT, seeds 0…n-1, at the model's own 64×64."""
    if kind == "course":
        from course_utils.generation import generate

        return generate(pipe, PROMPT, n=n, steps=20, seed=0)
    import torch

    return pipe(PROMPT, num_images_per_prompt=n, generator=[torch.Generator().manual_seed(k) for k in range(n)]).images


@contextlib.contextmanager
def stopwatch(pipe):
    """Where a generation's time goes: seconds in the text encoder, the UNet, the scheduler's steps and the
    VAE's decoder, collected in the dict it yields (forward hooks; removed on exit)."""
    totals: dict[str, float] = defaultdict(float)
    handles, starts = [], {}
    parts = {"text encoder": pipe.text_encoder, "UNet": pipe.unet, "VAE decode": pipe.vae.decoder}
    for name, module in parts.items():
        handles.append(module.register_forward_pre_hook(lambda *_, n=name: starts.__setitem__(n, time.perf_counter())))
        handles.append(module.register_forward_hook(
            lambda *_, n=name: totals.__setitem__(n, totals[n] + time.perf_counter() - starts[n])))
    step = pipe.scheduler.step

    def timed_step(*args, **kwargs):
        start = time.perf_counter()
        try:
            return step(*args, **kwargs)
        finally:
            totals["scheduler"] += time.perf_counter() - start

    pipe.scheduler.step = timed_step
    try:
        yield totals
    finally:
        del pipe.scheduler.step  # the instance attribute goes; the class's method is back
        for handle in handles:
            handle.remove()


# ---------------------------------------------------------------- workers (one per subprocess)


def worker(kind: str, repeats: int) -> dict:
    if kind == "compare":
        pipes = {k: load(k) for k in ("course", "plain")}
        for k, pipe in pipes.items():
            make(k, pipe, 1)  # warm-up
        out: dict = {k: {f"{w}_{n}": [] for w in ("wall", "cpu") for n in COUNTS} for k in pipes}
        for _ in range(repeats):
            for n in COUNTS:
                for k, pipe in pipes.items():
                    _, wall, cpu = timed(lambda k=k, pipe=pipe, n=n: make(k, pipe, n))
                    out[k][f"wall_{n}"].append(wall)
                    out[k][f"cpu_{n}"].append(cpu)
        for k, pipe in pipes.items():
            with stopwatch(pipe) as parts:
                _, wall, _ = timed(lambda k=k, pipe=pipe: make(k, pipe, 4))
            out[k]["parts_4"] = {**parts, "total": wall}
        return out
    module, name = ("course_utils.pipeline", "load_pipeline")
    if kind == "plain":
        module, name = "diffusers", "StableDiffusionPipeline"
    _, imports, imports_cpu = timed(lambda: getattr(importlib.import_module(module), name))  # diffusers loads lazily
    pipe, first, first_cpu = timed(lambda: load(kind))
    make(kind, pipe, 1)
    make(kind, pipe, 4)
    result = {"import": imports, "import_cpu": imports_cpu, "load_first": first, "load_first_cpu": first_cpu,
              "peak_rss": peak_rss()}
    del pipe
    result["load_again"] = [timed(lambda: load(kind))[1] for _ in range(repeats)]
    return result


def run_worker(kind: str, repeats: int, **env_vars: str) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **env_vars)
    done = subprocess.run([sys.executable, "-m", "benchmarks.model", kind, str(repeats)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the {kind!r} benchmark failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the report


def ratio(a: list[float], b: list[float]) -> str:
    """Median of the pair-by-pair ratios a[i] / b[i], e.g. "2.4×"."""
    got = median([x / y for x, y in zip(a, b, strict=True) if y > 0])
    return "–" if got is None else f"{got:.2f}×"


def once(got: dict, key: str) -> str:
    return f"{seconds(got[key])}, {seconds(got[key + '_cpu'])} CPU"


def breakdown(parts: dict[str, dict[str, float]]) -> str:
    names = ["text encoder", "UNet", "scheduler", "VAE decode"]
    rows = []
    for name in names + ["other (pipeline, image conversion)"]:
        row = [name]
        for got in parts.values():
            value = got.get(name, got["total"] - sum(got.get(n, 0.0) for n in names))
            row.append(f"{seconds(value)} ({value / got['total']:.0%})")
        rows.append(row)
    rows.append(["**total**"] + [f"**{seconds(got['total'])}**" for got in parts.values()])
    return table(["where the time of 4 pictures goes"] + list(parts), rows)


def measure(repeats: int = 5) -> Section:
    clock = Clock()
    print("  course settings, fresh process ...", file=sys.stderr, flush=True)
    course = run_worker("course", repeats)
    print("  diffusers' defaults, fresh process ...", file=sys.stderr, flush=True)
    plain = run_worker("plain", repeats)
    print(f"  both in one process, {repeats} rounds ...", file=sys.stderr, flush=True)
    both = run_worker("compare", repeats)
    print(f"  both again with OMP_WAIT_POLICY=PASSIVE, {repeats} rounds ...", file=sys.stderr, flush=True)
    sleeping = run_worker("compare", repeats, OMP_WAIT_POLICY="PASSIVE")["course"]
    c, p = both["course"], both["plain"]
    rows = [
        ["import (fresh process): wall, CPU", once(course, "import"), once(plain, "import"), "", ""],
        ["load, first in a fresh process: wall, CPU", once(course, "load_first"), once(plain, "load_first"),
         ratio([plain["load_first"]], [course["load_first"]]), target(course["load_first"], LOAD_TARGET)],
        ["load again, same process", spread(course["load_again"]), spread(plain["load_again"]),
         ratio(plain["load_again"], course["load_again"]), target(median(course["load_again"]), LOAD_TARGET)],
    ]
    for n in COUNTS:
        pictures = "1 picture" if n == 1 else f"{n} pictures"
        rows.append([f"{pictures}: wall", spread(c[f"wall_{n}"]), spread(p[f"wall_{n}"]),
                     ratio(p[f"wall_{n}"], c[f"wall_{n}"]),
                     target(median(c[f"wall_{n}"]), FOUR_TARGET) if n == 4 else ""])
        rows.append([f"{pictures}: CPU", seconds(median(c[f"cpu_{n}"])), seconds(median(p[f"cpu_{n}"])),
                     ratio(p[f"cpu_{n}"], c[f"cpu_{n}"]), ""])
    for n in COUNTS:
        pictures = "1 picture" if n == 1 else f"{n} pictures"
        rows.append([f"{pictures}: wall, threads sleeping (OMP_WAIT_POLICY=PASSIVE, as on a busy machine)",
                     spread(sleeping[f"wall_{n}"]), "", ratio(sleeping[f"wall_{n}"], c[f"wall_{n}"]) + " of the course's time",
                     target(median(sleeping[f"wall_{n}"]), FOUR_TARGET) if n == 4 else ""])
    rows.append(["peak memory (RSS): load + 1 + 4 pictures", size(course["peak_rss"]), size(plain["peak_rss"]),
                 ratio([plain["peak_rss"] or 0], [course["peak_rss"] or 0]), ""])
    headers = ["64×64, same prompt and seeds", "course: load_pipeline + generate (Euler, 20 steps)",
               f"diffusers' defaults: from_pretrained ({own_scheduler()}, 50 steps)", "defaults ÷ course",
               "target (course)"]
    notes = [
        f"Prompt \"{PROMPT}\", guidance 7.5, seeds 0…n-1. Timings are medians (range, n) of {repeats} rounds "
        "in one process that holds both pipelines and alternates them, after a warm-up picture each. "
        "Load and peak memory come from two fresh processes, one per pipeline (the peak is the process's "
        "largest resident memory: Python, torch and diffusers included).",
        "How idle OpenMP threads wait is chosen before torch loads (course_utils/threads.py, by runtime.describe()): on a "
        "machine with nothing else running, OpenMP's default (a short spin, then sleep), which the rows above "
        "use; when other processes keep half a CPU busy, OMP_WAIT_POLICY=PASSIVE (sleep at once), because "
        "spinning threads then wait on descheduled ones. The PASSIVE rows, from a third process, show what "
        "sleeping costs the tiny model's many small operations on an idle machine.",
        breakdown({"course": c["parts_4"], "defaults": p["parts_4"]}),
    ]
    return Section("Bundled model", headers, rows, notes, clock.stamp())


if __name__ == "__main__":
    print(json.dumps(worker(sys.argv[1], int(sys.argv[2]))))
