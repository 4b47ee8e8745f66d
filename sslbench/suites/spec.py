"""Suite files: one YAML per table, validated before anything runs.

A suite names a table (``source``, ``caption``), the grid that reproduces it and the numbers the
paper printed. Layout (every key but ``grid`` optional)::

    source: Table 4.6                  # where the numbers come from
    caption: ...
    notes: [...]                       # where the suite departs from the paper, and why
    base: presets/sce-imagenet.yaml    # dotted config keys shared by several suites (a file beside it)
    set: {linear.preset: a5.1}         # dotted config keys for every cell (--set syntax), over base
    seeds: [0]
    protocols: [linear]
    grid:                              # one block, or a list of blocks (their union)
      - methods: [moco, ressl, sce]
        datasets: [cifar10, stl10]
        seeds / protocols / set        # override the suite's
        sweeps: {sce.tau_m: [0.05, 0.07]}          # cartesian; another method's section does not multiply
        variants: [{name: sym, set: {ssl.symmetric: true}}]   # alternatives, one row each
        evaluations: [{name: UCF101, eval_dataset: ucf101, protocols: [finetune], set: {...}}]
    table:
      rows: [method]                   # from: method, dataset, eval, variant, protocol, metric, seed, a swept key
      columns: [dataset]
      metrics: [top1]                  # the metrics kept (default: all), in order of preference
      names: {sce: SCE (Ours)}         # how a label is printed
      decimals: 1
      marks: columns                   # best / second per column, per row, or none
      average: Avg.                    # a last column: the mean of a row's columns
    paper:                             # the paper's numbers, in its row order
      - {row: sce, values: {cifar10: 90.3, stl10: 89.9}}
      - {ref: "ReSSL [ZYW+21]", values: {cifar10: 90.2}}     # another paper's row: reference only

A row label with several dimensions is a list (``row: [cifar10, 0.1]``); a column label joins
its dimensions' values with a space (``ucf101 R@1``). Numbers are compared as numbers, so
``0.10`` and ``0.1`` name the same column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..contract.errors import SSLBenchError

#: what a table row or column can be made of, besides a swept config key (``sce.lam``)
LABEL_DIMENSIONS = ("method", "dataset", "eval", "variant", "protocol", "metric", "seed")
MARKS = ("columns", "rows", "none")
_TOP = {"name", "source", "caption", "notes", "base", "set", "seeds", "protocols", "grid", "table", "paper"}
_BLOCK = {"methods", "datasets", "seeds", "protocols", "set", "sweeps", "variants", "evaluations"}
_TABLE = {"rows", "columns", "metrics", "names", "decimals", "marks", "average"}


class SuiteError(SSLBenchError):
    """A suite file that does not follow the layout of :mod:`sslbench.suites.spec`."""


def label(value: Any) -> str:
    """A label as printed and matched: numbers by value (``0.10`` -> ``0.1``, ``1.0`` -> ``1``)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return format(float(value), "g")
    return str(value)


@dataclass(frozen=True)
class Variant:
    """A named set of overrides: one alternative of a block (a row of Table 4.4, say)."""

    name: str
    sets: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    """What one cell evaluates: its protocols, on the pretraining dataset or ``eval_dataset``."""

    name: str | None
    eval_dataset: str | None
    protocols: tuple[str, ...]
    sets: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Block:
    """One grid: methods x datasets x sweeps x variants x evaluations x seeds."""

    methods: list[str]
    datasets: list[str]
    seeds: list[int]
    sets: dict[str, Any]
    sweeps: list[tuple[str, list[Any]]]
    variants: list[Variant]
    evaluations: list[Evaluation]


@dataclass
class TableSpec:
    rows: list[str]
    columns: list[str]
    metrics: list[str] | None = None
    names: dict[str, str] = field(default_factory=dict)
    decimals: int = 1
    marks: str = "columns"
    average: str | None = None


@dataclass(frozen=True)
class PaperRow:
    """The numbers one printed row gives: ours (``row``: a label tuple) or another paper's (``ref``)."""

    row: tuple[str, ...]
    values: Mapping[str, float]
    reference: bool = False


@dataclass
class Suite:
    name: str
    path: Path
    source: str
    caption: str
    notes: list[str]
    blocks: list[Block]
    table: TableSpec
    paper: list[PaperRow]

    def methods(self) -> list[str]:
        return list(dict.fromkeys(m for b in self.blocks for m in b.methods))


