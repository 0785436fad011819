"""The README's module table is the package's map: every module of course_utils has its row, and every row
names a module that exists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_readme_module_table_matches_the_package():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([a-z_]+/?)` \|", readme, flags=re.M))
    package = REPO / "course_utils"
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {f"{p.name}/" for p in package.iterdir() if (p / "__init__.py").is_file()}
    assert rows == modules, f"in the package, not the README: {sorted(modules - rows)}; " \
                            f"in the README, not the package: {sorted(rows - modules)}"


def test_importing_the_package_loads_only_its_version_check():
    import subprocess
    import sys

    code = "import sys, course_utils; print(sorted(m for m in sys.modules if m.startswith('course_utils.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # only the version check (course_utils.versions: package metadata, no torch) runs on import
    assert out.strip() == "['course_utils.versions']"
