"""Video datasets read with decord: Kinetics-400/200, UCF101, HMDB51 and any video folder.

Every reader returns a :class:`VideoDataset`: a list of (video path, label) whose items are
uint8 clips ``(V, C, T, S, S)`` decoded on the fly (``V`` clips, or clips x spatial crops in the
evaluation mode; ``T`` frames; ``S`` the stored side, 8/7 of the input size as for images). The
frames of an item are read with one ``VideoReader.get_batch`` call on sorted, de-duplicated
frame indices (decord seeks forward only), resized so that the short side is ``S`` and cut into
square windows along the long side. A video decord cannot read is reported by path, replaced in
that batch by the next readable video, and counted; :meth:`VideoDataset.report_skipped` prints
the count at the end of each pass (the engine calls it).

Video readers take a fourth argument, ``data`` (the run's :class:`sslbench.config.DataConfig`),
for the options of the layouts: ``split_id`` (UCF101 / HMDB51 official split 1-3),
``class_list`` and ``video_list`` (Kinetics subsets such as Mini-Kinetics-200).
"""

from __future__ import annotations

import copy
import csv
import logging
import os
import re
import tempfile
import weakref
from pathlib import Path
from typing import Any, Iterable

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..folders import require_root, split_folder, train_classes
from ..contract.errors import DatasetError
from ..image.crops import copy_mirrored, crop_box
from .sampling import ClipSampling, crop_offsets, sample_clips

logger = logging.getLogger("sslbench.video")

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".ogv")


# --------------------------------------------------------------------------- decoding


class UnreadableVideo(RuntimeError):
    """A file decord cannot open; ``why`` is decord's reason (``Invalid data found when processing input``)."""

    def __init__(self, path: str | Path, why: str) -> None:
        super().__init__(f"decord cannot open {path}: {why}")
        self.why = why


def decode_clips(path: str | Path, sampling: ClipSampling, side: int, gen: torch.Generator | None = None,
                 num_threads: int = 0) -> torch.Tensor:
    """uint8 ``(V, 3, T, side, side)`` clips of one video, as described in the module docstring.

    ``random`` sampling: one square window per clip at a random offset along the long side;
    ``uniform``: ``sampling.crops`` windows per clip covering the long side, clip-major order.
    Raises :class:`UnreadableVideo` when decord cannot open the file (and whatever decord raises
    when it cannot decode its frames).
    """
    import decord

    from .quiet import NativeStderr

    decord.logging.set_level(decord.logging.QUIET)  # ffmpeg's own stderr lines
    native = NativeStderr()  # decord's own "ERROR opening: PATH, <why>" line: kept out, put in the error
    try:
        with native:
            reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=num_threads)
    except Exception as exc:  # noqa: BLE001 - decord raises RuntimeError / DECORDError, sometimes others
        raise UnreadableVideo(path, native.last_line().rpartition(f"{path}, ")[2] or _first_line(exc)) from exc
    total = len(reader)
    clips = sample_clips(total, reader.get_avg_fps(), sampling, gen)
    unique = sorted({i for clip in clips for i in clip})
    frames = torch.from_numpy(reader.get_batch(unique).asnumpy())  # (U, H, W, 3)
    del reader
    with _one_thread():
        return _cut(frames, unique, clips, sampling, side, gen)


def _cut(frames: torch.Tensor, unique: list[int], clips: list[list[int]], sampling: ClipSampling, side: int,
         gen: torch.Generator | None) -> torch.Tensor:
    """Square windows of each clip's frames, resized to ``side``: uint8 (V, 3, T, side, side)
    (``sampling.crop_views``: each view's random resized crop instead, :func:`_cut_crops`)."""
    if sampling.crop_views:
        return _cut_crops(frames, unique, clips, sampling, gen)
    where = {f: j for j, f in enumerate(unique)}
    height, width = frames.shape[1], frames.shape[2]
    short, long_side = min(height, width), max(height, width)
    out = torch.empty((sampling.views, 3, sampling.frames, side, side), dtype=torch.uint8)
    v = 0
    for clip in clips:
        rows = torch.tensor([where[i] for i in clip])
        if sampling.mode == "uniform":
            offsets = crop_offsets(long_side, short, sampling.crops)
        else:
            offsets = [int(torch.randint(0, long_side - short + 1, (), generator=gen))]
        kept = frames.index_select(0, rows)  # whole frames: contiguous copies
        for off in offsets:
            _resize_square_into(out[v], kept.narrow(1 if height > width else 2, off, short), side)
            v += 1
    return out


