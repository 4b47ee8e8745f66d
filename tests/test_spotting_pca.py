"""`sslbench soccernet-pca` (thesis 6.4.1): fitted on the train split only, equal to scikit-learn's
PCA, streamed in blocks, and never a D x D matrix for a few games."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from sslbench.contract.errors import DatasetError
from sslbench.spotting import pca
from sslbench.spotting.tamap import LABELS_FILE

FEATURES = "feat"


def _root(tmp_path: Path, games: dict[str, int], rows: int, dims: int, seed: int = 0,
          offsets: dict[str, float] | None = None) -> Path:
    """``<split>/league/season/game<k>/`` with an empty Labels-v2.json and two (rows, dims) banks."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(dims, dims)) * np.exp(-np.arange(dims) / 4)[:, None]  # a decaying spectrum
    for split, n in games.items():
        for k in range(n):
            folder = tmp_path / split / "league" / "season" / f"game{k}"
            folder.mkdir(parents=True)
            (folder / LABELS_FILE).write_text("{}")
            for half in (1, 2):
                bank = rng.normal(size=(rows, dims)) @ basis + (offsets or {}).get(split, 0.0)
                np.save(folder / f"{half}_{FEATURES}.npy", bank.astype(np.float32))
    return tmp_path


def _sklearn(files: list[Path], dim: int):
    from sklearn.decomposition import PCA

    bank = np.concatenate([np.load(f) for f in files]).astype(np.float64)
    return PCA(dim, svd_solver="full").fit(bank), bank


@pytest.mark.parametrize("rows,dims,dim", [(10, 200, 6), (300, 32, 8)])  # Gram path, then scatter path
def test_pca_equals_scikit_learns_up_to_sign(tmp_path, rows, dims, dim):
    root = _root(tmp_path, {"train": 2}, rows, dims)
    files = pca.split_feature_files(root, "train", FEATURES)
    mean, components = pca.fit_pca(files, dim)
    reference, bank = _sklearn(files, dim)
    np.testing.assert_allclose(mean, reference.mean_, rtol=0, atol=1e-9)
    agreement = np.abs(np.sum(components * reference.components_, axis=1))  # |cos| of matching axes
    np.testing.assert_allclose(agreement, 1.0, atol=1e-5)
    projected = np.concatenate([pca.project(f, mean, components) for f in files])
    np.testing.assert_allclose(np.abs(projected), np.abs(reference.transform(bank)), rtol=1e-4, atol=1e-4)
    assert (components[np.arange(dim), np.abs(components).argmax(1)] > 0).all()  # deterministic signs


def test_the_scatter_path_streams_blocks_of_rows(tmp_path, monkeypatch):
    root = _root(tmp_path, {"train": 2}, 300, 32)
    files = pca.split_feature_files(root, "train", FEATURES)
    whole = pca.fit_pca(files, 8)
    monkeypatch.setattr(pca, "BLOCK_BYTES", 32 * 4 * 7)  # 7 rows per block
    assert len(list(pca.blocks(files[0]))) == 43
    streamed = pca.fit_pca(files, 8)
    np.testing.assert_allclose(streamed[0], whole[0], atol=1e-9)
    np.testing.assert_allclose(streamed[1], whole[1], atol=1e-6)


def test_the_pca_is_fitted_on_the_train_split_only_and_applied_to_every_split(tmp_path):
    root = _root(tmp_path, {"train": 2, "valid": 1, "test": 1}, 12, 10, offsets={"valid": 50.0, "test": -50.0})
    written = pca.reduce_bank(root, 3, FEATURES)
    assert len(written) == 8 and all(p.is_file() for p in written)
    model = np.load(root / f"{FEATURES}_PCA3.npz")
    train = np.concatenate([np.load(f) for f in sorted((root / "train").rglob(f"*_{FEATURES}.npy"))])
    np.testing.assert_allclose(model["mean"], train.astype(np.float64).mean(0), atol=1e-9)
    assert str(model["split"]) == "train" and int(model["vectors"]) == 48
    valid = next((root / "valid").rglob(f"1_{FEATURES}_PCA3.npy"))
    assert np.load(valid).shape == (12, 3)


def test_a_root_without_the_train_split_is_refused_with_the_option_to_name_another(tmp_path):
    root = _root(tmp_path, {"valid": 1}, 12, 10)
    with pytest.raises(DatasetError, match="fitted on the 'train' split only"):
        pca.reduce_bank(root, 3, FEATURES)
    assert len(pca.reduce_bank(root, 3, FEATURES, split="valid")) == 2


def test_a_few_games_of_wide_features_never_hold_a_d_by_d_matrix(tmp_path):
    rows, dims, dim = 60, 2000, 32  # 4 halves: 240 vectors of 2,000 dims (Baidu's are 8,576)
    root = _root(tmp_path, {"train": 2}, rows, dims=dims)
    files = pca.split_feature_files(root, "train", FEATURES)
    tracemalloc.start()
    try:
        mean, components = pca.fit_pca(files, dim)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert components.shape == (dim, dims)
    assert peak < dims * dims * 8 / 2  # well under one D x D float64 matrix (32 MB here)
