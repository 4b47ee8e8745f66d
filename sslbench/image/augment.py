"""Batched, per-sample-random image augmentations on float tensors in [0, 1].

One call augments a whole batch with vectorised tensor ops (grid-sampled crops, per-sample
colour factors), which on CPU is an order of magnitude faster than per-image PIL transforms.
The crop box follows torchvision's RandomResizedCrop rule (:mod:`sslbench.image.crops`); views
of file-backed datasets arrive already cropped from the loader workers (``cropped=True``).
Difference from torchvision's per-image transforms, by design: colour-jitter ops run in a fixed
order (brightness, contrast, saturation, hue) instead of a random permutation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..contract.augmentations import AugSpec


def _uniform(n: int, low: float, high: float, gen: torch.Generator | None, device, group: int = 1) -> torch.Tensor:
    return _rand(n, gen, device, group) * (high - low) + low


def _rand(n: int, gen: torch.Generator | None, device, group: int = 1) -> torch.Tensor:
    """U[0, 1) per sample; with ``group`` > 1, one draw per run of ``group`` consecutive samples
    (the frames of one video clip), repeated over the run."""
    if group == 1:
        return torch.rand(n, generator=gen, device=device)
    return torch.rand(n // group, generator=gen, device=device).repeat_interleave(group)


def _gray(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> HSV in [0, 1], vectorised."""
    r, g, b = x.unbind(1)
    maxc, _ = x.max(1)
    minc, _ = x.min(1)
    v = maxc
    delta = maxc - minc
    s = torch.where(maxc > 0, delta / maxc.clamp_min(1e-12), torch.zeros_like(maxc))
    safe = delta.clamp_min(1e-12)
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(delta > 0, (h / 6.0) % 1.0, torch.zeros_like(h))
    return torch.stack((h, s, v), 1)


def hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_hsv`."""
    h, s, v = x.unbind(1)
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.long() % 6
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = torch.zeros_like(x)
    for k, (rr, gg, bb) in enumerate(choices):
        m = (i == k).unsqueeze(1)
        out = torch.where(m, torch.stack((rr, gg, bb), 1), out)
    return out


def random_resized_crop(x: torch.Tensor, size: int, scale, ratio, flip_p: float, gen=None,
                        group: int = 1) -> torch.Tensor:
    """Per-sample random resized crop (+ horizontal flip) of a batch, boxes drawn with torchvision's
    rule on the whole image (``group``: one crop per run of ``group`` consecutive samples, see
    :func:`augment_batch`)."""
    from .crops import crop_batch, crop_boxes

    n, device = x.shape[0], x.device
    boxes = crop_boxes(n // group, x.shape[-2], x.shape[-1], scale, ratio, gen, device)
    flip = torch.rand(n // group, generator=gen, device=device) < flip_p
    return crop_batch(x, boxes, size, flip, group)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur with one sigma per sample; kernel about 10% of the image side."""
    n, c, hgt, wid = x.shape
    k = max(3, int(0.1 * max(hgt, wid)) // 2 * 2 + 1)
    offsets = torch.arange(k, device=x.device, dtype=x.dtype) - k // 2
    kernel = torch.exp(-(offsets[None] ** 2) / (2 * sigma[:, None] ** 2))
    kernel = kernel / kernel.sum(1, keepdim=True)  # (n, k)
    kernel = kernel.repeat_interleave(c, 0)  # (n*c, k)
    flat = x.reshape(1, n * c, hgt, wid)
    pad = k // 2
    flat = F.conv2d(F.pad(flat, (pad, pad, 0, 0), mode="reflect"), kernel[:, None, None, :], groups=n * c)
    flat = F.conv2d(F.pad(flat, (0, 0, pad, pad), mode="reflect"), kernel[:, None, :, None], groups=n * c)
    return flat.reshape(n, c, hgt, wid)


def _where(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, 1, 1, 1), a, b)


def augment_batch(x: torch.Tensor, spec: AugSpec, size: int, gen: torch.Generator | None = None,
                  group: int = 1, cropped: bool = False) -> torch.Tensor:
    """Apply ``spec`` to a float batch (B, C, H, W) in [0, 1]; returns (B, C, size, size), where
    ``spec.size`` (a multi-crop local view) takes precedence over ``size``.

    ``group`` > 1 draws one set of random parameters (crop, flip, colour, blur, solarize) per run
    of ``group`` consecutive samples and applies it to all of them: the frames of a video clip
    laid out as (B * T, C, H, W) with ``group=T`` (:mod:`sslbench.video.augment`). The additive
    pixel noise stays per sample. ``cropped=True``: the views were already cropped and flipped
    (in the loader workers, :mod:`sslbench.image.views`); only the colour ops run.
    """
    size = spec.size or size
    if x.shape[0] % group:
        raise ValueError(f"batch of {x.shape[0]} is not a whole number of groups of {group}")
    if not cropped:
        x = random_resized_crop(x, size, spec.crop_scale, spec.crop_ratio, spec.flip_p, gen, group)
    n, device = x.shape[0], x.device

    def coin(p: float) -> torch.Tensor:
        return _rand(n, gen, device, group) < p

    if spec.jitter_p > 0:
        jit = coin(spec.jitter_p)
        y = x
        if spec.brightness > 0:
            f = _uniform(n, max(0.0, 1 - spec.brightness), 1 + spec.brightness, gen, device, group)
            y = (y * f.view(-1, 1, 1, 1)).clamp(0, 1)
        if spec.contrast > 0:
            f = _uniform(n, max(0.0, 1 - spec.contrast), 1 + spec.contrast, gen, device, group).view(-1, 1, 1, 1)
            mean = _gray(y).mean((1, 2, 3), keepdim=True)
            y = ((y - mean) * f + mean).clamp(0, 1)
        if spec.saturation > 0 and x.shape[1] == 3:
            f = _uniform(n, max(0.0, 1 - spec.saturation), 1 + spec.saturation, gen, device, group).view(-1, 1, 1, 1)
            g = _gray(y)
            y = ((y - g) * f + g).clamp(0, 1)
        if spec.hue > 0 and x.shape[1] == 3:
            shift = _uniform(n, -spec.hue, spec.hue, gen, device, group).view(-1, 1, 1)
            hsv = rgb_to_hsv(y)
            hsv = torch.stack(((hsv[:, 0] + shift) % 1.0, hsv[:, 1], hsv[:, 2]), 1)
            y = hsv_to_rgb(hsv).clamp(0, 1)
        x = _where(jit, y, x)
    if spec.grayscale_p > 0 and x.shape[1] == 3:
        x = _where(coin(spec.grayscale_p), _gray(x).expand_as(x), x)
    if spec.blur_p > 0:
        sigma = _uniform(n, spec.blur_sigma[0], spec.blur_sigma[1], gen, device, group)
        x = _where(coin(spec.blur_p), gaussian_blur(x, sigma).clamp_(0, 1), x)  # float sums may pass 1 by an ulp
    if spec.solarize_p > 0:
        x = _where(coin(spec.solarize_p), torch.where(x >= 0.5, 1.0 - x, x), x)
    if spec.noise_std > 0:
        x = (x + torch.randn(x.shape, generator=gen, device=device) * spec.noise_std).clamp(0, 1)
    return x


def resize_eval(x: torch.Tensor, size: int) -> torch.Tensor:
    """Deterministic evaluation view: resize a float batch to ``size`` (bilinear, antialiased)."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=x.shape[-1] > size)


def center_crop_eval(x: torch.Tensor, size: int) -> torch.Tensor:
    """Evaluation view of file-backed datasets: the centre ``size`` square (of images the dataset
    resized to ``eval_resize``), torchvision's ``CenterCrop`` offsets; smaller images are resized."""
    height, width = x.shape[-2:]
    if height < size or width < size:
        return resize_eval(x, size)
    top, left = int(round((height - size) / 2.0)), int(round((width - size) / 2.0))
    return x[..., top:top + size, left:left + size]
