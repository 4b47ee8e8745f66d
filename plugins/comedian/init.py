"""Where COMEDIAN's first step starts from: ``comedian.init=none | imagenet-supervised | PATH``.

- ``none``: the seeded random initialisation (Table 6.5's "x" rows);
- ``imagenet-supervised``: timm's supervised ImageNet weights of the spatial encoder (Table 6.5's
  "IN" rows: ImageNet-21k for ViT-T/S, ``augreg_in21k``; ImageNet-22k for Swin-T), read from the
  local Hugging Face cache only -- no download: missing weights are a one-line error;
- ``PATH``: a ``backbone.pt`` -- of a COMEDIAN pretraining (the whole video transformer) or of any
  image method (MoCo, SCE, ...) whose backbone is the spatial encoder's timm model, e.g.
  ``--backbone timm:vit_tiny_patch16_224``: Table 6.5's comparison of step 1 with image
  pretraining. An RGB (or grey) patch embedding is inflated to the ``T_s`` stacked frames (ViViT's
  filter inflation, Arnab et al. 2021: repeated over the frames and divided by their number, so a
  window of identical frames gives the image's response) and ViT position embeddings are
  resampled to the frame size.

A PATH is recorded with its sha256 (``PATH#sha256=...``) so that the pretraining's hash changes
with the file's content; a dumped config whose file changed since is refused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sslbench.contract.errors import ConfigError

CHOICES = ("none", "imagenet-supervised")
#: timm tags of the thesis's supervised ImageNet weights (Table 6.5: "ImageNet21k supervised")
IMAGENET_TAGS = {"vit_tiny_patch16_224": "augreg_in21k", "vit_small_patch16_224": "augreg_in21k",
                 "swin_tiny_patch4_window7_224": "ms_in22k"}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(value: str) -> str:
    """``comedian.init`` as recorded: a choice as is, a PATH as ``<absolute path>#sha256=<hex>``."""
    if value in CHOICES:
        return value
    path_text, _, recorded = value.partition("#sha256=")
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise ConfigError(f"invalid value {value!r} for comedian.init: expected none, imagenet-supervised or the "
                          f"path of a backbone.pt (no such file)")
    sha = _sha256(path)
    if recorded and recorded != sha:
        raise ConfigError(f"comedian.init {str(path)!r} changed since this config was written (sha256 {sha[:12]}, "
                          f"recorded {recorded[:12]}): drop '#sha256=...' to use the new file")
    return f"{path.resolve()}#sha256={sha}"


def path_of(value: str) -> Path | None:
    """The file of a resolved PATH value, None for a choice."""
    return None if value in CHOICES else Path(value.partition("#sha256=")[0])


def imagenet_weights(spatial: str) -> Path:
    """The cached supervised ImageNet weights of timm model ``spatial``; a clear error when this
    machine does not have them (nothing is downloaded)."""
    from huggingface_hub import try_to_load_from_cache
    from timm.models import get_pretrained_cfg

    name = spatial if "." in spatial or spatial not in IMAGENET_TAGS else f"{spatial}.{IMAGENET_TAGS[spatial]}"
    cfg = get_pretrained_cfg(name)
    hub_id = getattr(cfg, "hf_hub_id", None)
    if hub_id:
        for filename in ("model.safetensors", "pytorch_model.bin"):
            found = try_to_load_from_cache(hub_id, filename)
            if isinstance(found, str):
                return Path(found)
    raise ConfigError(f"comedian.init=imagenet-supervised: the ImageNet weights of timm model {name!r} are not on this "
                      f"machine ({hub_id or 'no pretrained weights known to timm'} is not in the Hugging Face cache); "
                      f"fetch them once (python -c \"import timm; timm.create_model('{name}', pretrained=True)\") or "
                      f"pass comedian.init=PATH of a backbone.pt")


def identity(value: str, spatial: str) -> str:
    """What the first step's weights start from, for the steps' hashes (imagenet: the file's sha256)."""
    if value == "imagenet-supervised":
        return f"imagenet-supervised#sha256={_sha256(imagenet_weights(spatial))}"
    return value


def apply(model: Any, value: str) -> None:
    """Initialise ``model`` (a ViViT / ViSwin) as ``comedian.init`` says."""
    if value == "none":
        return
    if value == "imagenet-supervised":
        _load_imagenet(model)
        return
    load_weights(model, path_of(value))


