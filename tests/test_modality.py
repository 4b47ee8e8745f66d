"""The engine is modality-agnostic: what differs for a modality (opening a split, the frozen
features of a split) is looked up by the dataset's ``modality`` in sslbench.contract.modality."""

import dataclasses

import numpy as np
import pytest
import torch

from sslbench.contract import modality as modalities
from sslbench.contract.modality import Modality, modality, register_modality
from sslbench.contract.dataset import DatasetSpec
from sslbench.contract.errors import SSLBenchError
from sslbench.engine.splits import open_split
from sslbench.engine.evaluation import EvalContext


@pytest.fixture
def toy_modality(monkeypatch):
    """Registers the steps of a throwaway modality ``toy`` for one test; returns the calls they saw."""
    calls = []

    def open_toy(spec, config, split, purpose, clips, root):
        calls.append(("open_split", split, purpose, clips, root))
        return f"{split} split of {spec.name}"

    def toy_features(ctx, split, out_path, labels_path):
        calls.append(("features", split, out_path, labels_path))
        return np.ones((3, 2), dtype=np.float32), np.arange(3)

    monkeypatch.setattr(modalities, "_MODALITIES", dict(modalities._MODALITIES))
    register_modality(Modality("toy", open_split=open_toy, features=toy_features))
    return calls


def _toy_spec() -> DatasetSpec:
    def load(root, split, image_size):
        raise AssertionError("a modality with its own open_split never reaches spec.load")

    return DatasetSpec(name="toys", load=load, num_classes=2, modality="toy")


def test_the_default_plugins_register_the_video_steps():
    video = modality("video")
    assert video.open_split is not None and video.features is not None
    assert video.pretraining_split is not None and not video.channels_last


def test_the_default_plugins_register_the_image_steps_and_leave_splits_and_features_to_the_engine():
    image = modality("image")
    assert None not in (image.training_source, image.pretraining_views, image.eval_views, image.eval_transform)
    assert (image.open_split, image.features, image.pretraining_split) == (None, None, None)


def test_a_modality_nothing_registered_takes_the_image_steps():
    assert modality("no-such-modality") == dataclasses.replace(modality("image"), name="no-such-modality")


def test_a_step_a_modality_leaves_unset_is_the_image_one(toy_modality):
    toy, image = modality("toy"), modality("image")
    assert toy.open_split is not image.open_split and toy.eval_views is image.eval_views


def test_a_step_nobody_registered_is_one_error_naming_the_modality_and_the_step(monkeypatch):
    monkeypatch.setattr(modalities, "_MODALITIES", {"image": Modality("image")})
    with pytest.raises(SSLBenchError, match=r"modality 'toy' has no 'eval_views' step.*Modality\('toy', eval_views="):
        modality("toy").step("eval_views")


def test_open_split_goes_through_the_steps_of_the_dataset_modality(toy_modality):
    assert open_split(_toy_spec(), None, "val", "/data/toys", purpose="pretrain", clips=2) == "val split of toys"
    assert toy_modality == [("open_split", "val", "pretrain", 2, "/data/toys")]


def test_frozen_features_come_from_the_steps_of_the_dataset_modality(toy_modality):
    ctx = EvalContext(backbone=torch.nn.Identity(), spec=_toy_spec(), config=None, weights_id="w",
                      device=torch.device("cpu"), cache_dir=None, progress=False)
    feats, labels = ctx.feature_arrays("test")
    assert feats.shape == (3, 2) and labels.tolist() == [0, 1, 2]
    assert toy_modality == [("features", "test", None, None)]
