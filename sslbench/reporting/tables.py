"""Wide comparison tables from tidy records: pure functions on DataFrames, no formatting.

:func:`build_table` groups the latest record of every evaluation into rows x columns, takes
``mean ± std (n)`` over seeds, marks the best and second best value of each column (within each
dataset when datasets are rows) and, given a baseline, the difference of every row to it.
:mod:`sslbench.reporting.render` prints the result; :mod:`sslbench.reporting.captions` says what
the table compares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Collection, Mapping, Sequence

from ..contract.errors import SSLBenchError
from .captions import caption, dimension_label
from .records import (DIMENSIONS, add_dimensions, evaluation_settings, label, latest, parse_config, sort_key,
                      varying_keys)

DEFAULT_ROWS = ("method",)
DEFAULT_COLUMNS = ("protocol", "metric")
#: dimensions added to the columns when they vary and the user did not place them
AUTO_DIMENSIONS = ("dataset", "eval_dataset", "backbone")
BEST, SECOND = "best", "second"
#: row dimensions whose values are not compared with each other: marks rank the other rows
#: within each of their values (methods within each dataset, not across datasets)
GROUPING_DIMENSIONS = ("dataset", "eval_dataset", "backbone", "protocol", "metric", "seed")


@dataclass
class Table:
    """A wide table before formatting. ``mean``/``std``/``n``/``marks``/``delta`` share one
    index (tuples of row labels) and one set of column labels."""

    rows: list[str]
    columns: list[str]
    mean: Any
    std: Any
    n: Any
    marks: Any
    higher_is_better: dict[str, bool | None]
    delta: Any = None
    baseline: str | None = None
    caption: str = ""
    notes: list[str] = field(default_factory=list)
    decimals: int = 2
    column_dims: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.mean is None or self.mean.empty


def cell(mean: float, std: float, n: int, decimals: int = 2, pm: str = "±") -> str:
    """``87.60 ± 0.21 (3)``; a single seed prints the value alone; missing prints ``–``."""
    if n == 0 or mean != mean:
        return "–"
    if n == 1 or std != std:
        return f"{mean:.{decimals}f}"
    return f"{mean:.{decimals}f} {pm} {std:.{decimals}f} ({n})"


def rank_marks(values: Sequence[float | None], higher_is_better: bool | None, decimals: int = 2) -> list[str]:
    """Best / second-best marks of one column, compared at the printed precision.

    Dense ranking: every value tied for best is marked best, every value tied for the next
    distinct value is marked second. Nothing is marked with fewer than two values or when the
    column mixes metrics of opposite directions (``higher_is_better`` None).
    """
    present = [round(v, decimals) for v in values if v is not None and v == v]
    if higher_is_better is None or len(present) < 2:
        return [""] * len(values)
    distinct = sorted(set(present), reverse=higher_is_better)
    best = distinct[0]
    second = distinct[1] if len(distinct) > 1 else None
    out = []
    for v in values:
        if v is None or v != v:
            out.append("")
            continue
        r = round(v, decimals)
        out.append(BEST if r == best else SECOND if r == second else "")
    return out


def _auto_dimensions(df: Any, placed: Sequence[str]) -> list[str]:
    """Identity dimensions that vary in ``df`` but were not placed: they must not be averaged."""
    same = bool((df["dataset"] == df["eval_dataset"]).all())  # no transfer: both name the same thing
    out = []
    for dim in AUTO_DIMENSIONS:
        if dim in placed or df[dim].nunique() < 2:
            continue
        if same and dim == "eval_dataset" and "dataset" in placed:
            continue
        if same and dim == "dataset":
            continue  # eval_dataset (placed or added next) tells the datasets apart
        out.append(dim)
    return out


def _check_dims(df: Any, dims: Sequence[str]) -> None:
    for dim in dims:
        if dim in DIMENSIONS:
            continue
        if "." not in dim and dim not in df.columns:
            raise SSLBenchError(f"unknown table dimension {dim!r}: expected one of {', '.join(DIMENSIONS)} "
                                f"or a config key such as moco.temperature or train.epochs")


def _one_per_seed(df: Any, keys: list[str], notes: list[str]) -> Any:
    """Keep the latest record per cell and seed; note which config keys made records collide."""
    df = df.sort_values("id" if "id" in df.columns else "created_at", kind="stable")
    conflicts = df.groupby(keys, sort=False)["eval_key"].nunique()
    conflicts = conflicts[conflicts > 1]
    if len(conflicts):
        differing: set[str] = set()
        for _, records in df.groupby(keys, sort=False):  # what differs inside one cell, not between cells
            if records["eval_key"].nunique() > 1:
                differing.update(varying_keys([evaluation_settings(parse_config(c), p)
                                               for c, p in zip(records["config_json"], records["protocol"])]))
        notes.append(f"{len(conflicts)} cell(s) hold results of configs differing in "
                     f"{', '.join(sorted(differing)) or 'protocol settings'}; the latest is shown. Add the key to the "
                     "rows or columns, or filter with --where.")
    return df.drop_duplicates(keys, keep="last")


def build_table(df: Any, rows: Sequence[str] = DEFAULT_ROWS, columns: Sequence[str] = DEFAULT_COLUMNS,
                decimals: int = 2, baseline: str | None = None,
                defaults: Mapping[str, Mapping[str, Any]] | None = None, untrained: Collection[str] = ()) -> Table:
    """The wide table of the records in ``df`` (a store DataFrame, already filtered).

    Each (evaluation, metric) counts once (its latest record); cells aggregate over seeds. When
    one cell and seed hold records of configs differing in an unplaced key, the latest is kept
    and a note names the differing keys. Marks rank the rows within each value of the row
    dimensions in :func:`mark_groups`. ``defaults`` (protocol -> default settings) shortens
    the caption to the settings that differ from them; ``untrained`` names methods that do not
    pretrain (the caption says so instead of stating training settings they never used).
    """
    import pandas as pd

    rows, columns = list(rows), list(columns)
    if not rows or not columns:
        raise SSLBenchError("a table needs at least one row and one column dimension")
    overlap = set(rows) & set(columns)
    if overlap:
        raise SSLBenchError(f"{', '.join(sorted(overlap))} cannot be both a row and a column dimension")
    _check_dims(df, rows + columns)
    if df.empty:
        return Table(rows, [], None, None, None, None, {}, decimals=decimals)
    df = latest(df)
    columns = _auto_dimensions(df, rows + columns) + columns
    df = add_dimensions(df, rows + columns)
    notes: list[str] = []
    for dim in rows + columns:
        if dim not in DIMENSIONS and all(v is None for v in df[dim]):
            notes.append(f"no result has a value for {dim!r}: check the key (e.g. moco.temperature, train.epochs)")
    order: dict[str, dict[str, tuple]] = {}
    for dim in rows + columns:
        labels = [label(v) for v in df[dim]]
        order[dim] = {lab: sort_key(v) for lab, v in zip(labels, df[dim])}
        df[f"_{dim}"] = labels
    row_keys = [f"_{d}" for d in rows]
    col_keys = [f"_{d}" for d in columns]
    per_seed = row_keys + col_keys + ([] if "seed" in rows + columns else ["seed"])
    df = _one_per_seed(df, per_seed, notes)
    df["_column"] = [dimension_label(columns, vals) for vals in zip(*(df[d] for d in columns))]
    col_order = (df.drop_duplicates("_column")
                   .assign(_k=lambda x: [tuple(order[d][lab] for d, lab in zip(columns, vals))
                                         for vals in zip(*(x[k] for k in col_keys))])
                   .sort_values("_k")["_column"].tolist())
    grouped = df.groupby(row_keys + ["_column"])["value"]
    stats = grouped.agg(["mean", "std", "count"])
    direction = df.groupby("_column")["higher_is_better"].agg(lambda s: bool(s.iloc[0]) if s.nunique() == 1 else None)

    def wide(series: Any) -> Any:
        table = series.unstack("_column").reindex(columns=col_order)
        table.columns.name = None
        keys = sorted(table.index, key=lambda idx: tuple(order[d][lab] for d, lab in
                                                         zip(rows, idx if isinstance(idx, tuple) else (idx,))))
        return table.reindex(keys)

    mean, std, n = wide(stats["mean"]), wide(stats["std"]), wide(stats["count"]).fillna(0).astype(int)
    if not isinstance(mean.index, pd.MultiIndex):
        for t in (mean, std, n):
            t.index = pd.MultiIndex.from_tuples([(i,) for i in t.index])
    for t in (mean, std, n):
        t.index.names = rows
    higher = {c: None if direction.get(c) is None or direction.get(c) != direction.get(c) else bool(direction.get(c))
              for c in col_order}
    groups = mark_groups(rows)
    marks = grouped_marks(mean, higher, [rows.index(d) for d in groups], decimals)
    table = Table(rows, col_order, mean, std, n, marks, higher, decimals=decimals, notes=notes, column_dims=columns)
    if baseline:
        table.delta, table.baseline = differences(mean, rows, baseline)
    table.caption = caption(df, table, defaults, untrained, groups)
    return table


def mark_groups(rows: Sequence[str]) -> list[str]:
    """Row dimensions the marks are ranked within: ``--rows dataset,method`` ranks methods within
    each dataset. Methods and config values are compared; datasets, backbones, protocols, metrics
    and seeds group, unless every row dimension does (then the last one is compared)."""
    groups = [d for d in rows if d in GROUPING_DIMENSIONS]
    return groups[:-1] if len(groups) == len(rows) else groups


def grouped_marks(mean: Any, higher: Mapping[str, bool | None], positions: Sequence[int], decimals: int = 2) -> Any:
    """Best / second-best marks of every column of ``mean``, ranked separately within each group
    of rows sharing the index values at ``positions``."""
    import pandas as pd

    groups: dict[tuple, list[int]] = {}
    for i, idx in enumerate(mean.index):
        groups.setdefault(tuple(idx[p] for p in positions), []).append(i)
    marks = pd.DataFrame("", index=mean.index, columns=list(mean.columns), dtype=object)
    for col in mean.columns:
        values = mean[col].tolist()
        for members in groups.values():
            for i, mark in zip(members, rank_marks([values[i] for i in members], higher[col], decimals)):
                marks.iat[i, marks.columns.get_loc(col)] = mark
    return marks


def differences(mean: Any, rows: Sequence[str], baseline: str) -> tuple[Any, str]:
    """``mean`` minus the baseline row's means. ``baseline`` is ``VALUE`` (of ``method`` when it
    is a row dimension, else of the first one) or ``DIM=VALUE``; other row dimensions must
    match, so ``--rows method,dataset`` compares each dataset with its own baseline."""
    import pandas as pd

    dim, value = baseline.split("=", 1) if "=" in baseline else ("method" if "method" in rows else rows[0], baseline)
    if dim not in rows:
        raise SSLBenchError(f"baseline dimension {dim!r} is not a row dimension (rows: {', '.join(rows)})")
    pos = list(rows).index(dim)
    available = sorted({idx[pos] for idx in mean.index})
    if value not in available:
        raise SSLBenchError(f"baseline {value!r} is not a row of the table: expected one of {', '.join(available)}")
    positions = {idx: i for i, idx in enumerate(mean.index)}
    values = mean.to_numpy(dtype=float)
    diffs = []
    for idx in mean.index:
        ref = tuple(value if i == pos else v for i, v in enumerate(idx))
        diffs.append(values[positions[idx]] - values[positions[ref]] if ref in positions and ref != idx
                     else [float("nan")] * len(mean.columns))
    out = pd.DataFrame(diffs, index=mean.index, columns=mean.columns, dtype=float)
    return out, f"{dim}={value}" if dim != "method" else value
