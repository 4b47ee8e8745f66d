"""PCA of a SoccerNet feature bank (thesis 6.4.1: Baidu's 8,576-d features reduced to 512),
fitted on the train split's games only and applied to every ``<half>_<features>.npy`` under ROOT.

Fast at both ends, in bounded memory, reading each file in blocks of rows:

- few vectors (N below :data:`GRAM_ROWS`): the eigenvectors of the N x N Gram matrix of the
  centred bank give the principal axes (``X^T u / sqrt(lambda)``), never a D x D matrix: a few
  games of 8,576-d features in seconds and well under 1 GB;
- many vectors (the train split's 1.6 M of the 500-game bank): the D x D scatter matrix is
  accumulated block by block (float32 products of rows shifted by the first block's mean,
  summed in float64), then only the top ``dim`` eigenpairs are computed (LAPACK ``evr``). Memory:
  the D x D matrix (0.6 GB at 8,576 dims) and one block, whatever the bank's size.

Components have deterministic signs (each one's largest entry is positive).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..atomic import atomic_write
from ..contract.errors import DatasetError
from .soccernet import DEFAULT_FEATURES, feature_files, split_games

#: fewer vectors than this (and fewer than the dimensions): the Gram path
GRAM_ROWS = 8192
#: bytes of one block of rows read at a time
BLOCK_BYTES = 64 << 20


def _header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, data offset) of a ``.npy`` file, from its header alone."""
    with open(path, "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(fh)
        except ValueError as exc:
            raise DatasetError(f"{path}: not a .npy feature file ({exc})") from None
        if fortran:
            raise DatasetError(f"{path}: Fortran-ordered arrays are not supported; save the features in C order")
        return tuple(shape), np.dtype(dtype), fh.tell()


def bank_shape(files: Iterable[Path]) -> tuple[int, int]:
    """(vectors, dimensions) of a bank of ``(T, D)`` files, read from their headers."""
    rows, dims = 0, None
    for path in files:
        shape, _, _ = _header(path)
        if len(shape) != 2:
            raise DatasetError(f"{path}: expected a (T, D) feature matrix, got shape {shape}")
        if dims is not None and shape[1] != dims:
            raise DatasetError(f"{path}: {shape[1]} dims where earlier files have {dims}")
        rows, dims = rows + shape[0], shape[1]
    if dims is None:
        raise DatasetError("PCA needs at least one feature file")
    return rows, dims


def blocks(path: Path, rows: int | None = None) -> Iterator[np.ndarray]:
    """The rows of a ``(T, D)`` ``.npy`` file, ``rows`` at a time (default: :data:`BLOCK_BYTES`),
    read with plain file reads (no memory map kept in the resident set)."""
    shape, dtype, offset = _header(path)
    rows = rows or max(1, BLOCK_BYTES // max(1, shape[1] * dtype.itemsize))
    with open(path, "rb") as fh:
        fh.seek(offset)
        for start in range(0, shape[0], rows):
            count = min(rows, shape[0] - start) * shape[1]
            block = np.fromfile(fh, dtype=dtype, count=count)
            if block.size != count:
                raise DatasetError(f"{path}: the file is shorter than its header says ({shape})")
            yield block.reshape(-1, shape[1])


def _signed(components: np.ndarray) -> np.ndarray:
    """Each row flipped so that its largest-magnitude entry is positive."""
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(1)])
    return components * np.where(signs == 0, 1.0, signs)[:, None]


def _fit_gram(files: list[Path], dim: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([b.astype(np.float64) for path in files for b in blocks(path)])
    mean = x.mean(0)
    x -= mean
    values, vectors = np.linalg.eigh(x @ x.T)
    order = np.argsort(values)[::-1][:dim]
    axes = (x.T @ vectors[:, order]) / np.sqrt(np.maximum(values[order], 1e-300))
    return mean, _signed(axes.T)


def _fit_scatter(files: list[Path], dim: int, dims: int) -> tuple[np.ndarray, np.ndarray]:
    import scipy.linalg

    scatter = np.zeros((dims, dims))
    total, count, shift = np.zeros(dims), 0, None
    for path in files:
        for block in blocks(path):
            if shift is None:
                shift = block.astype(np.float64).mean(0)
            shifted = block.astype(np.float64) - shift
            total += shifted.sum(0)
            centred = shifted.astype(np.float32)
            scatter += centred.T @ centred  # float32 products of a block, summed in float64
            count += len(block)
    mean_shifted = total / count
    scatter -= count * np.outer(mean_shifted, mean_shifted)
    scatter /= count - 1
    values, vectors = scipy.linalg.eigh(scatter, subset_by_index=[dims - dim, dims - 1], driver="evr",
                                        overwrite_a=True, check_finite=False)
    order = np.argsort(values)[::-1]
    return shift + mean_shifted, _signed(vectors[:, order].T)


def fit_pca(files: Iterable[Path], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean (D,), components (dim, D)) of the features of all ``files`` (module docstring)."""
    files = list(files)
    rows, dims = bank_shape(files)
    if rows < 2:
        raise DatasetError("PCA needs at least two feature vectors")
    if dim > dims:
        raise DatasetError(f"cannot reduce {dims}-d features to {dim} dims")
    if rows < min(GRAM_ROWS, dims) and dim < rows:
        return _fit_gram(files, dim)
    return _fit_scatter(files, dim, dims)


def split_feature_files(root: str | Path, split: str, features: str = DEFAULT_FEATURES) -> list[Path]:
    """The ``<half>_<features>.npy`` files of the games of ``split`` (``ROOT/<split>/`` or
    ``ROOT/<split>.txt``, as :func:`sslbench.spotting.soccernet.split_games` reads them)."""
    try:
        games = split_games(root, split)
    except DatasetError as exc:
        raise DatasetError(f"{exc}: the PCA is fitted on the {split!r} split only (--split names another)") from None
    files = [folder / f"{half}_{features}.npy" for _, folder in games for half in (1, 2)]
    found = [f for f in files if f.is_file()]
    if not found:
        raise DatasetError(f"{root}: no <half>_{features}.npy in the {len(games)} games of split {split!r}")
    return found


def project(path: Path, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """``(x - mean) @ components.T`` of one file, block by block, as float32 (T, dim)."""
    parts = [((b.astype(np.float64) - mean) @ components.T).astype(np.float32) for b in blocks(path)]
    return np.concatenate(parts) if parts else np.zeros((0, len(components)), np.float32)


def reduce_bank(features_dir: str | Path, dim: int = 512, features: str = DEFAULT_FEATURES,
                split: str = "train") -> list[Path]:
    """Fit a PCA on the ``split`` games' ``<half>_<features>.npy`` and write
    ``<half>_<features>_PCA<dim>.npy`` (float32) beside every such file under ``features_dir``
    (all splits), plus ``<features>_PCA<dim>.npz`` (mean, components, the split and the number of
    vectors fitted) at the root; every file is written atomically. Returns the written files."""
    fitted = split_feature_files(features_dir, split, features)
    mean, components = fit_pca(fitted, dim)
    written = []
    for path in feature_files(features_dir, features):
        out = path.with_name(f"{path.stem}_PCA{dim}.npy")
        reduced = project(path, mean, components)
        atomic_write(out, lambda fh: np.save(fh, reduced))
        written.append(out)
    model = Path(features_dir) / f"{features}_PCA{dim}.npz"
    vectors = bank_shape(fitted)[0]
    atomic_write(model, lambda fh: np.savez(fh, mean=mean, components=components, split=split, vectors=vectors))
    return written
