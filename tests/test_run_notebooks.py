"""tools/run_notebooks.py: `make notebooks` writes each lesson's thumbnail from outside the lesson, and the lessons
carry no maintainer code (thumbnail writing, nbval comment markers) in their cells."""

import importlib.util
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("run_notebooks", REPO / "tools" / "run_notebooks.py")
run_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_notebooks)
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def tags(cell) -> list:
    return cell.get("metadata", {}).get("tags", [])


def toy(tmp_path, tagged=True) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from PIL import Image\npicture = Image.new('RGB', (4, 4), 'red')"),
                nbformat.v4.new_code_cell("print('lesson')", metadata={"tags": ["thumbnail"] if tagged else []}),
                nbformat.v4.new_code_cell("picture = None\nprint('_THUMBNAIL_PATH' in dir())")]
    path = tmp_path / "toy.ipynb"
    nbformat.write(nb, path)
    return path


def test_the_thumbnail_is_drawn_after_the_tagged_cell_and_leaves_no_trace(tmp_path, monkeypatch):
    monkeypatch.setitem(run_notebooks.THUMBNAILS, "toy", "picture.save(_THUMBNAIL_PATH)\nprint('hidden')")
    path = toy(tmp_path)
    written = run_notebooks.run(path, images=tmp_path)
    assert written == tmp_path / "toy.png" and written.read_bytes().startswith(b"\x89PNG")
    nb = nbformat.read(path, as_version=4)
    assert [c.execution_count for c in nb.cells] == [1, 2, 3]  # no count taken by the hidden code
    assert [o.get("text") for c in nb.cells for o in c.outputs] == ["lesson\n", "False\n"]
    assert tags(nb.cells[1]) == ["thumbnail"]


def test_a_thumbnail_without_its_tagged_cell_or_with_broken_code_fails(tmp_path, monkeypatch):
    monkeypatch.setitem(run_notebooks.THUMBNAILS, "toy", "picture.save(_THUMBNAIL_PATH)")
    with pytest.raises(SystemExit, match="0 cells tagged"):
        run_notebooks.run(toy(tmp_path, tagged=False), images=tmp_path)
    monkeypatch.setitem(run_notebooks.THUMBNAILS, "toy", "no_such_name.save(_THUMBNAIL_PATH)")
    with pytest.raises(Exception, match="no_such_name"):
        run_notebooks.run(toy(tmp_path), images=tmp_path)
    assert not (tmp_path / "toy.png").exists()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_lesson_has_its_thumbnail_and_no_maintainer_code(path):
    nb = nbformat.read(path, as_version=4)
    assert path.stem in run_notebooks.THUMBNAILS and (REPO / "images" / f"{path.stem}.png").is_file()
    assert sum("thumbnail" in tags(c) for c in nb.cells) == 1
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert "Path.cwd().parent" not in cell.source and "images_dir" not in cell.source
            assert not any(line.strip().startswith("# NBVAL_") for line in cell.source.splitlines()), \
                "nbval reads cell tags (nbval-check-output, ...): no marker comments in a learner's cell"
