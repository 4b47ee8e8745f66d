"""Built-in backbones: ResNet-18/50 (torchvision), ``timm:<name>``, and ``convnet-small``."""

from __future__ import annotations

from sslbench import hookimpl


def _resnet18(variant, in_chans, **options):
    """torchvision ResNet-18 (option small_stem: 3x3 stride-1 conv, no max-pool)."""
    from sslbench.backbones import resnet_builder

    return resnet_builder(18)(variant, in_chans, **options)


def _resnet50(variant, in_chans, **options):
    """torchvision ResNet-50 (option small_stem: 3x3 stride-1 conv, no max-pool)."""
    from sslbench.backbones import resnet_builder

    return resnet_builder(50)(variant, in_chans, **options)


def _convnet_small(variant, in_chans, **options):
    """5-layer CNN, ~280k parameters (option width): the fast CPU default for digits."""
    from sslbench.backbones import convnet_small

    return convnet_small(variant, in_chans, **options)


def _timm(variant, in_chans, **options):
    """any timm model by name, e.g. timm:vit_tiny_patch16_224 (random init, no classifier)."""
    from sslbench.backbones import build_timm

    return build_timm(variant, in_chans, **options)


@hookimpl
def register_backbones(register):
    register("resnet18", _resnet18)
    register("resnet50", _resnet50)
    register("convnet-small", _convnet_small)
    register("timm:", _timm)
