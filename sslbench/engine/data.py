"""Batches for training and evaluation: seeded epoch order, batched augmentation, normalisation."""

from __future__ import annotations

import weakref
from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from ..contract.augmentations import AugSpec
from ..datasets import TensorImageDataset
from ..contract.errors import SSLBenchError
from . import distributed as dist
from ..image.augment import augment_batch, center_crop_eval, resize_eval


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
    ``num_workers`` None: the cores available to this rank (:func:`sslbench.image.views.loader_workers`)."""
    from ..image.views import loader_workers

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


class ViewMaker:
    """Turns a uint8 batch into normalised augmented views on the training device.

    ``train_views`` takes a uint8 batch (cropped here), or the views the loader workers already
    cropped (a list, one uint8 batch per spec; or an :class:`sslbench.image.gpu.EncodedBatch` to
    decode on the device). ``eval_crop``: the evaluation view is the centre ``size`` square
    (file-backed datasets, resized to ``eval_resize`` by the dataset) instead of a resize.
    """

    def __init__(self, specs: list[AugSpec], size: int, mean, std, device: torch.device, channels_last: bool,
                 eval_crop: bool = False) -> None:
        self.specs = specs
        self.size = size
        self.eval_crop = eval_crop
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1)
        self.device = device
        self.channels_last = channels_last

    def _finish(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x.contiguous()

    def _float(self, images: torch.Tensor) -> torch.Tensor:
        return images.to(self.device, non_blocking=True).float().div_(255)

    def train_views(self, images: Any, gen: torch.Generator | None) -> list[torch.Tensor]:
        if hasattr(images, "views"):  # an EncodedBatch: decoded and cropped on the device
            images = images.views(self.device)
        if isinstance(images, (list, tuple)):  # views cropped in the loader workers
            if len(images) != len(self.specs):
                raise ValueError(f"{len(images)} cropped views for {len(self.specs)} augmentations")
            return [self._finish(augment_batch(self._float(v), spec, self.size, gen, cropped=True))
                    for v, spec in zip(images, self.specs)]
        x = self._float(images)
        return [self._finish(augment_batch(x, spec, self.size, gen)) for spec in self.specs]

    def eval_view(self, images: torch.Tensor) -> torch.Tensor:
        x = self._float(images)
        return self._finish(center_crop_eval(x, self.size) if self.eval_crop else resize_eval(x, self.size))
