"""``sslbench cache``: what pretrainings and feature caches take on disk, and removing them by filter.

An output folder holds ``pretrain/<method>-<dataset>-<backbone>-<hash>/`` folders, feature cache
entries ``features/<key>.{features.npy,labels.npy,json}`` (the JSON names the weights they were
extracted with: a pretraining's hash, or the sha256 of a ``--checkpoint`` file), action-spotting
outputs ``spotting/<weights>-<split>/`` and, after a kill, temp files of unfinished writes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import yaml

from . import folderlock
from .atomic import is_temp_name, remove_if_unlocked, stale_temps
from .contract.errors import SSLBenchError

KINDS = ("pretrain", "features", "spotting", "temp")
_HASH = re.compile(r"^[0-9a-f]{16}$")  # RunConfig.pretrain_hash()
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass
class Entry:
    """One removable thing under the output folder and what it belongs to."""

    kind: str
    path: Path
    files: list[Path]
    size: int
    modified: float
    weights: str = "?"
    method: str = "?"
    dataset: str = "?"
    backbone: str = "?"
    state: str = ""
    orphaned: bool = False
    in_use: bool = False
    unfinished: bool = False


@dataclass
class Filters:
    """Every given filter must match (an empty one matches everything)."""

    kinds: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    older_than_s: float | None = None
    orphaned: bool = False
    unfinished: bool = False

    def any(self) -> bool:
        return bool(self.kinds or self.methods or self.datasets or self.older_than_s is not None
                    or self.orphaned or self.unfinished)

    def match(self, entry: Entry, now: float) -> bool:
        return ((not self.kinds or entry.kind in self.kinds)
                and (not self.methods or entry.method in self.methods)
                and (not self.datasets or entry.dataset in self.datasets)
                and (self.older_than_s is None or now - entry.modified > self.older_than_s)
                and (not self.orphaned or entry.orphaned)
                and (not self.unfinished or entry.unfinished))


def parse_age(text: str) -> float:
    """``"7d"`` -> seconds; units s, m, h, d, w."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    if not m:
        raise SSLBenchError(f"invalid --older-than {text!r}: expected a number and a unit (s, m, h, d, w), e.g. 7d")
    return float(m.group(1)) * _UNITS[m.group(2)]


def scan(output_dir: str | Path) -> list[Entry]:
    """Every pretraining, feature cache entry, spotting output and stale temp file, oldest first."""
    root = Path(output_dir)
    pretrainings = [_pretraining(d) for d in _subdirs(root / "pretrain")]
    by_hash = {e.weights: e for e in pretrainings}
    entries = [*pretrainings, *_features(root / "features", by_hash), *_spotting(root / "spotting", by_hash)]
    for folder in (root, root / "features"):  # a pretraining folder's own temps count in its size
        for tmp in stale_temps(folder):
            st = tmp.stat()
            entries.append(Entry("temp", tmp, [tmp], st.st_size, st.st_mtime, state="left by a killed write",
                                 orphaned=True))
    return sorted(entries, key=lambda e: (e.modified, str(e.path)))


def select(entries: Iterable[Entry], filters: Filters, now: float | None = None) -> list[Entry]:
    now = time.time() if now is None else now
    return [e for e in entries if filters.match(e, now)]


def remove(entry: Entry) -> bool:
    """Delete ``entry``; False (nothing deleted) when a process is using it."""
    if entry.kind == "temp":
        return remove_if_unlocked(entry.path)
    if entry.kind == "pretrain":
        try:
            with folderlock.hold(entry.path, "pretraining folder", wait_s=0):
                shutil.rmtree(entry.path)
        except folderlock.FolderBusyError:
            return False
        return True
    if entry.path.is_dir():
        shutil.rmtree(entry.path, ignore_errors=True)
    for f in entry.files:
        f.unlink(missing_ok=True)
    return True


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError


