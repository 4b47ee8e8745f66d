"""Launchers: where a suite's jobs run. Every launcher runs the same :class:`SuiteWorker`.

- ``local``: one job after the other in this process (what ``sslbench compare`` does).
- ``local-parallel``: N worker processes on this machine, each with cores / N threads.
- ``slurm``: one submitit job per pretraining, or one job array; each job requeues itself on
  timeout or preemption and continues from its last epoch. ``cluster="local"`` runs the very same
  submission through submitit's local executor (how the tests exercise it without SLURM).

Jobs write rows files only; the launching process ingests them into the store as jobs end
(:func:`sslbench.suites.results.ingest`), or later through ``suite status`` / ``suite table``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..contract.errors import SSLBenchError
from .results import cell_dir, write_state
from .worker import JobSpec, SuiteWorker, task_of

LAUNCHERS = ("local", "local-parallel", "slurm")


def job_specs(groups: Sequence[Sequence[Any]], output_dir: str | Path, progress: bool = False,
              name: str = "sslbench") -> list[JobSpec]:
    """One :class:`JobSpec` per group of planned cells (see :func:`sslbench.suites.plan.jobs`)."""
    return [JobSpec(str(output_dir), tuple(task_of(p) for p in group), progress, f"{name}-{i}")
            for i, group in enumerate(groups)]


def run_local(specs: Sequence[JobSpec], on_done: Callable[[JobSpec, dict[str, str]], None]) -> None:
    """Run every job in this process, in order."""
    worker = SuiteWorker()
    for spec in specs:
        on_done(spec, worker(spec))


def _watch_parent(parent: int, interval: float = 1.0) -> None:
    """Exit this worker as soon as the launcher that started it is gone (killed, even by SIGKILL):
    an orphaned worker would go on training cells nobody collects."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(143)

    threading.Thread(target=watch, name="sslbench-parent-watch", daemon=True).start()


def _start_worker(threads: int, parent: int) -> None:
    """Worker initialiser: die with the launcher, and share the cores fairly with the other workers."""
    _watch_parent(parent)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


def _terminate(pool: Any) -> None:
    """Stop a process pool now, running jobs included (``shutdown`` alone waits for them)."""
    processes = list(getattr(pool, "_processes", {}).values())  # CPython's ProcessPoolExecutor keeps them here
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()


class TerminatedError(KeyboardInterrupt):
    """SIGTERM (or SIGHUP) seen by the launcher: unwinds like Ctrl-C so its workers are stopped too."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def _raise_terminated(signum: int, frame: Any) -> None:
    raise TerminatedError(signum)


def run_parallel(specs: Sequence[JobSpec], workers: int, on_done: Callable[[JobSpec, dict[str, str]], None]) -> None:
    """Run the jobs on ``workers`` processes (spawned: no state forked from this one)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    if workers < 1:
        raise SSLBenchError(f"invalid --workers {workers}: expected an integer >= 1")
    import signal
    import threading

    threads = max(1, (os.cpu_count() or 1) // workers)
    handled = (signal.SIGTERM, signal.SIGHUP)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _raise_terminated) for sig in handled}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(threads, os.getpid()))
    try:
        futures = {pool.submit(SuiteWorker(), spec): spec for spec in specs}
        for future in as_completed(futures):
            on_done(futures[future], future.result())
    except BaseException:
        _terminate(pool)
        raise
    else:
        pool.shutdown(wait=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass
class SlurmOptions:
    """What ``sbatch`` is asked for, per job (one pretraining)."""

    partition: str | None = None
    nodes: int = 1
    gpus_per_node: int = 1
    cpus_per_task: int | None = None
    timeout_min: int = 24 * 60
    mem_gb: float | None = None
    sbatch: dict[str, str] = field(default_factory=dict)
    array: bool = True
    array_parallelism: int = 64
    cluster: str = "slurm"
    #: processes per node (default: one per GPU; on CPU-only nodes, torch.distributed with gloo)
    tasks_per_node: int | None = None


def parse_sbatch(items: Sequence[str]) -> dict[str, str]:
    """``["account=abc", "constraint=a100"]`` -> extra ``#SBATCH --account=abc --constraint=a100``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SSLBenchError(f"invalid --sbatch {item!r}: expected KEY=VALUE, e.g. account=myproject")
        out[key.strip().lstrip("-").replace("-", "_")] = value.strip()
    return out


def executor(folder: str | Path, options: SlurmOptions) -> Any:
    """A submitit executor for ``options`` (``cluster="local"``: the local executor, same code path)."""
    try:
        import submitit
    except ImportError:
        raise SSLBenchError("the slurm launcher needs submitit: pip install 'sslbench[slurm]'") from None
    ex = submitit.AutoExecutor(folder=str(folder), cluster=options.cluster)
    tasks = options.tasks_per_node or max(1, options.gpus_per_node)  # one task (process) per GPU
    params: dict[str, Any] = {"timeout_min": options.timeout_min, "nodes": options.nodes,
                              "tasks_per_node": tasks, "gpus_per_node": options.gpus_per_node, "name": "sslbench"}
    if options.cpus_per_task:
        params["cpus_per_task"] = options.cpus_per_task
    if options.mem_gb:
        params["mem_gb"] = options.mem_gb
    if options.cluster == "slurm":
        params.update(slurm_additional_parameters=dict(options.sbatch),
                      slurm_array_parallelism=options.array_parallelism)
        if options.partition:
            params["slurm_partition"] = options.partition
    ex.update_parameters(**params)
    return ex


def submit(specs: Sequence[JobSpec], folder: str | Path, options: SlurmOptions) -> list[Any]:
    """Submit every job (as one array when ``options.array``); marks its cells queued with the job id."""
    ex = executor(folder, options)
    worker = SuiteWorker()
    if options.array and len(specs) > 1:
        jobs = ex.map_array(worker, list(specs))
    else:
        jobs = [ex.submit(worker, spec) for spec in specs]
    for spec, job in zip(specs, jobs):
        for task in spec.tasks:
            write_state(cell_dir(spec.output_dir, task.cell_id), "queued", job_id=str(job.job_id))
    return jobs


def wait(jobs: Sequence[Any], specs: Sequence[JobSpec], on_done: Callable[[JobSpec, dict[str, str]], None]) -> None:
    """Wait for submitted jobs, handing each one's cells to ``on_done`` as it ends (failed or not)."""
    pending = list(zip(jobs, specs))
    while pending:
        job, spec = pending.pop(0)
        try:
            states = job.result()
        except Exception:  # noqa: BLE001 - the cells' state files say what failed
            states = {}
        on_done(spec, states)
