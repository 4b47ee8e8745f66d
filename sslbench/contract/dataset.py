"""The dataset contract: what a dataset plugin registers through ``register_datasets``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from torch.utils.data import Dataset

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset: how to load each split and what the run config should default to.

    ``load(root, split, image_size)`` returns a ``Dataset`` of ``(uint8 tensor (C, H, W), int
    label)``; datasets whose images all share one size return a
    :class:`sslbench.image.readers.TensorImageDataset` (the engine then batches them without
    workers), others resize each image to ``image_size`` (shorter side, then centre crop;
    ``data.eval_resize``, 256 for 224-pixel inputs) and define ``image_source(index) -> (path,
    label)`` so that training crops are cut from the full image (:mod:`sslbench.image.views`).
    Multi-label datasets (VOC2007, COCO as classification) return a ``(C,)`` int64 vector instead
    of the int label (1 present, 0 absent, -1 ignored) and set ``multilabel = True`` on the
    ``Dataset``; single-label protocols (kNN, linear, retrieval, finetune) then refuse them with a
    clear error, and ``lowshot`` reports mAP.
    ``defaults`` are config overrides (e.g. ``{"data": {"input_size": 32}}``) applied before the
    method's presets. With ``modality="video"``, ``load(root, split, image_size, data=None)`` also
    receives the run's :class:`sslbench.config.DataConfig` and returns a
    :class:`sslbench.video.datasets.VideoDataset` of ``(uint8 clips (V, C, T, H, W), int label)``.
    Another ``modality`` (``"soccernet"``: whole games) is read by its own protocols.
    Every opened split is checked against this contract (:func:`check_dataset`), and the number
    of classes is counted from the loaded data's ``classes`` when it has them (``num_classes`` is
    the full dataset's count, the fallback).
    Cached features are keyed by a fingerprint of the loaded split (:mod:`sslbench.fingerprint`:
    its ``images`` tensor, ``samples`` files or root folder); a ``Dataset`` with none of these
    defines ``fingerprint()`` (any JSON-able value that changes with its items) to be cached.
    """

    name: str
    load: Callable[[str | None, str, int], "Dataset"]
    num_classes: int
    channels: int = 3
    splits: tuple[str, ...] = ("train", "test")
    train_split: str = "train"
    test_split: str = "test"
    pretrain_split: str = "train"
    needs_root: bool = True
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    defaults: dict[str, Any] = field(default_factory=dict)
    modality: str = "image"
    description: str = ""
    layout: str = ""  # what --data-root must hold, for error messages
