"""Every backbone.pt records its backbone name, options, channels and head classes, so that
`run --checkpoint PATH` evaluates it without repeating --backbone / --set (image and video
methods alike; COMEDIAN's steps in test_comedian.py); plain state dicts keep working."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import torch
from click.testing import CliRunner

from sslbench.cli import cli
from sslbench.engine import checkpoint

IMAGE = ["-d", "digits", "-p", "knn", "--set", "knn.k=[5]", "--no-progress"]
WIDTH = ["--backbone", "convnet-small", "--set", "model.backbone_options={width: 6}"]


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _knn(store: Path) -> list[float]:
    return [v for (v,) in sqlite3.connect(store).execute("SELECT value FROM results WHERE metric='top1@k5'")]


def test_an_image_pretraining_evaluates_from_its_checkpoint_alone(tmp_path):
    out = tmp_path / "out"
    trained = _invoke("run", "-m", "moco", *IMAGE, *WIDTH, "--set", "train.max_steps=2", "-o", str(out))
    assert trained.exit_code == 0, trained.output
    path = Path(re.search(r"\| outputs (\S+)", trained.output).group(1)) / "backbone.pt"
    record = checkpoint.load(path)
    assert (record["backbone_name"], record["backbone_options"], record["in_chans"], record["num_classes"]) == \
        ("convnet-small", {"width": 6}, 1, 0)
    again = _invoke("run", "-m", "random", *IMAGE, "--checkpoint", str(path), "-o", str(tmp_path / "again"))
    assert again.exit_code == 0, again.output
    assert "convnet-small" in again.output and _knn(tmp_path / "again" / "results.sqlite") == _knn(out / "results.sqlite")


def test_a_plain_state_dict_still_needs_and_takes_the_backbone_options(tmp_path):
    trained = _invoke("run", "-m", "random", *IMAGE, *WIDTH, "-o", str(tmp_path / "out"))
    path = Path(re.search(r"\| outputs (\S+)", trained.output).group(1)) / "backbone.pt"
    plain = tmp_path / "plain.pt"
    torch.save(checkpoint.load(path)["backbone"], plain)  # an older file: weights only
    refused = CliRunner().invoke(cli, ["run", "-m", "random", *IMAGE, "--checkpoint", str(plain),
                                       "-o", str(tmp_path / "a")])
    assert refused.exit_code == 2 and "pass the --backbone (and model.backbone_options)" in refused.output
    taken = _invoke("run", "-m", "random", *IMAGE, *WIDTH, "--checkpoint", str(plain), "-o", str(tmp_path / "b"))
    assert taken.exit_code == 0, taken.output
    assert _knn(tmp_path / "b" / "results.sqlite") == _knn(tmp_path / "out" / "results.sqlite")


def test_explicit_options_still_win_over_the_recorded_ones(tmp_path):
    trained = _invoke("run", "-m", "random", *IMAGE, *WIDTH, "-o", str(tmp_path / "out"))
    path = Path(re.search(r"\| outputs (\S+)", trained.output).group(1)) / "backbone.pt"
    other = CliRunner().invoke(cli, ["run", "-m", "random", *IMAGE, "--checkpoint", str(path), "--set",
                                     "model.backbone_options={width: 4}", "-o", str(tmp_path / "o")])
    assert other.exit_code == 2 and "does not match the backbone" in other.output


def test_a_video_backbone_evaluates_from_its_checkpoint_alone(tmp_path):
    from sslbench.video import synthetic

    root = synthetic.make_videofolder(tmp_path / "videos", ("right", "left"), {"train": 3, "val": 2}, seconds=3)
    video = ["-d", "videofolder", "-p", "knn", "--data-root", str(root), "--set", "knn.k=[3]", "--no-progress",
             "--set", "data.input_size=32", "--set", "data.clip_frames=4", "--set", "data.eval_clips=1",
             "--set", "data.eval_crops=1"]
    first = _invoke("run", "-m", "random", *video, "--set", "model.backbone_options={width: 4}", "-o",
                    str(tmp_path / "out"))
    assert first.exit_code == 0, first.output
    path = Path(re.search(r"\| outputs (\S+)", first.output).group(1)) / "backbone.pt"
    assert checkpoint.recorded_backbone(path) == {"backbone": "resnet3d18", "backbone_options": {"width": 4}}
    again = _invoke("run", "-m", "random", *video, "--checkpoint", str(path), "-o", str(tmp_path / "again"))
    assert again.exit_code == 0, again.output
    assert "resnet3d18" in again.output
