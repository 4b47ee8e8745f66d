"""Per-dataset presets of MoCo, ReSSL and SCE against thesis Tables A.2, A.3 and 4.5."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from sslbench.cli import cli
from sslbench.config import parse_set
from sslbench.runner import resolve_config

METHODS = ("moco", "ressl", "sce")
ROOT = {"data": {"root": "/data/not-read-by-resolve"}}

# Table A.2: backbone, projector layers/hidden/out/BN, input, queue, ema, lr, batch, wd. The CIFAR
# ema is 0.99, not the printed 0.900 (ReSSL's and solo-learn's CIFAR value: docs/design.md).
SMALL = dict(backbone="resnet18", small_stem=True, projector=(2, 512, 128, "hidden"), lr=0.06, batch=256, wd=5e-4)
TABLE_A2 = {
    "cifar10": dict(SMALL, input=32, queue=4096, ema=0.99),
    "cifar100": dict(SMALL, input=32, queue=4096, ema=0.99),
    "stl10": dict(SMALL, input=96, queue=16384, ema=0.996),
    "tiny-imagenet": dict(SMALL, input=64, queue=16384, ema=0.996),
    "imagenet100": dict(backbone="resnet50", small_stem=False, projector=(2, 4096, 256, "none"), input=224,
                        queue=65536, ema=0.996, lr=0.3, batch=512, wd=1e-4),
    "imagenet": dict(backbone="resnet50", small_stem=False, projector=(3, 2048, 256, "all"), input=224,
                     queue=65536, ema=0.996, lr=0.5, batch=512, wd=1e-4),
}
# Best (tau, tau_m) per dataset: Table A.3 (small and medium datasets) and Table 4.5 (ImageNet100).
SCE_TEMPERATURES = {"cifar10": (0.2, 0.10), "cifar100": (0.1, 0.08), "stl10": (0.1, 0.04),
                    "tiny-imagenet": (0.1, 0.07), "imagenet100": (0.1, 0.07), "imagenet": (0.1, 0.07)}


@pytest.mark.parametrize("dataset", list(TABLE_A2))
@pytest.mark.parametrize("method", METHODS)
def test_preset_matches_table_a2(method, dataset):
    c = resolve_config(method, dataset, ["linear"], overrides=ROOT)
    row = TABLE_A2[dataset]
    projector = row["projector"]
    if method == "moco" and dataset == "imagenet":  # 4.4.2: MoCo v2 kept the ImageNet100 projector
        projector = TABLE_A2["imagenet100"]["projector"]
    m = c.model
    assert m.backbone == row["backbone"]
    assert bool(m.backbone_options.get("small_stem", False)) == row["small_stem"]
    assert (m.projector_layers, m.projector_hidden, m.projector_out, m.projector_bn) == projector
    assert m.predictor_layers == 0
    assert c.data.input_size == row["input"]
    assert (c.ssl.queue_size, c.ssl.momentum, c.ssl.symmetric) == (row["queue"], row["ema"], False)
    t = c.train
    assert (t.lr, t.batch_size, t.weight_decay) == (row["lr"], row["batch"], row["wd"])
    assert (t.optimizer, t.sgd_momentum, t.epochs, t.warmup_epochs, t.lr_scaling) == ("sgd", 0.9, 200, 5, "linear")


@pytest.mark.parametrize("dataset", list(TABLE_A2))
def test_method_specific_presets(dataset):
    sce = resolve_config("sce", dataset, ["knn"], overrides=ROOT)
    p = sce.method_params
    assert (p.tau, p.tau_m) == SCE_TEMPERATURES[dataset]
    assert (p.lam, p.target_variant, p.lam_end, p.tau_m_end) == (0.5, "zero-logit", None, None)
    ressl = resolve_config("ressl", dataset, ["knn"], overrides=ROOT)
    assert (ressl.method_params.tau, ressl.method_params.tau_m) == (0.1, 0.04)
    for c in (sce, ressl):  # 4.4.1 / A.5.1: strong online view, weak target view
        assert (c.ssl.online_aug, c.ssl.target_aug) == ("strong", "weak")
    moco = resolve_config("moco", dataset, ["knn"], overrides=ROOT)
    assert moco.method_params.temperature == 0.2
    assert (moco.ssl.online_aug, moco.ssl.target_aug) == ("strong", "strong")


def test_sce_imagenet100_dry_run_shows_the_table_a2_row():
    result = CliRunner().invoke(cli, ["run", "--method", "sce", "--protocol", "linear", "--dataset", "imagenet100",
                                      "--data-root", "/data/imagenet", "--dry-run"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    c = yaml.safe_load(result.output)
    assert c["model"]["backbone"] == "resnet50"
    assert {k: c["model"][k] for k in ("projector_layers", "projector_hidden", "projector_out", "projector_bn")} == {
        "projector_layers": 2, "projector_hidden": 4096, "projector_out": 256, "projector_bn": "none"}
    assert (c["ssl"]["queue_size"], c["ssl"]["momentum"]) == (65536, 0.996)
    assert (c["train"]["lr"], c["train"]["batch_size"], c["train"]["weight_decay"]) == (0.3, 512, 1.0e-4)
    assert c["data"]["input_size"] == 224
    assert (c["sce"]["tau"], c["sce"]["tau_m"], c["sce"]["lam"]) == (0.1, 0.07, 0.5)


def test_presets_are_overridable_by_set():
    c = resolve_config("sce", "imagenet100", ["knn"], sets=parse_set(["sce.tau_m=0.05", "ssl.queue_size=1024",
                                                                      "ssl.symmetric=true"]), overrides=ROOT)
    assert (c.method_params.tau_m, c.ssl.queue_size, c.ssl.symmetric) == (0.05, 1024, True)
    assert c.model.projector_hidden == 4096  # the rest of the preset stays


def test_imagenet_mocov3_config_file_layers_over_the_preset():
    from pathlib import Path

    import sslbench_sce

    path = Path(sslbench_sce.__file__).with_name("imagenet-mocov3.yaml")
    c = resolve_config("sce", "imagenet", ["linear"], config_file=str(path), overrides=ROOT)
    assert (c.train.optimizer, c.train.batch_size, c.train.weight_decay) == ("lars", 4096, 1e-6)
    assert (c.model.predictor_layers, c.ssl.symmetric) == (2, True)
    assert (c.ssl.online_aug, c.ssl.target_aug) == ("strong-alpha", "strong-beta")


@pytest.mark.parametrize("method", ["ressl", "sce"])
def test_digits_preset_fits_the_cpu_demo(method):
    c = resolve_config(method, "digits", ["knn"])
    assert c.model.backbone == "convnet-small"
    assert c.ssl.queue_size < 1437  # smaller than the training set
    assert (c.ssl.online_aug, c.ssl.target_aug) == ("digits", "digits-weak")
