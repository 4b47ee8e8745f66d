"""The linear probe on multi-label features (VOC07 in Table 4.10): per-class classifiers, 11-point mAP."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sslbench.contract.errors import SSLBenchError
from sslbench.protocols.linear import Linear, LinearParams
from sslbench.protocols.multilabel import fit_binary_lbfgs


def _data(seed: int = 0, n: int = 80, d: int = 6, c: int = 3):
    """Features with a planted linear signal; some labels -1 (difficult only: ignored)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    signal = np.random.default_rng(100).normal(size=(d, c))  # the same for every split
    logits = x @ signal + rng.normal(scale=0.8, size=(n, c))
    y = (logits > 0.3).astype(np.int64)
    y[rng.random(size=y.shape) < 0.1] = -1
    return x, y


def _devkit_voc07_ap(scores: np.ndarray, labels: np.ndarray) -> float:
    """VOC2007 devkit's VOCevalcls 11-point AP, written out as the devkit does (difficult removed)."""
    keep = labels != -1
    scores, gt = scores[keep], labels[keep] == 1
    order = np.argsort(-scores)
    tp, fp = np.cumsum(gt[order]), np.cumsum(~gt[order])
    rec, prec = tp / gt.sum(), tp / (tp + fp)
    return float(np.mean([prec[rec >= t].max() if (rec >= t).any() else 0.0 for t in np.arange(0, 1.1, 0.1)]))


def test_per_class_lbfgs_equals_scikit_learn_logistic_regression_on_the_non_ignored_samples():
    from sklearn.linear_model import LogisticRegression

    x, y = _data()
    l2 = 0.05
    w, b = fit_binary_lbfgs(torch.from_numpy(x), torch.from_numpy(y), l2)
    for c in range(y.shape[1]):
        keep = y[:, c] >= 0
        ref = LogisticRegression(C=1.0 / (l2 * keep.sum()), tol=1e-12, max_iter=10_000).fit(x[keep], y[keep, c])
        np.testing.assert_allclose(w[c].numpy(), ref.coef_[0], atol=1e-5)
        assert b[c].item() == pytest.approx(ref.intercept_[0], abs=1e-5)


def _context(x, y, xt, yt):
    """The part of an EvalContext the linear probe reads: float32 features, (N, C) labels."""
    splits = {"trainval": (x.astype(np.float32), y), "test": (xt.astype(np.float32), yt)}
    return SimpleNamespace(spec=SimpleNamespace(name="voc2007", train_split="trainval", test_split="test"),
                           num_classes=y.shape[1], device=torch.device("cpu"), progress=False,
                           features=lambda split: tuple(torch.as_tensor(a).clone() for a in splits[split]))


def test_linear_on_multilabel_features_reports_the_devkit_11_point_map():
    from sklearn.linear_model import LogisticRegression

    x, y = _data(0)
    xt, yt = _data(1, n=40)
    l2 = 0.01
    metrics = Linear(LinearParams(mode="lbfgs", l2_grid=[l2])).evaluate(_context(x, y, xt, yt))
    assert [m.name for m in metrics] == ["mAP"]
    aps = []
    for c in range(y.shape[1]):
        keep = y[:, c] >= 0
        ref = LogisticRegression(C=1.0 / (l2 * keep.sum()), tol=1e-12, max_iter=10_000).fit(x[keep], y[keep, c])
        aps.append(_devkit_voc07_ap(ref.decision_function(xt), yt[:, c]))
    assert metrics[0].value == pytest.approx(100 * np.mean(aps), abs=1e-6)
    assert metrics[0].value > 80  # the planted signal is found


def test_sgd_probe_on_multilabel_features_learns_the_planted_signal():
    x, y = _data(0, n=200)
    xt, yt = _data(1, n=60)
    value = Linear(LinearParams(epochs=30, lr=0.5, batch_size=32, milestones=[20])).evaluate(_context(x, y, xt, yt))
    assert value[0].name == "mAP" and 80 < value[0].value <= 100


def test_augment_mode_refuses_a_multilabel_dataset_in_one_line():
    x, y = _data()
    with pytest.raises(SSLBenchError, match="multi-label: use linear.mode=lbfgs"):
        Linear(LinearParams(mode="augment")).evaluate(_context(x, y, x, y))
