"""Atomic writes: a temp file in the same folder, fsync, then rename; readers never see half a file."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write
from ..errors import SSLBenchError

__all__ = ["atomic_write", "save", "load", "write_text"]


def save(obj: Any, path: str | Path) -> None:
    """``torch.save`` atomically."""
    atomic_write(path, lambda fh: torch.save(obj, fh))


def load(path: str | Path) -> Any:
    """``torch.load`` with ``weights_only=True``: a checkpoint cannot run code; a file it cannot
    read is one :class:`SSLBenchError` line (``--debug`` shows torch's own error)."""
    try:
        return _safe_torch_load(path)
    except Exception as exc:  # unpickling errors come in many types
        raise SSLBenchError(f"cannot load {str(path)!r}: {load_failure(exc)}: expected a file written by "
                            f"torch.save (tensors, numbers, strings and containers of them)") from exc


def _safe_torch_load(path: str | Path, mmap: bool = False) -> Any:
    """The one ``torch.load`` of sslbench: ``weights_only=True``, and no warning about a foreign
    pickle's protocol on stderr (the error that follows says all there is to say)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Detected pickle protocol")
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)


def load_failure(exc: BaseException) -> str:
    """torch's reason for refusing a file, in one line and without its advice to load it with
    ``weights_only=False`` (which would run any code the file holds)."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:  # the reason sits after torch's paragraph of advice
        text = text.split("WeightsUnpickler error:", 1)[1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    first = first.split(". ", 1)[0].rstrip(".")  # the reason, not what follows (add_safe_globals ...)
    if "weights_only" in first:
        first = "not a weights file torch can read safely"
    return first[:200]


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text), mode="w")
