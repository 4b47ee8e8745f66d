"""Atomic writes: a temp file in the same folder, fsync, then rename; readers never see half a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write

__all__ = ["atomic_write", "save", "load", "write_text"]


def save(obj: Any, path: str | Path) -> None:
    """``torch.save`` atomically."""
    atomic_write(path, lambda fh: torch.save(obj, fh))


def load(path: str | Path) -> Any:
    """``torch.load`` with ``weights_only=True``: a checkpoint cannot run code."""
    return torch.load(path, map_location="cpu", weights_only=True)


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text), mode="w")
