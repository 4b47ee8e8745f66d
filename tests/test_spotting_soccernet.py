"""SoccerNet-v2 layout, token targets, alignment of windows to the feature bank, PCA command."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import run_cli

from sslbench.contract.errors import DatasetError
from sslbench.spotting import pca, soccernet
from sslbench.spotting.inference import token_times
from sslbench.spotting.synthetic import write_soccernet


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    path = tmp_path_factory.mktemp("soccernet")
    write_soccernet(path, seed=0, splits={"train": 2}, half_seconds=20, feature_dim=16)
    return path


def test_layout_is_read(root):
    games = soccernet.load_games(root, "train")
    assert len(games) == 2 and all(len(g.halves) == 2 for g in games)
    half = games[0].halves[1]
    assert half.n_frames == 40 and half.features is not None
    frames = soccernet.read_frames(half, 38, 4)  # two frames past the end repeat the last one
    assert frames.shape == (4, 32, 32, 3) and np.array_equal(frames[2], frames[1]) and np.array_equal(frames[3], frames[1])
    with pytest.raises(DatasetError, match="no split 'valid'"):
        soccernet.load_games(root, "valid")


def test_alignment_of_tokens_to_the_bank_matches_a_loop():
    for start in (0, 1, 7, 10, 50):
        got = soccernet.aligned_feature_indices(start, 16, n_features=30)
        expected = []
        for i in range(16):
            frames = [start + 2 * i, start + 2 * i + 1]
            centre = sum(f / 2 for f in frames) / 2  # mean time of the token's frames
            j = 0
            while (j + 1) <= centre:  # the 1-s feature interval [j, j + 1) holding the centre
                j += 1
            expected.append(min(j, 29))
        assert got.tolist() == expected
    # an even start: token i <-> feature start / 2 + i; times agree with the inference's token times
    assert soccernet.aligned_feature_indices(8, 4, 100).tolist() == [4, 5, 6, 7]
    assert np.allclose(token_times(4)[:, None] // 1, np.arange(4)[:, None])


def test_token_targets_within_radius_match_a_loop():
    times, classes = np.array([3.1, 10.0, 10.4]), np.array([2, 8, 2])
    got = soccernet.token_targets(times, classes, start_frame=4, tokens=10, radius=1.0)
    expected = np.zeros((10, 17), np.float32)
    for i in range(10):
        for f in (4 + 2 * i, 5 + 2 * i):
            for t, c in zip(times, classes):
                if abs(f / 2 - t) <= 1.0:
                    expected[i, c] = 1
    np.testing.assert_array_equal(got, expected)


def test_pca_command_writes_reduced_files(root):
    result = run_cli("soccernet-pca", str(root), "--dim", "4")
    assert result.returncode == 0, result.stderr
    originals = soccernet.feature_files(root)
    assert len(originals) == 4
    bank = np.concatenate([np.load(p) for p in originals]).astype(np.float64)
    centred = bank - bank.mean(0)
    _, s, _ = np.linalg.svd(centred, full_matrices=False)
    reduced = np.concatenate([np.load(p.with_name(p.stem + "_PCA4.npy")) for p in originals]).astype(np.float64)
    assert reduced.shape == (len(bank), 4)
    # the kept variance is the top-4 of the data's: the projection equals the SVD's up to sign
    np.testing.assert_allclose(np.sort(np.linalg.norm(reduced, axis=0))[::-1], s[:4], rtol=1e-4)
    assert not list(root.rglob("*.tmp"))
    # the original files are still the only inputs: rerunning gives the same output
    pca.reduce_bank(root, 4)
    np.testing.assert_allclose(np.concatenate([np.load(p.with_name(p.stem + "_PCA4.npy")) for p in originals]), reduced,
                               rtol=1e-5, atol=1e-5)


def test_extract_frames_samples_a_video_at_2_fps(tmp_path):
    av = pytest.importorskip("av")
    video = tmp_path / "1_224p.mkv"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(40):  # 4 s at 10 fps, brightness grows with time
            img = np.full((48, 64, 3), 5 * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    result = run_cli("soccernet-frames", str(tmp_path), "--height", "24", "--width", "32")
    assert result.returncode == 0, result.stderr
    n = soccernet._count_frames(tmp_path / "1")
    assert n == 8 and not (tmp_path / ".1.extracting").exists()
    half = soccernet.Half("g", 1, tmp_path / "1", n, None)
    frames = soccernet.read_frames(half, 0, n)
    assert frames.shape == (8, 24, 32, 3)
    levels = frames.reshape(8, -1).mean(1)
    np.testing.assert_allclose(levels, 5 * 5 * np.arange(8), atol=6)  # the frame shown at k / 2 s
