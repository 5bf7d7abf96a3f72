"""What a non-editable install (``pip install '.[server]'``, as README's deployment does) ships: every template,
stylesheet and data file the app reads, not only the Python modules."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("backend", "admin", "miniprogram_api", "scenarios")
SHIPPED_BY_PYTHON = {".py"}


def test_every_file_the_app_reads_is_declared_as_package_data():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    missing = []
    for top in PACKAGES:
        for path in (REPO / top).rglob("*"):
            if not path.is_file() or path.suffix in SHIPPED_BY_PYTHON or "__pycache__" in path.parts:
                continue
            relative = path.relative_to(REPO)
            covered = any(
                relative.as_posix().startswith(package.replace(".", "/") + "/")
                and fnmatch.fnmatch(relative.relative_to(package.replace(".", "/")).as_posix(), pattern)
                for package, patterns in declared.items() for pattern in patterns)
            if not covered:
                missing.append(str(relative))
    assert not missing, f"not in [tool.setuptools.package-data], so missing from a wheel: {missing}"
