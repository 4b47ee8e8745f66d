"""FIFO memory buffer of target embeddings (thesis 4.3.1: size M >> N, filled by z²), identical on every rank."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .distributed import all_gather_cat


class FeatureQueue(nn.Module):
    """A fixed-size FIFO of l2-normalised embeddings, kept as buffers so checkpoints carry it.

    Starts with random unit vectors (as MoCo does); ``enqueue`` all-gathers keys across ranks,
    then overwrites the oldest entries, wrapping around. Its size never changes.
    """

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self.size = size
        self.register_buffer("features", F.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Append ``keys`` (B, D) from this rank (gathered from all ranks first), oldest out."""
        if self.size == 0:
            return
        keys = all_gather_cat(keys.detach()).to(self.features.dtype)
        if keys.shape[0] >= self.size:
            self.features.copy_(keys[-self.size:])
            self.ptr.fill_(0)
            return
        n = keys.shape[0]
        idx = (self.ptr + torch.arange(n, device=keys.device)) % self.size
        self.features.index_copy_(0, idx, keys)
        self.ptr.copy_((self.ptr + n) % self.size)

    def ordered(self) -> torch.Tensor:
        """Entries from oldest to newest (for tests and inspection)."""
        return torch.roll(self.features, -int(self.ptr), 0)
