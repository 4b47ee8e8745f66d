"""Methods without a momentum branch (issue 18): SiameseMethod gets views, heads from the config,
in-batch negatives gathered across ranks with their gradient, AMP, checkpoints and resume from the
engine, and the config keys it never reads are neither shown nor hashed."""

import os
import socket
import types

import pytest
import torch
import torch.multiprocessing as mp
from click.testing import CliRunner

from sslbench import hookimpl
from sslbench.cli import cli
from sslbench.contract import loading as plugins
from sslbench.contract.errors import ConfigError, PluginError
from sslbench.engine import checkpoint
from sslbench.method import SiameseMethod
from sslbench.runner import resolve_config

from test_simclr_example import simclr  # noqa: F401 (fixture: the example SimCLR, registered here)

TINY = {"data": {"input_size": 8}, "model": {"backbone_options": {"width": 4}, "projector_hidden": 16,
                                              "projector_out": 8},
        "train": {"epochs": 2, "batch_size": 512, "device": "cpu", "warmup_epochs": 0}}


def _register(*classes):
    module = types.ModuleType("siamese_test_plugin")
    module.register_methods = hookimpl(lambda register: [register(c) for c in classes])
    plugins.register_plugin(module, "siamese_test_plugin")


def _pretrain(name, run_dir, sets=TINY, **kwargs):
    from sslbench.engine.trainer import pretrain

    regs = plugins.registries()
    config = resolve_config(name, "digits", ["knn"], sets=sets)
    run_dir.mkdir(parents=True, exist_ok=True)
    return pretrain(config, regs.methods.get(name)(config.method_params, config), regs.datasets.get("digits"), regs,
                    run_dir, progress=False, **kwargs)


# --------------------------------------------------------------------------- unused config keys


