"""The library versions the course needs, checked when it is imported, before a lesson fails deep inside.

The floors are the package's own declared requirements (pyproject.toml's `dependencies`, read back from the
installed package's metadata), so they are written in one place. Only the libraries whose APIs the lessons
lean on are checked; a version too old, or one missing, raises ImportError with the pip line that fixes it.
"""

from __future__ import annotations

from importlib import metadata

CHECKED = ("torch", "diffusers", "transformers", "accelerate", "peft", "safetensors")


def floors(package: str = "course_utils") -> dict[str, str]:
    """{library: requirement} for the CHECKED libraries, e.g. {"diffusers": "diffusers>=0.30", ...}."""
    from packaging.requirements import Requirement

    out = {}
    for line in metadata.requires(package) or []:
        requirement = Requirement(line)
        if requirement.marker is None and requirement.name.lower() in CHECKED:
            out[requirement.name.lower()] = str(requirement)
    return out


def problems(requirements: dict[str, str], installed=None) -> list[str]:
    """The requirements that the installed versions miss, as "diffusers>=0.30 (0.27.2 is installed)"."""
    from packaging.requirements import Requirement
    from packaging.version import InvalidVersion, Version

    installed = installed or _installed
    found = []
    for name, text in requirements.items():
        version = installed(name)
        if version is None:
            found.append(f"{text} (not installed)")
            continue
        try:
            ok = Requirement(text).specifier.contains(Version(version), prereleases=True)
        except InvalidVersion:
            ok = True  # a local build with an odd version string: give it the benefit of the doubt
        if not ok:
            found.append(f"{text} ({version} is installed)")
    return found


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check(package: str = "course_utils") -> None:
    """ImportError naming each library that is missing or too old, with the pip line that fixes them all."""
    try:
        requirements = floors(package)
    except metadata.PackageNotFoundError:
        return  # run from a source tree that was never installed: nothing to compare with
    missing = problems(requirements)
    if missing:
        fix = " ".join(f"'{m.split(' (')[0]}'" for m in missing)
        raise ImportError(
            "the course needs newer libraries: " + "; ".join(missing) + f". Run  pip install -U {fix}  "
            "and then restart the kernel (in Colab: Runtime → Restart session)"
        )
