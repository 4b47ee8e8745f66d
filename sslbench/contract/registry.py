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

    The plugin loader records a name two plugins register with :meth:`contest` instead: only
    asking for that name fails, every other name (and the CLI) keeps working.

    A name ending in ``:`` (e.g. ``timm:``) registers a *namespace*: ``get("timm:resnet50")``
    returns the namespace's object, and callers pass the part after the colon on.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        #: names two or more plugins registered: unusable until the user picks one (see :meth:`contest`)
        self._contested: dict[str, list[str]] = {}
        #: extra text for errors, set by the plugin loader: why a name may be missing (a plugin
        #: that failed to load) and how to settle a conflict (which plugins to load)
        self.unknown_hint: Callable[[str], str] = lambda name: ""
        self.conflict_hint: Callable[[list[str]], str] = lambda plugins: ""

    def register(self, name: str, obj: T, plugin: str = "<unknown>") -> None:
        """Add ``obj`` under ``name``; a second registration of the same name raises."""
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*:?", name):
            raise ValueError(
                f"invalid {self.kind} name {name!r}: expected letters, digits, '_', '-' or '.'"
            )
        if name in self._entries or name in self._contested:
            first = self._entries[name].plugin if name in self._entries else self._contested[name][0]
            raise DuplicateNameError(
                f"{self.kind} {name!r} is registered twice: by plugin {first!r} and by plugin {plugin!r}"
            )
        self._entries[name] = Entry(name, obj, plugin)

    def contest(self, name: str, plugin: str) -> None:
        """Record that ``plugin`` registered ``name`` too: the name is withdrawn, and asking for it
        raises an error naming every registrant (a benchmark keys results by name: never guess)."""
        first = self._entries.pop(name, None)
        owners = self._contested.setdefault(name, [first.plugin] if first is not None else [])
        owners.append(plugin)

    def conflicts(self) -> dict[str, list[str]]:
        """Contested names -> the plugins that registered them, in registration order."""
        return {name: list(self._contested[name]) for name in sorted(self._contested, key=_natural_key)}

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests use this to undo a throwaway registration)."""
        self._entries.pop(name, None)
        self._contested.pop(name, None)

    def entry(self, name: str) -> Entry[T]:
        """The entry for ``name``, or an error listing the closest registered names."""
        if name in self._entries:
            return self._entries[name]
        if name in self._contested:
            owners = self._contested[name]
            who = (f"twice by plugin {owners[0]!r}" if len(set(owners)) == 1
                   else "by plugins " + " and ".join(repr(p) for p in dict.fromkeys(owners)))
            raise DuplicateNameError(f"{self.kind} {name!r} is registered {who}{self.conflict_hint(owners)}")
        if ":" in name:
            prefix = name.split(":", 1)[0] + ":"
            if prefix in self._entries and name != prefix:
                return self._entries[prefix]
            if prefix in self._contested:
                return self.entry(prefix)
        close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(self.list()) or "none"
        raise UnknownNameError(f"unknown {self.kind} {name!r}{self.unknown_hint(name)}{hint} (registered: {known})")

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
        return name in self._entries  # a contested name is not usable, so not "in" the registry

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[n] for n in self.list())

    def __len__(self) -> int:
        return len(self._entries)


Register = Callable[..., None]
