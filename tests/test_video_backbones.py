"""ResNet3D-18/50 "slow path" against thesis Table B.1, and torchvision's video ResNets by name."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sslbench.engine.trainer import build_backbone
from sslbench.contract.errors import ConfigError
from sslbench.contract.loading import registries
from sslbench.video.backbones import ResNet3D

# Table B.1, written out: per stage res2..res5, the (temporal kernel, spatial kernel, width) of
# each convolution of a block, and the number of blocks.
TABLE_B1 = {
    18: {"res2": ([(1, 3, 64), (1, 3, 64)], 2), "res3": ([(1, 3, 128), (1, 3, 128)], 2),
         "res4": ([(3, 3, 256), (1, 3, 256)], 2), "res5": ([(3, 3, 512), (1, 3, 512)], 2)},
    50: {"res2": ([(1, 1, 64), (1, 3, 64), (1, 1, 256)], 3), "res3": ([(1, 1, 128), (1, 3, 128), (1, 1, 512)], 4),
         "res4": ([(3, 1, 256), (1, 3, 256), (1, 1, 1024)], 6), "res5": ([(3, 1, 512), (1, 3, 512), (1, 1, 2048)], 3)},
}


def table_parameter_count(depth: int) -> int:
    """Parameters implied by Table B.1: convolutions without bias, batch norm (2 per channel)
    after each, a 1x1^2 projection shortcut (+ BN) where a stage changes the shape."""
    total = 7 * 7 * 3 * 64 + 2 * 64  # conv1 1x7^2, 64 + BN
    cin = 64
    for stage, (convs, blocks) in TABLE_B1[depth].items():
        for b in range(blocks):
            c = cin
            for kt, ks, width in convs:
                total += kt * ks * ks * c * width + 2 * width
                c = width
            if b == 0 and (cin != c or stage != "res2"):
                total += cin * c + 2 * c
            cin = c
    return total


@pytest.mark.parametrize("depth", [18, 50])
def test_parameter_count_follows_table_b1(depth):
    net = ResNet3D(depth)
    assert sum(p.numel() for p in net.parameters()) == table_parameter_count(depth)


def test_resnet3d50_matches_the_published_slow_8x8_r50_size():
    # SlowFast's model zoo lists SLOW_8x8_R50 at 32.45 M parameters with its 400-class head
    net = ResNet3D(50)
    with_head = sum(p.numel() for p in net.parameters()) + 2048 * 400 + 400
    assert round(with_head / 1e6, 2) == 32.45


@pytest.mark.parametrize("depth", [18, 50])
def test_temporal_kernels_strides_and_widths_per_stage(depth):
    net = ResNet3D(depth)
    stem_conv = net.stem[0]
    assert stem_conv.kernel_size == (1, 7, 7) and stem_conv.stride == (1, 2, 2) and stem_conv.out_channels == 64
    pool = net.stem[3]
    assert isinstance(pool, nn.MaxPool3d) and pool.kernel_size == (1, 3, 3) and pool.stride == (1, 2, 2)
    for name, (convs, blocks) in TABLE_B1[depth].items():
        stage = getattr(net, name)
        assert len(stage) == blocks
        for block in stage:
            main = [m for n, m in block.named_children() if n.startswith("conv")]
            assert [(m.kernel_size[0], m.kernel_size[1], m.out_channels) for m in main] == convs
            assert all(m.stride[0] == 1 for m in block.modules() if isinstance(m, nn.Conv3d))  # no temporal stride
        spatial = [m.stride[1] for m in stage[0].modules() if isinstance(m, nn.Conv3d)]
        assert max(spatial) == (1 if name == "res2" else 2)


@pytest.mark.parametrize("name", [n for n in registries().backbones.list() if n.startswith("resnet3d")])
def test_registered_resnet3d_maps_clips_to_pooled_features(name):
    net = build_backbone(registries(), name, 3, {"width": 8})
    x = torch.randn(2, 3, 4, 32, 32)
    assert net(x).shape == (2, net.num_features)
    assert net.num_features == 8 * 8 * (4 if name == "resnet3d50" else 1)
    assert net.forward_features(x).shape == (2, net.num_features, 4, 1, 1)  # T kept, H / 32


def test_full_width_resnet3d18_output_shapes_per_stage():
    net = ResNet3D(18).eval()
    x = torch.randn(1, 3, 8, 64, 64)
    shapes = []
    with torch.no_grad():
        for stage in net.stages().values():
            x = stage(x)
            shapes.append(tuple(x.shape[1:]))
    assert shapes == [(64, 8, 16, 16), (64, 8, 16, 16), (128, 8, 8, 8), (256, 8, 4, 4), (512, 8, 2, 2)]


@pytest.mark.parametrize("name", ["tv:r3d_18", "tv:mc3_18", "tv:r2plus1d_18"])
def test_torchvision_video_resnets_by_name(name):
    net = build_backbone(registries(), name, 3, {})
    assert net.num_features == 512
    assert net(torch.randn(1, 3, 4, 32, 32)).shape == (1, 512)


def test_unknown_video_backbones_and_options_are_clear_errors():
    with pytest.raises(ConfigError, match="did you mean tv:r3d_18"):
        build_backbone(registries(), "tv:r3d_19", 3, {})
    with pytest.raises(ConfigError, match="unknown option 'depth'"):
        build_backbone(registries(), "resnet3d18", 3, {"depth": 34})
