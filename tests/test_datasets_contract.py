"""The dataset contract is enforced when a split is opened: uint8 (C, H, W) images (or uint8
(V, C, T, H, W) clips) with C = ``channels``, int labels in [0, classes) (or 1/0/-1 vectors for
multi-label data). A violation is one line naming the plugin, never a silently different number;
the number of classes comes from the data."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from sslbench import hookimpl
from sslbench.contract import loading as plugins
from sslbench.contract.dataset import DatasetSpec
from sslbench.engine.splits import check_dataset, class_count
from sslbench.image.readers import TensorImageDataset
from sslbench.contract.errors import DatasetError, PluginError


class Items(Dataset):
    """A plugin author's dataset: whatever ``make(i)`` returns."""

    def __init__(self, make, n=4, classes=None):
        self.make, self.n = make, n
        if classes is not None:
            self.classes = classes

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.make(i)


@pytest.fixture
def register():
    """Register a throwaway plugin module named ``name`` holding ``spec``."""
    names = []

    def add(spec, name="acme_data"):
        module = types.ModuleType(name)
        module.register_datasets = hookimpl(lambda register: register(spec))
        plugins.register_plugin(module, name)
        names.append(name)
        return spec

    yield add
    for name in names:
        plugins.unregister_plugin(name)


def _spec(name="acme", channels=3, num_classes=10, modality="image", dataset=None):
    return DatasetSpec(name=name, load=lambda root, split, size: dataset, num_classes=num_classes,
                       channels=channels, needs_root=False, modality=modality)


def _image(channels=3, dtype=torch.uint8):
    return torch.zeros((channels, 8, 8), dtype=dtype)


def test_float_images_in_unit_range_are_refused_naming_the_plugin(register):
    spec = register(_spec())
    floats = Items(lambda i: (torch.rand(3, 8, 8), i))
    with pytest.raises(PluginError) as info:
        check_dataset(floats, spec, "train")
    message = str(info.value)
    assert message.startswith("plugin 'acme_data' (dataset 'acme'): split 'train', item 0: image is a float32 tensor")
    assert "expected a uint8 tensor (C, H, W) with C = 3" in message and "\n" not in message


def test_wrong_channel_count_is_refused():
    spec = _spec(channels=1)
    with pytest.raises(PluginError, match=r"image is a uint8 tensor of shape \(3, 8, 8\), expected a uint8 tensor "
                                          r"\(C, H, W\) with C = 1"):
        check_dataset(Items(lambda i: (_image(3), 0)), spec, "test")


def test_channels_last_images_are_refused():
    with pytest.raises(PluginError, match=r"shape \(8, 8, 3\)"):
        check_dataset(Items(lambda i: (torch.zeros((8, 8, 3), dtype=torch.uint8), 0)), _spec(), "train")


@pytest.mark.parametrize("label,needle", [
    (10, "label 10 is out of range, expected an int in [0, 10)"),
    (-2, "label -2 is out of range"),
    (1.0, "label is float 1.0"),
    (torch.tensor(2.0), "label is float 2.0"),
    (True, "label is bool True"),
])
def test_labels_must_be_ints_in_range(label, needle):
    with pytest.raises(PluginError) as info:
        check_dataset(Items(lambda i: (_image(), label)), _spec(), "train")
    assert needle in str(info.value)


def test_an_out_of_range_label_past_the_checked_items_is_found_in_the_labels_tensor():
    labels = torch.tensor([0, 1, 12, 3])  # items 0 and 3 are fine
    data = TensorImageDataset(torch.zeros((4, 3, 8, 8), dtype=torch.uint8), labels)
    with pytest.raises(PluginError, match=r"label 12 is out of range, expected an int in \[0, 10\)"):
        check_dataset(data, _spec(), "test")


def test_unlabelled_images_and_integer_label_types_follow_the_contract():
    for label in (-1, 0, 9, np.int64(3), torch.tensor(4)):
        check_dataset(Items(lambda i, y=label: (_image(), y)), _spec(), "train")


