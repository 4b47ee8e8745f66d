"""The dataset contract, checked: the spec's fields, a clear error on a missing root, every declared
split's items (uint8 images, labels in range, as many labels as items) and deterministic items."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

from ..contract.dataset import DatasetSpec
from ..contract.errors import DatasetError, PluginError
from ..contract.loading import registries
from .common import CheckSkipped, contract_message

__all__ = ["DATASET_CHECKS", "check_dataset_registration", "check_dataset_missing_root", "check_dataset_splits",
           "check_dataset_determinism"]

#: items of each split checked besides the first and the last (evenly spaced)
SAMPLED_ITEMS = 8


def _spec(name: str) -> DatasetSpec:
    spec = registries().datasets.get(name)
    assert isinstance(spec, DatasetSpec), f"register_datasets must register a sslbench.contract.dataset.DatasetSpec, got " \
                                          f"{type(spec).__name__}"
    return spec


def declared_splits(spec: DatasetSpec) -> list[str]:
    """Every split the spec names: ``splits`` plus the train, test and pretraining splits."""
    return list(dict.fromkeys((*spec.splits, spec.train_split, spec.test_split, spec.pretrain_split)))


def _open(spec: DatasetSpec, split: str, root: str | None) -> Any:
    """``split`` opened as a run opens it (image splits checked against the contract's first items)."""
    from ..engine.splits import open_split
    from ..runner import resolve_config

    if spec.needs_root and not root:
        raise CheckSkipped("needs --data-root PATH" + (f" holding {spec.layout}" if spec.layout else ""))
    config = resolve_config("random", spec.name, [], sets={"data": {"root": root}, "train": {"device": "cpu"}})
    if spec.modality not in ("image", "video"):
        dataset = spec.load(root, split, config.data.input_size)
        assert len(dataset) > 0, f"split {split!r} is empty, expected at least one item"
        return dataset
    return open_split(spec, config, split, root, purpose="eval" if spec.modality == "video" else "train")


def check_dataset_registration(name: str) -> None:
    """A DatasetSpec named as registered, whose splits, channels, mean/std and classes agree."""
    spec = _spec(name)
    assert spec.name == name, f"DatasetSpec name {spec.name!r} differs from the registry key {name!r}"
    assert callable(spec.load), "load must be a function load(root, split, image_size)"
    assert isinstance(spec.num_classes, int) and spec.num_classes >= 0, \
        f"num_classes must be an int >= 0 (0: counted from the data), got {spec.num_classes!r}"
    assert isinstance(spec.channels, int) and spec.channels >= 1, f"channels must be an int >= 1, got {spec.channels!r}"
    assert len(spec.mean) == spec.channels and len(spec.std) == spec.channels, \
        f"mean and std must hold one value per channel ({spec.channels}), got {len(spec.mean)} and {len(spec.std)}"
    assert all(s > 0 for s in spec.std), f"std must be > 0 for every channel, got {tuple(spec.std)}"
    assert spec.splits and all(isinstance(s, str) for s in spec.splits), \
        f"splits must be a tuple of split names, got {spec.splits!r}"
    for field in ("train_split", "test_split"):
        value = getattr(spec, field)
        assert value in spec.splits, f"{field} {value!r} is not one of splits {tuple(spec.splits)}"
    assert isinstance(spec.defaults, dict), f"defaults must be a dict of config overrides, got {spec.defaults!r}"
    assert isinstance(spec.needs_root, bool), f"needs_root must be True or False, got {spec.needs_root!r}"
    assert spec.description, "description must say what the dataset is (shown by sslbench list)"


def check_dataset_missing_root(name: str) -> None:
    """A missing root raises DatasetError naming the path and what the root should hold."""
    from ..config import DataConfig

    spec = _spec(name)
    if not spec.needs_root:
        return
    with tempfile.TemporaryDirectory() as tmp:
        missing = str(Path(tmp) / "missing-root")
        try:
            if spec.modality == "video":
                spec.load(missing, spec.train_split, 36, data=DataConfig())
            else:
                spec.load(missing, spec.train_split, 36)
        except DatasetError as exc:
            message = str(exc)
        except Exception as exc:  # noqa: BLE001 - any other error breaks the contract
            raise AssertionError(f"a missing root raised {type(exc).__name__}, expected sslbench.contract.errors.DatasetError "
                                 f"naming the path and the expected layout") from exc
        else:
            raise AssertionError("a missing root loaded without error, expected sslbench.contract.errors.DatasetError "
                                 "naming the path and the expected layout")
    assert missing in message, f"the DatasetError for a missing root does not name the path: {message!r}"
    assert spec.layout or "expect" in message.lower(), \
        f"the DatasetError for a missing root does not say what the root should hold (set DatasetSpec.layout or " \
        f"say 'expected ...'): {message!r}"


def _item_problem(spec: DatasetSpec, dataset: Any, index: int, classes: int) -> str | None:
    from ..engine.splits import _image_problem, _label_problem, _rng_untouched, _describe

    with _rng_untouched():
        item = dataset[index]
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        return f"item {index}: got {_describe(item)}, expected a pair (image, label)"
    problem = _image_problem(item[0], spec) or _label_problem(item[1], classes,
                                                              bool(getattr(dataset, "multilabel", False)))
    return f"item {index}: {problem}" if problem else None


def check_dataset_splits(name: str, root: str | None = None) -> None:
    """Every declared split opens under ``root`` with uint8 (C, H, W) images of ``channels`` channels,
    labels in [0, classes), one label per item and no more classes than ``num_classes``."""
    import torch

    from ..engine.splits import class_count

    spec = _spec(name)
    for split in declared_splits(spec):
        try:
            dataset = _open(spec, split, root)
        except PluginError as exc:
            raise AssertionError(contract_message(exc)) from exc
        if spec.modality not in ("image", "video"):
            continue
        classes = class_count(spec, dataset)
        assert not spec.num_classes or classes <= spec.num_classes, \
            f"split {split!r} has {classes} classes, more than num_classes={spec.num_classes} (the full dataset's)"
        size = len(dataset)
        for index in sorted({round(i * (size - 1) / SAMPLED_ITEMS) for i in range(SAMPLED_ITEMS + 1)}):
            problem = _item_problem(spec, dataset, index, classes)
            assert problem is None, f"split {split!r}, {problem}"
        labels = getattr(dataset, "labels", None)
        if isinstance(labels, torch.Tensor):
            assert len(labels) == size, f"split {split!r} has {len(labels)} labels for {size} items, expected one each"


def check_dataset_determinism(name: str, root: str | None = None) -> None:
    """Loading a split twice gives the same items, and reading an item twice the same image: the
    engine augments, a dataset never does (a random clip is drawn from the seeded generators)."""
    import torch

    spec = _spec(name)
    split = spec.train_split
    first, second = _open(spec, split, root), _open(spec, split, root)
    assert len(first) == len(second), f"split {split!r} has {len(first)} then {len(second)} items on two loads"
    for index in sorted({0, len(first) // 2, len(first) - 1}):
        items = []
        for dataset in (first, first, second):
            torch.manual_seed(0)
            items.append(dataset[index])
        for other in items[1:]:
            same = torch.equal(torch.as_tensor(items[0][0]), torch.as_tensor(other[0])) and \
                torch.equal(torch.as_tensor(items[0][1]), torch.as_tensor(other[1]))
            assert same, f"split {split!r}, item {index} differs between two reads: items must be deterministic " \
                         f"(the engine augments, the dataset must not)"


DATASET_CHECKS: tuple[Callable[..., None], ...] = (
    check_dataset_registration, check_dataset_missing_root, check_dataset_splits, check_dataset_determinism,
)
