"""Low-shot classification with linear SVMs on frozen features (thesis 4.4.4, Table 4.9).

The thesis follows ReSSL (Zheng et al. 2021), which uses the VOC07 low-shot benchmark of Goyal
et al. 2019 (VISSL): one linear SVM per class on l2-normalised frozen features, K = 16, 32, 64
training images per class or all of them, mAP over the 20 classes, averaged over several
independent random K-samples (5 by default).

Choices made here, each where the thesis is silent:

- Sampling (as VISSL's low-shot VOC07 samples): for every class and every independent sample,
  K positives and (C - 1) x K negatives are drawn from the train split; that class's SVM is
  trained on those only. Images whose only objects of the class are *difficult* carry the
  label -1 and are ignored for that class, in training and in the AP (VOC's convention).
- SVM: scikit-learn's ``LinearSVC`` (squared hinge, l2 penalty) with the positives weighted
  x2, as VISSL does. VISSL solves the dual, which stops at its iteration cap for large costs on
  features that are not separable; the same objective is solved here in the primal
  (``dual: false``, Newton steps), which converges at every cost of the grid. A fit that still
  stops at ``max_iter`` is never hidden: scikit-learn's ConvergenceWarning passes through, one
  summary line is logged and the count is recorded as the metric ``svm_unconverged``. The cost C
  is chosen per class by stratified ``cv_folds``-fold cross-validation on the sampled
  *training* images only, maximising the mean average precision over the folds; VISSL picks C
  by the test mAP, which we never look at.
- AP: ``ap: interpolated`` (default, the benchmark's AP) is the area under the precision
  envelope, precision made non-increasing in recall, at every recall step: the VOC2010+
  devkit's AP and what VISSL's SVM evaluation computes. ``ap: voc07`` is the VOC2007 devkit's
  11-point interpolated AP (the thesis's Table 4.10 metric for VOC07); ``ap: sklearn`` is
  scikit-learn's ``average_precision_score`` (no interpolation; about 1 point lower). The
  variant is part of the run's config (``lowshot.ap``), hence of every result row. Tied scores
  count as one threshold in all three, and copies of an image are scored once (bit-identical
  scores), so an AP never depends on the order of the test images.

On a single-label dataset (digits, CIFAR...) the same protocol samples K images per class, fits
one-vs-rest linear SVMs (``LinearSVC``'s multi-class mode, one SVM per class) with one C chosen
by cross-validated accuracy, and reports top-1.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numpy as np

from ..config import check
from ..contract.protocol import Metric, Protocol

logger = logging.getLogger("sslbench.protocols")


@dataclass
class LowShotParams:
    """K values, whether to add the all-images setting, samples averaged, SVM costs and CV."""

    k: list[int] = field(default_factory=lambda: [16, 32, 64])
    all: bool = True
    samples: int = 5
    costs: list[float] = field(default_factory=lambda: [0.01, 0.1, 1.0, 10.0, 100.0])
    cv_folds: int = 3
    ap: Literal["interpolated", "voc07", "sklearn"] = "interpolated"
    positive_weight: float = 2.0
    #: False: the primal problem (converges at every cost); True: the dual, as VISSL
    dual: bool = False
    max_iter: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        check(all(k > 0 for k in self.k), "lowshot.k", self.k, "a list of positive integers")
        check(len(self.k) > 0 or self.all, "lowshot.k", self.k, "at least one K or lowshot.all=true")
        check(self.samples > 0, "lowshot.samples", self.samples, "a positive integer")
        check(len(self.costs) > 0 and all(c > 0 for c in self.costs), "lowshot.costs", self.costs,
              "a non-empty list of positive numbers")
        check(self.cv_folds >= 2, "lowshot.cv_folds", self.cv_folds, "an integer >= 2")
        check(self.positive_weight > 0, "lowshot.positive_weight", self.positive_weight, "a positive number")
        check(self.max_iter > 0, "lowshot.max_iter", self.max_iter, "a positive integer")


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit l2 norm (float64, zero rows left at zero)."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def precision_recall(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall of ``score >= t`` at every distinct score t, highest first: tied
    scores form one threshold, so neither depends on the order of the images; ``labels`` 1 / 0."""
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], labels[order] == 1
    last_of_tie = np.append(ranked[1:] != ranked[:-1], True)
    tp = np.cumsum(hits)[last_of_tie]
    return tp / np.arange(1, len(hits) + 1)[last_of_tie], tp / max(hits.sum(), 1)


def voc07_ap(scores: np.ndarray, labels: np.ndarray) -> float:
    """VOC2007 11-point interpolated AP: mean over recall r in {0, 0.1, ..., 1} of the best
    precision at recall >= r (0 when not reached); ``labels`` 1 / 0, ranked by score."""
    precision, recall = precision_recall(scores, labels)
    points = []
    for r in np.linspace(0, 1, 11):
        reached = precision[recall >= r]
        points.append(reached.max() if len(reached) else 0.0)
    return float(np.mean(points))


