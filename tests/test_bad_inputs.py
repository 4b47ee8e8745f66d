"""Bad inputs found by probing the CLI as a user would: each is one line on stderr, exit status 2,
and leaves nothing half-written (no pretraining folder without weights, no partial file)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from reporting_records import add

from sslbench.cli import cli
from sslbench.contract.errors import DatasetError

DRY = ["run", "-m", "moco", "-p", "knn", "-d", "digits", "--dry-run"]
TINY = ["--set", "model.backbone_options={width: 4}", "--set", "train.max_steps=2", "--epochs", "1",
        "--batch-size", "32", "--no-progress"]
RUN = ["run", "-m", "moco", "-p", "knn", "-d", "digits", *TINY]


def _fails_in_one_line(args: list[str], needle: str, env: dict | None = None) -> str:
    result = CliRunner().invoke(cli, args, env=env)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, (result.exit_code, result.output[-2000:], result.exception)
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr[-2000:]
    assert needle in lines[0], lines[0]
    return lines[0]


def _pretrain_folders(out: Path) -> list[Path]:
    return sorted((out / "pretrain").iterdir()) if (out / "pretrain").is_dir() else []


@pytest.mark.parametrize("args,needle", [
    ([*DRY, "--epochs", "1.5"], "'1.5' is not a valid integer"),
    (["list", "method"], "'method' is not one of 'methods'"),
    (["rn"], "No such command 'rn'"),
    (["--bogus", "table"], "No such option '--bogus'"),
    (["results", "import"], "Missing argument 'FILE'"),
])
def test_click_usage_errors_are_one_line_naming_the_help(args, needle):
    line = _fails_in_one_line(args, needle)
    assert "--help`" in line


def test_config_file_that_is_not_text_is_one_line(tmp_path):
    (tmp_path / "c.yaml").write_bytes(bytes(range(128, 256)))
    _fails_in_one_line([*DRY, "--config", str(tmp_path / "c.yaml")], "is not UTF-8 text")


@pytest.mark.parametrize("flags", [[], ["--epochs", "3"]])
def test_config_section_that_is_not_a_mapping_is_refused_not_replaced(tmp_path, flags):
    (tmp_path / "c.yaml").write_text("train: 5\n")
    _fails_in_one_line([*DRY, "--config", str(tmp_path / "c.yaml"), *flags],
                       "invalid value 5 for train: expected a mapping of train.* keys")


def test_set_of_a_whole_section_is_refused():
    _fails_in_one_line([*DRY, "--set", "train=5", "--epochs", "3"], "invalid value 5 for train")


def test_an_empty_config_section_changes_nothing(tmp_path):
    (tmp_path / "c.yaml").write_text("moco:\n")
    result = CliRunner().invoke(cli, [*DRY, "--config", str(tmp_path / "c.yaml")])
    assert result.exit_code == 0 and "temperature: 0.2" in result.output


def test_seed_beyond_int64_is_refused_before_work():
    _fails_in_one_line([*DRY, "--seed", str(2**70)], "expected an integer from 0 to 2**63 - 1")


@pytest.mark.parametrize("key", ["train.lr", "linear.lr", "finetune.lr"])
@pytest.mark.parametrize("value", ["1e39", "inf", "nan", "0"])
def test_a_learning_rate_float32_cannot_hold_is_refused_before_work(key, value):
    """1e39 overflowed the optimiser's float32 parameters deep inside torch (a raw RuntimeError)."""
    protocol = key.split(".")[0] if key != "train.lr" else "knn"
    _fails_in_one_line(["run", "-m", "moco", "-p", protocol, "-d", "digits", "--dry-run", "--set", f"{key}={value}"],
                       f"for {key}: expected a positive number no larger than 3.4e38 (float32)")


def test_zero_epochs_of_a_training_method_is_refused_random_is_not():
    _fails_in_one_line([*DRY, "--epochs", "0"], "invalid value 0 for train.epochs")
    random = CliRunner().invoke(cli, ["run", "-m", "random", "-p", "knn", "-d", "digits", "--epochs", "0",
                                      "--dry-run"])
    assert random.exit_code == 0, random.output


def test_empty_name_lists_are_refused():
    _fails_in_one_line(["run", "-m", "moco", "-p", ",", "-d", "digits", "--dry-run"], "invalid --protocol ','")
    _fails_in_one_line(["compare", "-m", ",", "-p", "knn", "-d", "digits", "--dry-run"], "invalid --methods ','")


def test_a_folder_in_place_of_the_store_is_an_error_not_an_empty_table(tmp_path):
    (tmp_path / "runs" / "results.sqlite").mkdir(parents=True)
    _fails_in_one_line(["table"], "is not a file")


def test_where_on_a_key_no_result_has_suggests_the_close_one(tmp_path):
    add(tmp_path / "runs" / "results.sqlite", "moco", 80.0, method_params={"temperature": 0.2})
    _fails_in_one_line(["table", "--where", "mehtod=moco"], "did you mean 'method'")
    _fails_in_one_line(["table", "--where", "moco.temprature=0.2"], "did you mean 'moco.temperature'")
    _fails_in_one_line(["results", "export", str(tmp_path / "x.csv"), "--where", "foo=1"], "unknown filter key 'foo'")
    kept = CliRunner().invoke(cli, ["table", "--where", "moco.temperature=0.2"])
    assert kept.exit_code == 0 and "80.00" in kept.output


