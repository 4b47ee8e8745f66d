"""Linear probing of a frozen backbone: the thesis's two SGD recipes and the L-BFGS transfer probe.

Modes (``linear.mode``):

- ``cached`` (default): SGD on the frozen features of the shared cache (no augmentation), the
  fast mode; ``benchmarks/speed/bench_eval.py`` (P5) measures it against re-forwarding every epoch.
- ``augment``: the thesis's training augmentation, random resized crop (0.08, 1) + horizontal
  flip (A.5.1, A.5.2); the backbone stays frozen in eval mode and is re-forwarded on new views
  every epoch; the test split uses the cached evaluation view. A.5.1's "padding of 4" for small
  datasets is not applied (the crop already covers the image).
- ``lbfgs``: many-shot transfer (thesis 4.4.4, Table 4.10, following BYOL / Ericsson et al.
  2021): an l2-regularised multinomial logistic regression fitted with L-BFGS on frozen
  features, the regularisation picked on a validation split carved (stratified) from the train
  split, then refitted on the whole train split; reports top-1 or the mean per-class accuracy.

Presets (``linear.preset``) fill every schedule field left unset:

- ``a5.1`` (thesis A.5.1, after MoCo v2 / ReSSL): SGD lr 30, momentum 0.9, no weight decay,
  100 epochs, lr x0.1 at epochs 60 and 80, batch 256 (the batch size is not stated in the
  thesis; 256 is MoCo's).
  A.5.1 says nothing of feature normalisation (MoCo v2 probes raw features); lr 30 diverges on
  small-scale features of few classes, and such a fit is refused (:mod:`.divergence`), not stored.
- ``a5.2`` (thesis A.5.2, after MoCo v3): 90 epochs, batch 1024, lr 0.1 x batch / 256, cosine
  decay per epoch, momentum 0.9, no weight decay.
- ``b1`` (thesis B.1, video): 60 epochs, batch 512, lr 2 x batch / 512, 35 warm-up epochs then
  cosine, momentum 0.9, no weight decay. On video datasets the features of the cache are the
  mean of the 30-view test (:mod:`sslbench.video.evaluation`), and ``augment`` mode trains on one
  random clip per video and epoch, as B.1 does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..config import check, check_lr
from ..contract.protocol import Metric, Protocol
from .classifier import fit_sgd, standardize_, train_linear  # noqa: F401 (fit_sgd: linear's API)

if TYPE_CHECKING:
    import torch

LINEAR_PRESETS: dict[str, dict[str, Any]] = {
    "a5.1": {"epochs": 100, "lr": 30.0, "lr_scaling": "none", "batch_size": 256, "schedule": "step",
             "milestones": [60, 80]},
    "a5.2": {"epochs": 90, "lr": 0.1, "lr_scaling": "linear", "batch_size": 1024, "schedule": "cosine",
             "milestones": []},
    # video (thesis B.1, after Feichtenhofer et al. 2021): 60 epochs, batch 512, lr 2 x batch / 512,
    # 35 warm-up epochs then cosine; the test is the 30-view mean (sslbench.video.evaluation)
    "b1": {"epochs": 60, "lr": 2.0, "lr_scaling": "linear", "batch_size": 512, "schedule": "cosine",
           "milestones": [], "lr_base_batch": 512, "warmup_epochs": 35},
}

#: Default L-BFGS regularisation grid: lambda of ``mean CE + lambda / 2 ||W||^2`` (log-spaced).
DEFAULT_L2_GRID = [10.0 ** e for e in range(-7, 3)]


@dataclass
class LinearParams:
    """Mode, preset, and overrides of the preset's schedule (None = take the preset's value)."""

    preset: Literal["a5.1", "a5.2", "b1"] = "a5.1"
    mode: Literal["cached", "augment", "lbfgs"] = "cached"
    epochs: int | None = None
    lr: float | None = None
    lr_scaling: Literal["linear", "none"] | None = None
    batch_size: int | None = None
    schedule: Literal["step", "cosine"] | None = None
    milestones: list[int] | None = None
    #: batch size of the linear scaling rule (None: 256) and linear warm-up epochs (None: 0)
    lr_base_batch: int | None = None
    warmup_epochs: int | None = None
    gamma: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    seed: int = 0
    standardize: bool = False
    #: ``augment`` mode: random resized crop scale range and horizontal flip probability
    crop_scale: list[float] = field(default_factory=lambda: [0.08, 1.0])
    flip_p: float = 0.5
    #: reported metric (every mode; in ``lbfgs`` mode also the selection criterion): top-1 or the
    #: mean per-class accuracy (Table 4.10 for Aircraft, Caltech-101, Pets, Flowers)
    metric: Literal["top1", "mean_per_class"] = "top1"
    #: ``lbfgs`` mode: validation share of train, regularisation grid, iteration cap
    val_fraction: float = 0.2
    l2_grid: list[float] = field(default_factory=lambda: list(DEFAULT_L2_GRID))
    max_iter: int = 1000

    def __post_init__(self) -> None:
        check(self.preset in LINEAR_PRESETS, "linear.preset", self.preset, f"one of {', '.join(LINEAR_PRESETS)}")
        for key, value in LINEAR_PRESETS[self.preset].items():
            if getattr(self, key) is None:
                setattr(self, key, list(value) if isinstance(value, list) else value)
        check(self.epochs > 0, "linear.epochs", self.epochs, "a positive integer")
        check_lr(self.lr, "linear.lr")
        check(self.batch_size > 0, "linear.batch_size", self.batch_size, "a positive integer")
        check(0 <= self.momentum < 1, "linear.momentum", self.momentum, "a value in [0, 1)")
        check(self.weight_decay >= 0, "linear.weight_decay", self.weight_decay, ">= 0")
        check(0 < self.gamma <= 1, "linear.gamma", self.gamma, "a value in (0, 1]")
        check(len(self.crop_scale) == 2 and 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1,
              "linear.crop_scale", self.crop_scale, "[min, max] with 0 < min <= max <= 1")
        check(0 <= self.flip_p <= 1, "linear.flip_p", self.flip_p, "a probability")
        check(0 < self.val_fraction < 1, "linear.val_fraction", self.val_fraction, "a value in (0, 1)")
        check(len(self.l2_grid) > 0 and all(v >= 0 for v in self.l2_grid), "linear.l2_grid", self.l2_grid,
              "a non-empty list of numbers >= 0")
        check(self.max_iter > 0, "linear.max_iter", self.max_iter, "a positive integer")

    def scaled_lr(self) -> float:
        """The learning rate after the linear scaling rule (``a5.2``: 0.1 x batch / 256)."""
        return self.lr * self.batch_size / (self.lr_base_batch or 256) if self.lr_scaling == "linear" else self.lr

    def lr_at(self, epoch: int) -> float:
        """Learning rate of ``epoch``: steps x gamma at the milestones, or per-epoch cosine decay
        (after ``warmup_epochs`` of linear warm-up, when set)."""
        base = self.scaled_lr()
        warmup = self.warmup_epochs or 0
        if epoch < warmup:
            return base * (epoch + 1) / warmup
        if self.schedule == "cosine":
            return base * 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup) / max(1, self.epochs - warmup)))
        return base * self.gamma ** sum(epoch >= m for m in self.milestones)


# --------------------------------------------------------------------------- L-BFGS transfer probe


def fit_logistic_lbfgs(x: "torch.Tensor", y: "torch.Tensor", num_classes: int, l2: float, max_iter: int = 1000,
                       tol: float = 1e-7, init: "tuple[torch.Tensor, torch.Tensor] | None" = None
                       ) -> "tuple[torch.Tensor, torch.Tensor]":
    """Weights (C, D) and bias (C,) minimising ``mean_i CE(W x_i + b, y_i) + l2 / 2 ||W||^2``.

    The bias is not regularised. This is scikit-learn's ``LogisticRegression(C=1 / (l2 * N))``
    objective (multinomial, lbfgs) divided by N, solved with torch's L-BFGS (strong-Wolfe line
    search) in float64 whatever the features' dtype: in float32 the line search stalls far from
    the optimum on small-scale features (a random backbone's), one test image off scikit-learn.
    ``init`` warm-starts from a previous solution.
    """
    import torch
    from torch import nn

    dtype = torch.float64
    x = x.to(dtype)
    w = torch.zeros(num_classes, x.shape[1], dtype=dtype) if init is None else init[0].clone().to(dtype)
    b = torch.zeros(num_classes, dtype=dtype) if init is None else init[1].clone().to(dtype)
    w.requires_grad_(True)
    b.requires_grad_(True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, tolerance_grad=tol, tolerance_change=1e-12,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(x @ w.T + b, y) + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    state = opt.state[w]
    if state.get("n_iter", 0) >= max_iter or state.get("func_evals", 0) >= opt.defaults["max_eval"]:
        import logging

        logging.getLogger("sslbench.protocols").warning(
            f"linear: L-BFGS stopped at max_iter={max_iter} before converging (l2={l2:g}); raise linear.max_iter")
    return w.detach(), b.detach()


def accuracy(pred: "torch.Tensor", y: "torch.Tensor", metric: str = "top1") -> float:
    """Top-1 in percent, or the mean over classes present in ``y`` of the per-class accuracy."""
    correct = (pred == y).float()
    if metric == "top1":
        return 100.0 * float(correct.mean())
    per_class = [float(correct[y == c].mean()) for c in y.unique()]
    return 100.0 * float(np.mean(per_class))


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit indices, validation indices): ``fraction`` of every class (at least one when a class
    has two or more samples) goes to validation."""
    rng = np.random.default_rng(seed)
    fit, val = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_val = int(round(fraction * len(idx)))
        n_val = min(max(n_val, 1 if len(idx) > 1 else 0), len(idx) - 1) if len(idx) > 1 else 0
        val.extend(idx[:n_val])
        fit.extend(idx[n_val:])
    return np.sort(np.array(fit, dtype=np.int64)), np.sort(np.array(val, dtype=np.int64))


def lbfgs_probe(x: "torch.Tensor", y: "torch.Tensor", xt: "torch.Tensor", yt: "torch.Tensor", num_classes: int,
                p: LinearParams) -> tuple[float, float, dict[float, float]]:
    """(test score, chosen l2, validation score per l2): pick l2 on a stratified validation split
    of the train features (never the test split), refit on all train features, score the test."""
    import torch

    fit_idx, val_idx = stratified_split(y.numpy(), p.val_fraction, p.seed)
    fit_idx, val_idx = torch.from_numpy(fit_idx), torch.from_numpy(val_idx)
    scores: dict[float, float] = {}
    init = None
    for l2 in sorted(p.l2_grid, reverse=True):  # strongest first: each fit warm-starts the next
        init = fit_logistic_lbfgs(x[fit_idx], y[fit_idx], num_classes, l2, p.max_iter, init=init)
        pred = (x[val_idx].to(init[0].dtype) @ init[0].T + init[1]).argmax(1)
        scores[l2] = accuracy(pred, y[val_idx], p.metric)
    best = max(scores, key=lambda l2: (scores[l2], l2))  # ties: the stronger regularisation
    w, b = fit_logistic_lbfgs(x, y, num_classes, best, p.max_iter)
    pred = (xt.to(w.dtype) @ w.T + b).argmax(1)
    return accuracy(pred, yt, p.metric), best, scores


# --------------------------------------------------------------------------- the protocol


def augmented_batches(ctx: Any, p: LinearParams, mean: "torch.Tensor | None", std: "torch.Tensor | None"):
    """``batches(epoch)`` for the ``augment`` mode: new random views of the train split every
    epoch, forwarded through the frozen backbone (eval mode, no gradient)."""
    import torch

    from ..contract.augmentations import AugSpec
    from ..engine.evaluation import shuffled_batches
    from ..image.views import training_source  # file-backed images: views cut from the full image

    dataset = ctx.dataset(ctx.spec.train_split)
    views = ctx.view_maker([AugSpec(crop_scale=tuple(p.crop_scale), flip_p=p.flip_p)])
    backbone = ctx.backbone

    def batches(epoch: int):
        gen = torch.Generator(device=ctx.device).manual_seed(p.seed * 1_000_003 + epoch)
        order_gen = torch.Generator().manual_seed(p.seed * 7919 + epoch)
        was_training = backbone.training
        backbone.eval()
        try:
            source = training_source(dataset, views.specs, ctx.config.data.input_size, p.seed * 1_000_003 + epoch)
            for images, y in shuffled_batches(source, p.batch_size, order_gen, ctx.config.data.num_workers):
                with torch.no_grad():
                    f = backbone(views.train_views(images, gen)[0]).float()
                if mean is not None:
                    f = (f - mean.to(f.device)) / std.to(f.device)
                yield f, y.long().to(f.device)
        finally:
            backbone.train(was_training)

    return batches


class Linear(Protocol):
    """Top-1 (and top-5) of a linear classifier on the frozen backbone (thesis A.5.1 / A.5.2;
    ``mode: lbfgs``: the many-shot transfer probe of Table 4.10; on a multi-label dataset such as
    VOC2007, one binary classifier per class and the 11-point mAP, :mod:`.multilabel`)."""

    name = "linear"
    Params = LinearParams
    description = "linear probe on the frozen backbone: A.5.1 / A.5.2 presets, cached, augment or L-BFGS mode"

    def evaluate(self, ctx) -> list[Metric]:
        import torch

        p = self.params
        x, y = ctx.features(ctx.spec.train_split)
        xt, yt = ctx.features(ctx.spec.test_split)
        if y.ndim == 2:  # multi-label (VOC07 in Table 4.10): a binary classifier per class, 11-point mAP
            from .multilabel import evaluate_multilabel

            return evaluate_multilabel(x, y, xt, yt, p, ctx.spec.name, ctx.device, ctx.progress)
        mean = std = None
        if p.standardize:  # ctx.features returns fresh tensors: scaling them in place is safe
            mean, std = standardize_(x, xt)
        if p.mode == "lbfgs":
            score, _, _ = lbfgs_probe(x, y, xt, yt, ctx.num_classes, p)
            return [Metric("top1" if p.metric == "top1" else "mean_per_class_acc", score)]
        from .divergence import FitTrace, check_fit

        trace = FitTrace()
        if p.mode == "augment":
            clf = fit_sgd(augmented_batches(ctx, p, mean, std), x.shape[1], ctx.num_classes, p, ctx.progress,
                          ctx.device, trace)
        else:
            clf = train_linear(x, y, ctx.num_classes, p, ctx.progress, ctx.device, trace)
        check_fit(clf, trace, x, y, p, ctx.spec.name, ctx.device)  # a diverged fit is an error, not a row
        with torch.no_grad():
            logits = clf(xt.to(ctx.device)).cpu()
        if p.metric == "mean_per_class":
            return [Metric("mean_per_class_acc", accuracy(logits.argmax(1), yt, p.metric))]
        metrics = [Metric("top1", 100.0 * float((logits.argmax(1) == yt).float().mean()))]
        if ctx.num_classes > 5:
            top5 = (logits.topk(5, dim=1).indices == yt[:, None]).any(1).float().mean()
            metrics.append(Metric("top5", 100.0 * float(top5)))
        return metrics
