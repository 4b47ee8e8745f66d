"""The image modality's views: training views cut in the loader workers, the evaluation view, and
:class:`ViewMaker`, which finishes both on the device (registered for the engine in
:mod:`sslbench.default_plugins.datasets`, through :mod:`sslbench.contract.modality`).

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
Datasets held in memory (:class:`sslbench.engine.data.TensorImageDataset`: digits, CIFAR, STL-10,
Tiny-ImageNet) keep their own: the same crop rule applied to the whole batch on the device, and
evaluation at their own resolution (resized to ``input_size``).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from ..contract.augmentations import AugSpec
from ..contract.errors import ConfigError
from ..engine.splits import eval_resize
from .augment import augment_batch, center_crop_eval, resize_eval
from .crops import CropSpec, crop_specs, resized_crop
from .decode import decode, image_size, is_jpeg, read_bytes, reduction
from .items import ViewSource, draw_views, item_generator


def is_file_backed(dataset: Any) -> bool:
    """True when the dataset decodes image files and says which (``image_source(index)``)."""
    return callable(getattr(dataset, "image_source", None))


def eval_transform(dataset: Any, data: Any) -> str:
    """Names the evaluation view of ``dataset`` in feature-cache keys."""
    if is_file_backed(dataset):
        return f"resize{eval_resize(data)}-centercrop{data.input_size}"
    return "resize-center"


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


class ViewMaker:
    """Turns a uint8 batch into normalised augmented views on the training device.

    ``train_views`` takes a uint8 batch (cropped here), or the views the loader workers already
    cropped (a list, one uint8 batch per spec; or an :class:`sslbench.image.gpu.EncodedBatch` to
    decode on the device). ``eval_crop``: the evaluation view is the centre ``size`` square
    (file-backed datasets, resized to ``eval_resize`` by the dataset) instead of a resize.
    """

    def __init__(self, specs: list[AugSpec], size: int, mean, std, device: torch.device, channels_last: bool,
                 eval_crop: bool = False) -> None:
        self.specs = specs
        self.size = size
        self.eval_crop = eval_crop
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1)
        self.device = device
        self.channels_last = channels_last

    def _finish(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x.contiguous()

    def _float(self, images: torch.Tensor) -> torch.Tensor:
        return images.to(self.device, non_blocking=True).float().div_(255)

    def train_views(self, images: Any, gen: torch.Generator | None) -> list[torch.Tensor]:
        if hasattr(images, "views"):  # an EncodedBatch: decoded and cropped on the device
            images = images.views(self.device)
        if isinstance(images, (list, tuple)):  # views cropped in the loader workers
            if len(images) != len(self.specs):
                raise ValueError(f"{len(images)} cropped views for {len(self.specs)} augmentations")
            return [self._finish(augment_batch(self._float(v), spec, self.size, gen, cropped=True))
                    for v, spec in zip(images, self.specs)]
        x = self._float(images)
        return [self._finish(augment_batch(x, spec, self.size, gen)) for spec in self.specs]

    def eval_view(self, images: torch.Tensor) -> torch.Tensor:
        x = self._float(images)
        return self._finish(center_crop_eval(x, self.size) if self.eval_crop else resize_eval(x, self.size))
