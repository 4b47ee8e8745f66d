"""The method contract: what a method plugin registers through ``register_methods``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

import yaml

from .contract.params import NoParams
from .lazy import lazy_exports

if TYPE_CHECKING:  # torch is imported only when a method is built
    from torch import nn

    from .contract.augmentations import AugSpec
    from .config import RunConfig


def load_presets(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a plugin's presets YAML: ``{dataset name: config overrides}`` (``"*"`` = any dataset)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster, read when plugins load
    data = yaml.load(Path(path).read_text(), Loader=loader) or {}
    if not isinstance(data, dict):
        raise ValueError(f"presets file {path} must hold a mapping of dataset -> overrides")
    return data


class Method:
    """A pretraining method. Subclass it (or :class:`MomentumMethod`) and register the class.

    Class attributes: ``name`` (registry key), ``Params`` (hyper-parameter dataclass, validated
    in ``__post_init__``), ``presets`` (dataset -> config overrides, applied before the user's
    ``--config`` and ``--set``), ``trains`` (False for methods without pretraining),
    ``needs_labels`` (True for supervised baselines), ``modality`` (``"image"`` or ``"video"``),
    ``modalities`` (every modality the method runs on, when it is more than ``modality``: the
    siamese methods take image and video data alike, only data, views and backbones change),
    ``unused_config`` (dotted config keys the method never reads, e.g.
    ``("ssl.queue_size",)``: left out of its ``--dry-run`` config, its stored config and its hashes).
    """

    name: ClassVar[str]
    Params: ClassVar[type] = NoParams
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    description: ClassVar[str] = ""
    trains: ClassVar[bool] = True
    needs_labels: ClassVar[bool] = False
    modality: ClassVar[str] = "image"
    modalities: ClassVar[tuple[str, ...]] = ()
    #: ``section.field`` config keys (``"ssl.momentum"``) this method never reads: not shown, stored
    #: nor hashed for it, so changing them cannot start a new pretraining. Declare only what
    #: is really unused: a key left out of the hash that changes the weights would reuse stale ones.
    unused_config: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def accepts(cls, modality: str) -> bool:
        """Whether the method runs on data of ``modality``."""
        return modality in (cls.modalities or (cls.modality,))

    def __init__(self, params: Any, config: "RunConfig") -> None:
        self.params = params
        self.config = config

    def view_augmentations(self) -> "list[str | AugSpec]":
        """The augmentation of each view the learner receives, in order: a name of
        :data:`sslbench.contract.augmentations.AUGMENTATIONS` or a built :class:`sslbench.contract.augmentations.AugSpec`."""
        from .contract.augmentations import get_augmentation

        return [get_augmentation(self.config.ssl.online_aug, self.config.ssl.color_strength)]

    def on_step(self, step: int, total_steps: int) -> None:
        """Called before each training step: update scheduled hyper-parameters here."""

    def pretrain(self, run_dir: Path, spec: Any, registries: Any, progress: bool = True) -> "nn.Module | None":
        """A method with a pipeline of its own (COMEDIAN's steps) trains here: it writes
        ``run_dir/backbone.pt`` and returns the backbone. None (the default): the engine's loop
        trains the learner of :meth:`build`."""
        return None

    def build(self, backbone: "nn.Module", num_classes: int) -> "nn.Module":
        """Return the learner: a module with ``backbone``, ``training_step`` and ``after_step``.

        ``training_step(views: list[Tensor], labels: Tensor) -> dict[str, Tensor]`` returns at
        least ``"loss"``; ``after_step(step, total_steps)`` runs after each optimiser step.
        """
        raise NotImplementedError


#: the method classes the engine trains, defined beside their learners (sslbench.engine) and loaded
#: on first use so that importing this contract stays below the engine (and torch-free)
_ENGINE_METHODS = {"MomentumMethod": "sslbench.engine.momentum_method", "SiameseMethod": "sslbench.engine.siamese_method"}

__all__ = ["Method", "NoParams", "load_presets", *_ENGINE_METHODS]


__getattr__, __dir__ = lazy_exports(__name__, _ENGINE_METHODS)
