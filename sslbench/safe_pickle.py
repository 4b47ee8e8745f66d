"""Pickles from a data root, read without running code: only the types a dataset file holds.

``pickle.load`` calls whatever a file names (``os.system`` included), so a CIFAR folder from an
untrusted source could run anything. :func:`load` admits plain containers (built by pickle's own
opcodes) and numpy arrays, dtypes and scalars through numpy's reconstruct functions; any other
global is refused before it is looked up.
"""

from __future__ import annotations

import codecs
import importlib
import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


def _numpy_core(module: str) -> Any:
    """``numpy._core.<module>`` (numpy 2), else ``numpy.core.<module>`` (numpy 1)."""
    try:
        return importlib.import_module(f"numpy._core.{module}")
    except ImportError:  # pragma: no cover - numpy 1
        return importlib.import_module(f"numpy.core.{module}")


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles of ``bytes`` use it, limited to the text codecs."""
    if codecs.lookup(encoding).name not in ("latin-1", "iso8859-1", "utf-8"):
        raise pickle.UnpicklingError(f"codec {encoding!r} is not allowed")
    return codecs.encode(text, encoding, errors)


def _allowed() -> dict[tuple[str, str], Any]:
    multiarray, numeric = _numpy_core("multiarray"), _numpy_core("numeric")
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for prefix in ("numpy.core", "numpy._core"):  # files written under numpy 1 and numpy 2
        allowed[(f"{prefix}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{prefix}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{prefix}.numeric", "_frombuffer")] = numeric._frombuffer
    return allowed


class DataUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals in :func:`_allowed` (numpy arrays and scalars)."""

    _ALLOWED = _allowed()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a data file never needs "
                                         f"(refused: data files must not run code)") from None


def load_file(fh: BinaryIO, encoding: str = "ASCII") -> Any:
    """Unpickle ``fh`` with :class:`DataUnpickler` (``encoding="latin1"`` for Python 2 pickles)."""
    return DataUnpickler(fh, encoding=encoding).load()


def load(path: str | Path, encoding: str = "ASCII") -> Any:
    """Unpickle the file at ``path`` with :class:`DataUnpickler`."""
    with open(path, "rb") as fh:
        return load_file(fh, encoding)
