"""Tiny copies of the official layouts of the Table 4.10 transfer sets, as torchvision reads them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _jpeg(path: Path, value: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 10), (value % 256, 40, 200 - value % 200)).save(path)


def fgvc_aircraft(root: Path) -> dict[str, int]:
    data = root / "fgvc-aircraft-2013b" / "data"
    classes = ["707-320", "A320"]
    (data / "images").mkdir(parents=True)
    (data / "variants.txt").write_text("\n".join(classes) + "\n")
    for split, ids in (("train", range(0, 4)), ("val", range(4, 6)), ("trainval", range(0, 6)), ("test", range(6, 10))):
        lines = [f"{1000 + i} {classes[i % 2]}" for i in ids]
        (data / f"images_variant_{split}.txt").write_text("\n".join(lines) + "\n")
        for i in ids:
            _jpeg(data / "images" / f"{1000 + i}.jpg", i)
    return {"trainval": 6, "test": 4, "classes": 2}


def caltech101(root: Path) -> dict[str, int]:
    base = root / "caltech101" / "101_ObjectCategories"
    for c, name in enumerate(["BACKGROUND_Google", "accordion", "airplanes"]):
        for i in range(1, 33):
            _jpeg(base / name / f"image_{i:04d}.jpg", c * 40 + i)
    return {"train": 60, "test": 4, "classes": 2}


def stanford_cars(root: Path) -> dict[str, int]:
    from scipy.io import savemat

    base = root / "stanford_cars"
    (base / "devkit").mkdir(parents=True)
    savemat(base / "devkit" / "cars_meta.mat", {"class_names": np.array(["Audi A4", "BMW M3", "Volvo C30"],
                                                                         dtype=object)})
    for split, n, mat in (("train", 6, base / "devkit" / "cars_train_annos.mat"),
                          ("test", 3, base / "cars_test_annos_withlabels.mat")):
        annotations = np.zeros(n, dtype=[("fname", "O"), ("class", "O")])
        for i in range(n):
            annotations[i] = (f"{i:05d}.jpg", i % 3 + 1)
            _jpeg(base / f"cars_{split}" / f"{i:05d}.jpg", i)
        savemat(mat, {"annotations": annotations})
    return {"train": 6, "test": 3, "classes": 3}


def dtd(root: Path) -> dict[str, int]:
    base = root / "dtd" / "dtd"
    (base / "labels").mkdir(parents=True)
    for split, ids in (("train", range(0, 4)), ("val", range(4, 6)), ("test", range(6, 9))):
        names = [f"{['banded', 'woven'][i % 2]}/{['banded', 'woven'][i % 2]}_{i:04d}.jpg" for i in ids]
        (base / "labels" / f"{split}1.txt").write_text("\n".join(names) + "\n")
        for i, name in zip(ids, names):
            _jpeg(base / "images" / name, i)
    return {"trainval": 6, "test": 3, "classes": 2}


def flowers102(root: Path) -> dict[str, int]:
    from scipy.io import savemat

    base = root / "flowers-102"
    for i in range(1, 10):
        _jpeg(base / "jpg" / f"image_{i:05d}.jpg", i)
    savemat(base / "imagelabels.mat", {"labels": np.array([1, 2, 3] * 3)})
    savemat(base / "setid.mat", {"trnid": np.array([1, 2, 3]), "valid": np.array([4, 5, 6]),
                                 "tstid": np.array([7, 8, 9])})
    return {"trainval": 6, "test": 3, "classes": 102}  # torchvision names all 102 classes


def food101(root: Path) -> dict[str, int]:
    base = root / "food-101"
    (base / "meta").mkdir(parents=True)
    for split, ids in (("train", range(0, 6)), ("test", range(6, 8))):
        meta: dict[str, list[str]] = {}
        for i in ids:
            cls = ["apple_pie", "sushi"][i % 2]
            meta.setdefault(cls, []).append(f"{cls}/{100 + i}")
            _jpeg(base / "images" / cls / f"{100 + i}.jpg", i)
        (base / "meta" / f"{split}.json").write_text(json.dumps(meta))
    return {"train": 6, "test": 2, "classes": 2}


def oxford_pets(root: Path) -> dict[str, int]:
    base = root / "oxford-iiit-pet"
    (base / "annotations").mkdir(parents=True)
    for split, ids in (("trainval", range(0, 4)), ("test", range(4, 6))):
        lines = []
        for i in ids:
            name, label, species = (("Abyssinian", 1, 1), ("beagle", 2, 2))[i % 2]
            lines.append(f"{name}_{i} {label} {species} 1")
            _jpeg(base / "images" / f"{name}_{i}.jpg", i)
        (base / "annotations" / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return {"trainval": 4, "test": 2, "classes": 2}


def sun397(root: Path) -> dict[str, int]:
    base = root / "SUN397"
    classes = ["/a/abbey", "/b/beach"]
    base.mkdir(parents=True)
    (base / "ClassName.txt").write_text("\n".join(classes) + "\n")
    files = [f"{classes[i % 2]}/sun_{i:04d}.jpg" for i in range(8)]
    for i, f in enumerate(files):
        _jpeg(base / f.lstrip("/"), i)
    (base / "Partitions").mkdir()
    (base / "Partitions" / "Training_01.txt").write_text("\n".join(files[:4]) + "\n")
    (base / "Partitions" / "Testing_01.txt").write_text("\n".join(files[4:7]) + "\n")  # one image in neither
    return {"train": 4, "test": 3, "classes": 2}


BUILDERS = {"fgvc-aircraft": fgvc_aircraft, "caltech101": caltech101, "stanford-cars": stanford_cars, "dtd": dtd,
            "flowers102": flowers102, "food101": food101, "oxford-pets": oxford_pets, "sun397": sun397}
