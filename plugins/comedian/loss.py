"""COMEDIAN's losses (thesis chapter 6): pure functions of tensors."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def infonce_loss(online: torch.Tensor, target: torch.Tensor, queue: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """Step 1, spatial MoCo (eqs. 6.1-6.2):
    mean_i -log( e^{z1_i.z2_i/tau} / (e^{z1_i.z2_i/tau} + sum_k e^{z1_i.q_k/tau}) ).

    :param online: (N, D) l2-normalised predictions of the online branch.
    :param target: (N, D) l2-normalised momentum-branch embeddings of the other view (no grad).
    :param queue: (M, D) earlier target embeddings (the negatives).
    """
    target, queue = target.detach(), queue.detach()
    logits = torch.cat([(online * target).sum(1, keepdim=True), online @ queue.T], 1) / tau
    return F.cross_entropy(logits, torch.zeros(len(online), dtype=torch.long, device=online.device))


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, queue: torch.Tensor, lam: float = 0.5,
                      tau: float = 0.1, tau_m: float = 0.07) -> torch.Tensor:
    """Step 2, knowledge distillation with the SCE loss (eqs. 6.3-6.6), per temporal token.

    For clip b and token i, the candidates are the teacher features of the clip's own tokens
    ``teacher[b, j]`` (j = 1..T_l; other clips of the batch are masked out, as in the reference
    code) followed by the queue of earlier teacher features:

    - s1_(b,i) = softmax_k(student[b, i] . cand_k / tau)                           (eq. 6.3)
    - s2_(b,i) = softmax_k(1[cand_k != teacher[b, i]] teacher[b, i] . cand_k / tau_m),
      the entry itself excluded                                                     (eq. 6.4)
    - w2_(b,i) = lam onehot(teacher[b, i]) + (1 - lam) s2_(b,i)                    (eq. 6.5)
    - L = mean over the B x T_l tokens of -sum_k w2 log s1                          (eq. 6.6)

    With one token per clip this is the SCE loss of eq. 4.10 with the ``masked`` target variant.

    :param student: (B, T_l, D) l2-normalised projections of the temporal tokens.
    :param teacher: (B, T_l, D) l2-normalised aligned bank features (constants).
    :param queue: (M, D) l2-normalised earlier teacher features (constants).
    """
    teacher, queue = teacher.detach(), queue.detach()
    b, t, _ = student.shape
    own = torch.einsum("bid,bjd->bij", student, teacher)                  # (B, T, T)
    logits = torch.cat([own, torch.einsum("bid,md->bim", student, queue)], 2) / tau
    eye = torch.eye(t, dtype=torch.bool, device=student.device)
    rel_own = torch.einsum("bid,bjd->bij", teacher, teacher).masked_fill(eye, float("-inf"))
    relations = torch.cat([rel_own, torch.einsum("bid,md->bim", teacher, queue)], 2) / tau_m
    w2 = (1.0 - lam) * F.softmax(relations, dim=2)
    w2 = w2 + lam * torch.cat([eye.expand(b, t, t), eye.new_zeros(b, t, len(queue))], 2).to(w2.dtype)
    return -(w2 * F.log_softmax(logits, dim=2)).sum(2).mean()


def spotting_bce_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Step 3, per class per token binary cross-entropy of sigmoid outputs (eq. 6.7):
    -1/(T_l C) sum_t sum_c [y_tc log yhat_tc + (1 - y_tc) log(1 - yhat_tc)], averaged over clips.

    Eq. 6.7 prints only the positive term; the negative term is that of the BCE the thesis names
    and the reference code uses. ``targets`` may be soft (mixup).
    """
    return F.binary_cross_entropy_with_logits(logits, targets)