def _cut_crops(frames: torch.Tensor, unique: list[int], clips: list[list[int]], sampling: ClipSampling,
               gen: torch.Generator | None) -> torch.Tensor:
    """View ``k`` of a pretraining item: clip ``k mod K`` cut to a random resized crop box drawn on
    the full frame with torchvision's rule (one box and one flip per view, shared by its frames),
    resized to the view's side (bilinear, antialiased) and flipped: uint8 (V, 3, T, s, s)."""
    where = {f: j for j, f in enumerate(unique)}
    height, width = frames.shape[1], frames.shape[2]
    size = sampling.crop_views[0].size
    out = torch.empty((len(sampling.crop_views), 3, sampling.frames, size, size), dtype=torch.uint8)
    for v, spec in enumerate(sampling.crop_views):
        top, left, h, w = crop_box(height, width, spec.scale, spec.ratio, gen)
        flip = float(torch.rand((), generator=gen)) < spec.flip_p
        rows = torch.tensor([where[i] for i in clips[v % len(clips)]])
        x = frames[:, top:top + h, left:left + w].index_select(0, rows).permute(0, 3, 1, 2)  # the box only: (T, 3, h, w)
        if (h, w) != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        copy_mirrored(out[v], x.transpose(0, 1), flip)  # (T, 3, s, s) channels-last -> (3, T, s, s)
    return out


class _one_thread:
    """Run torch ops single-threaded: between decoder calls, torch's OpenMP workers would spin on
    the cores the video decoder's threads need (measured 2-3x slower loading on 2 cores)."""

    def __enter__(self) -> None:
        self.threads = torch.get_num_threads()
        if self.threads != 1:
            torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        if self.threads != 1:
            torch.set_num_threads(self.threads)


def _resize_square_into(out: torch.Tensor, frames: torch.Tensor, side: int) -> None:
    """(T, s, s, 3) uint8 -> ``out`` (3, T, side, side) uint8, bilinear (antialiased when shrinking).

    The resize runs on uint8 in channels-last layout (the decoder's own), torch's vectorised
    path: 20-50x faster on CPU than going through float.
    """
    x = frames.permute(0, 3, 1, 2)  # (T, 3, s, s), channels-last in memory
    if x.shape[-1] != side:
        x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False, antialias=x.shape[-1] > side)
    copy_mirrored(out, x.transpose(0, 1))


# --------------------------------------------------------------------------- the dataset


class _SkipLog:
    """Paths of unreadable videos, shared by the DataLoader worker processes through a file."""

    def __init__(self) -> None:
        fd, name = tempfile.mkstemp(prefix="sslbench-skipped-videos-", suffix=".txt")
        os.close(fd)
        self.path = name
        self.reported = 0
        weakref.finalize(self, _remove_if_owner, name, os.getpid())

    def add(self, path: str, reason: str) -> None:
        with open(self.path, "a") as fh:  # one short appended line: atomic between processes
            fh.write(f"{path}\t{reason}\n")

    def reasons(self) -> dict[str, str]:
        """Each unreadable video's path -> the first line of decord's error about it."""
        try:
            with open(self.path) as fh:
                rows = [line.rstrip("\n").partition("\t") for line in fh if line.strip()]
        except OSError:
            return {}
        return {path: reason for path, _, reason in rows}

    def paths(self) -> list[str]:
        return sorted(self.reasons())


