"""The hyper-parameters of a plugin object that has none (methods and protocols share it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class NoParams:
    """A method or protocol without hyper-parameters of its own."""