def load_suite(path: str | Path) -> Suite:
    """Read and validate the suite file at ``path`` (names are checked later, against plugins)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SuiteError(f"cannot read suite file {str(path)!r}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"suite file {str(path)!r} is not valid YAML: {' '.join(str(exc).split())}") from None
    return parse_suite(data, path)


def parse_suite(data: Any, path: Path) -> Suite:
    """A :class:`Suite` from the parsed YAML of ``path``."""
    where = str(path)
    top = _mapping(data, where, _TOP)
    seeds = _ints(top.get("seeds", [0]), f"{where}: seeds")
    protocols = _names(top.get("protocols", []), f"{where}: protocols", allow_empty=True)
    shared = {**_base(top.get("base"), path), **_sets(top.get("set", {}), f"{where}: set")}
    raw_blocks = top.get("grid")
    if raw_blocks is None:
        raise SuiteError(f"{where}: no 'grid': expected a mapping of methods, datasets, ... (or a list of them)")
    raw_blocks = raw_blocks if isinstance(raw_blocks, list) else [raw_blocks]
    blocks = [_block(b, f"{where}: grid[{i}]", seeds, protocols, shared) for i, b in enumerate(raw_blocks)]
    sweep_keys = {k for b in blocks for k, _ in b.sweeps}
    table = _table(top.get("table", {}), f"{where}: table", sweep_keys)
    paper = [_paper_row(r, f"{where}: paper[{i}]", len(table.rows)) for i, r in enumerate(_list(top.get("paper", []),
                                                                                                f"{where}: paper"))]
    notes = top.get("notes", [])
    notes = [notes] if isinstance(notes, str) else notes
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise SuiteError(f"{where}: notes: expected a list of sentences")
    return Suite(name=str(top.get("name") or path.stem), path=path, source=str(top.get("source", "")),
                 caption=" ".join(str(top.get("caption", "")).split()), notes=[" ".join(n.split()) for n in notes],
                 blocks=blocks, table=table, paper=paper)


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"sce.tau": 0.1}`` -> ``{"sce": {"tau": 0.1}}`` (the shape of a ``--config`` file)."""
    from ..config import merge

    out: dict[str, Any] = {}
    for key, value in flat.items():
        for part in reversed(key.split(".")):
            value = {part: value}
        out = merge(out, value)
    return out


# --------------------------------------------------------------------------- validation helpers


def _base(value: Any, path: Path) -> dict[str, Any]:
    """The dotted keys of the ``base`` file(s), relative to the suite file (later files win)."""
    import yaml

    out: dict[str, Any] = {}
    for name in [value] if isinstance(value, str) else value or []:
        file = path.parent / str(name)
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise SuiteError(f"{path}: base {str(name)!r}: cannot read {str(file)!r}: {exc}") from None
        out.update(_sets(data, f"{file}"))
    return out


