"""Dataset readers for the built-in datasets: real on-disk formats, never downloading."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from .errors import DatasetError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


class TensorImageDataset(Dataset):
    """Images of one size held in memory as a uint8 tensor (N, C, H, W) with int64 labels."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, classes: list[str] | None = None) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"expected uint8 images (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels.long()
        self.classes = classes

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])


def load_digits(root: str | None, split: str, image_size: int = 8) -> TensorImageDataset:
    """scikit-learn's bundled 8x8 digits, split 80/20 stratified with a fixed seed (1,437 / 360)."""
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    if split not in ("train", "test"):
        raise DatasetError(f"unknown split {split!r} for dataset 'digits': expected 'train' or 'test'")
    bunch = sk_load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    index = np.arange(len(images))
    train_idx, test_idx = train_test_split(index, test_size=0.2, random_state=0, stratify=bunch.target)
    idx = np.sort(train_idx if split == "train" else test_idx)
    return TensorImageDataset(
        torch.from_numpy(images[idx][:, None]).contiguous(),
        torch.from_numpy(bunch.target[idx]),
        [str(i) for i in range(10)],
    )


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh, encoding="latin1")
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise DatasetError(f"cannot read CIFAR batch {str(path)!r}: {exc}") from None


def load_cifar(root: str | None, split: str, variant: int) -> TensorImageDataset:
    """torchvision's on-disk CIFAR-10/100 python pickles under ``root`` (no download)."""
    folder = "cifar-10-batches-py" if variant == 10 else "cifar-100-python"
    if variant == 10:
        files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        label_key = "labels"
    else:
        files = ["train" if split == "train" else "test"]
        label_key = "fine_labels"
    if split not in ("train", "test"):
        raise DatasetError(f"unknown split {split!r} for dataset 'cifar{variant}': expected 'train' or 'test'")
    base = _require_root(root, f"cifar{variant}", f"{folder}/{files[0]}")
    base = base / folder
    missing = [f for f in files if not (base / f).is_file()]
    if missing:
        raise DatasetError(
            f"dataset root {str(base)!r} lacks {', '.join(missing)}: expected torchvision's "
            f"CIFAR-{variant} python layout ({folder}/{files[0]} ...)"
        )
    data, labels = [], []
    for name in files:
        entry = _unpickle(base / name)
        if "data" not in entry or label_key not in entry:
            raise DatasetError(f"CIFAR batch {str(base / name)!r} lacks 'data' or {label_key!r}")
        data.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(entry[label_key])
    classes = None
    meta = base / ("batches.meta" if variant == 10 else "meta")
    if meta.is_file():
        m = _unpickle(meta)
        classes = m.get("label_names") or m.get("fine_label_names")
    return TensorImageDataset(
        torch.from_numpy(np.concatenate(data)), torch.tensor(labels, dtype=torch.long), classes
    )


def _require_root(root: str | None, dataset: str, layout: str) -> Path:
    if not root:
        raise DatasetError(f"dataset {dataset!r} needs --data-root (or --set data.root=PATH) with layout {layout}")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DatasetError(f"dataset root {str(path)!r} for {dataset!r} does not exist: expected a folder with {layout}")
    return path


class ImageFolderDataset(Dataset):
    """``root/<class>/<image>`` files decoded to uint8 RGB, resized and centre-cropped to a square."""

    def __init__(self, folder: Path, image_size: int, classes: list[str] | None = None, dataset: str = "imagefolder") -> None:
        if not folder.is_dir():
            raise DatasetError(f"{dataset}: split folder {str(folder)!r} does not exist: expected <root>/<split>/<class>/<image>")
        found = sorted(d.name for d in folder.iterdir() if d.is_dir())
        if classes is None:
            classes = found
        else:
            missing = [c for c in classes if c not in found]
            if missing:
                raise DatasetError(
                    f"{dataset}: {str(folder)!r} lacks {len(missing)} of the expected class folders "
                    f"(first: {missing[0]!r})"
                )
        if not classes:
            raise DatasetError(f"{dataset}: {str(folder)!r} has no class folders: expected <split>/<class>/<image>")
        self.samples: list[tuple[Path, int]] = []
        for label, cls in enumerate(classes):
            for path in sorted((folder / cls).rglob("*")):
                if path.suffix.lower() in IMAGE_EXTENSIONS:
                    self.samples.append((path, label))
        if not self.samples:
            raise DatasetError(f"{dataset}: no images ({', '.join(IMAGE_EXTENSIONS)}) under {str(folder)!r}")
        self.classes = classes
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        from PIL import Image, UnidentifiedImageError
        from torchvision.transforms.v2 import functional as F

        path, label = self.samples[index]
        try:
            with Image.open(path) as pil:
                image = F.pil_to_tensor(pil.convert("RGB"))
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise DatasetError(f"cannot decode image {str(path)!r}: {exc}") from None
        image = F.resize(image, [self.image_size], antialias=True)
        image = F.center_crop(image, [self.image_size, self.image_size])
        return image, label


def _split_folder(root: Path, split: str) -> Path:
    if split == "test" and not (root / "test").is_dir() and (root / "val").is_dir():
        return root / "val"
    if split == "val" and not (root / "val").is_dir() and (root / "test").is_dir():
        return root / "test"
    return root / split


def load_imagefolder(root: str | None, split: str, image_size: int) -> ImageFolderDataset:
    """Any ``root/{train,val}/<class>/<image>`` tree (``test`` may stand for ``val``)."""
    base = _require_root(root, "imagefolder", "<split>/<class>/<image>")
    return ImageFolderDataset(_split_folder(base, split), image_size)


def imagenet100_classes() -> list[str]:
    """The 100 ImageNet classes of thesis Table A.1 (from CMC)."""
    text = (Path(__file__).parent / "resources" / "imagenet100_classes.txt").read_text()
    return text.split()


def load_imagenet100(root: str | None, split: str, image_size: int) -> ImageFolderDataset:
    """An ImageNet folder (``train``/``val`` by wnid) filtered to the classes of Table A.1."""
    base = _require_root(root, "imagenet100", "<split>/<wnid>/<image> with the 100 wnids of thesis Table A.1")
    return ImageFolderDataset(_split_folder(base, split), image_size, imagenet100_classes(), "imagenet100")


def loader_for(fn: Callable[..., Dataset], **fixed: object) -> Callable[[str | None, str, int], Dataset]:
    """Bind extra arguments of a reader so it matches ``load(root, split, image_size)``."""

    def load(root: str | None, split: str, image_size: int) -> Dataset:
        return fn(root, split, **fixed)

    return load
