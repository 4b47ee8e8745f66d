"""Built-in backbones: ResNet-18/50 (torchvision), ``timm:<name>``, and ``convnet-small``."""

from __future__ import annotations

from sslbench import hookimpl


def _resnet18(variant, in_chans, **options):
    from sslbench.backbones import resnet_builder

    return resnet_builder(18)(variant, in_chans, **options)


def _resnet50(variant, in_chans, **options):
    from sslbench.backbones import resnet_builder

    return resnet_builder(50)(variant, in_chans, **options)


def _convnet_small(variant, in_chans, **options):
    from sslbench.backbones import convnet_small

    return convnet_small(variant, in_chans, **options)


def _timm(variant, in_chans, **options):
    from sslbench.backbones import build_timm

    return build_timm(variant, in_chans, **options)


@hookimpl
def register_backbones(register):
    register("resnet18", _resnet18)
    register("resnet50", _resnet50)
    register("convnet-small", _convnet_small)
    register("timm:", _timm)
