"""COMEDIAN's pretraining losses (thesis chapter 6): pure functions of tensors. Step 3's BCE (eq. 6.7)
is the tamap protocol's: :func:`sslbench.spotting.finetune.spotting_bce_loss`."""

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
                      tau: float = 0.1, tau_m: float = 0.07, teacher_ids: torch.Tensor | None = None,
                      queue_ids: torch.Tensor | None = None) -> torch.Tensor:
    """Step 2, knowledge distillation with the SCE loss (eqs. 6.3-6.6), per temporal token.

    For clip b and token i, the candidates are the teacher features of the clip's own tokens
    ``teacher[b, j]`` (j = 1..T_l; other clips of the batch are masked out, as in the reference
    code) followed by the queue of earlier teacher features:

    - s1_(b,i) = softmax_k(student[b, i] . cand_k / tau)                           (eq. 6.3)
    - s2_(b,i) = softmax_k(1[cand_k != teacher[b, i]] teacher[b, i] . cand_k / tau_m),
      the entry itself excluded                                                     (eq. 6.4)
    - w2_(b,i) = lam onehot(teacher[b, i]) + (1 - lam) s2_(b,i)                    (eq. 6.5)
    - L = mean over the B x T_l tokens of -sum_k w2 log s1                          (eq. 6.6)

    In the thesis the bank holds each feature once. A FIFO queue can hold other copies of a
    token's own bank entry (same half, same index), and two tokens of a clip can share one at
    the end of a half: with ``teacher_ids`` (B, T_l) and ``queue_ids`` (M,) naming each entry, every
    candidate that is the token's own entry but not its target position is left out of both
    softmaxes, so the loss equals the one over the bank without the copies.
    With one token per clip this is the SCE loss of eq. 4.10 with the ``masked`` target variant.

    :param student: (B, T_l, D) l2-normalised projections of the temporal tokens.
    :param teacher: (B, T_l, D) l2-normalised aligned bank features (constants).
    :param queue: (M, D) l2-normalised earlier teacher features (constants).
    :param teacher_ids: (B, T_l) int64 identity of each aligned bank entry (None: all distinct).
    :param queue_ids: (M,) int64 identity of each queue entry (negative: never equal to a bank entry).
    """
    teacher, queue = teacher.detach(), queue.detach()
    b, t, _ = student.shape
    own = torch.einsum("bid,bjd->bij", student, teacher)                  # (B, T, T)
    logits = torch.cat([own, torch.einsum("bid,md->bim", student, queue)], 2) / tau
    eye = torch.eye(t, dtype=torch.bool, device=student.device)
    target = torch.cat([eye.expand(b, t, t), eye.new_zeros(b, t, len(queue))], 2)
    rel_own = torch.einsum("bid,bjd->bij", teacher, teacher)
    relations = torch.cat([rel_own, torch.einsum("bid,md->bim", teacher, queue)], 2) / tau_m
    if teacher_ids is not None:
        ids = torch.cat([teacher_ids, queue_ids.expand(b, -1)] if queue_ids is not None else
                        [teacher_ids, teacher_ids.new_full((b, len(queue)), -1)], 1)      # (B, T + M)
        copies = (ids[:, None, :] == teacher_ids[:, :, None]) & ~target                    # (B, T, T + M)
        logits = logits.masked_fill(copies, float("-inf"))
        relations = relations.masked_fill(copies, float("-inf"))
    relations = relations.masked_fill(target, float("-inf"))
    s2 = torch.nan_to_num(F.softmax(relations, dim=2), nan=0.0)  # a token without other candidates: no s2
    w2 = (1.0 - lam) * s2 + lam * target.to(student.dtype)
    log_s1 = F.log_softmax(logits, dim=2).masked_fill(torch.isinf(logits), 0.0)  # excluded: weight 0
    return -(w2 * log_s1).sum(2).mean()
