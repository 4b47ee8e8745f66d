"""COCO-format detection data: an instances JSON plus a folder of images (thesis Table 4.11).

Layout under ``--data-root``::

    annotations/instances_<split>.json    (COCO "images", "annotations", "categories")
    <split>/<file_name>                   (e.g. train2017/000000000009.jpg, val2017/...)

:class:`CocoDetection` yields ``(uint8 image (3, H, W), target)`` with the target torchvision's
detection models expect: ``boxes`` (N, 4) xyxy in pixels, ``labels`` (N,) in 1..C (category ids
mapped to contiguous indices in id order; 0 is the background), ``masks`` (N, H, W) uint8 when
the file has segmentations, and ``image_id``. Crowd annotations (``iscrowd: 1``) and boxes
thinner than one pixel are left out of the training targets (COCO's evaluation handles crowds
itself). :class:`CocoClassification` is the same data as a multi-label classification set (one
0/1 entry per category present), so a COCO-format folder can also be a pretraining dataset.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .readers import decode_rgb, verify_images
from ..contract.errors import DatasetError

COCO_LAYOUT = "annotations/instances_<split>.json and <split>/<file_name> (e.g. train2017/, val2017/)"


def annotation_file(root: str | None, split: str) -> Path:
    """The instances JSON of ``split`` under ``root``, or a DatasetError naming the layout."""
    if not root:
        raise DatasetError(f"dataset 'coco' needs --data-root (or --set data.root=PATH) with layout {COCO_LAYOUT}")
    path = Path(root).expanduser() / "annotations" / f"instances_{split}.json"
    if not path.is_file():
        raise DatasetError(f"coco: {str(path)!r} does not exist: expected {COCO_LAYOUT}")
    return path


class CocoDetection(Dataset):
    """One split of a COCO-format folder as (image, detection target) pairs."""

    def __init__(self, root: str | None, split: str) -> None:
        self.ann_file = annotation_file(root, split)
        try:
            data = json.loads(self.ann_file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DatasetError(f"coco: cannot read {str(self.ann_file)!r}: {exc}") from None
        missing = [k for k in ("images", "annotations", "categories") if k not in data]
        if missing:
            raise DatasetError(f"coco: {str(self.ann_file)!r} lacks {', '.join(missing)}: expected a COCO instances file")
        self.image_dir = Path(root).expanduser() / split
        self.images = sorted(data["images"], key=lambda im: im["id"])
        if not self.images:
            raise DatasetError(f"coco: {str(self.ann_file)!r} lists no image")
        self.category_ids = sorted(c["id"] for c in data["categories"])
        self.classes = [c["name"] for c in sorted(data["categories"], key=lambda c: c["id"])]
        self.label_of = {cid: i + 1 for i, cid in enumerate(self.category_ids)}
        self.annotations: dict[int, list[dict]] = {im["id"]: [] for im in self.images}
        for ann in data["annotations"]:
            if ann.get("image_id") in self.annotations:
                if ann.get("category_id") not in self.label_of:
                    raise DatasetError(f"coco: annotation {ann.get('id')} has unknown category {ann.get('category_id')!r}")
                self.annotations[ann["image_id"]].append(ann)
        self.has_masks = any("segmentation" in a for anns in self.annotations.values() for a in anns)

    def __len__(self) -> int:
        return len(self.images)

    def image(self, index: int) -> torch.Tensor:
        info = self.images[index]
        path = self.image_dir / info["file_name"]
        if not path.is_file():
            raise DatasetError(f"coco: image {str(path)!r} listed in {self.ann_file.name} is missing: expected {COCO_LAYOUT}")
        return decode_rgb(path)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        info = self.images[index]
        image = self.image(index)
        height, width = image.shape[-2:]
        boxes, labels, masks = [], [], []
        for ann in self.annotations[info["id"]]:
            if ann.get("iscrowd", 0):
                continue
            x, y, w, h = ann["bbox"]
            if w < 1 or h < 1:
                continue
            boxes.append([x, y, x + w, y + h])
            labels.append(self.label_of[ann["category_id"]])
            if self.has_masks:
                masks.append(segmentation_mask(ann.get("segmentation"), height, width))
        target: dict[str, Any] = {
            "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor(labels, dtype=torch.int64),
            "image_id": int(info["id"]),
        }
        if self.has_masks:
            target["masks"] = (torch.from_numpy(np.stack(masks)) if masks
                               else torch.zeros((0, height, width), dtype=torch.uint8))
        return image, target


def segmentation_mask(segmentation: Any, height: int, width: int) -> np.ndarray:
    """A COCO segmentation (polygons, RLE or uncompressed RLE) as a (H, W) uint8 0/1 mask."""
    from pycocotools import mask as mask_utils

    if not segmentation:
        return np.zeros((height, width), dtype=np.uint8)
    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation.get("counts"), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    import warnings

    with warnings.catch_warnings():  # pycocotools' numpy-2 copy-keyword deprecation, harmless here
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_utils.decode(rle).astype(np.uint8)


class CocoClassification(Dataset):
    """A COCO-format split as multi-label classification: (uint8 image (3, S, S), (C,) 0/1 labels)."""

    multilabel = True

    def __init__(self, root: str | None, split: str, image_size: int) -> None:
        self.detection = CocoDetection(root, split)
        self.classes = self.detection.classes
        self.image_size = image_size
        labels = torch.zeros((len(self.detection), len(self.classes)), dtype=torch.int64)
        for i, info in enumerate(self.detection.images):
            for ann in self.detection.annotations[info["id"]]:
                labels[i, self.detection.label_of[ann["category_id"]] - 1] = 1
        self.labels = labels

    def __len__(self) -> int:
        return len(self.detection)

    def fingerprint(self) -> dict[str, str]:
        """What cached features of this split depend on (:mod:`sslbench.fingerprint`): the
        annotation file, each listed image file (size, mtime) and the labels."""
        from ..fingerprint import array_digest, files_digest

        det = self.detection
        return {"annotations": files_digest([det.ann_file]), "labels": array_digest(self.labels),
                "images": files_digest([det.image_dir / info["file_name"] for info in det.images])}

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        from torchvision.transforms.v2 import functional as F

        image = F.resize(self.detection.image(index), [self.image_size], antialias=True)
        return F.center_crop(image, [self.image_size, self.image_size]), self.labels[index]

    def image_source(self, index: int) -> tuple[Path, torch.Tensor]:
        """File and labels of item ``index``: training views are cut from the full image (sslbench.image)."""
        return self.detection.image_dir / self.detection.images[index]["file_name"], self.labels[index]

    def verify(self) -> None:
        """Every listed image exists and decodes (run before any training)."""
        verify_images([self.detection.image_dir / info["file_name"] for info in self.detection.images])


def load_coco(root: str | None, split: str, image_size: int) -> CocoClassification:
    return CocoClassification(root, split, image_size)
