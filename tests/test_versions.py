"""Library versions: the floors come from the package's own requirements, and a wrong one is a clear error."""

from __future__ import annotations

import pytest

from course_utils import versions


def test_floors_are_the_declared_requirements():
    got = versions.floors()
    assert set(got) == set(versions.CHECKED)
    assert got["diffusers"].startswith("diffusers>=")


def test_the_installed_versions_pass():
    assert versions.problems(versions.floors()) == []
    versions.check()  # what importing the package does


def test_too_old_and_missing_are_named():
    installed = {"diffusers": "0.27.2", "peft": None, "torch": "2.5.1+cu121"}.get
    found = versions.problems({"diffusers": "diffusers>=0.30", "peft": "peft>=0.12", "torch": "torch>=2.2"},
                              installed)
    assert found == ["diffusers>=0.30 (0.27.2 is installed)", "peft>=0.12 (not installed)"]


def test_check_says_how_to_fix(monkeypatch):
    monkeypatch.setattr(versions, "_installed", lambda name: "0.1" if name == "diffusers" else "999")
    with pytest.raises(ImportError, match=r"pip install -U 'diffusers>=[0-9.]+'.*restart"):
        versions.check()


def test_import_checks_without_loading_torch():
    import subprocess
    import sys

    code = "import sys, course_utils; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
