"""The method contract, checked: registration, views, a scalar loss whose gradient reaches the online
branch only, one training step, a checkpoint round trip and seeded determinism."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

from ..contract.errors import PluginError
from ..contract.loading import registries
from .common import CheckSkipped, check_plugin_class, contract_message, tiny_config

__all__ = ["METHOD_CHECKS", "check_registration", "check_views", "check_loss", "check_training_step",
           "check_checkpoint_roundtrip", "check_determinism"]

BATCH = 16


def _method_class(name: str) -> Any:
    return registries().methods.get(name)


def _trains(name: str) -> bool:
    """Methods without pretraining (e.g. ``random``) have no learner to check."""
    return bool(_method_class(name).trains)


def _config(name: str) -> Any:
    cls = _method_class(name)
    if not cls.accepts("image"):
        raise CheckSkipped(f"the kit trains on digits (images); {name!r} takes {cls.modalities or cls.modality}")
    return tiny_config(name)


def _build(name: str, seed: int = 0) -> tuple[Any, Any, Any]:
    import torch

    from ..engine.trainer import build_backbone

    regs = registries()
    config = _config(name)
    method = regs.methods.get(name)(config.method_params, config)
    torch.manual_seed(seed)
    channels = regs.datasets.get(config.dataset).channels
    backbone = build_backbone(regs, config.model.backbone, channels, config.model.backbone_options)
    return config, method, method.build(backbone, 10)


def _views(method: Any, n: int = BATCH, seed: int = 0) -> list[Any]:
    """One random batch per view the method asks for (the sizes of its augmentations)."""
    import torch

    from ..contract.augmentations import get_augmentation

    g = torch.Generator().manual_seed(seed)
    size = method.config.data.input_size
    specs = [get_augmentation(v) for v in method.view_augmentations()]
    return [torch.randn(n, 1, s.size or size, s.size or size, generator=g) for s in specs]


def views_needed(method: Any) -> tuple[int, str]:
    """How many views the engine's learner of ``method`` needs, and what they are."""
    from ..method import MomentumMethod, SiameseMethod

    if isinstance(method, MomentumMethod):
        return 2, "an online and a target view"
    if isinstance(method, SiameseMethod):
        return method.num_views, f"num_views = {method.num_views}"
    return 1, "at least one"


def _scalar(loss: Any, where: str) -> Any:
    """``loss`` when it is a finite floating-point scalar tensor, else the one-line contract."""
    import torch

    if not isinstance(loss, torch.Tensor):
        raise AssertionError(f"{where} must return a scalar tensor, got {type(loss).__name__}")
    if loss.ndim != 0:
        raise AssertionError(f"{where} must return a scalar tensor (the mean over the batch), got shape "
                             f"{tuple(loss.shape)}")
    assert loss.is_floating_point(), f"{where} must return a floating-point scalar, got {loss.dtype}"
    assert torch.isfinite(loss), f"{where} must be finite, got {loss.item()}"
    return loss


def _step_loss(learner: Any, method: Any, name: str) -> Any:
    """The scalar loss of one training step on random views, a broken contract as one assertion line."""
    import torch

    from ..engine.plugin_checks import learner_loss

    try:
        loss = learner_loss(learner.training_step(_views(method), torch.randint(0, 10, (BATCH,))), name)
    except PluginError as exc:
        raise AssertionError(contract_message(exc)) from exc
    return _scalar(loss, "training_step()['loss']")


def check_registration(name: str) -> None:
    """Registered under its own name, with a defaulted Params dataclass, presets and a description."""
    from ..config import unused_keys

    regs = registries()
    assert name in regs.methods, f"method {name!r} is not registered (registered: {regs.methods.list()})"
    cls = regs.methods.get(name)
    check_plugin_class(cls, name)
    assert isinstance(cls.presets, dict) or hasattr(cls.presets, "items"), "presets must map dataset -> overrides"
    unused_keys(cls)  # unused_config names real config keys
    if cls.accepts("image"):
        tiny_config(name)  # presets and Params resolve and validate


def check_views(name: str) -> None:
    """``view_augmentations()`` names known augmentations, as many as the learner needs."""
    from ..contract.augmentations import get_augmentation

    if not _trains(name):
        return
    _, method, _ = _build(name)
    specs = method.view_augmentations()
    assert isinstance(specs, (list, tuple)), f"view_augmentations() must return a list, got {type(specs).__name__}"
    for spec in specs:
        get_augmentation(spec)  # an unknown name is a ConfigError with close matches
    needed, what = views_needed(method)
    assert len(specs) >= needed, (f"view_augmentations() returns {len(specs)} view(s), expected at least {needed} "
                                  f"({what})")


