"""Image dataset readers of the built-in datasets: real on-disk formats, never downloading.

The root and split folder helpers they share with the video readers live in :mod:`sslbench.folders`
(re-exported here, as is :class:`TensorImageDataset`, for readers of plugins)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from ..contract.errors import DatasetError
from ..engine.data import TensorImageDataset  # in memory: batched by the engine without a DataLoader
from ..folders import require_root, split_folder, train_classes

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


def _digits_csv() -> Path:
    """scikit-learn's ``digits.csv.gz``, found without importing scikit-learn (1 s at start-up)."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            return path
    raise DatasetError("dataset 'digits' needs scikit-learn's bundled digits.csv.gz: expected scikit-learn installed")


def load_digits(root: str | None, split: str, image_size: int = 8) -> TensorImageDataset:
    """scikit-learn's bundled 8x8 digits, split 80/20 stratified with a fixed seed (1,437 / 360):
    ``train_test_split(test_size=0.2, random_state=0, stratify=target)``, whose test rows are
    stored in ``resources/digits_test_split.txt`` (read with numpy, no scikit-learn import)."""
    if split not in ("train", "test"):
        raise DatasetError(f"unknown split {split!r} for dataset 'digits': expected 'train' or 'test'")
    data = np.loadtxt(_digits_csv(), delimiter=",")
    target = data[:, -1].astype(np.int64)
    images = np.round(data[:, :-1].reshape(-1, 8, 8) * (255.0 / 16.0)).astype(np.uint8)
    listing = (Path(__file__).parents[1] / "resources" / "digits_test_split.txt").read_text()
    test = np.array([int(v) for line in listing.splitlines() if not line.startswith("#") for v in line.split()])
    is_test = np.zeros(len(images), dtype=bool)
    is_test[test] = True
    idx = np.flatnonzero(is_test if split == "test" else ~is_test)
    return TensorImageDataset(
        torch.from_numpy(images[idx][:, None]).contiguous(),
        torch.from_numpy(target[idx]),
        [str(i) for i in range(10)],
    )


def _unpickle(path: Path) -> dict:
    """A CIFAR batch (a Python 2 pickle) read by :mod:`sslbench.safe_pickle`: it cannot run code."""
    from .. import safe_pickle

    try:
        entry = safe_pickle.load(path, encoding="latin1")
    except Exception as exc:  # a damaged or hostile file fails in many ways; none may escape as a traceback
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise DatasetError(f"cannot read CIFAR batch {str(path)!r}: {detail}: expected torchvision's CIFAR "
                           f"python files") from None
    if not isinstance(entry, dict):
        raise DatasetError(f"cannot read CIFAR batch {str(path)!r}: it holds a {type(entry).__name__}, expected "
                           f"a dict as in torchvision's CIFAR python files")
    return entry


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
    base = require_root(root, f"cifar{variant}", f"{folder}/{files[0]}")
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
        try:
            images = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        except (TypeError, ValueError) as exc:  # another array than N x 3072 bytes
            raise DatasetError(f"CIFAR batch {str(base / name)!r} holds no N x 3072 image bytes ({exc}): expected "
                               f"torchvision's CIFAR python files") from None
        if len(images) != len(entry[label_key]):
            raise DatasetError(f"CIFAR batch {str(base / name)!r} has {len(images)} images but "
                               f"{len(entry[label_key])} labels")
        data.append(images)
        labels.extend(entry[label_key])
    classes = None
    meta = base / ("batches.meta" if variant == 10 else "meta")
    if meta.is_file():
        m = _unpickle(meta)
        classes = m.get("label_names") or m.get("fine_label_names")
    return TensorImageDataset(
        torch.from_numpy(np.concatenate(data)), torch.tensor(labels, dtype=torch.long), classes
    )


