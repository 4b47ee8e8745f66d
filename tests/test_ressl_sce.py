"""ReSSL and SCE: the losses against independent implementations of the thesis's equations
(float64, random inputs with a queue), the schedules, and the learner's gradient / EMA contract."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sslbench.cli import cli
from sslbench.contract.errors import ConfigError
from sslbench.contract.loading import registries
from sslbench.runner import resolve_config
from sslbench_ressl.loss import ressl_loss
from sslbench_sce.loss import sce_loss

from helpers import TINY

N, M, D = 6, 17, 8
TAU, TAU_M = 0.1, 0.07


def _unit(rng: np.random.Generator, *shape: int) -> np.ndarray:
    x = rng.standard_normal(shape)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture
def embeddings():
    """z1 (online), z2 (target) and a queue, l2-normalised float64 numpy arrays."""
    rng = np.random.default_rng(1234)
    return _unit(rng, N, D), _unit(rng, N, D), _unit(rng, M, D)


def _t(*arrays: np.ndarray) -> list[torch.Tensor]:
    return [torch.from_numpy(a) for a in arrays]


# ----------------------------------------------------------------- independent references (loops)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(sum(x * y for x, y in zip(a, b)))


def _terms(z1, z2, queue, tau, tau_m) -> dict[str, float]:
    """Each loss of Propositions 1 and 2 written out per sample from eqs. 4.3-4.6, 4.12, 4.13,
    with the queue in place of the other instances."""
    infonce = ressl = ceil = dcl = 0.0
    for i in range(len(z1)):
        pos = math.exp(_dot(z1[i], z2[i]) / tau)
        neg = [math.exp(_dot(z1[i], q) / tau) for q in queue]
        rel = [math.exp(_dot(z2[i], q) / tau_m) for q in queue]
        infonce += -math.log(pos / (pos + sum(neg)))                          # eq. 4.3
        ceil += -math.log(sum(neg) / (pos + sum(neg)))                        # eq. 4.12
        dcl += -(_dot(z1[i], z2[i]) / tau - math.log(sum(neg)))               # eq. 4.13
        ressl += -sum(r / sum(rel) * math.log(n / sum(neg)) for r, n in zip(rel, neg))  # eqs. 4.4-4.6
    n = len(z1)
    return {"infonce": infonce / n, "ressl": ressl / n, "ceil": ceil / n, "dcl": dcl / n}


def _algorithm_a2(z1, z2, queue, lam, tau, tau_m) -> float:
    """Algorithm A.1 line by line in numpy (the positive's target logit is a zero)."""
    bsz = len(z1)
    sim2_pos = np.zeros((bsz, 1))
    sim2_neg = np.einsum("nc,kc->nk", z2, queue)
    sim2 = np.concatenate([sim2_pos, sim2_neg], 1) / tau_m
    s2 = np.exp(sim2) / np.exp(sim2).sum(1, keepdims=True)
    one_hot = np.zeros_like(s2)
    one_hot[:, 0] = 1.0
    w2 = lam * one_hot + (1 - lam) * s2
    sim1_pos = np.einsum("nc,nc->n", z1, z2)[:, None]
    sim1_neg = np.einsum("nc,kc->nk", z1, queue)
    sim1 = np.concatenate([sim1_pos, sim1_neg], 1) / tau
    log_p1 = sim1 - np.log(np.exp(sim1).sum(1, keepdims=True))
    return float(-(w2 * log_p1).sum(1).mean())


# ----------------------------------------------------------------- SCE identities


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.5, 0.9])
def test_masked_sce_equals_proposition_1(embeddings, lam):
    z1, z2, queue = embeddings
    t = _terms(z1, z2, queue, TAU, TAU_M)
    expected = lam * t["infonce"] + (1 - lam) * t["ressl"] + (1 - lam) * t["ceil"]
    got = sce_loss(*_t(z1, z2, queue), lam=lam, tau=TAU, tau_m=TAU_M, variant="masked")
    assert got.dtype == torch.float64
    assert float(got) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.5, 0.9])
def test_masked_sce_equals_proposition_2(embeddings, lam):
    z1, z2, queue = embeddings
    t = _terms(z1, z2, queue, TAU, TAU_M)
    expected = lam * t["dcl"] + (1 - lam) * t["ressl"] + t["ceil"]
    got = sce_loss(*_t(z1, z2, queue), lam=lam, tau=TAU, tau_m=TAU_M, variant="masked")
    assert float(got) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("variant", ["zero-logit", "masked"])
