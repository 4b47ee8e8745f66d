"""Cell folders on a shared filesystem: rows written atomically by the job, ingested once.

Jobs on many nodes never open the SQLite store (its locks do not hold over NFS). Each cell
writes ``<output>/cells/<cell id>/rows.jsonl`` (temp file + rename, so a reader sees all the
rows or none; ``rows-partial.jsonl`` holds the rows of protocols that finished before another
failed, so a re-run only evaluates what is missing) in the format of ``sslbench results export``, under a run id derived from the
cell's identity. The process that launched the suite ingests these files with
:func:`sslbench.reporting.exchange.import_file`, which skips records whose (run id, protocol,
metric) is already stored: a cell re-run, requeued or ingested twice still gives one row per
metric. ``state.json`` says what the cell is doing (queued, running, requeued, failed with its
error line, done); ``events.jsonl`` keeps every start, with the epoch it resumed from.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
from pathlib import Path
from typing import Any, Iterable

from ..atomic import atomic_write

CELLS = "cells"
ROWS = "rows.jsonl"
#: the rows of the protocols that finished before another failed (the cell is not done)
PARTIAL_ROWS = "rows-partial.jsonl"
STATE = "state.json"
EVENTS = "events.jsonl"


def cell_dir(output_dir: str | Path, cell_id: str) -> Path:
    return Path(output_dir) / CELLS / cell_id


def run_id(cell_id: str) -> str:
    """The run id of a cell's rows: the same for every attempt, so ingestion dedups them."""
    return "cell-" + cell_id.rsplit("-", 1)[-1]


def as_record(row: Any, run: str, created_at: str) -> dict[str, Any]:
    """A :class:`sslbench.store.ResultRow` as a record in the store's column order."""
    from ..store import COLUMNS

    values = {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
    values.update(run_id=run, created_at=created_at, value=float(row.value), higher_is_better=int(row.higher_is_better),
                  config_json=json.dumps(values.pop("config"), sort_keys=True),
                  versions_json=json.dumps(values.pop("versions"), sort_keys=True))
    return {c: values.get(c) for c in COLUMNS}


def write_rows(folder: Path, rows: Iterable[Any], run: str, name: str = ROWS) -> Path:
    """Replace ``folder/name`` (the cell's rows, or :data:`PARTIAL_ROWS`) by ``rows`` in one rename
    (never half-written)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    text = "".join(json.dumps(as_record(r, run, now)) + "\n" for r in rows)
    atomic_write(folder / name, lambda fh: fh.write(text), mode="w")
    return folder / name


def write_state(folder: Path, state: str, **info: Any) -> None:
    """Record what the cell is doing (atomically: a reader never sees half a state)."""
    record = {"state": state, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": socket.gethostname(),
              "pid": os.getpid(), **info}
    atomic_write(folder / STATE, lambda fh: fh.write(json.dumps(record)), mode="w")


def read_state(folder: Path) -> dict[str, Any]:
    """The cell's last state ({} when it never started or the file is unreadable)."""
    try:
        value = json.loads((folder / STATE).read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def log_event(folder: Path, **event: Any) -> None:
    """Append one line to the cell's ``events.jsonl`` (one job at a time works on a cell)."""
    folder.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"time": time.time(), "host": socket.gethostname(), "pid": os.getpid(), **event}) + "\n"
    with open(folder / EVENTS, "a", encoding="utf-8") as fh:
        fh.write(line)


def read_events(folder: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in (folder / EVENTS).read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return []


def ingest(store_path: str | Path, folders: Iterable[Path]) -> tuple[int, int]:
    """Import the rows files of ``folders`` into the store; returns (added, already there)."""
    from ..reporting.exchange import import_file

    added = skipped = 0
    for folder in folders:
        for name in (PARTIAL_ROWS, ROWS):
            if (folder / name).is_file():
                a, s = import_file(store_path, folder / name)
                added, skipped = added + a, skipped + s
    return added, skipped
