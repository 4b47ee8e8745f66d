"""Where the commands write: the output folder (runs, the results store, the feature cache below
it) and the tables they print or save."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .contract.errors import SSLBenchError

DEFAULT_OUTPUT = "sslbench-runs"


def output_dir(value: str | None) -> Path:
    """``--output-dir`` when given, else ``$SSLBENCH_OUTPUT_DIR``, else ``./sslbench-runs``."""
    return Path(value or os.environ.get("SSLBENCH_OUTPUT_DIR") or DEFAULT_OUTPUT)


def emit(text: str, save: str | None) -> None:
    """Write ``text`` to the file ``save`` (saying so on stderr), else print it."""
    if save:
        try:
            Path(save).parent.mkdir(parents=True, exist_ok=True)
            Path(save).write_text(text, encoding="utf-8")
        except OSError as exc:  # a folder, a read-only place: one line, not a traceback
            raise SSLBenchError(f"cannot write {save!r}: {exc.strerror or exc}") from None
        click.echo(f"wrote {save}", err=True)
    else:
        click.echo(text, nl=False)
