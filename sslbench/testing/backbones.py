"""The backbone contract, checked: ``num_features`` and the output shape for the declared modality,
any number of input channels, and unknown options refused with a ConfigError."""

from __future__ import annotations

from typing import Any, Callable

from ..contract.errors import ConfigError
from ..contract.loading import registries
from .common import CheckSkipped

__all__ = ["BACKBONE_CHECKS", "check_backbone", "check_backbone_modality", "check_backbone_options"]

#: the input of each modality's backbones: (B, C, H, W) images, (B, C, T, H, W) clips
INPUTS = {"image": (2, 32, None), "video": (2, 32, 8)}


def _modality(name: str) -> str:
    from ..runner import backbone_modality

    return backbone_modality(registries().backbones.get(name))


def _build(name: str, in_chans: int, **options: Any) -> Any:
    from ..engine.trainer import build_backbone

    if name.endswith(":"):
        raise CheckSkipped(f"{name!r} is a namespace: check one of its backbones, e.g. {name}VARIANT")
    return build_backbone(registries(), name, in_chans, options)


def check_backbone(name: str) -> None:
    """A backbone maps (B, C, H, W) images (clips: (B, C, T, H, W)) to (B, num_features), for 3 and 1 channels."""
    import torch

    modality = _modality(name)
    for channels in (3, 1):
        try:
            net = _build(name, channels)
        except ConfigError:
            if channels == 3:
                raise
            continue  # refusing other channel counts with a ConfigError is allowed
        width = getattr(net, "num_features", None)
        assert isinstance(width, int) and width > 0, f"num_features must be a positive int, got {width!r}"
        if modality not in INPUTS:
            continue  # other inputs (COMEDIAN's frame windows) are checked by their own tests
        batch, side, frames = INPUTS[modality]
        shape = (batch, channels, *((frames,) if frames else ()), side, side)
        net.eval()
        with torch.no_grad():
            out = net(torch.randn(*shape))
        assert isinstance(out, torch.Tensor) and tuple(out.shape) == (batch, width), \
            f"{name} maps {shape} to {tuple(getattr(out, 'shape', ()))}, expected ({batch}, num_features={width})"


def check_backbone_modality(name: str) -> None:
    """``build.modality`` (default "image") is a modality some registered dataset has."""
    modality = _modality(name)
    known = sorted({entry.obj.modality for entry in registries().datasets} | {"image", "video"})
    assert isinstance(modality, str) and modality in known, \
        f"build.modality is {modality!r}, expected one of {', '.join(known)}"


def check_backbone_options(name: str) -> None:
    """An unknown ``model.backbone_options`` entry raises sslbench.contract.errors.ConfigError, not TypeError."""
    option = "not_an_option_of_any_backbone"
    try:
        _build(name, 3, **{option: 1})
    except ConfigError:
        return
    except CheckSkipped:
        raise
    except Exception as exc:  # noqa: BLE001 - any other error breaks the contract
        raise AssertionError(f"an unknown option raised {type(exc).__name__}, expected sslbench.contract.errors.ConfigError "
                             f"naming it") from exc
    raise AssertionError(f"an unknown option ({option}=1) was accepted silently, expected "
                         f"sslbench.contract.errors.ConfigError naming it")


BACKBONE_CHECKS: tuple[Callable[[str], None], ...] = (check_backbone, check_backbone_modality, check_backbone_options)
