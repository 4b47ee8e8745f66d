"""SoccerNet-v2 for action spotting: layout, frames, labels, feature banks, alignment (the banks'
PCA: :mod:`sslbench.spotting.pca`).

Layout of a root folder (SoccerNet's own, thesis 6.4.1)::

    ROOT/<split>/<league>/<season>/<game>/Labels-v2.json
                                         /1/000001.jpg ...   frames of half 1 at 2 fps (or 1_224p.mkv)
                                         /2/000001.jpg ...
                                         /1_baidu_soccer_embeddings.npy   (T1, D) features at 1 fps
                                         /2_baidu_soccer_embeddings.npy

``<split>`` is a folder (``train``, ``valid``, ``test``, ``challenge``) or, instead, a file
``ROOT/<split>.txt`` listing game folders relative to ROOT. Frames are numbered from 1; frame
``k`` (0-based) is at ``k / 2`` seconds. Videos ``<half>_224p.mkv`` are decoded to such frame
folders by :func:`extract_frames` (PyAV; ``sslbench soccernet-frames ROOT`` for a whole root) --
the thesis extracts frames once, at 398x224.

**Alignment** of tokens to the bank (6.3.3): token ``i`` of a window starting at frame ``f0``
covers frames ``f0 + i * T_s ... f0 + (i + 1) * T_s - 1`` and sits at the mean time of its
frames (:func:`sslbench.spotting.inference.token_times`); its bank entry is the feature whose
1-s interval ``[j / fps_f, (j + 1) / fps_f)`` holds that time, clipped to the half's last
feature (Baidu features are one per second of the half; with T_s = 2 at 2 fps token ``i`` of an
even ``f0`` gets feature ``f0 / 2 + i``).

**Targets** (6.3.4): a token is positive for class c when one of its frames lies within
``radius`` seconds of an action of class c.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..contract.errors import DatasetError
from .tamap import CLASS_INDEX, CLASSES, LABELS_FILE

FPS = 2.0
FEATURE_FPS = 1.0
DEFAULT_FEATURES = "baidu_soccer_embeddings"
FRAME_PATTERN = "{:06d}.jpg"


@dataclass(frozen=True)
class Half:
    """One half of one game: its frames folder, frame count and feature file (if any)."""

    game: str
    half: int
    frames_dir: Path
    n_frames: int
    features: Path | None

    def frame_path(self, index: int) -> Path:
        """Path of 0-based frame ``index``, clamped to the half (padding repeats the edge frames)."""
        return self.frames_dir / FRAME_PATTERN.format(min(max(index, 0), self.n_frames - 1) + 1)


@dataclass(frozen=True)
class Game:
    name: str  # relative to the split folder
    folder: Path
    halves: tuple[Half, ...]

    def labels(self) -> dict[str, Any]:
        path = self.folder / LABELS_FILE
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path}: cannot read the labels ({exc})") from None


def _count_frames(folder: Path) -> int:
    n = 0
    while (folder / FRAME_PATTERN.format(n + 1)).is_file():
        n += 1
    return n


def split_games(root: str | Path, split: str) -> list[tuple[str, Path]]:
    """(name, folder) of the games of ``split``: ``ROOT/<split>/**/Labels-v2.json`` or ``ROOT/<split>.txt``."""
    base = Path(root)
    if not base.is_dir():
        raise DatasetError(f"{base}: SoccerNet root not found (expected ROOT/<split>/<league>/<season>/<game>/)")
    listing = base / f"{split}.txt"
    if (base / split).is_dir():
        folder = base / split
        names = sorted(p.parent.relative_to(folder).as_posix() for p in folder.rglob(LABELS_FILE))
        games = [(name, folder / name) for name in names]
    elif listing.is_file():
        names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        games = [(name, base / name) for name in names]
    else:
        raise DatasetError(f"{base}: no split {split!r} (expected the folder {base / split} or the list {listing})")
    if not games:
        raise DatasetError(f"{base / split}: no game with a {LABELS_FILE}")
    return games


def load_games(root: str | Path, split: str, features: str | None = DEFAULT_FEATURES) -> list[Game]:
    """The games of ``split`` with their halves' frames (``<half>/``) and features (``<half>_<features>.npy``)."""
    games = []
    for name, folder in split_games(root, split):
        halves = []
        for half in (1, 2):
            frames_dir = folder / str(half)
            if not frames_dir.is_dir():
                video = folder / f"{half}_224p.mkv"
                hint = "; extract its frames at 2 fps with `sslbench soccernet-frames ROOT`" if video.is_file() else ""
                raise DatasetError(f"{frames_dir}: frames of half {half} not found (expected {half}/000001.jpg ...){hint}")
            n = _count_frames(frames_dir)
            if n == 0:
                raise DatasetError(f"{frames_dir}: no frame {FRAME_PATTERN.format(1)}")
            feature_file = folder / f"{half}_{features}.npy" if features else None
            if feature_file is not None and not feature_file.is_file():
                feature_file = None
            halves.append(Half(name, half, frames_dir, n, feature_file))
        games.append(Game(name, folder, tuple(halves)))
    return games


