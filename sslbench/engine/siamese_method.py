"""SiameseMethod beside its learner (sslbench.engine.multiview); torch-free, the learner loads in build()."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..method import Method

if TYPE_CHECKING:  # torch is imported only when the learner is built
    import torch
    from torch import nn

    from ..config import RunConfig
    from ..contract.augmentations import AugSpec


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
        from ..contract.errors import ConfigError

        views = getattr(params, "num_views", type(self).num_views)
        if isinstance(views, bool) or not isinstance(views, int) or views < 2:
            raise ConfigError(f"invalid value {views!r} for {self.name}.num_views: expected an integer >= 2 "
                              f"(a siamese method relates at least two views)")
        self.num_views = views

    def view_augmentations(self) -> "list[str | AugSpec]":
        """``num_views`` global views (online, target, then online augmentation), then the local crops."""
        from ..contract.augmentations import pretraining_views

        online, target, *local = pretraining_views(self.config.ssl, self.config.data.input_size)
        return [online, target, *[online] * (self.num_views - 2), *local]

    def build(self, backbone: "nn.Module", num_classes: int) -> "nn.Module":
        from .multiview import SiameseLearner

        return SiameseLearner(self, backbone, self.config)

    def loss(self, z: "list[torch.Tensor]", p: "list[torch.Tensor]") -> "torch.Tensor":
        """The scalar loss of one step: ``z[i]`` (N, D) is the projection of view ``i`` (the
        ``num_views`` global views, then the local crops), ``p[i]`` its prediction (``p is z``
        without predictor); N is the global batch (every rank's rows, in rank order)."""
        raise NotImplementedError
