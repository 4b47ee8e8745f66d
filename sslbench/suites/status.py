"""``sslbench suite status``: what each cell is doing, from the store and its cell folder."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .results import ROWS, cell_dir, read_state
from .scheduler import ended, job_states, process_lives

STATES = ("done", "running", "queued", "requeued", "failed", "interrupted", "pending")


@dataclass(frozen=True)
class CellStatus:
    planned: Any
    state: str
    detail: str = ""


def suite_statuses(planned: Sequence[Any], output_dir: str | Path,
                   submitit_folder: str | Path | None = None) -> list[CellStatus]:
    """The status of each planned cell, the scheduler asked once about the jobs they wait on
    (:func:`sslbench.suites.scheduler.job_states`)."""
    states = {p.cell_id: read_state(cell_dir(output_dir, p.cell_id)) for p in planned if not p.complete}
    jobs = job_states(states.values(), submitit_folder)
    return [cell_status(p, output_dir, jobs, states.get(p.cell_id)) for p in planned]


def cell_status(planned: Any, output_dir: str | Path, jobs: dict[str, str] | None = None,
                state: dict[str, Any] | None = None) -> CellStatus:
    """done (every protocol stored, or its rows written), running / queued / requeued (with the
    job and attempt), failed (with the error line, or the final state of a job that ended without
    finishing the cell, from ``jobs``: job id -> scheduler state), interrupted (a local process
    that died) or pending."""
    folder = cell_dir(output_dir, planned.cell_id)
    if planned.complete or (folder / ROWS).is_file():
        return CellStatus(planned, "done")
    state = read_state(folder) if state is None else state  # ``state``: the cell's state.json, read already
    kind = state.get("state")
    where = f"{state.get('host', '?')} pid {state.get('pid', '?')}"
    job = f"job {state['job_id']}" if state.get("job_id") else where
    if kind == "failed":
        return CellStatus(planned, "failed", state.get("error", "no error recorded"))
    final = ended(jobs or {}, state) if kind in ("running", "queued", "requeued") else None
    if final:
        return CellStatus(planned, "failed", f"{job} ended {final} without finishing its cell (run the suite "
                                             f"again to continue)")
    if kind == "running":
        local = state.get("host") == socket.gethostname() and not state.get("job_id")
        if local and isinstance(state.get("pid"), int) and not process_lives(state["pid"]):
            return CellStatus(planned, "interrupted", f"{where} ended without finishing (run it again to continue)")
        return CellStatus(planned, "running", f"{job}, attempt {state.get('attempt', 1)}, since {state.get('time')}")
    if kind in ("queued", "requeued"):
        return CellStatus(planned, kind, f"{job} at {state.get('time')}")
    return CellStatus(planned, "pending")


def summary(statuses: Sequence[CellStatus]) -> str:
    """``12 cells: 3 done, 1 running, 8 pending``."""
    counts = {s: sum(1 for c in statuses if c.state == s) for s in STATES}
    parts = [f"{n} {s}" for s, n in counts.items() if n]
    return f"{len(statuses)} cell(s): " + ", ".join(parts)
