"""Atomic writes: a temp file in the same folder, fsync, then rename; readers never see half a file."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Mapping

import torch

from ..atomic import atomic_write
from ..contract.errors import SSLBenchError

__all__ = ["atomic_write", "save", "load", "write_text", "backbone_record", "recorded_backbone"]


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


def backbone_record(name: str, options: Mapping[str, Any], in_chans: int) -> dict[str, Any]:
    """What a ``backbone.pt`` records beside its weights so that ``--checkpoint PATH`` rebuilds its
    module alone: the registered backbone name, its options, input channels and the classes of a
    head built into it (``num_classes`` option, e.g. a fine-tuned spotting head; 0 without)."""
    options = dict(options)
    return {"backbone_name": name, "backbone_options": options, "in_chans": int(in_chans),
            "num_classes": int(options.get("num_classes", 0) or 0)}


def recorded_backbone(path: str | Path) -> dict[str, Any] | None:
    """``{"backbone": name, "backbone_options": options}`` as recorded in a ``backbone.pt`` by
    :func:`backbone_record`; None for files without the record (plain state dicts, older files),
    whose backbone must be named with ``--backbone``. Unreadable files give None too: loading
    them reports the problem."""
    try:  # memory-mapped: the weights are not read
        obj = _safe_torch_load(path, mmap=True)
    except Exception:  # noqa: BLE001 - reported by the loader
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("backbone_name"), str) \
            or not isinstance(obj.get("backbone_options"), dict):
        return None
    return {"backbone": obj["backbone_name"], "backbone_options": dict(obj["backbone_options"])}
