"""Video encoders: ResNet3D-18 / ResNet3D-50 "slow path" (thesis Table B.1) and torchvision's
video ResNets. All map clips ``(B, C, T, H, W)`` to pooled features ``(B, num_features)``.

Table B.1 (the Slow pathway of SlowFast, Feichtenhofer et al. 2019, with ResNet3D blocks of Hara
et al. 2018), kernels written T x S^2:

===== ================================ ==========================================
stage ResNet3D-18                      ResNet3D-50
===== ================================ ==========================================
conv1 1x7^2, 64, stride 1, 2^2         1x7^2, 64, stride 1, 2^2
pool1 1x3^2 max, stride 1, 2^2         1x3^2 max, stride 1, 2^2
res2  [1x3^2, 64; 1x3^2, 64] x2        [1x1^2, 64; 1x3^2, 64; 1x1^2, 256] x3
res3  [1x3^2, 128; 1x3^2, 128] x2      [1x1^2, 128; 1x3^2, 128; 1x1^2, 512] x4
res4  [3x3^2, 256; 1x3^2, 256] x2      [3x1^2, 256; 1x3^2, 256; 1x1^2, 1024] x6
res5  [3x3^2, 512; 1x3^2, 512] x2      [3x1^2, 512; 1x3^2, 512; 1x1^2, 2048] x3
pool  global average                   global average
===== ================================ ==========================================

Where the table is silent we follow the Slow pathway's reference implementation: no temporal
stride anywhere (T frames in, T frames at res5), a spatial stride of 2 in the first block of
res3-res5 (in its first 3x3 convolution for ResNet3D-18, in its 1x3^2 convolution for
ResNet3D-50), projection shortcuts 1x1^2 with batch norm where the shape changes, batch norm
after every convolution, "same" padding. ``width`` (64 in the table) scales every stage, for
tiny CPU tests.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..contract.errors import ConfigError

#: (blocks per stage res2..res5, bottleneck?) of Table B.1.
RESNET3D_DEPTHS: dict[int, tuple[tuple[int, int, int, int], bool]] = {
    18: ((2, 2, 2, 2), False),
    50: ((3, 4, 6, 3), True),
}
#: Temporal kernel size of the first convolution of every block, per stage res2..res5.
TEMPORAL_KERNELS = (1, 1, 3, 3)


def _conv(cin: int, cout: int, kt: int, ks: int, stride: int = 1) -> nn.Conv3d:
    return nn.Conv3d(cin, cout, (kt, ks, ks), stride=(1, stride, stride), padding=(kt // 2, ks // 2, ks // 2),
                     bias=False)


class BasicBlock3d(nn.Module):
    """[kt x 3^2, w; 1 x 3^2, w] with an identity or 1x1^2 projection shortcut."""

    expansion = 1

    def __init__(self, cin: int, width: int, stride: int, kt: int) -> None:
        super().__init__()
        self.conv1 = _conv(cin, width, kt, 3, stride)
        self.bn1 = nn.BatchNorm3d(width)
        self.conv2 = _conv(width, width, 1, 3)
        self.bn2 = nn.BatchNorm3d(width)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = _shortcut(cin, width, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + self.shortcut(x))


class Bottleneck3d(nn.Module):
    """[kt x 1^2, w; 1 x 3^2, w; 1 x 1^2, 4w] with an identity or 1x1^2 projection shortcut."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int, kt: int) -> None:
        super().__init__()
        out = width * self.expansion
        self.conv1 = _conv(cin, width, kt, 1)
        self.bn1 = nn.BatchNorm3d(width)
        self.conv2 = _conv(width, width, 1, 3, stride)
        self.bn2 = nn.BatchNorm3d(width)
        self.conv3 = _conv(width, out, 1, 1)
        self.bn3 = nn.BatchNorm3d(out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = _shortcut(cin, out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + self.shortcut(x))


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module:
    if stride == 1 and cin == cout:
        return nn.Identity()
    return nn.Sequential(_conv(cin, cout, 1, 1, stride), nn.BatchNorm3d(cout))


class ResNet3D(nn.Module):
    """ResNet3D-18 / -50 slow path of Table B.1; ``forward`` returns pooled ``(B, num_features)``."""

    def __init__(self, depth: int = 18, in_chans: int = 3, width: int = 64, zero_init_residual: bool = False) -> None:
        super().__init__()
        if depth not in RESNET3D_DEPTHS:
            raise ConfigError(f"invalid ResNet3D depth {depth!r}: expected one of {sorted(RESNET3D_DEPTHS)}")
        if width < 1:
            raise ConfigError(f"invalid value {width!r} for backbone option width: expected a positive integer")
        blocks, bottleneck = RESNET3D_DEPTHS[depth]
        block = Bottleneck3d if bottleneck else BasicBlock3d
        self.depth = depth
        self.stem = nn.Sequential(
            nn.Conv3d(in_chans, width, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
            nn.BatchNorm3d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        )
        cin = width
        stages = []
        for i, (n, kt) in enumerate(zip(blocks, TEMPORAL_KERNELS)):
            w = width * 2 ** i
            layers = []
            for j in range(n):
                layers.append(block(cin, w, 2 if (i > 0 and j == 0) else 1, kt))
                cin = w * block.expansion
            stages.append(nn.Sequential(*layers))
        self.res2, self.res3, self.res4, self.res5 = stages
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.num_features = cin
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock3d, Bottleneck3d)):
                    nn.init.zeros_((m.bn3 if isinstance(m, Bottleneck3d) else m.bn2).weight)

    def stages(self) -> dict[str, nn.Module]:
        """The stages of Table B.1 by name."""
        return {"conv1": self.stem, "res2": self.res2, "res3": self.res3, "res4": self.res4, "res5": self.res5}

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The res5 feature map (B, 8 * width * expansion, T, H / 32, W / 32)."""
        if x.ndim != 5:
            raise ValueError(f"ResNet3D expects clips (B, C, T, H, W), got shape {tuple(x.shape)}")
        for stage in self.stages().values():
            x = stage(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.forward_features(x)).flatten(1)


def _reject_unknown(name: str, options: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]!r} for backbone {name!r}: expected one of {sorted(allowed)}")


def build_resnet3d(depth: int, in_chans: int, /, **options: Any) -> ResNet3D:
    """ResNet3D-``depth`` slow path (options ``width``, ``zero_init_residual``)."""
    _reject_unknown(f"resnet3d{depth}", options, {"width", "zero_init_residual"})
    return ResNet3D(depth, in_chans, **options)


#: torchvision's video ResNets (Tran et al. 2018): 3D, mixed 3D/2D, (2+1)D convolutions.
TORCHVISION_VIDEO = ("r3d_18", "mc3_18", "r2plus1d_18")


class _TorchvisionVideo(nn.Module):
    def __init__(self, net: nn.Module, num_features: int) -> None:
        super().__init__()
        self.net = net
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_torchvision_video(variant: str, in_chans: int, **options: Any) -> nn.Module:
    """torchvision's video ResNet ``variant`` (``tv:r3d_18``, ``tv:mc3_18``, ``tv:r2plus1d_18``),
    randomly initialised, classifier removed; option ``zero_init_residual``."""
    from torchvision.models import video

    if variant not in TORCHVISION_VIDEO:
        import difflib

        close = difflib.get_close_matches(variant, TORCHVISION_VIDEO, n=1)
        hint = f"; did you mean tv:{close[0]}?" if close else ""
        raise ConfigError(f"unknown torchvision video model {variant!r}{hint} (known: "
                          f"{', '.join('tv:' + n for n in TORCHVISION_VIDEO)})")
    _reject_unknown(f"tv:{variant}", options, {"zero_init_residual"})
    if in_chans != 3:
        raise ConfigError(f"backbone 'tv:{variant}' takes 3-channel clips, not {in_chans}")
    net = getattr(video, variant)(weights=None, **options)
    dim = net.fc.in_features
    net.fc = nn.Identity()
    return _TorchvisionVideo(net, dim)
