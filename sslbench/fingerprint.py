"""Cheap fingerprints of dataset splits: part of every feature-cache key.

A cached feature file must never outlive the data it was computed from, so its key holds a
fingerprint of the split, computed without reading file contents:

- a dataset's own ``fingerprint()`` method when it has one (any JSON-able value; a plugin whose
  items do not come from files or tensors should define it, or bump its version when its output
  changes);
- in-memory images (an ``images`` tensor or array, e.g. digits, CIFAR): a hash of their bytes;
- ``samples`` of ``(path, label)`` (image and video folders), or ``files`` with their ``labels``
  (transfer datasets): each file's path, size and mtime, in sample order, with its label;
- a folder attribute (``root``, ``base``, ``folder``, ``image_dir``; e.g. VOC): the sorted relative
  list of every file under it with sizes and mtimes.

A ``labels`` tensor or array is hashed alongside. A split matching none of these has no
fingerprint (None) and its features are not cached. Fingerprints are kept per dataset object for
the life of the process: a split loaded again (a later run) is fingerprinted again.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

ROOT_ATTRIBUTES = ("root", "base", "folder", "image_dir")

_cache: "weakref.WeakKeyDictionary[Any, str | None]" = weakref.WeakKeyDictionary()


def _digest() -> "hashlib._Hash":
    return hashlib.blake2b(digest_size=16)


def _as_array(value: Any) -> np.ndarray | None:
    if isinstance(value, np.ndarray):
        return value
    if type(value).__module__.startswith("torch") and hasattr(value, "numpy"):
        return value.detach().cpu().contiguous().numpy()
    return None


def array_digest(value: Any) -> str:
    """Hash of an array's dtype, shape and bytes (a torch tensor or a numpy array)."""
    array = _as_array(value)
    if array is None:
        raise TypeError(f"expected a tensor or an array, got {type(value).__name__}")
    array = np.ascontiguousarray(array)
    h = _digest()
    h.update(f"{array.dtype.str}{array.shape}".encode())
    h.update(memoryview(array.reshape(-1).view(np.uint8)))
    return h.hexdigest()


def _stat_line(path: str | Path, name: str | None = None) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return f"{name or path}\0missing"
    return f"{name or path}\0{st.st_size}\0{st.st_mtime_ns}"


def files_digest(paths: Iterable[str | Path], labels: Sequence[Any] | None = None) -> str:
    """Hash of each file's path, size and mtime (and label), in the given order; no file is read."""
    h = _digest()
    for i, path in enumerate(paths):
        h.update(_stat_line(path).encode())
        h.update(b"\0" + (repr(labels[i]).encode() if labels is not None else b"") + b"\n")
    return h.hexdigest()


def tree_digest(root: str | Path) -> str:
    """Hash of the sorted relative paths, sizes and mtimes of every file under ``root``."""
    root = Path(root)
    entries = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            full = os.path.join(folder, name)
            entries.append((os.path.relpath(full, root), full))
    h = _digest()
    for rel, full in sorted(entries):
        h.update(_stat_line(full, rel).encode() + b"\n")
    return h.hexdigest()


def _paths(value: Any, pairs: bool = False) -> bool:
    """True for a non-empty list of paths (``pairs``: of (path, label, ...) tuples)."""
    if not isinstance(value, (list, tuple)) or not value:
        return False
    first = value[0]
    if pairs:
        return isinstance(first, (list, tuple)) and bool(first) and isinstance(first[0], (str, Path))
    return isinstance(first, (str, Path))


def _compute(dataset: Any) -> Any:
    own = getattr(dataset, "fingerprint", None)
    if callable(own):
        return {"own": own()}
    out: dict[str, Any] = {"n": len(dataset) if hasattr(dataset, "__len__") else None}
    labels = getattr(dataset, "labels", None)
    if _as_array(labels) is not None:
        out["labels"] = array_digest(labels)
    images = getattr(dataset, "images", None)
    if _as_array(images) is not None:
        out["images"] = array_digest(images)
        return out
    samples = getattr(dataset, "samples", None)
    if _paths(samples, pairs=True):
        out["files"] = files_digest([s[0] for s in samples], [tuple(s[1:]) for s in samples])
        return out
    files = getattr(dataset, "files", None)
    if _paths(files):
        listed = labels if isinstance(labels, (list, tuple)) and len(labels) == len(files) else None
        out["files"] = files_digest(files, listed)
        return out
    for attr in ROOT_ATTRIBUTES:
        value = getattr(dataset, attr, None)
        if isinstance(value, (str, Path)) and Path(value).is_dir():
            out["tree"] = tree_digest(value)
            return out
    return None


def split_fingerprint(dataset: Any) -> str | None:
    """The fingerprint of one loaded split (see the module docstring); None when it has none."""
    try:
        return _cache[dataset]
    except (KeyError, TypeError):
        pass
    from .config import stable_hash

    value = _compute(dataset)
    result = None if value is None else stable_hash(value)
    try:
        _cache[dataset] = result
    except TypeError:  # not weak-referenceable: recomputed each time
        pass
    return result
