"""The engine is modality-agnostic: what differs for a modality (opening a split, the frozen
features of a split) is looked up by the dataset's ``modality`` in sslbench.contract.modality."""

import numpy as np
import pytest
import torch

from sslbench.contract import modality as modalities
from sslbench.contract.modality import Modality, modality, register_modality
from sslbench.contract.dataset import DatasetSpec
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


def test_a_modality_nothing_registered_takes_the_engine_defaults():
    assert modality("image") == Modality("image")
    assert modality("no-such-modality") == Modality("no-such-modality")


def test_open_split_goes_through_the_steps_of_the_dataset_modality(toy_modality):
    assert open_split(_toy_spec(), None, "val", "/data/toys", purpose="pretrain", clips=2) == "val split of toys"
    assert toy_modality == [("open_split", "val", "pretrain", 2, "/data/toys")]


def test_frozen_features_come_from_the_steps_of_the_dataset_modality(toy_modality):
    ctx = EvalContext(backbone=torch.nn.Identity(), spec=_toy_spec(), config=None, weights_id="w",
                      device=torch.device("cpu"), cache_dir=None, progress=False)
    feats, labels = ctx.feature_arrays("test")
    assert feats.shape == (3, 2) and labels.tolist() == [0, 1, 2]
    assert toy_modality == [("features", "test", None, None)]
