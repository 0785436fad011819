"""Execution time of every notebook, in quick mode (COURSE_QUICK=1, what `make test` runs) and in full mode
(what learners run). Each notebook runs in a scratch copy of notebooks/ and images/ in a temporary folder,
so the committed notebooks, their outputs/ and the thumbnails in images/ are never touched."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .report import ROOT, Clock, Section, children_cpu_seconds, seconds, target

NOTEBOOKS = ROOT / "notebooks"
MODES = ("quick", "full")
SUITE_LIMIT = {"quick": 10 * 60, "full": 30 * 60}  # the whole suite, in seconds
QUICK_LIMIT = 2 * 60  # one notebook in quick mode


def full_limit(name: str) -> int:
    """One notebook's full-mode budget: 6 min for lessons 00–05, 8 min for 06–12."""
    number = name[:2]
    return 6 * 60 if number.isdigit() and int(number) <= 5 else 8 * 60


def select(names: list[str] | None, folder: Path = NOTEBOOKS) -> list[Path]:
    """The notebooks to run: all of folder/*.ipynb, or those whose name starts with one of `names`
    ("01", "01_finite_differencing", "notebooks/01_finite_differencing.ipynb")."""
    found = sorted(folder.glob("*.ipynb"))
    if not names:
        return found
    chosen = []
    for name in names:
        stem = Path(name).name.removesuffix(".ipynb")
        matches = [p for p in found if p.stem.startswith(stem)]
        if not matches:
            raise SystemExit(f"no notebook in {folder} matches {name!r}; there are: "
                             + ", ".join(p.stem for p in found))
        chosen += [p for p in matches if p not in chosen]
    return chosen


def slowest_cell(notebook) -> tuple[int, float, str] | None:
    """(number of the code cell, counting from 1; its seconds; its first line of code) for the code cell that took
    longest, from the timings nbclient records in each cell's metadata; None when there are none."""
    from datetime import datetime

    best = None
    code = [c for c in notebook.cells if c.cell_type == "code"]
    for number, cell in enumerate(code, start=1):
        timing = cell.get("metadata", {}).get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if not (start and end):
            continue
        took = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
        if best is None or took > best[1]:
            lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
            first = next((line for line in lines if not line.startswith("#")), lines[0] if lines else "")
            best = (number, took, first[:40])
    return best


def _environment(quick: bool, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, COURSE_HEADLESS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", MPLBACKEND="Agg", **(extra or {}))
    env.pop("COURSE_QUICK", None)
    if quick:
        env["COURSE_QUICK"] = "1"
    return env


def run(path: Path, quick: bool, env: dict[str, str] | None = None) -> dict:
    """Execute one notebook from a clean kernel in a scratch copy: {"wall", "cpu", "error"} (seconds; the CPU
    time is the kernel's own, counted once it has exited). `env`: more environment variables for the kernel."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    with tempfile.TemporaryDirectory(prefix="course-bench-") as scratch:
        work = Path(scratch) / "notebooks"
        work.mkdir()
        if (ROOT / "images").is_dir():  # thumbnails are written to ../images in full mode: a copy takes them
            shutil.copytree(ROOT / "images", Path(scratch) / "images")
        copy = work / path.name
        shutil.copy(path, copy)
        notebook = nbformat.read(copy, as_version=4)
        client = NotebookClient(notebook, timeout=1800, kernel_name="python3",
                                resources={"metadata": {"path": str(work)}})
        error = None
        before = children_cpu_seconds()
        start = time.perf_counter()
        try:
            client.execute(env=_environment(quick, env))
        except CellExecutionError as failure:
            error = f"{failure.ename}: {str(failure.evalue)[:80]}"
        except Exception as failure:  # a dead kernel or a timeout: report it, go on with the next notebook
            error = f"{type(failure).__name__}: {str(failure)[:80]}"
        wall = time.perf_counter() - start
        after = children_cpu_seconds()
    cpu = None if before is None else after - before
    return {"wall": wall, "cpu": cpu, "error": error, "slowest": slowest_cell(notebook)}


def _cell(result: dict | None) -> list[str]:
    if result is None:
        return ["–", "–", "–"]
    wall = seconds(result["wall"]) + (f" (**failed**: {result['error']})" if result["error"] else "")
    slowest = result.get("slowest")
    cell = "–" if slowest is None else f"{slowest[0]} (`{slowest[2]}`): {seconds(slowest[1])}"
    return [wall, seconds(result["cpu"]), cell]


def measure(names: list[str] | None = None, modes=MODES) -> Section:
    paths = select(names)
    clock = Clock()
    headers = ["notebook"]
    for mode in modes:
        headers += [f"{mode}: wall", f"{mode}: CPU", f"{mode}: slowest code cell", f"{mode}: target"]
    results: dict[str, dict[str, dict]] = {p.stem: {} for p in paths}
    for mode in modes:
        for path in paths:
            print(f"  notebook {path.stem}, {mode} mode ...", file=sys.stderr, flush=True)
            results[path.stem][mode] = got = run(path, quick=mode == "quick")
            print(f"    {seconds(got['wall'])} wall, {seconds(got['cpu'])} CPU"
                  + (f", failed: {got['error']}" if got["error"] else ""), file=sys.stderr, flush=True)
    rows = []
    for name, by_mode in results.items():
        row = [name]
        for mode in modes:
            got = by_mode.get(mode)
            limit = QUICK_LIMIT if mode == "quick" else full_limit(name)
            row += _cell(got) + [target(got["wall"] / 60, limit / 60, "min") if got else "–"]
        rows.append(row)
    total = [f"**total** ({len(paths)} notebook{'s' * (len(paths) != 1)})"]
    for mode in modes:
        done = [r[mode] for r in results.values() if mode in r]
        wall = sum(r["wall"] for r in done)
        cpu = None if any(r["cpu"] is None for r in done) else sum(r["cpu"] for r in done)
        total += [f"**{seconds(wall)}**", seconds(cpu), "", target(wall / 60, SUITE_LIMIT[mode] / 60, "min")]
    rows.append(total)
    notes = [
        "Each notebook ran once, from a clean kernel (start-up included), in a scratch copy, with "
        "COURSE_HEADLESS=1; quick mode sets COURSE_QUICK=1. Targets: quick ≤ 2 min per notebook and ≤ 10 min "
        "for the suite; full ≤ 6 min (lessons 00–05) or ≤ 8 min (06–12) per notebook and ≤ 30 min in all. "
        "The slowest code cell is numbered among the code cells only, with its first line of code: where to "
        "look first when a notebook is over its budget.",
    ]
    if names:
        notes.append(f"Only the notebooks asked for were run ({', '.join(names)}): the total is theirs alone.")
    return Section("Notebooks", headers, rows, notes, clock.stamp())
