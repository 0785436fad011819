"""Strip what changes from run to run out of executed notebooks, so committed notebooks differ only where
their content does.

Removed: the notebook's widget state (`metadata.widgets`, large and useless without a live kernel); the
outputs' references to that state (`application/vnd.jupyter.widget-view+json`, whose model ids are random on
every run), so the output's plain or image fallback shows instead; each cell's execution timestamps
(`metadata.execution`, written by nbclient); and the Python patch version in `language_info`. The
kernelspec is set to the standard "python3" so a maintainer's own kernel names never leak. Everything else
in the outputs and the execution counts stay: they are what readers see on GitHub.

    python tools/clean_notebooks.py notebooks/*.ipynb          # rewrite in place
    python tools/clean_notebooks.py --check notebooks/*.ipynb  # exit 1 if any would change
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Clean `nb` in place and return it."""
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = nbformat.from_dict(KERNELSPEC)
    nb.metadata.get("language_info", {}).pop("version", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            data = output.get("data")
            if data is not None and WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                if not data:
                    continue  # nothing but a widget: nothing left to show
            kept.append(output)
        cell.outputs = kept
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    """The notebook as Jupyter itself writes it (one-space indent, trailing newline)."""
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a notebook is not clean"
    )
    args = parser.parse_args(argv)
    dirty = []
    for path in args.notebooks:
        before = path.read_text(encoding="utf-8")
        try:
            nb = nbformat.reads(before, as_version=4)
        except (json.JSONDecodeError, nbformat.reader.NotJSONError) as error:
            print(f"{path}: not a notebook ({error})", file=sys.stderr)
            return 2
        after = render(clean(nb))
        if after != before:
            dirty.append(path)
            if not args.check:
                path.write_text(after, encoding="utf-8")
    verb = "not clean (run: python tools/clean_notebooks.py FILES)" if args.check else "cleaned"
    for path in dirty:
        print(f"{path}: {verb}")
    return 1 if args.check and dirty else 0


if __name__ == "__main__":
    sys.exit(main())