class SoccerNetSplit:
    """The games of one split, as the ``soccernet`` dataset's ``load`` returns them: item ``i`` is
    the :class:`Game` ``i`` (whole halves, not images: read by the tamap protocol and COMEDIAN)."""

    def __init__(self, root: str | Path, split: str) -> None:
        self.root, self.split = Path(root), split
        self.games = load_games(root, split, features=None)

    def __len__(self) -> int:
        return len(self.games)

    def __getitem__(self, index: int) -> Game:
        return self.games[index]


def _stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def fingerprint(games: Sequence[Game], features: str | None = None, labels: bool = False) -> list[Any]:
    """A cheap identity of what ``games`` hold, for cache keys: per half the frame count and the
    size and mtime of its folder, first and last frame (and of ``<half>_<features>.npy``), and of
    ``Labels-v2.json`` when ``labels``. Any file added, removed or rewritten changes it."""
    out: list[Any] = []
    for game in games:
        entry: list[Any] = [game.name]
        for h in game.halves:
            entry.append([h.half, h.n_frames, _stat(h.frames_dir), _stat(h.frame_path(0)), _stat(h.frame_path(h.n_frames - 1))])
            if features:
                entry.append(_stat(game.folder / f"{h.half}_{features}.npy"))
        if labels:
            entry.append(_stat(game.folder / LABELS_FILE))
        out.append(entry)
    return out


def read_frames(half: Half, start: int, count: int, size: int | Sequence[int] | None = None) -> np.ndarray:
    """uint8 frames ``start .. start + count - 1`` of a half, (count, H, W, 3); out-of-range frames
    repeat the first/last frame. ``size`` (side or (H, W)) resizes."""
    from PIL import Image

    out = []
    for index in range(start, start + count):
        with Image.open(half.frame_path(index)) as img:
            img = img.convert("RGB")
            if size is not None:
                h, w = (size, size) if isinstance(size, int) else size
                if img.size != (w, h):
                    img = img.resize((w, h), Image.BILINEAR)
            out.append(np.asarray(img))
    return np.stack(out)


def annotations_of_half(labels: dict[str, Any], half: int) -> tuple[np.ndarray, np.ndarray]:
    """(seconds, class index) of the actions of one half of a ``Labels-v2.json`` object."""
    times, classes = [], []
    for ann in labels.get("annotations", []):
        game_time = ann["gameTime"]
        if int(game_time[0]) != half or ann["label"] not in CLASS_INDEX:
            continue
        if "position" in ann:
            seconds = int(ann["position"]) / 1000
        else:
            seconds = int(game_time[-5:-3]) * 60 + int(game_time[-2:])
        times.append(seconds)
        classes.append(CLASS_INDEX[ann["label"]])
    return np.array(times, dtype=np.float64), np.array(classes, dtype=np.int64)


