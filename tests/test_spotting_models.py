"""COMEDIAN's ViViT / ViSwin: Table C.1 parameter counts, output shapes, masking."""

from __future__ import annotations

import pytest
import torch

from sslbench.engine.trainer import build_backbone
from sslbench.contract.loading import registries
from sslbench.spotting.models import build_video_transformer, count_parameters, random_token_mask

# Table C.1, millions: spatial, temporal, global (encoders without heads).
TABLE_C1 = {"vivit-tiny": (5.7, 1.8, 7.5), "vivit-small": (22.0, 7.1, 29.1), "viswin-tiny": (27.5, 28.4, 55.9)}


@pytest.mark.parametrize("name", sorted(TABLE_C1))
def test_parameter_counts_match_table_c1(name):
    with torch.device("meta"):  # no memory, no init cost
        model = build_backbone(registries(), name, 3, {})
    spatial, temporal, total = TABLE_C1[name]
    assert count_parameters(model.spatial) / 1e6 == pytest.approx(spatial, rel=0.02)
    assert count_parameters(model.temporal) / 1e6 == pytest.approx(temporal, rel=0.02)
    assert count_parameters(model) / 1e6 == pytest.approx(total, rel=0.02)


TINY = {"img_size": 32, "tokens": 4, "temporal_depth": 1, "spatial_embed_dim": 24, "spatial_depth": 1,
        "spatial_num_heads": 2, "spatial_patch_size": 16, "temporal_heads": 2}


def test_vivit_maps_clips_to_one_token_per_window():
    model = build_backbone(registries(), "vivit-tiny", 3, TINY)
    x = torch.randn(2, 8, 3, 32, 32)  # T_g = 4 tokens x 2 frames
    assert model(x).shape == (2, 4, 24)
    assert model.num_features == 24 and model.frames == 8
    # The spatial encoder alone is an image backbone over stacked 2-frame windows.
    assert model.spatial(torch.randn(3, 6, 32, 32)).shape == (3, 24)


def test_viswin_output_shape():
    options = {"img_size": 32, "tokens": 2, "temporal_depth": 1, "temporal_heads": 2, "spatial_embed_dim": 16,
               "spatial_depths": (1, 1), "spatial_num_heads": (1, 2), "spatial_window_size": 4}
    model = build_video_transformer("viswin-tiny", 3, **options)
    assert model(torch.randn(1, 4, 3, 32, 32)).shape == (1, 2, model.num_features)


def test_masked_windows_are_dropped_and_replaced_by_the_mask_token():
    model = build_video_transformer("vivit-tiny", 3, **TINY).eval()
    x = torch.randn(2, 8, 3, 32, 32)
    mask = torch.tensor([[True, False, False, True], [False, False, False, False]])
    seen = []
    hook = model.spatial.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[0]))
    tokens = model.spatial_tokens(x, mask)
    hook.remove()
    assert seen == [6]  # only the 6 unmasked windows went through the spatial encoder
    assert torch.equal(tokens[0, 0], model.mask_token.detach()) and torch.equal(tokens[0, 3], model.mask_token.detach())
    full = model.spatial_tokens(x)
    torch.testing.assert_close(tokens[~mask], full[~mask])
    # Changing a masked window's frames changes nothing.
    x2 = x.clone()
    x2[0, :2] += 5
    torch.testing.assert_close(model(x2, mask), model(x, mask))


@pytest.mark.parametrize("ratio,expected", [(0.0, 0), (0.25, 1), (0.5, 2), (0.75, 3)])
def test_random_token_mask_has_the_ratio(ratio, expected):
    mask = random_token_mask(5, 4, ratio, torch.Generator().manual_seed(0))
    if expected == 0:
        assert mask is None
    else:
        assert (mask.sum(1) == expected).all()


def test_unknown_option_names_the_backbone():
    from sslbench.contract.errors import ConfigError

    with pytest.raises(ConfigError, match="vivit-tiny"):
        build_backbone(registries(), "vivit-tiny", 3, {"token": 3})
