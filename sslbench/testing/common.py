"""What every check of the kit shares: the tiny settings, skips and one-line contract messages."""

from __future__ import annotations

import unittest
from typing import Any, Mapping

from ..config import merge
from ..contract.errors import PluginError

#: A tiny, fast setting: digits at 8x8, a 4-channel CNN, a 32-entry queue.
TINY_SETS: dict[str, Any] = {
    "data": {"input_size": 8},
    "model": {"backbone": "convnet-small", "backbone_options": {"width": 4}, "projector_hidden": 16,
              "projector_out": 8, "predictor_hidden": 16},
    "ssl": {"queue_size": 32},
    "train": {"epochs": 1, "batch_size": 64, "max_steps": 2, "warmup_epochs": 0, "device": "cpu"},
}


class CheckSkipped(unittest.SkipTest):
    """A check that cannot run here (e.g. a dataset check without ``--data-root``); says why
    (a ``unittest.SkipTest``: pytest reports the check as skipped)."""


def tiny_config(method: str, dataset: str = "digits", protocols: tuple[str, ...] = ("knn",),
                sets: Mapping[str, Any] | None = None) -> Any:
    """The run config of ``method`` on ``dataset`` with :data:`TINY_SETS` (on digits) and ``sets``."""
    from ..contract.loading import registries
    from ..runner import resolve_config

    base = TINY_SETS if dataset == "digits" else {"train": {"device": "cpu"}}
    unused = getattr(registries().methods.get(method), "unused_config", ()) or ()
    base = {section: {k: v for k, v in values.items() if f"{section}.{k}" not in unused}
            for section, values in base.items()}  # a key the method never reads is not set for it
    return resolve_config(method, dataset, list(protocols), sets=merge(base, sets or {}))


def contract_message(exc: PluginError) -> str:
    """A :class:`PluginError`'s message without the ``plugin 'x' (kind 'y'): `` prefix: the contract."""
    text = str(exc)
    prefix = f"({exc.kind} {exc.name!r}): "
    return text.split(prefix, 1)[1] if prefix in text else text


def one_line(text: str) -> str:
    """``text`` on one line (a check's failure is one line of ``check-plugin``)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def check_plugin_class(cls: Any, name: str) -> None:
    """The class is registered under its own name, with a defaulted Params dataclass and a description."""
    import dataclasses

    assert cls.name == name, f"class attribute name {cls.name!r} differs from the registry key {name!r}"
    assert dataclasses.is_dataclass(cls.Params), f"{cls.__name__}.Params must be a dataclass"
    try:
        cls.Params()
    except TypeError as exc:
        raise AssertionError(f"{cls.__name__}.Params() needs defaults for every field: {exc}") from None
    assert cls.description or cls.__doc__, f"{cls.__name__} needs a description (or a docstring)"
