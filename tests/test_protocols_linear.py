"""Linear probing (thesis A.5.1, A.5.2; Table 4.10's L-BFGS transfer probe)."""

import numpy as np
import pytest
import torch

from sslbench.contract.errors import ConfigError
from sslbench.protocols.linear import (Linear, LinearParams, accuracy, fit_logistic_lbfgs, lbfgs_probe,
                                       stratified_split)

from protocols_support import digits_context, single_thread  # noqa: F401 (autouse fixture)


def test_presets_are_the_thesis_recipes():
    a51 = LinearParams(preset="a5.1")
    assert (a51.epochs, a51.lr, a51.momentum, a51.weight_decay, a51.milestones) == (100, 30.0, 0.9, 0.0, [60, 80])
    assert [a51.lr_at(e) for e in (0, 59, 60, 79, 80, 99)] == pytest.approx([30, 30, 3, 3, 0.3, 0.3])
    a52 = LinearParams(preset="a5.2")
    assert (a52.epochs, a52.batch_size, a52.schedule) == (90, 1024, "cosine")
    assert a52.scaled_lr() == pytest.approx(0.1 * 1024 / 256)
    assert a52.lr_at(45) == pytest.approx(0.2) and a52.lr_at(0) == pytest.approx(0.4)
    # an explicit value wins over the preset's
    assert LinearParams(preset="a5.2", epochs=3).epochs == 3
    with pytest.raises(ConfigError):
        LinearParams(preset="a5.3")


@pytest.mark.parametrize("l2", [1e-3, 1e-1])
def test_lbfgs_probe_equals_scikit_learn_logistic_regression(l2):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 8))
    y = (x @ rng.normal(size=(8, 3)) + rng.normal(size=(150, 3))).argmax(1)
    w, b = fit_logistic_lbfgs(torch.from_numpy(x), torch.from_numpy(y), 3, l2, tol=1e-9)
    ref = LogisticRegression(C=1.0 / (l2 * len(x)), tol=1e-10, max_iter=10_000).fit(x, y)
    np.testing.assert_allclose(w.numpy(), ref.coef_, atol=1e-4)
    np.testing.assert_allclose(b.numpy(), ref.intercept_, atol=1e-4)
    xt = rng.normal(size=(50, 8))
    probs = torch.softmax(torch.from_numpy(xt) @ w.T + b, 1).numpy()
    np.testing.assert_allclose(probs, ref.predict_proba(xt), atol=1e-5)


def test_lbfgs_regularisation_is_chosen_on_a_validation_split_of_train_only():
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.normal(size=(120, 6)))
    y = torch.from_numpy((x.numpy() @ rng.normal(size=(6, 4))).argmax(1))
    xt = torch.from_numpy(rng.normal(size=(40, 6)))
    yt = torch.from_numpy((xt.numpy() @ rng.normal(size=(6, 4))).argmax(1))
    p = LinearParams(mode="lbfgs", l2_grid=[1e-4, 1e-2, 1.0], max_iter=200)
    score, best, val_scores = lbfgs_probe(x, y, xt, yt, 4, p)
    # the choice ignores the test labels entirely
    _, best_shuffled, val_shuffled = lbfgs_probe(x, y, xt, yt[torch.randperm(len(yt))], 4, p)
    assert best == best_shuffled and val_scores == val_shuffled
    assert best == max(val_scores, key=lambda l2: (val_scores[l2], l2))
    fit, val = stratified_split(y.numpy(), 0.2, 0)
    assert len(set(fit) & set(val)) == 0 and len(fit) + len(val) == 120
    assert set(np.unique(y.numpy()[val])) == set(np.unique(y.numpy()))


def test_mean_per_class_accuracy_weights_classes_equally():
    y = torch.tensor([0, 0, 0, 0, 1])
    pred = torch.tensor([0, 0, 0, 0, 0])
    assert accuracy(pred, y, "top1") == pytest.approx(80.0)
    assert accuracy(pred, y, "mean_per_class") == pytest.approx(50.0)


@pytest.mark.parametrize("mode,sets", [
    ("cached", {}),
    ("augment", {"epochs": 3, "crop_scale": [0.6, 1.0], "flip_p": 0.0}),
    ("lbfgs", {"l2_grid": [1e-3, 1e-1], "max_iter": 100}),
    ("lbfgs", {"l2_grid": [1e-2], "max_iter": 100, "metric": "mean_per_class"}),
])
def test_linear_probe_on_digits_features_beats_chance_by_a_wide_margin(tmp_path, mode, sets):
    ctx, _ = digits_context(tmp_path / "features", width=16)
    params = LinearParams(**{"epochs": 10, "lr": 0.1, "standardize": True, "mode": mode, **sets})
    result = Linear(params).evaluate(ctx)
    metrics = {m.name: m.value for m in result}
    name = "mean_per_class_acc" if sets.get("metric") == "mean_per_class" else "top1"
    assert metrics[name] > 60.0, metrics  # chance is 10%
    assert all(m.higher_is_better for m in result)


