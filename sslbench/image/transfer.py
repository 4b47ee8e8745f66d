"""The many-shot transfer sets of thesis Table 4.10, read by torchvision's dataset classes.

FGVC Aircraft, Caltech-101, Stanford Cars, DTD, Flowers-102, Food-101, Oxford-IIIT Pets and
SUN397 are listed by torchvision (``download=False``: the official layouts below ``--data-root``,
nothing fetched) and decoded by sslbench like any image folder (RGB uint8, shorter side resized,
centre square). ``--data-root`` is the folder torchvision's ``root`` means (holding
``fgvc-aircraft-2013b/``, ``caltech101/`` ...) or that inner folder itself.

Splits follow the linear-transfer protocol of Table 4.10 (BYOL; Ericsson et al. 2021): the
official train(+val) / test splits; Caltech-101 has none, so 30 images per class (a seeded draw)
train and the rest test; SUN397 uses its official partition 1 (``Training_01.txt`` /
``Testing_01.txt`` of the SUN397 partitions archive, next to ``SUN397/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..contract.errors import DatasetError

if TYPE_CHECKING:
    import torch

CALTECH_TRAIN_PER_CLASS = 30


def _path(path: Any) -> str:
    """A torchvision ``loader`` that loads nothing: the dataset then yields (file path, label)."""
    return str(path)


@dataclass(frozen=True)
class TransferSet:
    """How one dataset is found: torchvision's class, its folder under the root, its splits."""

    name: str
    folder: str
    layout: str
    splits: dict[str, tuple[str, ...]]  # sslbench split -> torchvision splits concatenated
    listing: Callable[[Path, str], tuple[list[str], list[int], list[str]]]


def _with_loader(cls_name: str, **kwargs: Any) -> Callable[[Path, str], tuple[list[str], list[int], list[str]]]:
    """(files, labels, classes) of a torchvision class taking ``split`` and ``loader``."""

    def listing(root: Path, split: str) -> tuple[list[str], list[int], list[str]]:
        import torchvision.datasets as tvd

        args = dict(kwargs)
        if split:
            args["split"] = split
        tv = getattr(tvd, cls_name)(str(root), download=False, loader=_path, **args)
        samples = [tv[i] for i in range(len(tv))]
        classes = list(getattr(tv, "classes", None) or [str(c) for c in sorted({lab for _, lab in samples})])
        return [s for s, _ in samples], [int(lab) for _, lab in samples], classes

    return listing


def _pets(root: Path, split: str) -> tuple[list[str], list[int], list[str]]:
    from torchvision.datasets import OxfordIIITPet

    tv = OxfordIIITPet(str(root), split=split, target_types="category", download=False)
    return [str(p) for p in tv._images], [int(v) for v in tv._labels], list(tv.classes)


def _caltech(root: Path, split: str) -> tuple[list[str], list[int], list[str]]:
    """30 images per class train, the rest test: a draw seeded per class (Caltech-101 has no split)."""
    import numpy as np
    from torchvision.datasets import Caltech101

    tv = Caltech101(str(root), target_type="category", download=False)
    folder = Path(tv.root) / "101_ObjectCategories"
    files = [str(folder / tv.categories[y] / f"image_{i:04d}.jpg") for i, y in zip(tv.index, tv.y)]
    labels = np.asarray(tv.y)
    keep = []
    for c in range(len(tv.categories)):
        idx = np.flatnonzero(labels == c)
        order = np.random.default_rng([0, c]).permutation(len(idx))
        chosen = idx[order[:CALTECH_TRAIN_PER_CLASS]] if split == "train" else idx[order[CALTECH_TRAIN_PER_CLASS:]]
        keep.extend(sorted(chosen.tolist()))
    return [files[i] for i in keep], [int(labels[i]) for i in keep], list(tv.categories)


def _sun397(root: Path, split: str) -> tuple[list[str], list[int], list[str]]:
    """Official partition 1: the images listed in ``Training_01.txt`` / ``Testing_01.txt``."""
    files, labels, classes = _with_loader("SUN397")(root, "")
    name = {"train": "Training_01.txt", "test": "Testing_01.txt"}[split]
    base = root / "SUN397"
    candidates = [base / "Partitions" / name, root / "Partitions" / name, base / name, root / name]
    listing = next((p for p in candidates if p.is_file()), None)
    if listing is None:
        raise DatasetError(f"sun397: no {name} (the SUN397 partitions archive) in {base / 'Partitions'} or {root}: "
                           f"expected the official partition files beside SUN397/")
    wanted = [str(base / line.strip().lstrip("/")) for line in listing.read_text().splitlines() if line.strip()]
    index = {f: i for i, f in enumerate(files)}
    absent = [f for f in wanted if f not in index]
    if absent:
        raise DatasetError(f"sun397: {listing} lists {len(wanted)} images, {len(absent)} of them missing under "
                           f"{base} (first: {absent[0]})")
    return wanted, [labels[index[f]] for f in wanted], classes  # in the partition file's order