def test_where_on_an_empty_store_is_no_results_not_a_crash():
    result = CliRunner().invoke(cli, ["table", "--where", "method=moco"])
    assert result.exit_code == 0 and "(no results)" in result.output, result.output


def test_outputs_that_cannot_be_written_are_one_line(tmp_path):
    add(tmp_path / "runs" / "results.sqlite", "moco", 80.0, metric="top1@k20")
    for name in ("t.md", "x.csv", "p.png"):
        (tmp_path / name).mkdir()
    _fails_in_one_line(["table", "--save", str(tmp_path / "t.md")], "Is a directory")
    _fails_in_one_line(["results", "export", str(tmp_path / "x.csv")], "Is a directory")
    _fails_in_one_line(["plot", "curve", "--save", str(tmp_path / "p.png")], "Is a directory")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_plot_by_a_key_no_result_has_is_refused(tmp_path):
    add(tmp_path / "runs" / "results.sqlite", "moco", 80.0, metric="top1@k20", method_params={"temperature": 0.2})
    _fails_in_one_line(["plot", "metric", "--x", "moco.temperature", "--by", "mehtod",
                        "--save", str(tmp_path / "p.png")], "--by 'mehtod'")
    assert not (tmp_path / "p.png").exists()


def test_backbone_options_that_break_the_builder_fail_before_a_run_folder(tmp_path):
    _fails_in_one_line(["run", "-m", "moco", "-p", "knn", "-d", "digits",
                        "--set", "model.backbone_options={width: -4}", "--no-progress"],
                       "invalid model.backbone_options {'width': -4} for backbone 'convnet-small'")
    assert not (tmp_path / "runs").exists()


def test_batch_larger_than_the_split_leaves_no_pretraining_folder(tmp_path):
    _fails_in_one_line([*RUN, "--batch-size", "5000"], "larger than the 1437 training images")
    assert _pretrain_folders(tmp_path / "runs") == []


def test_bad_lock_wait_leaves_no_pretraining_folder(tmp_path):
    _fails_in_one_line(RUN, "$SSLBENCH_LOCK_WAIT", env={"SSLBENCH_LOCK_WAIT": "soon"})
    assert _pretrain_folders(tmp_path / "runs") == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_cpu_machine_leaves_no_pretraining_folder(tmp_path):
    _fails_in_one_line([*RUN, "--set", "train.device=cuda"], "CUDA is not available")
    assert not (tmp_path / "runs").exists()


def test_knn_on_multilabel_voc_is_refused_before_pretraining(tmp_path):
    from voc_fixture import make_voc2007

    make_voc2007(tmp_path / "voc", n_trainval=20, n_test=10)
    _fails_in_one_line(["run", "-m", "moco", "-p", "knn", "-d", "voc2007", "--data-root", str(tmp_path / "voc"),
                        "--backbone", "convnet-small", "--set", "data.input_size=16", *TINY], "multi-label")
    assert _pretrain_folders(tmp_path / "runs") == []


def test_a_bad_checkpoint_is_reported_before_any_data_is_read(tmp_path):
    from PIL import Image

    for split in ("train", "val"):
        (tmp_path / "data" / split / "a").mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "data" / split / "a" / "0.png")
    (tmp_path / "data" / "val" / "a" / "1.png").write_bytes(b"not an image")
    (tmp_path / "c.pt").write_bytes(os.urandom(512))
    _fails_in_one_line(["run", "-m", "moco", "-p", "knn", "-d", "imagefolder", "--data-root", str(tmp_path / "data"),
                        "--checkpoint", str(tmp_path / "c.pt"), "--no-progress"], "cannot load checkpoint")


def test_cifar_batch_of_the_wrong_shape_is_a_dataset_error(tmp_path):
    from sslbench.image.readers import load_cifar

    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": np.zeros((4, 100), np.uint8), "labels": [0] * 4}
        (base / name).write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DatasetError, match="holds no N x 3072 image bytes"):
        load_cifar(str(tmp_path), "test", 10)


def test_a_killed_checkpoint_write_is_removed_at_the_next_start_however_young(tmp_path):
    from sslbench.runner import pretrain_dir, resolve_config

    config = resolve_config("moco", "digits", ["knn"], sets={"model": {"backbone_options": {"width": 4}},
                                                              "train": {"max_steps": 2, "epochs": 1,
                                                                        "batch_size": 32}})
    folder = pretrain_dir(tmp_path / "runs", config)
    folder.mkdir(parents=True)
    (folder / ".checkpoint.pt.k1ll3d.tmp").write_bytes(b"half a checkpoint")  # just now: younger than 10 s
    result = CliRunner().invoke(cli, RUN)
    assert result.exit_code == 0, result.output
    assert (folder / "backbone.pt").is_file()
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
