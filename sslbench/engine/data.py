"""Batches for training and evaluation: seeded epoch order, this rank's share, loader workers.

What turns a batch into views belongs to its modality (:class:`Views`, looked up through
:mod:`sslbench.contract.modality`): the engine only moves batches.
"""

from __future__ import annotations

import importlib
import os
import warnings
import weakref
from typing import Any, Iterator, Protocol

import torch
from torch.utils.data import DataLoader, Dataset

from ..contract.errors import SSLBenchError
from . import distributed as dist


class TensorImageDataset(Dataset):
    """Images of one size held in memory as a uint8 tensor (N, C, H, W) with int64 labels; the
    engine batches it by indexing, without a DataLoader."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, classes: list[str] | None = None) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"expected uint8 images (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels.long()
        self.classes = classes

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])


class Views(Protocol):
    """Turns the uint8 batches of one modality into normalised views on the device (images:
    :class:`sslbench.image.views.ViewMaker`, videos: :class:`sslbench.video.augment.VideoViewMaker`)."""

    specs: list

    def train_views(self, images: Any, gen: torch.Generator | None) -> list[torch.Tensor]: ...

    def eval_view(self, images: torch.Tensor) -> torch.Tensor: ...


def default_workers(world_size: int = 1) -> int:
    """The cores this process may use per training process (``os.sched_getaffinity``), at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, world_size))


def loader_workers(num_workers: int | None) -> int:
    """``data.num_workers``, or when unset the cores available to this rank."""
    if num_workers is not None:
        return int(num_workers)
    return default_workers(dist.world_size())


def epoch_generator(seed: int, epoch: int, salt: int = 0) -> torch.Generator:
    """A generator determined by (seed, epoch): resuming at an epoch boundary replays exactly."""
    g = torch.Generator()
    g.manual_seed((seed * 1_000_003 + epoch * 7919 + salt) % (2**63 - 1))
    return g


def iterate_batches(dataset: Dataset, batch_size: int, shuffle: bool, seed: int, epoch: int,
                    drop_last: bool, num_workers: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(uint8 images, labels) batches of this rank's share; tensor datasets skip the DataLoader."""
    n = len(dataset)
    if shuffle:
        order = torch.randperm(n, generator=epoch_generator(seed, epoch))
    else:
        order = torch.arange(n)
    world, rank = dist.world_size(), dist.rank()
    if world > 1:
        usable = (n // world) * world if drop_last else n
        order = order[:usable][rank::world]
    if isinstance(dataset, TensorImageDataset):
        stop = len(order) - (len(order) % batch_size if drop_last else 0)
        for start in range(0, stop, batch_size):
            idx = order[start:start + batch_size]
            yield dataset.images[idx], dataset.labels[idx]
        return
    loader = _loader(dataset, batch_size, drop_last, num_workers)
    keys = order.tolist()  # a dataset keyed by epoch (crops cut in the workers) gets (index, epoch)
    loader.sampler.order = [(i, epoch) for i in keys] if getattr(dataset, "keyed_by_epoch", False) else keys
    try:
        for images, labels in loader:
            yield images, labels
    except SSLBenchError as exc:
        raise _one_line(exc) from None
    finally:  # items the dataset had to skip (unreadable videos) are counted at the end of the pass
        report = getattr(dataset, "report_skipped", None)
        if report is not None:
            report()


class _OrderSampler(torch.utils.data.Sampler):
    """Yields the order set for the current epoch; read in the main process, so one DataLoader
    (and its persistent workers) serves every epoch."""

    def __init__(self) -> None:
        self.order: list[int] = []

    def __iter__(self) -> Iterator[int]:
        return iter(list(self.order))

    def __len__(self) -> int:
        return len(self.order)


_loaders: "weakref.WeakKeyDictionary[Dataset, dict[tuple, DataLoader]]" = weakref.WeakKeyDictionary()


def _loader(dataset: Dataset, batch_size: int, drop_last: bool, num_workers: int | None) -> DataLoader:
    """One DataLoader per (dataset, batch size, drop_last, workers), workers kept between epochs;
    ``num_workers`` None: the cores available to this rank (:func:`loader_workers`)."""
    num_workers = loader_workers(num_workers)
    try:
        per_dataset = _loaders.setdefault(dataset, {})
    except TypeError:  # not weak-referenceable: no reuse
        per_dataset = {}
    key = (batch_size, drop_last, num_workers)
    if key not in per_dataset:
        per_dataset[key] = DataLoader(dataset, batch_size=batch_size, sampler=_OrderSampler(), drop_last=drop_last,
                                      num_workers=num_workers, pin_memory=torch.cuda.is_available(),
                                      persistent_workers=num_workers > 0, collate_fn=getattr(dataset, "collate_fn", None),
                                      prefetch_factor=PREFETCH if num_workers > 0 else None)
    return per_dataset[key]


def _one_line(exc: SSLBenchError) -> SSLBenchError:
    """A user error raised in a DataLoader worker arrives wrapped in a traceback: keep its line."""
    text = str(exc)
    if "Traceback" not in text:
        return exc
    last = text.strip().splitlines()[-1]
    prefix = f"{type(exc).__module__}.{type(exc).__name__}: "
    return type(exc)(last[len(prefix):] if last.startswith(prefix) else last)


#: batches each loader worker prepares ahead (DataLoader's prefetch_factor)
PREFETCH = 4


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Optimiser steps in one epoch with drop_last across all ranks."""
    return (n // dist.world_size()) // batch_size


def __getattr__(name: str) -> Any:
    if name == "ViewMaker":  # moved to the image package: an old import keeps working for one release
        warnings.warn("sslbench.engine.data.ViewMaker is deprecated and will be removed in the next release: "
                      "import sslbench.image.views.ViewMaker instead", DeprecationWarning, stacklevel=2)
        return importlib.import_module("sslbench.image.views").ViewMaker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
