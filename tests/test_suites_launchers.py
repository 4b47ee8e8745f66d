"""Suite jobs: submitit's local executor (the slurm launcher's code path), requeue on preemption,
rows written per cell and ingested exactly once whatever runs or ingests twice."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from sslbench.store import ResultRow
from sslbench.suites import launchers
from sslbench.suites.library import find_suite
from sslbench.suites.plan import jobs, plan_suite
from sslbench.suites.results import ROWS, cell_dir, ingest, read_events, read_state, run_id, write_rows
from sslbench.suites.scheduler import process_lives
from sslbench.suites.worker import SuiteWorker

submitit = pytest.importorskip("submitit")

# one optimiser step on small batches, a narrow network, a kNN on the frozen features
TINY = {"train": {"max_steps": 1, "batch_size": 32}, "model": {"backbone_options": {"width": 8}},
        "data": {"input_size": 8}, "knn": {"k": [5]}}


def _cpu_suite(methods: list[str], protocols: tuple[str, ...] = ("knn",)):
    """The CPU suite of benchmarks/cpu-digits.yaml, cut to one seed and the given methods."""
    suite = find_suite("cpu-digits")
    for block in suite.blocks:
        block.methods, block.seeds = methods, [0]
        block.evaluations = [type(e)(e.name, e.eval_dataset, protocols, e.sets) for e in block.evaluations]
    return suite


def _rows_in_store(store: Path) -> list[tuple]:
    with sqlite3.connect(store) as conn:
        return conn.execute("SELECT run_id, protocol, metric, value FROM results").fetchall()


def _options() -> launchers.SlurmOptions:
    return launchers.SlurmOptions(cluster="local", gpus_per_node=0, timeout_min=10, array=False)


@pytest.mark.slow  # long end-to-end: `python -m pytest -m slow`
def test_two_concurrent_submitit_jobs_run_the_cpu_suite_and_their_rows_reach_the_store(tmp_path):
    out = tmp_path / "runs"
    planned = plan_suite(_cpu_suite(["moco", "random"]), shared=TINY)
    specs = launchers.job_specs(jobs(planned), out)
    assert len(specs) == 2
    submitted = launchers.submit(specs, tmp_path / "submitit", _options())
    done = []
    launchers.wait(submitted, specs, lambda spec, states: done.append(ingest(out / "results.sqlite",
                                                                              [cell_dir(out, t.cell_id) for t in spec.tasks])))
    events = {p.cell_id: read_events(cell_dir(out, p.cell_id)) for p in planned}
    assert all([e["event"] for e in ev] == ["start", "done"] for ev in events.values())
    # two job processes submitted together (an untrained `random` cell can end before the other starts,
    # so overlap in time is not asserted: that depended on start-up jitter)
    assert len({ev[0].get("pid") for ev in events.values()}) == 2
    stored = _rows_in_store(out / "results.sqlite")
    assert {r[0] for r in stored} == {run_id(p.cell_id) for p in planned} and len(stored) == 2  # top1@k5 each


def _events_when(folder: Path, condition, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition(folder):
        assert time.monotonic() < deadline, f"timed out waiting on {folder}"
        time.sleep(0.2)


@pytest.mark.slow  # long end-to-end: `python -m pytest -m slow`
def test_a_job_preempted_mid_pretraining_is_requeued_and_continues_from_its_last_epoch(tmp_path):
    out = tmp_path / "runs"
    slow = {**TINY, "train": {"epochs": 3, "batch_size": 128, "max_steps": 0}}  # 11 steps per epoch
    planned = plan_suite(_cpu_suite(["moco"]), shared=slow)
    job = launchers.submit(launchers.job_specs(jobs(planned), out), tmp_path / "submitit", _options())[0]
    folder = cell_dir(out, planned[0].cell_id)

    _events_when(out, lambda _: any(out.glob("pretrain/moco-digits-*/checkpoint.pt")))  # an epoch is saved
    # what SLURM does on preemption: USR2 to the task, which checkpoints, requeues and exits
    os.kill(read_state(folder)["pid"], signal.SIGUSR2)
    job.wait()
    starts = [e for e in read_events(folder) if e["event"] == "start"]
    assert len(starts) == 2 and starts[0]["checkpoint_epoch"] == 0 and starts[1]["checkpoint_epoch"] >= 1
    log = next(out.glob("pretrain/moco-digits-*/log.jsonl"))
    epochs = [json.loads(line)["epoch"] for line in log.read_text().splitlines()]
    # the requeued job went on from its checkpoint, it did not start over (the epoch under way when
    # the signal came may be logged twice: its line is written just before its checkpoint)
    assert sorted(set(epochs)) == [1, 2, 3] and epochs.count(1) == 1 and len(epochs) <= 4
    assert (folder / ROWS).is_file() and read_state(folder)["state"] == "done"


def test_a_cell_run_twice_and_ingested_twice_gives_one_row_per_metric(tmp_path):
    out = tmp_path / "runs"
    planned = plan_suite(_cpu_suite(["random"], ("knn", "retrieval")), shared=TINY)
    spec = launchers.job_specs(jobs(planned), out)[0]
    folder = cell_dir(out, planned[0].cell_id)
    SuiteWorker()(spec)
    first = (folder / ROWS).read_text()
    (folder / ROWS).unlink()  # as if the job were requeued after writing its rows: it runs again
    SuiteWorker()(spec)
    assert (folder / ROWS).read_text().splitlines()[0].startswith('{"run_id": "' + run_id(planned[0].cell_id))
    store = out / "results.sqlite"
    assert ingest(store, [folder]) == (4, 0)  # top1@k5, R@1, R@5, R@10
    assert ingest(store, [folder]) == (0, 4)
    (folder / ROWS).write_text(first)  # the first run's rows, same cell: still the same records
    assert ingest(store, [folder]) == (0, 4)
    assert len(_rows_in_store(store)) == 4


def _finish_at_once(out: str, i: int, barrier) -> None:
    """One of many jobs ending together: write its rows, then ingest every cell there is."""
    rows = [ResultRow("m", "digits", "digits", "convnet-small", "knn", f"metric{k}", float(i + k), True, i, "c", "p",
                      {"seed": i}, None, {}, "cpu", 0.0, 0.0) for k in range(3)]
    folder = cell_dir(out, f"m-digits-s{i}-{i:016x}")
    barrier.wait()
    write_rows(folder, rows, run_id(folder.name))
    ingest(Path(out) / "results.sqlite", sorted((Path(out) / "cells").iterdir()))


def test_sixteen_jobs_finishing_at_once_lose_no_row_and_duplicate_none(tmp_path):
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(16)
    procs = [ctx.Process(target=_finish_at_once, args=(str(tmp_path), i, barrier)) for i in range(16)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 16
    ingest(tmp_path / "results.sqlite", sorted((tmp_path / "cells").iterdir()))  # the launcher's last pass
    stored = _rows_in_store(tmp_path / "results.sqlite")
    assert len(stored) == 16 * 3 and len({r[:3] for r in stored}) == 16 * 3


@pytest.mark.slow  # long end-to-end: `python -m pytest -m slow`
def test_a_two_process_job_trains_with_torch_distributed_from_the_job_environment(tmp_path):
    out = tmp_path / "runs"
    planned = plan_suite(_cpu_suite(["moco"]), shared={**TINY, "train": {"max_steps": 2, "batch_size": 32}},
                         world_size=2)  # the world size is part of the pretraining's identity
    options = _options()
    options.tasks_per_node = 2  # as --gpus-per-node 2 would on a GPU node; gloo on this CPU
    job = launchers.submit(launchers.job_specs(jobs(planned), out), tmp_path / "submitit", options)[0]
    job.wait()
    folder = cell_dir(out, planned[0].cell_id)
    starts = [e for e in read_events(folder) if e["event"] == "start"]
    assert read_state(folder)["state"] == "done", read_state(folder)
    assert len(starts) == 1 and starts[0]["world_size"] == 2  # rank 0 alone writes the cell's files
    assert len((folder / ROWS).read_text().splitlines()) == 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_stopping_a_local_parallel_launcher_stops_its_workers(tmp_path, signum):
    """A killed launcher leaves no worker training cells nobody will collect (not even after SIGKILL)."""
    import subprocess
    import sys

    out = tmp_path / "out"
    long_run = ["--set", "train.epochs=500", "--set", "train.max_steps=100000", "--set", "data.input_size=8"]
    launcher = subprocess.Popen([sys.executable, "-m", "sslbench", "suite", "run", "cpu-digits", "-o", str(out),
                                 "--methods", "moco,sce", "--launcher", "local-parallel", "--workers", "2",
                                 "--no-progress", *long_run],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    workers: set[int] = set()
    deadline = time.monotonic() + 120
    while len(workers) < 2 and time.monotonic() < deadline and launcher.poll() is None:
        for state in out.glob("cells/*/state.json"):
            record = json.loads(state.read_text() or "{}")
            if record.get("state") == "running" and isinstance(record.get("pid"), int):
                workers.add(record["pid"])
        time.sleep(0.2)
    assert len(workers) == 2, launcher.stderr.read().decode() if launcher.poll() is not None else "no worker started"
    launcher.send_signal(signum)
    code = launcher.wait(timeout=60)
    if signum == signal.SIGTERM:
        assert code == 128 + signal.SIGTERM
        assert "interrupted" in launcher.stderr.read().decode()
    deadline = time.monotonic() + 30
    while any(process_lives(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if process_lives(pid)], "workers outlived their launcher"
