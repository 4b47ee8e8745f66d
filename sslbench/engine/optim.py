"""Optimisers: SGD, LARS (You et al. 2017, as in MoCo v3 / BYOL) and AdamW."""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn


def _eager(method):
    """A torch.optim method without its decorators (``__wrapped__``), one of which imports
    ``torch._dynamo`` on first use: 1-2 s at start-up, needed by compiled optimisers only."""
    while hasattr(method, "__wrapped__"):
        method = method.__wrapped__
    return method


class _Eager:
    """Mixin for torch.optim classes: the same methods and state dicts, run eagerly. ``step`` runs
    under ``no_grad`` as torch's wrapper does for non-differentiable optimisers; eager dispatch of
    the update functions is unchanged (they fall back to dynamo only while compiling)."""

    def add_param_group(self, param_group: dict) -> None:
        _eager(torch.optim.Optimizer.add_param_group)(self, param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        _eager(torch.optim.Optimizer.zero_grad)(self, set_to_none)

    def state_dict(self) -> dict:
        return _eager(torch.optim.Optimizer.state_dict)(self)

    def load_state_dict(self, state_dict: dict) -> None:
        _eager(torch.optim.Optimizer.load_state_dict)(self, state_dict)

    def step(self, closure=None):  # type: ignore[override]
        base = next(c for c in type(self).__mro__ if "step" in vars(c) and not issubclass(c, _Eager))
        with torch.no_grad():
            return _eager(vars(base)["step"])(self, closure)


class SGD(_Eager, torch.optim.SGD):
    """torch.optim.SGD without the torch._dynamo import (see :class:`_Eager`)."""


class AdamW(_Eager, torch.optim.AdamW):
    """torch.optim.AdamW without the torch._dynamo import (see :class:`_Eager`)."""


class LARS(_Eager, torch.optim.Optimizer):
    """SGD with layer-wise trust ratio ``eta * ||w|| / ||g + wd w||``; 1-D params (bias, BN) are
    excluded from both weight decay and adaptation, the common practice of MoCo v3 and BYOL."""

    def __init__(self, params: Iterable, lr: float, weight_decay: float = 0.0, momentum: float = 0.9, eta: float = 0.001) -> None:
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, eta=eta))

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p.grad
                if p.ndim > 1:
                    d = d.add(p, alpha=group["weight_decay"])
                    w_norm, g_norm = torch.norm(p), torch.norm(d)
                    trust = torch.where((w_norm > 0) & (g_norm > 0), group["eta"] * w_norm / g_norm, torch.ones_like(w_norm))
                    d = d.mul(trust)
                state = self.state[p]
                if "mu" not in state:
                    state["mu"] = torch.zeros_like(p)
                mu = state["mu"]
                mu.mul_(group["momentum"]).add_(d)
                p.add_(mu, alpha=-group["lr"])
        return loss


def build_optimizer(name: str, module: nn.Module, lr: float, weight_decay: float, momentum: float) -> torch.optim.Optimizer:
    """The optimiser ``name`` over the trainable parameters of ``module``."""
    params = [p for p in module.parameters() if p.requires_grad]
    if name == "sgd":
        return SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "lars":
        return LARS(params, lr=lr, weight_decay=weight_decay, momentum=momentum)
    if name == "adamw":
        return AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}: expected sgd, lars or adamw")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
