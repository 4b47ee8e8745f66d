"""Conformance kit for plugin authors: the checks every shipped plugin passes, one tuple per kind.

Use it from your own pytest suite::

    import pytest
    from sslbench.testing import METHOD_CHECKS

    @pytest.mark.parametrize("check", METHOD_CHECKS, ids=lambda c: c.__name__)
    def test_conformance(check):
        check("my-method")

or from the shell: ``sslbench check-plugin NAME`` (any kind). Each check raises AssertionError
with one line saying which part of the contract the plugin broke, or :class:`CheckSkipped` when it
cannot run here (a dataset check without a data root).
"""

from __future__ import annotations

import inspect
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from ..contract.errors import PluginError, SSLBenchError, UnknownNameError
from ..contract.loading import registries
from .backbones import BACKBONE_CHECKS, check_backbone, check_backbone_modality, check_backbone_options
from .common import TINY_SETS, CheckSkipped, contract_message, one_line
from .datasets import (DATASET_CHECKS, check_dataset_determinism, check_dataset_missing_root,
                       check_dataset_registration, check_dataset_splits)
from .methods import (METHOD_CHECKS, check_checkpoint_roundtrip, check_determinism, check_loss, check_registration,
                      check_training_step, check_views)
from .protocols import PROTOCOL_CHECKS, check_protocol_determinism, check_protocol_metrics, check_protocol_registration

__all__ = [
    "METHOD_CHECKS", "DATASET_CHECKS", "PROTOCOL_CHECKS", "BACKBONE_CHECKS", "CHECKS", "TINY_SETS",
    "CheckResult", "CheckSkipped", "run_checks", "kinds_of",
    "check_registration", "check_views", "check_loss", "check_training_step", "check_checkpoint_roundtrip",
    "check_determinism", "check_dataset_registration", "check_dataset_missing_root", "check_dataset_splits",
    "check_dataset_determinism", "check_protocol_registration", "check_protocol_metrics",
    "check_protocol_determinism", "check_backbone", "check_backbone_modality", "check_backbone_options",
]

#: the checks of each kind of plugin object, in the order ``check-plugin`` runs them
CHECKS: dict[str, tuple[Callable[..., None], ...]] = {
    "method": METHOD_CHECKS, "dataset": DATASET_CHECKS, "protocol": PROTOCOL_CHECKS, "backbone": BACKBONE_CHECKS,
}
_REGISTRY = {"method": "methods", "dataset": "datasets", "protocol": "protocols", "backbone": "backbones"}


@dataclass
class CheckResult:
    """One check's outcome: ``ok`` (passed or skipped), ``skipped``, the one-line ``message`` and,
    for a failure, the ``traceback`` that ``sslbench --debug check-plugin`` prints."""

    name: str
    ok: bool
    message: str = ""
    skipped: bool = False
    traceback: str = ""
    kind: str = ""


def kinds_of(name: str) -> list[str]:
    """The kinds of plugin object registered as ``name`` (a backbone ``prefix:variant`` included);
    none: an UnknownNameError listing the closest names of every kind."""
    regs = registries()
    found = [kind for kind, attr in _REGISTRY.items() if name in getattr(regs, attr)]
    if not found and ":" in name and name.split(":", 1)[0] + ":" in regs.backbones:
        found = ["backbone"]
    if not found:
        import difflib

        names = {n: kind for kind, attr in _REGISTRY.items() for n in getattr(regs, attr).list()}
        close = difflib.get_close_matches(name, list(names), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(f'{names[c]} {c!r}' for c in close)}?" if close else ""
        raise UnknownNameError(f"unknown plugin object {name!r}: not a registered method, dataset, protocol or "
                               f"backbone{hint} (see sslbench list)")
    return found


def _run(check: Callable[..., None], name: str, options: dict[str, Any], kind: str) -> CheckResult:
    accepted = inspect.signature(check).parameters
    try:
        check(name, **{k: v for k, v in options.items() if k in accepted and v is not None})
        return CheckResult(check.__name__, True, kind=kind)
    except CheckSkipped as exc:
        return CheckResult(check.__name__, True, one_line(str(exc)), skipped=True, kind=kind)
    except AssertionError as exc:
        message, trace = one_line(str(exc)) or "assertion failed", traceback.format_exc()
    except PluginError as exc:
        message, trace = one_line(contract_message(exc)), traceback.format_exc()
    except SSLBenchError as exc:
        message, trace = one_line(str(exc)), traceback.format_exc()
    except Exception as exc:  # a crash is a failed check, reported like one
        message, trace = one_line(f"{type(exc).__name__}: {exc}"), traceback.format_exc()
    return CheckResult(check.__name__, False, message, traceback=trace, kind=kind)


def run_checks(name: str, kind: str | None = None, root: str | None = None, dataset: str | None = None) -> list[CheckResult]:
    """Run every check that applies to ``name`` (of ``kind``; else of each kind it is registered as).
    ``root``: the data root of a dataset (or of the protocol's ``dataset``, default digits)."""
    kinds = [kind] if kind else kinds_of(name)
    if kind:
        if kind not in CHECKS:
            raise SSLBenchError(f"unknown plugin kind {kind!r}: expected one of {', '.join(CHECKS)}")
        getattr(registries(), _REGISTRY[kind]).entry(name)  # unknown: the registry's error with close matches
    _check_data_root(name, kinds, root, dataset)
    options = {"root": root, "dataset": dataset}
    return [_run(check, name, options, k) for k in kinds for check in CHECKS[k]]


def _check_data_root(name: str, kinds: list[str], root: str | None, dataset: str | None) -> None:
    """A ``root`` that is missing or unreadable is bad input (one DatasetError line, exit 2), not a
    contract failure of the dataset: checked before any check runs, as ``sslbench run`` does."""
    from ..runner import _check_root_exists

    if not root:
        return
    regs = registries()
    datasets = {"dataset": name, "protocol": dataset or "digits"}
    for kind in kinds:
        if kind in datasets and datasets[kind] in regs.datasets:
            _check_root_exists(regs.datasets.get(datasets[kind]), root)
