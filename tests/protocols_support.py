"""Shared set-up of the protocol tests: an EvalContext on digits with a small random backbone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


def digits_context(cache_dir: Path | None, weights_id: str = "w0", width: int = 8, dataset: str = "digits",
                   sets: dict | None = None, seed: int = 0):
    """(EvalContext, forward-call counter) for ``dataset`` with a seeded convnet-small backbone."""
    from sslbench.engine.evaluation import EvalContext
    from sslbench.engine.trainer import build_backbone
    from sslbench.contract.loading import registries
    from sslbench.runner import resolve_config

    regs = registries()
    values = {"model": {"backbone": "convnet-small", "backbone_options": {"width": width}}}
    for key, value in (sets or {}).items():
        values.setdefault(key, {}).update(value)
    config = resolve_config("random", dataset, ["knn"], sets=values)
    spec = regs.datasets.get(dataset)
    torch.manual_seed(seed)
    backbone = build_backbone(regs, config.model.backbone, spec.channels, config.model.backbone_options)
    calls = {"forward": 0, "images": 0}

    def count(module, inputs, output):
        calls["forward"] += 1
        calls["images"] += len(inputs[0])

    backbone.register_forward_hook(count)
    ctx = EvalContext(backbone=backbone, spec=spec, config=config, weights_id=weights_id, device=torch.device("cpu"),
                      cache_dir=cache_dir, progress=False)
    return ctx, calls


@pytest.fixture(autouse=True)
def single_thread():
    """One intra-op thread while a protocol test runs: the tests' tiny tensor ops are dominated
    by thread hand-offs on a busy 2-core machine (restored afterwards for other tests)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
