"""COMEDIAN's three training steps and its inference over games (thesis 6.3, App. C.1-C.2).

Each step reads SoccerNet-v2 games (:mod:`sslbench.spotting.soccernet`), trains with AdamW
(weight decay 0.05, warm-up + cosine learning rate, C.1.2) and writes ``<out>/backbone.pt``: the
whole video transformer's state (``{"backbone": state_dict, ...}``, sslbench's format), which the
next step loads.
"""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sslbench.engine import checkpoint
from sslbench.engine.heads import mlp
from sslbench.engine.queue import FeatureQueue
from sslbench.engine.schedules import ema_momentum, warmup_cosine_lr
from sslbench.errors import SSLBenchError
from sslbench.spotting import inference, soccernet
from sslbench.spotting.models import VideoTransformer, build_video_transformer, random_token_mask
from sslbench.spotting.tamap import CLASSES, PREDICTIONS_FILE

from .loss import distillation_loss, infonce_loss, spotting_bce_loss

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 1, 3, 1, 1)


# --------------------------------------------------------------------------- model and weights


def build_model(p: Any, num_classes: int = 0) -> VideoTransformer:
    return build_video_transformer(p.backbone, 3, **{**p.backbone_options, "num_classes": num_classes})


def load_weights(model: VideoTransformer, path: str | Path) -> None:
    """Load a COMEDIAN ``backbone.pt`` (a head may be missing) or, when its keys are those of the
    spatial encoder alone, an image backbone (e.g. MoCo- or SCE-pretrained) into ``model.spatial``."""
    obj = torch.load(path, map_location="cpu", weights_only=True)
    state = obj.get("backbone", obj.get("state_dict", obj)) if isinstance(obj, dict) else obj
    state = {k.removeprefix("module."): v for k, v in state.items()}
    own = model.state_dict()
    if any(k in own for k in state):
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("head.")]
        if missing or unexpected:
            raise SSLBenchError(f"{path}: does not match {type(model).__name__}: missing {missing[:3]}, "
                                f"unexpected {unexpected[:3]}")
        return
    missing, unexpected = model.spatial.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise SSLBenchError(f"{path}: matches neither the video transformer nor its spatial encoder "
                            f"(missing {missing[:3]}, unexpected {unexpected[:3]})")


