"""MomentumMethod beside its learner (sslbench.engine.siamese); torch-free, the learner loads in build()."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..method import Method

if TYPE_CHECKING:  # torch is imported only when the learner is built
    import torch
    from torch import nn

    from ..config import RunConfig
    from ..contract.augmentations import AugSpec


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
            from ..contract.errors import ConfigError

            raise ConfigError(f"invalid value {config.ssl.queue_size} for ssl.queue_size: {self.name} needs a queue "
                              f"(its loss relates embeddings to the queue's entries)")

    def view_augmentations(self) -> "list[str | AugSpec]":
        """Online view, target view, then ``ssl.local_crops`` multi-crop views (online only)."""
        from ..contract.augmentations import pretraining_views

        return pretraining_views(self.config.ssl, self.config.data.input_size)

    def build(self, backbone: "nn.Module", num_classes: int) -> "nn.Module":
        from .siamese import MomentumLearner

        return MomentumLearner(self, backbone, self.config)

    def loss(self, online: "torch.Tensor", target: "torch.Tensor", queue: "torch.Tensor") -> "torch.Tensor":
        """Loss of one direction: ``online`` (N, D) and ``target`` (N, D, no grad) l2-normalised
        embeddings of two views of the same images, ``queue`` (M, D) earlier target embeddings."""
        raise NotImplementedError
