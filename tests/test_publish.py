"""One setting says where the course is published: every setup cell and every Colab link agree with it."""

from __future__ import annotations

import importlib.util
import json
import shutil

from benchmarks.report import ROOT

spec = importlib.util.spec_from_file_location("publish", ROOT / "tools" / "publish.py")
publish = importlib.util.module_from_spec(spec)
spec.loader.exec_module(publish)


def test_notebooks_and_readme_agree_with_the_setting():
    assert publish.main(["--check"]) == 0


def test_changing_the_setting_rewrites_setup_cells_and_colab_links(tmp_path):
    for name in ("notebooks", ):
        (tmp_path / name).mkdir()
    shutil.copy(ROOT / "notebooks" / "00_first_image.ipynb", tmp_path / "notebooks")
    shutil.copy(ROOT / "README.md", tmp_path)
    text = (ROOT / "pyproject.toml").read_text().replace('repository = "sd-course/stable-diffusion-course"',
                                                          'repository = "someone/their-fork"')
    (tmp_path / "pyproject.toml").write_text(text)
    want = publish.setting(tmp_path)
    assert want["install"] == "git+https://github.com/someone/their-fork@main"
    [(path, new)] = publish._notebooks(tmp_path, want)
    setup = next(c for c in json.loads(new)["cells"] if c["cell_type"] == "code")
    assert 'COURSE = "git+https://github.com/someone/their-fork@main"' in "".join(setup["source"])
    readme = publish._readme(tmp_path, want)
    assert "colab.research.google.com/github/someone/their-fork/blob/main/notebooks/00_first_image.ipynb" in readme
    assert "sd-course/stable-diffusion-course" not in readme.split("## Course map")[1].split("##")[0]


def test_the_setup_cell_is_valid_python():
    compile(publish.setup_cell("git+https://github.com/a/b@main").replace("runtime.describe();", "runtime"),
            "setup", "exec")
