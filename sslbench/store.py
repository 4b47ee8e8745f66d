"""The results store: tidy rows (run x protocol x metric x seed) in SQLite, WAL, atomic inserts."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .atomic import atomic_write
from .contract.errors import StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    method TEXT NOT NULL,
    dataset TEXT NOT NULL,
    eval_dataset TEXT NOT NULL,
    backbone TEXT NOT NULL,
    protocol TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    higher_is_better INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    config_hash TEXT NOT NULL,
    pretrain_hash TEXT NOT NULL,
    config_json TEXT NOT NULL,
    git_commit TEXT,
    versions_json TEXT NOT NULL,
    hardware TEXT NOT NULL,
    pretrain_seconds REAL,
    eval_seconds REAL,
    world_size INTEGER
);
CREATE INDEX IF NOT EXISTS results_lookup ON results (method, dataset, protocol, metric, seed);
"""

COLUMNS = ("run_id", "created_at", "method", "dataset", "eval_dataset", "backbone", "protocol", "metric", "value",
           "higher_is_better", "seed", "config_hash", "pretrain_hash", "config_json", "git_commit",
           "versions_json", "hardware", "pretrain_seconds", "eval_seconds", "world_size")

#: columns added after the first release: (name, SQL type); older stores get them on open, NULL in
#: their old rows (unknown: world_size was not recorded before)
ADDED_COLUMNS = (("world_size", "INTEGER"),)


@dataclass(frozen=True)
class ResultRow:
    """One tidy record; the source of truth every table is generated from."""

    method: str
    dataset: str
    eval_dataset: str
    backbone: str
    protocol: str
    metric: str
    value: float
    higher_is_better: bool
    seed: int
    config_hash: str
    pretrain_hash: str
    config: dict[str, Any]
    git_commit: str | None
    versions: dict[str, str]
    hardware: str
    pretrain_seconds: float | None
    eval_seconds: float | None
    #: processes that ran the run (torchrun's world size; 1 without DDP)
    world_size: int = 1


BUSY_SECONDS = 60.0


def _retry_locked(action: Callable[[], Any]) -> Any:
    """Retry ``action`` while another process holds the lock (the journal-mode switch and schema
    creation can report 'database is locked' at once instead of waiting on the busy handler)."""
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT: take the write lock up front (waiting for it), never mid-way."""
    _retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"))
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating) the store with WAL and a busy timeout so concurrent runs never lose rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=BUSY_SECONDS, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={int(BUSY_SECONDS * 1000)}")
    _retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"))
    with transaction(conn):
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        have = {row[1] for row in conn.execute("PRAGMA table_info(results)")}
        for name, sql_type in ADDED_COLUMNS:
            if name not in have:
                conn.execute(f"ALTER TABLE results ADD COLUMN {name} {sql_type}")
    return conn


def insert(path: str | Path, rows: Iterable[ResultRow], spill_dir: str | Path | None = None) -> str:
    """Insert ``rows`` in one transaction under a new run id; returns the run id.

    When the store cannot be written, a :class:`StoreError` says why; with ``spill_dir`` the rows
    are first saved there as JSON lines and the error says how to import them (never lost).
    """
    run_id = uuid.uuid4().hex[:12]
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    records = [(run_id, now, r.method, r.dataset, r.eval_dataset, r.backbone, r.protocol, r.metric, float(r.value),
                int(r.higher_is_better), r.seed, r.config_hash, r.pretrain_hash, json.dumps(r.config, sort_keys=True),
                r.git_commit, json.dumps(r.versions, sort_keys=True), r.hardware, r.pretrain_seconds, r.eval_seconds,
                int(r.world_size))
               for r in rows]
    try:
        conn = connect(path)
        try:
            with transaction(conn):
                conn.executemany(f"INSERT INTO results ({', '.join(COLUMNS)}) VALUES "
                                 f"({', '.join('?' * len(COLUMNS))})", records)
        finally:
            conn.close()
    except (sqlite3.Error, OSError) as exc:  # corrupt file, disk full, lock timeout, unwritable folder
        problem = describe_failure(path, exc, "write")
        if spill_dir is not None:
            problem = _spill_or_show(problem, path, records, spill_dir, run_id)
        raise StoreError(problem) from exc
    return run_id


def describe_failure(path: str | Path, exc: BaseException, action: str) -> str:
    """One line: which store, what failed, and what to do about a damaged file."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    line = f"cannot {action} the results store {str(path)!r}: {text}"
    if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
        line += " (the file is damaged: move it aside, a new store is created, or restore it from a backup)"
    return line


def spill(records: list[tuple], folder: str | Path, run_id: str) -> Path:
    """Write ``records`` (tuples in ``COLUMNS`` order) to ``folder``/results-<run id>.jsonl, in the
    format of ``sslbench results export`` (what ``sslbench results import`` reads)."""
    target = Path(folder) / f"results-{run_id}.jsonl"
    text = "".join(json.dumps(dict(zip(COLUMNS, record))) + "\n" for record in records)
    atomic_write(target, lambda fh: fh.write(text), mode="w")
    return target


def _spill_or_show(problem: str, path: str | Path, records: list[tuple], spill_dir: str | Path, run_id: str) -> str:
    """Keep the rows a store could not take: in ``spill_dir``, else the temp folder, else in the message."""
    import shlex
    import tempfile

    failures = []
    for folder in (Path(spill_dir), Path(tempfile.gettempdir())):
        try:
            saved = spill(records, folder, run_id)
        except OSError as exc:
            failures.append(f"{folder}: {exc.strerror or exc}")
            continue
        return (f"{problem}; the run's {len(records)} result(s) are saved in {str(saved)!r}: add them with "
                f"`sslbench results import {shlex.quote(str(saved))} -o {shlex.quote(str(Path(path).parent))}`")
    shown = ", ".join(f"{r[COLUMNS.index('protocol')]}/{r[COLUMNS.index('metric')]}={r[COLUMNS.index('value')]}"
                      for r in records)
    return f"{problem}; saving the results elsewhere failed too ({'; '.join(failures)}); they were: {shown}"


def read(path: str | Path) -> "Any":
    """All rows as a pandas DataFrame (empty with the right columns when the store is new)."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=["id", *COLUMNS])
    if not path.is_file():  # a folder in its place reads as no results otherwise
        raise StoreError(f"results store {str(path)!r} is not a file: expected the SQLite file sslbench writes "
                         f"(move it aside or pass another --output-dir)")
    try:
        conn = connect(path)
        try:
            return pd.read_sql_query("SELECT * FROM results ORDER BY id", conn)
        finally:
            conn.close()
    except (sqlite3.Error, pd.errors.DatabaseError, OSError) as exc:  # pandas wraps query errors
        raise StoreError(describe_failure(path, exc, "read")) from exc


def check(path: str | Path) -> None:
    """Before a run's first step: an existing store SQLite cannot read, or whose
    ``PRAGMA quick_check`` fails, is a one-line error naming the file (a new store is fine)."""
    from .contract.errors import StoreError

    path = Path(path)
    if not path.exists():
        return
    problem = None
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_SECONDS)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
        if rows != [("ok",)]:
            found = " ".join(" ".join(str(r[0]) for r in rows).replace("*** in database main ***", "").split())
            problem = f"PRAGMA quick_check reports {found[:200]}"  # its report spans lines: one line here
    except sqlite3.Error as exc:
        problem = str(exc)
    if problem:
        raise StoreError(f"results store {str(path)!r} is damaged ({problem}): move it aside (its rows can be "
                         f"recovered with sqlite3's .recover) or pass another --output-dir")
