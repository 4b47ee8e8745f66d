"""Checks where core code receives what plugin code returned: a broken plugin fails in one line
naming it (``plugin 'X' (method 'simclr'): loss must be a scalar, got (256,)``), not with a
traceback deep inside the engine or an ``sqlite3.IntegrityError`` at the very end of a run."""

from __future__ import annotations

import math
import numbers
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

from ..contract.errors import SSLBenchError
from ..contract.protocol import Metric


def _error(kind: str, name: str, message: str) -> SSLBenchError:
    from ..contract.loading import plugin_error

    return plugin_error(kind, name, message)


def checked_loss(loss: Any, method: str) -> Any:
    """``loss`` itself when it is a scalar tensor, the only thing ``backward()`` and the loss log take."""
    import torch

    if not isinstance(loss, torch.Tensor):
        raise _error("method", method, f"loss must be a scalar tensor, got {type(loss).__name__}")
    if loss.ndim != 0:
        raise _error("method", method, f"loss must be a scalar, got {tuple(loss.shape)}")
    if not loss.is_floating_point():
        raise _error("method", method, f"loss must be a floating-point scalar, got {loss.dtype}")
    return loss


def learner_loss(output: Any, method: str) -> Any:
    """The ``"loss"`` entry of a learner's forward output, checked by :func:`checked_loss`."""
    if not isinstance(output, dict) or "loss" not in output:
        got = f"a dict without 'loss' (keys {sorted(output)})" if isinstance(output, dict) else type(output).__name__
        raise _error("method", method, f"the learner's forward must return a dict with a 'loss' entry, got {got}")
    return checked_loss(output["loss"], method)


def checked_metrics(result: Any, protocol: str) -> list[Metric]:
    """``result`` as a list of :class:`Metric` with string names and finite numbers, else an error
    naming the protocol's plugin (a NaN would otherwise reach the store as NULL and fail there)."""
    if not isinstance(result, (list, tuple)):
        raise _error("protocol", protocol, f"evaluate() must return a list of Metric, got {type(result).__name__}")
    seen: set[str] = set()
    for item in result:
        if not isinstance(item, Metric):
            raise _error("protocol", protocol, f"evaluate() must return a list of Metric, got an item of type "
                                               f"{type(item).__name__}")
        if not isinstance(item.name, str) or not item.name:
            raise _error("protocol", protocol, f"metric name must be a non-empty string, got {item.name!r}")
        if item.name in seen:
            raise _error("protocol", protocol, f"metric {item.name!r} is returned twice")
        seen.add(item.name)
        value = item.value
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise _error("protocol", protocol, f"metric {item.name!r} must be a number, got "
                                               f"{type(value).__name__}")
        if not math.isfinite(float(value)):
            raise _error("protocol", protocol, f"metric {item.name!r} is {float(value)}: expected a finite number")
        if not isinstance(item.higher_is_better, (bool, np.bool_)):
            raise _error("protocol", protocol, f"metric {item.name!r}: higher_is_better must be true or false, got "
                                               f"{item.higher_is_better!r}")
    return list(result)


@contextmanager
def plugin_code(kind: str, name: str) -> Iterator[None]:
    """Run plugin code: an exception it raises becomes one line naming the plugin (``--debug``
    shows the original traceback, chained); sslbench's own errors and Ctrl-C pass unchanged."""
    try:
        yield
    except SSLBenchError:
        raise
    except Exception as exc:
        text = " ".join(str(exc).split())
        detail = f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__
        raise _error(kind, name, f"raised {detail}") from exc


def checked_views(views: Any, needed: int, method: str, what: str) -> Any:
    """``views`` when the learner received at least ``needed`` of them (``what`` says which), else
    one line naming the method: a bare ``IndexError`` would not say that ``view_augmentations``
    returned too few."""
    count = len(views) if isinstance(views, (list, tuple)) else 0
    if count < needed:
        raise _error("method", method, f"received {count} view(s), expected at least {needed} ({what}): "
                                       f"view_augmentations() must return one augmentation per view")
    return views


def checked_backbone_options(name: str, build: Any, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` when ``build`` takes each of them by name, else a ConfigError naming the unknown
    one and the valid ones (a builder that is a plain function gets the check its contract asks for
    without writing it; one with ``**options`` checks its own)."""
    import inspect

    try:
        params = list(inspect.signature(build).parameters.values())[2:]  # after (variant, in_chans)
    except (TypeError, ValueError):  # no signature to read: the builder checks its options itself
        return options
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return options
    valid = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise unknown_backbone_option(name, unknown[0], valid)
    return options


def unknown_backbone_option(name: str, option: str, valid: list[str]) -> "ConfigError":
    """The one-line error for ``option`` not among the ``valid`` options of backbone ``name``,
    with the closest valid one as a suggestion."""
    import difflib

    from ..contract.errors import ConfigError

    close = difflib.get_close_matches(option, valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown option {option!r} for backbone {name!r} in model.backbone_options{hint} "
                       f"(expected one of: {', '.join(valid) or 'none'})")
