"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Fast settings for end-to-end runs on digits: a few optimiser steps, a narrow network.
TINY = ("--set", "train.max_steps=3", "--set", "model.backbone_options={width: 8}", "--no-progress")


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


def one_error_line(stderr: str) -> str:
    """The single ``Error: ...`` line a user error prints (asserting there is nothing else)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr[-3000:]
    return lines[0]