def test_a_siamese_method_config_shows_no_queue_momentum_or_symmetry(simclr):
    result = CliRunner().invoke(cli, ["run", "-m", "simclr", "-p", "knn", "-d", "digits", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "queue_size" not in result.output and "momentum: 0.99" not in result.output
    assert "symmetric" not in result.output and "online_aug" in result.output and "simclr:" in result.output
    moco = CliRunner().invoke(cli, ["run", "-m", "moco", "-p", "knn", "-d", "digits", "--dry-run"])
    assert "queue_size" in moco.output  # a momentum method keeps them


def test_keys_a_method_never_reads_do_not_change_its_hashes(simclr, caplog):
    base = resolve_config("simclr", "digits", ["knn"])
    other = resolve_config("simclr", "digits", ["knn"], sets={"ssl": {"queue_size": 7, "momentum": 0.5}})
    assert base.pretrain_hash() == other.pretrain_hash() and base.config_hash() == other.config_hash()
    assert "does not use ssl.queue_size" in caplog.text  # said, not silently dropped
    used = resolve_config("simclr", "digits", ["knn"], sets={"ssl": {"online_aug": "digits-weak"}})
    assert used.pretrain_hash() != base.pretrain_hash()
    moco = [resolve_config("moco", "digits", ["knn"], sets={"ssl": {"momentum": m}}).pretrain_hash() for m in (.9, .5)]
    assert moco[0] != moco[1]


def test_an_unused_config_entry_that_names_no_config_key_is_refused():
    class Typo(SiameseMethod):
        name = "typo-siamese"
        description = "declares a key that does not exist"
        unused_config = ("ssl.queue_sise",)

    _register(Typo)
    with pytest.raises(PluginError, match="unused_config names 'ssl.queue_sise'"):
        resolve_config("typo-siamese", "digits", ["knn"])


# --------------------------------------------------------------------------- views, heads, loss


class ThreeViews(SiameseMethod):
    """Records what its loss receives."""

    name = "three-views"
    description = "three global views"
    num_views = 3
    seen = {}

    def loss(self, z, p):
        ThreeViews.seen = {"z": [t.shape for t in z], "p_is_z": p is z, "norms": [t.norm(dim=1) for t in z]}
        return sum(((a - b) ** 2).sum(1).mean() for a, b in zip(z, z[1:]))


def test_every_view_reaches_the_loss_l2_normalised_through_the_configured_projector():
    _register(ThreeViews)
    config = resolve_config("three-views", "digits", ["knn"], sets=TINY)
    method = ThreeViews(config.method_params, config)
    assert len(method.view_augmentations()) == 3
    from sslbench.engine.trainer import build_backbone

    learner = method.build(build_backbone(plugins.registries(), "convnet-small", 1, {"width": 4}), 10)
    assert learner.projector[0].out_features == 16 and learner.predictor is None
    out = learner.training_step([torch.randn(5, 1, 8, 8) for _ in range(3)], torch.zeros(5))
    assert out["loss"].ndim == 0
    assert ThreeViews.seen["z"] == [(5, 8)] * 3 and ThreeViews.seen["p_is_z"]
    assert all(torch.allclose(n, torch.ones(5)) for n in ThreeViews.seen["norms"])


def test_a_missing_view_is_a_one_line_error_naming_the_method_not_an_index_error():
    _register(ThreeViews)
    config = resolve_config("three-views", "digits", ["knn"], sets=TINY)
    from sslbench.engine.trainer import build_backbone

    learner = ThreeViews(config.method_params, config).build(
        build_backbone(plugins.registries(), "convnet-small", 1, {"width": 4}), 10)
    with pytest.raises(PluginError, match=r"received 2 view\(s\), expected at least 3"):
        learner.training_step([torch.randn(4, 1, 8, 8)] * 2, torch.zeros(4))


def test_num_views_below_two_is_refused():
    class One(SiameseMethod):
        name = "one-view"
        description = "one view only"
        num_views = 1

    with pytest.raises(ConfigError, match="one-view.num_views"):
        One(None, None)


# --------------------------------------------------------------------------- engine features


def test_resumed_siamese_pretraining_ends_with_the_uninterrupted_weights(simclr, tmp_path):
    full = _pretrain("simclr", tmp_path / "full")
    _pretrain("simclr", tmp_path / "part", stop_after_epochs=1)
    assert checkpoint.load(tmp_path / "part" / "checkpoint.pt")["epoch"] == 1
    resumed = _pretrain("simclr", tmp_path / "part", resume=True)
    assert resumed.resumed_from == 1
    for a, b in zip(full.backbone.state_dict().values(), resumed.backbone.state_dict().values()):
        assert torch.equal(a, b)


def test_bf16_autocast_trains_a_siamese_method_with_a_float32_loss(simclr, tmp_path):
    sets = {**TINY, "train": {**TINY["train"], "epochs": 1, "max_steps": 2, "precision": "bf16"}}
    out = _pretrain("simclr", tmp_path / "bf16", sets=sets)
    assert out.steps == 2 and out.final_loss is not None and torch.isfinite(torch.tensor(out.final_loss))


# --------------------------------------------------------------------------- DDP: in-batch negatives


def _gather_worker(rank: int, world: int, port: int, x: torch.Tensor, w: torch.Tensor, out: dict) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        from sslbench.engine.distributed import all_gather_with_grad

        weight = w.clone().requires_grad_()
        rows = len(x) // world
        z = torch.nn.functional.normalize(x[rank * rows:(rank + 1) * rows] @ weight, dim=1)
        everyone = all_gather_with_grad(z)
        loss = _in_batch_loss(everyone)
        loss.backward()
        grad = weight.grad.clone()
        dist.all_reduce(grad)  # what DDP does: the mean of the ranks' gradients
        out[rank] = (float(loss), grad / world, everyone.detach().clone())
    finally:
        dist.destroy_process_group()


def _in_batch_loss(z: torch.Tensor) -> torch.Tensor:
    """A contrastive loss over every pair of the batch: each row's positive is its neighbour row."""
    logits = (z @ z.T / 0.5).fill_diagonal_(float("-inf"))
    return torch.nn.functional.cross_entropy(logits, torch.arange(len(z)) ^ 1)


@pytest.mark.slow  # long end-to-end: `python -m pytest -m slow`
def test_embeddings_gathered_across_two_ranks_give_the_one_process_loss_and_gradient():
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(8, 5, generator=g), torch.randn(5, 3, generator=g)
    weight = w.clone().requires_grad_()
    single = _in_batch_loss(torch.nn.functional.normalize(x @ weight, dim=1))
    single.backward()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = mp.Manager().dict()
    mp.spawn(_gather_worker, args=(2, port, x, w, out), nprocs=2, join=True)
    for rank in (0, 1):
        loss, grad, everyone = out[rank]
        assert abs(loss - float(single.detach())) < 1e-6  # every rank sees the whole global batch
        assert everyone.shape == (8, 3)
        assert torch.allclose(grad, weight.grad, atol=1e-6)  # negatives on the other rank get their gradient
