"""Projector / predictor MLPs with the BN placements of thesis Table A.2 ('no', 'hid', 'all').

Public for plugins: a method with a learner of its own builds its heads with :func:`mlp`, or with
:func:`projector` / :func:`predictor` to follow the run's ``model.*`` settings as the engine does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

if TYPE_CHECKING:
    from ..config import ModelConfig

__all__ = ["mlp", "projector", "predictor"]


def mlp(in_dim: int, hidden: int, out: int, layers: int, bn: str) -> nn.Sequential:
    """``layers`` linear layers (ReLU between them); BN after hidden layers (``bn="hidden"``), after
    every layer (``"all"``, the last one without affine parameters) or nowhere (``"none"``)."""
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


def projector(model: "ModelConfig", in_dim: int) -> nn.Sequential:
    """The projector of ``model.projector_*`` on features of width ``in_dim`` (the backbone's)."""
    return mlp(in_dim, model.projector_hidden, model.projector_out, model.projector_layers, model.projector_bn)


def predictor(model: "ModelConfig") -> nn.Sequential | None:
    """The predictor of ``model.predictor_*`` (``projector_out`` in and out); None when
    ``model.predictor_layers`` is 0."""
    if model.predictor_layers <= 0:
        return None
    return mlp(model.projector_out, model.predictor_hidden, model.projector_out, model.predictor_layers,
               model.predictor_bn)
