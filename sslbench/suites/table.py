"""``sslbench suite table``: our numbers next to the paper's, cell by cell.

Rows and columns are the suite's ``table`` dimensions. For every column the table prints ours
(``mean ± std (n)`` over seeds), the paper's number and the difference ours - paper. Marks follow
the thesis: best in bold, second underlined, per column (or per row); ours are ranked among our
rows, the paper's among every printed row (other papers' rows included). A cell the suite runs
but the store does not hold yet prints ``missing``; a number the paper does not report, ``-``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from ..reporting.render import _MARKUP, latex_escape
from ..reporting.tables import BEST, SECOND, cell, rank_marks
from .spec import Suite, SuiteError, label

MISSING, UNREPORTED = "missing", "-"


@dataclass
class Comparison:
    """The table before formatting: per (row, column) our seed values and the paper's number."""

    suite: Suite
    rows: list[tuple[str, ...]]
    references: set[tuple[str, ...]]
    columns: list[str]
    ours: dict[tuple[tuple[str, ...], str], list[float]]
    paper: dict[tuple[tuple[str, ...], str], float]
    higher: dict[str, bool]
    seeds: list[int] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)

    def mean(self, row: tuple[str, ...], col: str) -> float | None:
        values = self.ours.get((row, col))
        if col == self.suite.table.average and row not in self.references:
            parts = [self.mean(row, c) for c in self.columns if c != col]
            return sum(parts) / len(parts) if parts and all(p is not None for p in parts) else None
        return sum(values) / len(values) if values else None

    def text(self, row: tuple[str, ...], col: str) -> str:
        if row in self.references:
            return ""
        values = self.ours.get((row, col), [])
        if col == self.suite.table.average:
            m = self.mean(row, col)
            return MISSING if m is None else f"{m:.{self.suite.table.decimals}f}"
        if not values:
            return MISSING
        import statistics

        std = statistics.stdev(values) if len(values) > 1 else float("nan")
        return cell(sum(values) / len(values), std, len(values), self.suite.table.decimals)


def _placements(cell_labels: dict[str, str], protocol: str, metric: str, dims: Sequence[str]) -> tuple[str, ...]:
    labels = {**cell_labels, "protocol": protocol, "metric": metric}
    return tuple(labels[d] for d in dims)


def check_layout(suite: Suite, planned: Sequence[Any]) -> None:
    """Two cells (or protocols) that would print in the same table cell with the same seed are a
    suite error: a dimension that tells them apart is missing from the table."""
    t = suite.table
    seen: dict[tuple, str] = {}
    for p in planned:
        for protocol in p.protocols:
            labels = p.cell.labels()
            key = (_placements(labels, protocol, "", [d for d in t.rows + t.columns if d != "metric"]),
                   labels["seed"], protocol)
            if key in seen and seen[key] != p.cell_id:
                raise SuiteError(f"{suite.path}: table: {p.cell.describe()} and another cell print in the same table "
                                 f"cell; add the dimension that tells them apart (variant, eval, a swept key ...)")
            seen[key] = p.cell_id


def compare(suite: Suite, planned: Sequence[Any], stored: Any) -> Comparison:
    """Our stored numbers (``stored``: the store's rows with eval keys, latest per evaluation)
    for every planned cell, next to the paper's."""
    t = suite.table
    by_key: dict[str, list[tuple[str, float, bool]]] = {}
    for key, metric, value, higher in zip(stored["eval_key"], stored["metric"], stored["value"],
                                          stored["higher_is_better"]):
        by_key.setdefault(key, []).append((metric, float(value), bool(higher)))
    metric_dim = "metric" in t.rows + t.columns
    order = {m: i for i, m in enumerate(t.metrics or [])}
    ours: dict[tuple[tuple[str, ...], str], list[float]] = {}
    higher: dict[str, bool] = {}
    rows: list[tuple[str, ...]] = []
    columns: list[str] = []
    seeds: set[int] = set()
    shown_metrics: list[str] = []
    for p in planned:
        labels = p.cell.labels()
        for protocol in p.protocols:
            results = [r for r in by_key.get(p.keys[protocol], []) if t.metrics is None or r[0] in order]
            if not metric_dim and results:
                results = [min(results, key=lambda r: order.get(r[0], 0))]  # the first listed metric it has
            expected = [r[0] for r in results] or (list(t.metrics or [""]) if metric_dim else [""])
            for metric in expected:
                row = _placements(labels, protocol, metric, t.rows)
                col = " ".join(_placements(labels, protocol, metric, t.columns)).strip()
                rows += [row] if row not in rows else []
                columns += [col] if col not in columns else []
            for metric, value, hib in results:
                row = _placements(labels, protocol, metric, t.rows)
                col = " ".join(_placements(labels, protocol, metric, t.columns)).strip()
                ours.setdefault((row, col), []).append(value)
                higher[col] = hib
                seeds.add(p.config.seed)
                if metric not in shown_metrics:
                    shown_metrics.append(metric)
    paper: dict[tuple[tuple[str, ...], str], float] = {}
    references: set[tuple[str, ...]] = set()
    ordered: list[tuple[str, ...]] = []
    for entry in suite.paper:
        row = entry.row + ("",) * (len(t.rows) - len(entry.row)) if entry.reference else entry.row
        if entry.reference:
            references.add(row)
        elif row not in rows:
            raise SuiteError(f"{suite.path}: paper: row {list(entry.row)} is not a row of the grid "
                             f"(rows: {', '.join(str(list(r)) for r in rows)})")
        ordered.append(row)
        for col, value in entry.values.items():
            if col not in columns and col != t.average:
                raise SuiteError(f"{suite.path}: paper: column {col!r} of row {list(entry.row)} is not a column of "
                                 f"the grid (columns: {', '.join(columns)})")
            paper[(row, col)] = value
    if metric_dim and ours:  # a metric listed for the table but produced by another protocol: not shown there
        used = set(ours) | set(paper)
        if "metric" in t.columns:
            columns = [c for c in columns if any(k[1] == c for k in used)]
        else:
            rows = [r for r in rows if any(k[0] == r for k in used)]
    if t.average:
        columns.append(t.average)
    rows = ordered + [r for r in rows if r not in ordered]
    return Comparison(suite, rows, references, columns, ours, paper, higher, sorted(seeds), shown_metrics)


