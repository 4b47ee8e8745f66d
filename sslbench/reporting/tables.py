"""Wide comparison tables from tidy records: pure functions on DataFrames, no formatting.

:func:`build_table` groups the latest record of every evaluation into rows x columns, takes
``mean ± std (n)`` over seeds, marks the best and second best value of each column and, given a
baseline, the difference of every row to it. :mod:`sslbench.reporting.render` prints the result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ..errors import SSLBenchError
from .records import DIMENSIONS, add_dimensions, flatten, label, latest, parse_config, sort_key, varying_keys

DEFAULT_ROWS = ("method",)
DEFAULT_COLUMNS = ("protocol", "metric")
#: dimensions added to the columns when they vary and the user did not place them
AUTO_DIMENSIONS = ("dataset", "eval_dataset", "backbone")
BEST, SECOND = "best", "second"
#: the rule used to pick the evaluated checkpoint (the engine keeps no "best" checkpoint)
CHECKPOINT_RULE = "last epoch"
#: protocol settings the caption always states (they name the recipe)
HEADLINE_SETTINGS = ("preset", "mode")


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


def _column_label(dims: Sequence[str], values: Sequence[Any]) -> str:
    parts = []
    for dim, value in zip(dims, values):
        text = label(value)
        parts.append(text if dim in DIMENSIONS and dim != "seed" else f"{dim}={text}")
    return " ".join(parts)


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
        clashing = df.set_index(keys).loc[conflicts.index]
        protocols = set(df["protocol"])
        differing = varying_keys([parse_config(c) for c in clashing["config_json"]],
                                 ignore=("protocols", "seed", *(f"{p}." for p in protocols)))
        notes.append(f"{len(conflicts)} cell(s) hold results of configs differing in "
                     f"{', '.join(differing) or 'protocol settings'}; the latest is shown. Add the key to the "
                     "rows or columns, or filter with --where.")
    return df.drop_duplicates(keys, keep="last")


def build_table(df: Any, rows: Sequence[str] = DEFAULT_ROWS, columns: Sequence[str] = DEFAULT_COLUMNS,
                decimals: int = 2, baseline: str | None = None,
                defaults: Mapping[str, Mapping[str, Any]] | None = None) -> Table:
    """The wide table of the records in ``df`` (a store DataFrame, already filtered).

    Each (evaluation, metric) counts once (its latest record); cells aggregate over seeds. When
    one cell and seed hold records of configs differing in an unplaced key, the latest is kept
    and a note names the differing keys. ``defaults`` (protocol -> default settings) shortens
    the caption to the settings that differ from them.
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
    df["_column"] = [_column_label(columns, vals) for vals in zip(*(df[d] for d in columns))]
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
    marks = pd.DataFrame({c: rank_marks(list(mean[c]), higher[c], decimals) for c in col_order}, index=mean.index)
    table = Table(rows, col_order, mean, std, n, marks, higher, decimals=decimals, notes=notes, column_dims=columns)
    if baseline:
        table.delta, table.baseline = differences(mean, rows, baseline)
    table.caption = caption(df, table, defaults)
    return table


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


def _constant(df: Any, key: str) -> Any:
    values = {json.dumps(v, sort_keys=True, default=str) for v in df[key]} if key in df.columns else set()
    return json.loads(next(iter(values))) if len(values) == 1 else None


def _describe(values: set[str]) -> str:
    return ", ".join(sorted(values)) if len(values) <= 3 else f"{len(values)} values"


def caption(df: Any, table: Table, defaults: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """What a reader needs to trust the numbers: protocols with their preset, mode and settings
    that differ from ``defaults`` (see :func:`~sslbench.reporting.records.protocol_defaults`;
    without them every constant setting is listed), the pretraining preset, the checkpoint rule,
    the statistics and the marks."""
    configs = [parse_config(c) for c in df["config_json"]]
    flat = [flatten(c) for c in configs]
    parts = []
    protocols = sorted(set(df["protocol"]))
    described = []
    for p in protocols:
        known = defaults.get(p) if defaults else None
        keys = sorted({k for f, proto in zip(flat, df["protocol"]) if proto == p for k in f if k.startswith(p + ".")})
        settings = []
        for k in keys:
            name = k[len(p) + 1:]
            if name.endswith("_chunk"):
                continue  # memory bounds, no effect on the numbers
            vals = {json.dumps(f.get(k), sort_keys=True, default=str)
                    for f, proto in zip(flat, df["protocol"]) if proto == p}
            if len(vals) != 1:
                settings.append(f"{name} varied")
                continue
            value = next(iter(vals))
            if known is not None and name not in HEADLINE_SETTINGS and name in known and \
                    json.dumps(known[name], sort_keys=True, default=str) == value:
                continue  # the protocol's default: implied by its name and preset
            settings.append(f"{name} {value.strip(chr(34))}")
        if known is None and len(settings) > 6:
            settings = settings[:6] + ["..."]
        described.append(f"{p} ({', '.join(settings)})" if settings else p)
    parts.append("Protocol: " + "; ".join(described) + ".")
    preset = []
    for key, text in (("model.backbone", "{}"), ("train.epochs", "{} epochs"), ("train.max_steps", "at most {} steps"),
                      ("train.batch_size", "batch {}"), ("train.lr", "lr {}"), ("train.optimizer", "{}"),
                      ("data.input_size", "input {}px")):
        vals = {json.dumps(f.get(key), default=str).strip('"') for f in flat}
        if key == "train.max_steps" and vals == {"0"}:
            continue
        preset.append(text.format(next(iter(vals)) if len(vals) == 1 else "varied"))
    datasets = set(df["dataset"])
    parts.append(f"Pretraining preset: {_describe(datasets)} ({', '.join(preset)}).")
    parts.append(f"Checkpoint: {CHECKPOINT_RULE}.")
    seeds = sorted(set(df["seed"]))
    if "seed" in table.rows or "seed" in table.column_dims:
        parts.append(f"One result per seed ({', '.join(map(str, seeds))}).")
    elif len(seeds) > 1:
        parts.append(f"Cells: mean ± std (n) over seeds {', '.join(map(str, seeds))}; a single seed shows its value.")
    else:
        parts.append(f"One seed ({seeds[0]}): no std.")
    parts.append("Best in bold, second best underlined, per column.")
    lower = [c for c, h in table.higher_is_better.items() if h is False]
    if lower:
        parts.append(f"Lower is better for {', '.join(lower)}.")
    if table.baseline:
        parts.append(f"Δ: difference of the mean to {table.baseline}.")
    return " ".join(parts)
