"""SCE (Similarity Contrastive Estimation, the thesis's chapter 4) as an sslbench plugin."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

from sslbench import hookimpl
from sslbench.config import check
from sslbench.method import MomentumMethod, load_presets


@dataclass
class SCEParams:
    """Hyper-parameters of SCE; ``--set sce.<field>=value`` overrides them.

    ``lam`` is the thesis's lambda (``lambda_`` in Algorithm A.1; ``lambda`` is a Python keyword):
    the weight of the contrastive one-hot target against the relational one (eq. 4.8).
    ``lam_end`` / ``tau_m_end``: when set, lambda / tau_m follow a half cosine from ``lam`` /
    ``tau_m`` at the first step to these values at the last (the thesis's 4.4.3 suggests a lambda
    that varies over training); unset (null), they stay constant.
    ``target_variant``: ``zero-logit`` (Algorithm A.1 and the released code, the published
    numbers) or ``masked`` (eq. 4.5 exactly, under which Propositions 1 and 2 are identities).
    """

    lam: float = 0.5
    tau: float = 0.1
    tau_m: float = 0.07
    target_variant: Literal["zero-logit", "masked"] = "zero-logit"
    lam_end: Optional[float] = None
    tau_m_end: Optional[float] = None

    def __post_init__(self) -> None:
        check(0.0 <= self.lam <= 1.0, "sce.lam", self.lam, "a value in [0, 1]")
        check(self.tau > 0, "sce.tau", self.tau, "a positive number")
        check(self.tau_m > 0, "sce.tau_m", self.tau_m, "a positive number")
        check(self.target_variant in ("zero-logit", "masked"), "sce.target_variant", self.target_variant,
              "'zero-logit' or 'masked'")
        if self.lam_end is not None:
            check(0.0 <= self.lam_end <= 1.0, "sce.lam_end", self.lam_end, "a value in [0, 1] or null")
        if self.tau_m_end is not None:
            check(self.tau_m_end > 0, "sce.tau_m_end", self.tau_m_end, "a positive number or null")


class SCE(MomentumMethod):
    """Soft contrastive target: lambda * one-hot positive + (1 - lambda) * sharp relations (eqs. 4.8-4.10)."""

    name = "sce"
    Params = SCEParams
    presets = load_presets(Path(__file__).with_name("presets.yaml"))
    needs_queue = True
    description = "SCE: contrastive and relational learning mixed in one soft target (thesis ch. 4)"

    def __init__(self, params, config) -> None:
        super().__init__(params, config)
        self.lam = params.lam
        self.tau_m = params.tau_m

    def on_step(self, step: int, total_steps: int) -> None:
        """Move the scheduled lambda and tau_m along their cosine to this step."""
        from sslbench.engine.schedules import cosine_value

        p = self.params
        if p.lam_end is not None:
            self.lam = cosine_value(step, total_steps, p.lam, p.lam_end)
        if p.tau_m_end is not None:
            self.tau_m = cosine_value(step, total_steps, p.tau_m, p.tau_m_end)

    def loss(self, online, target, queue):
        from .loss import sce_loss

        return sce_loss(online, target, queue, self.lam, self.params.tau, self.tau_m, self.params.target_variant)


@hookimpl
def register_methods(register):
    register(SCE)
