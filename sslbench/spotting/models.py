"""COMEDIAN's video transformers: ViViT (timm ViT spatial encoder) and ViSwin (timm Swin).

Thesis 6.3 and Appendix C.1.1 (Table C.1), ViViT "model 2" (factorised encoder, Arnab et al.
2021). A global window of ``T_g`` frames is cut into ``T_l = T_g / T_s`` small windows of
``T_s = 2`` frames (1 s at 2 fps). The **spatial encoder** embeds each small window into one
token: its ``T_s`` frames are stacked on the channel axis (``in_chans = 3 * T_s``), which is
exactly ViViT's tubelet embedding of temporal size ``T_s`` (a Conv3d of kernel ``(T_s, p, p)``
and stride ``(T_s, p, p)`` is a Conv2d over the stacked channels), then the timm model's pooled
output (class token for ViT, average for Swin) is the window's token. The **temporal encoder**
adds a learned positional embedding to the ``T_l`` tokens and runs 4 ViT blocks (timm
``Block``) and a final LayerNorm: ``(B, T_g, C, H, W) -> (B, T_l, D)``.

Masking (6.3.3, as the reference code does): ``mask`` (B, T_l), True = masked; masked small
windows are dropped before the spatial encoder (never computed) and a learned mask token takes
their place before the temporal encoder.

Parameter counts (Table C.1) count the encoders without any head: spatial = the timm model with
``num_classes=0`` and ``in_chans = 6`` (ViT-T 5.7 M, ViT-S 22.0 M, Swin-T 27.5 M); temporal =
4 blocks + positions + norm (1.8 M, 7.1 M, 28.4 M); global = their sum (7.5 M, 29.1 M, 55.9 M).
The temporal heads are the spatial model's for ViT (3, 6) and 12 for Swin-T's 768 dimensions
(a ViT-Base block; the thesis only says "attention layers from a ViT"); heads change no count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..contract.errors import ConfigError


@dataclass
class VideoTransformerConfig:
    """What builds a ViViT / ViSwin.

    :param spatial: timm model name of the spatial encoder.
    :param tokens: T_l, temporal tokens of a global window (T_g = tokens * frames_per_token).
    :param frames_per_token: T_s, frames of a small window.
    :param temporal_depth: blocks of the temporal encoder (thesis: 4).
    :param temporal_heads: attention heads of the temporal blocks.
    :param img_size: frame size (int or (H, W)) given to timm.
    :param num_classes: > 0 adds the spotting head, a linear classifier per temporal token
        (``classify``); 0 (Table C.1's counts) has none.
    :param spatial_options: extra keyword arguments of ``timm.create_model`` (e.g. a tiny
        ``embed_dim``/``depth``/``num_heads``/``patch_size`` for CPU tests).
    """

    spatial: str
    tokens: int = 32
    frames_per_token: int = 2
    temporal_depth: int = 4
    temporal_heads: int = 3
    img_size: Any = 224
    channels: int = 3
    num_classes: int = 0
    spatial_options: dict = field(default_factory=dict)


#: Table C.1's models.
PRESETS: dict[str, VideoTransformerConfig] = {
    "vivit-tiny": VideoTransformerConfig("vit_tiny_patch16_224", temporal_heads=3),
    "vivit-small": VideoTransformerConfig("vit_small_patch16_224", temporal_heads=6),
    "viswin-tiny": VideoTransformerConfig("swin_tiny_patch4_window7_224", temporal_heads=12),
}


class TemporalEncoder(nn.Module):
    """Learned positions + ``depth`` ViT blocks + LayerNorm over (B, T_l, D) tokens."""

    def __init__(self, dim: int, tokens: int, depth: int, heads: int) -> None:
        super().__init__()
        from timm.models.vision_transformer import Block

        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp_ratio=4.0, qkv_bias=True) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.norm(self.blocks(tokens + self.pos_embed))


class VideoTransformer(nn.Module):
    """ViViT / ViSwin: ``forward(x (B, T_g, C, H, W), mask (B, T_l) | None) -> (B, T_l, D)``.

    ``spatial`` alone is an image backbone ``(N, C * T_s, H, W) -> (N, D)`` (step 1 trains it
    with MoCo on 1-s windows); ``num_features`` is D.
    """

    def __init__(self, config: VideoTransformerConfig) -> None:
        super().__init__()
        import timm

        self.config = config
        if not timm.is_model(config.spatial):
            raise ConfigError(f"unknown timm model {config.spatial!r} for the spatial encoder")
        self.spatial = timm.create_model(config.spatial, pretrained=False, num_classes=0,
                                         in_chans=config.channels * config.frames_per_token,
                                         img_size=config.img_size, **config.spatial_options)
        self.num_features = int(self.spatial.num_features)
        self.temporal = TemporalEncoder(self.num_features, config.tokens, config.temporal_depth, config.temporal_heads)
        self.mask_token = nn.Parameter(torch.zeros(self.num_features))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self.head = nn.Linear(self.num_features, config.num_classes) if config.num_classes > 0 else None

    @property
    def tokens(self) -> int:
        return self.config.tokens

    @property
    def frames(self) -> int:
        """T_g, frames of a global window."""
        return self.config.tokens * self.config.frames_per_token

    def windows(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T_g, C, H, W) -> (B * T_l, T_s * C, H, W): the small windows as stacked-channel images."""
        b, t, c, h, w = x.shape
        if t != self.frames:
            raise ValueError(f"expected {self.frames} frames per clip, got {t}")
        return x.reshape(b * self.config.tokens, self.config.frames_per_token * c, h, w)

    def spatial_tokens(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T_l, D) spatial tokens; masked windows are not computed and get the mask token."""
        b = x.shape[0]
        windows = self.windows(x)
        if mask is None:
            return self.spatial(windows).reshape(b, self.config.tokens, -1)
        keep = ~mask.reshape(-1)
        tokens = self.mask_token.to(windows.dtype).expand(len(windows), -1).clone()
        if keep.any():
            tokens[keep] = self.spatial(windows[keep]).to(tokens.dtype)
        return tokens.reshape(b, self.config.tokens, -1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.temporal(self.spatial_tokens(x, mask))

    def classify(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T_l, num_classes) logits of the spotting head."""
        if self.head is None:
            raise ValueError("this video transformer has no spotting head: build it with num_classes > 0")
        return self.head(self(x, mask))


def random_token_mask(batch: int, tokens: int, ratio: float, generator: torch.Generator | None = None,
                      device: Any = None) -> torch.Tensor | None:
    """(B, T_l) bool mask with exactly ``round(ratio * T_l)`` masked tokens per clip (None if 0)."""
    n_masked = int(round(ratio * tokens))
    if n_masked <= 0:
        return None
    noise = torch.rand(batch, tokens, generator=generator, device=device)
    ranks = noise.argsort(1).argsort(1)
    return ranks < n_masked


_OPTIONS = {"tokens", "frames_per_token", "temporal_depth", "temporal_heads", "img_size", "num_classes"}


def build_video_transformer(name: str, in_chans: int = 3, **options: Any) -> VideoTransformer:
    """A preset of :data:`PRESETS` with options: the config fields above, ``spatial`` (another timm
    model) and ``spatial_<arg>`` forwarded to ``timm.create_model`` as ``<arg>``."""
    if name not in PRESETS:
        raise ConfigError(f"unknown video transformer {name!r}: expected one of {', '.join(PRESETS)}")
    base = PRESETS[name]
    fields: dict[str, Any] = {"spatial": base.spatial, "tokens": base.tokens, "frames_per_token": base.frames_per_token,
                              "temporal_depth": base.temporal_depth, "temporal_heads": base.temporal_heads,
                              "img_size": base.img_size, "channels": in_chans, "num_classes": 0, "spatial_options": {}}
    for key, value in options.items():
        if key in _OPTIONS or key == "spatial":
            fields[key] = tuple(value) if isinstance(value, list) else value
        elif key.startswith("spatial_"):
            fields["spatial_options"][key[len("spatial_"):]] = value
        else:
            raise ConfigError(f"unknown option {key!r} for backbone {name!r}; expected one of "
                              f"{', '.join(sorted(_OPTIONS | {'spatial'}))} or spatial_<timm argument>")
    return VideoTransformer(VideoTransformerConfig(**fields))


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
