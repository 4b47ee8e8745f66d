"""Conformance kit for plugin authors: the checks every shipped plugin passes.

Use it from your own pytest suite::

    import pytest
    from sslbench.testing import METHOD_CHECKS

    @pytest.mark.parametrize("check", METHOD_CHECKS, ids=lambda c: c.__name__)
    def test_conformance(check):
        check("my-method")

or from the shell: ``sslbench check-plugin my-method``. Each check raises AssertionError
with a message saying what the plugin got wrong.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .plugins import registries

#: A tiny, fast setting: digits at 8x8, a 4-channel CNN, a 32-entry queue.
TINY_SETS: dict[str, Any] = {
    "data": {"input_size": 8},
    "model": {"backbone": "convnet-small", "backbone_options": {"width": 4}, "projector_hidden": 16,
              "projector_out": 8, "predictor_hidden": 16},
    "ssl": {"queue_size": 32},
    "train": {"epochs": 1, "batch_size": 64, "max_steps": 2, "warmup_epochs": 0, "device": "cpu"},
}


def _tiny_config(name: str, dataset: str = "digits") -> Any:
    from .runner import resolve_config

    return resolve_config(name, dataset, ["knn"], sets=TINY_SETS)


def _trains(name: str) -> bool:
    """Methods without pretraining (e.g. ``random``) have no learner to check."""
    return bool(registries().methods.get(name).trains)


def _build(name: str, seed: int = 0) -> tuple[Any, Any, Any]:
    import torch

    from .engine.trainer import build_backbone

    regs = registries()
    config = _tiny_config(name)
    method = regs.methods.get(name)(config.method_params, config)
    torch.manual_seed(seed)
    backbone = build_backbone(regs, config.model.backbone, 1, config.model.backbone_options)
    return config, method, method.build(backbone, 10)


def _views(method: Any, n: int = 16, seed: int = 0) -> list[Any]:
    import torch

    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 1, 8, 8, generator=g) for _ in method.view_augmentations()]


def check_registration(name: str) -> None:
    """Registered under its own name, with a defaulted Params dataclass, presets and a description."""
    regs = registries()
    assert name in regs.methods, f"method {name!r} is not registered (registered: {regs.methods.list()})"
    cls = regs.methods.get(name)
    assert cls.name == name, f"class attribute name {cls.name!r} differs from the registry key {name!r}"
    assert dataclasses.is_dataclass(cls.Params), f"{cls.__name__}.Params must be a dataclass"
    try:
        cls.Params()
    except TypeError as exc:
        raise AssertionError(f"{cls.__name__}.Params() needs defaults for every field: {exc}") from None
    assert isinstance(cls.presets, dict) or hasattr(cls.presets, "items"), "presets must map dataset -> overrides"
    assert cls.description or cls.__doc__, f"{cls.__name__} needs a description (or a docstring)"
    _tiny_config(name)  # presets and Params resolve and validate


def check_loss(name: str) -> None:
    """The loss of a momentum method is a finite scalar whose gradient reaches the online side only."""
    import torch
    import torch.nn.functional as F

    from .method import MomentumMethod

    if not _trains(name):
        return
    config, method, _ = _build(name)
    if not isinstance(method, MomentumMethod):
        return
    g = torch.Generator().manual_seed(0)
    online = F.normalize(torch.randn(8, 16, generator=g, dtype=torch.float64), dim=1).requires_grad_()
    target = F.normalize(torch.randn(8, 16, generator=g, dtype=torch.float64), dim=1)
    queue = F.normalize(torch.randn(32, 16, generator=g, dtype=torch.float64), dim=1)
    loss = method.loss(online, target, queue)
    assert isinstance(loss, torch.Tensor) and loss.ndim == 0, f"loss must be a scalar tensor, got {loss!r}"
    assert torch.isfinite(loss), f"loss is not finite: {loss.item()}"
    loss.backward()
    assert online.grad is not None and torch.isfinite(online.grad).all(), "loss has no finite gradient"
    assert online.grad.abs().sum() > 0, "loss gradient w.r.t. the online embeddings is zero"


def check_training_step(name: str) -> None:
    """One step changes online weights; target weights move only in ``after_step`` (EMA)."""
    import torch

    if not _trains(name):
        return
    config, method, learner = _build(name)
    learner.train()
    trainable = [p for p in learner.parameters() if p.requires_grad]
    frozen = {k: v.detach().clone() for k, v in learner.named_parameters() if not v.requires_grad}
    before = [p.detach().clone() for p in trainable]
    opt = torch.optim.SGD(trainable, lr=0.1)
    out = learner.training_step(_views(method), torch.randint(0, 10, (16,)))
    assert "loss" in out and torch.isfinite(out["loss"]), f"training_step must return a finite 'loss': {out}"
    out["loss"].backward()
    opt.step()
    assert any(not torch.equal(a, p) for a, p in zip(before, trainable)), "one step left the online weights unchanged"
    for k, v in learner.named_parameters():
        if k in frozen:
            assert torch.equal(frozen[k], v), f"non-trainable parameter {k} changed outside after_step"
    learner.after_step(0, 10)


def check_checkpoint_roundtrip(name: str) -> None:
    """The learner's state saves and loads with ``torch.load(weights_only=True)`` unchanged."""
    import torch

    from .engine import checkpoint

    if not _trains(name):
        return
    _, method, learner = _build(name, seed=0)
    _, _, fresh = _build(name, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.pt"
        checkpoint.save(learner.state_dict(), path)
        fresh.load_state_dict(checkpoint.load(path))
    for (k, a), b in zip(learner.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), f"state {k} differs after a save/load round trip"


def check_determinism(name: str) -> None:
    """Two pretrainings with the same seed give bit-identical backbones."""
    import torch

    from .engine.trainer import pretrain

    regs = registries()
    cls = regs.methods.get(name)
    if not cls.trains:
        return
    weights = []
    for _ in range(2):
        config = _tiny_config(name)
        with tempfile.TemporaryDirectory() as tmp:
            out = pretrain(config, cls(config.method_params, config), regs.datasets.get("digits"), regs, Path(tmp),
                           progress=False)
        weights.append(out.backbone.state_dict())
    for k in weights[0]:
        assert torch.equal(weights[0][k], weights[1][k]), f"backbone {k} differs between two runs with seed 0"


METHOD_CHECKS: tuple[Callable[[str], None], ...] = (
    check_registration, check_loss, check_training_step, check_checkpoint_roundtrip, check_determinism,
)


def check_backbone(name: str) -> None:
    """A backbone maps (B, C, H, W) to (B, num_features)."""
    import torch

    from .engine.trainer import build_backbone

    net = build_backbone(registries(), name, 3, {})
    out = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, net.num_features), f"{name} returned {tuple(out.shape)}, expected (2, {net.num_features})"


@dataclass
class CheckResult:
    name: str
    ok: bool
    message: str = ""


def run_checks(name: str) -> list[CheckResult]:
    """Run every check that applies to ``name`` (a method or a backbone)."""
    regs = registries()
    if name in regs.methods:
        checks: tuple[Callable[[str], None], ...] = METHOD_CHECKS
    elif name in regs.backbones:
        checks = (check_backbone,)
    else:
        regs.methods.get(name)  # raises with close matches
        checks = ()
    results = []
    for check in checks:
        try:
            check(name)
            results.append(CheckResult(check.__name__, True))
        except AssertionError as exc:
            results.append(CheckResult(check.__name__, False, str(exc)))
        except Exception as exc:  # a crash is a failed check, reported like one
            results.append(CheckResult(check.__name__, False, f"{type(exc).__name__}: {exc}"))
    return results
