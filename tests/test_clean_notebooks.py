"""tools/clean_notebooks.py strips widget state and volatile metadata, and the committed notebooks are clean."""

import importlib.util
import json
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("clean_notebooks", REPO / "tools" / "clean_notebooks.py")
clean_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(clean_notebooks)


def executed_notebook() -> nbformat.NotebookNode:
    """A notebook as nbclient leaves it, with widget state and timestamps."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(1)", execution_count=1)
    view = {
        "application/vnd.jupyter.widget-view+json": {
            "model_id": "3f2a",
            "version_major": 2,
            "version_minor": 0,
        }
    }
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="1\n"),
        nbformat.v4.new_output("display_data", data={**view, "text/plain": "IntSlider(value=3)"}),
        nbformat.v4.new_output("display_data", data=view),
    ]
    cell.metadata["execution"] = {
        "iopub.execute_input": "2026-01-01T00:00:00.000001Z",
        "shell.execute_reply": "2026-01-01T00:00:01.000001Z",
    }
    cell.metadata["tags"] = ["keep-me"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), cell]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    nb.metadata["kernelspec"] = {"name": "my-venv", "display_name": "my venv", "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    return nb


def test_clean_strips_volatile_parts_and_keeps_content():
    nb = clean_notebooks.clean(executed_notebook())
    assert "widgets" not in nb.metadata
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.language_info == {"name": "python"}
    code = nb.cells[1]
    assert "execution" not in code.metadata and code.metadata.tags == ["keep-me"]
    assert code.outputs[0].text == "1\n" and code.execution_count == 1
    # widget views lose their dangling reference and keep their fallback; a bare widget view goes
    assert len(code.outputs) == 2 and code.outputs[1].data == {"text/plain": "IntSlider(value=3)"}
    nbformat.validate(nb)


def test_main_rewrites_in_place_and_is_idempotent(tmp_path, capsys):
    path = tmp_path / "lesson.ipynb"
    path.write_text(json.dumps(executed_notebook()), encoding="utf-8")
    assert clean_notebooks.main(["--check", str(path)]) == 1
    assert "not clean" in capsys.readouterr().out
    assert clean_notebooks.main([str(path)]) == 0
    cleaned = path.read_text(encoding="utf-8")
    assert (
        "widget-state" not in cleaned
        and "widget-view" not in cleaned
        and "execute_input" not in cleaned
        and cleaned.endswith("}\n")
    )
    assert clean_notebooks.main(["--check", str(path)]) == 0
    assert clean_notebooks.main([str(path)]) == 0
    assert path.read_text(encoding="utf-8") == cleaned


def test_main_refuses_a_file_that_is_not_a_notebook(tmp_path, capsys):
    path = tmp_path / "broken.ipynb"
    path.write_text("{ not json", encoding="utf-8")
    assert clean_notebooks.main([str(path)]) == 2
    assert "not a notebook" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == "{ not json"


def test_committed_notebooks_are_clean(capsys):
    paths = [str(p) for p in sorted((REPO / "notebooks").glob("*.ipynb"))]
    assert clean_notebooks.main(["--check", *paths]) == 0, capsys.readouterr().out
