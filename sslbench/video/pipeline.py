"""Where the engine meets the video modules: which clips each stage draws and which views it makes.

- pretraining: two random clips per video (``data.clip_frames`` frames of ``data.clip_duration``
  seconds, ``ssl.clip_jitter``, ``ssl.clip_overlap``), the method's view augmentations per
  clip, plus ``ssl.reverse_p`` and ``ssl.diff_p``;
- training a probe or finetuning: one random clip per video;
- evaluation: ``data.eval_clips`` evenly spaced clips x ``data.eval_crops`` spatial crops (the
  30-view test of B.1), see :mod:`sslbench.video.evaluation`.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

import torch

from ..contract.errors import DatasetError
from .augment import VideoViewMaker
from .sampling import ClipSampling

Purpose = Literal["pretrain", "train", "eval"]


def clip_sampling(config: Any, purpose: Purpose, clips: int = 2, crop_views: tuple = ()) -> ClipSampling:
    """The clip sampling of ``purpose`` under the run's config (``clips``: pretraining clips;
    ``crop_views``: pretraining views cut in the loader, :func:`worker_crops`)."""
    d = config.data
    if purpose == "pretrain":
        return ClipSampling(frames=d.clip_frames, duration=d.clip_duration, clips=clips, mode="random",
                            jitter=config.ssl.clip_jitter, overlap=config.ssl.clip_overlap, crop_views=crop_views)
    if purpose == "train":
        return ClipSampling(frames=d.clip_frames, duration=d.clip_duration, clips=1, mode="random")
    return ClipSampling(frames=d.clip_frames, duration=d.clip_duration, clips=d.eval_clips, mode="uniform",
                        crops=d.eval_crops)


def stored_side(config: Any) -> int:
    """Clips are stored at 8/7 of the input size (256 for 224, the "short side 256" of B.1)."""
    return int(round(config.data.input_size * 8 / 7))


def worker_crops(specs: list, config: Any) -> tuple:
    """The pretraining views' crops (:class:`sslbench.image.crops.CropSpec`) when the loader cuts
    them from the full frames (crop before resize): when every view has the same side; otherwise
    () and the views are cut on the device from clips stored at :func:`stored_side`."""
    from ..image.crops import crop_specs

    crops = tuple(crop_specs(specs, config.data.input_size))
    return crops if crops and len({c.size for c in crops}) == 1 else ()


def load_split(spec: Any, config: Any, split: str, purpose: Purpose = "train", clips: int = 2,
               root: str | None = None, crop_views: tuple = ()) -> Any:
    """``spec.load`` for a video dataset, given the data config and the clip sampling of ``purpose``.

    ``root`` defaults to ``data.root`` (the pretraining dataset's folder)."""
    load = spec.load
    try:
        takes_data = "data" in inspect.signature(load).parameters
    except (TypeError, ValueError):
        takes_data = False
    root = root if root is not None else config.data.root
    dataset = load(root, split, stored_side(config), **({"data": config.data} if takes_data else {}))
    if not hasattr(dataset, "with_sampling"):
        raise DatasetError(f"video dataset {spec.name!r} returned {type(dataset).__name__}, which has no "
                           f"with_sampling(): video readers must return a sslbench.video.datasets.VideoDataset")
    dataset = dataset.with_sampling(clip_sampling(config, purpose, clips, crop_views))
    from ..engine.splits import check_dataset

    check_dataset(dataset, spec, split)
    return dataset


def pretraining_dataset(spec: Any, config: Any, views: list | int) -> Any:
    """The pretraining split with one random clip per global view (at most two clips: further views,
    such as multi-crop local views, reuse them); given the views' specs, each view is cut from
    the full frames in the loader when :func:`worker_crops` allows it."""
    n_views = views if isinstance(views, int) else len(views)
    crops = () if isinstance(views, int) else worker_crops(views, config)
    return load_split(spec, config, spec.pretrain_split, "pretrain", clips=max(1, min(2, n_views)), crop_views=crops)


def view_maker(spec: Any, config: Any, specs: list, device: torch.device, pretraining: bool = False) -> VideoViewMaker:
    """Views of video clips; the temporal augmentations ``reverse`` and ``diff`` only in pretraining."""
    ssl = config.ssl
    return VideoViewMaker(list(specs), config.data.input_size, spec.mean, spec.std, device,
                          reverse_p=ssl.reverse_p if pretraining else 0.0,
                          diff_p=ssl.diff_p if pretraining else 0.0,
                          cropped=pretraining and bool(worker_crops(list(specs), config)))


def eval_transform(config: Any) -> str:
    """Names the evaluation views (and the options choosing the videos) in the feature-cache key."""
    d = config.data
    return (f"video-{d.eval_clips}x{d.eval_crops}-views-{d.clip_frames}f-{d.clip_duration:g}s-split{d.split_id}"
            f"-classes:{d.class_list}-videos:{d.video_list}")
