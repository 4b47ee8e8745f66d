"""Opening a dataset split and holding it to the dataset contract (:class:`sslbench.contract.dataset.DatasetSpec`)."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any, Iterator

from ..contract.dataset import DatasetSpec

if TYPE_CHECKING:
    from torch.utils.data import Dataset

    from ..contract.errors import PluginError

logger = logging.getLogger("sslbench")
_told: set[tuple[str, int]] = set()


def class_count(spec: DatasetSpec, dataset: Any) -> int:
    """Classes of a loaded split counted from the data (its ``classes``: class folders, split files,
    CSV labels, ``classInd.txt``), else the spec's ``num_classes``: a 4-class UCF101 subset gets a
    4-way head, never a 101-way one."""
    classes = getattr(dataset, "classes", None)
    return len(classes) if classes else spec.num_classes


def contract_error(dataset: str, message: str) -> "PluginError":
    """A broken dataset contract as one line naming the plugin (and distribution) that registered it."""
    from ..contract.errors import PluginError
    from ..contract.loading import plugin_infos, registries

    plugin, distribution = "unknown", None
    try:
        plugin = registries().datasets.entry(dataset).plugin
        info = next((i for i in plugin_infos() if i.name == plugin), None)
        distribution = info.distribution if info is not None else None
    except Exception:  # noqa: BLE001 - a spec used outside the registries: the dataset name still says it
        pass
    return PluginError(plugin, "dataset", dataset, message, distribution)


def _describe(value: Any) -> str:
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        return f"a {str(value.dtype).replace('torch.', '')} tensor of shape {tuple(value.shape)}"
    if isinstance(value, np.ndarray):
        return f"a numpy {value.dtype} array of shape {value.shape}"
    return f"{type(value).__name__} {value!r}"[:80]


def _label_problem(label: Any, n: int, multilabel: bool) -> str | None:
    """What is wrong with one label (None when it follows the contract)."""
    import numpy as np
    import torch

    upper = f"in [0, {n})" if n else ">= 0"
    if multilabel:
        shape = f"({n},)" if n else "(C,)"
        expected = f"an int64 vector {shape} of 1 / 0 / -1"
        if not isinstance(label, torch.Tensor) or label.ndim != 1 or label.dtype.is_floating_point \
                or label.dtype == torch.bool or (n and len(label) != n):
            return f"label is {_describe(label)}, expected {expected}"
        if label.numel() and (int(label.min()) < -1 or int(label.max()) > 1):
            return f"label holds values outside 1 / 0 / -1, expected {expected}"
        return None
    if isinstance(label, (torch.Tensor, np.ndarray)) and label.ndim == 0:
        label = label.item()  # a float or bool tensor stays a float or bool, refused below
    if not isinstance(label, (int, np.integer)) or isinstance(label, (bool, np.bool_)):
        return f"label is {_describe(label)}, expected an int {upper} (-1 for unlabelled)"
    if label < -1 or (n and label >= n):
        return f"label {int(label)} is out of range, expected an int {upper} (-1 for unlabelled)"
    return None


def _image_problem(image: Any, spec: DatasetSpec) -> str | None:
    """What is wrong with one image or clip (None when it follows the contract)."""
    import torch

    video = spec.modality == "video"
    layout, ndim, axis = ("(V, C, T, H, W) clips", 5, 1) if video else ("(C, H, W)", 3, 0)
    expected = f"a uint8 tensor {layout} with C = {spec.channels} and values 0-255"
    if not isinstance(image, torch.Tensor) or image.dtype != torch.uint8 or image.ndim != ndim \
            or image.shape[axis] != spec.channels:
        return f"image is {_describe(image)}, expected {expected}"
    return None


@contextlib.contextmanager
def _rng_untouched() -> Iterator[None]:
    """Restore the torch, numpy and python RNGs afterwards."""
    import random

    import numpy as np
    import torch

    py, npy = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        yield
    random.setstate(py)
    np.random.set_state(npy)


def check_dataset(dataset: Any, spec: DatasetSpec, split: str, items: int = 2) -> None:
    """Hold a freshly opened split to the contract of :class:`DatasetSpec`: its first and last
    items (image dtype, layout, channels; label type and range) and, when the dataset keeps them
    in one tensor, every label. A violation is one line naming the plugin; a float image in
    [0, 1] would otherwise give a silently different number."""
    import numpy as np
    import torch

    def broken(message: str) -> "PluginError":
        return contract_error(spec.name, f"split {split!r}{message}")

    try:
        size = len(dataset)
    except TypeError:
        raise broken(": the dataset has no len(), expected a map-style torch Dataset") from None
    if size == 0:
        raise broken(" is empty, expected at least one item")
    if spec.modality not in ("image", "video"):
        return  # items of another kind (SoccerNet's games): their own protocols read and check them
    n = class_count(spec, dataset)
    multilabel = bool(getattr(dataset, "multilabel", False))
    for index in sorted({0, size - 1})[:items]:
        with _rng_untouched():  # a random clip drawn here must not shift the seeded run
            item = dataset[index]
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise broken(f", item {index}: got {_describe(item)}, expected a pair (image, label)")
        problem = _image_problem(item[0], spec) or _label_problem(item[1], n, multilabel)
        if problem:
            raise broken(f", item {index}: {problem}")
    labels = getattr(dataset, "labels", None)
    if isinstance(labels, (torch.Tensor, np.ndarray)) and len(labels) and not multilabel and n:
        labels = torch.as_tensor(labels)
        low, high = int(labels.min()), int(labels.max())
        if low < -1 or high >= n:
            raise broken(f": label {low if low < -1 else high} is out of range, expected an int in [0, {n}) "
                         f"(-1 for unlabelled)")
    if spec.num_classes and n != spec.num_classes and (spec.name, n) not in _told:
        _told.add((spec.name, n))
        logger.warning("sslbench: dataset %r has %d classes here (the full dataset has %d): heads and metrics "
                       "use %d", spec.name, n, spec.num_classes, n)


def eval_resize(data: Any) -> int:
    """Shorter side before the evaluation centre crop, the size ``spec.load`` gets: ``data.eval_resize``,
    else ``input_size / 0.875`` (256 for 224, torchvision's ImageNet evaluation)."""
    value = getattr(data, "eval_resize", 0) or 0
    return int(value) if value else int(round(data.input_size / 0.875))


def open_split(spec: DatasetSpec, config: Any, split: str, root: str | None, purpose: str = "train",
               clips: int = 2) -> "Dataset":
    """``spec.load`` for this run, checked against the contract: the one way splits are opened
    (preflight, pretraining, evaluation). Video splits get the clip sampling of ``purpose``
    (:func:`sslbench.video.pipeline.load_split`, which checks them), through the modality's steps."""
    from ..contract.modality import modality

    steps = modality(spec.modality)
    if steps.open_split is not None:
        return steps.open_split(spec, config, split, purpose, clips, root)
    dataset = spec.load(root, split, eval_resize(config.data))  # the shorter side before the eval centre crop
    if spec.modality == "image":  # other modalities (soccernet: whole games) define their own items
        check_dataset(dataset, spec, split)
    return dataset
