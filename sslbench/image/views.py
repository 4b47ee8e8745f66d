"""What the engine reads from image datasets: training views cut in the loader workers, the
evaluation view, and how many workers decode.

An image dataset is *file-backed* when it defines ``image_source(index) -> (path, label)``
(the built-in image folders, ImageNet, the transfer sets, VOC, COCO). Its training views are
cut from the full decoded image in the loader workers (:class:`TrainViews`): one random resized
crop box per view drawn on the full image with torchvision's rule
(:func:`sslbench.image.crops.crop_box`), the box decoded (at a reduced JPEG scale when it is
at least twice the output) and resized to the view's side (antialiased), then flipped; the
colour, blur and solarisation ops run batched on the training device
(:func:`sslbench.image.augment.augment_batch`). Its evaluation view is torchvision's
``Resize(eval_resize)`` + ``CenterCrop(input_size)`` (256 and 224 at ImageNet scale): the
dataset itself returns the ``eval_resize`` centre square, the view maker cuts its centre.
Datasets held in memory (:class:`sslbench.datasets.TensorImageDataset`: digits, CIFAR, STL-10,
Tiny-ImageNet) keep their own: the same crop rule applied to the whole batch on the device, and
evaluation at their own resolution (resized to ``input_size``).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import torch

from ..contract.errors import ConfigError
from .crops import CropSpec, crop_specs, resized_crop
from .decode import decode, image_size, is_jpeg, read_bytes, reduction
from .items import ViewSource, draw_views, item_generator


def is_file_backed(dataset: Any) -> bool:
    """True when the dataset decodes image files and says which (``image_source(index)``)."""
    return callable(getattr(dataset, "image_source", None))


def eval_resize(data: Any) -> int:
    """Shorter side before the evaluation centre crop: ``data.eval_resize``, else
    ``input_size / 0.875`` (256 for 224, torchvision's ImageNet evaluation)."""
    value = getattr(data, "eval_resize", 0) or 0
    return int(value) if value else int(round(data.input_size / 0.875))


def eval_transform(dataset: Any, data: Any) -> str:
    """Names the evaluation view of ``dataset`` in feature-cache keys."""
    if is_file_backed(dataset):
        return f"resize{eval_resize(data)}-centercrop{data.input_size}"
    return "resize-center"


def default_workers(world_size: int = 1) -> int:
    """The cores this process may use per training process (``os.sched_getaffinity``), at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, world_size))


def loader_workers(num_workers: int | None) -> int:
    """``data.num_workers``, or when unset the cores available to this rank."""
    if num_workers is not None:
        return int(num_workers)
    from ..engine import distributed as dist

    return default_workers(dist.world_size())


def cut_views(path: Any, views: Sequence[CropSpec], gen: torch.Generator | None = None) -> list[torch.Tensor]:
    """uint8 crops (3, size, size) of one image file, one per view: boxes drawn on the full image
    (read from the header), the file decoded once (at the largest JPEG scale every box allows),
    each box resized (antialiased) then flipped."""
    data = read_bytes(path)
    height, width = image_size(data, path)
    boxes, flips = draw_views(height, width, views, gen)
    r = reduction([(b[2], b[3], v.size) for b, v in zip(boxes, views)]) if is_jpeg(data) else 1
    image = decode(data, path, r)
    sy, sx = image.shape[-2] / height, image.shape[-1] / width
    return [resized_crop(image, (t * sy, l * sx, h * sy, w * sx), v.size, f)
            for (t, l, h, w), v, f in zip(boxes, views, flips)]


class TrainViews(ViewSource):
    """A file-backed image dataset seen through its training views: item ``(index, epoch)`` (or
    ``index``: epoch 0) is ``(tuple of uint8 views (3, s_v, s_v), label)`` (:func:`cut_views`)."""

    def __getitem__(self, key: Any) -> tuple[tuple[torch.Tensor, ...], Any]:
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        path, label = self.source.image_source(index)
        return tuple(cut_views(path, self.views, item_generator(self.seed, epoch, index))), label


def training_source(dataset: Any, specs: Sequence, size: int, seed: int, decode_on: str = "cpu") -> Any:
    """What the training loop iterates for ``dataset`` with views ``specs``: crops cut in the loader
    workers for a file-backed dataset (bytes and boxes for GPU decoding with ``decode_on="cuda"``),
    the dataset itself otherwise (its batches are cropped on the device)."""
    if decode_on not in ("cpu", "cuda"):
        raise ConfigError(f"invalid value {decode_on!r} for data.decode: expected 'cpu' or 'cuda'")
    if decode_on == "cuda":
        from .gpu import require_cuda

        require_cuda()
    if not is_file_backed(dataset):
        return dataset
    views = crop_specs(specs, size)
    if decode_on == "cuda":
        from .gpu import EncodedViews

        return EncodedViews(dataset, views, seed)
    return TrainViews(dataset, views, seed)
