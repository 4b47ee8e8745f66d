"""``sslbench results export/import``: move tidy records between stores (CSV or JSON lines).

Records keep their run id, timestamp and provenance, so results computed on a GPU cluster merge
into a local store unchanged. Importing is idempotent: a record whose (run_id, protocol, metric)
is already in the store is skipped.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
from pathlib import Path
from typing import Any, Iterable

from ..atomic import atomic_write
from ..contract.errors import SSLBenchError, StoreError
from ..store import COLUMNS, connect, describe_failure, read, transaction

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
NULLABLE = {"git_commit", "pretrain_seconds", "eval_seconds", "world_size"}
REQUIRED = [c for c in COLUMNS if c not in NULLABLE]


def file_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise SSLBenchError(f"cannot tell the format of {str(path)!r}: expected a .csv or .jsonl file")
    return FORMATS[suffix]


def _plain(value: Any) -> Any:
    """numpy / pandas scalars -> Python, NaN -> None."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def export_records(df: Any, path: str | Path) -> int:
    """Write the records of ``df`` (a store DataFrame) to ``path``; returns how many."""
    fmt = file_format(path)
    path = Path(path)
    records = [{c: _plain(row[c]) for c in COLUMNS} for _, row in df.iterrows()]

    def write(raw: Any) -> None:
        fh = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        if fmt == "csv":
            writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
            writer.writeheader()
            writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in records)
        else:
            for r in records:
                fh.write(json.dumps(r, sort_keys=False) + "\n")
        fh.flush()
        fh.detach()  # atomic_write syncs and closes the file itself

    try:  # all or nothing: a failed export never leaves half a file
        atomic_write(path, write)
    except OSError as exc:
        raise SSLBenchError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    return len(records)


def export_store(store_path: str | Path, path: str | Path, where: Iterable[str] = ()) -> int:
    """Export the records of the store at ``store_path`` matching ``where`` filters."""
    from .records import apply_where

    store_path = Path(store_path)
    if not store_path.is_file():
        raise SSLBenchError(f"no results store at {str(store_path)!r}: run something first or pass --output-dir")
    df = apply_where(read(store_path), where)
    return export_records(df, path)


def _read_file(path: Path) -> list[dict[str, Any]]:
    fmt = file_format(path)
    if not path.is_file():
        raise SSLBenchError(f"results file {str(path)!r} does not exist")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            if fmt == "csv":
                return list(csv.DictReader(fh))
            records = []
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise SSLBenchError(f"{path}:{n}: not a JSON record ({exc.msg})") from None
                if not isinstance(record, dict):
                    raise SSLBenchError(f"{path}:{n}: not a JSON record: expected an object of the columns of "
                                        f"`sslbench results export`, got {type(record).__name__}")
                records.append(record)
            return records
    except UnicodeDecodeError as exc:
        raise SSLBenchError(f"results file {str(path)!r} is not UTF-8 text (byte {exc.start}): expected the "
                            f".{fmt} of `sslbench results export`") from None
    except csv.Error as exc:
        raise SSLBenchError(f"results file {str(path)!r} is not a readable CSV file ({exc}): expected the .csv "
                            f"of `sslbench results export`") from None


def _bool(value: Any) -> int:
    if isinstance(value, str):
        if value.strip().lower() in ("1", "true", "yes"):
            return 1
        if value.strip().lower() in ("0", "false", "no"):
            return 0
        raise ValueError(value)
    return int(bool(value))


def _normalise(record: dict[str, Any], where: str) -> tuple:
    missing = [c for c in REQUIRED if record.get(c) in (None, "")]
    if missing:
        raise SSLBenchError(f"{where}: missing {', '.join(missing)} (expected the columns of `sslbench results export`)")
    out = dict(record)
    try:
        out["value"] = float(record["value"])
        out["seed"] = int(float(record["seed"]))
        out["higher_is_better"] = _bool(record["higher_is_better"])
        for c in ("pretrain_seconds", "eval_seconds"):
            out[c] = None if record.get(c) in (None, "") else float(record[c])
        size = record.get("world_size")  # absent in exports made before it was recorded
        out["world_size"] = None if size in (None, "") else int(float(size))
    except (TypeError, ValueError) as exc:
        raise SSLBenchError(f"{where}: invalid number ({exc})") from None
    if not math.isfinite(out["value"]):
        raise SSLBenchError(f"{where}: value is {out['value']}: expected a finite number")
    for c in ("config_json", "versions_json"):  # tables and filters parse them: a bad one poisons the store
        try:
            parsed = json.loads(record[c]) if isinstance(record[c], str) else None
        except json.JSONDecodeError as exc:
            raise SSLBenchError(f"{where}: {c} is not JSON ({exc.msg}): expected a JSON object") from None
        if not isinstance(parsed, dict):
            raise SSLBenchError(f"{where}: {c} is not a JSON object: expected the text of a mapping, as exported")
    out["git_commit"] = record.get("git_commit") or None
    for c in COLUMNS:
        if c not in ("value", "seed", "higher_is_better", "pretrain_seconds", "eval_seconds", "git_commit",
                     "world_size"):
            out[c] = str(out[c])
    return tuple(out[c] for c in COLUMNS)


def import_file(store_path: str | Path, path: str | Path) -> tuple[int, int]:
    """Merge the records of ``path`` into the store; returns (imported, skipped as duplicates)."""
    path = Path(path)
    rows = [_normalise(r, f"{path}: record {i}") for i, r in enumerate(_read_file(path), 1)]
    key = [COLUMNS.index(c) for c in ("run_id", "protocol", "metric")]
    try:
        conn = connect(store_path)
        try:
            with transaction(conn):  # the duplicate check and the insert see the same store: all or nothing
                seen = {tuple(r) for r in conn.execute("SELECT run_id, protocol, metric FROM results")}
                fresh = []
                for row in rows:
                    k = tuple(row[i] for i in key)
                    if k not in seen:
                        seen.add(k)
                        fresh.append(row)
                conn.executemany(f"INSERT INTO results ({', '.join(COLUMNS)}) VALUES "
                                 f"({', '.join('?' * len(COLUMNS))})", fresh)
        finally:
            conn.close()
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(describe_failure(store_path, exc, "write")) from exc
    return len(fresh), len(rows) - len(fresh)
