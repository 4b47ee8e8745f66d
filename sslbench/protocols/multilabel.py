"""The linear probe on a multi-label dataset: VOC2007 in the many-shot transfer of Table 4.10.

One binary classifier per class on the frozen features (one-vs-rest, as the protocol of BYOL and
Ericsson et al. 2021 for VOC07), scored by the VOC2007 devkit's 11-point interpolated mAP over
the 20 classes of the test split. Labels are (N, C) vectors of 1 (present), 0 (absent) and -1
(only *difficult* objects): -1 entries are left out of that class's training and scoring, as in
VOC's own evaluation. Modes (``linear.mode``):

- ``lbfgs``: per-class l2-regularised logistic regression (L-BFGS); the regularisation is picked
  on a random ``val_fraction`` of the train split by validation mAP (never the test split), then
  the classifiers are refitted on the whole train split;
- ``cached``: SGD on sigmoid + binary cross-entropy with the preset's schedule; a diverged fit
  is an error, not a stored mAP (:mod:`.divergence`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..contract.errors import SSLBenchError
from ..contract.protocol import Metric


def _masked_bce(logits: Any, y: Any) -> Any:
    """Sum over classes of each class's mean BCE over its non-ignored samples (label -1 ignored)."""
    from torch import nn

    valid = (y >= 0).to(logits.dtype)
    loss = nn.functional.binary_cross_entropy_with_logits(logits, y.clamp_min(0).to(logits.dtype), reduction="none")
    return ((loss * valid).sum(0) / valid.sum(0).clamp_min(1)).sum()


def fit_binary_lbfgs(x: Any, y: Any, l2: float, max_iter: int = 1000) -> tuple[Any, Any]:
    """Weights (C, D) and biases (C,): for every class c, minimise the mean BCE over the samples
    whose label is not -1 plus ``l2 / 2 ||w_c||^2`` (the bias unregularised). The classes are
    independent problems, solved together (their objectives add up). This is scikit-learn's
    ``LogisticRegression(C=1 / (l2 * n_c))`` per class, divided by n_c."""
    import torch

    x = x.to(torch.float64)
    w = torch.zeros(y.shape[1], x.shape[1], dtype=x.dtype, requires_grad=True)
    b = torch.zeros(y.shape[1], dtype=x.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, tolerance_grad=1e-9, tolerance_change=1e-14,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = _masked_bce(x @ w.T + b, y) + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def voc07_map(scores: np.ndarray, labels: np.ndarray) -> float:
    """11-point mAP in percent (label -1 ignored per class; see :func:`.lowshot.mean_ap`)."""
    from .lowshot import mean_ap

    return mean_ap(np.asarray(scores, dtype=np.float64), np.asarray(labels), "voc07")


def _scores(x: Any, w: Any, b: Any) -> np.ndarray:
    """Scores of the rows of ``x``, one per distinct row (copies of an image tie exactly in the AP)."""
    import torch

    from .lowshot import tied_scores

    return tied_scores(lambda u: (torch.from_numpy(u) @ w.T + b).numpy(), x.to(w.dtype).numpy())


def lbfgs_multilabel(x: Any, y: Any, xt: Any, yt: Any, p: Any) -> tuple[float, float]:
    """(test mAP, chosen l2): l2 picked on a random validation part of train by its mAP."""
    import torch

    order = np.random.default_rng(p.seed).permutation(len(x))
    n_val = max(1, int(round(p.val_fraction * len(x))))
    val, fit = torch.from_numpy(np.sort(order[:n_val])), torch.from_numpy(np.sort(order[n_val:]))
    scores = {}
    for l2 in sorted(p.l2_grid, reverse=True):
        w, b = fit_binary_lbfgs(x[fit], y[fit], l2, p.max_iter)
        scores[l2] = voc07_map(_scores(x[val], w, b), y[val].numpy())
    best = max(scores, key=lambda l2: (np.nan_to_num(scores[l2], nan=-1.0), l2))  # ties: stronger regularisation
    w, b = fit_binary_lbfgs(x, y, best, p.max_iter)
    return voc07_map(_scores(xt, w, b), yt.numpy()), best


def sgd_multilabel(x: Any, y: Any, xt: Any, p: Any, device: Any = None, progress: bool = False,
                   dataset: str = "features") -> np.ndarray:
    """Test scores (N_test, C) of a linear layer trained by SGD on the masked BCE, the preset's
    schedule; a diverged fit is refused (:func:`check_multilabel_fit`), not scored."""
    import torch

    from .divergence import FitTrace
    from .classifier import train_linear
    from .lowshot import tied_scores

    device = device or "cpu"
    x = x.float()
    trace = FitTrace()
    clf = train_linear(x, y, y.shape[1], p, progress, device, trace, _masked_bce)
    check_multilabel_fit(clf, trace, x, y, p, dataset, device)

    def score(rows: np.ndarray) -> np.ndarray:
        return clf(torch.from_numpy(rows).to(device)).cpu().double().numpy()

    with torch.no_grad():  # one score per distinct row: copies of an image tie exactly in the AP
        return tied_scores(score, xt.float().cpu().numpy())


def check_multilabel_fit(clf: Any, trace: Any, x: Any, y: Any, p: Any, dataset: str, device: Any = None) -> None:
    """:func:`.divergence.judge_fit` on the masked BCE; trivial: one score per class (its AP = prevalence)."""
    import torch

    from .divergence import judge_fit, train_logits
    from .lowshot import tied_scores

    device = device or "cpu"

    def logits(model: Any, rows: Any) -> Any:
        return torch.cat([part.cpu() for part in train_logits(model, rows, device)])

    def no_better() -> str | None:
        labels = y.cpu().numpy()
        fitted = voc07_map(tied_scores(lambda rows: logits(clf, torch.from_numpy(rows)).numpy(), x.cpu().numpy()),
                           labels)
        trivial = voc07_map(np.zeros(labels.shape), labels)  # the mean over classes of the prevalence
        if not fitted <= trivial:
            return None
        return (f"its 11-point mAP on its own training split is no better than scoring each class by its "
                f"prevalence ({fitted:.1f} <= {trivial:.1f})")

    y_cpu = y.cpu()
    initial, final = (float(_masked_bce(logits(model, x), y_cpu)) for model in (trace.initial, clf))
    judge_fit(initial, final, trace, p, dataset, x, no_better)


def evaluate_multilabel(x: Any, y: Any, xt: Any, yt: Any, p: Any, dataset: str, device: Any = None,
                        progress: bool = False) -> list[Metric]:
    """The ``linear`` protocol on multi-label features (labels (N, C)): ``mAP`` (11-point, percent)."""
    from .classifier import standardize_

    if p.mode == "augment":
        raise SSLBenchError(f"linear.mode 'augment' needs single-label classes but dataset {dataset!r} is "
                            f"multi-label: use linear.mode=lbfgs (Table 4.10) or cached")
    if p.standardize:
        standardize_(x, xt)
    if p.mode == "lbfgs":
        value, _ = lbfgs_multilabel(x, y, xt, yt, p)
    else:
        value = voc07_map(sgd_multilabel(x, y, xt, p, device, progress, dataset), yt.numpy())
    return [Metric("mAP", value)]
