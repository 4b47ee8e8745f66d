"""MoCo's InfoNCE (eq. 4.3) equals a plain-loop numpy computation."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sslbench_moco.loss import infonce_loss


def numpy_infonce(z1, z2, queue, tau):
    total = 0.0
    for i in range(len(z1)):
        pos = np.exp(np.dot(z1[i], z2[i]) / tau)
        neg = sum(np.exp(np.dot(z1[i], q) / tau) for q in queue)
        total += -np.log(pos / (pos + neg))
    return total / len(z1)


@pytest.mark.parametrize("tau", [0.07, 0.2, 1.0])
def test_infonce_matches_loops(tau):
    g = torch.Generator().manual_seed(0)
    z1 = F.normalize(torch.randn(8, 16, generator=g, dtype=torch.float64), dim=1)
    z2 = F.normalize(torch.randn(8, 16, generator=g, dtype=torch.float64), dim=1)
    queue = F.normalize(torch.randn(32, 16, generator=g, dtype=torch.float64), dim=1)
    got = infonce_loss(z1, z2, queue, tau).item()
    assert got == pytest.approx(numpy_infonce(z1.numpy(), z2.numpy(), queue.numpy(), tau), rel=1e-12)


def test_infonce_gradient_reaches_online_only():
    z1 = F.normalize(torch.randn(4, 8), dim=1).requires_grad_()
    z2 = F.normalize(torch.randn(4, 8), dim=1)
    queue = F.normalize(torch.randn(16, 8), dim=1)
    infonce_loss(z1, z2, queue, 0.2).backward()
    assert z1.grad is not None and torch.isfinite(z1.grad).all()


def test_infonce_does_not_backpropagate_into_target_or_queue():
    """A plugin reusing the loss with a target and a queue that require grad must not train them."""
    z1 = F.normalize(torch.randn(4, 8), dim=1).requires_grad_()
    z2 = F.normalize(torch.randn(4, 8), dim=1).requires_grad_()
    queue = F.normalize(torch.randn(16, 8), dim=1).requires_grad_()
    infonce_loss(z1, z2, queue, 0.2).backward()
    assert z1.grad is not None and z2.grad is None and queue.grad is None