def _marks(values: list[float | None], higher: bool, decimals: int) -> list[str]:
    return rank_marks(values, higher, decimals)


def as_frame(comp: Comparison, fmt: str) -> Any:
    """The table as a DataFrame of strings with the marks of ``fmt`` (markdown, latex, html, csv)."""
    import pandas as pd

    escape, bold, underline = _MARKUP[fmt]
    t = comp.suite.table
    name = lambda text: t.names.get(text, text)  # noqa: E731
    with_paper = bool(comp.paper)
    d = t.decimals
    ours_rows = [r for r in comp.rows if r not in comp.references]
    marks: dict[tuple[tuple[str, ...], str, str], str] = {}
    lines = [[(r, c) for r in comp.rows] for c in comp.columns] if t.marks == "columns" else \
        [[(r, c) for c in comp.columns if c != t.average] for r in comp.rows] if t.marks == "rows" else []
    for group in lines:
        higher = comp.higher.get(group[0][1], True) if t.marks == "columns" else True
        ours = [(r, c) for r, c in group if r in ours_rows]
        for (r, c), mark in zip(ours, _marks([comp.mean(r, c) for r, c in ours], higher, d)):
            marks[(r, c, "ours")] = mark
        for (r, c), mark in zip(group, _marks([comp.paper.get((r, c)) for r, c in group], higher, d)):
            marks[(r, c, "paper")] = mark

    def styled(text: str, mark: str) -> str:
        text = escape(text)
        return bold(text) if mark == BEST else underline(text) if mark == SECOND else text

    data: dict[str, list[str]] = {}
    for i, dim in enumerate(t.rows):
        data[escape(name(dim))] = [escape(name(r[i])) for r in comp.rows]
    for c in comp.columns:
        head = name(c)
        data[escape(head)] = [styled(comp.text(r, c), marks.get((r, c, "ours"), "")) for r in comp.rows]
        if with_paper:
            data[escape(f"{head} paper")] = [
                styled(f"{comp.paper[(r, c)]:.{d}f}" if (r, c) in comp.paper else UNREPORTED,
                       marks.get((r, c, "paper"), "")) for r in comp.rows]
            deltas = []
            for r in comp.rows:
                m = comp.mean(r, c)
                deltas.append(escape(f"{m - comp.paper[(r, c)]:+.{d}f}") if m is not None and (r, c) in comp.paper
                              else "")
            data[escape(f"Δ {head}")] = deltas
    return pd.DataFrame(data)


def caption(comp: Comparison) -> str:
    """Source, caption, what a cell holds, the marks, and where the suite departs from the paper."""
    suite = comp.suite
    parts = [f"{suite.source}: {suite.caption}" if suite.source else suite.caption]
    seeds = ", ".join(map(str, comp.seeds)) or "none yet"
    parts.append(f"Ours: mean ± std (n) over seeds ({seeds}), from the store; {MISSING}: not run yet.")
    if comp.paper:
        parts.append(f"Paper: as printed in {suite.source or 'the paper'} ({UNREPORTED}: not reported); "
                     "Δ = ours - paper.")
    if comp.metrics:
        parts.append(f"Metrics: {', '.join(comp.metrics)}.")
    if suite.table.marks != "none":
        per = "column" if suite.table.marks == "columns" else "row"
        parts.append(f"Best in bold, second best underlined, per {per}"
                     + (" (ours among our rows, paper among every printed row)." if comp.paper else "."))
    return " ".join(p for p in parts if p)


def render_comparison(comp: Comparison, fmt: str = "markdown", label_: str | None = None) -> str:
    """The comparison as markdown (notes under it) or LaTeX (booktabs, caption, notes as comments)."""
    frame = as_frame(comp, fmt)
    text = caption(comp)
    notes = comp.suite.notes
    if fmt == "markdown":
        out = frame.to_markdown(index=False, disable_numparse=True) + "\n\nTable: " + text + "\n"
        return out + "".join(f"\n- {n}" for n in notes) + ("\n" if notes else "")
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "html":
        return frame.to_html(index=False, escape=False, border=0) + "\n"
    n_rows = len(comp.suite.table.rows)
    out = frame.to_latex(index=False, escape=False, column_format="l" * n_rows + "r" * (frame.shape[1] - n_rows),
                         caption=latex_escape(text), label=label_ or f"tab:{label(comp.suite.name)}", position="t")
    out = out.replace("\\begin{table}[t]\n", "\\begin{table}[t]\n\\centering\n", 1)
    return "".join(f"% {n}\n" for n in notes) + out
