"""Batches for training and evaluation: seeded epoch order, batched augmentation, normalisation."""

from __future__ import annotations

import weakref
from typing import Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from ..augment import AugSpec
from ..datasets import TensorImageDataset
from ..contract.errors import SSLBenchError
from . import distributed as dist
from .augment import augment_batch, resize_eval


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
    loader.sampler.order = order.tolist()
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


def _loader(dataset: Dataset, batch_size: int, drop_last: bool, num_workers: int) -> DataLoader:
    """One DataLoader per (dataset, batch size, drop_last, workers), workers kept between epochs."""
    try:
        per_dataset = _loaders.setdefault(dataset, {})
    except TypeError:  # not weak-referenceable: no reuse
        per_dataset = {}
    key = (batch_size, drop_last, num_workers)
    if key not in per_dataset:
        per_dataset[key] = DataLoader(dataset, batch_size=batch_size, sampler=_OrderSampler(), drop_last=drop_last,
                                      num_workers=num_workers, pin_memory=torch.cuda.is_available(),
                                      persistent_workers=num_workers > 0)
    return per_dataset[key]


def _one_line(exc: SSLBenchError) -> SSLBenchError:
    """A user error raised in a DataLoader worker arrives wrapped in a traceback: keep its line."""
    text = str(exc)
    if "Traceback" not in text:
        return exc
    last = text.strip().splitlines()[-1]
    prefix = f"{type(exc).__module__}.{type(exc).__name__}: "
    return type(exc)(last[len(prefix):] if last.startswith(prefix) else last)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Optimiser steps in one epoch with drop_last across all ranks."""
    return (n // dist.world_size()) // batch_size


class ViewMaker:
    """Turns a uint8 batch into normalised augmented views on the training device."""

    def __init__(self, specs: list[AugSpec], size: int, mean, std, device: torch.device, channels_last: bool) -> None:
        self.specs = specs
        self.size = size
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1)
        self.device = device
        self.channels_last = channels_last

    def _finish(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x.contiguous()

    def train_views(self, images: torch.Tensor, gen: torch.Generator | None) -> list[torch.Tensor]:
        x = images.to(self.device, non_blocking=True).float().div_(255)
        return [self._finish(augment_batch(x, spec, self.size, gen)) for spec in self.specs]

    def eval_view(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.device, non_blocking=True).float().div_(255)
        return self._finish(resize_eval(x, self.size))
