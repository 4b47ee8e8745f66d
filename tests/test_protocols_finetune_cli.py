"""Finetuning (thesis B.1) and `sslbench run` with every protocol on the bundled digits."""

import pytest
import torch
from click.testing import CliRunner

from sslbench.cli import cli
from sslbench.contract.errors import ConfigError
from sslbench.protocols.finetune import Finetune, FinetuneParams

from helpers import one_error_line
from protocols_support import digits_context, single_thread  # noqa: F401 (autouse fixture)


def test_finetune_presets():
    b1 = FinetuneParams(preset="b1")
    assert (b1.epochs, b1.dropout, b1.lr, b1.lr_base_batch, b1.weight_decay, b1.color_jitter) == (200, 0.8, 0.1, 64, 0.0, True)
    assert b1.lr_at(0, 100) == pytest.approx(0.1 * b1.batch_size / 64) and b1.lr_at(100, 100) == pytest.approx(0.0)
    assert FinetuneParams(preset="b1", epochs=3).epochs == 3
    with pytest.raises(ConfigError):
        FinetuneParams(dropout=1.0)


def test_finetune_trains_the_whole_network_and_leaves_the_frozen_backbone_alone(tmp_path):
    ctx, _ = digits_context(tmp_path / "features", width=8)
    before = {k: v.clone() for k, v in ctx.backbone.state_dict().items()}
    params = FinetuneParams(epochs=3, batch_size=64, lr=0.4, crop_scale=[0.7, 1.0], flip_p=0.0)
    metrics = {m.name: m.value for m in Finetune(params).evaluate(ctx)}
    assert metrics["top1"] > 50.0, metrics  # chance is 10%
    after = ctx.backbone.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_run_every_protocol_on_digits(tmp_path):
    result = CliRunner().invoke(cli, [
        "run", "-m", "random", "-d", "digits", "-o", str(tmp_path / "out"), "--no-progress",
        "-p", "linear,knn,finetune,retrieval,lowshot", "--set", "model.backbone_options={width: 8}",
        "--set", "linear.epochs=2", "--set", "finetune.epochs=1", "--set", "lowshot.k=[2]",
        "--set", "lowshot.samples=1", "--set", "lowshot.all=false", "--set", "lowshot.costs=[1.0]",
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for text in ("linear top1", "knn top1@k20", "finetune top1", "retrieval R@1", "R@10", "lowshot top1@k2"):
        assert text in result.output


def test_a_finetune_whose_loss_turns_non_finite_is_an_error_not_a_stored_top1(tmp_path):
    """NaN weights predict one class: its test share would be stored as top-1 with exit status 0."""
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", "-m", "random", "-d", "digits", "-p", "finetune", "-o", str(out),
                                      "--no-progress", "--set", "model.backbone_options={width: 8}",
                                      "--set", "finetune.epochs=1", "--set", "finetune.lr=1e30"])
    assert result.exit_code == 2, result.output
    line = one_error_line(result.stderr)
    assert "finetune on dataset 'digits' diverged: non-finite loss in epoch 1 at finetune.lr=1e+30" in line
    assert not (out / "results.sqlite").exists()
