"""Built-in backbones map images to pooled features and expose num_features."""

import pytest
import torch

from sslbench.contract.errors import ConfigError
from sslbench.engine.trainer import build_backbone
from sslbench.contract.loading import registries


@pytest.mark.parametrize("name,options,size,dim", [
    ("convnet-small", {}, 16, 128),
    ("resnet18", {"small_stem": True}, 32, 512),
    ("resnet18", {}, 64, 512),
    ("timm:resnet10t", {}, 32, 512),
])
def test_backbone_outputs_pooled_features(name, options, size, dim):
    net = build_backbone(registries(), name, 3, options)
    assert net.num_features == dim
    assert net(torch.randn(2, 3, size, size)).shape == (2, dim)


def test_small_stem_is_3x3_stride_1_without_maxpool():
    net = build_backbone(registries(), "resnet18", 3, {"small_stem": True}).trunk
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1)
    assert isinstance(net.maxpool, torch.nn.Identity)


def test_convnet_small_stays_small():
    net = build_backbone(registries(), "convnet-small", 1, {})
    assert 200_000 < sum(p.numel() for p in net.parameters()) < 300_000


def test_bad_backbone_options_and_timm_names_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown option 'smal_stem'"):
        build_backbone(registries(), "resnet18", 3, {"smal_stem": True})
    with pytest.raises(ConfigError, match="unknown timm model 'resnet19'"):
        build_backbone(registries(), "timm:resnet19", 3, {})
