"""The learner of a :class:`sslbench.engine.siamese_method.SiameseMethod`: one online network for every view."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .plugin_checks import checked_loss, checked_views
from .distributed import all_gather_with_grad
from .heads import predictor, projector

if TYPE_CHECKING:
    from ..config import RunConfig
    from .siamese_method import SiameseMethod


class SiameseLearner(nn.Module):
    """Backbone, projector and optional predictor shared by every view; the method supplies the loss
    of the (all-gathered, optionally l2-normalised) projections and predictions."""

    def __init__(self, method: "SiameseMethod", backbone: nn.Module, config: "RunConfig") -> None:
        super().__init__()
        self.method = method
        self.backbone = backbone
        self.projector = projector(config.model, backbone.num_features)
        self.predictor = predictor(config.model)

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(projection, prediction) of one view's batch; the prediction is the projection without predictor."""
        z = self.projector(self.backbone(x))
        return z, (self.predictor(z) if self.predictor is not None else z)

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        """float32 (the loss stays exact under AMP), l2-normalised if asked, gathered across ranks."""
        x = x.float()
        if self.method.normalize:
            x = F.normalize(x, dim=1)
        return all_gather_with_grad(x) if self.method.gather_embeddings else x

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each view through the same network (BN statistics per view), then ``method.loss(z, p)``."""
        views = checked_views(views, self.method.num_views, self.method.name,
                              f"the {self.method.num_views} views of {self.method.name}")
        zs, ps = [], []
        for x in views:
            z, p = self.embed(x)
            zs.append(self._prepare(z))
            ps.append(self._prepare(p) if self.predictor is not None else None)
        return {"loss": checked_loss(self.method.loss(zs, ps if self.predictor is not None else zs),
                                     self.method.name)}

    forward = training_step

    def after_step(self, step: int, total_steps: int) -> None:
        """Nothing to update: no target branch, no queue."""
