"""A whole `sslbench run` on the bundled digits: pretrain, reuse, resume, evaluate, store, table."""

import sqlite3
import pytest

import torch
from click.testing import CliRunner

from sslbench.cli import cli
from sslbench.engine import checkpoint

from helpers import TINY


def _run(out, *args):
    return CliRunner().invoke(cli, ["run", "-d", "digits", "-o", str(out), *TINY, *args], catch_exceptions=False)


def test_run_stores_results_and_table_shows_rows(tmp_path):
    out = tmp_path / "out"
    first = _run(out, "-m", "moco", "-p", "knn,linear", "--set", "linear.epochs=2")
    assert first.exit_code == 0, first.output
    assert "moco on digits" in first.output and "knn top1@k20" in first.output and str(out) in first.output
    second = _run(out, "-m", "random", "-p", "knn")
    assert second.exit_code == 0, second.output
    rows = sqlite3.connect(out / "results.sqlite").execute(
        "SELECT method, protocol, metric, seed, config_hash, versions_json, hardware FROM results").fetchall()
    assert {(r[0], r[1]) for r in rows} == {("moco", "knn"), ("moco", "linear"), ("random", "knn")}
    assert all(r[4] and "torch" in r[5] and r[6] for r in rows)
    table = CliRunner().invoke(cli, ["table", "-o", str(out)])
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert any(line.startswith("| moco") for line in lines) and any(line.startswith("| random") for line in lines)
    assert "knn top1@k20" in lines[0]


def test_second_run_with_same_config_reuses_the_pretraining(tmp_path):
    out = tmp_path / "out"
    _run(out, "-m", "moco", "-p", "knn")
    again = _run(out, "-m", "moco", "-p", "knn", "--set", "knn.k=[3]")
    assert "reused pretraining" in again.output
    changed = _run(out, "-m", "moco", "-p", "knn", "--set", "moco.temperature=0.3")
    assert "reused pretraining" not in changed.output


@pytest.mark.slow  # long end-to-end: `python -m pytest -m slow`
def test_resume_continues_from_the_epoch_checkpoint_to_the_same_weights(tmp_path):
    from sslbench.contract.loading import registries
    from sslbench.runner import resolve_config
    from sslbench.engine.trainer import pretrain

    sets = {"train": {"epochs": 2, "batch_size": 256}, "model": {"backbone_options": {"width": 4}}}
    config = resolve_config("moco", "digits", ["knn"], sets=sets)
    regs = registries()
    spec = regs.datasets.get("digits")
    method_cls = regs.methods.get("moco")

    full_dir = tmp_path / "full"
    full_dir.mkdir()
    full = pretrain(config, method_cls(config.method_params, config), spec, regs, full_dir, progress=False)

    # an interrupted run: stopped after the first epoch, then resumed to the end
    part_dir = tmp_path / "part"
    part_dir.mkdir()
    pretrain(config, method_cls(config.method_params, config), spec, regs, part_dir, progress=False,
             stop_after_epochs=1)
    state = checkpoint.load(part_dir / "checkpoint.pt")
    assert state["epoch"] == 1 and state["step"] == 5 and not (part_dir / "backbone.pt").exists()
    resumed = pretrain(config, method_cls(config.method_params, config), spec, regs, part_dir, resume=True,
                       progress=False)
    assert resumed.resumed_from == 1
    for a, b in zip(full.backbone.state_dict().values(), resumed.backbone.state_dict().values()):
        assert torch.equal(a, b)


def test_unwritable_output_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(cli, ["run", "-m", "random", "-p", "knn", "-d", "digits", "-o", str(blocker / "x"),
                                      "--no-progress"])
    assert result.exit_code == 2 and "not writable" in result.output


def test_bf16_autocast_runs_on_cpu(tmp_path):
    result = _run(tmp_path / "out", "-m", "moco", "-p", "knn", "--set", "train.precision=bf16")
    assert result.exit_code == 0, result.output
    assert "moco on digits" in result.output