def test_sce_equals_infonce_when_lambda_is_one(embeddings, variant):
    from sslbench_moco.loss import infonce_loss

    z1, z2, queue = embeddings
    got = sce_loss(*_t(z1, z2, queue), lam=1.0, tau=TAU, tau_m=TAU_M, variant=variant)
    assert float(got) == pytest.approx(_terms(z1, z2, queue, TAU, TAU_M)["infonce"], rel=1e-12)
    assert float(got) == pytest.approx(float(infonce_loss(*_t(z1, z2, queue), TAU)), rel=1e-12)


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.8])
def test_zero_logit_sce_matches_algorithm_a2(embeddings, lam):
    z1, z2, queue = embeddings
    got = sce_loss(*_t(z1, z2, queue), lam=lam, tau=TAU, tau_m=TAU_M, variant="zero-logit")
    assert float(got) == pytest.approx(_algorithm_a2(z1, z2, queue, lam, TAU, TAU_M), rel=1e-12)


def test_zero_logit_is_the_default_and_differs_from_masked(embeddings):
    z1, z2, queue = embeddings
    default = sce_loss(*_t(z1, z2, queue), lam=0.5, tau=TAU, tau_m=TAU_M)
    zero = sce_loss(*_t(z1, z2, queue), lam=0.5, tau=TAU, tau_m=TAU_M, variant="zero-logit")
    masked = sce_loss(*_t(z1, z2, queue), lam=0.5, tau=TAU, tau_m=TAU_M, variant="masked")
    assert float(default) == float(zero)
    assert abs(float(zero) - float(masked)) > 1e-6


def test_ressl_loss_matches_eqs_4_4_to_4_6(embeddings):
    z1, z2, queue = embeddings
    got = ressl_loss(*_t(z1, z2, queue), tau=0.1, tau_m=0.04)
    assert float(got) == pytest.approx(_terms(z1, z2, queue, 0.1, 0.04)["ressl"], rel=1e-12)


@pytest.mark.parametrize("loss", ["sce-zero-logit", "sce-masked", "ressl"])
def test_loss_gradients_reach_the_online_embeddings_only(embeddings, loss):
    z1, z2, queue = (t.clone().requires_grad_(True) for t in _t(*embeddings))
    if loss == "ressl":
        value = ressl_loss(z1, z2, queue, 0.1, 0.04)
    else:
        value = sce_loss(z1, z2, queue, 0.5, TAU, TAU_M, loss.removeprefix("sce-"))
    value.backward()
    assert z1.grad is not None and z1.grad.abs().sum() > 0
    assert z2.grad is None and queue.grad is None


# ----------------------------------------------------------------- methods, schedules, learner


def _method(name: str, *sets: str, dataset: str = "digits"):
    from sslbench.config import parse_set

    config = resolve_config(name, dataset, ["knn"], sets=parse_set(list(sets)))
    return registries().methods.get(name)(config.method_params, config), config


def _learner(method, config):
    from sslbench.engine.trainer import build_backbone

    torch.manual_seed(0)
    backbone = build_backbone(registries(), config.model.backbone, 1, {"width": 8})
    return method.build(backbone, 10).double()


def test_sce_lambda_and_tau_m_follow_their_cosine_schedules():
    method, _ = _method("sce", "sce.lam=0.9", "sce.lam_end=0.1", "sce.tau_m=0.05", "sce.tau_m_end=0.09")
    method.on_step(0, 100)
    assert (method.lam, method.tau_m) == pytest.approx((0.9, 0.05))
    method.on_step(50, 100)
    assert (method.lam, method.tau_m) == pytest.approx((0.5, 0.07))
    method.on_step(100, 100)
    assert (method.lam, method.tau_m) == pytest.approx((0.1, 0.09))
    rng = np.random.default_rng(0)
    z1, z2, queue = _t(_unit(rng, N, D), _unit(rng, N, D), _unit(rng, M, D))
    method.on_step(25, 100)
    lam = 0.1 + 0.8 * 0.5 * (1 + math.cos(math.pi / 4))
    tau_m = 0.09 - 0.04 * 0.5 * (1 + math.cos(math.pi / 4))
    expected = sce_loss(z1, z2, queue, lam, 0.1, tau_m)
    assert float(method.loss(z1, z2, queue)) == pytest.approx(float(expected), rel=1e-12)


