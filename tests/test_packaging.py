"""A non-editable install ships every package: each folder with __init__.py is listed."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_python_package_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    dirs = config["package-dir"]
    for top, folder in dirs.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            if "templates" in init.parts:
                continue
            rel = init.parent.relative_to(base).parts
            name = ".".join((top, *rel))
            assert name in listed, f"package {name} ({init.parent}) is missing from pyproject's packages"


def test_every_shipped_plugin_has_an_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    entry_points = set(project["entry-points"]["sslbench"].values())
    for top in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]:
        if top != "sslbench":
            assert top in entry_points, f"plugin package {top} has no [project.entry-points.sslbench] entry"
