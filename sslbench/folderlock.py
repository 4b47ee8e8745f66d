"""One process per pretraining folder: an OS lock (``flock``) on ``<folder>/.lock``.

The OS drops the lock when its holder exits, however it exits (Ctrl-C, ``kill -9``, a crash), so a
lock file left behind never blocks anyone. The file keeps the holder's pid, host and start time
for the error message of the process that finds it held.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from .contract.errors import SSLBenchError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locking
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"
#: Seconds a second process waits for a held pretraining folder before giving up (0: refuse at once).
WAIT_ENV = "SSLBENCH_LOCK_WAIT"


class FolderBusyError(SSLBenchError):
    """Another process holds the folder's lock."""


def lock_wait_seconds() -> float:
    """``$SSLBENCH_LOCK_WAIT`` as seconds (0 when unset)."""
    raw = os.environ.get(WAIT_ENV, "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise SSLBenchError(f"invalid value {raw!r} for ${WAIT_ENV}: expected a number of seconds >= 0")
    return value


def is_locked(folder: str | Path) -> bool:
    """True while a process holds ``folder``'s lock (checked without taking it for long)."""
    path = Path(folder) / LOCK_NAME
    if fcntl is None or not path.is_file():
        return False
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return False


@contextlib.contextmanager
def hold(folder: str | Path, what: str = "folder", wait_s: float | None = None,
         notify: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold ``folder``'s lock for the ``with`` body; refuse (or wait up to ``wait_s``) when held.

    ``wait_s`` defaults to ``$SSLBENCH_LOCK_WAIT``; ``notify`` gets one line when waiting starts.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    wait_s = lock_wait_seconds() if wait_s is None else wait_s
    fh = open(folder / LOCK_NAME, "a+")
    try:
        _acquire(fh, folder, what, wait_s, notify or _to_stderr)
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "started": time.strftime("%Y-%m-%d %H:%M:%S")}) + "\n")
        fh.flush()
        yield
    finally:
        fh.close()  # releases the lock


def _acquire(fh: IO[str], folder: Path, what: str, wait_s: float, notify: Callable[[str], None]) -> None:
    deadline = time.monotonic() + wait_s
    announced = False
    while True:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        if time.monotonic() >= deadline:
            waited = f" after waiting {wait_s:g}s" if wait_s else ""
            raise FolderBusyError(
                f"{what} {str(folder)!r} is in use by {_holder(fh)}{waited}: only one process may pretrain "
                f"into it; when that one finishes, run again to reuse its weights "
                f"(or set ${WAIT_ENV}=SECONDS to wait for it)")
        if not announced:
            notify(f"waiting up to {wait_s:g}s for {_holder(fh)} to release {what} {folder}")
            announced = True
        time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))


def _holder(fh: IO[str]) -> str:
    """'process 123 on host, since <time>' from the lock file, or 'another process'."""
    try:
        fh.seek(0)
        info: dict[str, Any] = json.loads(fh.read() or "{}")
        return f"process {int(info['pid'])} on {info['host']} (since {info['started']})"
    except (ValueError, KeyError, TypeError):
        return "another process"


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
