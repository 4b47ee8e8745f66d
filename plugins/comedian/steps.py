"""COMEDIAN's pretraining steps (thesis 6.3.2-6.3.3, App. C.1.3-C.1.4) and their chaining.

Each step trains the whole video transformer in place with AdamW (weight decay 0.05, warm-up +
cosine learning rate, C.1.2) and is kept in its own folder, named by the hash of everything its
weights depend on: the previous step's hash (or the initialisation), the step's own settings
(:data:`STEP_FIELDS`), the backbone and its options, the seed, and a fingerprint of the data it
reads. A sweep over a step-2 setting therefore reuses step 1, as a finished pretraining is reused.
Step 3, the fine-tuning, is the ``tamap`` protocol's (:mod:`sslbench.spotting.finetune`).
"""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sslbench.config import stable_hash
from sslbench.engine import checkpoint
from sslbench.engine.heads import mlp
from sslbench.engine.queue import FeatureQueue
from sslbench.engine.schedules import ema_momentum
from sslbench.contract.errors import ConfigError
from sslbench.spotting import soccernet
from sslbench.spotting.models import VideoTransformer, random_token_mask
from sslbench.spotting.training import (augment_batch, augmentation, batched, clip_starts, frame_size, n_steps,
                                        read_batches, read_clip, reader_workers, train_loop)

from . import init as initialisation
from .loss import distillation_loss, infonce_loss

#: The ``comedian.*`` settings each step's weights depend on (with the backbone, seed and data).
STEP_FIELDS: dict[int, tuple[str, ...]] = {
    1: ("warmup_epochs", "proj_hidden", "proj_out", "step1_epochs", "step1_batch_size", "step1_lr", "step1_queue",
        "step1_tau", "step1_ema"),
    2: ("warmup_epochs", "proj_hidden", "features", "step2_epochs", "step2_batch_size", "step2_clips_per_half",
        "step2_lr", "step2_queue", "lam", "tau", "tau_m", "alpha1"),
}
#: Settings that shape the chain rather than one step: the steps run, the start, the splits read.
CHAIN_FIELDS = ("steps", "init", "splits")
#: Bumped when what a step folder holds changes.
FORMAT = 1


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


def _windows(games: list[soccernet.Game], frames_per_token: int) -> list[tuple[soccernet.Half, int]]:
    return [(half, k) for g in games for half in g.halves for k in range(0, half.n_frames - frames_per_token + 1,
                                                                          frames_per_token)]


def step1(model: VideoTransformer, games: list[soccernet.Game], p: Any, out: Path, device: Any,
          workers: int = 0, seed: int = 0) -> None:
    """Spatial MoCo on every 1-s window (T_s frames) of the games, training ``model.spatial``."""
    size, ts = frame_size(model), model.config.frames_per_token
    windows = _windows(games, ts)
    learner = SpatialMoCo(model.spatial, p).to(device).train()
    aug = augmentation("spatial", size)
    rng = np.random.default_rng(seed)

    def batches(epoch: int):
        def read(chunk):
            return torch.stack([read_clip(h, k, ts, size) for h, k in chunk])  # (B, T_s, 3, H, W)

        for clips in read_batches(list(batched(windows, p.step1_batch_size, rng)), read, workers):
            yield [augment_batch(clips.to(device), aug).flatten(1, 2) for _ in range(2)]

    params = [q for q in learner.parameters() if q.requires_grad]
    train_loop(params, batches, lambda views: learner.loss(*views), p.step1_epochs,
               n_steps(len(windows), p.step1_batch_size), p.step1_lr * p.step1_batch_size / 256, p.warmup_epochs,
               1e-2, out / "log.jsonl", learner.update_target)


# --------------------------------------------------------------------------- step 2: distillation


