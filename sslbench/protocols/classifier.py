"""What the single- and multi-label linear probes share: the feature scaling and the linear layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


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