def interpolated_ap(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the precision envelope (precision made non-increasing in recall), summed over
    the recall steps: the VOC2010+ devkit's and VISSL's AP; ``labels`` 1 / 0, ranked by score."""
    precision, recall = precision_recall(scores, labels)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float((steps * envelope).sum())


def average_precision(scores: np.ndarray, labels: np.ndarray, kind: str = "interpolated") -> float:
    """AP of one class from scores and 1 / 0 labels (``kind``: interpolated, voc07, sklearn)."""
    if kind == "voc07":
        return voc07_ap(scores, labels)
    if kind == "interpolated":
        return interpolated_ap(scores, labels)
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(labels, scores))


def mean_ap(scores: np.ndarray, labels: np.ndarray, kind: str = "interpolated") -> float:
    """mAP in percent over the classes (columns) with at least one positive; label -1 = ignored."""
    aps = []
    for c in range(labels.shape[1]):
        keep = labels[:, c] >= 0
        if not (labels[keep, c] == 1).any():
            continue
        aps.append(average_precision(scores[keep, c], labels[keep, c], kind))
    return 100.0 * float(np.mean(aps)) if aps else float("nan")


class FitLog:
    """Counts of the SVM fits that stopped at ``max_iter`` before converging, per cost."""

    def __init__(self) -> None:
        self.fits = 0
        self.unconverged: dict[float, int] = {}

    def fit(self, cost: float, p: LowShotParams, binary: bool, x: np.ndarray, y: np.ndarray) -> Any:
        """A ``LinearSVC`` fitted on (x, y); scikit-learn's ConvergenceWarning is left to show."""
        from sklearn.svm import LinearSVC

        weight = {1: p.positive_weight, 0: 1.0} if binary else None
        clf = LinearSVC(C=cost, class_weight=weight, loss="squared_hinge", penalty="l2", dual=p.dual,
                        max_iter=p.max_iter, tol=1e-4, random_state=p.seed).fit(x, y)
        self.fits += 1
        if int(np.max(clf.n_iter_)) >= p.max_iter:  # liblinear's own non-convergence test
            self.unconverged[cost] = self.unconverged.get(cost, 0) + 1
        return clf

    def summary(self, p: LowShotParams) -> str | None:
        """One line naming the unconverged fits and their costs, or None when all converged."""
        if not self.unconverged:
            return None
        per_cost = ", ".join(f"C={c:g}: {n}" for c, n in sorted(self.unconverged.items()))
        return (f"lowshot: {sum(self.unconverged.values())} of {self.fits} SVM fits stopped at "
                f"max_iter={p.max_iter} before converging ({per_cost}); raise lowshot.max_iter"
                + ("" if not p.dual else " or set lowshot.dual=false"))


def unique_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct rows, index of each row's distinct row): identical feature rows (duplicate images)."""
    unique, inverse = np.unique(x, axis=0, return_inverse=True)
    return unique, inverse.reshape(-1)


def tied_scores(score: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                groups: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """``score`` of the rows of ``x``, computed once per distinct row: a BLAS product can score two
    copies of an image an ulp apart depending on their positions, which would rank the copies by
    position instead of counting them as one tied threshold in the AP. ``groups``: :func:`unique_rows`."""
    unique, inverse = groups if groups is not None else unique_rows(x)
    return np.asarray(score(unique))[inverse]


def choose_cost(x: np.ndarray, y: np.ndarray, p: LowShotParams, binary: bool, log: FitLog | None = None) -> float:
    """The cost with the best mean cross-validated score on (x, y) alone: AP for a binary
    problem, accuracy for a multi-class one; ties go to the smaller cost. Without two samples
    of every class for the folds, the middle of the grid."""
    from sklearn.model_selection import StratifiedKFold

    log = log or FitLog()

    costs = sorted(p.costs)
    _, counts = np.unique(y, return_counts=True)
    folds = min(p.cv_folds, int(counts.min()) if len(counts) > 1 else 0)
    if folds < 2:
        return costs[len(costs) // 2]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=p.seed)
    splits = list(splitter.split(x, y))
    best, best_score = costs[0], -np.inf
    for cost in costs:
        fold_scores = []
        for fit, val in splits:
            clf = log.fit(cost, p, binary, x[fit], y[fit])
            if binary:
                fold_scores.append(average_precision(tied_scores(clf.decision_function, x[val]), y[val], p.ap))
            else:
                fold_scores.append(float((clf.predict(x[val]) == y[val]).mean()))
        score = float(np.mean(fold_scores))
        if score > best_score + 1e-12:
            best, best_score = cost, score
    return best


def fit_svm(x: np.ndarray, y: np.ndarray, p: LowShotParams, binary: bool,
            log: FitLog | None = None) -> tuple[Any, float]:
    """(fitted LinearSVC, chosen cost) on (x, y); the cost comes from :func:`choose_cost`."""
    log = log or FitLog()
    cost = choose_cost(x, y, p, binary, log)
    return log.fit(cost, p, binary, x, y), cost


def sample_multilabel(y: np.ndarray, c: int, k: int | None, rng: np.random.Generator) -> np.ndarray:
    """Train rows for class ``c``'s SVM: K positives and (C - 1) K negatives (all when ``k`` is
    None); rows labelled -1 (difficult only) are never used."""
    pos, neg = np.flatnonzero(y[:, c] == 1), np.flatnonzero(y[:, c] == 0)
    if k is not None:
        pos = rng.choice(pos, min(k, len(pos)), replace=False)
        neg = rng.choice(neg, min((y.shape[1] - 1) * k, len(neg)), replace=False)
    return np.sort(np.concatenate([pos, neg]))


def lowshot_multilabel(x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray, k: int | None,
                       p: LowShotParams, rng: np.random.Generator,
                       log: FitLog | None = None) -> tuple[float, list[float], np.ndarray]:
    """(test mAP in percent, cost per class, test scores (N_test, C)) of one K-sample.

    ``x`` / ``xt`` are l2-normalised features, ``y`` / ``yt`` (N, C) labels in {1, 0, -1}. The
    test split is only scored, after every SVM and its cost are fixed.
    """
    scores = np.zeros(yt.shape, dtype=np.float64)
    costs = []
    groups = unique_rows(xt)
    for c in range(y.shape[1]):
        idx = sample_multilabel(y, c, k, rng)
        target = y[idx, c]
        if len(np.unique(target)) < 2:
            from ..contract.errors import DatasetError

            kind = "positive" if (target == 0).all() else "negative"
            raise DatasetError(f"low-shot: class {c} has no {kind} training image (label 1 / 0) to fit its SVM")
        clf, cost = fit_svm(x[idx], target, p, binary=True, log=log)
        scores[:, c] = tied_scores(clf.decision_function, xt, groups)
        costs.append(cost)
    return mean_ap(scores, yt, p.ap), costs, scores


def lowshot_singlelabel(x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray, k: int | None,
                        p: LowShotParams, rng: np.random.Generator,
                        log: FitLog | None = None) -> tuple[float, float]:
    """(test top-1 in percent, chosen cost) of one-vs-rest SVMs on K images per class."""
    if k is None:
        idx = np.arange(len(y))
    else:
        idx = np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), min(k, int((y == c).sum())), replace=False)
                                      for c in np.unique(y)]))
    clf, cost = fit_svm(x[idx], y[idx], p, binary=False, log=log)
    return 100.0 * float((clf.predict(xt) == yt).mean()), cost


