"""InfoNCE with a queue of negatives (thesis eq. 4.3; He et al. 2020)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def infonce_loss(online: torch.Tensor, target: torch.Tensor, queue: torch.Tensor, temperature: float) -> torch.Tensor:
    """mean_i -log( e^{z1_i.z2_i/tau} / (e^{z1_i.z2_i/tau} + sum_k e^{z1_i.q_k/tau}) ); the target
    and the queue are constants (detached), as in the other losses, so no gradient reaches them."""
    target, queue = target.detach(), queue.detach()
    positive = (online * target).sum(1, keepdim=True)
    negatives = online @ queue.T
    logits = torch.cat([positive, negatives], 1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(online), dtype=torch.long, device=online.device))
