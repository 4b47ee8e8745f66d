"""Synthetic result records for the reporting tests: a real store, no training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sslbench.store import ResultRow, insert, read


def config(method: str, dataset: str = "digits", protocol: str = "knn", seed: int = 0,
           method_params: dict[str, Any] | None = None, protocol_params: dict[str, Any] | None = None,
           **sections: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"method": method, "dataset": dataset, "protocols": [protocol], "seed": seed,
                           "eval_dataset": None,
                           "model": {"backbone": "resnet18", "backbone_options": {}},
                           "train": {"epochs": 200, "batch_size": 256, "lr": 0.06, "max_steps": 0,
                                     "optimizer": "sgd", "device": "auto"},
                           "data": {"input_size": 32, "num_workers": 0}}
    if method_params is not None:
        out[method] = method_params
    out[protocol] = protocol_params if protocol_params is not None else {}
    for name, values in sections.items():
        out[name] = {**out.get(name, {}), **values} if isinstance(values, dict) else values  # e.g. trains=False
    return out


def add(store: Path, method: str, value: float, *, metric: str = "top1", protocol: str = "knn", seed: int = 0,
        dataset: str = "digits", higher_is_better: bool = True, **config_args: Any) -> None:
    """Insert one record (one run with one metric)."""
    cfg = config(method, dataset, protocol, seed, **config_args)
    add_many(store, cfg, {metric: (value, higher_is_better)})


def add_many(store: Path, cfg: dict[str, Any], metrics: dict[str, tuple[float, bool]]) -> None:
    """Insert one run (``cfg``) with several metrics of its single protocol."""
    from sslbench.config import stable_hash

    protocol = cfg["protocols"][0]
    rows = [ResultRow(method=cfg["method"], dataset=cfg["dataset"], eval_dataset=cfg["eval_dataset"] or cfg["dataset"],
                      backbone=cfg["model"]["backbone"], protocol=protocol, metric=name, value=value,
                      higher_is_better=hib, seed=cfg["seed"], config_hash=stable_hash(cfg),
                      pretrain_hash=stable_hash({k: v for k, v in cfg.items() if k != protocol}), config=cfg,
                      git_commit="abc123", versions={"torch": "2"}, hardware="test", pretrain_seconds=1.0,
                      eval_seconds=None)
            for name, (value, hib) in metrics.items()]
    insert(store, rows)


def frame(store: Path) -> Any:
    return read(store)
