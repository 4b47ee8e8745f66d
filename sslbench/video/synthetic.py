"""Small labelled test videos written with PyAV, in the real on-disk layouts of the video datasets.

Each video shows a bright square moving across a dark background; its class is the direction of
the motion (``right``, ``left``, ``down``, ``up``, ...), so only a model that sees time can tell
the classes apart. The top 8 rows hold the frame index in binary (one 8-pixel block per bit,
most significant bit first, white = 1; aligned on the codec's 8x8 blocks, it survives lossy
compression) and the background brightness grows with the index, so tests can check which
frames a clip holds (:func:`frame_index_of`). Videos are MPEG-4 Part 2 (codec ``mpeg4``), in
``.mp4`` or ``.avi`` containers, both readable by decord.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

DIRECTIONS = {"right": (0, 1), "left": (0, -1), "down": (1, 0), "up": (-1, 0),
              "down-right": (1, 1), "up-left": (-1, -1), "down-left": (1, -1), "up-right": (-1, 1)}
CODE_ROWS = 8
CODE_BLOCK = 8


def moving_square(n_frames: int, direction: str = "right", height: int = 48, width: int = 64, seed: int = 0,
                  square: int = 12) -> np.ndarray:
    """uint8 frames (n_frames, height, width, 3): the moving square, the index code on top."""
    dy, dx = DIRECTIONS[direction]
    rng = np.random.default_rng(seed)
    colour = rng.integers(150, 256, size=3)
    y0 = rng.integers(CODE_ROWS, height - square + 1)
    x0 = rng.integers(0, width - square + 1)
    speed = rng.uniform(0.5, 1.5) * max(height, width) / max(n_frames, 1)
    frames = np.empty((n_frames, height, width, 3), dtype=np.uint8)
    for i in range(n_frames):
        frame = frames[i]
        frame[:] = min(100, 10 + i)  # background brightness grows with the index
        span_y, span_x = height - CODE_ROWS - square, width - square
        y = CODE_ROWS + int(_bounce(y0 - CODE_ROWS + dy * speed * i, span_y))
        x = int(_bounce(x0 + dx * speed * i, span_x))
        frame[y:y + square, x:x + square] = colour
        write_index_code(frame, i)
    return frames


def _bounce(position: float, span: int) -> float:
    """Reflect a position into [0, span] (the square bounces off the borders)."""
    if span <= 0:
        return 0.0
    period = 2 * span
    p = position % period
    return p if p <= span else period - p


def write_index_code(frame: np.ndarray, index: int) -> None:
    """Write ``index`` in binary into the top rows of ``frame`` (in place)."""
    bits = frame.shape[1] // CODE_BLOCK
    for b in range(bits):
        on = (index >> (bits - 1 - b)) & 1
        frame[:CODE_ROWS, b * CODE_BLOCK:(b + 1) * CODE_BLOCK] = 255 if on else 0


def frame_index_of(frame: np.ndarray) -> int:
    """Read back the index of a decoded frame (H, W, 3) or (3, H, W) written by :func:`moving_square`."""
    if frame.shape[0] == 3 and frame.shape[-1] != 3:
        frame = np.moveaxis(frame, 0, -1)
    bits = frame.shape[1] // CODE_BLOCK
    value = 0
    for b in range(bits):
        block = frame[:CODE_ROWS, b * CODE_BLOCK:(b + 1) * CODE_BLOCK].astype(np.float32)
        value = (value << 1) | int(block.mean() > 127)
    return value


def write_video(path: str | Path, frames: np.ndarray, fps: float = 25.0, codec: str = "mpeg4") -> Path:
    """Encode uint8 frames (T, H, W, 3) into ``path`` (container from its suffix) with PyAV."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=int(round(fps)))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 2_000_000
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_corrupt(path: str | Path, keep_bytes: int = 2000, seconds: float = 2.0) -> Path:
    """A truncated video: the first ``keep_bytes`` of a valid one (decord cannot open it)."""
    path = Path(path)
    write_video(path, moving_square(int(25 * seconds)))
    data = path.read_bytes()
    path.write_bytes(data[:min(keep_bytes, len(data) // 3)])
    return path


def _video(path: Path, label: int, classes: Sequence[str], index: int, seconds: float, fps: float,
           size: tuple[int, int]) -> Path:
    n = int(round(seconds * fps))
    direction = classes[label] if classes[label] in DIRECTIONS else list(DIRECTIONS)[label % len(DIRECTIONS)]
    return write_video(path, moving_square(n, direction, size[0], size[1], seed=1000 * label + index), fps)


def make_videofolder(root: str | Path, classes: Sequence[str] = ("right", "left", "down"),
                     per_split: dict[str, int] | None = None, seconds: float = 3.0, fps: float = 25.0,
                     size: tuple[int, int] = (48, 64), ext: str = ".mp4") -> Path:
    """``<root>/<split>/<class>/<class>_<i>.mp4`` (also the class-folder layout of Kinetics)."""
    root = Path(root)
    for s, (split, count) in enumerate((per_split or {"train": 4, "val": 2}).items()):
        for label, cls in enumerate(classes):
            for i in range(count):
                _video(root / split / cls / f"{cls}_{i:03d}{ext}", label, classes, 100 * s + i, seconds, fps, size)
    return root


def make_kinetics_csv(root: str | Path, classes: Sequence[str] = ("right", "left", "down"),
                      per_split: dict[str, int] | None = None, seconds: float = 3.0, fps: float = 25.0,
                      size: tuple[int, int] = (48, 64), missing: int = 0) -> Path:
    """The CVDF Kinetics layout: ``annotations/<split>.csv`` (``label,youtube_id,time_start,
    time_end,split``) and ``<split>/<youtube_id>_<start:06d>_<end:06d>.mp4``; the last
    ``missing`` rows of each split are listed but not written (deleted YouTube videos)."""
    root = Path(root)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for s, (split, count) in enumerate((per_split or {"train": 4, "val": 2}).items()):
        rows = []
        for label, cls in enumerate(classes):
            for i in range(count):
                ytid = f"{cls[:4]}{s}{i:02d}_x-Y"[:11].ljust(11, "z")
                start = 10 * i
                rows.append({"label": cls, "youtube_id": ytid, "time_start": start, "time_end": start + 10,
                             "split": split})
        for k, row in enumerate(rows):
            if k >= len(rows) - missing:
                continue
            name = f"{row['youtube_id']}_{row['time_start']:06d}_{row['time_end']:06d}.mp4"
            _video(root / split / name, classes.index(row["label"]), classes, k, seconds, fps, size)
        with open(root / "annotations" / f"{split}.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["label", "youtube_id", "time_start", "time_end", "split"])
            writer.writeheader()
            writer.writerows(rows)
    return root


#: A class's video groups in :func:`make_ucf101`: one per official split's test groups (g01-g07,
#: g08-g14, g15-g21) and one always in train (g22-g25).
UCF_GROUPS = (1, 8, 15, 22)


def make_ucf101(root: str | Path, classes: Sequence[str] = ("right", "left", "down"), clips_per_group: int = 1,
                seconds: float = 3.0, fps: float = 25.0, size: tuple[int, int] = (48, 64)) -> Path:
    """``UCF-101/<Class>/v_<Class>_g<GG>_c<CC>.avi`` and ``ucfTrainTestlist/`` with ``classInd.txt``
    and ``trainlist0k.txt`` / ``testlist0k.txt`` following the official group rule: split k tests
    groups 7(k-1)+1 .. 7k."""
    root = Path(root)
    names = [c.capitalize().replace("-", "") for c in classes]
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {n}\n" for i, n in enumerate(names)))
    entries: list[tuple[str, int, int]] = []
    for label, name in enumerate(names):
        for g in UCF_GROUPS:
            for c in range(1, clips_per_group + 1):
                rel = f"{name}/v_{name}_g{g:02d}_c{c:02d}.avi"
                _video(root / "UCF-101" / rel, label, list(classes), 10 * g + c, seconds, fps, size)
                entries.append((rel, label, g))
    for k in (1, 2, 3):
        test = [(rel, y) for rel, y, g in entries if 7 * (k - 1) < g <= 7 * k]
        train = [(rel, y) for rel, y, g in entries if not 7 * (k - 1) < g <= 7 * k]
        (lists / f"trainlist0{k}.txt").write_text("".join(f"{rel} {y + 1}\n" for rel, y in train))
        (lists / f"testlist0{k}.txt").write_text("".join(f"{rel}\n" for rel, _ in test))
    return root


def make_hmdb51(root: str | Path, classes: Sequence[str] = ("right", "left", "down"), per_class: int = 4,
                seconds: float = 3.0, fps: float = 25.0, size: tuple[int, int] = (48, 64)) -> Path:
    """``<class>/<class>_<i>.avi`` and ``testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt``
    whose lines are ``<video> <flag>`` (1 train, 2 test, 0 unused). In split k, video ``i`` is
    test when ``i % 4 == k - 1``, unused when ``i % 4 == 3 and k == 3``, train otherwise."""
    root = Path(root)
    splits = root / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True, exist_ok=True)
    for label, cls in enumerate(classes):
        names = [f"{cls}_{i:02d}.avi" for i in range(per_class)]
        for i, name in enumerate(names):
            _video(root / cls / name, label, list(classes), i, seconds, fps, size)
        for k in (1, 2, 3):
            lines = [f"{name} {hmdb_flag(i, k)}\n" for i, name in enumerate(names)]
            (splits / f"{cls}_test_split{k}.txt").write_text("".join(lines))
    return root


def hmdb_flag(i: int, k: int) -> int:
    """The split-file flag of video ``i`` in split ``k`` in :func:`make_hmdb51`."""
    if i % 4 == k - 1:
        return 2
    if i % 4 == 3 and k == 3:
        return 0
    return 1


def decode_all(path: str | Path) -> np.ndarray:
    """Every frame of a video as uint8 (T, H, W, 3), read with decord (for tests)."""
    import decord

    reader = decord.VideoReader(str(path))
    return reader.get_batch(list(range(len(reader)))).asnumpy()


def indices_of(frames: Iterable[np.ndarray]) -> list[int]:
    """Frame indices read back from decoded frames."""
    return [frame_index_of(np.asarray(f)) for f in frames]
