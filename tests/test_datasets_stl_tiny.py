"""STL-10 (torchvision's binary files) and Tiny-ImageNet (its official folders) on tiny files
written here in the real formats."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from sslbench.cli import cli
from sslbench.image.readers import load_stl10, load_tiny_imagenet
from sslbench.contract.errors import DatasetError
from sslbench.contract.loading import registries

# ----------------------------------------------------------------- STL-10


def _write_stl10(root, counts=None, seed=0):
    """stl10_binary/*_X.bin: uint8 images stored plane by plane in column-major order, as torchvision
    reads them (reshape (-1, 3, 96, 96) then swap the last two axes); *_y.bin: labels 1..10."""
    rng = np.random.default_rng(seed)
    counts = counts or {"train": 6, "test": 4, "unlabeled": 5}
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    images, labels = {}, {}
    for split, n in counts.items():
        x = rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8)
        x[:, 0, 0, 1] = 7  # an asymmetric pixel: row 0, column 1 of the red plane
        images[split] = x
        (folder / f"{split}_X.bin").write_bytes(np.ascontiguousarray(x.transpose(0, 1, 3, 2)).tobytes())
        if split != "unlabeled":
            labels[split] = rng.integers(0, 10, n)
            (folder / f"{split}_y.bin").write_bytes((labels[split] + 1).astype(np.uint8).tobytes())
    (folder / "class_names.txt").write_text("\n".join(["airplane", "bird", "car", "cat", "deer", "dog", "horse",
                                                       "monkey", "ship", "truck"]) + "\n")
    return images, labels


def test_stl10_reads_torchvision_binary_files(tmp_path):
    images, labels = _write_stl10(tmp_path)
    train = load_stl10(str(tmp_path), "train")
    assert train.images.shape == (6, 3, 96, 96) and train.images.dtype == torch.uint8
    assert torch.equal(train.images, torch.from_numpy(images["train"]))
    assert int(train.images[0, 0, 0, 1]) == 7
    assert train.labels.tolist() == labels["train"].tolist()
    assert train.classes[0] == "airplane" and len(train.classes) == 10
    test = load_stl10(str(tmp_path / "stl10_binary"), "test")  # the folder itself works too
    assert torch.equal(test.images, torch.from_numpy(images["test"]))


def test_stl10_agrees_with_torchvisions_reader(tmp_path):
    from torchvision.datasets import STL10

    _write_stl10(tmp_path)
    reader = object.__new__(STL10)  # bypass the md5 check of the official files
    reader.root, reader.base_folder = str(tmp_path), "stl10_binary"
    tv_images, tv_labels = reader._STL10__loadfile("train_X.bin", "train_y.bin")
    ours = load_stl10(str(tmp_path), "train")
    assert np.array_equal(ours.images.numpy(), tv_images)
    assert np.array_equal(ours.labels.numpy(), tv_labels)


def test_stl10_pretraining_split_is_train_plus_unlabeled(tmp_path):
    images, labels = _write_stl10(tmp_path)
    spec = registries().datasets.get("stl10")
    assert spec.pretrain_split == "train+unlabeled" and (spec.train_split, spec.test_split) == ("train", "test")
    both = spec.load(str(tmp_path), spec.pretrain_split, 96)
    assert len(both) == 11
    assert torch.equal(both.images, torch.from_numpy(np.concatenate([images["train"], images["unlabeled"]])))
    assert both.labels.tolist() == labels["train"].tolist() + [-1] * 5
    assert load_stl10(str(tmp_path), "unlabeled").labels.tolist() == [-1] * 5


def test_stl10_errors_name_the_path_and_layout(tmp_path):
    _write_stl10(tmp_path)
    (tmp_path / "stl10_binary" / "test_y.bin").unlink()
    with pytest.raises(DatasetError, match="lacks test_y.bin.*stl10_binary/train_X.bin"):
        load_stl10(str(tmp_path), "test")
    (tmp_path / "stl10_binary" / "train_X.bin").write_bytes(b"\0" * 100)
    with pytest.raises(DatasetError, match="train_X.bin.*multiple of"):
        load_stl10(str(tmp_path), "train")
    with pytest.raises(DatasetError, match="unknown split 'extra'"):
        load_stl10(str(tmp_path), "extra")
    with pytest.raises(DatasetError, match="does not exist"):
        load_stl10(str(tmp_path / "missing"), "train")


@pytest.mark.slow  # long end-to-end: `python -m pytest -m slow`
def test_tiny_pretraining_run_on_stl10_files(tmp_path):
    _write_stl10(tmp_path / "data", {"train": 8, "test": 4, "unlabeled": 8})
    result = CliRunner().invoke(cli, [
        "run", "-m", "sce", "-p", "knn", "-d", "stl10", "--data-root", str(tmp_path / "data"), "-o", str(tmp_path / "o"),
        "--batch-size", "8", "--no-progress", "--set", "train.max_steps=2", "--set", "model.projector_hidden=32",
        "--set", "data.input_size=16", "--set", "ssl.queue_size=16",
        "--set", "knn.k=[3]"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "sce on stl10" in result.output


# ----------------------------------------------------------------- Tiny-ImageNet

WNIDS = ["n01443537", "n01629819", "n01641577"]


def _jpeg(path, rng, grey=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    if grey:
        Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8), mode="L").save(path, "JPEG")
    else:
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), mode="RGB").save(path, "JPEG")


def _write_tiny(root, per_class=2):
    """tiny-imagenet-200/ as distributed: wnids.txt, words.txt, train/<wnid>/{images/*.JPEG,
    <wnid>_boxes.txt}, val/images/*.JPEG + val/val_annotations.txt, test/images/*.JPEG."""
    rng = np.random.default_rng(0)
    base = root / "tiny-imagenet-200"
    base.mkdir(parents=True)
    (base / "wnids.txt").write_text("\n".join(reversed(WNIDS)) + "\n")  # not sorted on purpose
    (base / "words.txt").write_text("".join(f"{w}\tthing {i}\n" for i, w in enumerate(WNIDS)))
    for wnid in WNIDS:
        boxes = []
        for i in range(per_class):
            name = f"{wnid}_{i}.JPEG"
            _jpeg(base / "train" / wnid / "images" / name, rng, grey=(wnid == WNIDS[1] and i == 0))
            boxes.append(f"{name}\t0\t0\t63\t63\n")
        (base / "train" / wnid / f"{wnid}_boxes.txt").write_text("".join(boxes))
    val_labels = [WNIDS[2], WNIDS[0], WNIDS[1], WNIDS[0]]
    lines = []
    for i, wnid in enumerate(val_labels):
        _jpeg(base / "val" / "images" / f"val_{i}.JPEG", rng)
        lines.append(f"val_{i}.JPEG\t{wnid}\t1\t2\t50\t60\n")
    (base / "val" / "val_annotations.txt").write_text("".join(lines))
    _jpeg(base / "test" / "images" / "test_0.JPEG", rng)
    return base, val_labels


def test_tiny_imagenet_reads_the_official_layout(tmp_path):
    base, val_labels = _write_tiny(tmp_path)
    train = load_tiny_imagenet(str(tmp_path), "train")
    assert train.classes == sorted(WNIDS)
    assert train.images.shape == (6, 3, 64, 64) and train.images.dtype == torch.uint8
    assert train.labels.tolist() == [0, 0, 1, 1, 2, 2]
    grey = train.images[2]  # WNIDS[1]_0 was saved as a grey JPEG: three equal channels
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
    expected = np.array(Image.open(base / "train" / WNIDS[0] / "images" / f"{WNIDS[0]}_1.JPEG").convert("RGB"))
    assert torch.equal(train.images[1], torch.from_numpy(expected).permute(2, 0, 1))
    val = load_tiny_imagenet(str(base), "val")  # the tiny-imagenet-200 folder itself works too
    assert val.labels.tolist() == [sorted(WNIDS).index(w) for w in val_labels]
    assert load_tiny_imagenet(str(tmp_path), "test").labels.tolist() == val.labels.tolist()  # test = val


def test_tiny_imagenet_registration(tmp_path):
    _write_tiny(tmp_path)
    spec = registries().datasets.get("tiny-imagenet")
    assert (spec.num_classes, spec.test_split, spec.pretrain_split) == (200, "val", "train")
    assert len(spec.load(str(tmp_path), spec.test_split, 64)) == 4


def test_tiny_imagenet_errors_name_the_path_and_layout(tmp_path):
    base, _ = _write_tiny(tmp_path)
    (base / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn99999999\t0\t0\t1\t1\n")
    with pytest.raises(DatasetError, match="val_annotations.txt' line 1"):
        load_tiny_imagenet(str(tmp_path), "val")
    (base / "val" / "val_annotations.txt").unlink()
    with pytest.raises(DatasetError, match="val_annotations.txt.*does not exist"):
        load_tiny_imagenet(str(tmp_path), "val")
    with pytest.raises(DatasetError, match="unknown split"):
        load_tiny_imagenet(str(tmp_path), "unlabeled")
    (base / "wnids.txt").write_text("\n".join(WNIDS + ["n00000001"]))
    with pytest.raises(DatasetError, match="missing class folder"):
        load_tiny_imagenet(str(tmp_path), "train")


# ----------------------------------------------------------------- ImageNet (ImageFolder)


def test_imagenet_reads_train_and_val_folders(tmp_path):
    rng = np.random.default_rng(1)
    for split, n in (("train", 2), ("val", 1)):
        for wnid in WNIDS[:2]:
            for i in range(n):
                _jpeg(tmp_path / split / wnid / f"{wnid}_{i}.JPEG", rng)
    spec = registries().datasets.get("imagenet")
    assert (spec.num_classes, spec.test_split) == (1000, "val")
    train = spec.load(str(tmp_path), "train", 32)
    val = spec.load(str(tmp_path), "val", 32)
    assert (len(train), len(val)) == (4, 2)
    image, label = val[1]
    assert tuple(image.shape) == (3, 32, 32) and image.dtype == torch.uint8 and label == 1


def test_the_supervised_baseline_pretrains_on_stl10s_labelled_split(tmp_path):
    """Label-free methods pretrain on train+unlabeled; the supervised baseline on the 6 labelled
    images only (train+unlabeled would feed it label -1)."""
    from sslbench.engine.trainer import _pretraining_split

    _write_stl10(tmp_path / "stl")
    regs = registries()
    spec = regs.datasets.get("stl10")
    assert _pretraining_split(regs.methods.get("supervised"), spec) == "train"
    assert _pretraining_split(regs.methods.get("moco"), spec) == "train+unlabeled"
    result = CliRunner().invoke(cli, [
        "run", "-m", "supervised", "-p", "knn", "-d", "stl10", "--data-root", str(tmp_path / "stl"),
        "-o", str(tmp_path / "out"), "--no-progress", "--backbone", "convnet-small",
        "--set", "model.backbone_options={width: 8}", "--set", "data.input_size=16", "--set", "train.batch_size=4",
        "--set", "train.epochs=1", "--set", "knn.k=[3]"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "supervised on stl10" in result.output


def test_the_supervised_baseline_refuses_multi_label_data(tmp_path):
    from voc_fixture import make_voc2007

    make_voc2007(tmp_path / "voc", n_trainval=8, n_test=4)
    result = CliRunner().invoke(cli, [
        "run", "-m", "supervised", "-p", "lowshot", "-d", "voc2007", "--data-root", str(tmp_path / "voc"),
        "-o", str(tmp_path / "out"), "--no-progress", "--backbone", "convnet-small",
        "--set", "data.input_size=16", "--set", "train.batch_size=4", "--set", "train.epochs=1"])
    assert result.exit_code == 2
    assert "method 'supervised' needs one class label per image but dataset 'voc2007' is multi-label" in result.output
