"""MoCo (v2 defaults; v3-style predictor and symmetric loss as options) as an sslbench plugin."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sslbench import hookimpl
from sslbench.config import check
from sslbench.method import MomentumMethod, load_presets


@dataclass
class MoCoParams:
    """InfoNCE temperature (MoCo v2: 0.2)."""

    temperature: float = 0.2

    def __post_init__(self) -> None:
        check(self.temperature > 0, "moco.temperature", self.temperature, "a positive number")


class MoCo(MomentumMethod):
    """InfoNCE against a momentum encoder's queue (eq. 4.3)."""

    name = "moco"
    Params = MoCoParams
    presets = load_presets(Path(__file__).with_name("presets.yaml"))
    description = "MoCo v2: InfoNCE with a momentum encoder and a queue of negatives"

    def loss(self, online, target, queue):
        from .loss import infonce_loss

        return infonce_loss(online, target, queue, self.params.temperature)


@hookimpl
def register_methods(register):
    register(MoCo)
