"""The protocol contract, checked on a tiny cached feature bank: a list of named, finite ``Metric``s,
the same numbers again under the same seed from the cached features."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any, Callable

from ..contract.errors import PluginError
from ..contract.loading import registries
from .common import CheckSkipped, check_plugin_class, contract_message, tiny_config

__all__ = ["PROTOCOL_CHECKS", "check_protocol_registration", "check_protocol_metrics",
           "check_protocol_determinism"]


def _protocol_class(name: str) -> Any:
    from ..contract.protocol import Protocol

    cls = registries().protocols.get(name)
    assert isinstance(cls, type) and issubclass(cls, Protocol), \
        f"register_protocols must register a subclass of sslbench.contract.protocol.Protocol, got {cls!r}"
    return cls


def _evaluate(name: str, dataset: str, root: str | None, cache: Path) -> list[Any]:
    """``name``'s metrics on a seeded random convnet's features of ``dataset``, cached in ``cache``."""
    import torch

    from ..engine.plugin_checks import checked_metrics, plugin_code
    from ..engine.evaluation import EvalContext
    from ..engine.trainer import build_backbone, seed_everything

    regs = registries()
    spec = regs.datasets.get(dataset)
    cls = _protocol_class(name)
    if not cls.accepts(spec.modality):
        raise CheckSkipped(f"evaluates {' or '.join(cls.modalities)} data, not {dataset!r} "
                           f"({spec.modality}): needs --dataset NAME of that modality and its --data-root PATH")
    if spec.needs_root and not root:
        raise CheckSkipped(f"dataset {dataset!r} needs --data-root PATH (or check on --dataset digits)")
    config = tiny_config("random", dataset, (name,), sets={"data": {"root": root}} if root else None)
    seed_everything(config.seed)
    backbone = build_backbone(regs, config.model.backbone, spec.channels, config.model.backbone_options).eval()
    ctx = EvalContext(backbone=backbone, spec=spec, config=config, weights_id=f"check-plugin-random-{config.seed}",
                      device=torch.device("cpu"), cache_dir=cache, progress=False)
    protocol = cls(config.protocol_params[name])
    seed_everything(config.seed)
    try:
        with plugin_code("protocol", name):
            metrics = checked_metrics(protocol.evaluate(ctx), name)
    except PluginError as exc:
        raise AssertionError(contract_message(exc)) from exc
    assert metrics, "evaluate() returned no Metric, expected a list of at least one sslbench.contract.protocol.Metric"
    return metrics


def check_protocol_registration(name: str) -> None:
    """A Protocol subclass named as registered, with a defaulted Params dataclass and a description."""
    from ..contract.protocol import Protocol

    cls = _protocol_class(name)
    check_plugin_class(cls, name)
    assert cls.evaluate is not Protocol.evaluate, f"{cls.__name__} must implement evaluate(ctx)"


#: (protocol, dataset, root) -> (its first metrics, the feature cache they were computed with):
#: the determinism check evaluates once more from that cache instead of twice afresh
_FIRST: dict[tuple[str, str, str | None], tuple[list[Any], Path]] = {}


def _cache_dir() -> Path:
    """A feature cache for this process's checks, removed at exit."""
    import atexit
    import shutil

    path = Path(tempfile.mkdtemp(prefix="sslbench-check-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def check_protocol_metrics(name: str, dataset: str = "digits", root: str | None = None) -> None:
    """``evaluate(ctx)`` returns a non-empty list of Metric with distinct names and finite values."""
    _FIRST.pop((name, dataset, root), None)
    cache = _cache_dir()
    _FIRST[(name, dataset, root)] = (_evaluate(name, dataset, root, cache), cache)


def check_protocol_determinism(name: str, dataset: str = "digits", root: str | None = None) -> None:
    """Under the same seed, evaluating again from the cached features gives the same numbers."""
    if (name, dataset, root) not in _FIRST:
        check_protocol_metrics(name, dataset, root)
    first, cache = _FIRST.pop((name, dataset, root))
    second = _evaluate(name, dataset, root, cache)  # the features now come from the cache
    assert [m.name for m in first] == [m.name for m in second], \
        f"metric names differ between two evaluations: {[m.name for m in first]} then {[m.name for m in second]}"
    for a, b in zip(first, second):
        assert math.isclose(a.value, b.value, rel_tol=1e-9, abs_tol=1e-9), \
            f"metric {a.name!r} is {a.value} then {b.value} under the same seed: draw every random choice from " \
            f"ctx.config.seed (or the seeded torch/numpy/random generators)"


PROTOCOL_CHECKS: tuple[Callable[..., None], ...] = (
    check_protocol_registration, check_protocol_metrics, check_protocol_determinism,
)
