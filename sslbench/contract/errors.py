"""User-facing errors: one line, naming the bad value and what was expected."""

from __future__ import annotations


class SSLBenchError(Exception):
    """An error caused by the user's input; the CLI prints it as one line and exits 2."""


class ConfigError(SSLBenchError):
    """An invalid configuration value or key."""


class UnknownNameError(SSLBenchError, KeyError):
    """A name that no plugin registered."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class DuplicateNameError(SSLBenchError):
    """Two plugins registered the same name in one registry."""


class DatasetError(SSLBenchError):
    """A dataset root that is missing or does not have the expected layout."""


class TrainingError(SSLBenchError):
    """Training cannot go on (for example a non-finite loss)."""


class StoreError(SSLBenchError):
    """The results store cannot be read or written (corrupt file, disk full, lock timeout)."""


class PluginError(SSLBenchError):
    """A plugin broke its contract (a non-scalar loss, a NaN metric, an exception in its code).

    The message names the plugin that registered the object, so the user knows whom to blame:
    ``plugin 'X' (method 'simclr'): loss must be a scalar, got (256,)``.
    """

    def __init__(self, plugin: str, kind: str, name: str, message: str, distribution: str | None = None) -> None:
        origin = f" from {distribution}" if distribution and distribution != plugin else ""
        super().__init__(f"plugin {plugin!r}{origin} ({kind} {name!r}): {message}")
        self.plugin, self.kind, self.name, self.distribution = plugin, kind, name, distribution