def test_augment_mode_reforwards_the_frozen_backbone_every_epoch(tmp_path):
    ctx, calls = digits_context(tmp_path / "features")
    before = {k: v.clone() for k, v in ctx.backbone.state_dict().items()}
    Linear(LinearParams(mode="augment", epochs=2, lr=0.1, standardize=True)).evaluate(ctx)
    n_train, n_test = len(ctx.dataset("train")), len(ctx.dataset("test"))
    assert calls["images"] == n_train + n_test + 2 * n_train
    after = ctx.backbone.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # frozen, BN statistics included


def test_the_probe_trains_on_the_device_it_is_given():
    """Features, batches and classifier all move to ``device`` ("meta": mixing devices raises)."""
    from sslbench.protocols.linear import train_linear

    x, y = torch.randn(40, 8), torch.randint(0, 3, (40,))
    clf = train_linear(x, y, 3, LinearParams(epochs=2, lr=0.1, batch_size=16), device="meta")
    assert clf.weight.device.type == "meta"


def test_standardize_scales_both_splits_in_place_by_the_train_statistics():
    from sslbench.protocols.linear import standardize_

    x, xt = torch.randn(100, 6) * 5 + 3, torch.randn(20, 6)
    expect_xt = (xt - x.mean(0)) / x.std(0)
    x_id, xt_id = x.data_ptr(), xt.data_ptr()
    standardize_(x, xt)
    assert x.data_ptr() == x_id and xt.data_ptr() == xt_id  # no copy of a large feature matrix
    assert torch.allclose(x.mean(0), torch.zeros(6), atol=1e-5) and torch.allclose(x.std(0), torch.ones(6), atol=1e-5)
    assert torch.allclose(xt, expect_xt, atol=1e-5)


# --------------------------------------------------------------------------- a diverged SGD fit


def _four_classes(scale: float, const: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """60 features of 4 classes (the first 6 all class 0: majority 31.7 %) at ``scale``; ``const``:
    one feature for all (a collapsed representation)."""
    rng = np.random.default_rng(0)
    y = np.arange(60) % 4
    y[:6] = 0
    x = rng.normal(size=(60, 16)) + np.eye(4, 16)[y]
    x = np.full_like(x, 0.3) if const else x * scale
    return torch.from_numpy(x).float(), torch.from_numpy(y)


def _fit_and_check(x, y, p):
    from sslbench.protocols.divergence import FitTrace, check_fit
    from sslbench.protocols.linear import train_linear

    trace = FitTrace()
    check_fit(train_linear(x, y, 4, p, trace=trace), trace, x, y, p, "four")
    return trace


def test_lr_30_on_small_scale_features_of_four_classes_is_an_error_not_a_majority_class_number():
    """A.5.1's lr 30 overshoots the bias (curvature 1/C: stable below 15.2 for C = 4): the loss
    climbs to tens of nats and the classifier predicts one class. Exit-2 error, advice included."""
    from sslbench.contract.errors import TrainingError

    expected = (r"'four' at linear\.lr=30 .*failed to fit: its training loss rose from 1\.39 to .*majority class "
                r".*\(31\.7% <= 31\.7%\).*linear\.standardize=true")
    with pytest.raises(TrainingError, match=expected):
        _fit_and_check(*_four_classes(0.002), LinearParams())


def test_a_non_finite_training_loss_is_an_error():
    from sslbench.contract.errors import TrainingError

    x, y = _four_classes(1.0)
    x[3, 0] = float("inf")
    with pytest.raises(TrainingError, match=r"training loss became non-finite \(nan\) at epoch 1 of 2"):
        _fit_and_check(x, y, LinearParams(epochs=2, lr=0.1))


def test_an_unstable_fit_that_learnt_something_is_stored_with_a_warning(caplog):
    import logging

    with caplog.at_level(logging.WARNING, logger="sslbench.protocols"):
        _fit_and_check(*_four_classes(1.0), LinearParams(standardize=True))  # unit-scale features, lr 30
    assert "an unstable fit whose number may depend on rounding; use a lower linear.lr" in caplog.text


@pytest.mark.parametrize("scale,const", [(1.0, False), (0.002, False), (1.0, True)])
def test_a_stable_fit_passes_silently_even_at_chance_on_a_collapsed_representation(scale, const, caplog):
    """lr 0.1 never raises the loss: a collapsed representation's chance number is a result, kept."""
    import logging

    with caplog.at_level(logging.WARNING, logger="sslbench.protocols"):
        trace = _fit_and_check(*_four_classes(scale, const), LinearParams(lr=0.1))
    assert caplog.text == "" and max(trace.epoch_losses) <= trace.epoch_losses[0] + 1e-6


def test_tracing_the_loss_leaves_the_fit_bit_identical():
    from sslbench.protocols.divergence import FitTrace
    from sslbench.protocols.linear import train_linear

    x, y = _four_classes(1.0)
    p = LinearParams(epochs=5, lr=0.1, batch_size=16)
    plain, traced = train_linear(x, y, 4, p), train_linear(x, y, 4, p, trace=FitTrace())
    assert torch.equal(plain.weight, traced.weight) and torch.equal(plain.bias, traced.bias)
