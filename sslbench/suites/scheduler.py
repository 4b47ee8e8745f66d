"""What the scheduler says about a suite's submitted jobs, so that ``suite status`` can tell a job
that died without a word (OOM kill, node failure, ``scancel``) from one still running.

One query for all the jobs: ``sacct`` for SLURM jobs (its output read by submitit's own parser,
the query capped at :data:`SACCT_TIMEOUT_S`), and for jobs of submitit's local executor on this
host, the job folder (a result file: the job returned) and the process table. Without ``sacct``,
without submitit, or when the query fails or times out, nothing is known and ``suite status``
says what the cells' state files say.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any, Iterable

#: seconds ``sacct`` may take before ``suite status`` goes on without it
SACCT_TIMEOUT_S = 5.0
#: SLURM states (sacct's first word: "CANCELLED by 1234") of a job that will not run again, and
#: submitit's local-executor states of a job whose process is gone
ENDED = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL",
                   "DEADLINE", "REVOKED", "FINISHED", "INTERRUPTED"})
#: cell states whose job the scheduler is asked about
WAITING = ("queued", "requeued", "running")


def job_states(states: Iterable[dict[str, Any]], submitit_folder: str | Path | None) -> dict[str, str]:
    """Job id -> the scheduler's state (``RUNNING``, ``OUT_OF_MEMORY`` ...) of each job that cells
    in ``states`` (their ``state.json``) wait on; jobs nobody can tell about are left out."""
    slurm, local = set(), set()
    here = socket.gethostname()
    for state in states:
        job = str(state.get("job_id") or "")
        if not job or state.get("state") not in WAITING:
            continue
        if state.get("cluster") == "local":
            if state.get("host") == here and job.isdigit():
                local.add(job)
        else:  # slurm, or queued by `suite run` before the job said where it runs
            slurm.add(job)
    return {**_slurm_states(slurm), **_local_states(local, submitit_folder)}


def ended(jobs: dict[str, str], state: dict[str, Any]) -> str | None:
    """The scheduler's final state of the job the cell ``state`` waits on, when that job has ended."""
    found = jobs.get(str(state.get("job_id") or ""), "")
    return found if found in ENDED else None


def _slurm_states(job_ids: set[str]) -> dict[str, str]:
    if not job_ids or shutil.which("sacct") is None:
        return {}
    try:
        from submitit.slurm.slurm import SlurmInfoWatcher
    except ImportError:
        return {}
    command = ["sacct", "-o", "JobID,State", "--parsable2"]
    for job in sorted({j.split("_")[0] for j in job_ids}):  # an array's id: all its tasks, one query
        command.extend(["-j", job])
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=SACCT_TIMEOUT_S, check=True).stdout
        info = SlurmInfoWatcher().read_info(out)
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        return {}
    return {job: info[job]["State"].split()[0] for job in job_ids if (info.get(job) or {}).get("State")}


def _local_states(job_ids: set[str], folder: str | Path | None) -> dict[str, str]:
    """submitit's local jobs (the id is the job controller's pid): FINISHED once the job wrote its
    result, RUNNING while its controller lives, else INTERRUPTED (killed before it returned)."""
    if not job_ids or folder is None:
        return {}
    try:
        from submitit.local.local import LocalJob
    except ImportError:
        return {}
    out = {}
    for job in job_ids:
        state = LocalJob(folder, job).state  # another process's job: only its result file is known
        if state not in ENDED and state != "RUNNING":
            state = "RUNNING" if process_lives(int(job)) else "INTERRUPTED"
        out[job] = state
    return out


def process_lives(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): kill(0) is all there is
    return stat.rpartition(")")[2].split()[:1] != ["Z"]
