"""What the CPU (:mod:`sslbench.image.views`) and GPU (:mod:`sslbench.image.gpu`) training paths
share per item: its random generator, its crop boxes and flips, and the dataset wrapper around a
file-backed image dataset. The same seed gives the same boxes whichever decoder runs."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch.utils.data import Dataset

from .crops import CropSpec, crop_box


def item_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """A generator determined by (seed, epoch, item): an item's crops do not depend on which worker
    cuts them, how many there are, or the world size; a resumed epoch replays them."""
    gen = torch.Generator()
    gen.manual_seed(((seed * 1_000_003 + epoch * 7919 + 1) * 1_000_000_007 + index) % (2**63 - 1))
    return gen


def draw_views(height: int, width: int, views: Sequence[CropSpec],
               gen: torch.Generator | None) -> tuple[list[tuple[int, int, int, int]], list[bool]]:
    """Each view's crop box on the full ``height`` x ``width`` image, then each view's flip."""
    boxes = [crop_box(height, width, v.scale, v.ratio, gen) for v in views]
    flips = [bool(torch.rand(1, generator=gen).item() < v.flip_p) for v in views]
    return boxes, flips


class ViewSource(Dataset):
    """A file-backed image dataset (``image_source(index) -> (path, label)``) read for training
    views ``views``; keyed by ``(index, epoch)`` (the engine's sampler passes the epoch, so that
    persistent loader workers draw new crops every epoch). Other attributes are the source's."""

    keyed_by_epoch = True

    def __init__(self, source: Any, views: Sequence[CropSpec], seed: int = 0) -> None:
        self.source = source
        self.views = list(views)
        self.seed = int(seed)

    def __len__(self) -> int:
        return len(self.source)

    def __getattr__(self, name: str) -> Any:  # labels, classes, report_skipped ... of the source
        if name == "source":
            raise AttributeError(name)
        return getattr(self.source, name)