def token_targets(action_times: np.ndarray, action_classes: np.ndarray, start_frame: int, tokens: int,
                  frames_per_token: int = 2, radius: float = 1.0, fps: float = FPS,
                  n_classes: int = len(CLASSES)) -> np.ndarray:
    """(tokens, C) 0/1 targets: token i is positive for class c when one of its frames lies within
    ``radius`` seconds of an action of class c (thesis 6.3.4)."""
    frames = start_frame + np.arange(tokens * frames_per_token)
    frame_times = frames / fps
    near = np.abs(frame_times[:, None] - np.asarray(action_times, dtype=np.float64)[None, :]) <= radius  # (F, A)
    per_frame = np.zeros((len(frames), n_classes), dtype=bool)
    for c in np.unique(action_classes):
        per_frame[:, c] = near[:, action_classes == c].any(1)
    return per_frame.reshape(tokens, frames_per_token, n_classes).any(1).astype(np.float32)


def aligned_feature_indices(start_frame: int, tokens: int, n_features: int, frames_per_token: int = 2,
                            fps: float = FPS, feature_fps: float = FEATURE_FPS) -> np.ndarray:
    """Bank index of each token of a window starting at ``start_frame`` (module docstring)."""
    centre = (start_frame + np.arange(tokens) * frames_per_token + (frames_per_token - 1) / 2) / fps
    return np.clip(np.floor(centre * feature_fps + 1e-9).astype(np.int64), 0, n_features - 1)


# --------------------------------------------------------------------------- feature banks (their PCA: sslbench.spotting.pca)


def feature_files(features_dir: str | Path, features: str = DEFAULT_FEATURES) -> list[Path]:
    """Every ``<half>_<features>.npy`` under ``features_dir``, sorted."""
    root = Path(features_dir)
    if not root.is_dir():
        raise DatasetError(f"{root}: features folder not found")
    files = sorted(p for p in root.rglob(f"*_{features}.npy") if p.stem.split("_", 1)[0].isdigit())
    if not files:
        raise DatasetError(f"{root}: no <half>_{features}.npy file found")
    return files


# --------------------------------------------------------------------------- videos


def extract_frames(video: str | Path, out_dir: str | Path, fps: float = FPS, size: tuple[int, int] | None = (224, 398)) -> int:
    """Decode ``video`` with PyAV and write its frames at ``fps`` as ``out_dir/000001.jpg ...``
    (the frame shown at each multiple of 1/fps seconds), resized to ``size`` (H, W). Returns the count."""
    import av
    from PIL import Image

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written, next_time = 0, 0.0
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is None or frame.time + 1e-6 < next_time:
                continue
            img = frame.to_image()
            if size is not None:
                img = img.resize((size[1], size[0]), Image.BILINEAR)
            img.save(out / FRAME_PATTERN.format(written + 1), quality=90)
            written += 1
            next_time = written / fps
    return written


def extract_all(root: str | Path, fps: float = FPS, size: tuple[int, int] | None = (224, 398),
                video_name: str = "{half}_224p.mkv") -> list[Path]:
    """Extract the frames of every ``<game>/<half>_224p.mkv`` under ``root`` whose ``<half>/`` frames
    folder is missing; each folder is written under a temporary name, then renamed. Returns them."""
    import shutil

    written = []
    for half in (1, 2):
        for video in sorted(Path(root).rglob(video_name.format(half=half))):
            target = video.parent / str(half)
            if target.is_dir():
                continue
            tmp = video.parent / f".{half}.extracting"
            shutil.rmtree(tmp, ignore_errors=True)
            if extract_frames(video, tmp, fps, size) == 0:
                shutil.rmtree(tmp, ignore_errors=True)
                raise DatasetError(f"{video}: no frame could be decoded")
            os.replace(tmp, target)
            written.append(target)
    return written
