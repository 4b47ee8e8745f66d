"""Interruptions and concurrency: one process per pretraining folder, Ctrl-C, continuing by
re-running, log.jsonl without repeated epochs, leftovers of killed writes, train.keep_checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from click.testing import CliRunner

from sslbench.atomic import atomic_write, remove_stale_temps, stale_temps, temp_beside
from sslbench.cli import cli
from sslbench.engine import checkpoint
from sslbench.contract.errors import TrainingError

# 1,437 digits at batch 512: 2 steps an epoch, a 4-channel network
SMALL = ("--set", "model.backbone_options={width: 4}", "--batch-size", "512", "--set", "knn.k=[5]", "--no-progress")
EPOCHS = ("--epochs", "2")
ONE_STEP = ("--epochs", "1", "--set", "train.max_steps=1")


def _run(out, *args):
    return CliRunner().invoke(cli, ["run", "-m", "moco", "-p", "knn", "-d", "digits", "-o", str(out), *SMALL, *args])


def _run_dir(out, epochs=2, **train):
    """The pretraining folder of `_run(out, *EPOCHS)` (or of ONE_STEP with epochs=1, max_steps=1)."""
    from sslbench.runner import pretrain_dir, resolve_config

    sets = {"train": {"epochs": epochs, "batch_size": 512, **train}, "model": {"backbone_options": {"width": 4}},
            "knn": {"k": [5]}}
    return pretrain_dir(out, resolve_config("moco", "digits", ["knn"], sets=sets))


def _logged_epochs(run_dir):
    return [json.loads(line)["epoch"] for line in (run_dir / "log.jsonl").read_text().splitlines()]


def _interrupt_at_step(monkeypatch, at_step):
    """Ctrl-C when moco's pretraining reaches ``at_step``; returns a function that disarms it."""
    from sslbench.contract.loading import registries

    moco = registries().methods.get("moco")
    original = moco.on_step
    armed = [True]

    def on_step(self, step, total):
        if armed[0] and step == at_step:
            raise KeyboardInterrupt
        return original(self, step, total)

    monkeypatch.setattr(moco, "on_step", on_step)
    return lambda: armed.clear() or armed.append(False)