def _load_imagenet(model: Any) -> None:
    import timm

    config = model.config
    name = config.spatial if "." in config.spatial or config.spatial not in IMAGENET_TAGS \
        else f"{config.spatial}.{IMAGENET_TAGS[config.spatial]}"
    path = imagenet_weights(config.spatial)
    try:  # timm adapts the RGB patch embedding to the stacked frames and resamples positions
        pretrained = timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": str(path)},
                                       num_classes=0, in_chans=config.channels * config.frames_per_token,
                                       img_size=config.img_size, **config.spatial_options)
        model.spatial.load_state_dict(pretrained.state_dict())
    except (RuntimeError, ValueError, TypeError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise ConfigError(f"comedian.init=imagenet-supervised: the weights of {name!r} do not fit the spatial encoder "
                          f"(spatial_* options change its shape): {detail}") from None


def _adapt(key: str, value: Any, target: Any, frames: int, prefix: int, grid: Any) -> Any:
    """An image backbone's tensor reshaped for the spatial encoder, or None when it cannot be."""
    if value.shape == target.shape:
        return value
    if value.ndim == 4 and target.ndim == 4 and target.shape[1] % value.shape[1] == 0 \
            and value.shape[0] == target.shape[0] and value.shape[2:] == target.shape[2:]:
        k = target.shape[1] // value.shape[1]  # filter inflation over the stacked frames (and grey -> RGB)
        return value.repeat(1, k, 1, 1) / k
    if key == "pos_embed" and value.ndim == 3 and target.ndim == 3 and value.shape[2] == target.shape[2]:
        from timm.layers import resample_abs_pos_embed

        old = int(round((value.shape[1] - prefix) ** 0.5))  # image backbones: a square grid
        if grid is not None and old * old + prefix == value.shape[1] and grid[0] * grid[1] + prefix == target.shape[1]:
            return resample_abs_pos_embed(value, list(grid), [old, old], num_prefix_tokens=prefix)
    return None


def load_weights(model: Any, path: str | Path) -> None:
    """Load a COMEDIAN ``backbone.pt`` (its head, if any, is not taken) or an image backbone whose
    keys are the spatial encoder's into ``model``; anything else is a one-line error."""
    from sslbench.engine import checkpoint

    try:
        obj = checkpoint.load(path)
    except Exception as exc:  # noqa: BLE001 - unpickling errors come in many types
        raise ConfigError(f"comedian.init {str(path)!r}: cannot be read as a checkpoint ({type(exc).__name__})") from None
    state = obj.get("backbone", obj.get("state_dict", obj)) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not state:
        raise ConfigError(f"comedian.init {str(path)!r}: holds no state dict")
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.removeprefix("module.").startswith("head.")}
    whole = {k: v for k, v in model.state_dict().items() if not k.startswith("head.")}
    if set(state) == set(whole):
        _load_into(model, state, path, "the video transformer")
        return
    own = model.spatial.state_dict()
    if set(state) != set(own):
        recorded = obj.get("backbone_name") if isinstance(obj, dict) else None
        what = f" (a {recorded!r} backbone)" if recorded else ""
        missing = sorted(set(own) - set(state))[:2]
        raise ConfigError(f"comedian.init {str(path)!r}{what} matches neither the video transformer nor its spatial "
                          f"encoder, timm {model.config.spatial!r} (missing {missing}): expected a COMEDIAN backbone.pt "
                          f"or an image backbone timm:{model.config.spatial} with the same spatial_* options")
    adapted = {}
    for key, value in state.items():
        fitted = _adapt(key, value, own[key], model.config.frames_per_token,
                        int(getattr(model.spatial, "num_prefix_tokens", 1)),
                        getattr(getattr(model.spatial, "patch_embed", None), "grid_size", None))
        if fitted is None:
            raise ConfigError(f"comedian.init {str(path)!r}: {key} has shape {tuple(value.shape)}, the spatial encoder "
                              f"needs {tuple(own[key].shape)}")
        adapted[key] = fitted
    _load_into(model.spatial, adapted, path, "the spatial encoder")


def _load_into(module: Any, state: dict[str, Any], path: str | Path, what: str) -> None:
    try:
        module.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:200]
        raise ConfigError(f"comedian.init {str(path)!r} does not fit {what}: {detail}") from None
