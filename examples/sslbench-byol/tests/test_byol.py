"""The example plugin passes sslbench's conformance kit, installed as a user would install it."""

import pytest
import torch
import torch.nn.functional as F

from sslbench.contract.loading import plugin_infos, registries
from sslbench.testing import METHOD_CHECKS
from sslbench_byol import BYOL, BYOLParams


def test_discovered_through_its_own_entry_point():
    info = {i.name: i for i in plugin_infos()}["byol"]
    assert info.distribution == "sslbench-byol" and info.error is None
    assert registries().methods.get("byol") is BYOL


@pytest.mark.parametrize("check", METHOD_CHECKS, ids=lambda c: c.__name__)
def test_conformance(check):
    check("byol")


def test_loss_is_mean_squared_distance_of_unit_vectors():
    p, z = F.normalize(torch.randn(6, 4), dim=1), F.normalize(torch.randn(6, 4), dim=1)
    expected = ((p - z) ** 2).sum(1).mean()
    assert torch.allclose(BYOL(BYOLParams(), None).loss(p, z, torch.empty(0, 4)), expected, atol=1e-6)


def test_runs_through_sslbench_run(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "sslbench.cli", "run", "--method", "byol", "--protocol", "knn",
                           "--dataset", "digits", "--set", "train.max_steps=2", "--set",
                           "model.backbone_options={width: 4}", "--no-progress", "-o", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("byol on digits")
