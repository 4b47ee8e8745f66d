"""Split (issue 16): :class:`DatasetSpec` and the normalisation constants are in
:mod:`sslbench.contract.dataset`, opening and checking splits in :mod:`sslbench.engine.splits`.
This old path works, with a DeprecationWarning, for one release."""

import importlib
import warnings
from typing import Any

from .contract.dataset import IMAGENET_MEAN, IMAGENET_STD, DatasetSpec  # noqa: F401

warnings.warn("sslbench.data is deprecated and will be removed in the next release: import "
              "sslbench.contract.dataset (DatasetSpec) or sslbench.engine.splits (open_split, check_dataset) instead",
              DeprecationWarning, stacklevel=2)


def __getattr__(name: str) -> Any:
    """The engine's names, looked up when used (the old module sits below the engine's layer)."""
    return getattr(importlib.import_module("sslbench.engine.splits"), name)
