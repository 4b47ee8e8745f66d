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


def test_a_timm_backbone_refuses_an_unknown_option_naming_it_the_accepted_ones_and_the_closest():
    with pytest.raises(ConfigError) as err:
        build_backbone(registries(), "timm:resnet10t", 3, {"drop_rat": 0.1})
    message = str(err.value)
    assert message.startswith("unknown option 'drop_rat' for backbone 'timm:resnet10t' in model.backbone_options; "
                              "did you mean 'drop_rate'? (expected one of: ")
    assert "\n" not in message and "drop_path_rate" in message and "in_chans" not in message


def test_timm_backbones_pass_the_unknown_option_check_of_the_conformance_kit():
    from sslbench.testing import check_backbone_options

    check_backbone_options("timm:resnet10t")  # raised AssertionError: "an unknown option raised TypeError"


def test_a_timm_option_of_the_wrong_type_keeps_its_own_error():
    with pytest.raises(TypeError):  # not an unknown option: `sslbench run` words it (runner._check_backbone_options)
        build_backbone(registries(), "timm:resnet10t", 3, {"layers": 5})
