"""Built-in encoders: torchvision ResNets (optional small-image stem), timm models, a small CNN."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..contract.errors import ConfigError


class PooledEncoder(nn.Module):
    """Wrap a trunk so it maps images to pooled features and exposes ``num_features``."""

    def __init__(self, trunk: nn.Module, num_features: int) -> None:
        super().__init__()
        self.trunk = trunk
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)


def _reject_unknown(name: str, options: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown option {unknown[0]!r} for backbone {name!r}: expected one of {sorted(allowed) or 'none'}"
        )


def build_resnet(depth: int, in_chans: int, small_stem: bool = False, zero_init_residual: bool = False) -> nn.Module:
    """torchvision ResNet-18/50 without its classifier; ``small_stem`` = 3x3 stride-1 conv, no max-pool."""
    from torchvision.models import resnet18, resnet50

    net = {18: resnet18, 50: resnet50}[depth](weights=None, zero_init_residual=zero_init_residual)
    if small_stem:
        net.conv1 = nn.Conv2d(in_chans, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    elif in_chans != 3:
        net.conv1 = nn.Conv2d(in_chans, 64, kernel_size=7, stride=2, padding=3, bias=False)
    dim = net.fc.in_features
    net.fc = nn.Identity()
    return PooledEncoder(net, dim)


def resnet_builder(depth: int):
    """A registry builder for ResNet-``depth``."""

    def build(variant: str, in_chans: int, **options: Any) -> nn.Module:
        _reject_unknown(f"resnet{depth}", options, {"small_stem", "zero_init_residual"})
        return build_resnet(depth, in_chans, **options)

    return build


def _conv_bn(cin: int, cout: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def build_convnet_small(variant: str, in_chans: int, width: int = 32) -> nn.Module:
    """A 5-layer CNN (~280k parameters at width 32) fast enough to pretrain on a laptop CPU."""
    w = width
    trunk = nn.Sequential(
        *_conv_bn(in_chans, w, 1),
        *_conv_bn(w, 2 * w, 2),
        *_conv_bn(2 * w, 2 * w, 1),
        *_conv_bn(2 * w, 4 * w, 2),
        *_conv_bn(4 * w, 4 * w, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    return PooledEncoder(trunk, 4 * w)


def convnet_small(variant: str, in_chans: int, **options: Any) -> nn.Module:
    _reject_unknown("convnet-small", options, {"width"})
    return build_convnet_small(variant, in_chans, **options)


def build_timm(variant: str, in_chans: int, **options: Any) -> nn.Module:
    """Any timm model by name, randomly initialised, classifier removed (``num_classes=0``)."""
    import timm

    if not variant:
        raise ConfigError("backbone 'timm:' needs a model name, e.g. timm:resnet18 or timm:vit_tiny_patch16_224")
    if not timm.is_model(variant):
        import difflib

        close = difflib.get_close_matches(variant, timm.list_models(), n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise ConfigError(f"unknown timm model {variant!r}{hint}")
    return timm.create_model(variant, pretrained=False, num_classes=0, in_chans=in_chans, **options)
