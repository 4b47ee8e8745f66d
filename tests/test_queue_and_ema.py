"""The FIFO queue and the momentum learner's EMA (thesis 4.3.1, eq. 4.2, Algorithm A.1)."""

import torch
import torch.nn.functional as F

from sslbench.config import RunConfig
from sslbench.engine.queue import FeatureQueue
from sslbench.engine.schedules import ema_momentum


def test_queue_is_fifo_and_its_size_never_changes():
    q = FeatureQueue(10, 4)
    seen = []
    for step in range(7):
        keys = torch.full((3, 4), float(step))
        q.enqueue(keys)
        seen.extend([float(step)] * 3)
        assert q.features.shape == (10, 4)
        newest = seen[-10:]
        ordered = q.ordered()[:, 0].tolist()
        assert ordered[-len(newest):] == newest


def test_queue_with_batch_larger_than_queue_keeps_newest():
    q = FeatureQueue(4, 2)
    keys = torch.arange(12.0).view(6, 2)
    q.enqueue(keys)
    assert torch.equal(q.ordered(), keys[-4:])


def _learner(symmetric=False):
    from sslbench.image.backbones import build_convnet_small
    from sslbench.config import DataConfig, ModelConfig, SSLConfig, TrainConfig
    from sslbench_moco import MoCo, MoCoParams

    config = RunConfig(method="moco", dataset="digits", protocols=["knn"], data=DataConfig(input_size=8),
                       model=ModelConfig(projector_hidden=16, projector_out=8),
                       ssl=SSLConfig(queue_size=32, momentum=0.9, symmetric=symmetric), train=TrainConfig(),
                       method_params=MoCoParams())
    method = MoCo(MoCoParams(), config)
    return method.build(build_convnet_small("", 1, width=4), 10)


def test_gradients_reach_online_only_and_target_moves_only_by_ema():
    torch.manual_seed(0)
    learner = _learner()
    opt = torch.optim.SGD([p for p in learner.parameters() if p.requires_grad], lr=0.1)
    x1, x2 = torch.randn(6, 1, 8, 8), torch.randn(6, 1, 8, 8)
    online_before = [p.detach().clone() for p in learner.online_parameters()]
    target_before = [p.detach().clone() for p in learner.target_parameters()]
    out = learner.training_step([x1, x2], torch.zeros(6, dtype=torch.long))
    out["loss"].backward()
    assert all(p.grad is None for p in learner.target_parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in learner.online_parameters())
    opt.step()
    # after the optimiser step and before EMA, the target has not moved
    assert all(torch.equal(a, b) for a, b in zip(target_before, learner.target_parameters()))
    learner.after_step(0, 10)
    m = ema_momentum(0, 10, 0.9)
    for t0, s1, t1 in zip(target_before, learner.online_parameters(), learner.target_parameters()):
        assert torch.allclose(t1, m * t0 + (1 - m) * s1, atol=1e-6)
    assert any(not torch.equal(a, b) for a, b in zip(online_before, learner.online_parameters()))


def test_keys_are_enqueued_after_the_step():
    torch.manual_seed(0)
    learner = _learner()
    before = learner.queue.features.clone()
    x1, x2 = torch.randn(5, 1, 8, 8), torch.randn(5, 1, 8, 8)
    learner.training_step([x1, x2], torch.zeros(5, dtype=torch.long))
    assert torch.equal(learner.queue.features, before)
    learner.after_step(0, 10)
    newest = learner.queue.ordered()[-5:]
    expected = learner.target(x2)
    assert torch.allclose(newest, F.normalize(expected, dim=1), atol=1e-6)


def test_symmetric_loss_is_the_mean_of_both_directions_and_enqueues_both():
    torch.manual_seed(0)
    learner = _learner(symmetric=True)
    learner.eval()  # deterministic BN so the directions can be recomputed
    x1, x2 = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    queue = learner.queue.features.clone()
    loss = learner.training_step([x1, x2], torch.zeros(4, dtype=torch.long))["loss"]
    a = learner.method.loss(learner.online(x1), learner.target(x2), queue)
    b = learner.method.loss(learner.online(x2), learner.target(x1), queue)
    assert torch.allclose(loss, (a + b) / 2, atol=1e-6)
    learner.after_step(0, 10)
    assert torch.allclose(learner.queue.ordered()[-8:], torch.cat([learner.target(x2), learner.target(x1)]), atol=1e-5)
