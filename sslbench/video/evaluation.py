"""The multi-view video test (thesis B.1, after SlowFast): every video is cut into
``data.eval_clips`` evenly spaced clips x ``data.eval_crops`` square crops covering its long side
(10 x 3 = 30 views, crops at the stored side, 256 for 224 inputs), all views go through the
network, and the video's output is the mean over its views.

- Frozen features (kNN, retrieval, the linear probe's test set): the mean of the 30 views'
  pooled features. A linear classifier's logits of that mean equal the mean of the 30 views'
  logits, so the linear probe's test is the "mean of the 30 predictions" of B.1 exactly.
- Finetuning: the mean of the 30 views' softmax probabilities (SlowFast's ensemble).

Unreadable videos are left out of the evaluation (reported by path, counted at the end).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..contract.errors import SSLBenchError

#: Clips per forward pass: bounds activation memory whatever the number of views.
CLIP_CHUNK = 32


class _Readable(torch.utils.data.Dataset):
    """Items ``(index, item or None)`` of a video dataset: unreadable videos come back as None."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[int, Any]:
        return index, self.dataset.read(index)


def _collate(batch: list[tuple[int, Any]]) -> tuple[torch.Tensor, torch.Tensor] | None:
    kept = [item for _, item in batch if item is not None]
    if not kept:
        return None
    return torch.stack([clips for clips, _ in kept]), torch.as_tensor([label for _, label in kept])


def view_batches(dataset: Any, videos_per_batch: int, num_workers: int | None = 0):
    """(uint8 views (B, V, C, T, S, S), labels (B,)) of every readable video, in order (``num_workers``
    None: the cores available to this process)."""
    from ..engine.data import loader_workers

    loader = torch.utils.data.DataLoader(_Readable(dataset), batch_size=videos_per_batch, shuffle=False,
                                         num_workers=loader_workers(num_workers), collate_fn=_collate,
                                         pin_memory=torch.cuda.is_available())
    for batch in loader:
        if batch is not None:
            yield batch


@torch.no_grad()
def multiview_outputs(fn: Callable[[torch.Tensor], torch.Tensor], dataset: Any, views: Any, progress: bool = False,
                      desc: str = "views", num_workers: int = 0, videos_per_batch: int = 8,
                      reduce: str = "mean", out_path: Path | None = None, labels_path: Path | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``fn`` on every view of every readable video, reduced over the views of each video.

    ``reduce`` ``mean`` averages the outputs, ``softmax`` averages their softmax. Returns
    (float32 (N, D), int64 labels (N,)); with ``out_path`` the outputs are streamed into a
    memory-mapped ``.npy`` written atomically (``labels_path`` first), as the feature cache does.
    """
    from tqdm.auto import tqdm

    from ..engine import checkpoint
    from ..engine.evaluation import _StreamedArray

    n = len(dataset)
    if n == 0:
        raise SSLBenchError(f"cannot evaluate: {desc} is empty")
    sink = None
    feats: np.ndarray | None = None
    labels = np.empty((n,), dtype=np.int64)
    pos = 0
    bar = tqdm(total=n, desc=desc, unit="video", leave=False, disable=not progress)
    try:
        for clips, y in view_batches(dataset, videos_per_batch, num_workers):
            b, v = clips.shape[:2]
            flat = clips.flatten(0, 1)
            outs = [fn(views.eval_view(flat[s:s + CLIP_CHUNK])).float() for s in range(0, len(flat), CLIP_CHUNK)]
            out = torch.cat(outs)
            if reduce == "softmax":
                out = out.softmax(1)
            out = out.view(b, v, -1).mean(1).cpu().numpy()
            if feats is None and sink is None:
                if out_path is not None:
                    sink = _StreamedArray(out_path, (n, out.shape[1]), np.float32)
                else:
                    feats = np.empty((n, out.shape[1]), dtype=np.float32)
            if sink is not None:
                sink.write(out)
            else:
                feats[pos:pos + b] = out
            labels[pos:pos + b] = y.numpy()
            pos += b
            bar.update(b)
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    finally:
        bar.close()
    report = getattr(dataset, "report_skipped", None)
    if report is not None:
        report()
    if pos == 0:
        if sink is not None:
            sink.abort()
        raise SSLBenchError(f"cannot evaluate: none of the {n} videos of {desc} can be read")
    labels = labels[:pos]
    if sink is None:
        assert feats is not None
        return feats[:pos], labels
    if labels_path is not None:
        checkpoint.atomic_write(labels_path, lambda fh: np.save(fh, labels))
    return sink.commit(), labels  # unreadable videos left out: the header holds the readable rows


def _videos_per_batch(ctx: Any, views_per_video: int) -> int:
    return max(1, int(getattr(ctx, "batch_size", 256)) // max(1, views_per_video))


def multiview_features(ctx: Any, split: str, out_path: Path | None = None, labels_path: Path | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(view-averaged frozen features (N, D), labels (N,)) of ``split``: the evaluation views of
    :func:`sslbench.video.pipeline.clip_sampling` through ``ctx.backbone`` in eval mode."""
    from .pipeline import clip_sampling

    sampling = clip_sampling(ctx.config, "eval")
    dataset = ctx.dataset(split).with_sampling(sampling)
    backbone = ctx.backbone
    was_training = backbone.training
    backbone.eval()
    try:
        return multiview_outputs(backbone, dataset, ctx.view_maker(), ctx.progress,
                                 f"features {ctx.spec.name}/{split} ({sampling.views} views)",
                                 ctx.config.data.num_workers, _videos_per_batch(ctx, sampling.views),
                                 "mean", out_path, labels_path)
    finally:
        backbone.train(was_training)


def multiview_predictions(model: nn.Module | Callable[[torch.Tensor], torch.Tensor], ctx: Any, split: str
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean softmax over the evaluation views (N, classes), labels (N,)) of ``model`` on ``split``
    (the finetuning test of B.1); ``model`` is called in whatever mode it is in."""
    from .pipeline import clip_sampling

    sampling = clip_sampling(ctx.config, "eval")
    dataset = ctx.dataset(split).with_sampling(sampling)
    probs, labels = multiview_outputs(model, dataset, ctx.view_maker(), ctx.progress,
                                      f"test {ctx.spec.name}/{split} ({sampling.views} views)",
                                      ctx.config.data.num_workers, _videos_per_batch(ctx, sampling.views),
                                      "softmax")
    return torch.from_numpy(np.asarray(probs)), torch.from_numpy(np.asarray(labels))
