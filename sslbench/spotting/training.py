"""What COMEDIAN's steps and the spotting fine-tuning share (thesis 6.3, App. C.1): reading clips of
a half, the per-clip augmentations, clip sampling and the AdamW warm-up + cosine loop (C.1.2)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn

from ..contract.errors import TrainingError
from . import soccernet

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 1, 3, 1, 1)


def frame_size(model: Any) -> tuple[int, int]:
    """(H, W) of the frames a video transformer takes."""
    size = model.config.img_size
    return (size, size) if isinstance(size, int) else tuple(size)


def read_clip(half: soccernet.Half, start_frame: int, frames: int, size: tuple[int, int]) -> torch.Tensor:
    """uint8 (frames, 3, H, W) from ``start_frame`` (edges padded by repeating frames)."""
    return torch.from_numpy(soccernet.read_frames(half, start_frame, frames, size)).permute(0, 3, 1, 2)


def normalise(x: torch.Tensor) -> torch.Tensor:
    """uint8 or [0, 1] float (B, T, 3, H, W) -> ImageNet-normalised float."""
    if x.dtype == torch.uint8:
        x = x.float() / 255
    return (x - MEAN.to(x.device)) / STD.to(x.device)


def augmentation(kind: str, size: tuple[int, int]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Per-clip augmentation of a float (T, 3, H, W) clip in [0, 1], one draw for all its frames.

    ``spatial`` (step 1, the contrastive image recipe), ``pretrain`` (step 2, strong-gamma without
    cropping), ``finetune`` (step 3: jitter p 0.8 of 0.4 without hue, blur p 0.5, flip; C.1.5)."""
    from torchvision.transforms import v2

    kernel = 23 if min(size) >= 224 else max(2 * round(min(size) * 11 / 224) + 1, 3)  # 23 px at 224
    blur = v2.RandomApply([v2.GaussianBlur(kernel, (0.1, 2.0))], p=0.5)
    if kind == "spatial":
        ops = [v2.RandomResizedCrop(size, scale=(0.2, 1.0), antialias=True), v2.RandomHorizontalFlip(),
               v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8), v2.RandomGrayscale(0.2), blur]
    elif kind == "pretrain":
        ops = [v2.RandomHorizontalFlip(), v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
               v2.RandomGrayscale(0.2), blur, v2.RandomSolarize(0.5, p=0.2)]
    elif kind == "finetune":
        ops = [v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.0)], p=0.8), blur, v2.RandomHorizontalFlip()]
    else:
        raise ValueError(kind)
    return v2.Compose(ops)


def augment_batch(x: torch.Tensor, aug: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """uint8 (B, T, 3, H, W) -> augmented, normalised float, one draw per clip."""
    x = x.float() / 255
    return normalise(torch.stack([aug(clip) for clip in x]))


def clip_starts(half: soccernet.Half, n_clips: int, frames: int, rng: np.random.Generator,
                include_edges: bool = False) -> list[int]:
    """``n_clips`` random first frames in a half (``include_edges``: the first and last clip of the
    half are always taken, C.1.5)."""
    last = max(half.n_frames - frames, 0)
    starts = rng.integers(0, last + 1, n_clips).tolist()
    if include_edges and n_clips >= 2:
        starts[0], starts[1] = 0, last
    return starts


def train_loop(parameters: list[nn.Parameter], batches: Callable[[int], Iterator[Any]],
               loss_fn: Callable[[Any], torch.Tensor], epochs: int, steps_per_epoch: int, lr: float,
               warmup_epochs: float, min_lr_ratio: float, log: Path,
               after_step: Callable[[int, int], None] | None = None) -> float:
    """AdamW (weight decay 0.05) with linear warm-up then cosine decay to ``lr * min_lr_ratio``,
    ``epochs`` x ``steps_per_epoch`` steps (C.1.2); one ``log`` line per epoch. Returns the last loss."""
    from ..engine.schedules import warmup_cosine_lr

    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.05)
    total, warmup = epochs * steps_per_epoch, int(round(warmup_epochs * steps_per_epoch))
    step, loss_value = 0, float("nan")
    log.parent.mkdir(parents=True, exist_ok=True)
    for epoch in range(epochs):
        losses = []
        for batch in batches(epoch):
            for group in optimizer.param_groups:
                group["lr"] = warmup_cosine_lr(step, total, warmup, lr, lr * min_lr_ratio)
            loss = loss_fn(batch)
            if not torch.isfinite(loss):
                raise TrainingError(f"non-finite loss {float(loss)} at step {step} (epoch {epoch}): lower the "
                                    f"learning rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if after_step is not None:
                after_step(step, total)
            losses.append(float(loss.detach()))
            step += 1
        loss_value = float(np.mean(losses)) if losses else loss_value
        with open(log, "a") as fh:
            fh.write(json.dumps({"epoch": epoch + 1, "step": step, "loss": loss_value}) + "\n")
    return loss_value


def batched(items: list[Any], batch_size: int, rng: np.random.Generator, drop_last: bool = True) -> Iterator[list[Any]]:
    """``items`` in an order drawn from ``rng``, ``batch_size`` at a time."""
    order = rng.permutation(len(items))
    stop = len(items) - (len(items) % batch_size if drop_last else 0)
    for i in range(0, stop, batch_size):
        chunk = [items[j] for j in order[i:i + batch_size]]
        if chunk:
            yield chunk


class _ChunkReader(torch.utils.data.Dataset):
    def __init__(self, chunks: list[Any], read: Callable[[Any], Any]) -> None:
        self.chunks, self.read = chunks, read

    def __len__(self) -> int:
        return len(self.chunks)

    def __getitem__(self, i: int) -> Any:
        return self.read(self.chunks[i])


def reader_workers(num_workers: int | None) -> int:
    """``data.num_workers`` for reading frames; unset (None), the cores this process may use."""
    if num_workers is not None:
        return int(num_workers)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def read_batches(chunks: list[Any], read: Callable[[Any], Any], workers: int) -> Iterator[Any]:
    """``read(chunk)`` of each chunk in order, in ``workers`` processes (0: here)."""
    if workers <= 0:
        return map(read, chunks)
    return iter(torch.utils.data.DataLoader(_ChunkReader(chunks, read), batch_size=None, num_workers=workers))


def n_steps(n: int, batch_size: int, drop_last: bool = True) -> int:
    """Optimiser steps of one epoch over ``n`` items."""
    return n // batch_size if drop_last else math.ceil(n / batch_size)
