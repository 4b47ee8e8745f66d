"""Where suite files are found: ``$SSLBENCH_SUITES``, ``./benchmarks`` and sslbench's own ``benchmarks/``."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..contract.errors import UnknownNameError
from .spec import Suite, load_suite

SUFFIXES = (".yaml", ".yml")


def suite_dirs() -> list[Path]:
    """Folders searched for ``<name>.yaml``, first match wins: ``$SSLBENCH_SUITES`` (os.pathsep-
    separated), ``./benchmarks``, then the ``benchmarks/`` folder beside the sslbench package."""
    dirs = [Path(p) for p in os.environ.get("SSLBENCH_SUITES", "").split(os.pathsep) if p]
    dirs += [Path.cwd() / "benchmarks", Path(__file__).resolve().parents[2] / "benchmarks"]
    out: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [o.resolve() for o in out]:
            out.append(d)
    return out


def suite_files() -> dict[str, Path]:
    """Every suite file by name (its stem), in name order."""
    found: dict[str, Path] = {}
    for folder in suite_dirs():
        for path in sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file()):
            found.setdefault(path.stem, path)
    return dict(sorted(found.items(), key=lambda item: _natural(item[0])))


def _natural(name: str) -> list:
    """``table-4.2`` before ``table-4.10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def find_suite(name: str) -> Suite:
    """The suite called ``name`` (or the suite file at path ``name``)."""
    path = Path(name)
    if path.suffix in SUFFIXES and path.is_file():
        return load_suite(path)
    files = suite_files()
    if name not in files:
        import difflib

        close = difflib.get_close_matches(name, list(files), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnknownNameError(f"unknown suite {name!r}{hint} (see `sslbench suite list`; searched "
                               f"{', '.join(str(d) for d in suite_dirs()) or 'no folder'})")
    return load_suite(files[name])
