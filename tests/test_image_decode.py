"""The JPEG header reader gives PIL's size for every kind of JPEG, and hands anything else to PIL."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from sslbench.contract.errors import DatasetError
from sslbench.image.decode import image_size, jpeg_size


def _encode(mode: str, size: tuple[int, int], **options) -> bytes:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buf, "JPEG", **options)
    return buf.getvalue()


def _with_exif(size: tuple[int, int]) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotated (ignored by the decoders, as by PIL's open and ImageFolder)
    exif[0x010E] = "x" * 3000  # a long APP1 segment before the frame header
    return _encode("RGB", size, exif=exif.tobytes(), quality=90)


@pytest.mark.parametrize("data", [
    _encode("RGB", (500, 375), quality=90),
    _encode("RGB", (1, 1)),
    _encode("RGB", (640, 481), progressive=True),
    _encode("L", (33, 257)),
    _encode("CMYK", (70, 40)),
    _encode("RGB", (300, 200), optimize=True, subsampling=0, icc_profile=b"\0" * 5000),
    _with_exif((120, 90)),
], ids=["baseline", "one-pixel", "progressive", "grey", "cmyk", "icc", "exif"])
def test_the_jpeg_header_reader_gives_pils_height_and_width(data):
    with Image.open(io.BytesIO(data)) as pil:
        width, height = pil.size
    assert jpeg_size(data) == (height, width) == image_size(data)


def test_bytes_that_are_not_a_readable_jpeg_header_go_to_pil():
    png = io.BytesIO()
    Image.new("RGB", (7, 5)).save(png, "PNG")
    assert jpeg_size(png.getvalue()) is None and image_size(png.getvalue()) == (5, 7)
    jpeg = _encode("RGB", (64, 48))
    assert jpeg_size(jpeg[:20]) is None  # cut before its frame header
    assert jpeg_size(b"\xff\xd8\xff\xda" + jpeg[4:]) is None  # a scan before any frame header
    with pytest.raises(DatasetError, match="cannot decode image 'cut.jpg'"):
        image_size(jpeg[:20], "cut.jpg")
