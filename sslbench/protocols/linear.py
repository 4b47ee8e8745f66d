"""Linear probing of a frozen backbone (thesis A.5.1) on cached features."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config import check
from ..protocol import Metric, Protocol

if TYPE_CHECKING:
    import torch


@dataclass
class LinearParams:
    """A.5.1 recipe: SGD lr 30, momentum 0.9, no weight decay, 100 epochs, lr x0.1 at 60 and 80."""

    epochs: int = 100
    lr: float = 30.0
    batch_size: int = 256
    momentum: float = 0.9
    weight_decay: float = 0.0
    milestones: list[int] = field(default_factory=lambda: [60, 80])
    gamma: float = 0.1
    seed: int = 0
    standardize: bool = False


    def __post_init__(self) -> None:
        check(self.epochs > 0, "linear.epochs", self.epochs, "a positive integer")
        check(self.lr > 0, "linear.lr", self.lr, "a positive number")
        check(self.batch_size > 0, "linear.batch_size", self.batch_size, "a positive integer")
        check(0 <= self.momentum < 1, "linear.momentum", self.momentum, "a value in [0, 1)")
        check(self.weight_decay >= 0, "linear.weight_decay", self.weight_decay, ">= 0")
        check(0 < self.gamma <= 1, "linear.gamma", self.gamma, "a value in (0, 1]")


def standardize(train: "torch.Tensor", *others: "torch.Tensor") -> "list[torch.Tensor]":
    """Scale features by the train split's per-dimension mean and std (BN without affine, as in
    MAE's linear probe), which makes the probe's learning rate independent of feature scale."""
    mean, std = train.mean(0, keepdim=True), train.std(0, keepdim=True).clamp_min(1e-6)
    return [(x - mean) / std for x in (train, *others)]


def train_linear(x: "torch.Tensor", y: "torch.Tensor", num_classes: int, p: LinearParams,
                 progress: bool = False) -> "torch.nn.Linear":
    """Fit a linear classifier on fixed features with the step schedule of ``p``."""
    import torch
    from torch import nn
    from tqdm.auto import tqdm

    g = torch.Generator().manual_seed(p.seed)
    torch.manual_seed(p.seed)
    clf = nn.Linear(x.shape[1], num_classes)
    nn.init.normal_(clf.weight, std=0.01)
    nn.init.zeros_(clf.bias)
    opt = torch.optim.SGD(clf.parameters(), lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=p.milestones, gamma=p.gamma)
    for _ in tqdm(range(p.epochs), desc="linear", unit="epoch", leave=False, disable=not progress):
        order = torch.randperm(len(x), generator=g)
        for start in range(0, len(x), p.batch_size):
            idx = order[start:start + p.batch_size]
            loss = nn.functional.cross_entropy(clf(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    return clf


class Linear(Protocol):
    """Top-1 (and top-5) of a linear classifier trained on frozen, cached train features."""

    name = "linear"
    Params = LinearParams
    description = "linear probe on frozen cached features (SGD lr 30, 100 epochs, steps at 60/80)"

    def evaluate(self, ctx) -> list[Metric]:
        import torch

        x, y = ctx.features(ctx.spec.train_split)
        xt, yt = ctx.features(ctx.spec.test_split)
        if self.params.standardize:
            x, xt = standardize(x, xt)
        clf = train_linear(x, y, ctx.num_classes, self.params, ctx.progress)
        with torch.no_grad():
            logits = clf(xt)
        metrics = [Metric("top1", 100.0 * float((logits.argmax(1) == yt).float().mean()))]
        if ctx.num_classes > 5:
            top5 = (logits.topk(5, dim=1).indices == yt[:, None]).any(1).float().mean()
            metrics.append(Metric("top5", 100.0 * float(top5)))
        return metrics