def test_multilabel_vectors_must_have_one_entry_per_class():
    spec = _spec(num_classes=20)
    good = Items(lambda i: (_image(), torch.zeros(20, dtype=torch.int64)))
    good.multilabel = True
    check_dataset(good, spec, "trainval")
    short = Items(lambda i: (_image(), torch.zeros(19, dtype=torch.int64)))
    short.multilabel = True
    with pytest.raises(PluginError, match=r"expected an int64 vector \(20,\) of 1 / 0 / -1"):
        check_dataset(short, spec, "trainval")
    floats = Items(lambda i: (_image(), torch.zeros(20)))
    floats.multilabel = True
    with pytest.raises(PluginError, match="label is a float32 tensor"):
        check_dataset(floats, spec, "trainval")


def test_video_items_are_uint8_clips_with_channels_on_the_second_axis():
    spec = _spec(modality="video")
    check_dataset(Items(lambda i: (torch.zeros((2, 3, 4, 8, 8), dtype=torch.uint8), 1)), spec, "train")
    with pytest.raises(PluginError, match=r"expected a uint8 tensor \(V, C, T, H, W\) clips with C = 3"):
        check_dataset(Items(lambda i: (torch.zeros((2, 4, 3, 8, 8), dtype=torch.uint8), 1)), spec, "train")


def test_an_empty_split_or_a_bare_image_is_refused():
    with pytest.raises(PluginError, match="split 'val' is empty"):
        check_dataset(Items(lambda i: None, n=0), _spec(), "val")
    with pytest.raises(PluginError, match=r"expected a pair \(image, label\)"):
        check_dataset(Items(lambda i: _image()), _spec(), "train")


def test_the_check_leaves_the_seeded_random_streams_alone():
    spec = _spec()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    check_dataset(Items(lambda i: (_image(), int(torch.randint(0, 10, ())))), spec, "train")
    assert torch.equal(torch.rand(3), expected)


def test_class_count_comes_from_the_data_before_the_spec():
    spec = _spec(num_classes=101)
    assert class_count(spec, Items(lambda i: (_image(), 0), classes=["a", "b", "c", "d"])) == 4
    assert class_count(spec, Items(lambda i: (_image(), 0))) == 101


def test_a_plugin_dataset_of_floats_fails_the_run_before_pretraining(tmp_path, make_plugin_dist):
    from helpers import run_cli

    site = make_plugin_dist("acme-floats", "acme_floats", '''
import torch
from torch.utils.data import Dataset
from sslbench import hookimpl
from sslbench.contract.dataset import DatasetSpec

class Floats(Dataset):
    def __len__(self):
        return 64
    def __getitem__(self, i):
        return torch.rand(3, 8, 8), i % 4

@hookimpl
def register_datasets(register):
    register(DatasetSpec(name="floats", load=lambda root, split, size: Floats(), num_classes=4, needs_root=False))
''')
    out = tmp_path / "out"
    proc = run_cli("run", "-m", "moco", "-p", "knn", "-d", "floats", "--backbone", "convnet-small", "-o", str(out),
                   "--no-progress", pythonpath=site)
    assert proc.returncode == 2, proc.stderr[-2000:]
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("Error: plugin 'acme_floats' from acme-floats (dataset 'floats'): split 'train', item 0: "
                           "image is a float32 tensor"), line
    assert not (out / "pretrain").exists()



# --------------------------------------------------------------------------- classes from the data

FOUR = ("right", "left", "down", "up")
VIDEO_TINY = ["--no-progress", "--set", "data.input_size=16", "--set", "data.clip_frames=2",
              "--set", "model.backbone_options={width: 4}", "--set", "train.batch_size=4", "--set", "train.max_steps=1",
              "--set", "data.eval_clips=1", "--set", "data.eval_crops=1", "--set", "linear.epochs=1"]


