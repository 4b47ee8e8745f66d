"""A suite's cells, each resolved to the config ``sslbench run`` would use, before anything runs.

A cell is one ``sslbench run``: a method pretrained on a dataset with one seed, one value per
applicable sweep, one variant, evaluated by one evaluation's protocols. Cells that share a
pretraining (same pretraining hash) form one job, so two processes never train the same weights.
Data roots come from ``--data-dir DIR`` (dataset ``X`` under ``DIR/X``) and ``--root X=PATH``; a
missing root is reported by the plan, and only refused when a cell needing it is run.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..config import merge
from ..contract.errors import SSLBenchError
from ..reporting.grid import Cell, cell_sets, expand
from .spec import Block, Evaluation, Suite, SuiteError, Variant, label, nest


@dataclass(frozen=True)
class Roots:
    """Where each dataset lives: ``explicit[name]``, else ``data_dir / name``."""

    data_dir: Path = Path("data")
    explicit: Mapping[str, str] = field(default_factory=dict)

    def root(self, dataset: str) -> str:
        return str(self.explicit.get(dataset) or self.data_dir / dataset)


def parse_roots(items: Iterable[str]) -> dict[str, str]:
    """``["cifar10=/data/c10"]`` -> ``{"cifar10": "/data/c10"}``."""
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise SSLBenchError(f"invalid --root {item!r}: expected DATASET=PATH, e.g. cifar10=/data/cifar")
        out[name.strip()] = path.strip()
    return out


@dataclass(frozen=True)
class SuiteCell:
    """One run of a suite, before its config is resolved."""

    method: str
    dataset: str
    seed: int
    sweep: tuple[tuple[str, Any], ...]
    variant: Variant
    evaluation: Evaluation
    block: int = 0

    @property
    def eval_name(self) -> str:
        return self.evaluation.name or self.evaluation.eval_dataset or self.dataset

    def labels(self) -> dict[str, str]:
        """The values a table can place this cell by (protocol and metric come with the results)."""
        out = {"method": self.method, "dataset": self.dataset, "eval": self.eval_name, "variant": self.variant.name,
               "seed": label(self.seed)}
        out.update({k: label(v) for k, v in self.sweep})
        return out

    def describe(self) -> str:
        parts = [self.method, self.dataset]
        if self.evaluation.name or self.evaluation.eval_dataset:
            parts.append(f"-> {self.eval_name}")
        if self.variant.name:
            parts.append(f"[{self.variant.name}]")
        parts += [f"{k}={label(v)}" for k, v in self.sweep]
        return " ".join(parts + [f"seed {self.seed}"])


@dataclass
class PlannedCell:
    """A cell with its resolved config, identity, evaluation keys and what it still needs."""

    cell: SuiteCell
    sets: dict[str, Any]
    overrides: dict[str, Any]
    config: Any
    cell_id: str
    keys: dict[str, str]
    missing_data: list[str]
    done: list[str] = field(default_factory=list)

    @property
    def protocols(self) -> list[str]:
        return list(self.config.protocols)

    @property
    def pretrain_hash(self) -> str:
        return self.config.pretrain_hash()

    @property
    def complete(self) -> bool:
        return all(p in self.done for p in self.protocols)


def with_methods(suite: Suite, methods: str | None) -> Suite:
    """``--methods a,b`` replaces every block's methods; ``--methods +byol`` adds to them."""
    if not methods:
        return suite
    names = [m.strip() for m in methods.lstrip("+").split(",") if m.strip()]
    if not names:
        raise SSLBenchError(f"invalid --methods {methods!r}: expected names, e.g. moco,sce or +byol")
    for block in suite.blocks:
        block.methods = list(dict.fromkeys([*block.methods, *names])) if methods.startswith("+") else names
    return suite