TRANSFER_SETS: dict[str, TransferSet] = {s.name: s for s in (
    TransferSet("fgvc-aircraft", "fgvc-aircraft-2013b", "fgvc-aircraft-2013b/data/{images/,variants.txt,"
                "images_variant_<split>.txt}", {"train": ("train",), "val": ("val",), "trainval": ("trainval",),
                                                "test": ("test",)}, _with_loader("FGVCAircraft")),
    TransferSet("caltech101", "caltech101", "caltech101/101_ObjectCategories/<class>/image_<NNNN>.jpg",
                {"train": ("train",), "test": ("test",)}, _caltech),
    TransferSet("stanford-cars", "stanford_cars", "stanford_cars/{cars_train/,cars_test/,devkit/cars_meta.mat,"
                "devkit/cars_train_annos.mat,cars_test_annos_withlabels.mat}",
                {"train": ("train",), "test": ("test",)}, _with_loader("StanfordCars")),
    TransferSet("dtd", "dtd", "dtd/dtd/{images/<class>/,labels/{train,val,test}1.txt}",
                {"train": ("train",), "val": ("val",), "trainval": ("train", "val"), "test": ("test",)},
                _with_loader("DTD", partition=1)),
    TransferSet("flowers102", "flowers-102", "flowers-102/{jpg/,imagelabels.mat,setid.mat}",
                {"train": ("train",), "val": ("val",), "trainval": ("train", "val"), "test": ("test",)},
                _with_loader("Flowers102")),
    TransferSet("food101", "food-101", "food-101/{images/<class>/,meta/{train,test}.json}",
                {"train": ("train",), "test": ("test",)}, _with_loader("Food101")),
    TransferSet("oxford-pets", "oxford-iiit-pet", "oxford-iiit-pet/{images/,annotations/{trainval,test}.txt}",
                {"trainval": ("trainval",), "test": ("test",)}, _pets),
    TransferSet("sun397", "SUN397", "SUN397/{ClassName.txt,<letter>/<class>/sun_*.jpg} and "
                "Partitions/{Training,Testing}_01.txt", {"train": ("train",), "test": ("test",)}, _sun397),
)}


class TransferImages:
    """Listed files decoded to uint8 RGB (3, S, S), with their int labels (a map-style dataset;
    defined without importing torch, which registering the datasets must not do)."""

    def __init__(self, files: list[str], labels: list[int], classes: list[str], image_size: int) -> None:
        self.files, self.labels, self.classes, self.image_size = files, labels, classes, image_size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple["torch.Tensor", int]:
        from .readers import decode_rgb, resize_center_square

        return resize_center_square(decode_rgb(Path(self.files[index])), self.image_size), self.labels[index]

    def image_source(self, index: int) -> tuple[Path, int]:
        """File and label of item ``index``: training views are cut from the full image (sslbench.image)."""
        return Path(self.files[index]), self.labels[index]

    def verify(self) -> None:
        """Every image decodes (see :func:`sslbench.image.readers.verify_images`)."""
        from .readers import verify_images

        verify_images([Path(f) for f in self.files])


def torchvision_root(root: str | None, ts: TransferSet) -> Path:
    """The folder torchvision calls ``root`` (``--data-root`` may also name the dataset's own folder)."""
    if not root:
        raise DatasetError(f"dataset {ts.name!r} needs --data-root (or --eval-data-root) with {ts.layout}")
    path = Path(root).expanduser()
    if path.name == ts.folder and not (path / ts.folder).exists():
        path = path.parent
    if not (path / ts.folder).is_dir():
        raise DatasetError(f"dataset root {str(path)!r} for {ts.name!r} lacks {ts.folder}/: expected {ts.layout} "
                           f"(torchvision's layout; nothing is downloaded)")
    return path


def load_transfer(name: str, root: str | None, split: str, image_size: int) -> TransferImages:
    """Split ``split`` of transfer set ``name`` (see :data:`TRANSFER_SETS`)."""
    ts = TRANSFER_SETS[name]
    if split not in ts.splits:
        raise DatasetError(f"unknown split {split!r} for dataset {name!r}: expected one of {', '.join(ts.splits)}")
    base = torchvision_root(root, ts)
    files: list[str] = []
    labels: list[int] = []
    classes: list[str] = []
    for part in ts.splits[split]:
        try:
            f, lab, classes = ts.listing(base, part)
        except (RuntimeError, OSError, KeyError, ValueError) as exc:  # torchvision: "Dataset not found ..."
            detail = " ".join(str(exc).split()).split(". You can use download=True")[0]
            raise DatasetError(f"dataset {name!r} under {str(base)!r}: {detail}: expected {ts.layout} "
                               f"(nothing is downloaded)") from None
        files += f
        labels += lab
    if not files:
        raise DatasetError(f"dataset {name!r}: split {split!r} under {str(base)!r} lists no image")
    return TransferImages(files, labels, classes, image_size)