def test_a_four_class_ucf101_gets_a_four_way_head_end_to_end(tmp_path, monkeypatch, caplog):
    import logging
    import sqlite3

    import sslbench.engine.splits

    from click.testing import CliRunner
    from sslbench_baselines import Supervised

    from sslbench.cli import cli
    from sslbench.video import synthetic

    root = synthetic.make_ucf101(tmp_path / "ucf", FOUR, seconds=1)  # classInd.txt lists 4 classes
    heads = []
    real_build = Supervised.build
    monkeypatch.setattr(Supervised, "build", lambda self, backbone, n: heads.append(n) or real_build(self, backbone, n))
    monkeypatch.setattr(sslbench.engine.splits, "_told", set())
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING, logger="sslbench"):
        result = CliRunner().invoke(cli, ["run", "-m", "supervised", "-p", "linear", "-d", "ucf101", "--data-root",
                                          str(root), "-o", str(out), *VIDEO_TINY])
    assert result.exit_code == 0, (result.output, result.exception)
    assert heads == [4]  # not the 101 of the full dataset
    assert caplog.text.count("dataset 'ucf101' has 4 classes here (the full dataset has 101)") == 1
    metrics = {m for (m,) in sqlite3.connect(out / "results.sqlite").execute("SELECT metric FROM results")}
    assert metrics == {"top1"}  # no top-5 over 4 classes


def test_the_evaluation_counts_the_classes_of_the_training_split(tmp_path):
    from sslbench.engine.evaluation import EvalContext
    from sslbench.runner import resolve_config
    from sslbench.video import synthetic

    root = synthetic.make_hmdb51(tmp_path / "hmdb", FOUR[:3], per_class=4, seconds=1)
    config = resolve_config("random", "hmdb51", ["knn"], overrides={"data": {"root": str(root), "input_size": 16,
                                                                             "clip_frames": 2}})
    ctx = EvalContext(backbone=torch.nn.Identity(), spec=plugins.registries().datasets.get("hmdb51"), config=config,
                      weights_id="w", device=torch.device("cpu"), cache_dir=None, progress=False)
    assert ctx.num_classes == 3


def _folder(root, split, classes):
    from PIL import Image

    for cls in classes:
        (root / split / cls).mkdir(parents=True)
        Image.fromarray(np.full((8, 8, 3), 7, dtype=np.uint8)).save(root / split / cls / "0.png")


def test_a_class_missing_from_val_does_not_shift_the_labels_of_the_others(tmp_path):
    from sslbench.image.readers import load_imagefolder

    _folder(tmp_path, "train", ("a", "b", "c"))
    _folder(tmp_path, "val", ("a", "c"))  # no 'b' images in val
    train, val = load_imagefolder(str(tmp_path), "train", 8), load_imagefolder(str(tmp_path), "val", 8)
    assert val.classes == train.classes == ["a", "b", "c"]
    assert [y for _, y in val.samples] == [0, 2]


def test_a_val_class_the_training_split_lacks_is_refused(tmp_path):
    from sslbench.image.readers import load_imagefolder

    _folder(tmp_path, "train", ("a", "b"))
    _folder(tmp_path, "val", ("a", "z"))
    with pytest.raises(DatasetError, match=r"class folder '.*val/z' is not a class of the training split"):
        load_imagefolder(str(tmp_path), "val", 8)


def test_video_folders_take_their_classes_from_train_too(tmp_path):
    from sslbench.video import synthetic
    from sslbench.video.datasets import load_kinetics, load_videofolder

    root = synthetic.make_videofolder(tmp_path / "v", FOUR[:3], {"train": 1}, seconds=1)
    synthetic.make_videofolder(tmp_path / "v", ("right", "down"), {"val": 1}, seconds=1)
    for load in (load_videofolder, load_kinetics):
        val = load(str(root), "val", 16)
        assert val.classes == ["down", "left", "right"]
        assert sorted(y for _, y in val.samples) == [0, 2]
