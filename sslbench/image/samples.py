"""ImageNet-style folders of realistic JPEGs made offline from real photographs, for tests and the
input-pipeline benchmark (P8): no download, and JPEG statistics (entropy, decode cost) of photos
rather than of noise or flat colour.

The photographs: scikit-learn's two sample images (``china.jpg``, ``flower.jpg``, 640x427),
matplotlib's ``grace_hopper.jpg`` and, when scikit-image is installed, its bundled colour
photographs. Each file is a random crop (a quarter to all of a photo's area), flip and colour
shift of one of them, resized to the requested size and saved at the requested JPEG quality.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "retina", "hubble_deep_field")


@functools.cache
def sample_photos() -> list[np.ndarray]:
    """uint8 RGB (H, W, 3) photographs available offline (see the module docstring)."""
    from PIL import Image

    photos = []
    import sklearn.datasets

    photos.extend(np.asarray(img) for img in sklearn.datasets.load_sample_images().images)
    import matplotlib

    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if hopper.is_file():
        with Image.open(hopper) as pil:
            photos.append(np.asarray(pil.convert("RGB")))
    try:
        import skimage.data
    except ImportError:
        return photos
    for name in SKIMAGE_PHOTOS:
        try:
            image = np.asarray(getattr(skimage.data, name)())
        except Exception:  # noqa: BLE001 - an image this skimage version lacks or must download
            continue
        if image.ndim == 3 and image.shape[2] >= 3:
            photos.append(np.ascontiguousarray(image[..., :3]).astype(np.uint8))
    return photos


def _variant(photo: np.ndarray, size: tuple[int, int], rng: np.random.Generator):
    """A random crop, flip and colour shift of ``photo``, resized to ``size`` (width, height)."""
    from PIL import Image

    h, w = photo.shape[:2]
    frac = rng.uniform(0.5, 1.0)
    ch, cw = max(8, int(h * frac)), max(8, int(w * frac))
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = photo[top:top + ch, left:left + cw].astype(np.float32)
    crop = np.clip(crop * rng.uniform(0.8, 1.2, size=3) + rng.uniform(-20, 20), 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return Image.fromarray(np.ascontiguousarray(crop)).resize(size, Image.BICUBIC)


def write_photo_folder(root: str | Path, classes: int = 2, per_class: int = 4, size: tuple[int, int] = (500, 375),
                       quality: int = 90, splits: tuple[str, ...] = ("train", "val"), seed: int = 0) -> Path:
    """``root/<split>/class<k>/<i>.jpg`` JPEGs of ``size`` (width, height) at ``quality``; returns ``root``."""
    rng = np.random.default_rng(seed)
    photos = sample_photos()
    root = Path(root)
    for split in splits:
        for k in range(classes):
            folder = root / split / f"class{k}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                photo = photos[(k + i * classes) % len(photos)]
                _variant(photo, size, rng).save(folder / f"{i:05d}.jpg", quality=quality)
    return root
