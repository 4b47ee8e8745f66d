"""Video views: Table 4.1 augmentations consistent over the frames of a clip, ``reverse``,
``diff`` (RGB difference), one clip per view."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sslbench.contract.augmentations import AugSpec, get_augmentation
from sslbench.video.augment import VideoViewMaker, augment_clips, rgb_difference

IDENTITY = AugSpec(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0)
MEAN, STD = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)


def _maker(specs, **kw):
    return VideoViewMaker(specs, 16, MEAN, STD, torch.device("cpu"), **kw)


def _normalise(x):
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1, 1)


def test_reverse_reverses_the_frames_of_a_clip():
    clips = torch.randint(0, 256, (4, 1, 3, 6, 16, 16), dtype=torch.uint8)
    forward, = _maker([IDENTITY]).train_views(clips, torch.Generator().manual_seed(0))
    backward, = _maker([IDENTITY], reverse_p=1.0).train_views(clips, torch.Generator().manual_seed(0))
    expected = _normalise(clips[:, 0].float() / 255)
    assert torch.allclose(forward, expected, atol=1e-5)
    assert torch.allclose(backward, expected.flip(2), atol=1e-5)


def _numpy_rgb_difference(clip: np.ndarray) -> np.ndarray:
    """Independent reference: (C, T, H, W) -> grayscale, g[t] - g[t-1], first frame = first difference."""
    gray = 0.299 * clip[0] + 0.587 * clip[1] + 0.114 * clip[2]
    d = np.diff(gray, axis=0)
    d = np.concatenate([d[:1], d], 0)
    return np.repeat(d[None], 3, 0)


def test_diff_equals_an_independent_grayscale_frame_difference():
    x = torch.rand(2, 3, 5, 8, 8)
    got = rgb_difference(x)
    for b in range(2):
        np.testing.assert_allclose(got[b].numpy(), _numpy_rgb_difference(x[b].double().numpy()), atol=1e-6)
    assert torch.equal(rgb_difference(torch.rand(1, 3, 1, 4, 4)), torch.zeros(1, 3, 1, 4, 4))


def test_diff_view_is_the_rgb_difference_scaled_by_the_std_with_probability_p():
    clips = torch.randint(0, 256, (3, 2, 3, 4, 16, 16), dtype=torch.uint8)
    v1, v2 = _maker([IDENTITY, IDENTITY], diff_p=1.0).train_views(clips, torch.Generator().manual_seed(0))
    for k, view in enumerate((v1, v2)):
        expected = rgb_difference(clips[:, k].float() / 255) / torch.tensor(STD).view(1, 3, 1, 1, 1)
        assert torch.allclose(view, expected, atol=1e-5)
    many = torch.randint(0, 256, (2000, 1, 3, 2, 4, 4), dtype=torch.uint8)
    maker = VideoViewMaker([AugSpec(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0)], 4, MEAN, STD,
                           torch.device("cpu"), diff_p=0.2)
    view, = maker.train_views(many, torch.Generator().manual_seed(1))
    plain = _normalise(many[:, 0].float() / 255)
    share = float((~torch.isclose(view, plain, atol=1e-5).flatten(1).all(1)).float().mean())
    assert 0.17 < share < 0.23  # p = 0.2 of the thesis


@pytest.mark.parametrize("name", ["strong", "strong-alpha", "strong-beta", "strong-gamma", "weak"])
def test_spatial_augmentations_are_the_same_for_every_frame_of_a_clip(name):
    frame = torch.rand(6, 3, 1, 24, 24)
    clips = frame.expand(-1, -1, 5, -1, -1).contiguous()  # every frame of a clip identical
    out = augment_clips(clips, get_augmentation(name), 16, torch.Generator().manual_seed(0))
    assert out.shape == (6, 3, 5, 16, 16)
    for t in range(1, 5):
        assert torch.allclose(out[:, :, t], out[:, :, 0], atol=1e-6)  # same crop, flip, colour, blur ...
    flat = out[:, :, 0].flatten(1)
    assert not torch.allclose(flat[0], flat[1])  # but clips differ


def test_crop_and_flip_follow_the_clip_not_the_frame():
    x = torch.linspace(0, 1, 32).view(1, 1, 1, 1, 32).expand(8, 3, 4, 32, 32).contiguous()  # a horizontal ramp
    out = augment_clips(x, AugSpec(flip_p=0.5), 16, torch.Generator().manual_seed(5))
    slope = (out[..., -1] - out[..., 0]).mean((1, 3))  # (clips, frames): sign = flipped or not
    assert torch.all(torch.sign(slope) == torch.sign(slope[:, :1]))
    assert set(torch.sign(slope[:, 0]).tolist()) == {-1.0, 1.0}


def test_view_k_comes_from_clip_k_and_eval_view_only_normalises():
    clips = torch.zeros(2, 2, 3, 3, 16, 16, dtype=torch.uint8)
    clips[:, 1] = 255
    v1, v2, v3 = _maker([IDENTITY] * 3).train_views(clips, None)
    assert torch.allclose(v1, _normalise(torch.zeros(2, 3, 3, 16, 16)))
    assert torch.allclose(v2, _normalise(torch.ones(2, 3, 3, 16, 16)))
    assert torch.allclose(v3, v1)  # a third view (e.g. a local crop) reuses clip 0
    flat = _maker([]).eval_view(clips)
    assert flat.shape == (4, 3, 3, 16, 16)
    assert torch.allclose(flat[1], _normalise(torch.ones(1, 3, 3, 16, 16))[0])