def _first_line(exc: BaseException) -> str:
    """The first line of an error's message (decord's: ``Error reading PATH...``), at most 200 characters."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def _remove_if_owner(path: str, pid: int) -> None:
    if os.getpid() == pid:
        try:
            os.unlink(path)
        except OSError:
            pass


class VideoDataset(Dataset):
    """(video path, label) samples decoded to uint8 clips ``(V, C, T, S, S)`` on access.

    ``sampling`` says how clips are drawn (:class:`sslbench.video.sampling.ClipSampling`);
    :meth:`with_sampling` gives a copy drawing differently from the same videos (the engine
    makes the pretraining, training and 30-view evaluation sets this way).
    """

    def __init__(self, samples: list[tuple[str, int]], classes: list[str], side: int, name: str = "video",
                 sampling: ClipSampling | None = None) -> None:
        if not samples:
            raise DatasetError(f"{name}: no videos found")
        self.samples = [(str(p), int(y)) for p, y in samples]
        self.classes = list(classes)
        self.side = int(side)
        self.name = name
        self.sampling = sampling or ClipSampling()
        self._skip = _SkipLog()
        self._bad: set[str] = set()

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def labels(self) -> torch.Tensor:
        return torch.tensor([y for _, y in self.samples], dtype=torch.long)

    def with_sampling(self, sampling: ClipSampling) -> "VideoDataset":
        """A copy drawing clips with ``sampling`` (it shares the record of unreadable videos)."""
        other = copy.copy(self)
        other.sampling = sampling
        return other

    def read(self, index: int, gen: torch.Generator | None = None) -> tuple[torch.Tensor, int] | None:
        """The item at ``index``, or None (recorded, and summed up by :meth:`report_skipped`: one
        line per split, not one per video) when its video is unreadable."""
        path, label = self.samples[index]
        if path in self._bad:
            return None
        threads = 1 if torch.utils.data.get_worker_info() is not None else 0
        try:
            clips = decode_clips(path, self.sampling, self.side, gen, threads)
        except Exception as exc:  # decord raises RuntimeError / DECORDError, sometimes others
            self._bad.add(path)
            reason = exc.why if isinstance(exc, UnreadableVideo) else _first_line(exc)
            self._skip.add(path, reason)
            logger.debug("sslbench: skipping unreadable video %s (%s)", path, reason)
            return None
        return clips, label

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        """The item at ``index``; an unreadable video is replaced by the next readable one."""
        n = len(self.samples)
        for step in range(n):
            item = self.read((index + step) % n)
            if item is not None:
                return item
        first = self.samples[index % n][0]
        raise DatasetError(f"{self.name}: none of the {n} videos can be read (first: {first!r}: "
                           f"{self._skip.reasons().get(first, 'unreadable')}): expected videos decord can decode")

    def skipped(self) -> list[str]:
        """Paths of the videos found unreadable so far (in any worker process)."""
        return self._skip.paths()

    def report_skipped(self) -> str | None:
        """Log (and return) how many videos were skipped, when some were newly found unreadable."""
        reasons = self._skip.reasons()
        if len(reasons) == self._skip.reported:
            return None
        self._skip.reported = len(reasons)
        first = min(reasons)
        line = (f"sslbench: skipped {len(reasons)} unreadable video{'s' if len(reasons) != 1 else ''} of {self.name} "
                f"(of {len(self)}; first: {first}: {reasons[first]})")
        logger.warning(line)
        return line


# --------------------------------------------------------------------------- layouts


def _videos_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())


def _class_folder_samples(folder: Path, dataset: str, classes: list[str] | None = None
                          ) -> tuple[list[tuple[str, int]], list[str]]:
    if not folder.is_dir():
        raise DatasetError(f"{dataset}: split folder {str(folder)!r} does not exist: expected "
                           f"<root>/<split>/<class>/<video>")
    found = sorted(d.name for d in folder.iterdir() if d.is_dir())
    extra = [c for c in found if c not in classes] if classes is not None else []
    if extra:
        raise DatasetError(f"{dataset}: class folder {str(folder / extra[0])!r} is not a class of the training "
                           f"split: expected the class folders of <root>/train")
    classes = found if classes is None else classes
    if not classes:
        raise DatasetError(f"{dataset}: {str(folder)!r} has no class folders: expected <split>/<class>/<video>")
    samples = []
    for label, cls in enumerate(classes):
        if (folder / cls).is_dir():
            samples.extend((str(p), label) for p in _videos_under(folder / cls))
    if not samples:
        raise DatasetError(f"{dataset}: no videos ({', '.join(VIDEO_EXTENSIONS)}) under {str(folder)!r}")
    return samples, classes


def _option(data: Any, name: str, default: Any = None) -> Any:
    return getattr(data, name, default) if data is not None else default


def load_videofolder(root: str | None, split: str, side: int, data: Any = None) -> VideoDataset:
    """Any ``<root>/<split>/<class>/<video>`` tree (``test`` may stand for ``val`` and back)."""
    base = require_root(root, "videofolder", "<split>/<class>/<video>")
    samples, classes = _class_folder_samples(split_folder(base, split), "videofolder", train_classes(base, split))
    return VideoDataset(samples, classes, side, f"videofolder/{split}")


# ---- Kinetics

KINETICS_LAYOUT = ("<split>/<class>/<video> folders, or annotations/<split>.csv (label,youtube_id,time_start,"
                   "time_end,split; DeepMind's validate.csv for val) with videos "
                   "<split>/<youtube_id>_<start:06d>_<end:06d>.mp4")
_SEGMENT = re.compile(r"_\d{6}_\d{6}$")


def _norm_class(name: str) -> str:
    return name.strip().strip('"').replace("_", " ").lower()


def _read_lines(path: str | Path, what: str) -> list[str]:
    p = Path(path).expanduser()
    if not p.is_file():
        raise DatasetError(f"{what} {str(p)!r} does not exist: expected a text file with one entry per line")
    return [line.strip() for line in p.read_text().splitlines() if line.strip() and not line.startswith("#")]


def _split_names(split: str) -> tuple[str, ...]:
    """``val`` is ``validate`` in DeepMind's Kinetics release (``validate.csv``)."""
    return (split, "validate") if split == "val" else (split,)


