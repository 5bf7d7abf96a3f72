"""What a non-editable install (``pip install '.[server]'``, as README's deployment does) ships: every template,
stylesheet and data file the app reads, not only the Python modules."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("backend", "admin", "miniprogram_api", "scenarios")
SHIPPED_BY_PYTHON = {".py"}


def test_every_file_the_app_reads_is_declared_as_package_data():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    # What setuptools ships: each pattern globbed in its package's folder ("*" stops at a "/", as there).
    shipped = {found for package, patterns in declared.items() for pattern in patterns
               for found in (REPO / package.replace(".", "/")).glob(pattern)}
    missing = []
    for top in PACKAGES:
        for path in (REPO / top).rglob("*"):
            if not path.is_file() or path.suffix in SHIPPED_BY_PYTHON or "__pycache__" in path.parts:
                continue
            if path not in shipped:
                missing.append(str(path.relative_to(REPO)))
    assert not missing, f"not in [tool.setuptools.package-data], so missing from a wheel: {missing}"
