"""Everything a run reads is checked before its first training step: a bad split, a damaged
results store or a backbone of the wrong modality fails in seconds with one line and exit status 2,
never after the pretraining, and nothing is written to the run folder."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sslbench.cli import cli
from sslbench.config import ConfigError
from sslbench.contract.loading import registries
from sslbench.runner import preflight, resolve_config
from sslbench.video import synthetic

TINY = ["--backbone", "convnet-small", "--set", "model.backbone_options={width: 4}", "--set", "train.max_steps=2",
        "--set", "data.input_size=8", "--no-progress"]


def _imagefolder(root: Path, splits=("train", "val"), classes=("a", "b"), corrupt: str | None = None) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in splits:
        for cls in classes:
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(3):
                Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    if corrupt:
        (root / corrupt).write_bytes(b"\x89PNG broken")
    return root


@pytest.fixture
def no_training(monkeypatch):
    """The trainer must never start: calling it fails the test."""
    import sslbench.engine.trainer as trainer

    def refuse(*args, **kwargs):
        raise AssertionError("the pretraining started")

    monkeypatch.setattr(trainer, "pretrain", refuse)


def _fails_before_pretraining(args: list[str], out: Path, needle: str) -> str:
    result = CliRunner().invoke(cli, ["run", *args, "-o", str(out), *TINY])
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], result.stderr
    assert not (out / "pretrain").exists()
    return lines[0]


def test_a_corrupt_image_in_val_fails_before_pretraining(tmp_path, no_training):
    root = _imagefolder(tmp_path / "data", corrupt="val/b/2.png")  # not the first item of val
    _fails_before_pretraining(["-m", "moco", "-p", "knn", "-d", "imagefolder", "--data-root", str(root)],
                              tmp_path / "out", "2.png")


def test_a_missing_val_split_fails_before_pretraining(tmp_path, no_training):
    root = _imagefolder(tmp_path / "data", splits=("train",))
    line = _fails_before_pretraining(["-m", "moco", "-p", "linear", "-d", "imagefolder", "--data-root", str(root)],
                                     tmp_path / "out", str(root / "val"))
    assert "does not exist" in line


def test_a_missing_transfer_split_fails_before_pretraining(tmp_path, no_training):
    target = _imagefolder(tmp_path / "target", splits=("train",))
    source = _imagefolder(tmp_path / "source")
    _fails_before_pretraining(["-m", "moco", "-p", "knn", "-d", "imagefolder", "--data-root", str(source),
                               "--eval-dataset", "imagenet", "--eval-data-root", str(target)], tmp_path / "out",
                              str(target / "val"))


def test_a_damaged_results_store_fails_before_pretraining(tmp_path, no_training):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.sqlite").write_bytes(b"not a database, but 100 bytes of something else" * 3)
    line = _fails_before_pretraining(["-m", "moco", "-p", "knn", "-d", "digits"], out, "results.sqlite")
    assert "damaged" in line


def test_a_healthy_store_passes_the_quick_check(tmp_path):
    from sslbench.store import check, connect

    path = tmp_path / "results.sqlite"
    check(path)  # not there yet: fine
    connect(path).close()
    check(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    conn.close()


def test_a_missing_kinetics_val_split_fails_before_pretraining(tmp_path, no_training):
    root = synthetic.make_kinetics_csv(tmp_path / "k400", ("right", "left"), {"train": 2}, seconds=2)
    _fails_before_pretraining(["-m", "moco", "-p", "knn", "-d", "kinetics400", "--data-root", str(root),
                               "--backbone", "resnet3d18", "--set", "data.clip_frames=2"], tmp_path / "out",
                              "kinetics400")


def test_deepmind_validate_csv_is_the_kinetics_val_split(tmp_path):
    from sslbench.video.datasets import load_kinetics

    root = synthetic.make_kinetics_csv(tmp_path / "k400", ("right", "left"), {"train": 2, "val": 1}, seconds=1)
    (root / "annotations" / "val.csv").rename(root / "annotations" / "validate.csv")  # DeepMind's file name
    (root / "val").rename(root / "validate")
    val = load_kinetics(str(root), "val", 32)
    assert len(val) == 2 and sorted(y for _, y in val.samples) == [0, 1]
    assert all("/validate/" in path for path, _ in val.samples)


def _resolve(method: str, dataset: str, protocols: list[str], **overrides):
    return resolve_config(method, dataset, protocols, overrides=overrides)


def test_data_root_given_to_a_dataset_that_reads_none_is_said_to_be_ignored(tmp_path, caplog):
    config = _resolve("random", "digits", ["knn"], data={"root": "/some/where"})
    with caplog.at_level(logging.WARNING, logger="sslbench"):
        opened = preflight(config, tmp_path, registries())
    assert "dataset 'digits' reads no data root: --data-root /some/where is ignored" in caplog.text
    assert set(opened.evaluation) == {"train", "test"}  # opened once, handed on to the protocols


def test_no_warning_when_the_root_is_read_by_the_transfer_dataset(tmp_path, caplog):
    import types

    import torch

    from sslbench import hookimpl
    from sslbench.contract import loading as plugins
    from sslbench.contract.dataset import DatasetSpec
    from sslbench.image.readers import TensorImageDataset

    def noise(root, split, size):
        return TensorImageDataset(torch.zeros((4, 3, 8, 8), dtype=torch.uint8), torch.tensor([0, 1, 0, 1]))

    module = types.ModuleType("rootless")
    module.register_datasets = hookimpl(lambda register: register(
        DatasetSpec(name="rootless", load=noise, num_classes=2, needs_root=False)))
    plugins.register_plugin(module, "rootless")
    root = _imagefolder(tmp_path / "data")
    config = _resolve("random", "rootless", ["knn"], data={"root": str(root), "input_size": 8},
                      eval_dataset="imagefolder")
    with caplog.at_level(logging.WARNING, logger="sslbench"):
        preflight(config, tmp_path / "out", registries())
    assert "ignored" not in caplog.text  # --data-root is the transfer dataset's folder


def test_a_soccernet_backbone_on_images_is_a_modality_error_offering_only_image_backbones():
    with pytest.raises(ConfigError) as info:
        _resolve("moco", "digits", ["knn"], model={"backbone": "vivit-tiny"})
    message = str(info.value)
    assert message.startswith("backbone 'vivit-tiny' takes soccernet input but dataset 'digits' is image data: "
                              "expected an image backbone (")
    offered = message.split("(", 1)[1].rstrip(")").split(", ")
    assert "convnet-small" in offered and not [n for n in offered if n.startswith(("vivit", "viswin", "resnet3d"))]


@pytest.mark.parametrize("name", [n for n in registries().backbones.list() if not n.endswith(":")])
def test_every_backbone_accepts_the_input_of_its_declared_modality(name):
    import torch

    from sslbench.runner import backbone_modality

    build = registries().backbones.get(name)
    modality = backbone_modality(build)
    if modality not in ("image", "video"):  # SoccerNet frame windows: COMEDIAN's own tests feed them
        pytest.skip(f"{name} takes {modality} input")
    options = {"width": 4} if name in ("convnet-small", "resnet3d18", "resnet3d50") else {}
    net = build("", 3, **options).eval()
    x = torch.rand(1, 3, 32, 32) if modality == "image" else torch.rand(1, 3, 4, 32, 32)
    with torch.no_grad():
        assert net(x).shape == (1, net.num_features)
