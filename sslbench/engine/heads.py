"""Projector / predictor MLPs with the BN placements of thesis Table A.2 ('no', 'hid', 'all')."""

from __future__ import annotations

from torch import nn


def mlp(in_dim: int, hidden: int, out: int, layers: int, bn: str) -> nn.Sequential:
    """``layers`` linear layers; BN after hidden layers (``hidden``) or after every layer (``all``)."""
    mods: list[nn.Module] = []
    dim = in_dim
    for i in range(layers):
        last = i == layers - 1
        width = out if last else hidden
        use_bn = bn == "all" or (bn == "hidden" and not last)
        mods.append(nn.Linear(dim, width, bias=not use_bn))
        if use_bn:
            mods.append(nn.BatchNorm1d(width, affine=not last))
        if not last:
            mods.append(nn.ReLU(inplace=True))
        dim = width
    return nn.Sequential(*mods)