def _kinetics_csv(base: Path, split: str) -> Path | None:
    for s in _split_names(split):
        for name in (f"annotations/{s}.csv", f"{s}.csv", f"kinetics400/annotations/{s}.csv",
                     f"annotations/kinetics_{s}.csv", f"kinetics_{s}.csv"):
            if (base / name).is_file():
                return base / name
    return None


def _kinetics_folder(base: Path, split: str) -> Path:
    """The split's video folder: ``<split>`` (``test`` and ``val`` stand in for each other), or
    ``validate`` for ``val``."""
    folder = split_folder(base, split)
    if not folder.is_dir() and split == "val" and (base / "validate").is_dir():
        return base / "validate"
    return folder


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    need = {"label", "youtube_id", "time_start", "time_end"}
    if rows and not need <= set(rows[0]):
        raise DatasetError(f"Kinetics annotations {str(path)!r}: expected columns {', '.join(sorted(need))}, "
                           f"found {', '.join(rows[0])}")
    return rows


def _segment_name(row: dict[str, str]) -> str:
    return f"{row['youtube_id']}_{int(float(row['time_start'])):06d}_{int(float(row['time_end'])):06d}"


def load_kinetics(root: str | None, split: str, side: int, data: Any = None, variant: int = 400) -> VideoDataset:
    """Kinetics-400 in either official layout (see ``KINETICS_LAYOUT``), or a subset of it.

    With the CSV annotations the classes are the labels of ``train.csv`` (all 400 even when
    videos are missing); listed videos that are not on disk (deleted from YouTube) are counted
    and reported, not fatal. ``data.class_list`` (a file, one class per line) keeps only those
    classes; ``data.video_list`` (a file of YouTube ids, clip names or relative paths, one per
    line, ``{split}`` in the path replaced by the split) keeps only those videos: Mini-Kinetics-200
    is ``kinetics200`` with its class list or its ``{split}_ytid_list.txt`` files.
    """
    name = f"kinetics{variant}"
    base = require_root(root, name, KINETICS_LAYOUT)
    class_list = _option(data, "class_list")
    video_list = _option(data, "video_list")
    if variant == 200 and not class_list and not video_list:
        raise DatasetError("dataset 'kinetics200' needs data.class_list (a file with the 200 class names, one per "
                           "line) or data.video_list (files of the videos per split, '{split}' in the path)")
    table = _kinetics_csv(base, split)
    if table is not None:
        samples, classes = _kinetics_from_csv(base, split, table, name)
    else:
        folder = _kinetics_folder(base, split)
        if not folder.is_dir():
            raise DatasetError(f"{name}: neither {str(base / 'annotations' / (split + '.csv'))!r} nor "
                               f"{str(folder)!r} exists: expected {KINETICS_LAYOUT}")
        samples, classes = _class_folder_samples(folder, name, train_classes(base, split))
    if video_list:
        samples = _keep_listed(samples, _read_lines(str(video_list).replace("{split}", split), "data.video_list"), base)
        if not class_list:  # the classes of the listed training videos (Mini-Kinetics-200: 200 of them)
            used = (sorted({classes[y] for _, y in samples}) if split == "train"
                    else load_kinetics(root, "train", side, data, variant).classes)
            index = {c: i for i, c in enumerate(used)}
            stray = next((classes[y] for _, y in samples if classes[y] not in index), None)
            if stray is not None:
                raise DatasetError(f"{name}: data.video_list keeps class {stray!r} in split {split!r} but not in "
                                   f"'train': expected the classes of the listed training videos")
            samples, classes = [(p, index[classes[y]]) for p, y in samples], used
    if class_list:
        wanted = sorted(_read_lines(class_list, "data.class_list"))
        index = {_norm_class(c): i for i, c in enumerate(classes)}
        unknown = [c for c in wanted if _norm_class(c) not in index]
        if unknown:
            raise DatasetError(f"{name}: {len(unknown)} classes of data.class_list are not in the dataset "
                               f"(first: {unknown[0]!r})")
        remap = {index[_norm_class(c)]: i for i, c in enumerate(wanted)}
        samples = [(p, remap[y]) for p, y in samples if y in remap]
        classes = wanted
    if not samples:
        raise DatasetError(f"{name}: no videos left for split {split!r} under {str(base)!r}")
    return VideoDataset(samples, classes, side, f"{name}/{split}")


