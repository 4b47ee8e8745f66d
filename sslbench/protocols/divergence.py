"""A linear probe whose SGD diverged is an error, not a stored number.

A.5.1's recipe (SGD lr 30, momentum 0.9, after MoCo v2) is tuned for ImageNet-scale ResNet
features and many classes. On small-scale features and few classes (a third-party dataset with
no ``linear`` defaults, an untrained backbone) the bias alone, whose inputs are 1 whatever the
features' scale, overshoots: with C classes its curvature at the start is 1/C, and heavy-ball
SGD is stable only below lr = 2 (1 + momentum) C (15.2 for C = 4). The loss then climbs to tens
of nats, the classifier ends predicting one class, and the stored top-1 is the share of that
class in the test split, a number that changes with rounding (float32 and float64 replays differ).
The multi-label probe (:mod:`.multilabel`, VOC07 in Table 4.10) has the same overshoot: each
class's bias has curvature p (1 - p) <= 1/4 under its binary cross-entropy.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..contract.errors import TrainingError

if TYPE_CHECKING:
    import torch

#: the training loss "rose" when an epoch's mean, or the final loss, exceeds the initial one by this factor
RISE = 1.1


def advice(p: Any) -> str:
    """What to set instead (digits' own defaults first; already standardised: a lower lr)."""
    first = "a lower linear.lr" if p.standardize else "--set linear.standardize=true --set linear.lr=0.1"
    return f"use {first}, {'or' if p.standardize else 'a lower linear.lr, or'} --set linear.mode=lbfgs"


@dataclass
class FitTrace:
    """What :func:`.linear.fit_sgd` records for the check: the classifier before its first step and
    the mean training loss of every epoch."""

    initial: Any = None
    epoch_losses: list[float] = field(default_factory=list)


def train_logits(clf: "torch.nn.Module", x: "torch.Tensor", device: Any, chunk: int = 65536
                 ) -> "Iterator[torch.Tensor]":
    """The float logits of ``clf`` on the train features, in chunks so a large cached split is not
    copied to the device at once."""
    import torch

    for xs in x.split(chunk):
        with torch.no_grad():  # not around the yield: the caller's grad mode stays its own
            logits = clf(xs.to(device)).float()
        yield logits


def train_loss_and_correct(clf: "torch.nn.Module", x: "torch.Tensor", y: "torch.Tensor", device: Any,
                           chunk: int = 65536) -> tuple[float, int]:
    """(mean cross-entropy, correct predictions) of ``clf`` on the train features."""
    from torch import nn

    total, correct = 0.0, 0
    for logits, ys in zip(train_logits(clf, x, device, chunk), y.split(chunk)):
        ys = ys.to(logits.device)
        total += float(nn.functional.cross_entropy(logits, ys, reduction="sum"))
        correct += int((logits.argmax(1) == ys).sum())
    return total / max(1, len(x)), correct


def judge_fit(initial: float, final: float, trace: FitTrace, p: Any, dataset: str, x: "torch.Tensor",
              no_better: Callable[[], str | None]) -> None:
    """Refuse a probe whose training loss went non-finite, or rose while ``no_better()`` (asked only
    then) says how it ends no better than the trivial predictor on its own training split (a
    diverged fit, not a result); warn when the loss rose but the probe learnt something."""
    losses = [*trace.epoch_losses, final]
    where = f"linear probe on dataset {dataset!r} at linear.lr={p.lr:g} (preset {p.preset}, mode {p.mode})"
    bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
    if bad is not None:
        when = f"at epoch {bad + 1} of {p.epochs}" if bad < len(trace.epoch_losses) else "at the end"
        raise TrainingError(f"{where}: the training loss became non-finite ({losses[bad]}) {when}; {advice(p)}")
    peak = max(range(len(losses)), key=losses.__getitem__)
    if losses[peak] <= RISE * initial:
        return
    rose = f"its training loss rose from {initial:.3g} to {losses[peak]:.3g} " + (
        f"(epoch {peak + 1} of {p.epochs})" if peak < len(trace.epoch_losses) else "(at the end)")
    verdict = no_better()
    if verdict is not None:
        scale = float(x.double().pow(2).mean().sqrt()) if x.numel() else 0.0
        raise TrainingError(f"{where} failed to fit: {rose} and {verdict} on features of RMS {scale:.2g}; {advice(p)}")
    logging.getLogger("sslbench.protocols").warning(
        f"{where}: {rose}: an unstable fit whose number may depend on rounding; {advice(p)}")


def check_fit(clf: "torch.nn.Module", trace: FitTrace, x: "torch.Tensor", y: "torch.Tensor", p: Any, dataset: str,
              device: Any = None) -> None:
    """:func:`judge_fit` for the single-label probe: the trivial predictor is the majority class."""
    import torch

    device = device or "cpu"
    initial, _ = train_loss_and_correct(trace.initial, x, y, device)
    final, correct = train_loss_and_correct(clf, x, y, device)

    def no_better() -> str | None:
        majority = int(torch.bincount(y.long()).max()) if len(y) else 0
        if correct > majority:
            return None
        return (f"it ends no better than the majority class on its own training split "
                f"({100 * correct / len(y):.1f}% <= {100 * majority / len(y):.1f}%)")

    judge_fit(initial, final, trace, p, dataset, x, no_better)
