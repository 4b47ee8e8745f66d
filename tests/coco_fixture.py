"""A small COCO-format detection set of drawn shapes: instances JSON with boxes and masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# non-contiguous ids, as in COCO itself
CATEGORIES = [{"id": 2, "name": "square", "supercategory": "shape"},
              {"id": 5, "name": "disc", "supercategory": "shape"}]


def make_coco(root: Path, splits: dict[str, int] | None = None, size: int = 64, seed: int = 0) -> dict[str, Path]:
    """Write ``root/annotations/instances_<split>.json`` and ``root/<split>/*.png``; squares get
    polygon segmentations, discs RLE ones. Returns {split: annotation file}."""
    from PIL import Image
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(seed)
    splits = splits or {"train2017": 8, "val2017": 4}
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    out, image_id, ann_id = {}, 1, 1
    for split, n in splits.items():
        (root / split).mkdir(exist_ok=True)
        images, annotations = [], []
        for _ in range(n):
            pixels = np.full((size, size, 3), 40, dtype=np.uint8)
            for shape in range(int(rng.integers(1, 3))):
                side = int(rng.integers(size // 4, size // 2))
                x0, y0 = (int(v) for v in rng.integers(0, size - side, 2))
                mask = np.zeros((size, size), dtype=np.uint8)
                if shape == 0:
                    mask[y0:y0 + side, x0:x0 + side] = 1
                    pixels[mask == 1] = (230, 60, 60)
                    segmentation = [[x0, y0, x0 + side, y0, x0 + side, y0 + side, x0, y0 + side]]
                    category = 2
                else:
                    yy, xx = np.mgrid[:size, :size]
                    r = side / 2
                    mask = (((yy - y0 - r + 0.5) ** 2 + (xx - x0 - r + 0.5) ** 2) <= r * r).astype(np.uint8)
                    pixels[mask == 1] = (60, 200, 90)
                    rle = mask_utils.encode(np.asfortranarray(mask))
                    segmentation = {"size": [size, size], "counts": rle["counts"].decode("ascii")}
                    category = 5
                ys, xs = np.nonzero(mask)
                bbox = [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
                annotations.append({"id": ann_id, "image_id": image_id, "category_id": category, "bbox": bbox,
                                    "area": float(mask.sum()), "iscrowd": 0, "segmentation": segmentation})
                ann_id += 1
            name = f"{image_id:012d}.png"
            Image.fromarray(pixels).save(root / split / name)
            images.append({"id": image_id, "file_name": name, "width": size, "height": size})
            image_id += 1
        path = root / "annotations" / f"instances_{split}.json"
        path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": CATEGORIES}))
        out[split] = path
    return out
