"""Similarity Contrastive Estimation (thesis eqs. 4.8-4.10, Algorithm A.1; Denize et al. 2023)."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

TargetVariant = Literal["zero-logit", "masked"]
TARGET_VARIANTS: tuple[str, ...] = ("zero-logit", "masked")


def sce_target(target: torch.Tensor, queue: torch.Tensor, lam: float, tau_m: float,
               variant: TargetVariant = "zero-logit") -> torch.Tensor:
    """The target distribution w2 over [positive, queue] (eq. 4.8), shape (N, 1 + M).

    w2_i = lam * onehot(positive) + (1 - lam) * s2_i, where s2_i relates z2_i to the queue at
    temperature tau_m (eq. 4.5). ``variant`` sets the positive's column of s2:

    - ``"zero-logit"`` (default): the positive's logit is 0 before the softmax, so it keeps a
      weight e^0 / Z in s2 -- Algorithm A.1 and the released code that produced the published
      numbers;
    - ``"masked"``: the positive is excluded, s2_ii = 0, exactly eq. 4.5; Propositions 1 and 2
      hold exactly under this variant.
    """
    target, queue = target.detach(), queue.detach()
    sim = target @ queue.T / tau_m
    zeros = sim.new_zeros(len(sim), 1)
    if variant == "zero-logit":
        s2 = F.softmax(torch.cat([zeros, sim], 1), dim=1)
    elif variant == "masked":
        s2 = torch.cat([zeros, F.softmax(sim, dim=1)], 1)
    else:
        raise ValueError(f"unknown SCE target variant {variant!r}: expected one of {TARGET_VARIANTS}")
    w2 = (1.0 - lam) * s2
    w2[:, 0] += lam
    return w2


def sce_loss(online: torch.Tensor, target: torch.Tensor, queue: torch.Tensor, lam: float = 0.5,
             tau: float = 0.1, tau_m: float = 0.07, variant: TargetVariant = "zero-logit") -> torch.Tensor:
    """L_SCE = mean_i -sum_k w2_ik log p1_ik (eq. 4.10), with the queue as the other instances.

    p1_i = softmax([z1_i . z2_i, z1_i . q_1, ..., z1_i . q_M] / tau) (eq. 4.9), w2 from
    :func:`sce_target` (eq. 4.8). ``lam = 1`` gives InfoNCE at temperature ``tau`` (eq. 4.3).
    ``target`` and ``queue`` are constants (stop-gradient): only ``online`` receives gradients.

    :param online: (N, D) l2-normalised online embeddings z1.
    :param target: (N, D) l2-normalised target embeddings z2 (positives of z1).
    :param queue: (M, D) l2-normalised earlier target embeddings.
    :param lam: weight of the contrastive one-hot part, in [0, 1] (thesis: 0.5).
    :param tau: online temperature (0.1).
    :param tau_m: target temperature, sharper (images 0.07, video 0.05).
    :param variant: ``"zero-logit"`` (as released) or ``"masked"`` (as in eq. 4.5).
    """
    w2 = sce_target(target, queue, lam, tau_m, variant)
    positive = (online * target.detach()).sum(1, keepdim=True)
    logits = torch.cat([positive, online @ queue.detach().T], 1) / tau
    return -(w2 * F.log_softmax(logits, dim=1)).sum(1).mean()