class BankQueue(nn.Module):
    """FIFO of teacher features and the identity of each (half, bank index), oldest out; starts as
    random unit vectors with identity -1, as MoCo's queue does."""

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self.register_buffer("features", F.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("ids", torch.full((size,), -1, dtype=torch.long))
        self.ptr = 0

    @torch.no_grad()
    def enqueue(self, features: torch.Tensor, ids: torch.Tensor) -> None:
        size, n = len(self.ids), len(ids)
        if size == 0:
            return
        if n >= size:
            self.features.copy_(features[-size:])
            self.ids.copy_(ids[-size:])
            self.ptr = 0
            return
        idx = (self.ptr + torch.arange(n, device=ids.device)) % size
        self.features.index_copy_(0, idx, features.to(self.features.dtype))
        self.ids.index_copy_(0, idx, ids)
        self.ptr = (self.ptr + n) % size


def bank_path(half: soccernet.Half, features: str) -> Path:
    """``<game>/<half>_<features>.npy``: the aligned feature bank of a half."""
    return half.frames_dir.parent / f"{half.half}_{features}.npy"


def step2(model: VideoTransformer, games: list[soccernet.Game], p: Any, out: Path, device: Any,
          workers: int = 0, seed: int = 0) -> None:
    """SCE distillation of each temporal token to its aligned bank feature, masking alpha_1 (no
    momentum encoder; the queue holds earlier teacher features, each with its identity, so a
    token's own entry is never one of its negatives or relations: eq. 6.4)."""
    size, frames, tokens = frame_size(model), model.frames, model.tokens
    halves = [h for g in games for h in g.halves]
    banks = {h: torch.from_numpy(np.load(bank_path(h, p.features)).astype(np.float32)) for h in halves}
    half_id = {h: i << 32 for i, h in enumerate(halves)}
    dim = next(iter(banks.values())).shape[1]
    projector = mlp(model.num_features, p.proj_hidden, dim, 3, "hidden").to(device)
    queue = BankQueue(p.step2_queue, dim).to(device)
    model.to(device).train()
    projector.train()
    aug = augmentation("pretrain", size)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    n_items = len(halves) * p.step2_clips_per_half

    def batches(epoch: int):
        items = [(h, s) for h in halves for s in clip_starts(h, p.step2_clips_per_half, frames, rng)]

        def read(chunk):
            clips = torch.stack([read_clip(h, s, frames, size) for h, s in chunk])
            index = [torch.from_numpy(soccernet.aligned_feature_indices(s, tokens, len(banks[h]),
                                                                        model.config.frames_per_token)) for h, s in chunk]
            teacher = torch.stack([banks[h][i] for (h, _), i in zip(chunk, index)])
            ids = torch.stack([i + half_id[h] for (h, _), i in zip(chunk, index)])
            return clips, teacher, ids

        for clips, teacher, ids in read_batches(list(batched(items, p.step2_batch_size, rng)), read, workers):
            yield augment_batch(clips.to(device), aug), F.normalize(teacher.to(device), dim=2), ids.to(device)

    def loss_fn(batch):
        x, teacher, ids = batch
        mask = random_token_mask(len(x), tokens, p.alpha1, gen)
        mask = None if mask is None else mask.to(device)
        z = F.normalize(projector(model(x, mask).flatten(0, 1)), dim=1).view(len(x), tokens, dim)
        loss = distillation_loss(z, teacher, queue.features.clone(), p.lam, p.tau, p.tau_m, ids, queue.ids.clone())
        queue.enqueue(teacher.flatten(0, 1), ids.flatten())
        return loss

    params = list(model.parameters()) + list(projector.parameters())
    train_loop(params, batches, loss_fn, p.step2_epochs, n_steps(n_items, p.step2_batch_size),
               p.step2_lr * p.step2_batch_size / 256 * frames / 64, p.warmup_epochs, 1e-2, out / "log.jsonl")


STEPS = {1: step1, 2: step2}


# --------------------------------------------------------------------------- chaining


def check_sizes(p: Any, games: list[soccernet.Game], model: VideoTransformer) -> None:
    """Each step has at least one batch per epoch (checked before step 1)."""
    if 1 in p.steps:
        windows = len(_windows(games, model.config.frames_per_token))
        if windows < p.step1_batch_size:
            raise ConfigError(f"invalid value {p.step1_batch_size} for comedian.step1_batch_size: larger than the "
                              f"{windows} 1-s windows of comedian.splits {p.splits}")
    halves = sum(len(g.halves) for g in games)
    if 2 in p.steps and halves * p.step2_clips_per_half < p.step2_batch_size:
        raise ConfigError(f"invalid value {p.step2_batch_size} for comedian.step2_batch_size: larger than the "
                          f"{halves * p.step2_clips_per_half} clips of an epoch ({halves} halves x "
                          f"comedian.step2_clips_per_half {p.step2_clips_per_half})")


def step_identity(p: Any, step: int, previous: str, config: Any, games: list[soccernet.Game]) -> dict[str, Any]:
    """Everything step ``step``'s weights depend on (its folder is named by the hash of it)."""
    return {"step": step, "previous": previous, "settings": {k: getattr(p, k) for k in STEP_FIELDS[step]},
            "splits": list(p.splits), "backbone": config.model.backbone,
            "backbone_options": config.model.backbone_options, "seed": config.seed, "world_size": 1,
            "data": soccernet.fingerprint(games, p.features if step == 2 else None), "format": FORMAT}


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def run_pipeline(p: Any, config: Any, spec: Any, registries: Any, run_dir: Path, progress: bool = True) -> nn.Module:
    """Check the data, build the model, apply ``comedian.init``, run or reuse each step of
    ``comedian.steps`` in its hashed folder, write ``run_dir/backbone.pt``; returns the model."""
    from sslbench import folderlock
    from sslbench.engine import distributed as dist
    from sslbench.engine.trainer import build_backbone, pick_device, seed_everything
    from sslbench.spotting.checks import check_soccernet

    if dist.world_size() > 1:
        raise ConfigError("method 'comedian' trains in one process: run it without torchrun")
    root = config.data.root
    needs_bank = 2 in p.steps
    check_soccernet(root, frames=list(p.splits), features=p.features if needs_bank else None,
                    feature_splits=list(p.splits) if needs_bank else [])
    games = [g for split in p.splits for g in soccernet.load_games(root, split, features=None)]
    device = pick_device(config.train.device)
    seed_everything(config.seed)
    model = build_backbone(registries, config.model.backbone, spec.channels, config.model.backbone_options)
    check_sizes(p, games, model)
    previous = stable_hash({"init": initialisation.identity(p.init, model.config.spatial),
                            "backbone": config.model.backbone, "backbone_options": config.model.backbone_options,
                            "seed": config.seed})
    initialisation.apply(model, p.init)
    folders = {}
    for number in p.steps:
        identity = step_identity(p, number, previous, config, games)
        previous = stable_hash(identity)
        folder = run_dir.parent / f"comedian-step{number}-{_slug(config.model.backbone)}-{previous}"
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        with folderlock.hold(folder, f"COMEDIAN step {number} folder"):
            done = (folder / "backbone.pt").is_file()
            if done:
                model.load_state_dict(checkpoint.load(folder / "backbone.pt")["backbone"])
            else:
                (folder / "log.jsonl").unlink(missing_ok=True)  # an interrupted step starts again
                seed_everything(config.seed + number)  # the step's draws never depend on earlier steps
                STEPS[number](model, games, p, folder, device, reader_workers(config.data.num_workers),
                              config.seed + number)
                model.cpu()
                checkpoint.write_text(folder / "step.json", json.dumps(identity, indent=1, default=str))
                _save(model, config, spec, folder / "backbone.pt", number, previous)
        folders[number] = str(folder)
        if progress:
            print(f"comedian step {number}: {'reused' if done else f'{time.perf_counter() - t0:.0f}s'} -> {folder}",
                  file=sys.stderr)
    model.cpu()
    _save(model, config, spec, run_dir / "backbone.pt", p.steps[-1] if p.steps else 0, config.pretrain_hash(),
          {"steps": folders})
    return model


def _save(model: nn.Module, config: Any, spec: Any, path: Path, step: int, key: str,
          extra: dict[str, Any] | None = None) -> None:
    """A self-describing ``backbone.pt`` (:func:`sslbench.engine.checkpoint.backbone_record`)."""
    checkpoint.save({"backbone": model.state_dict(), "method": "comedian", "step": step, "pretrain_hash": key,
                     **checkpoint.backbone_record(config.model.backbone, config.model.backbone_options, spec.channels),
                     **(extra or {})}, path)