def _kinetics_from_csv(base: Path, split: str, table: Path, name: str) -> tuple[list[tuple[str, int]], list[str]]:
    rows = _csv_rows(table)
    train_table = _kinetics_csv(base, "train")
    label_rows = _csv_rows(train_table) if train_table is not None else rows
    classes = sorted({r["label"].strip() for r in label_rows if r.get("label", "").strip()})
    index = {c: i for i, c in enumerate(classes)}
    folder = _kinetics_folder(base, split)
    on_disk = {p.stem: p for p in _videos_under(folder)} if folder.is_dir() else {}
    if not on_disk:
        on_disk = {p.stem: p for p in _videos_under(base)}
    samples, missing = [], []
    for n, row in enumerate(rows, 2):
        label = row.get("label", "").strip()
        if not label:
            continue  # an unlabelled (test) row
        if label not in index:
            raise DatasetError(f"{str(table)!r} line {n}: label {label!r} is not a class of the train annotations")
        try:
            stem = _segment_name(row)
        except ValueError:
            raise DatasetError(f"{str(table)!r} line {n}: time_start / time_end must be numbers") from None
        path = on_disk.get(stem) or on_disk.get(row["youtube_id"])
        if path is None:
            missing.append(stem)
        else:
            samples.append((str(path), index[label]))
    if missing:
        logger.warning("sslbench: %d of the %d videos listed in %s are not on disk (first: %s); they are left out",
                       len(missing), len(missing) + len(samples), table, missing[0])
    if not samples:
        raise DatasetError(f"{name}: none of the videos listed in {str(table)!r} is under {str(folder)!r}: "
                           f"expected {KINETICS_LAYOUT}")
    return samples, classes


def _keep_listed(samples: list[tuple[str, int]], entries: Iterable[str], base: Path) -> list[tuple[str, int]]:
    keys = {e.strip().rsplit(".", 1)[0] if e.lower().endswith(VIDEO_EXTENSIONS) else e.strip() for e in entries}
    kept = []
    for path, label in samples:
        p = Path(path)
        stem = p.stem
        rel = str(p.relative_to(base).with_suffix("")) if p.is_relative_to(base) else stem
        if stem in keys or _SEGMENT.sub("", stem) in keys or rel in keys:
            kept.append((path, label))
    return kept


# ---- UCF101

UCF101_LAYOUT = "UCF-101/<Class>/v_*.avi and ucfTrainTestlist/{classInd.txt,trainlist0N.txt,testlist0N.txt}"


def _first_dir(*candidates: Path) -> Path | None:
    return next((c for c in candidates if c.is_dir()), None)


def _check_split_id(data: Any, dataset: str) -> int:
    split_id = int(_option(data, "split_id", 1) or 1)
    if split_id not in (1, 2, 3):
        raise DatasetError(f"invalid value {split_id!r} for data.split_id: {dataset} has the official splits 1, 2 and 3")
    return split_id


def _case_insensitive(folder: Path) -> dict[str, Path]:
    return {str(p.relative_to(folder)).lower(): p for p in _videos_under(folder)}


