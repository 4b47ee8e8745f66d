"""ReSSL's relational loss with a queue (thesis eqs. 4.4-4.6; Zheng et al. 2021)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def ressl_loss(online: torch.Tensor, target: torch.Tensor, queue: torch.Tensor, tau: float,
               tau_m: float) -> torch.Tensor:
    """Cross-entropy between the target's and the online view's relations to the queue (eq. 4.6).

    s1_ik = softmax_k(z1_i . q_k / tau) (eq. 4.4) and s2_ik = softmax_k(z2_i . q_k / tau_m)
    (eq. 4.5) run over the M queue entries only: the positive is excluded, and the queue stands in
    for the other instances of the batch, as the thesis and ReSSL's code do. The loss is
    mean_i -sum_k s2_ik log s1_ik. ``target`` is a constant (stop-gradient).

    :param online: (N, D) l2-normalised online embeddings z1.
    :param target: (N, D) l2-normalised target embeddings z2 of the other (weak) view.
    :param queue: (M, D) l2-normalised earlier target embeddings, M >= 1.
    :param tau: online temperature (ReSSL: 0.1).
    :param tau_m: target temperature, sharper (ReSSL: 0.04).
    """
    target, queue = target.detach(), queue.detach()
    s2 = F.softmax(target @ queue.T / tau_m, dim=1)
    log_s1 = F.log_softmax(online @ queue.T / tau, dim=1)
    return -(s2 * log_s1).sum(1).mean()
