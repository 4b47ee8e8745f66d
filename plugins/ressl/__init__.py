"""ReSSL (relational self-supervised learning, Zheng et al. 2021) as an sslbench plugin."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sslbench import hookimpl
from sslbench.config import check
from sslbench.method import MomentumMethod, load_presets


@dataclass
class ReSSLParams:
    """Online temperature ``tau`` and sharper target temperature ``tau_m`` (ReSSL: 0.1 / 0.04)."""

    tau: float = 0.1
    tau_m: float = 0.04

    def __post_init__(self) -> None:
        check(self.tau > 0, "ressl.tau", self.tau, "a positive number")
        check(self.tau_m > 0, "ressl.tau_m", self.tau_m, "a positive number")


class ReSSL(MomentumMethod):
    """Relations of a strong view to the queue match the sharper relations of a weak view (eqs. 4.4-4.6).

    The target branch sees the ``weak`` augmentation by default (preset ``ssl.target_aug: weak``).
    """

    name = "ressl"
    Params = ReSSLParams
    presets = load_presets(Path(__file__).with_name("presets.yaml"))
    needs_queue = True
    description = "ReSSL: relational loss between a strong view and a weak view over a queue"

    def loss(self, online, target, queue):
        from .loss import ressl_loss

        return ressl_loss(online, target, queue, self.params.tau, self.params.tau_m)


@hookimpl
def register_methods(register):
    register(ReSSL)
