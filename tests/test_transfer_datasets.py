"""The Table 4.10 transfer sets: torchvision's classes list the official layouts, nothing is downloaded."""

from __future__ import annotations

import inspect

import pytest
import torch

from sslbench.contract.errors import DatasetError
from sslbench.contract.loading import registries
from sslbench.testing import DATASET_CHECKS
from sslbench.image.transfer import CALTECH_TRAIN_PER_CLASS, TRANSFER_SETS, load_transfer
from transfer_fixture import BUILDERS


@pytest.fixture(autouse=True)
def _flowers_md5(monkeypatch):
    """torchvision checks the md5 of the real Flowers-102 .mat files; the fixture's are tiny copies."""
    import torchvision.datasets as tvd

    monkeypatch.setattr(tvd.Flowers102, "_check_integrity", lambda self: True)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_transfer_set_reads_its_official_layout_through_torchvision(name, tmp_path):
    expected = BUILDERS[name](tmp_path)
    spec = registries().datasets.get(name)
    for split in (spec.train_split, spec.test_split):
        data = spec.load(str(tmp_path), split, 16)
        assert len(data) == expected[split]
        image, label = data[len(data) - 1]
        assert image.dtype == torch.uint8 and image.shape == (3, 16, 16)
        assert 0 <= label < len(data.classes)
    assert len(spec.load(str(tmp_path), spec.train_split, 16).classes) == expected["classes"]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_missing_layout_is_one_line_naming_it_and_nothing_is_downloaded(name, tmp_path):
    with pytest.raises(DatasetError, match="nothing is downloaded") as info:
        load_transfer(name, str(tmp_path), TRANSFER_SETS[name].splits and next(iter(TRANSFER_SETS[name].splits)), 16)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []  # no folder created, no archive fetched


def test_data_root_may_name_the_datasets_own_folder(tmp_path):
    BUILDERS["food101"](tmp_path)
    assert len(load_transfer("food101", str(tmp_path / "food-101"), "test", 16)) == 2


def test_trainval_joins_the_official_train_and_val_splits(tmp_path):
    BUILDERS["dtd"](tmp_path)
    train, val = load_transfer("dtd", str(tmp_path), "train", 16), load_transfer("dtd", str(tmp_path), "val", 16)
    both = load_transfer("dtd", str(tmp_path), "trainval", 16)
    assert both.files == train.files + val.files and both.labels == train.labels + val.labels


def test_caltech_trains_on_30_images_per_class_drawn_the_same_way_every_time(tmp_path):
    BUILDERS["caltech101"](tmp_path)
    train = load_transfer("caltech101", str(tmp_path), "train", 16)
    test = load_transfer("caltech101", str(tmp_path), "test", 16)
    assert train.classes == ["accordion", "airplanes"]  # BACKGROUND_Google is not a class
    assert [train.labels.count(c) for c in (0, 1)] == [CALTECH_TRAIN_PER_CLASS] * 2
    assert not set(train.files) & set(test.files) and len(train) + len(test) == 64
    assert load_transfer("caltech101", str(tmp_path), "train", 16).files == train.files


def test_sun397_keeps_the_images_of_official_partition_1_only(tmp_path):
    BUILDERS["sun397"](tmp_path)
    test = load_transfer("sun397", str(tmp_path), "test", 16)
    assert [f.rsplit("/", 1)[1] for f in test.files] == ["sun_0004.jpg", "sun_0005.jpg", "sun_0006.jpg"]
    (tmp_path / "SUN397" / "Partitions" / "Testing_01.txt").unlink()
    with pytest.raises(DatasetError, match="Testing_01.txt"):
        load_transfer("sun397", str(tmp_path), "test", 16)


@pytest.mark.parametrize("check", DATASET_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_transfer_set_passes_the_dataset_conformance_kit(name, check, tmp_path):
    BUILDERS[name](tmp_path)
    check(name, root=str(tmp_path)) if "root" in inspect.signature(check).parameters else check(name)
