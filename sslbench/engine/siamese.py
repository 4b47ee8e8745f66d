"""The siamese momentum learner (thesis Fig. 4.1, eq. 4.2, Algorithm A.1)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .plugin_checks import checked_loss, checked_views
from .heads import predictor, projector
from .queue import FeatureQueue
from .schedules import ema_momentum

if TYPE_CHECKING:
    from ..config import RunConfig
    from .momentum_method import MomentumMethod


class MomentumLearner(nn.Module):
    """Online encoder+projector(+predictor) trained by the optimiser, target encoder+projector
    updated by EMA, and a FIFO queue of target embeddings; the method supplies the loss."""

    def __init__(self, method: "MomentumMethod", backbone: nn.Module, config: "RunConfig") -> None:
        super().__init__()
        m = config.model
        self.method = method
        self.backbone = backbone
        self.projector = projector(m, backbone.num_features)
        self.predictor = predictor(m)
        self.target_backbone = copy.deepcopy(backbone)
        self.target_projector = copy.deepcopy(self.projector)
        for p in self.target_parameters():
            p.requires_grad_(False)
        self.queue = FeatureQueue(config.ssl.queue_size, m.projector_out)
        self.initial_momentum = config.ssl.momentum
        self.symmetric = config.ssl.symmetric
        self.current_momentum = config.ssl.momentum
        self._pending_keys: torch.Tensor | None = None

    def online_parameters(self) -> list[nn.Parameter]:
        """Online parameters paired one-to-one with :meth:`target_parameters`."""
        return list(self.backbone.parameters()) + list(self.projector.parameters())

    def target_parameters(self) -> list[nn.Parameter]:
        return list(self.target_backbone.parameters()) + list(self.target_projector.parameters())

    def online(self, x: torch.Tensor) -> torch.Tensor:
        """z1 = normalize(h_s(g_s(f_s(x))))."""
        z = self.projector(self.backbone(x))
        if self.predictor is not None:
            z = self.predictor(z)
        return F.normalize(z, dim=1)

    @torch.no_grad()
    def target(self, x: torch.Tensor) -> torch.Tensor:
        """z2 = normalize(g_t(f_t(x))), without gradient."""
        return F.normalize(self.target_projector(self.target_backbone(x)), dim=1)

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """One direction, or both averaged when symmetric; keys are enqueued after the step.

        Views after the first two are multi-crop local views (thesis A.5.2): they pass through the
        online branch only and each is paired with every target embedding (z2, and z1 when
        symmetric), the usual multi-crop convention; the loss is the mean over all pairs.
        """
        views = checked_views(views, 2, self.method.name, "an online and a target view")
        x1, x2, local_views = views[0], views[1], views[2:]
        queue = self.queue.features
        k2 = self.target(x2)
        losses = [self.method.loss(self.online(x1), k2, queue)]
        keys = [k2]
        if self.symmetric:
            k1 = self.target(x1)
            losses.append(self.method.loss(self.online(x2), k1, queue))
            keys.append(k1)
        for x in local_views:
            z = self.online(x)
            losses.extend(self.method.loss(z, k, queue) for k in keys)
        losses = [checked_loss(part, self.method.name) for part in losses]  # stack().mean() would hide a (B,) loss
        loss = losses[0] if len(losses) == 1 else torch.stack(losses).mean()
        self._pending_keys = keys[0] if len(keys) == 1 else torch.cat(keys)
        return {"loss": loss}

    forward = training_step

    @torch.no_grad()
    def after_step(self, step: int, total_steps: int) -> None:
        """EMA update theta_t <- m theta_t + (1 - m) theta_s (parameters only), then enqueue."""
        m = ema_momentum(step, total_steps, self.initial_momentum)
        self.current_momentum = m
        target, online = self.target_parameters(), self.online_parameters()
        torch._foreach_mul_(target, m)
        torch._foreach_add_(target, online, alpha=1.0 - m)
        if self._pending_keys is not None:
            self.queue.enqueue(self._pending_keys)
            self._pending_keys = None
