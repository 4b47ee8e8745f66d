"""Typed registries of named plugin objects, queried like timm's ``list_models``."""

from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass
from typing import Callable, Generic, Iterator, TypeVar

from .errors import DuplicateNameError, UnknownNameError

T = TypeVar("T")


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered object and the plugin that registered it."""

    name: str
    obj: T
    plugin: str


class Registry(Generic[T]):
    """Name -> object for one kind (methods, backbones, ...); duplicates raise, unknowns suggest.

    A name ending in ``:`` (e.g. ``timm:``) registers a *namespace*: ``get("timm:resnet50")``
    returns the namespace's object, and callers pass the part after the colon on.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, obj: T, plugin: str = "<unknown>") -> None:
        """Add ``obj`` under ``name``; a second registration of the same name raises."""
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*:?", name):
            raise ValueError(
                f"invalid {self.kind} name {name!r}: expected letters, digits, '_', '-' or '.'"
            )
        if name in self._entries:
            first = self._entries[name].plugin
            raise DuplicateNameError(
                f"{self.kind} {name!r} is registered twice: by plugin {first!r} and by plugin {plugin!r}"
            )
        self._entries[name] = Entry(name, obj, plugin)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests use this to undo a throwaway registration)."""
        self._entries.pop(name, None)

    def entry(self, name: str) -> Entry[T]:
        """The entry for ``name``, or an error listing the closest registered names."""
        if name in self._entries:
            return self._entries[name]
        if ":" in name:
            prefix = name.split(":", 1)[0] + ":"
            if prefix in self._entries and name != prefix:
                return self._entries[prefix]
        close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(self.list()) or "none"
        raise UnknownNameError(f"unknown {self.kind} {name!r}{hint} (registered: {known})")

    def get(self, name: str) -> T:
        """The object registered under ``name`` (or its ``prefix:`` namespace)."""
        return self.entry(name).obj

    def list(self, pattern: str | None = None) -> list[str]:
        """Registered names, naturally sorted, optionally filtered by a glob such as ``res*``."""
        names = sorted(self._entries, key=_natural_key)
        if pattern:
            names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        return names

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[n] for n in self.list())

    def __len__(self) -> int:
        return len(self._entries)


Register = Callable[..., None]
