"""Scale-out and fault tolerance: torchrun with gloo, kill -9 then --resume, concurrent stores."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from sslbench.engine import checkpoint

SMALL = ("--set", "model.backbone_options={width: 4}", "--set", "train.batch_size=256",
         "--set", "knn.k=[5]", "--no-progress")


def _cmd(*args):
    return [sys.executable, "-m", "sslbench.cli", *args]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes_on_cpu_trains_and_stores_once(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
         "-m", "sslbench.cli", "run", "-m", "moco", "-p", "knn", "-d", "digits", "-o", str(out),
         "--epochs", "1", *SMALL],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("moco on digits") == 1  # only rank 0 reports
    rows = sqlite3.connect(out / "results.sqlite").execute("SELECT COUNT(*) FROM results").fetchone()[0]
    assert rows == 1
    state = checkpoint.load(next((out / "pretrain").glob("*/checkpoint.pt")))
    assert state["step"] == 5  # global batch 256 = 2 x 128: 1,437 images give 5 steps per epoch
    # the same command in one process trains its own weights: the world size is part of the
    # pretraining's identity, and every row records it (issue 14, item 4)
    from click.testing import CliRunner

    from sslbench.cli import cli

    single = CliRunner().invoke(cli, ["run", "-m", "moco", "-p", "knn", "-d", "digits", "-o", str(out), "--epochs", "1",
                                      *SMALL], catch_exceptions=False)
    assert single.exit_code == 0 and "reused pretraining" not in single.output, single.output
    assert len(list((out / "pretrain").glob("*/backbone.pt"))) == 2
    sizes = sqlite3.connect(out / "results.sqlite").execute("SELECT world_size FROM results ORDER BY id").fetchall()
    assert [s for (s,) in sizes] == [2, 1]


@pytest.mark.slow  # long end-to-end: `python -m pytest -m slow`
def test_torchrun_ranks_end_identical_with_a_queue_of_both_ranks_keys(tmp_path):
    import torch

    worker = Path(__file__).with_name("ddp_worker.py")
    (tmp_path / "run").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
         str(worker), str(tmp_path)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["weights"].keys() == r1["weights"].keys()
    for key in r0["weights"]:
        assert torch.equal(r0["weights"][key], r1["weights"][key]), key
    assert torch.equal(r0["queue"], r1["queue"])
    per_rank = len(r0["last_keys"])  # 128 = the global batch 256 over 2 ranks
    assert per_rank == 128 and not torch.equal(r0["last_keys"], r1["last_keys"])
    newest = r0["queue"][-2 * per_rank:]
    assert torch.allclose(newest, torch.cat([r0["last_keys"], r1["last_keys"]]), atol=1e-6)


@pytest.mark.slow  # long end-to-end: `python -m pytest -m slow`
def test_kill_9_then_resume_reaches_the_uninterrupted_weights(tmp_path):
    import torch

    args = ("run", "-m", "moco", "-p", "knn", "-d", "digits", "--epochs", "4", *SMALL)
    full = subprocess.run(_cmd(*args, "-o", str(tmp_path / "full")), capture_output=True, text=True, timeout=600)
    assert full.returncode == 0, full.stderr

    out = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(*args, "-o", str(out)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    ckpt = None
    while time.time() < deadline and proc.poll() is None:
        found = list((out / "pretrain").glob("*/checkpoint.pt")) if (out / "pretrain").exists() else []
        if found:
            ckpt = found[0]
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be killed")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert ckpt is not None and not (ckpt.parent / "backbone.pt").exists()
    resumed = subprocess.run(_cmd(*args, "-o", str(out), "--resume"), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    a = checkpoint.load(next((tmp_path / "full" / "pretrain").glob("*/backbone.pt")))["backbone"]
    b = checkpoint.load(ckpt.parent / "backbone.pt")["backbone"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _insert_many(args):
    from sslbench.store import ResultRow, insert

    path, worker = args
    for i in range(20):
        insert(path, [ResultRow("m", "d", "d", "b", "p", f"metric{i}", float(i), True, worker, "h", "h", {}, None,
                                {}, "cpu", None, None)])
    return worker


def test_concurrent_writers_never_lose_rows(tmp_path):
    path = tmp_path / "results.sqlite"
    with ProcessPoolExecutor(4) as pool:
        list(pool.map(_insert_many, [(path, w) for w in range(4)]))
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM results").fetchone()[0] == 80


@pytest.mark.slow  # long end-to-end: `python -m pytest -m slow`
def test_four_runs_at_once_on_one_store_keep_every_row(tmp_path):
    out = tmp_path / "shared"
    procs = [subprocess.Popen(_cmd("run", "-m", "random", "-p", "knn", "-d", "digits", "--seed", str(seed),
                                   "-o", str(out), *SMALL), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
             for seed in range(4)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    rows = sqlite3.connect(out / "results.sqlite").execute("SELECT seed, metric FROM results").fetchall()
    assert sorted(rows) == [(seed, "top1@k5") for seed in range(4)]


def test_non_finite_loss_stops_with_one_line(tmp_path):
    proc = subprocess.run(_cmd("run", "-m", "moco", "-p", "knn", "-d", "digits", "--epochs", "1", *SMALL,
                               "--set", "train.lr=1e30", "-o", str(tmp_path / "o")),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2
    assert "non-finite loss" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_non_finite_loss_keeps_the_last_good_checkpoint(tmp_path):
    from sslbench.engine.trainer import pretrain
    from sslbench.contract.errors import TrainingError
    from sslbench.contract.loading import registries
    from sslbench.runner import resolve_config
    from sslbench_moco import MoCo

    class BlowsUp(MoCo):
        calls = 0

        def loss(self, online, target, queue):
            BlowsUp.calls += 1
            value = super().loss(online, target, queue)
            return value * float("nan") if BlowsUp.calls > 7 else value

    config = resolve_config("moco", "digits", ["knn"], sets={"train": {"epochs": 3, "batch_size": 256},
                                                              "model": {"backbone_options": {"width": 4}}})
    regs = registries()
    with pytest.raises(TrainingError, match="non-finite loss nan at step 7 .*checkpoint.pt"):
        pretrain(config, BlowsUp(config.method_params, config), regs.datasets.get("digits"), regs, tmp_path,
                 progress=False)
    assert checkpoint.load(tmp_path / "checkpoint.pt")["epoch"] == 1
    assert not (tmp_path / "backbone.pt").exists()


def test_checkpoints_cannot_run_code(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(Exception, match="Weights only load failed|Unsupported"):
        checkpoint.load(path)
