"""COMEDIAN: its losses against plain loops, and the three steps + tamap end to end on a tiny set."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
import yaml
from helpers import run_cli

from sslbench_comedian.loss import distillation_loss, infonce_loss, spotting_bce_loss


def _unit(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g, dtype=torch.float64), dim=-1)


def loop_distillation(student, teacher, queue, lam, tau, tau_m):
    b, t, _ = student.shape
    total = 0.0
    for i in range(b):
        candidates = [teacher[i, j] for j in range(t)] + [queue[k] for k in range(len(queue))]
        for a in range(t):
            s1_den = sum(math.exp(float(student[i, a] @ c) / tau) for c in candidates)
            rel = [0.0 if k == a else math.exp(float(teacher[i, a] @ c) / tau_m) for k, c in enumerate(candidates)]
            rel_sum = sum(rel)
            for k, c in enumerate(candidates):
                w2 = lam * (k == a) + (1 - lam) * rel[k] / rel_sum
                total -= w2 * math.log(math.exp(float(student[i, a] @ c) / tau) / s1_den)
    return total / (b * t)


def test_distillation_loss_matches_eqs_6_3_to_6_6_loop():
    student, teacher, queue = _unit(3, 4, 8, seed=0), _unit(3, 4, 8, seed=1), _unit(5, 8, seed=2)
    got = distillation_loss(student, teacher, queue, lam=0.5, tau=0.1, tau_m=0.07)
    assert float(got) == pytest.approx(loop_distillation(student, teacher, queue, 0.5, 0.1, 0.07), rel=1e-10)


def test_distillation_with_one_token_is_sce_with_the_masked_target():
    from sslbench_sce.loss import sce_loss

    student, teacher, queue = _unit(6, 1, 8, seed=3), _unit(6, 1, 8, seed=4), _unit(10, 8, seed=5)
    expected = sce_loss(student[:, 0], teacher[:, 0], queue, 0.5, 0.1, 0.05, variant="masked")
    torch.testing.assert_close(distillation_loss(student, teacher, queue, 0.5, 0.1, 0.05), expected)


def test_distillation_gradient_reaches_the_student_only():
    student = _unit(2, 3, 4, seed=6).requires_grad_()
    teacher = _unit(2, 3, 4, seed=7).requires_grad_()
    distillation_loss(student, teacher, _unit(4, 4, seed=8)).backward()
    assert student.grad.abs().sum() > 0 and teacher.grad is None


def test_infonce_and_bce_match_loops():
    q, k, queue = _unit(4, 6, seed=9), _unit(4, 6, seed=10), _unit(7, 6, seed=11)
    expected = 0.0
    for i in range(4):
        pos = math.exp(float(q[i] @ k[i]) / 0.1)
        expected -= math.log(pos / (pos + sum(math.exp(float(q[i] @ c) / 0.1) for c in queue))) / 4
    assert float(infonce_loss(q, k, queue, 0.1)) == pytest.approx(expected, rel=1e-10)
    logits = torch.randn(2, 3, 5, dtype=torch.float64)
    y = (torch.rand(2, 3, 5) > 0.5).double()
    p = torch.sigmoid(logits)
    loop = -sum(float(y[b, t, c] * p[b, t, c].log() + (1 - y[b, t, c]) * (1 - p[b, t, c]).log())
                for b in range(2) for t in range(3) for c in range(5)) / 30
    assert float(spotting_bce_loss(logits, y)) == pytest.approx(loop, rel=1e-10)


TINY = {
    "comedian": {
        "backbone_options": {"img_size": 32, "tokens": 8, "temporal_depth": 1, "temporal_heads": 2,
                             "spatial_embed_dim": 32, "spatial_depth": 1, "spatial_num_heads": 2,
                             "spatial_patch_size": 16},
        "features": "baidu_soccer_embeddings_PCA16", "warmup_epochs": 0, "proj_hidden": 32, "proj_out": 16,
        "step1_epochs": 1, "step1_batch_size": 32, "step1_queue": 64,
        "step2_epochs": 1, "step2_batch_size": 4, "step2_clips_per_half": 4, "step2_queue": 32,
        "step3_classifier_epochs": 1, "step3_epochs": 1, "step3_batch_size": 4, "step3_clips_per_half": 4,
    },
    "tamap": {"ignore_seconds": 2},
}


def test_three_steps_and_tamap_run_end_to_end(tmp_path):
    from sslbench.spotting.synthetic import write_soccernet

    data, out = tmp_path / "data", tmp_path / "out"
    write_soccernet(data, seed=0, splits={"train": 2, "test": 1}, half_seconds=30, feature_dim=32)
    assert run_cli("soccernet-pca", str(data), "--dim", "16").returncode == 0
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    result = run_cli("comedian", str(data), "-o", str(out), "--config", str(config))
    assert result.returncode == 0, result.stderr[-2000:]
    for step in (1, 2, 3):
        assert (out / f"step{step}" / "backbone.pt").is_file()
        assert json.loads((out / f"step{step}" / "log.jsonl").read_text().splitlines()[-1])["loss"] > 0
    assert "tamap a_mAP" in result.stdout
    games = list((out / "spotting" / "predictions").rglob("results_spotting.json"))
    raw = list((out / "spotting" / "raw").rglob("raw_predictions.npz"))
    assert len(games) == 1 and len(raw) == 1
    # The same checkpoint through `sslbench run --protocol tamap`, soft NMS this time.
    options = json.dumps({**TINY["comedian"]["backbone_options"], "num_classes": 17})
    result = run_cli("run", "--method", "random", "--dataset", "soccernet", "--data-root", str(data),
                     "--backbone", "vivit-tiny", "--set", f"model.backbone_options={options}",
                     "--checkpoint", str(out / "step3" / "backbone.pt"), "--protocol", "tamap",
                     "--set", "tamap.nms=soft", "--set", "tamap.ignore_seconds=2", "--set", "train.device=cpu",
                     "-o", str(tmp_path / "results"), "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "a_mAP" in result.stdout and "mAP@1s" in result.stdout


def test_an_image_backbone_initialises_the_spatial_encoder(tmp_path):
    from types import SimpleNamespace

    from sslbench.engine import checkpoint
    from sslbench_comedian.steps import build_model, load_weights

    p = SimpleNamespace(backbone="vivit-tiny", backbone_options=TINY["comedian"]["backbone_options"])
    torch.manual_seed(0)
    pretrained = build_model(p).spatial  # e.g. trained by MoCo or SCE on stacked 2-frame windows
    checkpoint.save({"backbone": pretrained.state_dict()}, tmp_path / "backbone.pt")
    torch.manual_seed(1)
    model = build_model(p, num_classes=17)
    load_weights(model, tmp_path / "backbone.pt")
    for key, value in pretrained.state_dict().items():
        assert torch.equal(model.spatial.state_dict()[key], value)
    checkpoint.save({"backbone": build_model(p).state_dict()}, tmp_path / "video.pt")
    load_weights(model, tmp_path / "video.pt")  # a step-1/2 checkpoint: the head stays as it is
