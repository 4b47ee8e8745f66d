"""Every registered plugin object passes the conformance kit that third-party plugins use, and a
plugin that breaks a contract fails `check-plugin` with one line naming that contract."""

import types

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sslbench import hookimpl
from sslbench.cli import cli
from sslbench.contract import loading as plugins
from sslbench.contract.errors import DatasetError, UnknownNameError
from sslbench.contract.loading import registries, reset
from sslbench.contract.protocol import Metric, Protocol
from sslbench.contract.dataset import DatasetSpec
from sslbench.method import SiameseMethod
from sslbench.testing import (BACKBONE_CHECKS, DATASET_CHECKS, METHOD_CHECKS, PROTOCOL_CHECKS, check_backbone,
                              run_checks)

METHODS = registries().methods.list()
reset()


@pytest.mark.parametrize("check", METHOD_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", METHODS)
def test_method_conformance(name, check):
    check(name)


@pytest.mark.parametrize("check", BACKBONE_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", ["convnet-small", "resnet18"])
def test_backbone_conformance(name, check):
    check(name)


@pytest.mark.parametrize("check", DATASET_CHECKS, ids=lambda c: c.__name__)
def test_dataset_conformance_of_the_bundled_digits(check):
    check("digits")


@pytest.mark.parametrize("check", PROTOCOL_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", ["knn", "retrieval"])
def test_protocol_conformance(name, check):
    check(name)


def _register(**hooks):
    module = types.ModuleType("conformance_test_plugin")
    for hook, fn in hooks.items():
        setattr(module, hook, hookimpl(fn))
    plugins.register_plugin(module, "conformance_test_plugin")


def _failures(name, **kwargs):
    return {r.name: r.message for r in run_checks(name, **kwargs) if not r.ok}


def test_check_plugin_reports_failures_without_crashing():
    from sslbench_moco import MoCo

    class Broken(MoCo):
        name = "broken-loss"

        def loss(self, online, target, queue):
            return (online * 0).sum()  # no gradient signal

    _register(register_methods=lambda register: register(Broken))
    results = {r.name: r for r in run_checks("broken-loss")}
    assert results["check_registration"].ok
    assert not results["check_loss"].ok and "gradient" in results["check_loss"].message


@pytest.mark.slow  # long end-to-end: `python -m pytest -m slow`
def test_check_plugin_cli_passes_the_example_plugin_and_names_a_broken_ones_fault(make_plugin_dist):
    from helpers import run_cli

    ok = run_cli("check-plugin", "byol")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "6 passed, 0 failed" in ok.stdout
    site = make_plugin_dist("frozen-loss", "frozen_loss_plugin", '''
from sslbench import hookimpl
from sslbench.method import MomentumMethod

class FrozenLoss(MomentumMethod):
    name = "frozen-loss"
    description = "a loss that ignores its inputs"

    def loss(self, online, target, queue):
        return (online * 0).sum() + 1.0

@hookimpl
def register_methods(register):
    register(FrozenLoss)
''')
    bad = run_cli("check-plugin", "frozen-loss", pythonpath=site)
    assert bad.returncode == 1
    assert "FAIL  check_loss: loss gradient w.r.t. the online embeddings is zero" in bad.stdout
    assert "Traceback" not in bad.stdout + bad.stderr


# --------------------------------------------------------------------------- methods


class PerSample(SiameseMethod):
    """Forgets the mean: one loss value per image."""

    name = "per-sample"
    description = "a loss of shape (N,)"

    def loss(self, z, p):
        return 2 - 2 * (z[0] * z[1]).sum(1)


class OneView(PerSample):
    name = "one-view"
    description = "asks for one view but relates two"

    def view_augmentations(self):
        return super().view_augmentations()[:1]

    def loss(self, z, p):
        return (z[0] * z[1]).sum(1).mean()


def test_a_loss_with_one_value_per_sample_fails_naming_the_scalar_contract():
    _register(register_methods=lambda register: register(PerSample))
    failed = _failures("per-sample")
    assert failed["check_loss"] == "loss(z, p) must return a scalar tensor (the mean over the batch), got shape (8,)"
    assert "loss must be a scalar, got (16,)" in failed["check_training_step"]


def test_a_missing_second_view_fails_naming_the_view_contract_not_an_index_error():
    _register(register_methods=lambda register: register(OneView))
    failed = _failures("one-view")
    assert failed["check_views"] == "view_augmentations() returns 1 view(s), expected at least 2 (num_views = 2)"
    assert "received 1 view(s), expected at least 2" in failed["check_training_step"]
    assert "IndexError" not in " ".join(failed.values())


def test_a_method_whose_target_gets_gradients_fails_the_online_only_contract():
    from sslbench_moco import MoCo

    class LeakyTarget(MoCo):
        name = "leaky-target"

        def build(self, backbone, num_classes):
            learner = super().build(backbone, num_classes)
            for p in learner.target_parameters():
                p.requires_grad_(True)
            return learner

    _register(register_methods=lambda register: register(LeakyTarget))
    failed = _failures("leaky-target")
    assert failed["check_training_step"].startswith("target parameter target_backbone.")
    assert "is trained by the optimiser: the target branch gets no gradient" in failed["check_training_step"]


# --------------------------------------------------------------------------- datasets


def _npy_spec(name, load, **fields):
    base = dict(name=name, load=load, num_classes=10, mean=(0.5,) * 3, std=(0.25,) * 3,
                layout="<split>_images.npy and <split>_labels.npy", description="test dataset")
    return DatasetSpec(**{**base, **fields})


def _npy_load(root, split, image_size, transform=None):
    from pathlib import Path

    from sslbench.image.readers import TensorImageDataset

    base = Path(root or "")
    if not (base / f"{split}_images.npy").is_file():
        raise DatasetError(f"{base / f'{split}_images.npy'} does not exist: expected <split>_images.npy")
    images = torch.from_numpy(np.load(base / f"{split}_images.npy"))
    labels = torch.from_numpy(np.load(base / f"{split}_labels.npy"))
    return TensorImageDataset(transform(images) if transform else images, labels)


class FloatImages(torch.utils.data.Dataset):
    """Forgets the uint8 contract: images scaled to [0, 1]."""

    def __init__(self, inner):
        self.inner = inner

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, index):
        image, label = self.inner[index]
        return image.float() / 255, label


@pytest.fixture
def npy_root(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        np.save(tmp_path / f"{split}_images.npy", rng.integers(0, 256, (6, 3, 8, 8), dtype=np.uint8))
        np.save(tmp_path / f"{split}_labels.npy", rng.integers(0, 10, 6))
    return str(tmp_path)


def test_a_well_formed_dataset_plugin_passes_and_without_a_root_its_data_checks_are_skipped(npy_root):
    _register(register_datasets=lambda register: register(_npy_spec("npy-ok", _npy_load)))
    assert _failures("npy-ok", root=npy_root) == {}
    skipped = {r.name: r.message for r in run_checks("npy-ok") if r.skipped}
    assert skipped["check_dataset_splits"].startswith("needs --data-root PATH holding <split>_images.npy")


@pytest.mark.parametrize("broken, check, message", [
    (dict(load=lambda r, s, i: FloatImages(_npy_load(r, s, i))), "check_dataset_splits",
     "split 'train', item 0: image is a float32 tensor of shape (3, 8, 8), expected a uint8 tensor (C, H, W) "
     "with C = 3 and values 0-255"),
    (dict(num_classes=3), "check_dataset_splits", "out of range, expected an int in [0, 3)"),
    (dict(channels=1, mean=(0.5,), std=(0.2,)), "check_dataset_splits", "expected a uint8 tensor (C, H, W) with C = 1"),
    (dict(splits=("train", "val"), test_split="val"), "check_dataset_splits", "val_images.npy does not exist"),
    (dict(load=lambda r, s, i: _npy_load(r, s, i, lambda x: x + torch.randint_like(x, 0, 2))),
     "check_dataset_determinism", "differs between two reads: items must be deterministic"),
    (dict(test_split="valid"), "check_dataset_registration", "test_split 'valid' is not one of splits ('train', 'test')"),
    (dict(mean=(0.5,)), "check_dataset_registration", "mean and std must hold one value per channel (3)"),
])
def test_a_broken_dataset_plugin_fails_naming_the_broken_contract(npy_root, broken, check, message):
    _register(register_datasets=lambda register: register(_npy_spec("npy-broken", **{"load": _npy_load, **broken})))
    failed = _failures("npy-broken", root=npy_root)
    assert check in failed and message in failed[check], failed


def test_a_dataset_whose_missing_root_is_not_a_dataset_error_naming_it_fails():
    def bare(root, split, image_size):
        return np.load(f"{root}/{split}_images.npy")  # FileNotFoundError

    def vague(root, split, image_size):
        raise DatasetError("dataset not found")

    _register(register_datasets=lambda register: [register(_npy_spec("bare-load", bare)),
                                                  register(_npy_spec("vague-load", vague))])
    assert _failures("bare-load")["check_dataset_missing_root"].startswith(
        "a missing root raised FileNotFoundError, expected sslbench")
    assert _failures("vague-load")["check_dataset_missing_root"].startswith(
        "the DatasetError for a missing root does not name the path")


# --------------------------------------------------------------------------- protocols


def _protocol(name, evaluate):
    return type(name.title().replace("-", ""), (Protocol,), {"name": name, "description": "test protocol",
                                                              "evaluate": evaluate})


@pytest.mark.parametrize("evaluate, check, message", [
    (lambda self, ctx: {"top1": 1.0}, "check_protocol_metrics", "evaluate() must return a list of Metric, got dict"),
    (lambda self, ctx: [Metric("top1", float("nan"))], "check_protocol_metrics",
     "metric 'top1' is nan: expected a finite number"),
    (lambda self, ctx: [], "check_protocol_metrics", "evaluate() returned no Metric"),
    (lambda self, ctx: [Metric("top1", float(torch.rand(1, generator=torch.Generator().manual_seed(
        int.from_bytes(__import__("os").urandom(4), "little")))))], "check_protocol_determinism",
     "under the same seed"),
    (lambda self, ctx: [Metric("top1", 1 / 0)], "check_protocol_metrics", "raised ZeroDivisionError"),
])
def test_a_broken_protocol_plugin_fails_naming_the_broken_contract(evaluate, check, message):
    _register(register_protocols=lambda register: register(_protocol("broken-protocol", evaluate)))
    failed = _failures("broken-protocol")
    assert check in failed and message in failed[check], failed


def test_a_protocol_reading_cached_features_passes():
    def evaluate(self, ctx):
        x, y = ctx.features(ctx.spec.train_split)
        return [Metric("mean_norm", float(x.norm(dim=1).mean()))]

    _register(register_protocols=lambda register: register(_protocol("norm-protocol", evaluate)))
    assert _failures("norm-protocol") == {}


# --------------------------------------------------------------------------- backbones


def test_a_broken_backbone_plugin_fails_naming_the_broken_contract():
    from torch import nn

    def wrong_width(variant, in_chans):
        net = nn.Sequential(nn.Conv2d(in_chans, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        net.num_features = 8  # the output has 4
        return net

    def swallows_options(variant, in_chans, **options):
        net = nn.Sequential(nn.Conv2d(in_chans, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        net.num_features = 4
        return net

    swallows_options.modality = "audio"
    _register(register_backbones=lambda register: [register("wrong-width", wrong_width),
                                                   register("swallows-options", swallows_options)])
    assert _failures("wrong-width") == {"check_backbone": "wrong-width maps (2, 3, 32, 32) to (2, 4), expected "
                                                          "(2, num_features=8)"}
    failed = _failures("swallows-options")
    assert failed["check_backbone_options"].startswith("an unknown option (not_an_option_of_any_backbone=1) was "
                                                       "accepted silently")
    assert failed["check_backbone_modality"].startswith("build.modality is 'audio', expected one of")


def test_a_plain_builder_gets_unknown_options_refused_for_it():
    from torch import nn

    def plain(variant, in_chans, width=4):
        net = nn.Sequential(nn.Conv2d(in_chans, width, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        net.num_features = width
        return net

    _register(register_backbones=lambda register: register("plain-builder", plain))
    assert _failures("plain-builder") == {}


# --------------------------------------------------------------------------- the command


def test_check_plugin_runs_the_checks_of_each_kind_and_refuses_unknown_names(plugin_commands):
    result = CliRunner().invoke(cli, ["check-plugin", "digits"])
    assert result.exit_code == 0, result.output
    assert "PASS  check_dataset_splits" in result.output and "4 passed, 0 failed" in result.output
    unknown = CliRunner().invoke(cli, ["check-plugin", "digitz"])
    assert unknown.exit_code == 2 and "did you mean dataset 'digits'" in unknown.output
    with pytest.raises(UnknownNameError, match="unknown protocol 'digits'"):
        run_checks("digits", kind="protocol")


def test_check_plugin_on_a_dataset_without_its_root_skips_the_data_checks_and_says_why(plugin_commands):
    result = CliRunner().invoke(cli, ["check-plugin", "cifar10"])
    assert result.exit_code == 0, result.output
    assert "SKIP  check_dataset_splits: needs --data-root PATH holding cifar-10-batches-py" in result.output
    assert "2 passed, 0 failed, 2 skipped" in result.output


def test_debug_shows_the_traceback_of_each_failed_check(plugin_commands):
    def bare(root, split, image_size):
        return np.load(f"{root}/{split}_images.npy")  # FileNotFoundError

    _register(register_datasets=lambda register: register(_npy_spec("bare-load", bare)))
    plain = CliRunner().invoke(cli, ["check-plugin", "bare-load"])
    assert plain.exit_code == 1 and "Traceback" not in plain.output
    assert "FAIL  check_dataset_missing_root: a missing root raised FileNotFoundError" in plain.output
    debug = CliRunner().invoke(cli, ["--debug", "check-plugin", "bare-load"])
    assert debug.exit_code == 1 and "Traceback (most recent call last)" in debug.output  # stderr, mixed in
    assert "FileNotFoundError" in debug.output


@pytest.mark.parametrize("args", [["imagefolder"], ["knn", "--dataset", "cifar10"]])
def test_check_plugin_with_a_missing_data_root_is_one_bad_input_line_exit_2(plugin_commands, tmp_path, args):
    missing = str(tmp_path / "does" / "not" / "exist")
    result = CliRunner().invoke(cli, ["check-plugin", *args, "--data-root", missing])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "FAIL" not in result.output and "Traceback" not in result.output, result.output
    assert f"dataset root {missing!r}" in lines[0] and "does not exist: expected a folder with" in lines[0]
    a_file = tmp_path / "root.txt"
    a_file.write_text("")
    not_a_folder = CliRunner().invoke(cli, ["check-plugin", *args, "--data-root", str(a_file)])
    assert not_a_folder.exit_code == 2 and "is not a folder: expected a folder" in not_a_folder.output
    debug = CliRunner().invoke(cli, ["--debug", "check-plugin", *args, "--data-root", missing])
    assert isinstance(debug.exception, DatasetError)  # --debug: raised, so the traceback is shown


def test_check_plugin_on_an_existing_root_with_a_wrong_layout_keeps_its_fail_lines(plugin_commands, tmp_path):
    result = CliRunner().invoke(cli, ["check-plugin", "imagefolder", "--data-root", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "FAIL  check_dataset_splits" in result.output and "2 passed, 2 failed" in result.output
