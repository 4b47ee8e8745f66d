"""Named augmentations against thesis Table 4.1, colour strength, and A.5.2 multi-crop."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from sslbench.contract.augmentations import AUGMENTATIONS, LOCAL_CROPS, get_augmentation, local_crop_specs, pretraining_views
from sslbench.cli import cli
from sslbench.config import SSLConfig, parse_set
from sslbench.image.augment import augment_batch
from sslbench.contract.errors import ConfigError
from sslbench.contract.loading import registries
from sslbench.runner import resolve_config

from helpers import TINY

# Thesis Table 4.1, column by column ("-" = no colour jitter = 0), crop scale (0.2, 1.0) from A.5.1.
COLUMNS = ("weak", "strong", "strong-alpha", "strong-beta", "strong-gamma")
TABLE_4_1 = {
    "flip_p": (0.5, 0.5, 0.5, 0.5, 0.5),
    "jitter_p": (0.0, 0.8, 0.8, 0.8, 0.8),
    "brightness": (0.0, 0.4, 0.4, 0.4, 0.4),
    "contrast": (0.0, 0.4, 0.4, 0.4, 0.4),
    "saturation": (0.0, 0.4, 0.2, 0.2, 0.2),
    "hue": (0.0, 0.1, 0.1, 0.1, 0.1),
    "grayscale_p": (0.0, 0.2, 0.2, 0.2, 0.2),
    "blur_p": (0.0, 0.5, 1.0, 0.1, 0.5),
    "solarize_p": (0.0, 0.0, 0.0, 0.2, 0.2),
}


@pytest.mark.parametrize("name", COLUMNS)
def test_named_augmentation_matches_table_4_1(name):
    spec = get_augmentation(name)
    column = COLUMNS.index(name)
    for parameter, row in TABLE_4_1.items():
        assert getattr(spec, parameter) == pytest.approx(row[column]), f"{name}: {parameter}"
    assert spec.crop_scale == pytest.approx((0.2, 1.0))  # random resized crop always applied (p = 1)
    assert spec.crop_ratio == pytest.approx((3 / 4, 4 / 3))
    assert spec.noise_std == 0 and spec.size is None


def test_every_table_4_1_distribution_is_registered():
    assert set(COLUMNS) <= set(AUGMENTATIONS)


def test_color_strength_scales_the_jitter_magnitudes_only():
    base, half = get_augmentation("strong"), get_augmentation("strong", color_strength=0.5)
    assert (half.brightness, half.contrast, half.saturation, half.hue) == pytest.approx((0.2, 0.2, 0.2, 0.05))
    assert (half.jitter_p, half.grayscale_p, half.blur_p) == (base.jitter_p, base.grayscale_p, base.blur_p)
    assert get_augmentation("strong", color_strength=10).hue == 0.5  # hue is capped at 0.5


def test_color_strength_is_a_config_parameter_applied_to_every_view():
    config = resolve_config("sce", "digits", ["knn"], sets=parse_set(["ssl.color_strength=0.5"]))
    method = registries().methods.get("sce")(config.method_params, config)
    online, target = method.view_augmentations()
    assert online.brightness == pytest.approx(0.5 * AUGMENTATIONS["digits"].brightness)
    with pytest.raises(ConfigError, match="ssl.color_strength"):
        SSLConfig(color_strength=-1)


def test_multicrop_local_views_have_the_a52_sizes_and_scales():
    specs = local_crop_specs(4, 224)
    assert [s.size for s in specs] == [192, 160, 128, 96]
    assert [s.crop_scale for s in specs] == [(0.172, 0.86), (0.143, 0.715), (0.114, 0.571), (0.086, 0.429)]
    assert all(s.solarize_p == 0.2 and s.blur_p == 0.5 for s in specs)  # strong-gamma
    assert [s.size for s in local_crop_specs(4, 96)] == [82, 69, 55, 41]  # proportional at other sizes


def test_multicrop_returns_two_global_and_n_local_views_of_the_a52_sizes():
    ssl = SSLConfig(online_aug="strong-alpha", target_aug="strong-beta", local_crops=4)
    specs = pretraining_views(ssl, 224)
    assert len(specs) == 6 and specs[0].crop_scale == specs[1].crop_scale == (0.2, 1.0)
    x = torch.rand(2, 3, 40, 48, generator=torch.Generator().manual_seed(0))
    views = [augment_batch(x, spec, 224, torch.Generator().manual_seed(i)) for i, spec in enumerate(specs)]
    assert [tuple(v.shape) for v in views] == [(2, 3, s, s) for s in (224, 224, 192, 160, 128, 96)]
    assert all(0 <= float(v.min()) and float(v.max()) <= 1 for v in views)


def test_local_crop_count_and_augmentation_are_validated():
    with pytest.raises(ConfigError, match="ssl.local_crops"):
        SSLConfig(local_crops=len(LOCAL_CROPS) + 1)
    with pytest.raises(ConfigError, match="unknown augmentation 'strong-delta'"):
        SSLConfig(local_aug="strong-delta")


def test_local_views_go_through_the_online_branch_only():
    from sslbench.engine.trainer import build_backbone
    from sslbench_sce.loss import sce_loss

    config = resolve_config("sce", "digits", ["knn"], sets=parse_set(["ssl.local_crops=2"]))
    method = registries().methods.get("sce")(config.method_params, config)
    torch.manual_seed(0)
    learner = method.build(build_backbone(registries(), "convnet-small", 1, {"width": 8}), 10).double().eval()
    gen = torch.Generator().manual_seed(1)
    x1, x2 = torch.rand(2, 4, 1, 16, 16, dtype=torch.float64, generator=gen)
    locals_ = [torch.rand(4, 1, s, s, dtype=torch.float64, generator=gen) for s in (14, 11)]
    queue = learner.queue.features.clone()
    loss = learner.training_step([x1, x2, *locals_], torch.zeros(4, dtype=torch.long))["loss"]
    k2 = learner.target(x2)
    pairs = [(x1, k2), (locals_[0], k2), (locals_[1], k2)]
    expected = sum(sce_loss(learner.online(x), k, queue, 0.5, 0.1, 0.07) for x, k in pairs) / 3
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-12)
    learner.after_step(0, 10)
    assert int(learner.queue.ptr) == 4  # only the target view's keys are enqueued


@pytest.mark.slow  # long end-to-end: `python -m pytest -m slow`
def test_tiny_multicrop_run_on_digits(tmp_path):
    result = CliRunner().invoke(cli, ["run", "-m", "sce", "-p", "knn", "-d", "digits", "-o", str(tmp_path), *TINY,
                                      "--set", "ssl.local_crops=2", "--set", "ssl.local_aug=digits"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