def expand_suite(suite: Suite, method_names: set[str]) -> list[SuiteCell]:
    """Every cell of every block, in grid order (dataset > method > sweep values > seed)."""
    cells = []
    for i, block in enumerate(suite.blocks):
        for c in expand(block.methods, block.datasets, block.seeds, block.sweeps, method_names):
            for variant in block.variants:
                for evaluation in block.evaluations:
                    cells.append(SuiteCell(c.method, c.dataset, c.seed, c.sweep, variant, evaluation, i))
    return cells


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def cell_overrides(cell: SuiteCell, block: Block, shared: Mapping[str, Any], method_names: set[str]) -> dict[str, Any]:
    """The ``--set`` layers of one cell: suite and block ``set`` < variant < evaluation < sweep
    values < the command line's ``--set``; other methods' sections dropped."""
    layered = merge(merge(nest(block.sets), nest(cell.variant.sets)), nest(cell.evaluation.sets))
    own = cell_sets(Cell(cell.method, cell.dataset, cell.seed, cell.sweep), layered, method_names)
    return merge(own, cell_sets(Cell(cell.method, cell.dataset, cell.seed), shared, method_names))


@contextmanager
def launched_as(world_size: int) -> Iterator[None]:
    """Resolve configs as the processes of a ``world_size``-process job will (the world size is
    part of a pretraining's identity; :func:`sslbench.config.launch_world_size` reads it)."""
    saved = {k: os.environ.get(k) for k in ("RANK", "WORLD_SIZE")}
    if world_size > 1:
        os.environ.update(RANK="0", WORLD_SIZE=str(world_size))
    else:
        for key in saved:
            os.environ.pop(key, None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def plan_suite(suite: Suite, roots: Roots = Roots(), shared: Mapping[str, Any] | None = None,
               done: set[str] = frozenset(), regs: Any = None, world_size: int = 1) -> list[PlannedCell]:
    """Resolve every cell (all errors surface here, each naming its cell) as a job of
    ``world_size`` processes will, note missing data roots and which protocols the store already
    holds (``done``: evaluation keys)."""
    with launched_as(world_size):
        return _plan(suite, roots, shared, done, regs)


def _plan(suite: Suite, roots: Roots, shared: Mapping[str, Any] | None, done: set[str], regs: Any
          ) -> list[PlannedCell]:
    from ..contract.loading import registries
    from ..reporting.records import eval_key
    from ..runner import resolve_config

    regs = regs or registries()
    names = set(regs.methods.list())
    out = []
    for cell in expand_suite(suite, names):
        block = suite.blocks[cell.block]
        sets = cell_overrides(cell, block, shared or {}, names)
        overrides: dict[str, Any] = {"seed": cell.seed}
        missing = []
        try:
            spec = regs.datasets.get(cell.dataset)
            if spec.needs_root:
                overrides["data"] = {"root": roots.root(cell.dataset)}
                if not Path(roots.root(cell.dataset)).expanduser().is_dir():
                    missing.append(cell.dataset)
            target = cell.evaluation.eval_dataset
            if target and target != cell.dataset:
                overrides["eval_dataset"] = target
                if regs.datasets.get(target).needs_root:
                    overrides.setdefault("data", {})["eval_root"] = roots.root(target)
                    if not Path(roots.root(target)).expanduser().is_dir():
                        missing.append(target)
            config = resolve_config(cell.method, cell.dataset, list(cell.evaluation.protocols), None, sets, overrides,
                                    regs=regs)
        except SSLBenchError as exc:
            raise SuiteError(f"{suite.path}: cell {cell.describe()}: {exc}") from None
        as_dict = config.to_dict()
        keys = {p: eval_key(as_dict, p) for p in config.protocols}
        parts = [cell.method, cell.dataset] + ([cell.eval_name] if cell.eval_name != cell.dataset else [])
        cell_id = _slug("-".join(parts + [f"s{cell.seed}", config.config_hash()]))
        out.append(PlannedCell(cell, sets, overrides, config, cell_id, keys, missing,
                               [p for p in config.protocols if keys[p] in done]))
    ids = [p.cell_id for p in out]
    if len(set(ids)) != len(ids):
        dup = next(p for p in out if ids.count(p.cell_id) > 1)
        raise SuiteError(f"{suite.path}: two cells resolve to the same config ({dup.cell.describe()}): a variant or "
                         f"sweep changes nothing")
    return out


def jobs(planned: Sequence[PlannedCell]) -> list[list[PlannedCell]]:
    """Unfinished cells grouped by pretraining (one job each), in plan order."""
    groups: dict[str, list[PlannedCell]] = {}
    for item in planned:
        if not item.complete:
            groups.setdefault(item.pretrain_hash, []).append(item)
    return list(groups.values())
