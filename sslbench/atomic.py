"""Atomic file writes without heavy imports: a temp file beside the target, fsync, rename.

A temp file is named ``.<target name>.<random>.tmp`` and holds an exclusive ``flock`` from its
creation until it has been renamed into place, so :func:`remove_stale_temps` can tell the leftover
of a killed write (unlocked) from a write in progress (locked) in another process.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: temps are neither locked nor cleaned
    fcntl = None  # type: ignore[assignment]

TEMP_SUFFIX = ".tmp"
#: A temp file younger than this is never removed: it may have been created an instant before its
#: writer locked it.
STALE_AFTER_S = 10.0


def temp_beside(path: str | Path) -> tuple[int, Path]:
    """Create and lock a temp file in ``path``'s folder; returns (fd, temp path)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
    return fd, Path(tmp)


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Call ``write(fh)`` on a temp file beside ``path`` and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
            os.chmod(tmp, public_mode())
            os.replace(tmp, path)  # still open, so still locked: a cleaner never sees it unlocked
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def is_temp_name(name: str) -> bool:
    """True for the names :func:`temp_beside` gives (``.<name>.<random>.tmp``)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX) and name.count(".") >= 3


def stale_temps(folder: str | Path, min_age_s: float = STALE_AFTER_S) -> list[Path]:
    """Temp files in ``folder`` (not recursive) left by killed writes: unlocked and not brand new."""
    folder = Path(folder)
    if fcntl is None or not folder.is_dir():
        return []
    found = []
    for entry in os.scandir(folder):
        if entry.is_file(follow_symlinks=False) and is_temp_name(entry.name) and _unlocked_and_old(entry.path, min_age_s):
            found.append(Path(entry.path))
    return sorted(found)


def remove_stale_temps(folder: str | Path, min_age_s: float = STALE_AFTER_S) -> list[Path]:
    """Delete the leftovers of killed writes in ``folder``; returns what was removed."""
    return [tmp for tmp in stale_temps(folder, min_age_s) if remove_if_unlocked(tmp)]


def remove_if_unlocked(tmp: str | Path) -> bool:
    """Delete temp file ``tmp`` unless a writer holds it; True when it was removed."""
    if fcntl is None:
        return False
    try:
        fd = os.open(tmp, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.unlink(tmp)  # under its lock: no writer can take it over meanwhile
        return True
    except (BlockingIOError, FileNotFoundError):
        return False
    finally:
        os.close(fd)


def _unlocked_and_old(path: str, min_age_s: float) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        if time.time() - os.fstat(fd).st_mtime < min_age_s:
            return False
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def public_mode() -> int:
    """The mode a plain ``open`` would give a new file under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
