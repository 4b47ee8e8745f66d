"""Built-in datasets read their real on-disk formats; bad roots fail naming path and layout."""

import pickle

import numpy as np
import pytest
import torch

from sslbench.image.readers import (TensorImageDataset, imagenet100_classes, load_cifar, load_digits,
                                   load_imagefolder, load_imagenet100)
from sslbench.contract.errors import DatasetError


def test_digits_is_a_fixed_stratified_split_of_sklearn_digits():
    train, test = load_digits(None, "train"), load_digits(None, "test")
    assert (len(train), len(test)) == (1437, 360)
    assert train.images.shape == (1437, 1, 8, 8) and train.images.dtype == torch.uint8
    assert int(train.images.max()) == 255
    assert torch.equal(load_digits(None, "train").images, train.images)  # deterministic
    assert set(train.labels.tolist()) == set(range(10))


def _write_cifar(root, variant, n=6):
    rng = np.random.default_rng(0)
    if variant == 10:
        folder = root / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            with open(folder / name, "wb") as fh:
                pickle.dump({"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                             "labels": list(rng.integers(0, 10, n))}, fh)
        with open(folder / "batches.meta", "wb") as fh:
            pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, fh)
    else:
        folder = root / "cifar-100-python"
        folder.mkdir(parents=True)
        for name in ("train", "test"):
            with open(folder / name, "wb") as fh:
                pickle.dump({"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                             "fine_labels": list(rng.integers(0, 100, n))}, fh)


@pytest.mark.parametrize("variant", [10, 100])
def test_cifar_reads_torchvision_python_format(tmp_path, variant):
    _write_cifar(tmp_path, variant)
    train = load_cifar(str(tmp_path), "train", variant)
    test = load_cifar(str(tmp_path), "test", variant)
    assert len(train) == (30 if variant == 10 else 6) and len(test) == 6
    assert train.images.shape[1:] == (3, 32, 32)


def test_cifar_missing_files_name_the_expected_layout(tmp_path):
    with pytest.raises(DatasetError, match="cifar-10-batches-py"):
        load_cifar(str(tmp_path), "train", 10)
    with pytest.raises(DatasetError, match="does not exist"):
        load_cifar(str(tmp_path / "nowhere"), "train", 10)
    with pytest.raises(DatasetError, match="needs --data-root"):
        load_cifar(None, "train", 10)


def _write_folder(root, classes, per_class=2, size=(20, 30)):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for cls in classes:
            d = root / split / cls
            d.mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(d / f"{i}.png")


def test_imagefolder_decodes_resizes_and_labels_by_sorted_class(tmp_path):
    _write_folder(tmp_path, ["b", "a"])
    ds = load_imagefolder(str(tmp_path), "train", 16)
    assert ds.classes == ["a", "b"] and len(ds) == 4
    image, label = ds[3]
    assert image.shape == (3, 16, 16) and image.dtype == torch.uint8 and label == 1
    assert len(load_imagefolder(str(tmp_path), "test", 16)) == 4  # test falls back to val


def test_corrupt_image_is_reported_by_path(tmp_path):
    _write_folder(tmp_path, ["a"])
    (tmp_path / "train" / "a" / "0.png").write_bytes(b"not a png")
    ds = load_imagefolder(str(tmp_path), "train", 16)
    with pytest.raises(DatasetError, match="0.png"):
        ds[0]


def test_imagenet100_uses_table_a1_classes(tmp_path):
    classes = imagenet100_classes()
    assert len(classes) == 100 and len(set(classes)) == 100 and classes[0] == "n02869837"
    _write_folder(tmp_path, classes[:3] + ["n99999999"], per_class=1)
    with pytest.raises(DatasetError, match="lacks 97 of the expected class folders"):
        load_imagenet100(str(tmp_path), "train", 16)


def test_tensor_dataset_rejects_non_uint8():
    with pytest.raises(ValueError, match="uint8"):
        TensorImageDataset(torch.zeros(2, 1, 4, 4), torch.zeros(2))
