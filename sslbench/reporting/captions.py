"""Table captions: what a reader needs to trust a comparison, stated per row when rows differ.

Settings shared by every record are stated once; a setting that differs between rows (a
``random`` row that does not pretrain beside MoCo's preset, two protocols' ``k``) is stated per
group of rows with the same values, never as "varied".
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Collection, Mapping, Sequence

from .records import DIMENSIONS, flatten, label, parse_config

if TYPE_CHECKING:
    from .tables import Table

#: the rule used to pick the evaluated checkpoint (the engine keeps no "best" checkpoint)
CHECKPOINT_RULE = "last epoch"
#: protocol settings the caption always states (they name the recipe)
HEADLINE_SETTINGS = ("preset", "mode")
#: pretraining settings the caption states, with how each is printed
PRETRAIN_SETTINGS = (("model.backbone", "{}"), ("train.epochs", "{} epochs"), ("train.max_steps", "at most {} steps"),
                     ("train.batch_size", "batch {}"), ("train.lr", "lr {}"), ("train.optimizer", "{}"),
                     ("data.input_size", "input {}px"))
NO_PRETRAINING = "no pretraining"
#: column dimensions that never change a record's settings (one run reports several metrics)
_OUTPUT_DIMENSIONS = ("protocol", "metric")


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str).strip('"')


def dimension_label(dims: Sequence[str], values: Sequence[Any]) -> str:
    """``("method", "moco.temperature"), ("moco", 0.2)`` -> ``moco moco.temperature=0.2``."""
    return " ".join(label(v) if d in DIMENSIONS and d != "seed" else f"{d}={label(v)}" for d, v in zip(dims, values))


def _unit_dims(df: Any, table: "Table") -> list[list[str]]:
    """Candidate ways to name the records a setting belongs to, coarsest first."""
    identity = [d for d in table.column_dims if d not in _OUTPUT_DIMENSIONS]
    out = [list(table.rows), list(table.rows) + identity, list(table.rows) + list(table.column_dims)]
    return [dims for i, dims in enumerate(out) if dims not in out[:i]]


def group_settings(texts: Sequence[Mapping[str, str]], units: Sequence[Sequence[str]]) -> tuple[list[str], list[str]]:
    """Split per-record settings into those shared by every record they apply to and groups of units.

    ``texts[i]`` maps each setting that applies to record ``i`` to its printed text (empty: print
    nothing); ``units`` holds candidate namings of the records (e.g. by row, then by row and
    dataset): the first one under which every unit has a single value of each differing setting
    is used. Returns ``(["resnet18", "sgd"], ["moco, sce: 200 epochs", "random: no pretraining"])``.
    """
    keys = list(dict.fromkeys(k for t in texts for k in t))
    values = {k: {t[k] for t in texts if k in t} for k in keys}
    shared = [next(iter(values[k])) for k in keys if len(values[k]) == 1]
    varying = [k for k in keys if len(values[k]) > 1]
    if not varying:
        return [s for s in shared if s], []
    naming = units[-1]
    for candidate in units:
        per_unit: dict[str, set[tuple[str, ...]]] = {}
        for t, unit in zip(texts, candidate):
            per_unit.setdefault(unit, set()).add(tuple(t.get(k, "") for k in varying))
        naming = candidate
        if all(len(v) == 1 for v in per_unit.values()):
            break
    described: dict[str, list[str]] = {}
    for unit in dict.fromkeys(naming):
        tuples = sorted({tuple(t.get(k, "") for k in varying) for t, u in zip(texts, naming) if u == unit})
        options = [", ".join(s for s in tup if s) for tup in tuples]
        if any(options):  # else nothing beyond the shared settings
            described.setdefault(" or ".join(o or "–" for o in options), []).append(unit)
    return [s for s in shared if s], [f"{', '.join(us)}: {text}" for text, us in described.items()]


def _units(df: Any, table: "Table") -> list[list[str]]:
    return [[dimension_label(dims, vals) for vals in zip(*(df[f"_{d}"] for d in dims))]
            for dims in _unit_dims(df, table)]


def _protocols(df: Any, flat: list[dict[str, Any]], table: "Table",
               defaults: Mapping[str, Mapping[str, Any]] | None) -> str:
    placed = set(table.rows) | set(table.column_dims)
    described = []
    for p in sorted(set(df["protocol"])):
        known = defaults.get(p) if defaults else None
        mask = [proto == p for proto in df["protocol"]]
        records = [f for f, m in zip(flat, mask) if m]
        names = sorted({k[len(p) + 1:] for f in records for k in f if k.startswith(p + ".")})
        names = [n for n in names if not n.endswith("_chunk") and f"{p}.{n}" not in placed]  # chunks bound memory only
        texts = [{n: f"{n} {_text(f.get(f'{p}.{n}'))}" for n in names} for f in records]
        for n in names:  # a setting every record leaves at the protocol's default is implied by its name
            vals = {json.dumps(f.get(f"{p}.{n}"), sort_keys=True, default=str) for f in records}
            if known is not None and n not in HEADLINE_SETTINGS and n in known and \
                    vals == {json.dumps(known[n], sort_keys=True, default=str)}:
                for t in texts:
                    t.pop(n)
        units = [[u for u, m in zip(unit, mask) if m] for unit in _units(df, table)]
        shared, groups = group_settings(texts, units)
        if known is None and len(shared) > 6:
            shared = shared[:6] + ["..."]
        parts = [", ".join(shared)] if shared else []
        described.append(f"{p} ({'; '.join(parts + groups)})" if parts or groups else p)
    return "Protocol: " + "; ".join(described) + "."


def _pretraining(df: Any, flat: list[dict[str, Any]], table: "Table", untrained: Collection[str]) -> str:
    placed = set(table.rows) | set(table.column_dims)
    texts = []
    for f, method in zip(flat, df["method"]):
        trains = method not in untrained and f.get("trains") is not False  # newer records say so themselves
        t = {}
        for key, fmt in PRETRAIN_SETTINGS:
            if key in placed or key not in f:
                continue
            # a method that does not pretrain never used its training settings: they print nothing
            unused = (key.startswith("train.") and not trains) or (key == "train.max_steps" and f[key] in (0, None))
            t[key] = "" if unused else fmt.format(_text(f[key]))
        t["pretraining"] = "" if trains else NO_PRETRAINING
        texts.append(t)
    shared, groups = group_settings(texts, _units(df, table))
    datasets = set(df["dataset"])
    datasets_text = ", ".join(sorted(datasets)) if len(datasets) <= 3 else f"{len(datasets)} datasets"
    head = f"Pretraining preset: {datasets_text}" + (f" ({', '.join(shared)})" if shared else "")
    return head + "".join(f"; {g}" for g in groups) + "."


def caption(df: Any, table: "Table", defaults: Mapping[str, Mapping[str, Any]] | None = None,
            untrained: Collection[str] = (), mark_groups: Sequence[str] = ()) -> str:
    """What a reader needs to trust the numbers: protocols with their preset, mode and settings
    that differ from ``defaults`` (see :func:`~sslbench.reporting.records.protocol_defaults`;
    without them every constant setting is listed), the pretraining preset (``untrained``
    methods, or records saying ``trains: false``: "no pretraining"), settings that differ between
    rows stated per group of rows, the checkpoint rule, the statistics and how marks are ranked."""
    row_pos = {idx: i for i, idx in enumerate(table.mean.index)}
    col_pos = {c: i for i, c in enumerate(table.columns)}
    df = df.assign(_order=[(row_pos.get(tuple(r), 0), col_pos.get(c, 0)) for r, c in
                           zip(zip(*(df[f"_{d}"] for d in table.rows)), df["_column"])])
    df = df.sort_values("_order", kind="stable")  # settings are named in the table's order
    flat = [flatten(parse_config(c)) for c in df["config_json"]]
    parts = [_protocols(df, flat, table, defaults), _pretraining(df, flat, table, untrained),
             f"Checkpoint: {CHECKPOINT_RULE}."]
    seeds = sorted(set(df["seed"]))
    if "seed" in table.rows or "seed" in table.column_dims:
        parts.append(f"One result per seed ({', '.join(map(str, seeds))}).")
    elif len(seeds) > 1:
        parts.append(f"Cells: mean ± std (n) over seeds {', '.join(map(str, seeds))}; a single seed shows its value.")
    else:
        parts.append(f"One seed ({seeds[0]}): no std.")
    within = f" within each {' and '.join(mark_groups)}" if mark_groups else ""
    parts.append(f"Best in bold, second best underlined, per column{within}.")
    lower = [c for c, h in table.higher_is_better.items() if h is False]
    if lower:
        parts.append(f"Lower is better for {', '.join(lower)}.")
    if table.baseline:
        parts.append(f"Δ: difference of the mean to {table.baseline}.")
    return " ".join(parts)
