"""Start-up stays light (issue 17, P9): the first training step needs neither torch._dynamo nor
scikit-learn, ``--help`` neither numpy nor torch; what replaced them gives the same numbers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from sslbench.engine.optim import LARS, SGD, AdamW

FIRST_STEP = r"""
import os, sys
import sslbench.engine.steptime as steptime
def step_done(self, images):
    heavy = sorted(m for m in ("torch._dynamo", "sklearn", "scipy", "pandas", "matplotlib") if m in sys.modules)
    print("LOADED", heavy, flush=True)
    os._exit(0)
steptime.StepTimer.step_done = step_done
from sslbench.cli import main
sys.argv = ["sslbench", "run", "-m", "moco", "-d", "digits", "-p", "knn", "--set", "train.max_steps=1",
            "--set", "model.backbone_options={width: 8}", "--no-progress", "-o", sys.argv[1]]
main()
"""


def test_the_first_training_step_imports_neither_dynamo_nor_scikit_learn(tmp_path):
    proc = subprocess.run([sys.executable, "-c", FIRST_STEP, str(tmp_path)], capture_output=True, text=True,
                          timeout=600)
    assert "LOADED []" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-3000:]


def test_help_imports_neither_numpy_nor_torch():
    code = ("import sys\nfrom sslbench.cli import main\nsys.argv = ['sslbench', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('LOADED', sorted(m for m in ('numpy', 'torch', 'pandas', 'sklearn') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert "LOADED []" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("ours,theirs,options", [
    (SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=5e-4)),
    (AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.05)),
])
def test_optimizers_step_exactly_as_torch_optim_and_share_its_state_dict(ours, theirs, options):
    torch.manual_seed(0)
    a, b = nn.Linear(5, 3), nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    opt_a, opt_b = ours(a.parameters(), **options), theirs(b.parameters(), **options)
    for _ in range(3):
        x = torch.randn(4, 5)
        for model, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            model(x).square().sum().backward()
            opt.step()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    theirs(b.parameters(), **options).load_state_dict(opt_a.state_dict())  # the same checkpoint format
    restored = ours(a.parameters(), **options)
    restored.load_state_dict(opt_b.state_dict())
    assert restored.state_dict()["state"].keys() == opt_b.state_dict()["state"].keys()


def test_lars_keeps_its_own_step_and_round_trips_its_state():
    model = nn.Linear(3, 3)
    opt = LARS(model.parameters(), lr=0.1, weight_decay=1e-4)
    before = model.weight.detach().clone()
    model(torch.randn(2, 3)).sum().backward()
    opt.step()
    assert not torch.equal(before, model.weight) and "mu" in opt.state[model.weight]
    LARS(model.parameters(), lr=0.1).load_state_dict(opt.state_dict())


def test_digits_split_is_scikit_learns_stratified_split():
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    from sslbench.image.readers import load_digits

    bunch = sk_load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    train_idx, test_idx = train_test_split(np.arange(len(images)), test_size=0.2, random_state=0,
                                           stratify=bunch.target)
    for split, idx in (("train", np.sort(train_idx)), ("test", np.sort(test_idx))):
        ours = load_digits(None, split)
        assert torch.equal(ours.images, torch.from_numpy(images[idx][:, None]))
        assert torch.equal(ours.labels, torch.from_numpy(bunch.target[idx]).long())
