"""Formatting and bookkeeping for the benchmarks: Markdown tables, units, the machine and commit stamp, and
results.md, where a partial run replaces only the sections it measured. Pure functions, tested in
tests/test_benchmarks.py, except `machine`, `commit` and `stamp`, which look at this machine."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INTRO = """# Benchmarks

How long a learner waits, measured by `make bench` (`python -m benchmarks`; `--help` lists the options).
*Wall* is the time on the clock; *CPU* is the processor time the work used (both cores busy: CPU ≈ 2 × wall).
When other jobs share the machine, wall time grows and CPU time much less, so compare CPU times across runs.
Each section says when, on what and at which commit it was measured: a partial run (for example
`make bench BENCH_ARGS="--only model"`) replaces only its own sections. These are benchmarks, not tests:
nothing fails on a slow machine; the *target* columns say where the course's time budget is missed.
"""


@dataclass
class Section:
    """One part of the report: a title, a stamp line (when, where), a table and notes under it."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stamp: str = ""

    def markdown(self) -> str:
        parts = [f"## {self.title}"]
        if self.stamp:
            parts.append(f"_{self.stamp}_")
        if self.rows:
            parts.append(table(self.headers, self.rows))
        parts += self.notes
        return "\n\n".join(parts) + "\n"


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table; cells are str()-ed, "|" escaped, and short rows padded with empty cells."""
    if not headers:
        raise ValueError("a table needs at least one column")
    for row in rows:
        if len(row) > len(headers):
            raise ValueError(f"row {row!r} has more cells than the {len(headers)} columns")

    def line(cells) -> str:
        cells = [str(c).replace("|", "\\|") for c in cells] + [""] * (len(headers) - len(cells))
        return "| " + " | ".join(cells) + " |"

    return "\n".join([line(headers), "|" + "---|" * len(headers)] + [line(r) for r in rows])


def seconds(value: float | None) -> str:
    """12.3 s, 0.42 s, 85 s, 12.5 min; "–" for None."""
    if value is None:
        return "–"
    if value < 10:
        return f"{value:.2f} s"
    if value < 100:
        return f"{value:.1f} s"
    if value < 600:
        return f"{value:.0f} s"
    return f"{value / 60:.1f} min"


def size(nbytes: float | None) -> str:
    """Bytes as MiB or GiB; "–" for None."""
    if nbytes is None:
        return "–"
    if nbytes >= 2**30:
        return f"{nbytes / 2**30:.2f} GiB"
    return f"{nbytes / 2**20:.0f} MiB"


def target(value: float | None, limit: float, unit: str = "s") -> str:
    """ "≤ 2 s: met" or "≤ 2 s: **missed**" (bold, so a miss stands out); "–" when nothing was measured."""
    if value is None:
        return "–"
    goal = f"≤ {limit:g} {unit}"
    return f"{goal}: met" if value <= limit else f"{goal}: **missed**"


def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values) -> str:
    """ "1.16 s (1.10–1.31, n=5)": the median, then the range, of several timings."""
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return seconds(values[0])
    return f"{seconds(median(values))} ({min(values):.3g}–{max(values):.3g}, n={len(values)})"


def split_sections(text: str) -> dict[str, str]:
    """The "## title" sections of a results file, title → its Markdown (heading included)."""
    sections: dict[str, str] = {}
    title = None
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            title = line[3:].strip()
            sections[title] = ""
        if title is not None:
            sections[title] += line
    return {k: v.rstrip("\n") + "\n" for k, v in sections.items()}


def merge(old_text: str | None, new: list[Section], order: list[str]) -> str:
    """The results file: the intro, then every section in `order` (new ones replace old ones of the same
    title; old ones not measured now stay), then any other old sections."""
    sections = split_sections(old_text or "")
    sections.update({s.title: s.markdown() for s in new})
    titles = [t for t in order if t in sections] + [t for t in sections if t not in order]
    return "\n".join([INTRO] + [sections[t] for t in titles])


# ---------------------------------------------------------------- where and when


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    """ "2 cores (Intel Xeon …), 23.5 GiB RAM, torch 2.13.0+cpu, cpu, Linux"."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        ram = size(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) + " RAM"
    except (AttributeError, ValueError, OSError):
        ram = "RAM unknown"
    if torch.cuda.is_available():
        device = f"cuda ({torch.cuda.get_device_name()})"
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        device = "mps"
    else:
        device = "cpu"
    return f"{cores} cores ({_cpu_name()}), {ram}, torch {torch.__version__}, {device}, {platform.system()}"


def commit() -> str:
    """The short commit hash, with "+ uncommitted changes" when tracked files differ from it."""

    def git(*args) -> str:
        return subprocess.run(["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit (not a git checkout)"
    return f"commit {head}" + (" + uncommitted changes" if dirty else "")


def _busy_seconds() -> float | None:
    """CPU seconds every process on the machine has used since boot (Linux's /proc/stat), or None."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float | None:
    """CPU seconds used by this process's finished children (notebook kernels, workers); None on Windows."""
    try:
        import resource
    except ImportError:
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _own_seconds() -> float:
    return time.process_time() + (children_cpu_seconds() or 0.0)


class Clock:
    """Wall time of a section, and how many cores *other* processes kept busy meanwhile (Linux only): the
    number that says whether the section's times were measured on a shared machine."""

    def __init__(self):
        self.started = datetime.datetime.now()
        self._t0 = time.perf_counter()
        self._busy0, self._own0 = _busy_seconds(), _own_seconds()

    def others(self) -> float | None:
        busy = _busy_seconds()
        if busy is None or self._busy0 is None:
            return None
        wall = time.perf_counter() - self._t0
        if wall < 5:  # too short to say
            return None
        other = (busy - self._busy0) - (_own_seconds() - self._own0)
        return max(other, 0.0) / wall

    def stamp(self) -> str:
        """When, on what and at which commit a section was measured, and how busy the machine was."""
        others = self.others()
        busy = "" if others is None else f" · other processes kept {others:.1f} cores busy meanwhile"
        return f"{self.started:%Y-%m-%d %H:%M} · {commit()} · {machine()}{busy}"
