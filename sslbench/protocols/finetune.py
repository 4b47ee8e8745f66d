"""Finetuning: the whole pretrained network plus a linear head trained with augmentation.

The thesis finetunes videos (B.1, Tables 5.7 and 6.5, after Feichtenhofer et al. 2021): 200
epochs, dropout 0.8 before the classifier, SGD momentum 0.9 without weight decay, lr 0.1 x
batch / 64 with cosine decay and no warm-up, random crops, horizontal flip and the *strong*
colour jitter: preset ``b1``. For images the thesis gives no recipe; preset ``image`` is a plain
convention of the field, not a thesis number: 100 epochs, batch 256, lr 0.05 x batch / 256,
cosine, no dropout, random resized crop (0.08, 1) + flip. Evaluation uses the deterministic
evaluation view (one crop); videos use the 30-view test of B.1 (mean of the softmax over 10
clips x 3 crops, :mod:`sslbench.video.evaluation`).
The pretrained backbone is copied, never modified, so later protocols see the frozen weights.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from ..config import check, check_lr
from ..contract.errors import TrainingError
from ..contract.protocol import Metric, Protocol

FINETUNE_PRESETS: dict[str, dict[str, Any]] = {
    "image": {"epochs": 100, "batch_size": 256, "lr": 0.05, "lr_base_batch": 256, "dropout": 0.0,
              "color_jitter": False},
    "b1": {"epochs": 200, "batch_size": 64, "lr": 0.1, "lr_base_batch": 64, "dropout": 0.8, "color_jitter": True},
}


@dataclass
class FinetuneParams:
    """Preset plus overrides (None = the preset's value)."""

    preset: Literal["image", "b1"] = "image"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    lr_base_batch: int | None = None
    dropout: float | None = None
    color_jitter: bool | None = None
    momentum: float = 0.9
    weight_decay: float = 0.0
    crop_scale: list[float] = field(default_factory=lambda: [0.08, 1.0])
    flip_p: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        check(self.preset in FINETUNE_PRESETS, "finetune.preset", self.preset, f"one of {', '.join(FINETUNE_PRESETS)}")
        for key, value in FINETUNE_PRESETS[self.preset].items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        check(self.epochs > 0, "finetune.epochs", self.epochs, "a positive integer")
        check(self.batch_size > 1, "finetune.batch_size", self.batch_size, "an integer > 1 (batch norm)")
        check_lr(self.lr, "finetune.lr")
        check(self.lr_base_batch > 0, "finetune.lr_base_batch", self.lr_base_batch, "a positive integer")
        check(0 <= self.dropout < 1, "finetune.dropout", self.dropout, "a value in [0, 1)")
        check(0 <= self.momentum < 1, "finetune.momentum", self.momentum, "a value in [0, 1)")
        check(self.weight_decay >= 0, "finetune.weight_decay", self.weight_decay, ">= 0")
        check(len(self.crop_scale) == 2 and 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1,
              "finetune.crop_scale", self.crop_scale, "[min, max] with 0 < min <= max <= 1")

    def lr_at(self, step: int, total: int) -> float:
        """Linear scaling rule lr x batch / lr_base_batch, cosine decay per step, no warm-up."""
        base = self.lr * self.batch_size / self.lr_base_batch
        return base * 0.5 * (1.0 + math.cos(math.pi * step / max(total, 1)))


def finetune_and_test(backbone: Any, ctx: Any, p: FinetuneParams) -> tuple[float, float | None]:
    """Train a copy of ``backbone`` + linear head on the train split; (top-1, top-5 or None) on test."""
    import torch
    from torch import nn
    from tqdm.auto import tqdm

    from ..contract.augmentations import AUGMENTATIONS, AugSpec
    from ..engine.evaluation import eval_batches, shuffled_batches
    from ..image.views import training_source  # file-backed images: views cut from the full image

    torch.manual_seed(p.seed)
    device = ctx.device
    num_classes = ctx.num_classes
    net = copy.deepcopy(backbone).to(device)
    head = nn.Sequential(nn.Dropout(p.dropout), nn.Linear(net.num_features, num_classes)).to(device)
    nn.init.normal_(head[1].weight, std=0.01)
    nn.init.zeros_(head[1].bias)
    params = list(net.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=p.lr_at(0, 1), momentum=p.momentum, weight_decay=p.weight_decay)
    strong = AUGMENTATIONS["strong"]
    jitter = dict(jitter_p=strong.jitter_p, brightness=strong.brightness, contrast=strong.contrast,
                  saturation=strong.saturation, hue=strong.hue) if p.color_jitter else {}
    views = ctx.view_maker([AugSpec(crop_scale=tuple(p.crop_scale), flip_p=p.flip_p, **jitter)])
    train = ctx.dataset(ctx.spec.train_split)
    per_epoch = math.ceil(len(train) / p.batch_size)
    total, step = per_epoch * p.epochs, 0
    aug_gen = torch.Generator(device=device).manual_seed(p.seed)
    nonfinite = torch.zeros((), dtype=torch.bool, device=device)  # read once per epoch: no sync per step
    net.train()
    head.train()
    for epoch in tqdm(range(p.epochs), desc="finetune", unit="epoch", leave=False, disable=not ctx.progress):
        order = torch.Generator().manual_seed(p.seed * 7919 + epoch)
        source = training_source(train, views.specs, ctx.config.data.input_size, p.seed * 1_000_003 + epoch)
        for images, y in shuffled_batches(source, p.batch_size, order, ctx.config.data.num_workers):
            if len(y) < 2:  # batch norm needs two samples
                continue
            for group in opt.param_groups:
                group["lr"] = p.lr_at(step, total)
            logits = head(net(views.train_views(images, aug_gen)[0]))
            loss = nn.functional.cross_entropy(logits, y.long().to(device))
            nonfinite |= ~torch.isfinite(loss.detach())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        if bool(nonfinite):  # NaN weights would predict one class: its test share stored as top-1
            raise TrainingError(f"finetune on dataset {ctx.spec.name!r} diverged: non-finite loss in epoch "
                                f"{epoch + 1} at finetune.lr={p.lr:g} (preset {p.preset}, batch {p.batch_size}): "
                                f"lower finetune.lr")
    net.eval()
    head.eval()
    if getattr(ctx, "is_video", False):  # B.1: mean prediction over the 30 views of each test video
        from ..video.evaluation import multiview_predictions

        with torch.no_grad():
            probs, y = multiview_predictions(lambda x: head(net(x)), ctx, ctx.spec.test_split)
        top1 = 100.0 * float((probs.argmax(1) == y).float().mean())
        top5 = (100.0 * float((probs.topk(5, dim=1).indices == y[:, None]).any(1).float().mean())
                if num_classes > 5 else None)
        return top1, top5
    correct1 = correct5 = seen = 0
    with torch.no_grad():
        for images, y in eval_batches(ctx.dataset(ctx.spec.test_split), 256, ctx.config.data.num_workers):
            logits = head(net(views.eval_view(images))).float().cpu()
            y = y.long()
            correct1 += int((logits.argmax(1) == y).sum())
            if num_classes > 5:
                correct5 += int((logits.topk(5, dim=1).indices == y[:, None]).any(1).sum())
            seen += len(y)
    return 100.0 * correct1 / seen, (100.0 * correct5 / seen if num_classes > 5 else None)


class Finetune(Protocol):
    """Top-1 after finetuning the whole network with a linear head (thesis B.1; Tables 5.7, 6.5)."""

    name = "finetune"
    Params = FinetuneParams
    description = "finetune the whole network + linear head with augmentation (presets image, b1)"
    single_label = True  # multi-label data (VOC07) is refused before any training

    def evaluate(self, ctx) -> list[Metric]:
        ctx.require_single_label(self.name)
        top1, top5 = finetune_and_test(ctx.backbone, ctx, self.params)
        metrics = [Metric("top1", top1)]
        if top5 is not None:
            metrics.append(Metric("top5", top5))
        return metrics
