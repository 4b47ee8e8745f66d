"""Pretraining loop: seeded, resumable, checkpointed every epoch, with a progress bar."""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..contract.augmentations import get_augmentation
from ..contract.modality import modality
from .plugin_checks import checked_backbone_options, learner_loss
from ..contract.errors import ConfigError, TrainingError
from . import checkpoint
from . import distributed as dist
from .data import epoch_generator, iterate_batches, steps_per_epoch
from .steptime import StepTimer, warn
from .tensorboard import Scalars
from .optim import build_optimizer, set_lr
from .schedules import warmup_cosine_lr

CHECKPOINT = "checkpoint.pt"
BACKBONE = "backbone.pt"
LOG = "log.jsonl"


class PretrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during a pretraining; its message says where it stopped and how to continue."""


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (every device)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"invalid value {name!r} for train.device: CUDA is not available here (use 'cpu' or 'auto')")
    return torch.device(name)


def build_backbone(registries: Any, name: str, in_chans: int, options: dict[str, Any]) -> nn.Module:
    """Build the registered backbone ``name`` (``prefix:variant`` for namespaces such as timm:)."""
    build = registries.backbones.get(name)
    variant = name.split(":", 1)[1] if ":" in name else ""
    module = build(variant, in_chans, **checked_backbone_options(name, build, options))
    if not hasattr(module, "num_features"):
        raise TypeError(f"backbone {name!r} returned a module without 'num_features'")
    return module


def _pretraining_split(method: Any, spec: Any) -> str:
    """Label-free methods pretrain on ``pretrain_split`` (STL-10's train+unlabeled); methods that
    need labels (the supervised baseline) on the labelled ``train_split``."""
    return spec.train_split if getattr(method, "needs_labels", False) else spec.pretrain_split


def _check_labels(method: Any, spec: Any, train_set: Any) -> None:
    """A method that needs one class per image refuses multi-label or unlabelled data up front."""
    if not getattr(method, "needs_labels", False):
        return
    name = getattr(method, "name", type(method).__name__)
    if getattr(train_set, "multilabel", False):
        raise ConfigError(f"method {name!r} needs one class label per image but dataset {spec.name!r} is "
                          f"multi-label: expected a single-label classification dataset")
    labels = getattr(train_set, "labels", None)
    if isinstance(labels, torch.Tensor) and labels.numel() and int(labels.min()) < 0:
        raise ConfigError(f"method {name!r} needs labels but split {spec.train_split!r} of dataset {spec.name!r} "
                          f"has unlabelled images (label -1): expected a labelled split")


@dataclass
class PretrainOutcome:
    """What a pretraining produced: the trained learner (online backbone first) and its timing."""

    learner: nn.Module
    seconds: float
    steps: int
    final_loss: float | None
    resumed_from: int | None

    @property
    def backbone(self) -> nn.Module:
        return self.learner.backbone


def pretrain(config: Any, method: Any, spec: Any, registries: Any, run_dir: Path, resume: bool = False,
             progress: bool = True, stop_after_epochs: int | None = None, train_set: Any = None) -> PretrainOutcome:
    """Train ``method`` on ``spec``'s pretraining split; return the online backbone.

    ``stop_after_epochs`` ends the loop early as an interruption would (after that epoch's
    checkpoint, without writing the final backbone); ``resume=True`` then continues exactly from
    ``run_dir``'s checkpoint, and ``log.jsonl`` keeps only the epochs that checkpoint holds.
    Ctrl-C raises :class:`PretrainingInterrupted` naming the epoch it stopped in. ``train_set``:
    the image pretraining split when the run's preflight already opened it (not loaded twice).
    """
    seed_everything(config.seed)
    device = pick_device(config.train.device)
    steps = modality(getattr(spec, "modality", "image"))  # images, clips ...: sslbench.contract.modality
    view_specs = [get_augmentation(n) for n in method.view_augmentations()]
    if steps.pretraining_split is not None:  # videos: one clip per global view
        train_set = steps.pretraining_split(spec, config, view_specs)
    else:
        if train_set is None:  # else opened (and checked) by the run's preflight
            from .splits import open_split

            train_set = open_split(spec, config, _pretraining_split(method, spec), config.data.root)
        _check_labels(method, spec, train_set)
    from .splits import class_count

    num_classes = class_count(spec, train_set)
    backbone = build_backbone(registries, config.model.backbone, spec.channels, config.model.backbone_options)
    learner = method.build(backbone, num_classes).to(device)
    channels_last = config.train.channels_last and device.type in ("cpu", "cuda") and steps.channels_last
    if channels_last:
        learner = learner.to(memory_format=torch.channels_last)

    world = dist.world_size()
    if config.train.batch_size % world:
        raise ConfigError(f"invalid value {config.train.batch_size} for train.batch_size: the global batch must "
                          f"divide evenly over the {world} processes")
    batch = config.train.batch_size // world  # train.batch_size is the global batch
    per_epoch = steps_per_epoch(len(train_set), batch)
    if per_epoch == 0:
        raise ConfigError(
            f"invalid value {config.train.batch_size} for train.batch_size: larger than the {len(train_set)} "
            f"training images of {spec.name!r}"
        )
    total = per_epoch * config.train.epochs
    if config.train.max_steps:
        total = min(total, config.train.max_steps)
    warmup = int(round(config.train.warmup_epochs * per_epoch))
    base_lr = config.train.scaled_lr()
    optimizer = build_optimizer(config.train.optimizer, learner, base_lr, config.train.weight_decay, config.train.sgd_momentum)
    views = steps.step("pretraining_views")(spec, config, view_specs, device, channels_last)
    source = steps.step("training_source")(train_set, view_specs, config)  # images: views cut in the loader workers
    scalars = Scalars(run_dir if config.train.tensorboard and dist.is_main() else None)
    timer = StepTimer()
    model: nn.Module = learner
    if dist.is_distributed():
        if config.train.sync_bn:
            learner = nn.SyncBatchNorm.convert_sync_batchnorm(learner)
        model = nn.parallel.DistributedDataParallel(learner, device_ids=[device.index] if device.type == "cuda" else None)

    scaler = torch.amp.GradScaler(device.type, enabled=config.train.precision == "fp16" and device.type == "cuda")
    start_epoch, step, resumed_from = 0, 0, None
    ckpt_path = run_dir / CHECKPOINT
    if resume and ckpt_path.is_file():
        state = _load_checkpoint(ckpt_path)
        _check_checkpoint_identity(state, config.pretrain_hash(), ckpt_path)
        learner.load_state_dict(state["learner"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state.get("scaler", {}))
        start_epoch, step = int(state["epoch"]), int(state["step"])
        resumed_from = start_epoch
        _restore_rng(state["rng"])

    t0 = time.perf_counter()
    final_loss: float | None = None
    log_path = run_dir / LOG
    if dist.is_main():
        truncate_log(log_path, start_epoch)
    bar = _progress(total, step, f"pretrain {method.name}", progress and dist.is_main())
    learner.train()
    if config.train.compile:
        model = torch.compile(model)
    autocast = _autocast(config.train.precision, device)
    # a host-device sync per step costs GPU time: check the loss every few steps there (every step on CPU)
    check_every = 1 if device.type == "cpu" else 25
    epoch = saved_epoch = start_epoch  # saved_epoch: the epochs the checkpoint on disk holds
    try:
        while epoch < config.train.epochs and step < total:
            aug_gen = torch.Generator(device=device)
            aug_gen.manual_seed(int(epoch_generator(config.seed, epoch, salt=1).initial_seed()) + dist.rank())
            loss_sum, loss_count, checked_from = torch.zeros((), device=device), 0, step
            timer.wait_start()
            for images, labels in iterate_batches(source, batch, True, config.seed, epoch, True, config.data.num_workers):
                timer.got_batch()
                if step >= total:
                    break
                set_lr(optimizer, warmup_cosine_lr(step, total, warmup, base_lr, config.train.min_lr))
                method.on_step(step, total)
                with autocast:
                    loss = learner_loss(model(views.train_views(images, aug_gen), labels.to(device)), method.name)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                loss_sum += loss.detach().float()
                loss_count += 1
                if (step + 1 - checked_from) % check_every == 0:
                    _check_finite(loss_sum, checked_from, step, epoch, ckpt_path)
                    checked_from = step + 1
                    bar.set_postfix(loss=f"{float(loss.detach()):.3f}", epoch=epoch, data=f"{timer.epoch.fraction:.0%}")
                    scalars.step(step, {"loss": float(loss.detach()), "lr": optimizer.param_groups[0]["lr"],
                                        "momentum": getattr(learner, "current_momentum", None),
                                        "lambda": getattr(method, "lam", None), "data_wait": timer.epoch.fraction})
                scaler.step(optimizer)
                scaler.update()
                learner.after_step(step, total)
                step += 1
                bar.update(1)
                warn(timer.step_done(len(labels)))
            _check_finite(loss_sum, checked_from, step - 1, epoch, ckpt_path)
            epoch += 1
            times, line = timer.end_epoch(epoch)
            warn(line)
            scalars.step(step, times.summary(dist.world_size()))
            if loss_count:
                final_loss = float(dist.all_reduce_mean(loss_sum / loss_count))
            if dist.is_main():
                with open(log_path, "a") as fh:
                    fh.write(json.dumps({"epoch": epoch, "step": step, "loss": final_loss,
                                         "lr": optimizer.param_groups[0]["lr"], **times.summary(dist.world_size())}) + "\n")
                checkpoint.save({"learner": learner.state_dict(), "optimizer": optimizer.state_dict(),
                                 "scaler": scaler.state_dict(), "epoch": epoch, "step": step, "rng": _rng_state(),
                                 "pretrain_hash": config.pretrain_hash()}, ckpt_path)
            saved_epoch = epoch
            if stop_after_epochs is not None and epoch >= stop_after_epochs:
                bar.close()
                scalars.close()
                return PretrainOutcome(learner, time.perf_counter() - t0, step, final_loss, resumed_from)
    except KeyboardInterrupt:
        bar.close()
        scalars.close()
        raise PretrainingInterrupted(_interrupted_message(epoch, config.train.epochs, saved_epoch)) from None
    bar.close()
    scalars.close()
    dist.broadcast_buffers(learner)  # BN statistics are per rank: every rank ends with rank 0's
    if dist.is_main():
        checkpoint.save({"backbone": learner.backbone.state_dict(), "pretrain_hash": config.pretrain_hash(),
                         "method": method.name, **checkpoint.backbone_record(
                             config.model.backbone, config.model.backbone_options, spec.channels)}, run_dir / BACKBONE)
        if not config.train.keep_checkpoint:  # backbone.pt is all that evaluation needs
            ckpt_path.unlink(missing_ok=True)
    return PretrainOutcome(learner, time.perf_counter() - t0, step, final_loss, resumed_from)


def _interrupted_message(epoch: int, epochs: int, saved_epoch: int) -> str:
    """Where a Ctrl-C stopped the pretraining and what the next run starts from."""
    where = f"pretraining stopped in epoch {min(epoch + 1, epochs)}/{epochs}"
    if saved_epoch == 0:
        return f"{where} before its first checkpoint: run the same command again to start it over"
    return (f"{where}; its checkpoint holds {saved_epoch} finished epoch(s): run the same command again "
            f"(with or without --resume) to continue from epoch {saved_epoch + 1}")


def _load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        state = checkpoint.load(path)
    except Exception as exc:  # unpickling errors come in many types; torch's text advises unsafe loading
        raise TrainingError(f"cannot read checkpoint {str(path)!r} to continue its pretraining ({type(exc).__name__}): "
                            f"expected a checkpoint.pt written by sslbench; remove it to start over") from None
    if not isinstance(state, dict) or "learner" not in state:
        raise TrainingError(f"checkpoint {str(path)!r} holds no pretraining state: expected a checkpoint.pt "
                            f"written by sslbench; remove it to start over")
    return state


def _check_checkpoint_identity(state: dict[str, Any], pretrain_hash: str, path: Path) -> None:
    """Resume only the pretraining a checkpoint belongs to (a copied or edited folder is refused)."""
    found = state.get("pretrain_hash")
    if found != pretrain_hash:
        raise TrainingError(f"checkpoint {str(path)!r} belongs to pretraining {found!r}, not {pretrain_hash!r}: "
                            f"expected the checkpoint of this config; remove it to start over")


def truncate_log(path: Path, epochs: int) -> None:
    """Keep the ``log.jsonl`` lines of epochs ``<= epochs`` (a resume logs the rest again);
    a line cut short by a kill is dropped."""
    if not path.is_file():
        return
    kept, changed = [], False
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
            keep = isinstance(entry, dict) and int(entry.get("epoch", 0)) <= epochs
        except (ValueError, TypeError):
            keep = False
        if keep:
            kept.append(line + "\n")
        else:
            changed = True
    if changed:
        checkpoint.write_text(path, "".join(kept))


def _check_finite(loss_sum: torch.Tensor, first: int, last: int, epoch: int, ckpt_path: Path) -> None:
    """Stop on a non-finite loss, naming the steps and the last good checkpoint."""
    value = float(loss_sum)
    if math.isfinite(value):
        return
    where = f"step {last}" if first >= last else f"steps {first}-{last}"
    raise TrainingError(
        f"non-finite loss {value} at {where} (epoch {epoch}); the last good checkpoint is "
        f"{ckpt_path if ckpt_path.exists() else 'not written yet'}; lower train.lr or check the data"
    )


def _autocast(precision: str, device: torch.device) -> Any:
    """Mixed precision: bf16 or fp16 autocast (fp16 with a GradScaler on CUDA); fp32 is a no-op."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def _load_size(config: Any) -> int:
    """Variable-size images are stored at 8/7 of the input size (256 for 224) before cropping."""
    return int(round(config.data.input_size * 8 / 7))


def _rng_state() -> dict[str, Any]:
    """Every RNG the loop touches, in types ``torch.load(weights_only=True)`` accepts."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    return {"torch": torch.get_rng_state(), "numpy": [torch.from_numpy(keys.astype(np.int64)), int(pos),
            int(has_gauss), float(gauss)], "python": [version, list(py_state), py_gauss]}


def _restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, py_state, py_gauss = state["python"]
    random.setstate((version, tuple(py_state), py_gauss))


class _NoBar:
    def update(self, n: int) -> None: ...
    def set_postfix(self, **kw: Any) -> None: ...
    def close(self) -> None: ...


def _progress(total: int, initial: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True, leave=False)
