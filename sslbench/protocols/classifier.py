"""What the single- and multi-label linear probes share: the feature scaling, the linear layer
and its SGD fit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:
    import torch

    from .divergence import FitTrace


def standardize_(train: "torch.Tensor", *others: "torch.Tensor") -> "tuple[torch.Tensor, torch.Tensor]":
    """Scale features in place by the train split's per-dimension mean and std (BN without affine,
    as in MAE's linear probe), so the probe's learning rate does not depend on the feature scale
    and a large feature matrix is not copied; returns (mean, std)."""
    mean, std = train.mean(0, keepdim=True), train.std(0, keepdim=True).clamp_min(1e-6)
    for x in (train, *others):
        x.sub_(mean).div_(std)
    return mean, std


def new_classifier(dim: int, num_classes: int) -> "torch.nn.Linear":
    """A linear layer initialised as MoCo's linear probe: weights N(0, 0.01²), zero bias."""
    from torch import nn

    clf = nn.Linear(dim, num_classes)
    nn.init.normal_(clf.weight, std=0.01)
    nn.init.zeros_(clf.bias)
    return clf


def fit_sgd(batches: Callable[[int], Iterator[tuple["torch.Tensor", "torch.Tensor"]]], dim: int, num_classes: int,
            p: Any, progress: bool = False, device: "torch.device | str | None" = None,
            trace: "FitTrace | None" = None, loss_fn: "Callable | None" = None) -> "torch.nn.Linear":
    """SGD on a linear classifier on ``device``; ``batches(epoch)`` yields (features, labels) for
    that epoch, on that device. ``trace`` receives the initial classifier and each epoch's mean
    loss (summed on the device, read once at the end) for :func:`.divergence.judge_fit`;
    ``loss_fn(logits, labels)``: cross-entropy unless given (the multi-label probe's masked BCE)."""
    import copy

    import torch
    from torch import nn
    from tqdm.auto import tqdm

    loss_fn = loss_fn or nn.functional.cross_entropy
    torch.manual_seed(p.seed)
    clf = new_classifier(dim, num_classes).to(device or "cpu")
    if trace is not None:
        trace.initial = copy.deepcopy(clf)
    sums: list[torch.Tensor] = []
    opt = torch.optim.SGD(clf.parameters(), lr=p.lr_at(0), momentum=p.momentum, weight_decay=p.weight_decay)
    for epoch in tqdm(range(p.epochs), desc="linear", unit="epoch", leave=False, disable=not progress):
        for group in opt.param_groups:
            group["lr"] = p.lr_at(epoch)
        total, count = None, 0
        for x, y in batches(epoch):
            loss = loss_fn(clf(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if trace is not None:
                step = loss.detach().double() * len(y)
                total, count = step if total is None else total + step, count + len(y)
        if total is not None:
            sums.append(total / count)
    if trace is not None and sums:
        trace.epoch_losses = torch.stack(sums).tolist()
    return clf


def train_linear(x: "torch.Tensor", y: "torch.Tensor", num_classes: int, p: Any,
                 progress: bool = False, device: "torch.device | str | None" = None,
                 trace: "FitTrace | None" = None, loss_fn: "Callable | None" = None) -> "torch.nn.Linear":
    """Fit a linear classifier on fixed (cached) features with the schedule of ``p``; the
    features are moved to ``device`` once and the batches are drawn there."""
    import torch

    g = torch.Generator().manual_seed(p.seed)  # same shuffles on every device
    x, y = x.to(device or "cpu"), y.to(device or "cpu")

    def batches(epoch: int):
        order = torch.randperm(len(x), generator=g).to(x.device)
        for start in range(0, len(x), p.batch_size):
            idx = order[start:start + p.batch_size]
            yield x[idx], y[idx]

    return fit_sgd(batches, x.shape[1], num_classes, p, progress, device, trace, loss_fn)