def check_loss(name: str) -> None:
    """The loss is a finite scalar (not one value per sample) with a gradient on the online embeddings."""
    import torch
    import torch.nn.functional as F

    from ..method import MomentumMethod, SiameseMethod

    if not _trains(name):
        return
    _, method, learner = _build(name)
    g = torch.Generator().manual_seed(0)

    def unit(rows: int, grad: bool = True) -> Any:
        return F.normalize(torch.randn(rows, 16, generator=g), dim=1).requires_grad_(grad)

    if isinstance(method, MomentumMethod):
        online = unit(8)
        loss = _scalar(method.loss(online, unit(8, False), unit(32, False)), "loss(online, target, queue)")
        loss.backward()
        grads = [online.grad]
    elif isinstance(method, SiameseMethod):
        z = [unit(8) for _ in range(method.num_views)]
        p = z if learner.predictor is None else [unit(8) for _ in z]
        loss = _scalar(method.loss(z, p), "loss(z, p)")
        loss.backward()
        grads = [t.grad for t in (*z, *p) if t.grad is not None] or [None]
    else:  # a learner of its own: its training step's loss
        learner.train()
        loss = _step_loss(learner, method, name)
        loss.backward()
        grads = [p.grad for p in learner.backbone.parameters() if p.grad is not None] or [None]
    assert all(gr is not None and torch.isfinite(gr).all() for gr in grads), "loss has no finite gradient"
    assert any(gr.abs().sum() > 0 for gr in grads), "loss gradient w.r.t. the online embeddings is zero"


def check_training_step(name: str) -> None:
    """One step's gradient reaches the online backbone and no frozen (target) parameter; the step
    changes online weights; target weights move only in ``after_step`` (EMA)."""
    import torch


    if not _trains(name):
        return
    _, method, learner = _build(name)
    learner.train()
    trainable = [p for p in learner.parameters() if p.requires_grad]
    frozen = {k: v.detach().clone() for k, v in learner.named_parameters() if not v.requires_grad}
    before = [p.detach().clone() for p in trainable]
    opt = torch.optim.SGD(trainable, lr=0.1)
    loss = _step_loss(learner, method, name)
    loss.backward()
    reached = [p for p in learner.backbone.parameters() if p.requires_grad and p.grad is not None]
    assert any(p.grad.abs().sum() > 0 for p in reached), "the loss's gradient does not reach the online backbone"
    target = {id(p) for p in learner.target_parameters()} if callable(getattr(learner, "target_parameters", None)) \
        else set()
    for k, v in learner.named_parameters():
        assert id(v) not in target or not (v.requires_grad or v.grad is not None), \
            f"target parameter {k} is trained by the optimiser: the target branch gets no gradient, it follows " \
            f"the online branch by EMA in after_step"
        assert v.requires_grad or v.grad is None, f"frozen parameter {k} received a gradient"
    opt.step()
    assert any(not torch.equal(a, p) for a, p in zip(before, trainable)), "one step left the online weights unchanged"
    for k, v in learner.named_parameters():
        if k in frozen:
            assert torch.equal(frozen[k], v), f"non-trainable parameter {k} changed outside after_step"
    learner.after_step(0, 10)


def check_checkpoint_roundtrip(name: str) -> None:
    """The learner's state saves and loads with ``torch.load(weights_only=True)`` unchanged."""
    import torch

    from ..engine import checkpoint

    if not _trains(name):
        return
    _, _, learner = _build(name, seed=0)
    _, _, fresh = _build(name, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.pt"
        checkpoint.save(learner.state_dict(), path)
        fresh.load_state_dict(checkpoint.load(path))
    assert any(k.startswith("backbone.") for k in learner.state_dict()), "the learner's state holds no backbone.*"
    for (k, a), b in zip(learner.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), f"state {k} differs after a save/load round trip"


def check_determinism(name: str) -> None:
    """Two pretrainings with the same seed give bit-identical backbones."""
    import torch

    from ..engine.trainer import pretrain

    regs = registries()
    cls = regs.methods.get(name)
    if not cls.trains:
        return
    weights = []
    for _ in range(2):
        config = _config(name)
        with tempfile.TemporaryDirectory() as tmp:
            out = pretrain(config, cls(config.method_params, config), regs.datasets.get("digits"), regs, Path(tmp),
                           progress=False)
        weights.append(out.backbone.state_dict())
    for k in weights[0]:
        assert torch.equal(weights[0][k], weights[1][k]), f"backbone {k} differs between two runs with seed 0"


METHOD_CHECKS: tuple[Callable[[str], None], ...] = (
    check_registration, check_views, check_loss, check_training_step, check_checkpoint_roundtrip, check_determinism,
)
