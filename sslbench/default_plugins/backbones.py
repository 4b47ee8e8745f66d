"""Built-in backbones: ResNet-18/50 (torchvision), ``timm:<name>``, and ``convnet-small``; for video,
ResNet3D-18/50 (thesis Table B.1) and torchvision's video ResNets ``tv:<name>``."""

from __future__ import annotations

from sslbench import hookimpl


def _resnet18(variant, in_chans, **options):
    """torchvision ResNet-18 (option small_stem: 3x3 stride-1 conv, no max-pool)."""
    from sslbench.image.backbones import resnet_builder

    return resnet_builder(18)(variant, in_chans, **options)


def _resnet50(variant, in_chans, **options):
    """torchvision ResNet-50 (option small_stem: 3x3 stride-1 conv, no max-pool)."""
    from sslbench.image.backbones import resnet_builder

    return resnet_builder(50)(variant, in_chans, **options)


def _convnet_small(variant, in_chans, **options):
    """5-layer CNN, ~280k parameters (option width): the fast CPU default for digits."""
    from sslbench.image.backbones import convnet_small

    return convnet_small(variant, in_chans, **options)


def _timm(variant, in_chans, **options):
    """any timm model by name, e.g. timm:vit_tiny_patch16_224 (random init, no classifier)."""
    import re

    from sslbench.engine.plugin_checks import unknown_backbone_option
    from sslbench.image.backbones import build_timm

    try:
        return build_timm(variant, in_chans, **options)
    except TypeError as exc:  # timm passes options on to the model class: "got an unexpected keyword argument"
        unknown = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
        if not unknown or unknown[1] not in options:
            raise
        raise unknown_backbone_option(f"timm:{variant}", unknown[1], _timm_options(variant)) from None


#: arguments of a timm model class that sslbench sets itself or that are not options of the model
_TIMM_RESERVED = ("self", "in_chans", "num_classes", "device", "dtype")


def _timm_options(variant):
    """The keyword options of timm model ``variant``'s class (built once on the meta device: no memory)."""
    import inspect

    import timm
    import torch

    with torch.device("meta"):
        cls = type(timm.create_model(variant, pretrained=False, num_classes=0))
    params = inspect.signature(cls).parameters.values()
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            and p.name not in _TIMM_RESERVED]


def _resnet3d18(variant, in_chans, **options):
    """ResNet3D-18 slow path of thesis Table B.1, clips (B, C, T, H, W) (option width)."""
    from sslbench.video.backbones import build_resnet3d

    return build_resnet3d(18, in_chans, **options)


def _resnet3d50(variant, in_chans, **options):
    """ResNet3D-50 slow path of thesis Table B.1, clips (B, C, T, H, W) (option width)."""
    from sslbench.video.backbones import build_resnet3d

    return build_resnet3d(50, in_chans, **options)


def _torchvision_video(variant, in_chans, **options):
    """torchvision video ResNets by name: tv:r3d_18, tv:mc3_18, tv:r2plus1d_18 (random init)."""
    from sslbench.video.backbones import build_torchvision_video

    return build_torchvision_video(variant, in_chans, **options)


# clip backbones: (B, C, T, H, W) in; sslbench checks this against the dataset's modality
for _builder in (_resnet3d18, _resnet3d50, _torchvision_video):
    _builder.modality = "video"


@hookimpl
def register_backbones(register):
    register("resnet18", _resnet18)
    register("resnet50", _resnet50)
    register("convnet-small", _convnet_small)
    register("timm:", _timm)
    register("resnet3d18", _resnet3d18)
    register("resnet3d50", _resnet3d50)
    register("tv:", _torchvision_video)