class ImageFolderDataset(Dataset):
    """``root/<class>/<image>`` files decoded to uint8 RGB, resized and centre-cropped to a square
    (the evaluation view before its centre crop); training views come from :meth:`image_source`.

    ``classes`` fixes the label order: a chosen subset that must all be there (ImageNet100), or
    with ``of_train`` the training split's class folders, of which another split may lack some
    but add none (labels of one dataset mean the same class in every split).
    """

    def __init__(self, folder: Path, image_size: int, classes: list[str] | None = None, dataset: str = "imagefolder",
                 of_train: bool = False) -> None:
        if not folder.is_dir():
            raise DatasetError(f"{dataset}: split folder {str(folder)!r} does not exist: expected <root>/<split>/<class>/<image>")
        found = sorted(d.name for d in folder.iterdir() if d.is_dir())
        if classes is None:
            classes = found
        else:
            missing = [c for c in classes if c not in found]
            if missing and not of_train:  # a chosen subset (ImageNet100) must be all there
                raise DatasetError(
                    f"{dataset}: {str(folder)!r} lacks {len(missing)} of the expected class folders "
                    f"(first: {missing[0]!r})"
                )
            extra = [c for c in found if c not in classes] if of_train else []
            if extra:
                raise DatasetError(f"{dataset}: class folder {str(folder / extra[0])!r} is not a class of the "
                                   f"training split: expected the class folders of <root>/train")
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
        path, label = self.samples[index]
        return resize_center_square(decode_rgb(path), self.image_size), label

    def image_source(self, index: int) -> tuple[Path, int]:
        """File and label of item ``index``: training views are cut from the full image (sslbench.image)."""
        return self.samples[index]

    def verify(self) -> None:
        """Every image of the split decodes (see :func:`verify_images`)."""
        verify_images([p for p, _ in self.samples])


