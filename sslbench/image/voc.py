"""Pascal VOC2007 classification in its VOCdevkit layout (the low-shot set of thesis Table 4.9).

Layout under ``--data-root`` (the folder holding ``VOCdevkit``, ``VOCdevkit`` itself, or
``VOC2007`` itself)::

    VOCdevkit/VOC2007/JPEGImages/<id>.jpg
    VOCdevkit/VOC2007/Annotations/<id>.xml
    VOCdevkit/VOC2007/ImageSets/Main/{train,val,trainval,test}.txt

Each image's label is a 20-dim int64 vector in the class order of :data:`VOC_CLASSES`, built
from the ``<object>`` entries of its XML: 1 when the image has a non-difficult object of the
class, -1 when its only objects of the class are marked ``<difficult>1</difficult>``, 0
otherwise. -1 means "ignore": VOC's own classification ground truth marks these images 0
(difficult) and its evaluation skips them; the low-shot protocol neither trains nor scores a
class on them. The dataset sets ``multilabel = True`` so single-label protocols refuse it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .readers import decode_rgb, resize_center_square, verify_images
from ..contract.errors import DatasetError

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable", "dog",
    "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)
VOC_SPLITS = ("train", "val", "trainval", "test")
VOC_LAYOUT = ("VOCdevkit/VOC2007/{JPEGImages/<id>.jpg, Annotations/<id>.xml, "
              "ImageSets/Main/{trainval,test}.txt}")


def find_voc_root(root: str | None, year: str = "2007") -> Path:
    """The ``VOC<year>`` folder under ``root`` (accepting the parent of VOCdevkit, VOCdevkit, or itself)."""
    if not root:
        raise DatasetError(f"dataset 'voc{year}' needs --data-root (or --set data.root=PATH) with layout {VOC_LAYOUT}")
    base = Path(root).expanduser()
    for candidate in (base / "VOCdevkit" / f"VOC{year}", base / f"VOC{year}", base):
        if (candidate / "ImageSets" / "Main").is_dir():
            return candidate
    raise DatasetError(f"dataset root {str(base)!r} for 'voc{year}' lacks ImageSets/Main: expected {VOC_LAYOUT}")


def parse_annotation(path: Path) -> np.ndarray:
    """The (20,) label vector of one VOC XML file: 1 present, -1 difficult only, 0 absent."""
    try:
        tree = ET.parse(path)
    except (OSError, ET.ParseError) as exc:
        raise DatasetError(f"cannot read VOC annotation {str(path)!r}: {exc}") from None
    label = np.zeros(len(VOC_CLASSES), dtype=np.int64)
    for obj in tree.getroot().iter("object"):
        name = (obj.findtext("name") or "").strip()
        if name not in VOC_CLASSES:
            raise DatasetError(f"VOC annotation {str(path)!r}: unknown class {name!r} (expected one of the 20 VOC classes)")
        c = VOC_CLASSES.index(name)
        difficult = (obj.findtext("difficult") or "0").strip() == "1"
        if not difficult:
            label[c] = 1
        elif label[c] == 0:
            label[c] = -1
    return label


class VOCClassification(Dataset):
    """One VOC split as (uint8 image (3, S, S) resized and centre-cropped, int64 labels (20,))."""

    multilabel = True

    def __init__(self, root: str | None, split: str, image_size: int, year: str = "2007") -> None:
        if split not in VOC_SPLITS:
            raise DatasetError(f"unknown split {split!r} for dataset 'voc{year}': expected one of {', '.join(VOC_SPLITS)}")
        self.base = find_voc_root(root, year)
        listing = self.base / "ImageSets" / "Main" / f"{split}.txt"
        if not listing.is_file():
            raise DatasetError(f"voc{year}: {str(listing)!r} does not exist: expected {VOC_LAYOUT}")
        self.ids = [line.split()[0] for line in listing.read_text().splitlines() if line.strip()]
        if not self.ids:
            raise DatasetError(f"voc{year}: {str(listing)!r} lists no image")
        labels = []
        for image_id in self.ids:
            xml = self.base / "Annotations" / f"{image_id}.xml"
            if not xml.is_file():
                raise DatasetError(f"voc{year}: {str(xml)!r} is missing (listed in {listing.name}): expected {VOC_LAYOUT}")
            labels.append(parse_annotation(xml))
        self.labels = torch.from_numpy(np.stack(labels))
        self.classes = list(VOC_CLASSES)
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        path = self.base / "JPEGImages" / f"{self.ids[index]}.jpg"
        return resize_center_square(decode_rgb(path), self.image_size), self.labels[index]

    def image_source(self, index: int) -> tuple[Path, torch.Tensor]:
        """File and labels of item ``index``: training views are cut from the full image (sslbench.image)."""
        return self.base / "JPEGImages" / f"{self.ids[index]}.jpg", self.labels[index]

    def verify(self) -> None:
        """Every listed image exists and decodes (run before any training)."""
        verify_images([self.base / "JPEGImages" / f"{image_id}.jpg" for image_id in self.ids])


def load_voc2007(root: str | None, split: str, image_size: int) -> VOCClassification:
    """VOC2007 ``split`` (``trainval`` trains, ``test`` evaluates) as a multi-label dataset."""
    return VOCClassification(root, split, image_size, "2007")
