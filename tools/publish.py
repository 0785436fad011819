"""Point the course at where it is published: one setting, pyproject.toml's [tool.course] `repository`.

From it this writes (1) every lesson's setup cell, which installs the course from there when it is missing
(Colab, Kaggle, a fresh environment), and (2) an "Open in Colab" link for each lesson in the README's course map.
After changing the setting, run it once and commit what it changed:

    python tools/publish.py            # write
    python tools/publish.py --check    # exit 1 when a notebook or the README disagrees with the setting
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]

SETUP = '''import importlib.util
import subprocess
import sys

COURSE = "{install}"  # where the course is published
if importlib.util.find_spec("course_utils") is None:  # Colab, Kaggle or a fresh environment: install the course
    pip = subprocess.run([sys.executable, "-m", "pip", "install", COURSE], capture_output=True, text=True)
    if pip.returncode:
        raise RuntimeError(f"pip could not install the course from {{COURSE}}:\\n{{pip.stderr[-3000:]}}")
    print(next((line for line in pip.stdout.splitlines() if line.startswith("Successfully")), "nothing to install"))
from course_utils import runtime
runtime.describe();'''
SETUP_MARK = "importlib.util.find_spec(\"course_utils\")"  # how the setup cell is recognised


def setting(root: Path = ROOT) -> dict:
    course = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["course"]
    repository, branch = course["repository"].strip("/"), course.get("branch", "main")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
        raise SystemExit(f"[tool.course] repository must be 'owner/name' on GitHub, not {repository!r}")
    return {"repository": repository, "branch": branch,
            "install": f"git+https://github.com/{repository}@{branch}",
            "colab": f"https://colab.research.google.com/github/{repository}/blob/{branch}/notebooks/{{name}}"}


def setup_cell(install: str) -> str:
    return SETUP.format(install=install)


def _notebooks(root: Path, want: dict) -> list[tuple[Path, str]]:
    """(notebook, its new text) for every notebook whose setup cell differs from the setting's."""
    changed = []
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        raw = path.read_text(encoding="utf-8")
        nb = json.loads(raw)
        cell = next((c for c in nb["cells"] if c["cell_type"] == "code" and SETUP_MARK in "".join(c["source"])),
                    None)
        if cell is None:
            raise SystemExit(f"{path}: no setup cell (a code cell with {SETUP_MARK})")
        new = setup_cell(want["install"])
        if "".join(cell["source"]) != new:
            cell["source"] = new.splitlines(keepends=True)
            changed.append((path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n"))
    return changed


def _readme(root: Path, want: dict) -> str | None:
    """The README with one Colab link per lesson in the course map, or None when it has them already."""
    text = (root / "README.md").read_text(encoding="utf-8")

    def row(match: re.Match) -> str:
        name = match.group(1)
        link = f"[Colab]({want['colab'].format(name=name + '.ipynb')})"
        return f"| [`{name}`](notebooks/{name}.ipynb) · {link} |"

    new = re.sub(r"^\| \[`(\d\d_\w+)`\]\(notebooks/\1\.ipynb\)(?: · \[Colab\]\([^)]*\))? \|", row, text,
                 flags=re.MULTILINE)
    return None if new == text else new


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when something disagrees")
    args = parser.parse_args(argv)
    want = setting()
    notebooks, readme = _notebooks(ROOT, want), _readme(ROOT, want)
    stale = [str(p.relative_to(ROOT)) for p, _ in notebooks] + (["README.md"] if readme else [])
    if args.check:
        if stale:
            print("not pointing at " + want["repository"] + ": " + ", ".join(stale)
                  + " (run python tools/publish.py)", file=sys.stderr)
        return 1 if stale else 0
    for path, text in notebooks:
        path.write_text(text, encoding="utf-8")
    if readme:
        (ROOT / "README.md").write_text(readme, encoding="utf-8")
    print(f"{len(stale)} file(s) now point at {want['repository']}: " + (", ".join(stale) or "none needed"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
