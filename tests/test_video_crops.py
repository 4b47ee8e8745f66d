"""Pretraining clips are cut like images (issue 17): one random resized crop box per view drawn on
the full frame with torchvision's rule, cut from the decoded frames, then resized (crop before
resize); the colour ops stay on the device."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sslbench.contract.augmentations import AugSpec
from sslbench.config import RunConfig
from sslbench.image.crops import CropSpec, crop_box
from sslbench.video import synthetic
from sslbench.video.augment import VideoViewMaker
from sslbench.video.datasets import decode_clips
from sslbench.video.pipeline import worker_crops
from sslbench.video.sampling import ClipSampling, sample_clips


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    frames = synthetic.moving_square(40, "right", 48, 64, seed=1)  # 48 x 64 frames, 1.6 s at 25 fps
    path = synthetic.write_video(tmp_path_factory.mktemp("video") / "clip.mp4", frames)
    return path, synthetic.decode_all(path)


def _resized(frames, box, size: int, flip: bool) -> torch.Tensor:
    top, left, h, w = box
    x = torch.from_numpy(frames).permute(0, 3, 1, 2)[:, :, top:top + h, left:left + w]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return (x.flip(-1) if flip else x).transpose(0, 1)  # (3, T, s, s)


def test_a_whole_frame_box_is_the_full_frame_resized_not_a_square_window(video):
    path, real = video
    view = CropSpec(32, scale=(1.0, 1.0), ratio=(4 / 3, 4 / 3), flip_p=0.0)  # 64 x 48: the whole frame
    sampling = ClipSampling(frames=4, duration=0.64, clips=2, crop_views=(view, view))
    clips = decode_clips(path, sampling, 37, torch.Generator().manual_seed(0))
    expected = sample_clips(len(real), 25.0, sampling, torch.Generator().manual_seed(0))
    assert clips.shape == (2, 3, 4, 32, 32)
    for k in range(2):
        assert torch.equal(clips[k], _resized(real[expected[k]], (0, 0, 48, 64), 32, False))


def test_each_views_box_and_flip_are_torchvisions_draws_on_the_full_frame(video):
    path, real = video
    view = CropSpec(24, scale=(0.2, 1.0), flip_p=0.5)
    sampling = ClipSampling(frames=4, duration=0.64, clips=2, crop_views=(view,) * 3)
    for seed in range(3):
        clips = decode_clips(path, sampling, 37, torch.Generator().manual_seed(seed))
        gen = torch.Generator().manual_seed(seed)
        starts = sample_clips(len(real), 25.0, sampling, gen)  # the clips are drawn first
        for k in range(3):
            box = crop_box(48, 64, view.scale, view.ratio, gen)
            flip = float(torch.rand((), generator=gen)) < view.flip_p
            assert torch.equal(clips[k], _resized(real[starts[k % 2]], box, 24, flip))  # view 3 reuses clip 1


def test_views_of_one_side_are_cut_in_the_loader_multicrop_sides_on_the_device():
    config = RunConfig(method="moco", dataset="ucf101", protocols=["knn"])
    config.data.input_size = 112
    assert [c.size for c in worker_crops([AugSpec(), AugSpec()], config)] == [112, 112]
    assert worker_crops([AugSpec(), AugSpec(), AugSpec(size=48)], config) == ()


def test_clips_cut_in_the_loader_get_only_the_colour_ops_on_the_device():
    clips = torch.randint(0, 256, (2, 2, 3, 4, 16, 16), dtype=torch.uint8)  # (B, views, C, T, s, s)
    maker = VideoViewMaker([AugSpec(flip_p=0.0), AugSpec(flip_p=0.0)], 16, (0.0,) * 3, (1.0,) * 3,
                           torch.device("cpu"), cropped=True)
    views = maker.train_views(clips, torch.Generator().manual_seed(0))
    for k in range(2):  # 'weak' has no colour op: view k is clip k, unchanged
        torch.testing.assert_close(views[k], clips[:, k].float() / 255)
