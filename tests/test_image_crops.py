"""The random resized crop against torchvision's (thesis A.5.1-A.5.2): box rule, distributions,
crop-then-resize pixels, and multi-crop local views."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import ks_2samp
from torchvision import transforms as T
from torchvision.transforms.v2 import functional as TF

from sslbench.contract.augmentations import AugSpec, local_crop_specs
from sslbench.image.augment import random_resized_crop
from sslbench.image.crops import CropSpec, crop_batch, crop_box, crop_boxes, crop_specs, resized_crop

SIZES = [(375, 500), (500, 375), (64, 64), (60, 1000), (1000, 60)]
SCALES = [(0.08, 1.0), (0.2, 1.0), (0.086, 0.429)]


def _torchvision_boxes(height: int, width: int, scale, ratio, n: int, seed: int) -> np.ndarray:
    torch.manual_seed(seed)
    image = torch.empty(1, height, width)
    return np.array([T.RandomResizedCrop.get_params(image, list(scale), list(ratio)) for _ in range(n)])


@pytest.mark.parametrize("height,width", SIZES)
@pytest.mark.parametrize("scale", SCALES)
def test_crop_box_draws_torchvisions_box_for_the_same_seed(height, width, scale):
    ratio = (3 / 4, 4 / 3)
    expected = _torchvision_boxes(height, width, scale, ratio, 200, seed=7)
    gen = torch.Generator().manual_seed(7)
    ours = np.array([crop_box(height, width, scale, ratio, gen) for _ in range(200)])
    np.testing.assert_array_equal(ours, expected)


def _features(boxes: np.ndarray, height: int, width: int) -> dict[str, np.ndarray]:
    top, left, h, w = boxes.T.astype(np.float64)
    free_y, free_x = height - h, width - w
    return {"scale": h * w / (height * width), "log_ratio": np.log(w / h),
            "top": (top / np.where(free_y > 0, free_y, 1))[free_y > 0],
            "left": (left / np.where(free_x > 0, free_x, 1))[free_x > 0]}


@pytest.mark.parametrize("height,width,scale,ratio,n", [
    (375, 500, (0.08, 1.0), (3 / 4, 4 / 3), 4000),
    (500, 375, (0.2, 1.0), (3 / 4, 4 / 3), 4000),
    (224, 398, (0.2, 1.0), (1.33, 2.21), 4000),  # the ViT pretraining on 16:9 frames (thesis 6.4)
    (90, 900, (0.3, 1.0), (3 / 4, 4 / 3), 1500),  # most attempts fail: the centre fallback matters
])
def test_batched_crop_boxes_follow_torchvisions_scale_ratio_and_position_distributions(height, width, scale, ratio, n):
    expected = _features(_torchvision_boxes(height, width, scale, ratio, n, seed=1), height, width)
    boxes = crop_boxes(n, height, width, scale, ratio, torch.Generator().manual_seed(2)).numpy()
    ours = _features(boxes, height, width)
    assert boxes[:, 2].min() >= 1 and (boxes[:, 0] + boxes[:, 2]).max() <= height
    assert boxes[:, 3].min() >= 1 and (boxes[:, 1] + boxes[:, 3]).max() <= width
    for name in ("scale", "log_ratio", "top", "left"):
        if len(expected[name]) < 50:
            continue
        result = ks_2samp(ours[name], expected[name])
        assert result.pvalue > 1e-3, f"{name}: KS statistic {result.statistic:.4f}, p = {result.pvalue:.2g}"


def test_fallback_is_the_ratio_clamped_centre_crop():
    boxes = crop_boxes(64, 20, 2000, (0.9, 1.0), (3 / 4, 4 / 3), torch.Generator().manual_seed(0))
    assert (boxes == torch.tensor([0, (2000 - 27) // 2, 20, 27])).all()  # round(20 * 4/3) = 27 wide


def _torchvision_crops(x: torch.Tensor, boxes: torch.Tensor, size: int, flip: torch.Tensor) -> torch.Tensor:
    outs = []
    for image, (t, l, h, w), f in zip(x, boxes.tolist(), flip.tolist()):
        out = TF.resized_crop(image, t, l, h, w, [size, size], antialias=True)
        outs.append(TF.horizontal_flip(out) if f else out)
    return torch.stack(outs)


@pytest.mark.parametrize("size", [96, 24])  # enlarging (one grid_sample) and shrinking (antialiased) crops
def test_crop_batch_equals_torchvision_resized_crop_then_flip(size):
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(12, 3, 60, 80, generator=gen)
    boxes = crop_boxes(12, 60, 80, (0.08, 1.0), (3 / 4, 4 / 3), gen)
    flip = torch.rand(12, generator=gen) < 0.5
    torch.testing.assert_close(crop_batch(x, boxes, size, flip), _torchvision_crops(x, boxes, size, flip),
                               atol=2e-5, rtol=0)


def test_one_box_per_clip_is_shared_by_its_frames():
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(3, 1, 40, 40, generator=gen).repeat_interleave(4, 0)  # 3 clips of 4 equal frames
    out = random_resized_crop(x, 16, (0.08, 1.0), (3 / 4, 4 / 3), 0.5, gen, group=4)
    clips = out.view(3, 4, 1, 16, 16)
    assert all(torch.equal(clips[c, t], clips[c, 0]) for c in range(3) for t in range(4))


@pytest.mark.parametrize("layout", ["planar", "interleaved"])  # interleaved: (H, W, C) memory, as decoders give
@pytest.mark.parametrize("box", [(30, 40, 300, 280), (0, 0, 375, 500), (7, 9, 150, 190), (5, 3, 90, 400), (1, 2, 224, 224)])
@pytest.mark.parametrize("flip", [False, True])
def test_resized_crop_of_one_uint8_image_is_torchvisions(layout, box, flip):
    image = torch.randint(0, 256, (3, 375, 500), dtype=torch.uint8, generator=torch.Generator().manual_seed(5))
    if layout == "interleaved":
        image = image.permute(1, 2, 0).contiguous().permute(2, 0, 1)
    expected = TF.resized_crop(image.contiguous(), *box, [224, 224], antialias=True)
    ours = resized_crop(image, box, 224, flip=flip)
    assert ours.is_contiguous()
    torch.testing.assert_close(ours, TF.horizontal_flip(expected) if flip else expected, atol=0, rtol=0)


def test_multicrop_local_views_keep_their_a52_sides_and_scales():
    specs = crop_specs([AugSpec(crop_scale=(0.2, 1.0))] * 2 + local_crop_specs(4, 224), 224)
    assert [(s.size, s.scale) for s in specs] == [
        (224, (0.2, 1.0)), (224, (0.2, 1.0)), (192, (0.172, 0.86)), (160, (0.143, 0.715)), (128, (0.114, 0.571)),
        (96, (0.086, 0.429))]
    # a 96-pixel local view's boxes are those of torchvision's RandomResizedCrop(96, scale=(0.086, 0.429))
    expected = _torchvision_boxes(375, 500, (0.086, 0.429), (3 / 4, 4 / 3), 50, seed=9)
    gen = torch.Generator().manual_seed(9)
    assert [crop_box(375, 500, specs[5].scale, specs[5].ratio, gen) for _ in range(50)] == [tuple(b) for b in expected]


def test_crop_spec_defaults_are_torchvisions():
    spec = CropSpec(224)
    assert spec.scale == (0.08, 1.0) and spec.ratio == pytest.approx((3 / 4, 4 / 3)) and spec.flip_p == 0.5
    assert math.isclose(spec.ratio[0] * spec.ratio[1], 1.0)
