"""The extension API of sslbench: every hook a plugin can implement, on one screen.

Each ``register_<kind>s`` hook receives a ``register`` callback; calling it adds objects to the
registry of that kind. Plugins never touch the registries directly, so the core validates each
registration (a duplicate name raises naming both plugins) and can add keyword arguments to
``register`` later without breaking existing plugins. Keep heavy imports (torch, timm) inside
the registered objects' methods, not at module import: ``sslbench list`` stays fast.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("sslbench")
hookimpl = pluggy.HookimplMarker("sslbench")


@hookspec
def register_methods(register: Callable[[type], None]) -> None:
    """Register pretraining methods: ``register(MethodClass)``.

    ``MethodClass`` subclasses :class:`sslbench.method.Method` and sets ``name`` (the registry
    key used by ``--method``), ``Params`` (a dataclass of its hyper-parameters, validated in
    ``__post_init__``; ``--set <name>.<field>=value`` overrides them) and optionally ``presets``
    (dataset name -> config overrides). Most self-supervised methods subclass
    :class:`sslbench.method.MomentumMethod` and only implement ``loss(online, target, queue)``;
    the engine provides the online/target branches, EMA, queue and training loop.

    :param register: call once per method class.
    """


@hookspec
def register_backbones(register: Callable[..., None]) -> None:
    """Register encoders: ``register(name, build)``.

    ``build(variant: str, in_chans: int, **options) -> torch.nn.Module`` returns a module mapping
    a batch ``(B, C, H, W)`` to pooled features ``(B, D)`` and exposing ``num_features == D``.
    ``variant`` is the text after the colon for a namespace name such as ``timm:`` (so
    ``timm:vit_tiny_patch16_224`` calls the ``timm:`` builder with that variant), else ``""``.
    ``options`` come from the run config's ``model.backbone_options``; unknown options must
    raise :class:`sslbench.contract.errors.ConfigError`. A builder of clip encoders, ``(B, C, T, H, W)``
    in, sets ``build.modality = "video"`` (COMEDIAN's frame-window transformers: ``"soccernet"``);
    a backbone whose modality is not the dataset's is refused before anything is built, and the
    error offers only the backbones of the dataset's modality.

    :param register: call once per backbone name.
    """


@hookspec
def register_datasets(register: Callable[[Any], None]) -> None:
    """Register datasets: ``register(DatasetSpec(...))`` (see :mod:`sslbench.contract.dataset`).

    The spec's ``load(root, split, image_size)`` returns a ``torch.utils.data.Dataset`` of
    ``(uint8 image tensor (C, H, W), int label)`` and must raise
    :class:`sslbench.contract.errors.DatasetError` naming the path and the expected layout when the root
    is missing or malformed. It never downloads.

    :param register: call once per dataset spec.
    """


@hookspec
def register_protocols(register: Callable[[type], None]) -> None:
    """Register evaluation protocols: ``register(ProtocolClass)``.

    ``ProtocolClass`` subclasses :class:`sslbench.contract.protocol.Protocol`, sets ``name`` and
    ``Params`` (a dataclass; ``--set <name>.<field>=value`` overrides it) and implements
    ``evaluate(context) -> list[Metric]`` where each :class:`sslbench.contract.protocol.Metric` names its
    value and whether higher is better.

    :param register: call once per protocol class.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``sslbench`` command line.

    :param cli: the root :class:`click.Group`; decorate new commands with ``@cli.command()``.
    """
