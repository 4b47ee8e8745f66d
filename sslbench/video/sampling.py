"""Which frames a clip holds: clip sampling of thesis 5.4 / B.1 as pure functions of a video's
length and frame rate.

A clip lasts ``duration`` seconds (2.56 s: 64 frames at 25 fps) and keeps ``frames`` of them
uniformly (8 or 16): frame ``k`` is ``start + floor(k * L / frames)`` for a clip of ``L`` frames,
so the kept frames are evenly strided and the clip spans exactly ``L / fps`` seconds. With the
``jitter`` augmentation the duration is multiplied by a factor drawn from U[1 - j, 1 + j] per
clip. Training draws clip starts at random (two clips for the two views, with or without
overlap, after Feichtenhofer et al. 2021); evaluation places ``n`` clips evenly from the first to
the last possible start (the 10 temporal clips of the 30-view test, after SlowFast). A video
shorter than a clip gives one clip starting at frame 0 whose indices past the end repeat the
last frame, so the time scale of a clip never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

#: Frame rate assumed when a container does not report one.
DEFAULT_FPS = 25.0


@dataclass(frozen=True)
class ClipSampling:
    """How clips are drawn from one video.

    ``clips`` clips of ``frames`` frames lasting ``duration`` seconds; ``mode`` ``random``
    (training: random starts, ``jitter`` and ``overlap`` apply) or ``uniform`` (evaluation:
    evenly spaced starts, each clip cut into ``crops`` square spatial crops along the long side).
    ``crop_views`` (pretraining, :class:`sslbench.image.crops.CropSpec` of one side): one view per
    spec, view ``k`` cut from clip ``k mod clips`` by a random resized crop drawn on the full frame
    and resized to its side (crop before resize), instead of square windows of the stored side.
    """

    frames: int = 8
    duration: float = 2.56
    clips: int = 1
    mode: Literal["random", "uniform"] = "random"
    jitter: float = 0.0
    overlap: bool = True
    crops: int = 1
    crop_views: tuple = ()

    def __post_init__(self) -> None:
        if self.frames < 1 or self.duration <= 0 or self.clips < 1 or self.crops < 1:
            raise ValueError(f"invalid clip sampling {self}: frames, clips, crops >= 1 and duration > 0")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"invalid clip jitter {self.jitter}: expected a value in [0, 1)")
        if self.mode not in ("random", "uniform"):
            raise ValueError(f"invalid clip sampling mode {self.mode!r}: expected 'random' or 'uniform'")

    @property
    def views(self) -> int:
        """Tensors per item: clips x spatial crops (``uniform``), crop views, or clips (``random``)."""
        if self.crop_views:
            return len(self.crop_views)
        return self.clips * (self.crops if self.mode == "uniform" else 1)


def _rand(gen: torch.Generator | None) -> float:
    return float(torch.rand((), generator=gen))


def _randint(high: int, gen: torch.Generator | None) -> int:
    """Uniform integer in [0, high]."""
    return int(torch.randint(0, high + 1, (), generator=gen)) if high > 0 else 0


def clip_length(duration: float, fps: float, jitter: float = 0.0, gen: torch.Generator | None = None) -> int:
    """Frames spanned by a clip of ``duration`` seconds, times U[1 - jitter, 1 + jitter]."""
    scale = 1.0 + jitter * (2.0 * _rand(gen) - 1.0) if jitter > 0 else 1.0
    return max(1, int(round(duration * scale * fps)))


def frame_indices(start: int, length: int, frames: int, total: int) -> list[int]:
    """The ``frames`` kept frames of the clip ``[start, start + length)``, ascending: frame
    ``start + floor(k * length / frames)``, capped at the video's last frame ``total - 1``."""
    return [min(total - 1, start + (k * length) // frames) for k in range(frames)]


def random_starts(total: int, lengths: list[int], overlap: bool, gen: torch.Generator | None = None) -> list[int]:
    """A random start per clip. ``overlap=True``: independent uniform starts. ``overlap=False``:
    the clips are placed without overlap (uniform offsets in the slack, then a random order of
    clips); when the video is too short for that, the starts fall back to independent ones."""
    slack = total - sum(lengths)
    if overlap or len(lengths) == 1 or slack < 0:
        return [_randint(max(0, total - n), gen) for n in lengths]
    order = torch.randperm(len(lengths), generator=gen).tolist()
    offsets = sorted(_randint(slack, gen) for _ in lengths)
    starts = [0] * len(lengths)
    position = 0
    for offset, clip in zip(offsets, order):  # the clips laid out left to right in ``order``
        starts[clip] = offset + position
        position += lengths[clip]
    return starts


def uniform_starts(total: int, length: int, n: int) -> list[int]:
    """``n`` starts evenly spaced from 0 to ``total - length`` (one clip: the centred one)."""
    last = max(0, total - length)
    if n == 1:
        return [last // 2]
    return [int(round(i * last / (n - 1))) for i in range(n)]


def sample_clips(total: int, fps: float, sampling: ClipSampling, gen: torch.Generator | None = None) -> list[list[int]]:
    """Frame indices (ascending) of every clip of one video with ``total`` frames at ``fps``."""
    if total < 1:
        raise ValueError("a video without frames has no clips")
    fps = fps if fps and fps > 0 else DEFAULT_FPS
    if sampling.mode == "uniform":
        length = clip_length(sampling.duration, fps)
        starts = uniform_starts(total, length, sampling.clips)
        return [frame_indices(s, length, sampling.frames, total) for s in starts]
    lengths = [clip_length(sampling.duration, fps, sampling.jitter, gen) for _ in range(sampling.clips)]
    starts = random_starts(total, lengths, sampling.overlap, gen)
    return [frame_indices(s, n, sampling.frames, total) for s, n in zip(starts, lengths)]


def crop_offsets(long_side: int, side: int, crops: int) -> list[int]:
    """Offsets along the long side of ``crops`` square windows of ``side`` covering it (3: the
    start, the centre and the end, as in the SlowFast 3-crop test; 1: the centre)."""
    last = max(0, long_side - side)
    if crops == 1:
        return [last // 2]
    return [int(round(i * last / (crops - 1))) for i in range(crops)]
