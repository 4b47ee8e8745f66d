"""``train.tensorboard=true``: the training scalars in ``<run>/tensorboard`` through
``torch.utils.tensorboard`` (the optional ``tensorboard`` extra), as PyTorch users read long runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..contract.errors import ConfigError

FOLDER = "tensorboard"


def require_tensorboard() -> None:
    """A one-line ConfigError when the ``tensorboard`` package is missing (checked before training)."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise ConfigError("invalid value true for train.tensorboard: the tensorboard package is not installed; "
                          "expected `pip install 'sslbench[tensorboard]'` (or train.tensorboard=false)") from None


class Scalars:
    """Writes step scalars (loss, lr, momentum, lambda, data wait) and epoch scalars (throughput,
    step time split) to one TensorBoard event folder; a no-op when disabled."""

    def __init__(self, run_dir: Path | None) -> None:
        self.writer = None
        if run_dir is not None:
            require_tensorboard()
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(Path(run_dir) / FOLDER))

    def step(self, step: int, values: dict[str, Any]) -> None:
        """``values`` at ``step``, those that are numbers (a method without a lambda logs none)."""
        if self.writer is None:
            return
        for name, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"train/{name}", float(value), step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
            self.writer = None
