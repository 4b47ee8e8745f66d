"""The second tutorial's SimCLR (examples/sslbench-simclr), installed as a third-party distribution,
passes the conformance kit and runs through `run`, `compare` and `table` on digits."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sslbench.contract import loading as plugins
from sslbench.testing import METHOD_CHECKS

from helpers import run_cli

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sslbench-simclr"
TINY = ("--set", "train.max_steps=2", "--set", "model.backbone_options={width: 4}", "--set", "knn.k=[5]",
        "--no-progress")


@pytest.fixture
def simclr():
    """The example SimCLR plugin, registered in this process."""
    sys.path.insert(0, str(EXAMPLE))
    import sslbench_simclr

    plugins.register_plugin(sslbench_simclr, "simclr")
    yield sslbench_simclr
    plugins.unregister_plugin("simclr")
    sys.path.remove(str(EXAMPLE))


@pytest.fixture
def site(tmp_path):
    """A PYTHONPATH on which the example is an installed distribution with its entry point."""
    info = tmp_path / "site" / "sslbench_simclr-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sslbench-simclr\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[sslbench]\nsimclr = sslbench_simclr\n")
    return f"{tmp_path / 'site'}:{EXAMPLE}"


def _nt_xent_by_hand(z1: np.ndarray, z2: np.ndarray, t: float) -> float:
    """NT-Xent of SimCLR's paper (eq. 1), one anchor at a time."""
    z = np.concatenate([z1, z2])
    n, total = len(z1), 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        others = [k for k in range(2 * n) if k != i]
        sims = np.array([z[i] @ z[k] for k in others]) / t
        total += -(z[i] @ z[j] / t) + np.log(np.exp(sims).sum())
    return total / (2 * n)


def test_nt_xent_equals_the_papers_formula_anchor_by_anchor(simclr):
    g = torch.Generator().manual_seed(0)
    z1, z2 = (F.normalize(torch.randn(5, 4, generator=g, dtype=torch.float64), dim=1) for _ in range(2))
    assert float(simclr.nt_xent(z1, z2, 0.3)) == pytest.approx(_nt_xent_by_hand(z1.numpy(), z2.numpy(), 0.3),
                                                                  rel=1e-12)


@pytest.mark.parametrize("check", METHOD_CHECKS, ids=lambda c: c.__name__)
def test_conformance(simclr, check):
    check("simclr")


@pytest.mark.slow  # long end-to-end: `python -m pytest -m slow`
def test_runs_through_run_compare_and_table_as_an_installed_plugin(site, tmp_path):
    out = str(tmp_path / "out")
    compare = run_cli("compare", "-m", "simclr,moco", "-p", "knn", "-d", "digits", "--sweep",
                      "simclr.temperature=0.2,0.5", "-o", out, *TINY, pythonpath=site)
    assert compare.returncode == 0, compare.stderr[-3000:]
    assert "3 cell(s) run" in compare.stdout and "simclr" in compare.stdout
    run = run_cli("run", "-m", "simclr", "-p", "knn", "-d", "digits", "-o", out, *TINY, pythonpath=site)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("simclr on digits") and "reused pretraining" in run.stdout  # compare's 0.5 cell
    table = run_cli("table", "-o", out, "--rows", "method,simclr.temperature", pythonpath=site)
    assert table.returncode == 0, table.stderr[-3000:]
    rows = [line for line in table.stdout.splitlines() if line.startswith("| simclr") or line.startswith("| moco")]
    assert len(rows) == 3, table.stdout
