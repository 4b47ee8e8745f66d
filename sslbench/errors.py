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
