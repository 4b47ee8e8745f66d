"""BYOL (Grill et al., 2020) as a third-party sslbench plugin: a predictor, no negatives."""

from __future__ import annotations

from dataclasses import dataclass

from sslbench import MomentumMethod, hookimpl


@dataclass
class BYOLParams:
    """BYOL has no hyper-parameter of its own: the predictor and EMA live in the shared config."""


class BYOL(MomentumMethod):
    """Regress the target projection from the online prediction: 2 - 2 cos(p, z) (BYOL eq. 2)."""

    name = "byol"
    Params = BYOLParams
    description = "BYOL: online predictor regresses the momentum target, no negatives"
    presets = {
        # BYOL: symmetric loss, 2-layer predictor, no queue, EMA from 0.996 (0.99 on small data).
        "*": {"ssl": {"queue_size": 0, "symmetric": True, "momentum": 0.996},
              "model": {"predictor_layers": 2, "predictor_hidden": 512}},
        "digits": {"ssl": {"momentum": 0.99},
                   "model": {"projector_hidden": 256, "projector_out": 64, "predictor_hidden": 256},
                   "train": {"epochs": 40, "batch_size": 128, "lr": 0.12, "warmup_epochs": 2}},
    }

    def loss(self, online, target, queue):
        return 2 - 2 * (online * target).sum(1).mean()


@hookimpl
def register_methods(register):
    register(BYOL)
