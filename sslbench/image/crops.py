"""torchvision's random resized crop, drawn on the full image (thesis A.5.1-A.5.2: RandomResizedCrop
with scale (0.2, 1) in pretraining, (0.08, 1) for the linear probe; multi-crop local views).

The box rule is ``RandomResizedCrop.get_params``: up to 10 attempts of an area fraction drawn
uniformly in ``scale`` and an aspect ratio drawn log-uniformly in ``ratio``, the first box that
fits the image wins, else a centre crop of the whole image clamped to ``ratio``. The crop is then
resized (bilinear, antialiased when shrinking) and flipped with probability ``flip_p``.

Two implementations share the rule: :func:`crop_box` draws one box exactly as torchvision does
(the same random calls, so the same boxes for the same seed), for one image in a loader worker;
:func:`crop_boxes` draws a batch of boxes at once on the training device, for datasets held in
memory (CIFAR, STL-10, digits) whose images all share one size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

ATTEMPTS = 10


@dataclass(frozen=True)
class CropSpec:
    """One view's crop: output side, area fraction range, aspect ratio range, flip probability."""

    size: int
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5


def crop_specs(specs: Sequence, size: int) -> list[CropSpec]:
    """The crop part of each :class:`sslbench.contract.augmentations.AugSpec` (``spec.size`` wins over ``size``)."""
    return [CropSpec(int(s.size or size), tuple(s.crop_scale), tuple(s.crop_ratio), float(s.flip_p)) for s in specs]


def _fallback(height: int, width: int, ratio: Sequence[float]) -> tuple[int, int]:
    """(h, w) of the centre crop used when no attempt fits: the whole image clamped to ``ratio``."""
    in_ratio = float(width) / float(height)
    if in_ratio < min(ratio):
        return int(round(width / min(ratio))), width
    if in_ratio > max(ratio):
        return height, int(round(height * max(ratio)))
    return height, width


def crop_box(height: int, width: int, scale: Sequence[float], ratio: Sequence[float],
             gen: torch.Generator | None = None) -> tuple[int, int, int, int]:
    """(top, left, h, w) of one random resized crop of a ``height`` x ``width`` image, drawn with
    the same random calls as torchvision's ``RandomResizedCrop.get_params`` (so a generator seeded
    like torch's global one gives torchvision's box)."""
    area = height * width
    log_ratio = torch.log(torch.tensor(ratio))
    for _ in range(ATTEMPTS):
        target_area = area * torch.empty(1).uniform_(scale[0], scale[1], generator=gen).item()
        aspect = torch.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1], generator=gen)).item()
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, size=(1,), generator=gen).item())
            left = int(torch.randint(0, width - w + 1, size=(1,), generator=gen).item())
            return top, left, h, w
    h, w = _fallback(height, width, ratio)
    return (height - h) // 2, (width - w) // 2, h, w


