"""`suite status` asks the scheduler about the jobs its cells wait on: a job that died without a
word (OOM kill, node failure, scancel) fails its unfinished cells instead of leaving them running
forever; without sacct or submitit (or when sacct hangs) status says what the state files say."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from sslbench.cli import cli
from sslbench.suites import scheduler
from sslbench.suites.library import find_suite
from sslbench.suites.plan import plan_suite
from sslbench.suites.results import cell_dir, write_rows, write_state
from sslbench.suites.status import suite_statuses

SUITE = "protocols: [knn]\ngrid: {methods: [random, supervised], datasets: [digits]}\n"


@pytest.fixture
def suite(tmp_path):
    """A two-cell suite file, its planned cells and the output folder ``suite status`` reads."""
    path = tmp_path / "two.yaml"
    path.write_text(SUITE)
    return path, plan_suite(find_suite(str(path))), tmp_path / "runs"


def _status(path: Path, out: Path) -> list[str]:
    result = CliRunner().invoke(cli, ["suite", "status", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def _fake_sacct(tmp_path: Path, monkeypatch, body: str) -> Path:
    """``sacct`` on PATH as a shell script (``body``); every call appends its arguments to calls.txt."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "sacct"
    script.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/calls.txt\n{body}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return tmp_path / "calls.txt"


def test_cells_of_slurm_jobs_that_ended_are_failed_with_the_schedulers_state_in_one_sacct_call(
        suite, tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    path, planned, out = suite
    calls = _fake_sacct(tmp_path, monkeypatch, "printf 'JobID|State\\n77_0|OUT_OF_MEMORY\\n77_1|RUNNING\\n"
                                               "77_1.batch|RUNNING\\n'")
    write_state(cell_dir(out, planned[0].cell_id), "running", job_id="77_0", cluster="slurm", attempt=1)
    write_state(cell_dir(out, planned[1].cell_id), "queued", job_id="77_1")
    lines = _status(path, out)
    assert lines[0] == ("failed      random digits seed 0: job 77_0 ended OUT_OF_MEMORY without finishing its cell "
                        "(run the suite again to continue)")
    assert lines[1].startswith("queued      supervised digits seed 0: job 77_1 at ")
    assert lines[-1] == "2 cell(s): 1 queued, 1 failed"
    assert calls.read_text().splitlines() == ["-o JobID,State --parsable2 -j 77"]


@pytest.mark.parametrize("state", ["CANCELLED by 1234", "NODE_FAIL", "COMPLETED"])
def test_every_final_slurm_state_fails_an_unfinished_cell_and_a_done_cell_stays_done(suite, tmp_path,
                                                                                     monkeypatch, state):
    pytest.importorskip("submitit")
    path, planned, out = suite
    _fake_sacct(tmp_path, monkeypatch, f"printf 'JobID|State\\n5|{state}\\n6|{state}\\n'")
    write_state(cell_dir(out, planned[0].cell_id), "requeued", job_id="5", cluster="slurm")
    write_state(cell_dir(out, planned[1].cell_id), "running", job_id="6", cluster="slurm")
    write_rows(cell_dir(out, planned[1].cell_id), [], "cell-x")  # its rows are written: done
    statuses = suite_statuses(planned, out, tmp_path / "submitit")
    assert [s.state for s in statuses] == ["failed", "done"]
    assert statuses[0].detail.startswith(f"job 5 ended {state.split()[0]} without finishing its cell")


def test_a_hanging_sacct_is_cut_short_and_status_says_what_the_state_files_say(suite, tmp_path, monkeypatch):
    path, planned, out = suite
    _fake_sacct(tmp_path, monkeypatch, "exec sleep 30")
    monkeypatch.setattr(scheduler, "SACCT_TIMEOUT_S", 0.5)
    write_state(cell_dir(out, planned[0].cell_id), "running", job_id="9", cluster="slurm", attempt=2)
    start = time.monotonic()
    statuses = suite_statuses(planned, out, tmp_path / "submitit")
    assert time.monotonic() - start < 5
    assert statuses[0].state == "running" and statuses[0].detail.startswith("job 9, attempt 2, since ")


def test_without_sacct_on_path_slurm_cells_keep_their_recorded_state(suite, tmp_path, monkeypatch):
    path, planned, out = suite
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    write_state(cell_dir(out, planned[0].cell_id), "running", job_id="9", cluster="slurm")
    assert scheduler.job_states([{"state": "running", "job_id": "9"}], None) == {}
    assert suite_statuses(planned, out, None)[0].state == "running"


def test_without_submitit_the_scheduler_is_not_asked(suite, tmp_path, monkeypatch):
    import sys

    path, planned, out = suite
    calls = _fake_sacct(tmp_path, monkeypatch, "printf 'JobID|State\\n9|FAILED\\n'")
    monkeypatch.setitem(sys.modules, "submitit.slurm.slurm", None)  # `import` raises ImportError
    monkeypatch.setitem(sys.modules, "submitit.local.local", None)
    write_state(cell_dir(out, planned[0].cell_id), "running", job_id="9", cluster="slurm")
    write_state(cell_dir(out, planned[1].cell_id), "running", job_id=str(os.getpid()), cluster="local")
    assert [s.state for s in suite_statuses(planned, out, tmp_path)] == ["running", "running"]
    assert not calls.exists()


def _wait(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_local_submitit_job_killed_with_sigkill_fails_its_running_cell(suite, tmp_path):
    submitit = pytest.importorskip("submitit")
    path, planned, out = suite
    ex = submitit.AutoExecutor(folder=str(out / "suites" / "two" / "submitit"), cluster="local")
    ex.update_parameters(timeout_min=2, gpus_per_node=0)
    alive = ex.submit(time.sleep, 60)
    killed = ex.submit(signal.raise_signal, signal.SIGKILL)  # what the OOM killer does to a job
    try:
        for planned_cell, job in zip(planned, (alive, killed)):
            write_state(cell_dir(out, planned_cell.cell_id), "running", job_id=str(job.job_id), cluster="local")
        _wait(lambda: killed.state == "INTERRUPTED" or killed.done())  # its controller ended (and is reaped)
        lines = _status(path, out)
        assert lines[0].startswith(f"running     random digits seed 0: job {alive.job_id}, attempt 1")
        assert lines[1] == (f"failed      supervised digits seed 0: job {killed.job_id} ended INTERRUPTED without "
                            f"finishing its cell (run the suite again to continue)")
    finally:
        alive.cancel()
    _wait(lambda: alive.done())


def test_the_worker_records_which_cluster_runs_its_job(tmp_path):
    submitit = pytest.importorskip("submitit")
    from sslbench.suites.worker import _join_distributed

    ex = submitit.AutoExecutor(folder=str(tmp_path / "submitit"), cluster="local")
    ex.update_parameters(timeout_min=2, gpus_per_node=0)
    job = ex.submit(_join_distributed)
    assert job.result() == {"job_id": str(job.job_id), "cluster": "local", "global_rank": 0}


def test_a_local_job_of_another_host_is_not_judged_by_this_hosts_processes():
    state = {"state": "running", "job_id": str(2 ** 22 + 12345), "cluster": "local", "host": "elsewhere"}
    assert socket.gethostname() != "elsewhere"
    assert scheduler.job_states([state], "/nonexistent") == {}
