"""``sslbench compare``: run a methods x datasets x sweeps x seeds grid, skipping finished cells.

A cell is one ``sslbench run``. Before anything trains, every cell's config is resolved (so a
typo fails at once) and each (cell, protocol) is looked up in the store by its evaluation key
(:func:`sslbench.reporting.records.eval_key`: the config hash, blind to which other protocols
ran alongside). Only missing protocols are evaluated; finished pretrainings and cached features
are reused by the runner, and an interrupted pretraining resumes from its last epoch checkpoint.
Results are stored cell by cell, so an interrupted grid continues where it stopped.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..config import merge, parse_set
from ..contract.errors import SSLBenchError
from .records import eval_key, split_top_level

RESERVED = {"seed": "--seeds", "method": "--methods", "dataset": "--datasets", "protocols": "--protocols"}


def parse_sweeps(items: Sequence[str]) -> list[tuple[str, list[Any]]]:
    """``["moco.temperature=0.1,0.2"]`` -> ``[("moco.temperature", [0.1, 0.2])]``; values are YAML
    scalars and may be lists (``knn.k=[10,20],[200]``)."""
    out: list[tuple[str, list[Any]]] = []
    for item in items:
        if "=" not in item:
            raise SSLBenchError(f"invalid --sweep {item!r}: expected key=v1,v2,..., e.g. moco.temperature=0.1,0.2")
        key, raw = (s.strip() for s in item.split("=", 1))
        if key in RESERVED:
            raise SSLBenchError(f"invalid --sweep {item!r}: use {RESERVED[key]} for {key}")
        if "." not in key:
            raise SSLBenchError(f"invalid --sweep key {key!r}: expected section.field, e.g. train.epochs")
        values = [_lookup(parse_set([f"{key}={v}"]), key) for v in split_top_level(raw)]
        if not values:
            raise SSLBenchError(f"invalid --sweep {item!r}: no values after '='")
        if any(k == key for k, _ in out):
            raise SSLBenchError(f"--sweep {key} given twice: list all its values in one --sweep")
        out.append((key, values))
    return out


def _lookup(tree: Mapping[str, Any], key: str) -> Any:
    node: Any = tree
    for part in key.split("."):
        node = node[part]
    return node


@dataclass(frozen=True)
class Cell:
    """One run of the grid: a method on a dataset with one seed and one value per applicable sweep."""

    method: str
    dataset: str
    seed: int
    sweep: tuple[tuple[str, Any], ...] = ()

    def describe(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.sweep)
        return f"{self.method} {self.dataset} seed {self.seed}" + (f" {extra}" if extra else "")


def _for_method(key: str, method: str, methods: set[str]) -> bool:
    """A key inside another method's section (``moco.temperature`` for ``random``) does not apply."""
    section = key.split(".", 1)[0]
    return section not in methods or section == method


def expand(methods: Sequence[str], datasets: Sequence[str], seeds: Sequence[int],
           sweeps: Sequence[tuple[str, list[Any]]], method_names: set[str]) -> list[Cell]:
    """All cells, ordered dataset > method > sweep values > seed. A sweep over another method's
    section does not multiply a method's cells."""
    cells = []
    for dataset in datasets:
        for method in methods:
            applicable = [(k, vs) for k, vs in sweeps if _for_method(k, method, method_names)]
            for combo in itertools.product(*(vs for _, vs in applicable)):
                sweep = tuple((k, v) for (k, _), v in zip(applicable, combo))
                for seed in seeds:
                    cells.append(Cell(method, dataset, seed, sweep))
    return cells


def cell_sets(cell: Cell, sets: Mapping[str, Any], method_names: set[str]) -> dict[str, Any]:
    """The ``--set`` overrides of one cell: the shared ones (minus other methods' sections) and
    the cell's sweep values."""
    out = {k: v for k, v in sets.items() if k not in method_names or k == cell.method}
    for key, value in cell.sweep:
        for part in reversed(key.split(".")):
            value = {part: value}
        out = merge(out, value)
    return out


@dataclass
class Planned:
    """A cell, its resolved config (all protocols) and the protocols not yet in the store."""

    cell: Cell
    config: Any
    keys: dict[str, str]
    missing: list[str]


@dataclass
class GridOutcome:
    planned: list[Planned]
    ran: int = 0
    skipped: int = 0
    keys: set[str] = field(default_factory=set)


def plan(cells: Sequence[Cell], protocols: Sequence[str], sets: Mapping[str, Any], done: set[str],
         config_file: str | None = None, regs: Any = None) -> list[Planned]:
    """Resolve every cell's config (all errors surface here, before any training) and find the
    protocols whose evaluation key is not in ``done``."""
    from ..contract.loading import registries
    from ..runner import resolve_config

    regs = regs or registries()
    names = set(regs.methods.list())
    out = []
    for cell in cells:
        config = resolve_config(cell.method, cell.dataset, list(protocols), config_file,
                                cell_sets(cell, sets, names), {"seed": cell.seed}, regs=regs)
        as_dict = config.to_dict()
        keys = {p: eval_key(as_dict, p) for p in protocols}
        out.append(Planned(cell, config, keys, [p for p in protocols if keys[p] not in done]))
    return out


def run_grid(planned: Sequence[Planned], output_dir: str | Path, sets: Mapping[str, Any],
             config_file: str | None = None, echo: Callable[[str], None] = print, progress: bool = False,
             regs: Any = None) -> GridOutcome:
    """Run the missing protocols of every planned cell, storing results after each cell."""
    from ..contract.loading import registries
    from ..runner import resolve_config, run, summary_line

    regs = regs or registries()
    names = set(regs.methods.list())
    outcome = GridOutcome(list(planned))
    total = len(planned)
    for i, item in enumerate(planned, 1):
        outcome.keys.update(item.keys.values())
        head = f"[{i}/{total}] {item.cell.describe()}"
        if not item.missing:
            outcome.skipped += 1
            echo(f"{head}: in the store, skipped")
            continue
        echo(f"{head}: {', '.join(item.missing)} ...")
        config = item.config
        if item.missing != list(config.protocols):
            config = resolve_config(item.cell.method, item.cell.dataset, item.missing, config_file,
                                    cell_sets(item.cell, sets, names), {"seed": item.cell.seed}, regs=regs)
        result = run(config, output_dir, resume=True, progress=progress, regs=regs)
        outcome.ran += 1
        echo(f"    {summary_line(result)}")
    return outcome