def test_sce_without_schedules_keeps_lambda_and_tau_m():
    method, _ = _method("sce")
    method.on_step(70, 100)
    assert (method.lam, method.tau_m) == (method.params.lam, method.params.tau_m)


@pytest.mark.parametrize("item, message", [
    ("sce.lam=1.5", "for sce.lam:"), ("sce.tau=0", "for sce.tau:"), ("sce.target_variant=exact", "sce.target_variant"),
    ("sce.lam_end=-1", "for sce.lam_end:"), ("ressl.tau_m=0", "for ressl.tau_m:"),
    ("sce.lambda=0.3", "did you mean sce.lam"),
])
def test_invalid_method_params_are_rejected_naming_the_key(item, message):
    from sslbench.config import parse_set

    with pytest.raises(ConfigError, match=message):
        resolve_config(item.split(".")[0], "digits", ["knn"], sets=parse_set([item]))


def test_symmetric_loss_is_the_mean_of_the_two_directions_and_enqueues_both_keys():
    method, config = _method("sce", "ssl.symmetric=true")
    learner = _learner(method, config)
    learner.eval()  # fixed BN statistics: the same input gives the same embedding twice
    x1, x2 = torch.rand(2, 5, 1, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    queue = learner.queue.features.clone()
    out = learner.training_step([x1, x2], torch.zeros(5, dtype=torch.long))
    k1, k2 = learner.target(x1), learner.target(x2)
    a = sce_loss(learner.online(x1), k2, queue, 0.5, 0.1, 0.07)
    b = sce_loss(learner.online(x2), k1, queue, 0.5, 0.1, 0.07)
    assert float(out["loss"].detach()) == pytest.approx(float((0.5 * (a + b)).detach()), rel=1e-12)
    learner.after_step(0, 10)
    assert torch.allclose(learner.queue.ordered()[-10:], torch.cat([k2, k1]))


@pytest.mark.parametrize("name", ["sce", "ressl"])
def test_gradients_reach_the_online_branch_only_and_the_target_moves_by_ema(name):
    method, config = _method(name)
    learner = _learner(method, config)
    x1, x2 = torch.rand(2, 8, 1, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    learner.queue.features.copy_(torch.nn.functional.normalize(torch.randn(learner.queue.features.shape,
                                                                           dtype=torch.float64), dim=1))
    loss = learner.training_step([x1, x2], torch.zeros(8, dtype=torch.long))["loss"]
    loss.backward()
    assert all(p.grad is None for p in learner.target_parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in learner.online_parameters())
    before = [p.detach().clone() for p in learner.target_parameters()]
    torch.optim.SGD([p for p in learner.parameters() if p.requires_grad], lr=0.5).step()
    assert all(torch.equal(a, p) for a, p in zip(before, learner.target_parameters()))  # not the optimiser
    learner.after_step(3, 10)
    m = learner.current_momentum
    for old, new, online in zip(before, learner.target_parameters(), learner.online_parameters()):
        assert torch.allclose(new, m * old + (1 - m) * online.detach(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["sce", "ressl"])
def test_queue_size_zero_is_rejected(name):
    method_cls = registries().methods.get(name)
    from sslbench.config import parse_set

    config = resolve_config(name, "digits", ["knn"], sets=parse_set(["ssl.queue_size=0"]))
    with pytest.raises(ConfigError, match="ssl.queue_size"):
        method_cls(config.method_params, config)


def test_ressl_and_sce_target_the_weak_view_by_default():
    for name in ("ressl", "sce"):
        config = resolve_config(name, "cifar10", ["knn"], overrides={"data": {"root": "/nowhere"}})
        assert (config.ssl.online_aug, config.ssl.target_aug) == ("strong", "weak")
    ressl = resolve_config("ressl", "cifar10", ["knn"], overrides={"data": {"root": "/nowhere"}})
    assert (ressl.method_params.tau, ressl.method_params.tau_m) == (0.1, 0.04)


@pytest.mark.parametrize("name", ["ressl", "sce"])
def test_tiny_end_to_end_run_on_digits(tmp_path, name):
    result = CliRunner().invoke(cli, ["run", "-m", name, "-p", "knn", "-d", "digits", "-o", str(tmp_path), *TINY],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"{name} on digits" in result.output and "knn top1@k20" in result.output
