"""``data.decode=cuda``: JPEGs decoded in batches on the GPU (nvJPEG through
``torchvision.io.decode_jpeg(list, device="cuda")``), cropped and resized there.

The loader workers only read each file's bytes and draw its crop boxes and flips (the same
draws as :func:`sslbench.image.views.cut_views`, so a seed gives the same boxes whichever
decoder runs); files that are not JPEGs are decoded in the worker and travel decoded. The
training process decodes the batch on the device and cuts each view there (bilinear,
antialiased, rounded back to uint8 like the CPU path). The GPU decoder reads every JPEG at
full size (nvJPEG has no reduced-scale decoding).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from ..contract.errors import ConfigError
from .crops import CropSpec
from .decode import decode, image_size, is_jpeg, read_bytes
from .items import ViewSource, draw_views, item_generator


def require_cuda() -> None:
    """``data.decode=cuda`` needs a CUDA device: a one-line ConfigError otherwise."""
    if not torch.cuda.is_available():
        raise ConfigError("invalid value 'cuda' for data.decode: CUDA is not available here "
                          "(torch.cuda.is_available() is false): expected data.decode=cpu")


@dataclass
class EncodedImage:
    """One item as the worker leaves it: JPEG bytes (1-D uint8) or a decoded (3, H, W) image,
    the full image's size, and each view's box and flip."""

    payload: torch.Tensor
    jpeg: bool
    height: int
    width: int
    boxes: list[tuple[int, int, int, int]]
    flips: list[bool]


class EncodedBatch:
    """A batch of :class:`EncodedImage` and the views to cut; :meth:`views` decodes on a device."""

    def __init__(self, items: list[EncodedImage], views: Sequence[CropSpec]) -> None:
        self.items = items
        self.view_specs = list(views)

    def __len__(self) -> int:
        return len(self.items)

    def pin_memory(self) -> "EncodedBatch":
        """Pinned payloads (the DataLoader calls this with ``pin_memory=True``)."""
        for item in self.items:
            item.payload = item.payload.pin_memory()
        return self

    def decoded(self, device: torch.device | str) -> list[torch.Tensor]:
        """Every image as uint8 (3, H, W) on ``device``, the JPEGs decoded there in one call."""
        from torchvision.io import ImageReadMode, decode_jpeg

        device = torch.device(device)
        jpegs = [i for i, item in enumerate(self.items) if item.jpeg]
        out: list[Any] = [None] * len(self.items)
        if jpegs:
            with warnings.catch_warnings():  # torchvision 0.29 deprecates its decoders (for torchcodec)
                warnings.simplefilter("ignore", DeprecationWarning)
                images = decode_jpeg([self.items[i].payload for i in jpegs], mode=ImageReadMode.RGB, device=device)
            for i, image in zip(jpegs, images):
                out[i] = image
        for i, item in enumerate(self.items):
            if not item.jpeg:
                out[i] = item.payload.to(device, non_blocking=True)
        return out

    def views(self, device: torch.device | str) -> list[torch.Tensor]:
        """One uint8 batch (B, 3, s_v, s_v) per view, cut on ``device``."""
        images = self.decoded(device)
        views = []
        for v, spec in enumerate(self.view_specs):
            batch = torch.empty((len(images), 3, spec.size, spec.size), dtype=torch.uint8, device=images[0].device)
            for b, (image, item) in enumerate(zip(images, self.items)):
                top, left, h, w = item.boxes[v]
                crop = image[:, top:top + h, left:left + w].unsqueeze(0).float()
                if (h, w) != (spec.size, spec.size):
                    crop = F.interpolate(crop, size=(spec.size, spec.size), mode="bilinear", align_corners=False,
                                         antialias=True)
                crop = crop[0].round_().clamp_(0, 255)
                batch[b] = crop.flip(-1) if item.flips[v] else crop
            views.append(batch)
        return views


class EncodedViews(ViewSource):
    """A file-backed image dataset read for GPU decoding: item ``(index, epoch)`` is
    ``(EncodedImage, label)``; :meth:`collate_fn` makes an :class:`EncodedBatch`."""

    def __getitem__(self, key: Any) -> tuple[EncodedImage, Any]:  # type: ignore[override]
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        path, label = self.source.image_source(index)
        data = read_bytes(path)
        height, width = image_size(data, path)
        boxes, flips = draw_views(height, width, self.views, item_generator(self.seed, epoch, index))
        jpeg = is_jpeg(data)
        payload = torch.frombuffer(data, dtype=torch.uint8) if jpeg else decode(data, path).contiguous()
        return EncodedImage(payload, jpeg, height, width, boxes, flips), label

    def collate_fn(self, items: list[tuple[EncodedImage, Any]]) -> tuple[EncodedBatch, Any]:
        from torch.utils.data import default_collate

        return EncodedBatch([i for i, _ in items], self.views), default_collate([y for _, y in items])
