"""What a protocol receives: the frozen backbone, the datasets and cached features."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import stable_hash
from . import checkpoint
from . import distributed as dist
from .data import ViewMaker, iterate_batches


@dataclass
class EvalContext:
    """Everything a protocol needs; ``features(split)`` extracts once and caches on disk."""

    backbone: nn.Module
    spec: Any
    config: Any
    weights_id: str
    device: torch.device
    cache_dir: Path | None
    progress: bool = True
    batch_size: int = 256
    _datasets: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        train = self.dataset(self.spec.train_split)
        return self.spec.num_classes or len(getattr(train, "classes", []) or [])

    def dataset(self, split: str) -> Any:
        """The dataset split, loaded once."""
        if split not in self._datasets:
            size = int(round(self.config.data.input_size * 8 / 7))
            self._datasets[split] = self.spec.load(self.config.data.root, split, size)
        return self._datasets[split]

    def view_maker(self) -> ViewMaker:
        return ViewMaker([], self.config.data.input_size, self.spec.mean, self.spec.std, self.device, False)

    def cache_key(self, split: str) -> str:
        return stable_hash({"weights": self.weights_id, "dataset": self.spec.name, "root": self.config.data.root,
                            "split": split, "input_size": self.config.data.input_size, "transform": "resize-center"})

    @torch.no_grad()
    def features(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(float32 features (N, D), int64 labels (N,)) of the frozen backbone on ``split``."""
        path = self.cache_dir / f"{self.cache_key(split)}.pt" if self.cache_dir is not None else None
        if path is not None and path.is_file():
            cached = checkpoint.load(path)
            return cached["features"], cached["labels"]
        feats, labels = extract_features(self.backbone, self.dataset(split), self.view_maker(), self.batch_size,
                                         self.progress, f"features {self.spec.name}/{split}",
                                         self.config.data.num_workers)
        if path is not None and dist.is_main():
            checkpoint.save({"features": feats, "labels": labels}, path)
        return feats, labels


@torch.no_grad()
def extract_features(backbone: nn.Module, dataset: Any, views: ViewMaker, batch_size: int, progress: bool,
                     desc: str, num_workers: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward every image once in eval mode; features preallocated, filled batch by batch."""
    was_training = backbone.training
    backbone.eval()
    n = len(dataset)
    feats: torch.Tensor | None = None
    labels = torch.empty(n, dtype=torch.long)
    from tqdm.auto import tqdm

    bar = tqdm(total=n, desc=desc, unit="img", leave=False, disable=not progress)
    pos = 0
    for images, y in iterate_batches(dataset, batch_size, False, 0, 0, False, num_workers):
        out = backbone(views.eval_view(images)).float().cpu()
        if feats is None:
            feats = torch.empty(n, out.shape[1], dtype=torch.float32)
        feats[pos:pos + len(out)] = out
        labels[pos:pos + len(out)] = y
        pos += len(out)
        bar.update(len(out))
    bar.close()
    backbone.train(was_training)
    assert feats is not None, "empty dataset"
    return feats, labels
