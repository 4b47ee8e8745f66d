"""Video views: the Table 4.1 augmentations applied consistently over the frames of a clip, and
the temporal augmentations of thesis 5.4.1 (``reverse``, ``diff``; ``jitter`` acts on the clip
duration in :mod:`sslbench.video.sampling`).

A clip batch ``(B, C, T, H, W)`` is laid out as ``(B * T, C, H, W)`` and augmented by
:func:`sslbench.image.augment.augment_batch` with ``group=T``: one crop, flip, colour jitter,
grayscale, blur and solarisation draw per clip, shared by its T frames.
"""

from __future__ import annotations

import torch

from ..contract.augmentations import AugSpec
from ..image.augment import _gray, augment_batch

#: Luma weights of the grayscale conversion (ITU-R 601, as torchvision's rgb_to_grayscale).
LUMA = (0.299, 0.587, 0.114)


def augment_clips(x: torch.Tensor, spec: AugSpec, size: int, gen: torch.Generator | None = None,
                  cropped: bool = False) -> torch.Tensor:
    """``spec`` on float clips (B, C, T, H, W) in [0, 1], the same parameters for every frame of a
    clip; returns (B, C, T, size, size) (``spec.size`` wins over ``size``, as for images);
    ``cropped``: the loader already cut and flipped them, only the colour ops run."""
    b, c, t, h, w = x.shape
    flat = x.transpose(1, 2).reshape(b * t, c, h, w)
    out = augment_batch(flat, spec, size, gen, group=t, cropped=cropped)
    return out.view(b, t, c, out.shape[-2], out.shape[-1]).transpose(1, 2)


def rgb_difference(x: torch.Tensor) -> torch.Tensor:
    """RGB difference (thesis 5.4.1, Fig. 5.1): frames to grayscale, then frame-to-frame
    difference ``g[t] - g[t-1]``, repeated on the C channels; the first frame takes the first
    difference so the clip keeps its T frames (a one-frame clip gives zeros). Values in [-1, 1]."""
    if x.shape[2] < 2:
        return torch.zeros_like(x)
    g = _gray(x)  # (B, 1, T, H, W): channel 1 is the colour axis of images and clips alike
    d = g[:, :, 1:] - g[:, :, :-1]
    d = torch.cat([d[:, :, :1], d], 2)
    return d.expand(-1, x.shape[1], -1, -1, -1)


def _coin(n: int, p: float, gen: torch.Generator | None, device) -> torch.Tensor:
    return torch.rand(n, generator=gen, device=device) < p


class VideoViewMaker:
    """The video counterpart of :class:`sslbench.image.views.ViewMaker`.

    ``train_views`` takes a uint8 batch ``(B, K, C, T, H, W)`` (K clips per video, as a
    :class:`~sslbench.video.datasets.VideoDataset` returns them) or ``(B, C, T, H, W)``; view ``k``
    is made from clip ``k mod K`` with ``specs[k]``, then reversed in time with probability
    ``reverse_p`` and turned into its RGB difference with probability ``diff_p`` (each per clip).
    Normalisation subtracts the dataset mean and divides by its std; an RGB-difference clip,
    already centred on zero, is only divided by the std. ``eval_view`` normalises clips
    ``(N, C, T, H, W)`` (evaluation crops come sized from the dataset).
    """

    def __init__(self, specs: list[AugSpec], size: int, mean, std, device: torch.device,
                 reverse_p: float = 0.0, diff_p: float = 0.0, cropped: bool = False) -> None:
        self.specs = specs
        self.size = size
        self.mean = torch.tensor(mean, device=device, dtype=torch.float32).view(1, -1, 1, 1, 1)
        self.std = torch.tensor(std, device=device, dtype=torch.float32).view(1, -1, 1, 1, 1)
        self.device = device
        self.reverse_p = reverse_p
        self.diff_p = diff_p
        self.cropped = cropped  # views cut by the loader (ClipSampling.crop_views): clip k is view k
        self.channels_last = False

    def _to_float(self, clips: torch.Tensor) -> torch.Tensor:
        return clips.to(self.device, non_blocking=True).float().div_(255)

    def train_views(self, clips: torch.Tensor, gen: torch.Generator | None) -> list[torch.Tensor]:
        if clips.ndim == 5:
            clips = clips.unsqueeze(1)
        if clips.ndim != 6:
            raise ValueError(f"expected video clips (B, K, C, T, H, W), got shape {tuple(clips.shape)}")
        views = []
        for k, spec in enumerate(self.specs):
            x = augment_clips(self._to_float(clips[:, k % clips.shape[1]]), spec, self.size, gen, cropped=self.cropped)
            n = x.shape[0]
            if self.reverse_p > 0:
                x = torch.where(_coin(n, self.reverse_p, gen, x.device).view(-1, 1, 1, 1, 1), x.flip(2), x)
            normalised = (x - self.mean) / self.std
            if self.diff_p > 0:
                diff = _coin(n, self.diff_p, gen, x.device).view(-1, 1, 1, 1, 1)
                normalised = torch.where(diff, rgb_difference(x) / self.std, normalised)
            views.append(normalised.contiguous())
        return views

    def eval_view(self, clips: torch.Tensor) -> torch.Tensor:
        if clips.ndim == 6:
            clips = clips.flatten(0, 1)
        return ((self._to_float(clips) - self.mean) / self.std).contiguous()
