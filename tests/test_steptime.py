"""Each training step's time split into data wait and compute (log.jsonl, progress bar, one
warning above 20 %), and the optional TensorBoard scalars."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from sslbench.cli import cli
from sslbench.contract.errors import ConfigError
from sslbench.engine import steptime
from sslbench.engine.steptime import StepTimer

from helpers import TINY


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run(timer: StepTimer, clock: FakeClock, steps: int, wait: float, compute: float) -> list[str]:
    lines = []
    for _ in range(steps):
        timer.wait_start()
        clock.now += wait
        timer.got_batch()
        clock.now += compute
        line = timer.step_done(images=8)
        if line:
            lines.append(line)
    return lines


def test_step_time_splits_into_data_wait_and_compute():
    clock = FakeClock()
    timer = StepTimer(clock=clock)
    _run(timer, clock, 4, wait=0.01, compute=0.09)
    times, _ = timer.end_epoch(1)
    summary = times.summary(world_size=2)
    assert summary["data_time"] == pytest.approx(0.01) and summary["compute_time"] == pytest.approx(0.09)
    assert summary["step_time"] == pytest.approx(0.1) and summary["data_wait"] == pytest.approx(0.1)
    assert summary["images_per_s"] == pytest.approx(4 * 8 * 2 / 0.4)


def test_one_warning_when_data_wait_exceeds_a_fifth_of_the_step():
    clock = FakeClock()
    timer = StepTimer(clock=clock)
    lines = _run(timer, clock, steptime.WARMUP_STEPS, wait=5.0, compute=0.1)  # slow start-up: not judged
    assert lines == []
    lines = _run(timer, clock, steptime.WINDOW_STEPS, wait=0.03, compute=0.07)  # 30 % waiting
    assert len(lines) == 1 and "30%" in lines[0] and "data.num_workers" in lines[0]
    lines = _run(timer, clock, 100, wait=0.05, compute=0.05)
    assert lines == [] and timer.end_epoch(1)[1] is None  # said once per run


def test_no_warning_when_the_loader_keeps_up():
    clock = FakeClock()
    timer = StepTimer(clock=clock)
    assert _run(timer, clock, 80, wait=0.01, compute=0.09) == []
    assert timer.end_epoch(1)[1] is None


def test_a_slow_start_alone_warns_nothing():
    clock = FakeClock()
    timer = StepTimer(clock=clock)
    _run(timer, clock, steptime.WARMUP_STEPS, wait=2.0, compute=0.1)  # loader workers starting
    _run(timer, clock, 3, wait=0.001, compute=0.1)
    times, line = timer.end_epoch(1)
    assert line is None and times.fraction > 0.5  # the log still says how the epoch went


def test_an_epoch_shorter_than_the_window_is_judged_at_its_end():
    clock = FakeClock()
    timer = StepTimer(clock=clock)
    _run(timer, clock, 10, wait=0.5, compute=0.5)
    _, line = timer.end_epoch(1)
    assert line is not None and "epoch 1" in line


def test_log_jsonl_records_the_step_time_split(tmp_path):
    result = CliRunner().invoke(cli, ["run", "-m", "moco", "-p", "knn", "-d", "digits", "-o", str(tmp_path), *TINY],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (log,) = tmp_path.glob("pretrain/*/log.jsonl")
    entry = json.loads(log.read_text().splitlines()[-1])
    assert {"step_time", "data_time", "compute_time", "data_wait", "images_per_s"} <= set(entry)
    assert entry["step_time"] == pytest.approx(entry["data_time"] + entry["compute_time"], abs=1e-5)


def test_tensorboard_without_the_package_is_a_one_line_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed
    result = CliRunner().invoke(cli, ["run", "-m", "moco", "-p", "knn", "-d", "digits", "-o", str(tmp_path), *TINY,
                                      "--set", "train.tensorboard=true"])
    assert result.exit_code == 2
    assert "train.tensorboard" in result.output and "sslbench[tensorboard]" in result.output
    with pytest.raises(ConfigError, match="tensorboard package is not installed"):
        from sslbench.engine.tensorboard import require_tensorboard

        require_tensorboard()


def test_tensorboard_scalars_are_written_when_asked(tmp_path):
    pytest.importorskip("tensorboard")
    result = CliRunner().invoke(cli, ["run", "-m", "sce", "-p", "knn", "-d", "digits", "-o", str(tmp_path), *TINY,
                                      "--set", "train.tensorboard=true"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (folder,) = tmp_path.glob("pretrain/*/tensorboard")
    events = EventAccumulator(str(folder))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/lr", "train/momentum", "train/lambda", "train/data_wait",
            "train/images_per_s"} <= tags