def save_model(model: VideoTransformer, p: Any, path: Path, step: int, extra: dict[str, Any] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.save({"backbone": model.state_dict(), "method": "comedian", "step": step,
                     "backbone_name": p.backbone, **(extra or {})}, path)


def _device(p: Any) -> torch.device:
    from sslbench.engine.trainer import pick_device

    return pick_device(p.device)


# --------------------------------------------------------------------------- data


def _size(model: VideoTransformer) -> tuple[int, int]:
    size = model.config.img_size
    return (size, size) if isinstance(size, int) else tuple(size)


def read_clip(half: soccernet.Half, start_frame: int, frames: int, size: tuple[int, int]) -> torch.Tensor:
    """uint8 (frames, 3, H, W) from ``start_frame`` (edges padded by repeating frames)."""
    return torch.from_numpy(soccernet.read_frames(half, start_frame, frames, size)).permute(0, 3, 1, 2)


def normalise(x: torch.Tensor) -> torch.Tensor:
    """uint8 or [0, 1] float (B, T, 3, H, W) -> ImageNet-normalised float."""
    if x.dtype == torch.uint8:
        x = x.float() / 255
    return (x - MEAN.to(x.device)) / STD.to(x.device)


def augmentation(kind: str, size: tuple[int, int]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Per-clip augmentation of a float (T, 3, H, W) clip in [0, 1], one draw for all its frames.

    ``spatial`` (step 1, the contrastive image recipe), ``pretrain`` (step 2, strong-gamma without
    cropping), ``finetune`` (step 3: jitter p 0.8 of 0.4 without hue, blur p 0.5, flip; C.1.5)."""
    from torchvision.transforms import v2

    kernel = 23 if min(size) >= 224 else max(2 * round(min(size) * 11 / 224) + 1, 3)  # 23 px at 224
    blur = v2.RandomApply([v2.GaussianBlur(kernel, (0.1, 2.0))], p=0.5)
    if kind == "spatial":
        ops = [v2.RandomResizedCrop(size, scale=(0.2, 1.0), antialias=True), v2.RandomHorizontalFlip(),
               v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8), v2.RandomGrayscale(0.2), blur]
    elif kind == "pretrain":
        ops = [v2.RandomHorizontalFlip(), v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
               v2.RandomGrayscale(0.2), blur, v2.RandomSolarize(0.5, p=0.2)]
    elif kind == "finetune":
        ops = [v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.0)], p=0.8), blur, v2.RandomHorizontalFlip()]
    else:
        raise ValueError(kind)
    return v2.Compose(ops)


def augment_batch(x: torch.Tensor, aug: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """uint8 (B, T, 3, H, W) -> augmented, normalised float, one draw per clip."""
    x = x.float() / 255
    return normalise(torch.stack([aug(clip) for clip in x]))


def clip_starts(half: soccernet.Half, n_clips: int, frames: int, rng: np.random.Generator,
                include_edges: bool = False) -> list[int]:
    """``n_clips`` random first frames in a half (``include_edges``: the first and last clip of the
    half are always taken, C.1.5)."""
    last = max(half.n_frames - frames, 0)
    starts = rng.integers(0, last + 1, n_clips).tolist()
    if include_edges and n_clips >= 2:
        starts[0], starts[1] = 0, last
    return starts


# --------------------------------------------------------------------------- training loop


def _train(parameters: list[nn.Parameter], batches: Callable[[int], Iterator[Any]], loss_fn: Callable[[Any], torch.Tensor],
           epochs: int, steps_per_epoch: int, lr: float, warmup_epochs: float, min_lr_ratio: float, log: Path,
           after_step: Callable[[int, int], None] | None = None) -> float:
    """AdamW (weight decay 0.05) with linear warm-up then cosine decay, ``epochs`` x ``steps_per_epoch``."""
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.05)
    total, warmup = epochs * steps_per_epoch, int(round(warmup_epochs * steps_per_epoch))
    step, loss_value = 0, float("nan")
    log.parent.mkdir(parents=True, exist_ok=True)
    for epoch in range(epochs):
        losses = []
        for batch in batches(epoch):
            for group in optimizer.param_groups:
                group["lr"] = warmup_cosine_lr(step, total, warmup, lr, lr * min_lr_ratio)
            loss = loss_fn(batch)
            if not torch.isfinite(loss):
                raise SSLBenchError(f"non-finite loss {float(loss)} at step {step}: lower the learning rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if after_step is not None:
                after_step(step, total)
            losses.append(float(loss.detach()))
            step += 1
        loss_value = float(np.mean(losses)) if losses else loss_value
        with open(log, "a") as fh:
            fh.write(json.dumps({"epoch": epoch + 1, "step": step, "loss": loss_value}) + "\n")
    return loss_value


def _batched(items: list[Any], batch_size: int, rng: np.random.Generator, drop_last: bool = True) -> Iterator[list[Any]]:
    order = rng.permutation(len(items))
    stop = len(items) - (len(items) % batch_size if drop_last else 0)
    for i in range(0, stop, batch_size):
        chunk = [items[j] for j in order[i:i + batch_size]]
        if chunk:
            yield chunk


class _ChunkReader(torch.utils.data.Dataset):
    def __init__(self, chunks: list[Any], read: Callable[[Any], Any]) -> None:
        self.chunks, self.read = chunks, read

    def __len__(self) -> int:
        return len(self.chunks)

    def __getitem__(self, i: int) -> Any:
        return self.read(self.chunks[i])


def _read_batches(chunks: list[Any], read: Callable[[Any], Any], workers: int) -> Iterator[Any]:
    """``read(chunk)`` of each chunk in order, in ``workers`` processes (0: here)."""
    if workers <= 0:
        return map(read, chunks)
    return iter(torch.utils.data.DataLoader(_ChunkReader(chunks, read), batch_size=None, num_workers=workers))


def _steps(n: int, batch_size: int, drop_last: bool = True) -> int:
    return n // batch_size if drop_last else math.ceil(n / batch_size)


# --------------------------------------------------------------------------- step 1: spatial MoCo


class SpatialMoCo(nn.Module):
    """Online spatial encoder + projector (3/1024/256) + predictor (2/1024/256); momentum target
    encoder + projector; a queue of target embeddings (C.1.3)."""

    def __init__(self, spatial: nn.Module, p: Any) -> None:
        super().__init__()
        dim = spatial.num_features
        self.spatial = spatial
        self.projector = mlp(dim, p.proj_hidden, p.proj_out, 3, "all")
        self.predictor = mlp(p.proj_out, p.proj_hidden, p.proj_out, 2, "hidden")
        self.target = nn.Sequential(copy.deepcopy(spatial), copy.deepcopy(self.projector))
        for param in self.target.parameters():
            param.requires_grad_(False)
        self.queue = FeatureQueue(p.step1_queue, p.proj_out)
        self.tau, self.ema = p.step1_tau, p.step1_ema

    def loss(self, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE of the two views (eqs. 6.1-6.2), then both targets enqueued."""
        q1 = F.normalize(self.predictor(self.projector(self.spatial(v1))), dim=1)
        q2 = F.normalize(self.predictor(self.projector(self.spatial(v2))), dim=1)
        with torch.no_grad():
            k1, k2 = F.normalize(self.target(v1), dim=1), F.normalize(self.target(v2), dim=1)
        queue = self.queue.features.clone()
        loss = (infonce_loss(q1, k2, queue, self.tau) + infonce_loss(q2, k1, queue, self.tau)) / 2
        self.queue.enqueue(torch.cat([k2, k1]))
        return loss

    @torch.no_grad()
    def update_target(self, step: int, total: int) -> None:
        m = ema_momentum(step, total, self.ema)
        online = list(self.spatial.parameters()) + list(self.projector.parameters())
        for t, o in zip(self.target.parameters(), online):
            t.mul_(m).add_(o.detach(), alpha=1 - m)


def step1(games: list[soccernet.Game], p: Any, out: Path, init: str | Path | None = None) -> VideoTransformer:
    """Spatial MoCo on every 1-s window (T_s frames) of the training games."""
    model = build_model(p)
    if init:
        load_weights(model, init)
    size, ts = _size(model), model.config.frames_per_token
    windows = [(half, k) for g in games for half in g.halves for k in range(0, half.n_frames - ts + 1, ts)]
    if len(windows) < p.step1_batch_size:
        raise SSLBenchError(f"step 1 has {len(windows)} windows, fewer than comedian.step1_batch_size")
    device = _device(p)
    learner = SpatialMoCo(model.spatial, p).to(device).train()
    aug = augmentation("spatial", size)
    rng = np.random.default_rng(p.seed)

    def batches(epoch: int):
        def read(chunk):
            return torch.stack([read_clip(h, k, ts, size) for h, k in chunk])  # (B, T_s, 3, H, W)

        for clips in _read_batches(list(_batched(windows, p.step1_batch_size, rng)), read, p.num_workers):
            yield [augment_batch(clips.to(device), aug).flatten(1, 2) for _ in range(2)]

    def loss_fn(views):
        return learner.loss(*views)

    params = [q for q in learner.parameters() if q.requires_grad]
    _train(params, batches, loss_fn, p.step1_epochs, _steps(len(windows), p.step1_batch_size),
           p.step1_lr * p.step1_batch_size / 256, p.warmup_epochs, 1e-2, out / "log.jsonl", learner.update_target)
    save_model(model.cpu(), p, out / "backbone.pt", 1)
    return model


# --------------------------------------------------------------------------- step 2: distillation


def step2(games: list[soccernet.Game], p: Any, out: Path, init: str | Path | None = None) -> VideoTransformer:
    """SCE distillation of each temporal token to its aligned bank feature, masking alpha_1.

    The queue of teacher features starts as random unit vectors (as MoCo's queue does) and
    fills with the aligned bank features of each batch, oldest out; no momentum encoder."""
    model = build_model(p)
    if init:
        load_weights(model, init)
    size, frames, tokens = _size(model), model.frames, model.tokens
    halves = [h for g in games for h in g.halves]
    banks = {}
    for h in halves:
        path = h.frames_dir.parent / f"{h.half}_{p.features}.npy"
        if not path.is_file():
            raise SSLBenchError(f"{path}: bank features not found (comedian.features={p.features!r}; run "
                                f"`sslbench soccernet-pca` first for the PCA-reduced bank)")
        banks[h] = torch.from_numpy(np.load(path).astype(np.float32))
    dim = next(iter(banks.values())).shape[1]
    device = _device(p)
    projector = mlp(model.num_features, p.proj_hidden, dim, 3, "hidden").to(device)
    queue = FeatureQueue(p.step2_queue, dim).to(device)
    model.to(device)
    aug = augmentation("pretrain", size)
    rng = np.random.default_rng(p.seed + 1)
    gen = torch.Generator().manual_seed(p.seed + 1)
    n_items = len(halves) * p.step2_clips_per_half
    model.train(), projector.train()

    def batches(epoch: int):
        items = [(h, s) for h in halves for s in clip_starts(h, p.step2_clips_per_half, frames, rng)]
        def read(chunk):
            clips = torch.stack([read_clip(h, s, frames, size) for h, s in chunk])
            teacher = torch.stack([banks[h][torch.from_numpy(soccernet.aligned_feature_indices(
                s, tokens, len(banks[h]), model.config.frames_per_token))] for h, s in chunk])
            return clips, teacher

        for clips, teacher in _read_batches(list(_batched(items, p.step2_batch_size, rng)), read, p.num_workers):
            yield augment_batch(clips.to(device), aug), F.normalize(teacher.to(device), dim=2)

    def loss_fn(batch):
        x, teacher = batch
        mask = random_token_mask(len(x), tokens, p.alpha1, gen)
        mask = None if mask is None else mask.to(device)
        z = F.normalize(projector(model(x, mask).flatten(0, 1)), dim=1).view(len(x), tokens, dim)
        loss = distillation_loss(z, teacher, queue.features.clone(), p.lam, p.tau, p.tau_m)
        queue.enqueue(teacher.flatten(0, 1))
        return loss

    params = list(model.parameters()) + list(projector.parameters())
    _train(params, batches, loss_fn, p.step2_epochs, _steps(n_items, p.step2_batch_size),
           p.step2_lr * p.step2_batch_size / 256 * frames / 64, p.warmup_epochs, 1e-2, out / "log.jsonl")
    save_model(model.cpu(), p, out / "backbone.pt", 2)
    return model


# --------------------------------------------------------------------------- step 3: fine-tuning


def step3(games: list[soccernet.Game], p: Any, out: Path, init: str | Path | None = None) -> VideoTransformer:
    """Per-token sigmoid/BCE spotting, mixup Beta(0.1, 0.1), masking alpha_2; classifier alone
    first, then the whole model with the learning rate reset (C.1.5)."""
    model = build_model(p, num_classes=len(CLASSES))
    if init:
        load_weights(model, init)
    size, frames, tokens = _size(model), model.frames, model.tokens
    halves = [(g, h) for g in games for h in g.halves]
    actions = {id(h): soccernet.annotations_of_half(g.labels(), h.half) for g, h in halves}
    aug = augmentation("finetune", size)
    rng = np.random.default_rng(p.seed + 2)
    gen = torch.Generator().manual_seed(p.seed + 2)
    alpha = torch.tensor(float(p.mixup_alpha))
    beta = torch.distributions.Beta(alpha, alpha) if p.mixup_alpha > 0 else None
    n_items = len(halves) * p.step3_clips_per_half
    device = _device(p)
    model.to(device).train()

    def batches(epoch: int):
        items = [(h, s) for _, h in halves for s in clip_starts(h, p.step3_clips_per_half, frames, rng, True)]
        def read(chunk):
            clips = torch.stack([read_clip(h, s, frames, size) for h, s in chunk])
            targets = torch.stack([torch.from_numpy(soccernet.token_targets(
                *actions[id(h)], s, tokens, model.config.frames_per_token, p.radius)) for h, s in chunk])
            return clips, targets

        for clips, targets in _read_batches(list(_batched(items, p.step3_batch_size, rng)), read, p.num_workers):
            yield augment_batch(clips.to(device), aug), targets.to(device)

    def loss_fn(batch):
        x, y = batch
        if beta is not None:
            lam = float(beta.sample())
            perm = torch.randperm(len(x), generator=gen).to(device)
            x, y = lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm]
        mask = random_token_mask(len(x), tokens, p.alpha2, gen)
        mask = None if mask is None else mask.to(device)
        return spotting_bce_loss(model.classify(x, mask), y)

    lr = p.step3_lr * p.step3_batch_size / 256 * frames / 64
    steps = _steps(n_items, p.step3_batch_size)
    body = [q for name, q in model.named_parameters() if not name.startswith("head.")]
    for q in body:  # the classifier alone first: no gradient through the backbone
        q.requires_grad_(False)
    _train(list(model.head.parameters()), batches, loss_fn, p.step3_classifier_epochs, steps, lr, 0, 1e-2,
           out / "log.jsonl")
    for q in body:
        q.requires_grad_(True)
    _train(list(model.parameters()), batches, loss_fn, p.step3_epochs, steps, lr, 0, 1e-2, out / "log.jsonl")
    save_model(model.cpu(), p, out / "backbone.pt", 3, {"num_classes": len(CLASSES)})
    return model


STEPS = {1: step1, 2: step2, 3: step3}


# --------------------------------------------------------------------------- inference


@torch.no_grad()
def predict_half(model: VideoTransformer, half: soccernet.Half, ignore_seconds: float, batch_size: int = 8,
                 device: Any = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """(token times in seconds, merged sigmoid scores (T, C)) of one half (sliding windows, max merge)."""
    model.eval()
    size, ts, window = _size(model), model.config.frames_per_token, model.tokens
    n_tokens = max(math.ceil(half.n_frames / ts), 1)

    def predict(starts: list[int]) -> np.ndarray:
        clips = torch.stack([read_clip(half, s * ts, window * ts, size) for s in starts]).to(device)
        return torch.sigmoid(model.classify(normalise(clips))).float().cpu().numpy()

    token_seconds = ts / soccernet.FPS
    scores = inference.sliding_window_scores(predict, n_tokens, window, int(round(ignore_seconds / token_seconds)),
                                             batch_size)
    return inference.token_times(n_tokens, ts, soccernet.FPS), scores


def predict_games(model: VideoTransformer, games: list[soccernet.Game], out_dir: Path, nms: str = "hard",
                  nms_window: float | None = None, decay: str = "gaussian", ignore_seconds: float = 6.0,
                  min_score: float = 0.0, batch_size: int = 8, device: Any = "cpu") -> dict[str, dict[str, Any]]:
    """Raw scores (``<out>/raw/<game>/raw_predictions.npz``) and ``results_spotting.json``
    (``<out>/predictions/<game>/``) of every game; returns the predictions by game."""
    results = {}
    for game in games:
        halves = {h.half: predict_half(model, h, ignore_seconds, batch_size, device) for h in game.halves}
        inference.save_raw(out_dir / "raw" / game.name / inference.RAW_FILE, halves)
        kept = {h: (t, inference.apply_nms(t, s, nms, nms_window, decay)) for h, (t, s) in halves.items()}
        obj = inference.spotting_json(game.name, kept, min_score)
        inference.write_spotting_json(out_dir / "predictions" / game.name / PREDICTIONS_FILE, obj)
        results[game.name] = obj
    return results


def run_steps(root: str | Path, p: Any, out: str | Path, steps: list[int], init: str | Path | None = None,
              echo: Callable[[str], None] = print) -> Path:
    """Run ``steps`` in order, each from the previous one's ``backbone.pt``; returns the last checkpoint."""
    torch.manual_seed(p.seed)
    games = soccernet.load_games(root, p.train_split, features=None)
    out = Path(out)
    previous = Path(init) if init else None
    for number in steps:
        t0 = time.perf_counter()
        STEPS[number](games, p, out / f"step{number}", previous)
        previous = out / f"step{number}" / "backbone.pt"
        echo(f"comedian step {number}: {time.perf_counter() - t0:.0f}s -> {previous}")
    return previous
