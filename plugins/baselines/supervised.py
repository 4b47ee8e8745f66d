"""The supervised learner: backbone + linear classifier trained with cross-entropy."""

from __future__ import annotations

import torch
from torch import nn


class SupervisedLearner(nn.Module):
    def __init__(self, backbone: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.num_features, num_classes)

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": nn.functional.cross_entropy(self.head(self.backbone(views[0])), labels)}

    forward = training_step

    def after_step(self, step: int, total_steps: int) -> None:
        """Nothing to do: no target branch."""