def resized_crop(image: torch.Tensor, box: Sequence[float], size: int, flip: bool = False) -> torch.Tensor:
    """The ``box`` (top, left, h, w; fractional boxes are rounded) of a uint8 image (C, H, W),
    resized to ``size`` x ``size`` (bilinear, antialiased) and flipped: torchvision's
    ``resized_crop`` followed by ``hflip``."""
    top, left, h, w = (int(round(v)) for v in box)
    h, w = max(1, min(h, image.shape[-2] - top)), max(1, min(w, image.shape[-1] - left))
    crop = image[..., top:top + h, left:left + w]
    if (h, w) == (size, size):
        out = crop.clone(memory_format=torch.contiguous_format)
    elif crop.dim() == 3 and crop.dtype == torch.uint8 and crop.stride(0) == 1:
        # interleaved (H, W, C) memory, as decoders return it: torch's vectorised antialiased uint8
        # kernel reads and writes it natively (2-3x its planar speed); one numpy copy makes the
        # planar result, mirrored on the way when flipped
        interleaved = crop.permute(1, 2, 0)[None].permute(0, 3, 1, 2)
        resized = F.interpolate(interleaved, size=(size, size), mode="bilinear", align_corners=False,
                                antialias=True)[0]
        out = torch.empty((crop.shape[0], size, size), dtype=torch.uint8)
        copy_mirrored(out, resized, flip)
        return out
    else:  # torchvision's tensor resize is this call (bit-identical)
        batch = crop if crop.dim() == 4 else crop[None]
        out = F.interpolate(batch, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        out = out if crop.dim() == 4 else out[0]
    return out.flip(-1) if flip else out


def copy_mirrored(out: torch.Tensor, src: torch.Tensor, flip: bool = False) -> None:
    """``out`` <- ``src`` (any strides, e.g. channels-last into planar), mirrored along the last axis
    when ``flip``: one numpy strided copy (torch's uint8 copy across such a transpose is ~10x
    slower, and its flip is a copy of its own)."""
    np.copyto(out.numpy(), src.numpy()[..., ::-1] if flip else src.numpy())


# --------------------------------------------------------------------------- batches on the device


def _uniform(shape: tuple[int, ...], low: float, high: float, gen: torch.Generator | None,
             device: torch.device) -> torch.Tensor:
    return torch.rand(shape, generator=gen, device=device, dtype=torch.float64) * (high - low) + low


def crop_boxes(n: int, height: int, width: int, scale: Sequence[float], ratio: Sequence[float],
               gen: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """(n, 4) int64 boxes (top, left, h, w) drawn with :func:`crop_box`'s rule, all at once: the 10
    attempts of every sample are drawn together and the first that fits is kept."""
    device = torch.device(device)
    log_ratio = torch.log(torch.tensor(ratio)).double()
    target = height * width * _uniform((n, ATTEMPTS), scale[0], scale[1], gen, device)
    aspect = torch.exp(_uniform((n, ATTEMPTS), float(log_ratio[0]), float(log_ratio[1]), gen, device))
    w = torch.round(torch.sqrt(target * aspect)).long()
    h = torch.round(torch.sqrt(target / aspect)).long()
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.long().argmax(1, keepdim=True)
    fh, fw = _fallback(height, width, ratio)
    found = fits.any(1)
    h = torch.where(found, h.gather(1, first).squeeze(1), fh)
    w = torch.where(found, w.gather(1, first).squeeze(1), fw)
    u = torch.rand((2, n), generator=gen, device=device, dtype=torch.float64)
    top = torch.where(found, (u[0] * (height - h + 1)).long().clamp_max(height - h), (height - h) // 2)
    left = torch.where(found, (u[1] * (width - w + 1)).long().clamp_max(width - w), (width - w) // 2)
    return torch.stack((top, left, h, w), 1)


def _axis_grid(start: torch.Tensor, length: torch.Tensor, size: int, full: int, flip: torch.Tensor | None) -> torch.Tensor:
    """Normalised sampling coordinates (n, size) of torch's bilinear resize (align_corners=False,
    source index clamped to the crop) of ``[start, start + length)`` along an axis of ``full`` pixels."""
    i = torch.arange(size, device=start.device, dtype=torch.float32)
    if flip is not None:
        i = torch.where(flip[:, None], size - 1 - i, i)
    src = ((i + 0.5) * (length[:, None].float() / size) - 0.5).clamp_min(0)
    src = torch.minimum(src, (length[:, None] - 1).float()) + start[:, None].float()
    return (2 * src + 1) / full - 1


def crop_batch(x: torch.Tensor, boxes: torch.Tensor, size: int, flip: torch.Tensor, group: int = 1) -> torch.Tensor:
    """Each sample's box of a float batch (B, C, H, W) resized to ``size`` and flipped where
    ``flip``: torch's bilinear resize of the crop, exactly when enlarging (one batched
    ``grid_sample``), antialiased when shrinking (those crops one by one). ``boxes`` and ``flip``
    hold one entry per run of ``group`` consecutive samples (the frames of a clip)."""
    n, c, height, width = x.shape
    boxes_per_sample = boxes.repeat_interleave(group, 0) if group > 1 else boxes
    flips = flip.repeat_interleave(group, 0) if group > 1 else flip
    top, left, h, w = boxes_per_sample.unbind(1)
    gx = _axis_grid(left, w, size, width, flips)
    gy = _axis_grid(top, h, size, height, None)
    grid = torch.stack((gx[:, None, :].expand(n, size, size), gy[:, :, None].expand(n, size, size)), -1)
    out = F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="border", align_corners=False)
    shrink = ((boxes[:, 2] > size) | (boxes[:, 3] > size)).nonzero().flatten().tolist()
    for g in shrink:  # a shrinking crop is antialiased, as torchvision resizes it
        t, l, hh, ww = boxes[g].tolist()
        part = x[g * group:(g + 1) * group, :, t:t + hh, l:l + ww]
        part = F.interpolate(part, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        out[g * group:(g + 1) * group] = part.flip(-1) if bool(flip[g]) else part
    return out