def load_ucf101(root: str | None, split: str, side: int, data: Any = None) -> VideoDataset:
    """UCF101 with its official train/test lists (``data.split_id`` 1-3; split 1 by default).

    ``root`` holds ``UCF-101/`` (or ``UCF101/``) and ``ucfTrainTestlist/`` (also accepted inside
    the video folder). Classes follow ``classInd.txt`` ("1 ApplyEyeMakeup" ...); a video's label
    is its class folder. The lists' known case mismatches (``HandStandPushups``) are resolved
    case-insensitively; listed videos missing on disk are reported and left out.
    """
    if split not in ("train", "test"):
        raise DatasetError(f"unknown split {split!r} for dataset 'ucf101': expected 'train' or 'test'")
    split_id = _check_split_id(data, "ucf101")
    base = require_root(root, "ucf101", UCF101_LAYOUT)
    videos = _first_dir(base / "UCF-101", base / "UCF101", base / "ucf101") or base
    lists = _first_dir(base / "ucfTrainTestlist", videos / "ucfTrainTestlist",
                       base / "UCF101TrainTestSplits-RecognitionTask" / "ucfTrainTestlist")
    if lists is None or not (lists / "classInd.txt").is_file():
        raise DatasetError(f"ucf101: no ucfTrainTestlist/classInd.txt under {str(base)!r}: expected {UCF101_LAYOUT}")
    classes: dict[int, str] = {}
    for line in _read_lines(lists / "classInd.txt", "ucf101 class index"):
        idx, name = line.split()
        classes[int(idx)] = name
    ordered = [classes[i] for i in sorted(classes)]
    index = {c.lower(): i for i, c in enumerate(ordered)}
    listed = _read_lines(lists / f"{split}list0{split_id}.txt", f"ucf101 {split} list")
    by_lower = None
    samples, missing = [], []
    for entry in listed:
        rel = entry.split()[0]
        cls = rel.replace("\\", "/").split("/")[0]
        if cls.lower() not in index:
            raise DatasetError(f"ucf101: {rel!r} in {split}list0{split_id}.txt has class {cls!r}, not in classInd.txt")
        path = videos / rel
        if not path.is_file():
            by_lower = by_lower if by_lower is not None else _case_insensitive(videos)
            path = by_lower.get(rel.lower())
        if path is None:
            missing.append(rel)
            continue
        samples.append((str(path), index[cls.lower()]))
    if missing:
        logger.warning("sslbench: %d of the %d ucf101 %s videos of split %d are not on disk (first: %s)",
                       len(missing), len(listed), split, split_id, missing[0])
    if not samples:
        raise DatasetError(f"ucf101: none of the {split} videos of split {split_id} is under {str(videos)!r}")
    return VideoDataset(samples, ordered, side, f"ucf101/{split}{split_id}")


# ---- HMDB51

HMDB51_LAYOUT = "<class>/*.avi and testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt"
_HMDB_SPLIT = re.compile(r"^(?P<cls>.+)_test_split(?P<k>[123])\.txt$")


def load_hmdb51(root: str | None, split: str, side: int, data: Any = None) -> VideoDataset:
    """HMDB51 with its official split files (``data.split_id`` 1-3; split 1 by default).

    ``root`` holds the class folders (directly or in ``hmdb51_org/`` / ``videos/``) and
    ``testTrainMulti_7030_splits/`` whose ``<class>_test_split<k>.txt`` lines read
    ``<video>.avi <flag>``: 1 = train, 2 = test, 0 = unused. Classes are sorted by name.
    """
    if split not in ("train", "test"):
        raise DatasetError(f"unknown split {split!r} for dataset 'hmdb51': expected 'train' or 'test'")
    split_id = _check_split_id(data, "hmdb51")
    base = require_root(root, "hmdb51", HMDB51_LAYOUT)
    splits = _first_dir(base / "testTrainMulti_7030_splits", base / "splits", base / "test_train_splits")
    if splits is None:
        raise DatasetError(f"hmdb51: no testTrainMulti_7030_splits/ under {str(base)!r}: expected {HMDB51_LAYOUT}")
    files = {}
    for f in splits.rglob("*.txt"):
        m = _HMDB_SPLIT.match(f.name)
        if m and int(m["k"]) == split_id:
            files[m["cls"]] = f
    if not files:
        raise DatasetError(f"hmdb51: no <class>_test_split{split_id}.txt in {str(splits)!r}")
    classes = sorted(files)
    videos = _first_dir(base / "hmdb51_org", base / "videos", base / "HMDB51", base / "hmdb51") or base
    want = "1" if split == "train" else "2"
    samples, missing = [], []
    for label, cls in enumerate(classes):
        for line in _read_lines(files[cls], "hmdb51 split file"):
            fields = line.split()
            if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                raise DatasetError(f"hmdb51: {str(files[cls])!r}: expected '<video>.avi <0|1|2>' lines, got {line!r}")
            if fields[1] != want:
                continue
            path = videos / cls / fields[0]
            if path.is_file():
                samples.append((str(path), label))
            else:
                missing.append(str(path))
    if missing:
        logger.warning("sslbench: %d hmdb51 %s videos of split %d are not on disk (first: %s)",
                       len(missing), split, split_id, missing[0])
    if not samples:
        raise DatasetError(f"hmdb51: none of the {split} videos of split {split_id} is under {str(videos)!r}")
    return VideoDataset(samples, classes, side, f"hmdb51/{split}{split_id}")
