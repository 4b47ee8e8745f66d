"""A diverged SGD fit of the multi-label linear probe (VOC07 mAP, Table 4.10) is an error, not a
stored mAP: the guard of :mod:`sslbench.protocols.divergence` with the masked BCE as the loss and
the constant per-class score (the class's prevalence) as the trivial predictor."""

from __future__ import annotations

import logging
import re
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sslbench.cli import cli
from sslbench.contract import loading as plugins
from sslbench.contract.errors import TrainingError
from sslbench.protocols.linear import Linear, LinearParams

from helpers import one_error_line
from protocols_support import single_thread  # noqa: F401 (autouse fixture)
from test_independent_numbers import advised_linear_run, blobs  # noqa: F401 (blobs: fixture)
from test_protocols_linear_multilabel import _context, _data

FLAT = '''
import numpy as np
import torch

from sslbench import hookimpl
from sslbench.contract.dataset import DatasetSpec

C = 4


class Flat(torch.utils.data.Dataset):
    """Every image the same grey: any backbone maps them alike (a collapsed representation)."""

    multilabel = True

    def __init__(self, n, seed):
        labels = (np.random.default_rng(seed).random((n, C)) < 0.3).astype(np.int64)
        labels[np.arange(n), np.arange(n) % C] = 1
        self.labels, self.classes = torch.from_numpy(labels), [str(c) for c in range(C)]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return torch.full((3, 8, 8), 128, dtype=torch.uint8), self.labels[i]

    def fingerprint(self):
        return self.labels.tolist()


@hookimpl
def register_datasets(register):
    register(DatasetSpec(name="flat4ml", load=lambda root, split, size: Flat(40 if split == "train" else 20,
                                                                               int(split == "train")),
                         num_classes=C, channels=3, needs_root=False,
                         defaults={"data": {"input_size": 8},
                                   "model": {"backbone": "convnet-small", "backbone_options": {"width": 4}}}))
'''


def _tiny(x: np.ndarray, relative: float) -> torch.Tensor:
    """Features around 0.01 whose spread is ``relative`` of it: 1e-6 is below float32's resolution."""
    return torch.from_numpy(0.01 + 0.01 * relative * x).float()


def _evaluate(x, y, xt, yt, p: LinearParams) -> float:
    return Linear(p).evaluate(_context(x, y, xt, yt))[0].value


def _prevalence_map(y: np.ndarray) -> float:
    """The mean over classes (with a positive) of the share of positives among non-ignored labels."""
    return 100 * np.mean([(y[y[:, c] >= 0, c] == 1).mean() for c in range(y.shape[1]) if (y[:, c] == 1).any()])


def test_lr_30_on_features_below_float32_resolution_is_an_error_not_a_prevalence_map():
    """The bias overshoots (curvature p (1 - p) <= 1/4: heavy-ball stable below lr 15.2), the loss
    rises tenfold and every training image gets the same score: the probe ranks nothing."""
    x, y = _data(0, n=120)
    xt, yt = _data(1, n=40)
    with pytest.raises(TrainingError) as error:
        _evaluate(_tiny(x, 1e-6).numpy(), y, _tiny(xt, 1e-6).numpy(), yt, LinearParams())
    line = str(error.value)
    assert "\n" not in line
    assert re.search(r"^linear probe on dataset 'voc2007' at linear\.lr=30 \(preset a5\.1, mode cached\) failed to "
                     r"fit: its training loss rose from 2\.08 to 2\d\.\d \(epoch \d+ of 100\)", line)
    trivial = f"{_prevalence_map(y):.1f}"  # the constant predictor's 11-point mAP, computed independently
    assert f"no better than scoring each class by its prevalence ({trivial} <= {trivial})" in line
    assert line.endswith("use --set linear.standardize=true --set linear.lr=0.1, a lower linear.lr, or "
                         "--set linear.mode=lbfgs")


def test_a_non_finite_multilabel_training_loss_is_an_error():
    x, y = _data(0)
    x[3, 0] = np.inf
    with pytest.raises(TrainingError, match=r"'voc2007' at linear\.lr=0\.1 .*training loss became non-finite "
                                            r"\(nan\) at epoch 1 of 2"):
        _evaluate(x, y, x, y, LinearParams(epochs=2, lr=0.1))


def test_an_unstable_multilabel_fit_that_ranks_well_is_stored_with_a_warning(caplog):
    """lr 30 on unit-scale features: the bias overshoots but the saturated gradients still rank."""
    x, y = _data(0, n=120)
    xt, yt = _data(1, n=40)
    with caplog.at_level(logging.WARNING, logger="sslbench.protocols"):
        value = _evaluate(x, y, xt, yt, LinearParams(epochs=20))
    assert "an unstable fit whose number may depend on rounding" in caplog.text
    assert value > _prevalence_map(yt) + 20


