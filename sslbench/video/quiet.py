"""Native libraries' own stderr lines, kept out of the user's terminal and put in the error.

decord logs ``[time] .../video_reader.cc:83: ERROR opening: PATH, Invalid data found when
processing input`` on file descriptor 2 right before it raises ``Error reading PATH...`` (dmlc's
log-before-throw, compiled in: no setting turns it off). Only the logged line says why; sslbench
captures it and reports it once per split (:meth:`sslbench.video.datasets.VideoDataset.report_skipped`).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from types import TracebackType

#: one redirection of file descriptor 2 at a time in a process (another thread's would restore ours)
_LOCK = threading.Lock()
#: decord's "[05:05:03] /path/to/video_reader.cc:83: " prefix
_PREFIX = re.compile(r"^\[[\d:]+\]\s+\S+:\d+:\s*")


class NativeStderr:
    """Inside the block, file descriptor 2 writes to a temporary file; after it, ``text`` holds
    what native code wrote there (Python's buffered stderr is flushed first, nothing is lost)."""

    def __init__(self) -> None:
        self.text = ""
        self._saved: int | None = None
        self._file: tempfile._TemporaryFileWrapper | None = None
        self._held = False

    def __enter__(self) -> "NativeStderr":
        _LOCK.acquire()
        self._held = True
        try:
            sys.stderr.flush()
            self._file = tempfile.TemporaryFile(mode="w+b")
            self._saved = os.dup(2)
            os.dup2(self._file.fileno(), 2)
        except (OSError, AttributeError, ValueError):  # no usable fd 2 (a closed or replaced stderr): leave it
            self._restore()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._restore()

    def _restore(self) -> None:
        try:
            if self._saved is not None:
                os.dup2(self._saved, 2)
                os.close(self._saved)
            if self._file is not None:
                self._file.seek(0)
                self.text = self._file.read().decode(errors="replace")
                self._file.close()
        finally:
            self._saved = self._file = None
            if self._held:
                self._held = False
                _LOCK.release()

    def last_line(self) -> str:
        """The last line written, without decord's time and source-file prefix ("" when none)."""
        lines = [line.strip() for line in self.text.splitlines() if line.strip()]
        return _PREFIX.sub("", lines[-1]) if lines else ""
