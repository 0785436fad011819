"""`make test-package`: the learner's path outside the repository.

Builds the course's wheel and sdist (`python -m build`), installs the wheel into a fresh virtual environment
(pip's cache allowed; the repository is not on the path), copies two lessons into an empty folder and runs them
there in quick mode, offline: lesson 00, and lesson 09, which trains. Everything goes to build/package/.
Exits 1 when a step fails, with what it printed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "package"
LESSONS = ("00_first_image", "09_textual_inversion")
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
RUN_LESSON = """
import sys, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": "."}}).execute()
nbformat.write(nb, path)
"""


def step(name: str, command: list[str], cwd: Path, env: dict | None = None) -> str:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode:
        print(done.stdout[-4000:], done.stderr[-6000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"test-package: {name} failed (exit {done.returncode}) after {took:.0f} s")
    print(f"== {name}: {took:.0f} s", flush=True)
    return done.stdout


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "lessons").mkdir(parents=True)
    step("build the wheel and the sdist", [sys.executable, "-m", "build", "--outdir", str(WORK / "dist"), "."],
         ROOT)
    wheel = next((WORK / "dist").glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    weights = [n for n in names if n.startswith("course_utils/weights/mini/") and n.endswith(".safetensors")]
    if len(weights) < 4:
        raise SystemExit(f"test-package: the wheel holds {len(weights)} weight files; the bundled model is missing")
    print(f"   {wheel.name}: {wheel.stat().st_size / 2**20:.1f} MiB, {len(names)} files, "
          f"{len(weights)} weight files", flush=True)
    base = getattr(sys, "_base_executable", sys.executable)
    step("a fresh virtual environment", [base, "-m", "venv", str(WORK / "venv")], WORK)
    python = str(WORK / "venv" / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    step("install the wheel (and a kernel to run lessons)",
         [python, "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"), str(wheel), "ipykernel",
          "nbclient", "nbformat"], WORK, env)
    where = step("import it outside the repository", [python, "-c", "import course_utils; print(course_utils.__file__)"],
                 WORK / "lessons", env).strip()
    if not where.startswith(str(WORK / "venv")):
        raise SystemExit(f"test-package: course_utils came from {where}, not from the installed wheel")
    env.update(OFFLINE, COURSE_QUICK="1", COURSE_HEADLESS="1", MPLBACKEND="Agg")
    for name in LESSONS:
        shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", WORK / "lessons")
        step(f"lesson {name} in an empty folder, quick mode", [python, "-c", RUN_LESSON, f"{name}.ipynb"],
             WORK / "lessons", env)
    print(f"test-package passed: {wheel.name} ({wheel.stat().st_size / 2**20:.1f} MiB) runs lessons "
          + " and ".join(LESSONS) + " outside the repository")
    return 0


if __name__ == "__main__":
    sys.exit(main())
