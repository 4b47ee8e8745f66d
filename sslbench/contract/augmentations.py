"""Named augmentation distributions (thesis Table 4.1), as plain data; applied to batches by sslbench.image.augment."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    from ..config import SSLConfig


#: names the crop rule of training views in every pretraining's identity (sslbench.config):
#: torchvision's RandomResizedCrop box on the full image, resized after cropping (sslbench.image)
CROP_PIPELINE = "torchvision-rrc-full-image"


@dataclass(frozen=True)
class AugSpec:
    """Parameters of one augmentation distribution, applied per sample to a batch."""

    crop_scale: tuple[float, float] = (0.2, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_p: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0
    grayscale_p: float = 0.0
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    solarize_p: float = 0.0
    noise_std: float = 0.0
    #: output side in pixels; None = the run's ``data.input_size`` (multi-crop sets local sizes)
    size: int | None = None


_STRONG = dict(jitter_p=0.8, brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, grayscale_p=0.2)

#: Table 4.1 of the thesis, plus ``digits`` / ``digits-weak`` for the bundled CPU demo.
AUGMENTATIONS: dict[str, AugSpec] = {
    "weak": AugSpec(),
    "strong": AugSpec(**{**_STRONG, "saturation": 0.4}, blur_p=0.5),
    "strong-alpha": AugSpec(**_STRONG, blur_p=1.0),
    "strong-beta": AugSpec(**_STRONG, blur_p=0.1, solarize_p=0.2),
    "strong-gamma": AugSpec(**_STRONG, blur_p=0.5, solarize_p=0.2),
    # 8x8 grey digits: flips change the digit's identity; colour is meaningless; noise helps.
    "digits": AugSpec(crop_scale=(0.3, 1.0), flip_p=0.0, jitter_p=0.8, brightness=0.4,
                      contrast=0.4, noise_std=0.05),
    # the `weak` counterpart for digits: crop only, for the target view of ReSSL / SCE.
    "digits-weak": AugSpec(crop_scale=(0.3, 1.0), flip_p=0.0),
}


#: Multi-crop local views of thesis A.5.2 (from AdCo): (side for 224-pixel global views, crop
#: scale range). Global views keep the pretraining crop scale (0.2, 1.0) and the input size.
GLOBAL_CROP_SIZE = 224
LOCAL_CROPS: tuple[tuple[int, tuple[float, float]], ...] = (
    (192, (0.172, 0.86)),
    (160, (0.143, 0.715)),
    (128, (0.114, 0.571)),
    (96, (0.086, 0.429)),
)


def get_augmentation(name: str | AugSpec, color_strength: float = 1.0) -> AugSpec:
    """The named distribution, with colour-jitter magnitudes scaled by ``color_strength``.

    An :class:`AugSpec` passes through (scaled the same way), so a method can hand the engine
    fully built specs (multi-crop sizes, colour strength) where it would hand names.
    """
    if isinstance(name, AugSpec):
        return _scale_color(name, color_strength)
    if name not in AUGMENTATIONS:
        import difflib

        close = difflib.get_close_matches(name, list(AUGMENTATIONS), n=2)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ConfigError(f"unknown augmentation {name!r}{hint} (known: {', '.join(AUGMENTATIONS)})")
    return _scale_color(AUGMENTATIONS[name], color_strength)


def _scale_color(spec: AugSpec, strength: float) -> AugSpec:
    if strength == 1.0:
        return spec
    return replace(spec, brightness=spec.brightness * strength, contrast=spec.contrast * strength,
                   saturation=spec.saturation * strength, hue=min(0.5, spec.hue * strength))


def local_crop_specs(n_local: int, input_size: int, name: str = "strong-gamma",
                     color_strength: float = 1.0) -> list[AugSpec]:
    """The first ``n_local`` local views of thesis A.5.2 for global views of side ``input_size``.

    At 224 pixels they are 192, 160, 128 and 96 pixels with crop scales (0.172, 0.86),
    (0.143, 0.715), (0.114, 0.571) and (0.086, 0.429), augmented with ``name`` (strong-gamma in
    the thesis); other input sizes scale the sides proportionally and keep the scales.
    """
    if not 0 <= n_local <= len(LOCAL_CROPS):
        raise ConfigError(f"invalid value {n_local!r} for ssl.local_crops: expected 0 to {len(LOCAL_CROPS)}")
    base = get_augmentation(name, color_strength)
    return [replace(base, size=max(1, round(side * input_size / GLOBAL_CROP_SIZE)), crop_scale=scale)
            for side, scale in LOCAL_CROPS[:n_local]]


def pretraining_views(ssl: "SSLConfig", input_size: int) -> list[AugSpec]:
    """Specs of every view a siamese learner receives: online, target, then the local crops."""
    return [get_augmentation(ssl.online_aug, ssl.color_strength),
            get_augmentation(ssl.target_aug, ssl.color_strength),
            *local_crop_specs(ssl.local_crops, input_size, ssl.local_aug, ssl.color_strength)]
