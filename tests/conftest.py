"""Shared fixtures: isolated output folders, plugin-state reset, a tiny-run config."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from sslbench.contract import loading as plugins

@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLBENCH_OUTPUT_DIR", str(tmp_path / "runs"))
    yield
    plugins.reset()


@pytest.fixture
def make_plugin_dist(tmp_path):
    """Write an installed-looking distribution (dist-info + module) and return a PYTHONPATH."""

    def make(dist: str, module: str, source: str, entry_name: str | None = None) -> str:
        site = tmp_path / "site"
        site.mkdir(exist_ok=True)
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{re.sub(r'[-_.]+', '_', dist).lower()}-0.3.dist-info"  # the spec's normalised name
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n")
        (info / "entry_points.txt").write_text(f"[sslbench]\n{entry_name or module} = {module}\n")
        return str(site)

    return make


@pytest.fixture
def plugin_commands():
    """The plugins' commands (check-plugin, new-plugin) on the click group, as ``main()`` adds them."""
    from sslbench.cli import _add_plugin_commands

    _add_plugin_commands()
