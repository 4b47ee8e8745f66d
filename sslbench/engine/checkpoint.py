"""Atomic writes: a temp file in the same folder, fsync, then rename; readers never see half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Call ``write(fh)`` on a temp file beside ``path`` and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def save(obj: Any, path: str | Path) -> None:
    """``torch.save`` atomically."""
    atomic_write(path, lambda fh: torch.save(obj, fh))


def load(path: str | Path) -> Any:
    """``torch.load`` with ``weights_only=True``: a checkpoint cannot run code."""
    return torch.load(path, map_location="cpu", weights_only=True)


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text), mode="w")
