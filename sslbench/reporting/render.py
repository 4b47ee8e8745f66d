"""Print a :class:`~sslbench.reporting.tables.Table` as markdown, LaTeX (booktabs), CSV or HTML."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any, Callable

from ..contract.errors import SSLBenchError
from .tables import BEST, SECOND, Table, cell

FORMATS = ("markdown", "latex", "csv", "html")
EXTENSIONS = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".csv": "csv", ".html": "html",
              ".htm": "html"}

_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "±": r"$\pm$", "Δ": r"$\Delta$", "–": "--"}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters (``_`` -> ``\\_``, ``%`` -> ``\\%`` ...)."""
    return re.sub("|".join(re.escape(c) for c in _LATEX_SPECIAL), lambda m: _LATEX_SPECIAL[m.group()], str(text))


def format_for_path(path: str | Path, explicit: str | None = None) -> str:
    """The format named by ``explicit`` or by the file extension of ``path`` (markdown if unknown)."""
    if explicit:
        return explicit
    return EXTENSIONS.get(Path(path).suffix.lower(), "markdown")


# markup per format: (escape a text, bold, underline)
_MARKUP: dict[str, tuple[Callable[[str], str], Callable[[str], str], Callable[[str], str]]] = {
    "markdown": (lambda s: s.replace("|", "\\|"), lambda s: f"**{s}**", lambda s: f"<u>{s}</u>"),
    "latex": (latex_escape, lambda s: rf"\textbf{{{s}}}", lambda s: rf"\underline{{{s}}}"),
    "html": (html.escape, lambda s: f"<strong>{s}</strong>", lambda s: f"<u>{s}</u>"),
    "csv": (lambda s: s, lambda s: s, lambda s: s),
}


def as_frame(table: Table, fmt: str) -> Any:
    """The table as a DataFrame of strings: row dimensions first, then one column per value
    column (followed by its Δ column when a baseline is set), marks applied for ``fmt``."""
    import pandas as pd

    escape, bold, underline = _MARKUP[fmt]
    data: dict[str, list[str]] = {}
    for i, dim in enumerate(table.rows):
        data[escape(dim)] = [escape(str(idx[i])) for idx in table.mean.index]
    d = table.decimals
    for col in table.columns:
        texts = []
        for idx in table.mean.index:
            text = escape(cell(table.mean.at[idx, col], table.std.at[idx, col], int(table.n.at[idx, col]), d))
            mark = table.marks.at[idx, col]
            texts.append(bold(text) if mark == BEST else underline(text) if mark == SECOND else text)
        data[escape(col)] = texts
        if table.delta is not None:
            data[escape(f"Δ {col}")] = [escape("–" if v != v else f"{v:+.{d}f}") for v in table.delta[col]]
    return pd.DataFrame(data)


def render(table: Table, fmt: str = "markdown", caption: bool = True, label: str | None = None) -> str:
    """The table as text in ``fmt`` (one of :data:`FORMATS`); the caption goes under a markdown
    table, into ``\\caption`` for LaTeX and ``<caption>`` for HTML (CSV has none)."""
    if fmt not in FORMATS:
        raise SSLBenchError(f"unknown table format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if table.empty:
        return "(no results)\n"
    frame = as_frame(table, fmt)
    text = table.caption if caption else ""
    if fmt == "markdown":
        out = frame.to_markdown(index=False, disable_numparse=True) + "\n"
        return out + (f"\nTable: {text}\n" if text else "")
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "html":
        out = frame.to_html(index=False, escape=False, border=0, classes="sslbench-table")
        if text:
            out = out.replace(">", f">\n  <caption>{html.escape(text)}</caption>", 1)
        return out + "\n"
    column_format = "l" * len(table.rows) + "r" * (frame.shape[1] - len(table.rows))
    out = frame.to_latex(index=False, escape=False, column_format=column_format,
                         caption=latex_escape(text) if text else None, label=label, position="t")
    if text:
        out = out.replace("\\begin{table}[t]\n", "\\begin{table}[t]\n\\centering\n", 1)
    return out
