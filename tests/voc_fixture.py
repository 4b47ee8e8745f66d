"""A small Pascal VOC2007 tree in the real VOCdevkit layout: JPEGs, XML annotations, ImageSets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sslbench.image.voc import VOC_CLASSES

# one colour per class, so even a random network's features carry the labels
PALETTE = np.random.default_rng(123).integers(0, 256, size=(len(VOC_CLASSES), 3))


def _xml(image_id: str, objects: list[tuple[str, int, tuple[int, int, int, int]]], size: int) -> str:
    parts = [f"<annotation><folder>VOC2007</folder><filename>{image_id}.jpg</filename>",
             f"<size><width>{size}</width><height>{size}</height><depth>3</depth></size>"]
    for name, difficult, (x0, y0, x1, y1) in objects:
        parts.append(f"<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>"
                     f"<difficult>{difficult}</difficult><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
                     f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>")
    parts.append("</annotation>")
    return "\n".join(parts)


def make_voc2007(root: Path, n_trainval: int = 80, n_test: int = 40, size: int = 24, seed: int = 0) -> dict:
    """Write ``root/VOCdevkit/VOC2007``; image i holds class i % 20 and sometimes a second class
    (a difficult-only one for every 7th image). Returns {split: (ids, (N, 20) expected labels)}."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = root / "VOCdevkit" / "VOC2007"
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    out = {}
    counter = 0
    for split, n in (("trainval", n_trainval), ("test", n_test)):
        ids, labels = [], []
        for i in range(n):
            image_id = f"{counter:06d}"
            counter += 1
            first = i % len(VOC_CLASSES)
            objects = [(VOC_CLASSES[first], 0, (2, 2, size // 2, size // 2))]
            label = np.zeros(len(VOC_CLASSES), dtype=np.int64)
            label[first] = 1
            difficult = int(i % 7 == 3)
            if difficult or rng.random() < 0.4:
                second = (first + 1) % len(VOC_CLASSES) if difficult else int(rng.integers(len(VOC_CLASSES)))
                objects.append((VOC_CLASSES[second], difficult, (size // 2, size // 2, size - 2, size - 2)))
                if not difficult:
                    label[second] = 1
                elif label[second] == 0:
                    label[second] = -1
            pixels = np.full((size, size, 3), 128, dtype=np.uint8)
            for name, _, (x0, y0, x1, y1) in objects:
                pixels[y0:y1, x0:x1] = PALETTE[VOC_CLASSES.index(name)]
            pixels = np.clip(pixels.astype(int) + rng.integers(-10, 10, size=pixels.shape), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(base / "JPEGImages" / f"{image_id}.jpg", quality=95)
            (base / "Annotations" / f"{image_id}.xml").write_text(_xml(image_id, objects, size))
            ids.append(image_id)
            labels.append(label)
        (base / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")
        out[split] = (ids, np.stack(labels))
    half = len(out["trainval"][0]) // 2
    (base / "ImageSets" / "Main" / "train.txt").write_text("\n".join(out["trainval"][0][:half]) + "\n")
    (base / "ImageSets" / "Main" / "val.txt").write_text("\n".join(out["trainval"][0][half:]) + "\n")
    return out
