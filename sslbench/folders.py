"""Dataset roots laid out as folders, shared by the image and video readers: the root a run
needs, a split's folder, and the class order of the training split."""

from __future__ import annotations

from pathlib import Path

from .contract.errors import DatasetError


def require_root(root: str | None, dataset: str, layout: str) -> Path:
    """``root`` as a Path, or an error naming the dataset, the path and the expected layout."""
    if not root:
        raise DatasetError(f"dataset {dataset!r} needs --data-root (or --set data.root=PATH) with layout {layout}")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DatasetError(f"dataset root {str(path)!r} for {dataset!r} does not exist: expected a folder with {layout}")
    return path


def train_classes(base: Path, split: str) -> list[str] | None:
    """The class folders of ``<base>/train`` for another split, so that a class missing from
    ``val`` cannot shift the labels of the others (None for ``train`` itself or without one)."""
    train = base / "train"
    if split == "train" or not train.is_dir():
        return None
    return sorted(d.name for d in train.iterdir() if d.is_dir()) or None


def split_folder(root: Path, split: str) -> Path:
    """``root/split``, where ``test`` and ``val`` stand in for each other when only one exists."""
    if split == "test" and not (root / "test").is_dir() and (root / "val").is_dir():
        return root / "val"
    if split == "val" and not (root / "val").is_dir() and (root / "test").is_dir():
        return root / "test"
    return root / split
