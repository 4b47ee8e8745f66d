"""The method contract: what a method plugin registers through ``register_methods``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

import yaml

from .contract.params import NoParams

if TYPE_CHECKING:  # torch is imported only when a method is built
    import torch
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


class MomentumMethod(Method):
    """A siamese momentum method (thesis 4.2, Fig. 4.1): implement :meth:`loss`, the engine does the rest.

    The engine builds online (encoder, projector, optional predictor) and target (encoder,
    projector, updated by EMA with the cosine momentum schedule) branches and a FIFO queue of
    target embeddings, all-gathered across ranks before the enqueue. It runs on images and on
    videos (clips through a video backbone, thesis chapter 5) with the same loss.
    """

    modalities: ClassVar[tuple[str, ...]] = ("image", "video")
    #: True when the loss relates embeddings to the queue, so ``ssl.queue_size`` must be >= 1.
    needs_queue: ClassVar[bool] = False

    def __init__(self, params: Any, config: "RunConfig") -> None:
        super().__init__(params, config)
        if self.needs_queue and config is not None and config.ssl.queue_size < 1:
            from .contract.errors import ConfigError

            raise ConfigError(f"invalid value {config.ssl.queue_size} for ssl.queue_size: {self.name} needs a queue "
                              f"(its loss relates embeddings to the queue's entries)")

    def view_augmentations(self) -> "list[str | AugSpec]":
        """Online view, target view, then ``ssl.local_crops`` multi-crop views (online only)."""
        from .contract.augmentations import pretraining_views

        return pretraining_views(self.config.ssl, self.config.data.input_size)

    def build(self, backbone: "nn.Module", num_classes: int) -> "nn.Module":
        from .engine.siamese import MomentumLearner

        return MomentumLearner(self, backbone, self.config)

    def loss(self, online: "torch.Tensor", target: "torch.Tensor", queue: "torch.Tensor") -> "torch.Tensor":
        """Loss of one direction: ``online`` (N, D) and ``target`` (N, D, no grad) l2-normalised
        embeddings of two views of the same images, ``queue`` (M, D) earlier target embeddings."""
        raise NotImplementedError


class SiameseMethod(Method):
    """A method without momentum branch: every view goes through the same online network
    (backbone, projector, optional predictor, built from ``model.*``) and :meth:`loss` relates the
    embeddings of the views; implement it, the engine does the rest (training loop, AMP,
    checkpoints, resume, DDP).

    In-batch negatives: under DDP the embeddings are all-gathered across ranks with their gradient
    (:func:`sslbench.engine.distributed.all_gather_with_grad`), so ``loss`` sees the whole global
    batch, as one process would; ``gather_embeddings = False`` keeps each rank's own rows.
    ``num_views`` global views (a ``num_views`` field of ``Params`` overrides the class attribute)
    use ``ssl.online_aug`` for the first, ``ssl.target_aug`` for the second and ``ssl.online_aug``
    for the others; ``ssl.local_crops`` multi-crop views follow. ``normalize`` l2-normalises the
    embeddings before ``loss``. ``ssl.queue_size``, ``ssl.momentum`` and ``ssl.symmetric`` are
    unused (not shown nor hashed).
    """

    modalities: ClassVar[tuple[str, ...]] = ("image", "video")
    unused_config: ClassVar[tuple[str, ...]] = ("ssl.queue_size", "ssl.momentum", "ssl.symmetric")
    num_views: int = 2
    normalize: ClassVar[bool] = True
    gather_embeddings: ClassVar[bool] = True

    def __init__(self, params: Any, config: "RunConfig") -> None:
        super().__init__(params, config)
        from .contract.errors import ConfigError

        views = getattr(params, "num_views", type(self).num_views)
        if isinstance(views, bool) or not isinstance(views, int) or views < 2:
            raise ConfigError(f"invalid value {views!r} for {self.name}.num_views: expected an integer >= 2 "
                              f"(a siamese method relates at least two views)")
        self.num_views = views

    def view_augmentations(self) -> "list[str | AugSpec]":
        """``num_views`` global views (online, target, then online augmentation), then the local crops."""
        from .contract.augmentations import pretraining_views

        online, target, *local = pretraining_views(self.config.ssl, self.config.data.input_size)
        return [online, target, *[online] * (self.num_views - 2), *local]

    def build(self, backbone: "nn.Module", num_classes: int) -> "nn.Module":
        from .engine.multiview import SiameseLearner

        return SiameseLearner(self, backbone, self.config)

    def loss(self, z: "list[torch.Tensor]", p: "list[torch.Tensor]") -> "torch.Tensor":
        """The scalar loss of one step: ``z[i]`` (N, D) is the projection of view ``i`` (the
        ``num_views`` global views, then the local crops), ``p[i]`` its prediction (``p is z``
        without predictor); N is the global batch (every rank's rows, in rank order)."""
        raise NotImplementedError
