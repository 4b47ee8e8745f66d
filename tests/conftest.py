"""Shared fixtures: isolated output folders, plugin-state reset, a tiny-run config."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from sslbench import plugins

# Fast settings for end-to-end runs on digits: a few optimiser steps, a narrow network.
TINY = ("--set", "train.max_steps=3", "--set", "model.backbone_options={width: 8}", "--no-progress")


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
        info = site / f"{dist}-0.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n")
        (info / "entry_points.txt").write_text(f"[sslbench]\n{entry_name or module} = {module}\n")
        return str(site)

    return make


def run_cli(*args: str, pythonpath: str | None = None, env: dict | None = None):
    """Run the real ``sslbench`` entry point in a subprocess; returns CompletedProcess."""
    import subprocess

    full_env = dict(os.environ)
    if pythonpath:
        full_env["PYTHONPATH"] = pythonpath + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "sslbench.cli", *args], capture_output=True, text=True,
                          env=full_env, timeout=600)


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
