"""Every user error is one line on stderr, exit status 2, and leaves no partial output behind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from sslbench.spotting.synthetic import synthetic_games, write_games

TINY = ["--backbone", "convnet-small", "--set", "model.backbone_options={width: 4}", "--set", "train.max_steps=2",
        "--no-progress"]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _assert_clean_failure(proc, needle: str, out: Path | None = None) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr[-2000:]
    assert needle in lines[0], lines[0]
    if out is not None:
        leftovers = [p for p in _files(out) if p.name.endswith(".tmp") or p.name == "results.sqlite"]
        assert not leftovers, leftovers


def _imagefolder(root: Path, corrupt: bool = False) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for cls in ("a", "b"):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(4):
                Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    if corrupt:
        (root / "val" / "b" / "2.png").write_bytes(b"\x89PNG broken")
    return root


RUN = ["run", "-m", "random", "-p", "knn", "-d", "digits"]


@pytest.mark.parametrize("args,needle", [
    (["run", "-m", "mocco", "-p", "knn", "-d", "digits"], "unknown method 'mocco'; did you mean 'moco'"),
    ([*RUN, "--backbone", "resnet-18"], "unknown backbone 'resnet-18'; did you mean 'resnet18'"),
    (["run", "-m", "moco", "-p", "knn", "-d", "digit"], "unknown dataset 'digit'; did you mean 'digits'"),
    (["run", "-m", "moco", "-p", "kNN", "-d", "digits"], "unknown protocol 'kNN'"),
    (["run", "-m", "sce", "-p", "knn", "-d", "digits", "--set", "sce.lam=1.5"], "sce.lam"),
    (["run", "-m", "sce", "-p", "knn", "-d", "digits", "--set", "sce.tau=0"], "sce.tau"),
    (["run", "-m", "moco", "-p", "knn", "-d", "digits", "--set", "moco.temperature=-0.1"], "moco.temperature"),
    (["run", "-m", "moco", "-p", "knn", "-d", "cifar10"], "needs a root folder"),
    (["run", "-m", "moco", "-p", "knn", "-d", "kinetics400", "--data-root", "/nonexistent"], "/nonexistent"),
    ([*RUN, "--set", "model.backbone_options={widht: 8}"],
     "unknown option 'widht' for backbone 'convnet-small': expected one of ['width']"),
    (["run", "-m", "comedian", "-p", "tamap", "-d", "soccernet"], "dataset 'soccernet' needs a root folder"),
    (["run", "-m", "comedian", "-p", "tamap", "-d", "digits"], "method 'comedian' works on soccernet data"),
    (["run", "-m", "comedian", "-p", "tamap", "-d", "soccernet", "--set", "comedian.steps=[1,2,3]"],
     "step 3 (fine-tuning) is the tamap protocol's"),
    ([*RUN, "--backbone", "resnet3d18"], "backbone 'resnet3d18' takes video input but dataset 'digits' is image"),
])
def test_bad_names_and_values(tmp_path, args, needle):
    out = tmp_path / "out"
    _assert_clean_failure(run_cli(*args, "-o", str(out), "--no-progress"), needle, out)
    assert _files(out) == []


def test_missing_dataset_root_names_path_and_layout(tmp_path):
    out = tmp_path / "out"
    proc = run_cli("run", "-m", "random", "-p", "knn", "-d", "cifar10", "--data-root", str(tmp_path / "none"),
                   "-o", str(out), *TINY)
    _assert_clean_failure(proc, str(tmp_path / "none"), out)
    assert "cifar-10-batches-py" in proc.stderr


def test_missing_transfer_root_names_path_and_layout(tmp_path):
    out = tmp_path / "out"
    proc = run_cli("run", "-m", "random", "-p", "knn", "-d", "imagefolder", "--data-root",
                   str(_imagefolder(tmp_path / "data")), "--eval-dataset", "cifar10", "--eval-data-root",
                   str(tmp_path / "none"), "-o", str(out), *TINY)
    _assert_clean_failure(proc, str(tmp_path / "none"), out)
    assert "'cifar10'" in proc.stderr and "cifar-10-batches-py" in proc.stderr
    assert _files(out) == []


def test_wrong_layout_names_the_expected_one(tmp_path):
    (tmp_path / "data").mkdir()
    out = tmp_path / "out"
    proc = run_cli("run", "-m", "random", "-p", "knn", "-d", "imagefolder", "--data-root", str(tmp_path / "data"),
                   "-o", str(out), *TINY)
    _assert_clean_failure(proc, "<split>/<class>/<image>", out)


def test_corrupt_image_names_the_file(tmp_path):
    root = _imagefolder(tmp_path / "data", corrupt=True)
    out = tmp_path / "out"
    proc = run_cli("run", "-m", "random", "-p", "knn", "-d", "imagefolder", "--data-root", str(root),
                   "--set", "data.input_size=8", "-o", str(out), *TINY)
    _assert_clean_failure(proc, "2.png", out)


def test_video_method_on_image_dataset(tmp_path, make_plugin_dist):
    site = make_plugin_dist("video-only", "video_only_plugin", '''
from sslbench import hookimpl
from sslbench_moco import MoCo

class VideoOnly(MoCo):
    name = "video-only"
    modality = "video"
    modalities = ("video",)

@hookimpl
def register_methods(register):
    register(VideoOnly)
''')
    out = tmp_path / "out"
    proc = run_cli("run", "-m", "video-only", "-p", "knn", "-d", "digits", "-o", str(out), *TINY, pythonpath=site)
    _assert_clean_failure(proc, "video", out)
    assert "digits" in proc.stderr


def test_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    _assert_clean_failure(run_cli(*RUN, "-o", str(blocker / "out"), *TINY), "not writable")


def test_broken_plugin_does_not_break_a_run(tmp_path, make_plugin_dist):
    site = make_plugin_dist("broken", "broken_plugin", "raise RuntimeError('boom')\n")
    proc = run_cli(*RUN, "-o", str(tmp_path / "out"), *TINY, pythonpath=site)
    assert proc.returncode == 0, proc.stderr[-2000:]


def _spotting(tmp_path: Path) -> tuple[Path, Path]:
    labels, preds = tmp_path / "labels", tmp_path / "preds"
    write_games(labels, preds, synthetic_games(0, 1, predictions_per_half=20))
    return labels, preds


def test_malformed_labels_json_names_the_file(tmp_path):
    labels, preds = _spotting(tmp_path)
    bad = next(labels.rglob("Labels-v2.json"))
    bad.write_text('{"annotations": [')
    _assert_clean_failure(run_cli("tamap", str(labels), str(preds)), "Labels-v2.json")


def test_nan_in_predictions_names_the_file(tmp_path):
    labels, preds = _spotting(tmp_path)
    path = next(preds.rglob("results_spotting.json"))
    data = json.loads(path.read_text())
    data["predictions"][0]["confidence"] = float("nan")
    path.write_text(json.dumps(data))
    _assert_clean_failure(run_cli("tamap", str(labels), str(preds)), "results_spotting.json")
