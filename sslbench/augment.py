"""Named augmentation distributions (thesis Table 4.1), as plain data; see engine.augment."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import ConfigError


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


_STRONG = dict(jitter_p=0.8, brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, grayscale_p=0.2)

#: Table 4.1 of the thesis, plus ``digits`` for the bundled CPU demo.
AUGMENTATIONS: dict[str, AugSpec] = {
    "weak": AugSpec(),
    "strong": AugSpec(**{**_STRONG, "saturation": 0.4}, blur_p=0.5),
    "strong-alpha": AugSpec(**_STRONG, blur_p=1.0),
    "strong-beta": AugSpec(**_STRONG, blur_p=0.1, solarize_p=0.2),
    "strong-gamma": AugSpec(**_STRONG, blur_p=0.5, solarize_p=0.2),
    # 8x8 grey digits: flips change the digit's identity; colour is meaningless; noise helps.
    "digits": AugSpec(crop_scale=(0.3, 1.0), flip_p=0.0, jitter_p=0.8, brightness=0.4,
                      contrast=0.4, noise_std=0.05),
}


def get_augmentation(name: str, color_strength: float = 1.0) -> AugSpec:
    """The named distribution, with colour-jitter magnitudes scaled by ``color_strength``."""
    if name not in AUGMENTATIONS:
        import difflib

        close = difflib.get_close_matches(name, list(AUGMENTATIONS), n=2)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ConfigError(f"unknown augmentation {name!r}{hint} (known: {', '.join(AUGMENTATIONS)})")
    spec = AUGMENTATIONS[name]
    if color_strength != 1.0:
        s = color_strength
        spec = replace(spec, brightness=spec.brightness * s, contrast=spec.contrast * s,
                       saturation=spec.saturation * s, hue=min(0.5, spec.hue * s))
    return spec
