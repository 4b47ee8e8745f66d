"""SimCLR (Chen et al., 2020) as an sslbench plugin: NT-Xent over in-batch negatives."""

from dataclasses import dataclass
from typing import Annotated

from sslbench import Range, SiameseMethod, hookimpl


@dataclass
class SimCLRParams:
    """``--set simclr.temperature=0.2``; the core rejects a value <= 0."""

    temperature: Annotated[float, Range(gt=0)] = 0.5


def nt_xent(z1, z2, temperature):
    """Each embedding's positive is the other view of its image; the 2N - 2 others are negatives."""
    import torch
    import torch.nn.functional as F

    z = torch.cat([z1, z2])  # (2N, D), l2-normalised
    n = len(z1)
    logits = (z @ z.T / temperature).fill_diagonal_(float("-inf"))  # never its own positive
    positives = torch.arange(2 * n, device=z.device).roll(n)  # i <-> i + N
    return F.cross_entropy(logits, positives)


class SimCLR(SiameseMethod):
    """Two views through one network, contrasted against every other image of the global batch."""

    name = "simclr"
    Params = SimCLRParams
    description = "SimCLR: NT-Xent with in-batch negatives, no momentum encoder"
    presets = {"digits": {"model": {"projector_hidden": 256, "projector_out": 64},
                          "train": {"epochs": 80, "batch_size": 128, "lr": 0.12, "warmup_epochs": 2}}}

    def loss(self, z, p):
        return nt_xent(z[0], z[1], self.params.temperature)


@hookimpl
def register_methods(register):
    register(SimCLR)