def verify_images(paths: list[Path], threads: int = 8) -> None:
    """Decode every file (JPEGs at 1/8 scale: still the whole compressed stream, so a truncated
    file fails) before any training; the first one that does not decode is a DatasetError naming
    it. About 2 ms per ImageNet-sized JPEG, shared over ``threads``."""
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image, UnidentifiedImageError

    def bad(path: Path) -> str | None:
        try:
            with Image.open(path) as pil:
                pil.draft("RGB", (max(1, pil.size[0] // 8), max(1, pil.size[1] // 8)))
                pil.load()
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
            return f"cannot decode image {str(path)!r}: {exc}"
        return None

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for problem in pool.map(bad, paths):
            if problem:
                raise DatasetError(problem)


def decode_rgb(path: Path) -> torch.Tensor:
    """An image file as a uint8 RGB tensor (3, H, W) (libjpeg-turbo for JPEGs, see
    :mod:`sslbench.image.decode`); an undecodable file is a DatasetError naming it."""
    from .decode import decode_file

    return decode_file(path)


def resize_center_square(image: torch.Tensor, size: int) -> torch.Tensor:
    """Shorter side to ``size`` (antialiased), then the centre ``size`` x ``size`` crop."""
    from torchvision.transforms.v2 import functional as F

    return F.center_crop(F.resize(image, [size], antialias=True), [size, size])


def load_imagefolder(root: str | None, split: str, image_size: int) -> ImageFolderDataset:
    """Any ``root/{train,val}/<class>/<image>`` tree (``test`` may stand for ``val``)."""
    base = require_root(root, "imagefolder", "<split>/<class>/<image>")
    return ImageFolderDataset(split_folder(base, split), image_size, train_classes(base, split), of_train=True)


def imagenet100_classes() -> list[str]:
    """The 100 ImageNet classes of thesis Table A.1 (from CMC)."""
    text = (Path(__file__).parents[1] / "resources" / "imagenet100_classes.txt").read_text()
    return text.split()


def load_imagenet100(root: str | None, split: str, image_size: int) -> ImageFolderDataset:
    """An ImageNet folder (``train``/``val`` by wnid) filtered to the classes of Table A.1."""
    base = require_root(root, "imagenet100", "<split>/<wnid>/<image> with the 100 wnids of thesis Table A.1")
    return ImageFolderDataset(split_folder(base, split), image_size, imagenet100_classes(), "imagenet100")


def loader_for(fn: Callable[..., Dataset], **fixed: object) -> Callable[[str | None, str, int], Dataset]:
    """Bind extra arguments of a reader so it matches ``load(root, split, image_size)``."""

    def load(root: str | None, split: str, image_size: int) -> Dataset:
        return fn(root, split, **fixed)

    return load


# --------------------------------------------------------------------------- STL-10

STL10_FOLDER = "stl10_binary"
STL10_SIDE = 96
STL10_FILES = {"train": ("train_X.bin", "train_y.bin"), "test": ("test_X.bin", "test_y.bin"),
               "unlabeled": ("unlabeled_X.bin", None)}
STL10_SPLITS = ("train", "test", "unlabeled", "train+unlabeled")


def _stl10_base(root: str | None) -> Path:
    base = require_root(root, "stl10", f"{STL10_FOLDER}/train_X.bin ...")
    return base / STL10_FOLDER if (base / STL10_FOLDER).is_dir() else base


def _stl10_count(path: Path) -> int:
    per_image = 3 * STL10_SIDE * STL10_SIDE
    size = path.stat().st_size
    if size % per_image:
        raise DatasetError(f"STL-10 file {str(path)!r} has {size} bytes: expected a multiple of 3x96x96 = {per_image}")
    return size // per_image


def load_stl10(root: str | None, split: str) -> TensorImageDataset:
    """torchvision's STL-10 binary files under ``root`` (or ``root/stl10_binary``), no download.

    ``*_X.bin`` hold uint8 images stored channel by channel in column-major order (so each plane is
    transposed back here); ``*_y.bin`` hold labels 1..10 (returned as 0..9). The 100,000 images of
    ``unlabeled`` get label -1; ``train+unlabeled`` (105,000 images) is the pretraining split.
    """
    if split not in STL10_SPLITS:
        raise DatasetError(f"unknown split {split!r} for dataset 'stl10': expected one of {', '.join(STL10_SPLITS)}")
    base = _stl10_base(root)
    parts = split.split("+")
    files = [STL10_FILES[p] for p in parts]
    missing = [name for pair in files for name in pair if name and not (base / name).is_file()]
    if missing:
        raise DatasetError(
            f"dataset root {str(base)!r} lacks {', '.join(missing)}: expected torchvision's STL-10 binary layout "
            f"({STL10_FOLDER}/train_X.bin, train_y.bin, test_X.bin, test_y.bin, unlabeled_X.bin)"
        )
    counts = [_stl10_count(base / x) for x, _ in files]
    images = torch.empty((sum(counts), 3, STL10_SIDE, STL10_SIDE), dtype=torch.uint8)
    labels = torch.full((sum(counts),), -1, dtype=torch.long)
    start = 0
    chunk = 4096
    for (x_name, y_name), n in zip(files, counts):
        with open(base / x_name, "rb") as fh:  # chunked: no second full-size copy in memory
            for i in range(0, n, chunk):
                m = min(chunk, n - i)
                raw = np.frombuffer(fh.read(m * 3 * STL10_SIDE * STL10_SIDE), dtype=np.uint8)
                block = torch.from_numpy(raw.copy()).view(m, 3, STL10_SIDE, STL10_SIDE)
                images[start + i:start + i + m] = block.transpose(2, 3)
        if y_name is not None:
            y = np.fromfile(base / y_name, dtype=np.uint8).astype(np.int64) - 1
            if len(y) != n or (n and (y.min() < 0 or y.max() > 9)):
                raise DatasetError(f"STL-10 labels {str(base / y_name)!r}: expected {n} values in 1..10")
            labels[start:start + n] = torch.from_numpy(y)
        start += n
    classes = None
    names = base / "class_names.txt"
    if names.is_file():
        classes = names.read_text().split()
    return TensorImageDataset(images, labels, classes)


# --------------------------------------------------------------------------- Tiny-ImageNet

TINY_FOLDER = "tiny-imagenet-200"
TINY_LAYOUT = (f"{TINY_FOLDER}/wnids.txt, {TINY_FOLDER}/train/<wnid>/images/*.JPEG, "
               f"{TINY_FOLDER}/val/images/*.JPEG and {TINY_FOLDER}/val/val_annotations.txt")


def _decode_rgb(paths: list[Path], side: int) -> torch.Tensor:
    """Decode image files to one uint8 (N, 3, side, side) tensor (grey images become RGB)."""
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image, UnidentifiedImageError
    from torchvision.transforms.v2 import functional as F

    out = torch.empty((len(paths), 3, side, side), dtype=torch.uint8)

    def one(i: int) -> None:
        try:
            with Image.open(paths[i]) as pil:
                image = F.pil_to_tensor(pil.convert("RGB"))
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise DatasetError(f"cannot decode image {str(paths[i])!r}: {exc}") from None
        if image.shape[-2:] != (side, side):
            image = F.center_crop(F.resize(image, [side], antialias=True), [side, side])
        out[i] = image

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, range(len(paths))))
    return out


def load_tiny_imagenet(root: str | None, split: str) -> TensorImageDataset:
    """The official Tiny-ImageNet-200 folder under ``root`` (or ``root/tiny-imagenet-200``).

    ``train``: ``train/<wnid>/images/*.JPEG`` (500 per class); ``val`` (alias ``test``, the
    labelled evaluation split since the official test labels are withheld): ``val/images/*.JPEG``
    labelled by ``val/val_annotations.txt`` (tab-separated file name, wnid, box). Classes are the
    sorted wnids of ``wnids.txt`` (else of ``train/``). Images are 64x64 and held in memory.
    """
    if split not in ("train", "val", "test"):
        raise DatasetError(f"unknown split {split!r} for dataset 'tiny-imagenet': expected 'train' or 'val'")
    base = require_root(root, "tiny-imagenet", TINY_LAYOUT)
    if (base / TINY_FOLDER).is_dir():
        base = base / TINY_FOLDER
    wnids_file = base / "wnids.txt"
    if wnids_file.is_file():
        classes = sorted(wnids_file.read_text().split())
    elif (base / "train").is_dir():
        classes = sorted(d.name for d in (base / "train").iterdir() if d.is_dir())
    else:
        raise DatasetError(f"dataset root {str(base)!r} lacks wnids.txt and train/: expected {TINY_LAYOUT}")
    index = {wnid: i for i, wnid in enumerate(classes)}
    paths: list[Path] = []
    labels: list[int] = []
    if split == "train":
        for wnid in classes:
            folder = base / "train" / wnid / "images"
            if not folder.is_dir():
                raise DatasetError(f"tiny-imagenet: missing class folder {str(folder)!r}: expected {TINY_LAYOUT}")
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
            paths.extend(files)
            labels.extend([index[wnid]] * len(files))
    else:
        annotations = base / "val" / "val_annotations.txt"
        if not annotations.is_file():
            raise DatasetError(f"tiny-imagenet: {str(annotations)!r} does not exist: expected {TINY_LAYOUT}")
        for n, line in enumerate(annotations.read_text().splitlines(), 1):
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) < 2 or fields[1] not in index:
                raise DatasetError(f"{str(annotations)!r} line {n}: expected '<file>\\t<wnid>\\t...' with a known wnid")
            path = base / "val" / "images" / fields[0]
            if not path.is_file():
                raise DatasetError(f"tiny-imagenet: {str(path)!r} is listed in val_annotations.txt but missing")
            paths.append(path)
            labels.append(index[fields[1]])
    if not paths:
        raise DatasetError(f"tiny-imagenet: no images for split {split!r} under {str(base)!r}: expected {TINY_LAYOUT}")
    return TensorImageDataset(_decode_rgb(paths, 64), torch.tensor(labels, dtype=torch.long), classes)


def load_imagenet(root: str | None, split: str, image_size: int) -> ImageFolderDataset:
    """ImageNet (ILSVRC-2012) as an ImageFolder: ``root/{train,val}/<wnid>/<image>``."""
    base = require_root(root, "imagenet", "train/<wnid>/<image> and val/<wnid>/<image>")
    return ImageFolderDataset(split_folder(base, split), image_size, train_classes(base, split), "imagenet",
                              of_train=True)