def format_table(entries: list[Entry], root: Path) -> str:
    """Aligned columns, one entry a line, and a total."""
    header = ("KIND", "SIZE", "MODIFIED", "METHOD", "DATASET", "BACKBONE", "WEIGHTS", "STATE", "PATH")
    rows = [header]
    for e in entries:
        rows.append((e.kind, human_size(e.size), time.strftime("%Y-%m-%d %H:%M", time.localtime(e.modified)),
                     e.method, e.dataset, e.backbone, e.weights[:16], e.state, _shown_path(e, root)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in rows]
    lines.append(f"{len(entries)} item(s), {human_size(sum(e.size for e in entries))}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- scanning


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _sized(files: list[Path]) -> tuple[int, float]:
    stats = [f.stat() for f in files]
    return sum(s.st_size for s in stats), max((s.st_mtime for s in stats), default=0.0)


def _pretraining(folder: Path) -> Entry:
    files = _files(folder)
    size, modified = _sized(files)
    entry = Entry("pretrain", folder, files, size, modified or folder.stat().st_mtime,
                  weights=folder.name.rsplit("-", 1)[-1])
    config = _read_yaml(folder / "config.yaml")
    entry.method = str(config.get("method", "?"))
    entry.dataset = str(config.get("dataset", "?"))
    entry.backbone = str((config.get("model") or {}).get("backbone", "?"))
    entry.in_use = folderlock.is_locked(folder)
    if entry.in_use:
        entry.state = "running"
    elif (folder / "backbone.pt").is_file():
        entry.state = "finished" + (", with checkpoint.pt" if (folder / "checkpoint.pt").is_file() else "")
    else:
        entry.unfinished = True
        epochs = (config.get("train") or {}).get("epochs", "?")
        entry.state = f"unfinished (epoch {_last_epoch(folder / 'log.jsonl')}/{epochs})"
    return entry


def _features(folder: Path, pretrainings: dict[str, Entry]) -> list[Entry]:
    groups: dict[str, list[Path]] = {}
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            if p.is_file() and not is_temp_name(p.name):
                groups.setdefault(p.name.split(".", 1)[0], []).append(p)
    entries = []
    for key, files in groups.items():
        size, modified = _sized(files)
        entry = Entry("features", folder / f"{key}.features.npy", files, size, modified)
        meta = _read_json(folder / f"{key}.json")
        entry.weights = str(meta.get("weights", "?"))
        entry.dataset = str(meta.get("dataset", "?"))
        entry.state = f"split {meta['split']}" if "split" in meta else "no metadata"
        _belongs_to(entry, pretrainings)
        entries.append(entry)
    return entries


def _spotting(folder: Path, pretrainings: dict[str, Entry]) -> list[Entry]:
    entries = []
    for d in _subdirs(folder):
        files = _files(d)
        size, modified = _sized(files)
        weights, _, rest = d.name.partition("-")  # <weights>-<split or finetune>-...
        entry = Entry("spotting", d, files, size, modified or d.stat().st_mtime, weights=weights, state=rest)
        owner = pretrainings.get(weights)
        if owner is not None:
            entry.method, entry.dataset, entry.backbone = owner.method, owner.dataset, owner.backbone
        entries.append(entry)
    return entries


def _belongs_to(entry: Entry, pretrainings: dict[str, Entry]) -> None:
    """Method and backbone from the pretraining the weights came from; orphaned when they came from
    a pretraining of this output folder that is gone (other weights, e.g. --checkpoint files, are
    never called orphaned: their file may live anywhere)."""
    owner = pretrainings.get(entry.weights)
    if owner is not None:
        entry.method, entry.backbone = owner.method, owner.backbone
    elif _HASH.match(entry.weights):
        entry.orphaned = True
        entry.state += ", orphaned (pretraining removed)"
    elif len(entry.weights) == 64:
        entry.state += ", weights from a --checkpoint file"


def _last_epoch(log: Path) -> int:
    last = 0
    try:
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                last = max(last, int(json.loads(line).get("epoch", 0)))
            except (ValueError, TypeError, AttributeError):
                continue
    except OSError:
        pass
    return last


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _shown_path(entry: Entry, root: Path) -> str:
    """Relative to the output folder; a feature cache entry as ``features/<key>.*`` (its three files)."""
    path = entry.path.with_name(entry.path.name.split(".", 1)[0] + ".*") if entry.kind == "features" else entry.path
    try:
        return os.path.relpath(path, root)
    except ValueError:
        return str(path)