def run_lowshot(x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray, p: LowShotParams) -> dict[str, float]:
    """Metric name -> value averaged over ``p.samples`` K-samples (one run for ``all``), plus
    ``svm_unconverged`` (with one logged line) when some SVM fit stopped at ``max_iter``."""
    x, xt = l2_normalize(x), l2_normalize(xt)
    log = FitLog()
    multilabel = y.ndim == 2
    prefix = "map" if multilabel else "top1"
    settings: list[int | None] = [*p.k, *([None] if p.all else [])]
    out = {}
    for k in settings:
        values = []
        for s in range(1 if k is None else p.samples):
            rng = np.random.default_rng([p.seed, s, k or 0])
            if multilabel:
                values.append(lowshot_multilabel(x, y, xt, yt, k, p, rng, log)[0])
            else:
                values.append(lowshot_singlelabel(x, y, xt, yt, k, p, rng, log)[0])
        out[f"{prefix}@{'all' if k is None else f'k{k}'}"] = float(np.mean(values))
    summary = log.summary(p)
    if summary:
        logger.warning(summary)
        out["svm_unconverged"] = float(sum(log.unconverged.values()))
    return out


class LowShot(Protocol):
    """Low-shot SVMs on frozen features: VOC07 mAP (thesis 4.4.4, Table 4.9) or top-1."""

    name = "lowshot"
    Params = LowShotParams
    description = "per-class linear SVMs on l2-normalised features, K=16/32/64/all; VOC07 mAP (Table 4.9)"

    def evaluate(self, ctx) -> list[Metric]:
        x, y = ctx.feature_arrays(ctx.spec.train_split)
        xt, yt = ctx.feature_arrays(ctx.spec.test_split)
        results = run_lowshot(np.asarray(x), np.asarray(y), np.asarray(xt), np.asarray(yt), self.params)
        return [Metric(name, value, higher_is_better=name != "svm_unconverged") for name, value in results.items()]
