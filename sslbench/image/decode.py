"""Image files to uint8 RGB tensors (3, H, W), fast: JPEGs through libjpeg-turbo
(``torchvision.io.decode_jpeg`` on the file's bytes, about twice PIL's speed with its conversion
to a tensor), or at 1/2, 1/4 or 1/8 of their size through PIL's draft mode (libjpeg's DCT
scaling: 2-4x faster again) when every crop cut from the image is at least twice that much
larger than its output (:func:`reduction`). Other formats go through ``torchvision.io.decode_image``, then PIL. EXIF orientation
is ignored, as PIL's ``open`` and torchvision's ``ImageFolder`` ignore it.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch

from ..contract.errors import DatasetError

JPEG_MAGIC = b"\xff\xd8\xff"
REDUCTIONS = (8, 4, 2)
#: a JPEG is decoded at 1/r of its size only when every crop keeps MARGIN x its output side
MARGIN = 2.0


def read_bytes(path: str | Path) -> bytearray:
    """The file's bytes (a writable buffer: tensors can view it without a copy)."""
    try:
        with open(path, "rb") as fh:
            return bytearray(fh.read())
    except OSError as exc:
        raise DatasetError(f"cannot read image {str(path)!r}: {exc.strerror or exc}") from None


def is_jpeg(data: bytes | bytearray) -> bool:
    """True for JPEG bytes (the SOI marker and the first marker's 0xFF)."""
    return bytes(data[:3]) == JPEG_MAGIC


#: start-of-frame markers (baseline, extended, progressive, lossless ...; not DHT C4, JPG C8, DAC CC)
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
#: markers without a length field
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})


def jpeg_size(data: bytes | bytearray) -> tuple[int, int] | None:
    """(height, width) from a JPEG's start-of-frame segment (ITU-T T.81 B.2.2), walking the marker
    segments from the start: about 1/20 of the cost of opening it with PIL. None when the bytes are
    not a well-formed JPEG header (the caller falls back to PIL, which names the problem)."""
    if not is_jpeg(data):
        return None
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        length = (data[i + 2] << 8) | data[i + 3]
        if marker in _SOF:
            if i + 9 > n or length < 8:
                return None
            height, width = (data[i + 5] << 8) | data[i + 6], (data[i + 7] << 8) | data[i + 8]
            return (height, width) if height and width else None  # 0 height: defined later by DNL (rare)
        if marker in (0xD9, 0xDA) or length < 2:  # end of image or scan before any frame header
            return None
        i += 2 + length
    return None


def image_size(data: bytes | bytearray, path: str | Path = "<bytes>") -> tuple[int, int]:
    """(height, width) read from the file's header, without decoding the pixels."""
    size = jpeg_size(data)
    if size is not None:
        return size
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as pil:
            width, height = pil.size
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        raise DatasetError(f"cannot decode image {str(path)!r}: {exc}") from None
    return height, width


def reduction(sides: list[tuple[float, float, int]], margin: float = MARGIN) -> int:
    """The largest JPEG scale denominator (8, 4, 2, else 1) that keeps every crop ``(h, w, size)``
    at least ``margin`` x ``size`` pixels on each side once decoded at that scale: the crop box,
    rounded to whole pixels of the reduced image, then moves by at most 1 / (2 x margin) of an
    output pixel, and the antialiased resize that follows smooths out the DCT scaling."""
    for r in REDUCTIONS:
        if all(min(h, w) >= margin * r * size for h, w, size in sides):
            return r
    return 1


def _pil_decode(data: bytes | bytearray, path: str | Path, reduce: int = 1) -> torch.Tensor:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as pil:
            if reduce > 1:
                pil.draft("RGB", (max(1, pil.size[0] // reduce), max(1, pil.size[1] // reduce)))
            array = np.asarray(pil.convert("RGB") if pil.mode != "RGB" else pil)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        raise DatasetError(f"cannot decode image {str(path)!r}: {exc}") from None
    if not array.flags.writeable:
        array = array.copy()
    return torch.from_numpy(array).permute(2, 0, 1)  # (3, H, W), channels-last in memory


def _torchvision_decode(data: bytes | bytearray, jpeg: bool) -> torch.Tensor | None:
    """torchvision's decoder on the bytes, None where it has none or refuses them (PIL decides)."""
    try:
        from torchvision.io import ImageReadMode, decode_image, decode_jpeg
    except ImportError:  # torchvision >= 0.29 deprecates its decoders in favour of torchcodec
        return None
    fn = decode_jpeg if jpeg else decode_image
    try:
        with warnings.catch_warnings():  # torchvision 0.29 warns on every call that it deprecates them
            warnings.simplefilter("ignore", DeprecationWarning)
            return fn(torch.frombuffer(data, dtype=torch.uint8), mode=ImageReadMode.RGB)
    except (RuntimeError, ValueError):  # e.g. some CMYK JPEGs, BMP, TIFF, an empty file
        return None


def decode(data: bytes | bytearray, path: str | Path = "<bytes>", reduce: int = 1) -> torch.Tensor:
    """uint8 RGB (3, H, W) of an image file's bytes; ``reduce`` > 1 decodes a JPEG at that
    fraction of its size (ignored for other formats). An undecodable file is a DatasetError naming it."""
    jpeg = is_jpeg(data)
    if jpeg and reduce > 1:
        return _pil_decode(data, path, reduce)
    image = _torchvision_decode(data, jpeg)
    return image if image is not None else _pil_decode(data, path)


def decode_file(path: str | Path) -> torch.Tensor:
    """uint8 RGB (3, H, W) of an image file, decoded at full size."""
    data = read_bytes(path)
    return decode(data, path)
