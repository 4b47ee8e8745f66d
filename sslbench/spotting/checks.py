"""SoccerNet checks that run before any training: a missing split, an undecodable frame, a broken
``Labels-v2.json`` or a missing feature bank (PCA file) fails in seconds, not after step 1."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..contract.errors import DatasetError
from . import soccernet
from .tamap import LABELS_FILE, parse_labels


def _check_first_frame(half: soccernet.Half) -> None:
    try:
        soccernet.read_frames(half, 0, 1)
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for a broken image
        raise DatasetError(f"{half.frame_path(0)}: cannot decode the first frame of half {half.half} "
                           f"({type(exc).__name__}: {exc})") from None


def _missing_bank(path: Path, features: str) -> DatasetError:
    reduced = re.fullmatch(r"(?P<base>.+)_PCA(?P<dim>\d+)", features)
    hint = ""
    if reduced and path.with_name(f"{path.name.split('_', 1)[0]}_{reduced['base']}.npy").is_file():
        hint = (f"; reduce the bank first: sslbench soccernet-pca ROOT --dim {reduced['dim']} "
                f"--features {reduced['base']}")
    return DatasetError(f"{path}: feature bank not found (comedian.features={features!r} reads "
                        f"<game>/<half>_{features}.npy){hint}")


def _check_bank(path: Path, features: str, dim: int | None) -> int:
    """The bank's dimension; a missing, non-2-D, empty or non-float file fails, naming it."""
    if not path.is_file():
        raise _missing_bank(path, features)
    try:
        bank = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable .npy feature bank ({exc})") from None
    if bank.ndim != 2 or bank.shape[0] == 0 or not np.issubdtype(bank.dtype, np.floating):
        raise DatasetError(f"{path}: expected a non-empty (T, D) float feature matrix, got {bank.dtype} "
                           f"of shape {bank.shape}")
    if dim is not None and bank.shape[1] != dim:
        raise DatasetError(f"{path}: {bank.shape[1]}-d features where other halves have {dim}")
    return int(bank.shape[1])


def check_split(root: str | Path, split: str, labels: bool = False, features: str | None = None) -> int | None:
    """Open every game of ``split``: each half's frames (the first one decoded), its
    ``Labels-v2.json`` when ``labels``, its ``<half>_<features>.npy`` bank when ``features``.
    Returns the bank's dimension (None without ``features``)."""
    dim = None
    for game in soccernet.load_games(root, split, features=None):
        for half in game.halves:
            _check_first_frame(half)
            if features:
                dim = _check_bank(game.folder / f"{half.half}_{features}.npy", features, dim)
        if labels:
            parse_labels(game.labels(), str(game.folder / LABELS_FILE))
    return dim


def check_soccernet(root: str | Path, frames: list[str] = (), labels: list[str] = (), features: str | None = None,
                    feature_splits: list[str] = ()) -> None:
    """Check every split a run reads before its first step: ``frames`` splits (pretraining),
    ``labels`` splits (fine-tuning and the evaluated split) and the ``features`` bank of
    ``feature_splits`` (COMEDIAN's step 2), each split once."""
    for split in dict.fromkeys([*frames, *labels, *feature_splits]):
        check_split(root, split, labels=split in labels, features=features if split in feature_splits else None)