def _hold_lock_in_subprocess(folder):
    """Another process holding ``folder``'s pretraining lock until killed."""
    code = textwrap.dedent(f"""
        import sys, time
        from sslbench import folderlock
        with folderlock.hold({str(folder)!r}, "pretraining folder"):
            print("held", flush=True)
            time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_process_on_a_pretraining_folder_is_refused_until_the_first_is_gone(tmp_path):
    out = tmp_path / "out"
    run_dir = _run_dir(out, epochs=1, max_steps=1)
    holder = _hold_lock_in_subprocess(run_dir)
    try:
        refused = _run(out, *ONE_STEP)
        assert refused.exit_code == 2, refused.output
        line = refused.output.strip()
        assert "\n" not in line and f"in use by process {holder.pid}" in line and "SSLBENCH_LOCK_WAIT" in line
        assert not (run_dir / "log.jsonl").exists() and not (run_dir / "checkpoint.pt").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the OS releases the lock of a killed holder: nothing stale blocks the next run
    again = _run(out, *ONE_STEP)
    assert again.exit_code == 0, again.output
    assert (run_dir / "checkpoint.pt").is_file()  # train.keep_checkpoint defaults to true


def test_lock_wait_waits_for_the_first_process_then_runs(tmp_path, monkeypatch):
    out = tmp_path / "out"
    run_dir = _run_dir(out, epochs=1, max_steps=1)
    holder = _hold_lock_in_subprocess(run_dir)
    monkeypatch.setenv("SSLBENCH_LOCK_WAIT", "60")
    try:
        subprocess.Popen(["sh", "-c", f"sleep 1; kill -9 {holder.pid}"])
        waited = _run(out, *ONE_STEP)
    finally:
        holder.kill()
        holder.wait()
    assert waited.exit_code == 0, waited.output
    assert f"waiting up to 60s for process {holder.pid}" in waited.output
    assert (run_dir / "backbone.pt").is_file()


def test_ctrl_c_names_the_epoch_and_the_same_command_continues_to_the_uninterrupted_weights(tmp_path, monkeypatch):
    full = _run(tmp_path / "full", *EPOCHS)
    assert full.exit_code == 0, full.output

    out = tmp_path / "out"
    disarm = _interrupt_at_step(monkeypatch, 3)  # in epoch 2, after the checkpoint of epoch 1
    stopped = _run(out, *EPOCHS)
    assert stopped.exit_code == 130
    assert ("interrupted: pretraining stopped in epoch 2/2; its checkpoint holds 1 finished epoch(s): run the same "
            "command again (with or without --resume) to continue from epoch 2") in stopped.output
    assert "Traceback" not in stopped.output
    disarm()

    resumed = _run(out, *EPOCHS)  # the same command, no --resume
    assert resumed.exit_code == 0, resumed.output
    assert "reused pretraining" not in resumed.output
    run_dir = _run_dir(out)
    assert _logged_epochs(run_dir) == [1, 2]
    a = checkpoint.load(_run_dir(tmp_path / "full") / "backbone.pt")["backbone"]
    b = checkpoint.load(run_dir / "backbone.pt")["backbone"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_ctrl_c_before_the_first_checkpoint_says_the_run_starts_over(tmp_path, monkeypatch):
    _interrupt_at_step(monkeypatch, 1)
    stopped = _run(tmp_path / "out", *EPOCHS)
    assert stopped.exit_code == 130
    assert "pretraining stopped in epoch 1/2 before its first checkpoint" in stopped.output


def _resume_setup(tmp_path, epochs=2):
    from sslbench.contract.loading import registries
    from sslbench.runner import resolve_config

    sets = {"train": {"epochs": epochs, "batch_size": 512}, "model": {"backbone_options": {"width": 4}}}
    config = resolve_config("moco", "digits", ["knn"], sets=sets)
    regs = registries()
    return config, regs.methods.get("moco"), regs.datasets.get("digits"), regs


def test_log_never_repeats_epochs_when_a_kill_came_between_the_log_line_and_the_checkpoint(tmp_path):
    from sslbench.engine.trainer import pretrain

    config, method_cls, spec, regs = _resume_setup(tmp_path)
    pretrain(config, method_cls(config.method_params, config), spec, regs, tmp_path, progress=False,
             stop_after_epochs=1)
    with open(tmp_path / "log.jsonl", "a") as fh:  # epoch 2 logged, then killed before its checkpoint
        fh.write(json.dumps({"epoch": 2, "step": 4, "loss": 1.0, "lr": 0.1}) + '\n{"epoch": 3, "st')
    outcome = pretrain(config, method_cls(config.method_params, config), spec, regs, tmp_path, resume=True,
                       progress=False)
    assert outcome.resumed_from == 1
    assert _logged_epochs(tmp_path) == [1, 2]


def test_a_fresh_pretraining_starts_a_fresh_log(tmp_path):
    from sslbench.engine.trainer import pretrain

    config, method_cls, spec, regs = _resume_setup(tmp_path, epochs=1)
    (tmp_path / "log.jsonl").write_text(json.dumps({"epoch": 1, "step": 2, "loss": 9.0, "lr": 0.1}) + "\n")
    pretrain(config, method_cls(config.method_params, config), spec, regs, tmp_path, progress=False)
    assert _logged_epochs(tmp_path) == [1]
    assert json.loads((tmp_path / "log.jsonl").read_text())["loss"] != 9.0


def test_checkpoint_of_another_pretraining_is_refused(tmp_path):
    from sslbench.engine.trainer import pretrain

    config, method_cls, spec, regs = _resume_setup(tmp_path)
    state = {"learner": {}, "epoch": 1, "step": 2, "pretrain_hash": "0123456789abcdef"}
    checkpoint.save(state, tmp_path / "checkpoint.pt")
    with pytest.raises(TrainingError, match="belongs to pretraining '0123456789abcdef'"):
        pretrain(config, method_cls(config.method_params, config), spec, regs, tmp_path, resume=True, progress=False)
    (tmp_path / "checkpoint.pt").write_bytes(os.urandom(256))
    with pytest.raises(TrainingError, match="cannot read checkpoint .* remove it to start over") as err:
        pretrain(config, method_cls(config.method_params, config), spec, regs, tmp_path, resume=True, progress=False)
    assert "weights_only" not in str(err.value)


def _age(path, seconds):
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_leftover_temp_files_are_removed_at_the_next_start_but_not_a_write_in_progress(tmp_path):
    out = tmp_path / "out"
    run_dir = _run_dir(out, epochs=1, max_steps=1)
    run_dir.mkdir(parents=True)
    (out / "features").mkdir()
    killed = [run_dir / ".checkpoint.pt.k1ll3d.tmp", out / "features" / ".abc.features.npy.x9y8z7.tmp"]
    for path in killed:
        path.write_bytes(b"half a file")
        _age(path, 3600)
    fd, in_progress = temp_beside(out / "features" / "other.features.npy")  # locked, as a writer holds it
    _age(in_progress, 3600)
    try:
        result = _run(out, *ONE_STEP)
        assert result.exit_code == 0, result.output
        assert not any(p.exists() for p in killed)
        assert in_progress.exists()
    finally:
        os.close(fd)


def test_a_killed_atomic_write_leaves_an_unlocked_temp_that_cleaning_removes(tmp_path):
    code = textwrap.dedent(f"""
        import time
        from sslbench.atomic import atomic_write
        def slow(fh):
            fh.write(b"partial")
            fh.flush()
            print("writing", flush=True)
            time.sleep(120)
        atomic_write({str(tmp_path / "result.bin")!r}, slow)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        (tmp,) = tmp_path.glob(".result.bin.*.tmp")
        assert stale_temps(tmp_path, min_age_s=0) == []  # its writer is alive: locked
        assert remove_stale_temps(tmp_path, min_age_s=0) == [] and tmp.exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert stale_temps(tmp_path) == []  # too young to be sure its writer had locked it
    assert remove_stale_temps(tmp_path, min_age_s=0) == [tmp]
    assert not tmp.exists() and not (tmp_path / "result.bin").exists()


def test_an_atomic_write_leaves_no_temp_and_the_whole_file(tmp_path):
    atomic_write(tmp_path / "a.txt", lambda fh: fh.write("done"), mode="w")
    assert (tmp_path / "a.txt").read_text() == "done" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_keep_checkpoint_false_drops_the_checkpoint_and_keeps_the_pretraining_identity(tmp_path):
    out = tmp_path / "out"
    run_dir = _run_dir(out, epochs=1, max_steps=1)
    assert _run_dir(out, epochs=1, max_steps=1, keep_checkpoint=False) == run_dir
    result = _run(out, *ONE_STEP, "--set", "train.keep_checkpoint=false")
    assert result.exit_code == 0, result.output
    assert (run_dir / "backbone.pt").is_file() and not (run_dir / "checkpoint.pt").exists()
    again = _run(out, *ONE_STEP)  # the default (keep) reuses the same weights
    assert "reused pretraining" in again.output