def _mapping(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SuiteError(f"{where}: expected a mapping, got {type(value).__name__}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        import difflib

        close = difflib.get_close_matches(str(unknown[0]), sorted(allowed), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SuiteError(f"{where}: unknown key {unknown[0]!r}{hint} (expected {', '.join(sorted(allowed))})")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise SuiteError(f"{where}: expected a list, got {value!r}")
    return value


def _names(value: Any, where: str, allow_empty: bool = False) -> list[str]:
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value) or (not value and not allow_empty):
        raise SuiteError(f"{where}: expected a list of names, got {value!r}")
    if len(set(value)) != len(value):
        raise SuiteError(f"{where}: {value!r} names one twice")
    return list(value)


def _ints(value: Any, where: str) -> list[int]:
    value = [value] if isinstance(value, int) else value
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                                             for v in value):
        raise SuiteError(f"{where}: expected a list of integers >= 0, got {value!r}")
    return list(value)


def _sets(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SuiteError(f"{where}: expected a mapping of dotted config keys, e.g. {{train.epochs: 10}}")
    for key in value:
        if not isinstance(key, str) or "." not in key or any(not p for p in key.split(".")):
            raise SuiteError(f"{where}: invalid key {key!r}: expected section.field, e.g. train.epochs")
    return dict(value)


def _block(raw: Any, where: str, seeds: list[int], protocols: list[str], shared: dict[str, Any]) -> Block:
    b = _mapping(raw, where, _BLOCK)
    for key in ("methods", "datasets"):
        if key not in b:
            raise SuiteError(f"{where}: missing {key!r}")
    block_protocols = _names(b.get("protocols", protocols), f"{where}: protocols", allow_empty=True)
    sweeps = []
    for key, values in _sets(b.get("sweeps", {}), f"{where}: sweeps").items():
        if not isinstance(values, list) or not values:
            raise SuiteError(f"{where}: sweeps: {key}: expected a non-empty list of values")
        sweeps.append((key, list(values)))
    variants = []
    for i, v in enumerate(_list(b.get("variants", []), f"{where}: variants")):
        v = _mapping(v, f"{where}: variants[{i}]", {"name", "set"})
        if "name" not in v:
            raise SuiteError(f"{where}: variants[{i}]: missing 'name' (the row it prints as)")
        variants.append(Variant(label(v["name"]), _sets(v.get("set", {}), f"{where}: variants[{i}]: set")))
    if len({v.name for v in variants}) != len(variants):
        raise SuiteError(f"{where}: variants: two variants share a name")
    evaluations = []
    for i, e in enumerate(_list(b.get("evaluations", []), f"{where}: evaluations")):
        e = _mapping(e, f"{where}: evaluations[{i}]", {"name", "eval_dataset", "protocols", "set"})
        evaluations.append(Evaluation(
            name=str(e.get("name") or e.get("eval_dataset") or "") or None, eval_dataset=e.get("eval_dataset"),
            protocols=tuple(_names(e.get("protocols", block_protocols), f"{where}: evaluations[{i}]: protocols")),
            sets=_sets(e.get("set", {}), f"{where}: evaluations[{i}]: set")))
    if not evaluations:
        if not block_protocols:
            raise SuiteError(f"{where}: no protocols: give 'protocols' (or 'evaluations')")
        evaluations = [Evaluation(None, None, tuple(block_protocols))]
    return Block(methods=_names(b["methods"], f"{where}: methods"), datasets=_names(b["datasets"], f"{where}: datasets"),
                 seeds=_ints(b.get("seeds", seeds), f"{where}: seeds"),
                 sets={**shared, **_sets(b.get("set", {}), f"{where}: set")}, sweeps=sweeps,
                 variants=variants or [Variant("")], evaluations=evaluations)


def _table(raw: Any, where: str, sweep_keys: set[str]) -> TableSpec:
    t = _mapping(raw or {}, where, _TABLE)
    rows = _names(t.get("rows", ["method"]), f"{where}: rows")
    columns = _names(t.get("columns", ["protocol", "metric"]), f"{where}: columns")
    for dim in rows + columns:
        if dim not in LABEL_DIMENSIONS and dim not in sweep_keys:
            raise SuiteError(f"{where}: unknown dimension {dim!r}: expected one of {', '.join(LABEL_DIMENSIONS)} "
                             f"or a swept key ({', '.join(sorted(sweep_keys)) or 'none swept'})")
    if set(rows) & set(columns):
        raise SuiteError(f"{where}: {sorted(set(rows) & set(columns))[0]!r} is both a row and a column dimension")
    metrics = t.get("metrics")
    if metrics is not None:
        metrics = _names(metrics, f"{where}: metrics")
    names = t.get("names", {})
    if not isinstance(names, dict):
        raise SuiteError(f"{where}: names: expected a mapping of label -> printed name")
    decimals = t.get("decimals", 1)
    if not isinstance(decimals, int) or not 0 <= decimals <= 6:
        raise SuiteError(f"{where}: decimals: expected an integer in [0, 6], got {decimals!r}")
    marks = t.get("marks", "columns")
    if marks not in MARKS:
        raise SuiteError(f"{where}: marks: expected one of {', '.join(MARKS)}, got {marks!r}")
    average = t.get("average")
    return TableSpec(rows, columns, metrics, {label(k): str(v) for k, v in names.items()}, decimals, marks,
                     None if average is None else str(average))


def _paper_row(raw: Any, where: str, n_rows: int) -> PaperRow:
    r = _mapping(raw, where, {"row", "ref", "values"})
    if ("row" in r) == ("ref" in r):
        raise SuiteError(f"{where}: expected exactly one of 'row' (a row of ours) or 'ref' (another paper's row)")
    values = r.get("values")
    if not isinstance(values, dict) or not values:
        raise SuiteError(f"{where}: values: expected a mapping of column -> number")
    numbers = {}
    for key, value in values.items():
        if value is None or value == "-":
            continue  # not reported
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SuiteError(f"{where}: values: {key}: expected a number or '-', got {value!r}")
        numbers[label(key)] = float(value)
    if "ref" in r:
        return PaperRow((str(r["ref"]),), numbers, reference=True)
    row = r["row"] if isinstance(r["row"], list) else [r["row"]]
    if len(row) != n_rows:
        raise SuiteError(f"{where}: row {r['row']!r}: expected {n_rows} value(s), one per row dimension")
    return PaperRow(tuple(label(v) for v in row), numbers)
