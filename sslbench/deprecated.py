"""Old import paths kept working for one release: each is the moved module itself, with a warning."""

from __future__ import annotations

import importlib
import sys
import warnings


def moved(old: str, new: str) -> None:
    """Make module ``old`` an alias of ``new`` (same object: monkeypatching and pickles keep working)
    and warn the code importing ``old``: a third-party plugin gets one release to switch."""
    module = importlib.import_module(new)
    warnings.warn(f"{old} is deprecated and will be removed in the next release: import {new} instead",
                  DeprecationWarning, stacklevel=3)  # the importer's line (import machinery frames are skipped)
    sys.modules[old] = module