@pytest.mark.parametrize("relative", [1.0, 1e-6, 0.0])
def test_a_stable_multilabel_fit_passes_silently_even_on_a_collapsed_representation(relative, caplog):
    """lr 0.1 never raises the loss: at chance on features without spread the mAP is still a result."""
    from sslbench.protocols.divergence import FitTrace
    from sslbench.protocols.linear import train_linear
    from sslbench.protocols.multilabel import _masked_bce, check_multilabel_fit

    x, y = _data(0, n=120)
    x, y, p = _tiny(x, relative), torch.from_numpy(y), LinearParams(lr=0.1, epochs=20)
    trace = FitTrace()
    with caplog.at_level(logging.WARNING, logger="sslbench.protocols"):
        clf = train_linear(x, y, y.shape[1], p, trace=trace, loss_fn=_masked_bce)
        check_multilabel_fit(clf, trace, x, y, p, "voc2007")
    assert caplog.text == "" and max(trace.epoch_losses) <= trace.epoch_losses[0] + 1e-6


def test_tracing_the_multilabel_loss_leaves_the_fit_bit_identical():
    from sslbench.protocols.divergence import FitTrace
    from sslbench.protocols.linear import train_linear
    from sslbench.protocols.multilabel import _masked_bce

    x, y = _data(0)
    x, y, p = torch.from_numpy(x).float(), torch.from_numpy(y), LinearParams(epochs=5, lr=0.5, batch_size=16)
    plain, traced = (train_linear(x, y, 3, p, trace=trace, loss_fn=_masked_bce) for trace in (None, FitTrace()))
    assert torch.equal(plain.weight, traced.weight) and torch.equal(plain.bias, traced.bias)


@pytest.fixture
def flat(tmp_path, monkeypatch, make_plugin_dist):
    """A multi-label dataset plugin whose images are all alike, installed with an entry point."""
    site = make_plugin_dist("flatdata", "sslbench_flat", FLAT)
    monkeypatch.setattr(sys, "path", [site, *sys.path])
    monkeypatch.delitem(sys.modules, "sslbench_flat", raising=False)
    plugins.reset()


def test_the_default_multilabel_probe_refuses_its_diverged_fit_in_one_line_and_stores_no_row(flat, tmp_path):
    out = tmp_path / "runs"
    result = CliRunner().invoke(cli, ["run", "-m", "random", "-d", "flat4ml", "-p", "linear", "-o", str(out),
                                      "--no-progress"])
    assert result.exit_code == 2, result.output
    line = one_error_line(result.stderr)
    for part in ("linear probe on dataset 'flat4ml' at linear.lr=30 (preset a5.1, mode cached) failed to fit",
                 "no better than scoring each class by its prevalence", "--set linear.standardize=true"):
        assert part in line
    assert not (out / "results.sqlite").exists()


def _voc07_ap(scores: np.ndarray, labels: np.ndarray) -> float:
    """11-point AP by brute force over the distinct scores (tied images form one threshold)."""
    keep = labels != -1
    s, positive = scores[keep], labels[keep] == 1
    thresholds = np.unique(s)[::-1]
    tp = np.array([(positive & (s >= t)).sum() for t in thresholds])
    recall, precision = tp / positive.sum(), tp / np.array([(s >= t).sum() for t in thresholds])
    return float(np.mean([precision[recall >= r - 1e-12].max(initial=0.0) for r in np.linspace(0, 1, 11)]))


def test_the_advised_multilabel_settings_agree_with_per_class_scikit_learn_logistic_regression(blobs, tmp_path):
    """What the refusal advises: the stored mAP is that of one scikit-learn LogisticRegression per
    class (C = 1, ignored labels left out) on the same standardised features, to 1 mAP point (100
    SGD steps from a near-zero start vs a converged fit: 0.3 apart here)."""
    from sklearn.linear_model import LogisticRegression

    rows, ftr, fte = advised_linear_run(blobs, tmp_path, "blobs4ml")
    _, _, _, _, ytr, yte = blobs.generate()
    aps = []
    for c in range(ytr.shape[1]):
        keep = ytr[:, c] >= 0
        ref = LogisticRegression(C=1.0, tol=1e-10, max_iter=100_000).fit(ftr[keep], ytr[keep, c])
        aps.append(_voc07_ap(ref.decision_function(fte), yte[:, c]))
    expected = 100 * np.mean(aps)
    assert expected > _prevalence_map(yte) + 20  # the features carry the labels: a chance-level mAP would be wrong
    assert rows[("linear", "mAP")] == pytest.approx(expected, abs=1.0)
