"""What a job runs, in whatever process a launcher gives it: the cells of one pretraining.

:class:`SuiteWorker` is a submitit *checkpointable* callable: on a SLURM timeout or preemption
submitit calls :meth:`SuiteWorker.checkpoint`, which resubmits the same job; the pretraining then
continues from its last epoch checkpoint (``checkpoint.pt``, written every epoch) and finished
cells are skipped. Under a multi-task SLURM (or submitit local) job each task joins the
``torch.distributed`` group described by the job's environment; rank 0 evaluates and writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .results import PARTIAL_ROWS, cell_dir, log_event, read_state, run_id, write_rows, write_state


@dataclass(frozen=True)
class CellTask:
    """A planned cell reduced to what a job needs to resolve and run it again (plain, picklable)."""

    cell_id: str
    describe: str
    method: str
    dataset: str
    protocols: tuple[str, ...]
    sets: dict[str, Any]
    overrides: dict[str, Any]
    keys: dict[str, str]


@dataclass(frozen=True)
class JobSpec:
    """The cells of one pretraining, run in order by one job."""

    output_dir: str
    tasks: tuple[CellTask, ...]
    progress: bool = False
    job_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def task_of(planned: Any) -> CellTask:
    """The :class:`CellTask` of a :class:`~sslbench.suites.plan.PlannedCell` (its missing protocols only)."""
    missing = tuple(p for p in planned.protocols if p not in planned.done)
    return CellTask(planned.cell_id, planned.cell.describe(), planned.cell.method, planned.cell.dataset, missing,
                    planned.sets, planned.overrides, {p: planned.keys[p] for p in missing})


def _join_distributed() -> dict[str, Any]:
    """Inside a submitit job of several tasks, export the torch.distributed variables (MASTER_ADDR,
    RANK, WORLD_SIZE, LOCAL_RANK ...) from the SLURM environment and pin this task's GPU."""
    try:
        import submitit
        env = submitit.JobEnvironment()
    except (ImportError, RuntimeError):
        return {}
    info = {"job_id": env.job_id, "cluster": env.cluster, "global_rank": env.global_rank}  # `suite status` asks it
    if env.num_tasks > 1:
        import torch

        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        if torch.cuda.is_available():
            torch.cuda.set_device(env.local_rank)
        info["world_size"] = env.num_tasks
    return info


def run_task(task: CellTask, output_dir: Path, progress: bool, job: dict[str, Any]) -> str:
    """Run one cell unless its rows exist; returns its final state (done, skipped, failed)."""
    import torch

    from ..engine import checkpoint as ckpt
    from ..engine import distributed as dist
    from ..engine.trainer import CHECKPOINT
    from ..reporting.records import eval_key
    from ..runner import pretrain_dir, resolve_config, run

    folder = cell_dir(output_dir, task.cell_id)
    main = dist.is_main()
    if (folder / "rows.jsonl").is_file():
        return "skipped"
    previous = read_state(folder)
    rows: list[Any] = []
    try:
        config = resolve_config(task.method, task.dataset, list(task.protocols), None, task.sets, task.overrides)
        as_dict = config.to_dict()
        changed = [p for p in task.protocols if eval_key(as_dict, p) != task.keys[p]]
        if changed:
            raise RuntimeError(f"the config of {task.describe} no longer resolves as planned (plugins or presets "
                               f"changed?): plan the suite again")
        if dist.world_size() > 1 and torch.cuda.is_available():
            config.train.device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
        start_epoch = 0
        partial = pretrain_dir(output_dir, config) / CHECKPOINT
        if partial.is_file():
            start_epoch = int(ckpt.load(partial).get("epoch", 0))
        if main:
            attempt = int(previous.get("attempt", 0)) + 1
            write_state(folder, "running", attempt=attempt, **job)
            log_event(folder, event="start", attempt=attempt, checkpoint_epoch=start_epoch, **job)
        run(config, output_dir, resume=True, progress=progress, sink=rows.extend)
        if main:
            write_rows(folder, rows, run_id(task.cell_id))
            write_state(folder, "done", rows=len(rows), **job)
            log_event(folder, event="done", rows=len(rows))
        return "done"
    except Exception as exc:  # one failed cell must not stop the others of its job
        line = " ".join(str(exc).split()) or type(exc).__name__
        if main and rows:  # protocols that finished before the failure: kept, ingested, not re-run
            write_rows(folder, rows, run_id(task.cell_id), PARTIAL_ROWS)
        if main:
            write_state(folder, "failed", error=f"{type(exc).__name__}: {line}"[:500], **job)
            log_event(folder, event="failed", error=line[:500])
        return "failed"


class SuiteWorker:
    """Runs a :class:`JobSpec`; checkpointable by submitit (requeued on timeout or preemption)."""

    def __call__(self, spec: JobSpec) -> dict[str, str]:
        from ..engine import distributed as dist

        job = _join_distributed()
        dist.init_from_env()
        try:
            states = {t.cell_id: run_task(t, Path(spec.output_dir), spec.progress, job) for t in spec.tasks}
        finally:
            dist.cleanup()
        failed = [cid for cid, s in states.items() if s == "failed"]
        if failed and job:  # let the scheduler show the job as failed; the states say why
            raise RuntimeError(f"{len(failed)} cell(s) failed: {', '.join(failed)} (see `sslbench suite status`)")
        return states

    def checkpoint(self, spec: JobSpec) -> Any:
        """Submitit calls this on timeout / preemption: mark the running cells, resubmit the job."""
        import submitit

        for task in spec.tasks:
            folder = cell_dir(spec.output_dir, task.cell_id)
            if read_state(folder).get("state") == "running":
                write_state(folder, "requeued", attempt=int(read_state(folder).get("attempt", 0)))
        return submitit.helpers.DelayedSubmission(self, spec)
