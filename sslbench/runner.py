"""``sslbench run``: resolve the effective config, pretrain (or reuse), evaluate, store results."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from .config import (SECTIONS, TOP_LEVEL_KEYS as TOP_LEVEL, ConfigError, RunConfig, build_dataclass, launch_world_size,
                     load_yaml, merge, top_level_section_error, unused_keys, warn_unused)
from .contract.errors import SSLBenchError
from .contract.loading import Registries, registries

#: keys of a dumped config that are facts of the run, not settings: accepted in --config, then ignored
FACTS = ("trains", "world_size")


def resolve_config(method: str, dataset: str, protocols: list[str], config_file: str | None = None,
                   sets: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None,
                   regs: Registries | None = None, recorded_model: Mapping[str, Any] | None = None) -> RunConfig:
    """Layer dataset defaults < method presets < the backbone a ``--checkpoint`` records
    (``recorded_model``: ``backbone`` and ``backbone_options``, replacing the presets') < --config
    file < --set < CLI flags, then validate.

    Every name is resolved through the registries and every value checked here, before any work.
    """
    regs = regs or registries()
    method_cls = regs.methods.get(method)
    spec = regs.datasets.get(dataset)
    protocol_classes = {name: regs.protocols.get(name) for name in protocols}
    layered: dict[str, Any] = {}
    for layer in (spec.defaults, method_cls.presets.get("*", {}), method_cls.presets.get(dataset, {})):
        layered = merge(layered, layer)
    if recorded_model:
        layered = {**layered, "model": {**layered.get("model", {}), **recorded_model}}
    user: dict[str, Any] = {}
    if config_file:
        user = merge(user, _sections_only(load_yaml(config_file), f"config file {config_file!r}"))
    user = merge(user, _sections_only(sets or {}, "--set"))
    user = merge(user, overrides or {})
    for key in user:
        if key in TOP_LEVEL and isinstance(user[key], Mapping):  # e.g. a --config file's method: {lambda: 1.5}
            raise top_level_section_error(key, f"{key}.{next(iter(user[key]), '')}")
        if key in SECTIONS or key in TOP_LEVEL or key in FACTS or key == method or key in regs.protocols:
            continue
        import difflib

        valid = [*TOP_LEVEL, *SECTIONS, method, *protocols]
        close = difflib.get_close_matches(key, valid, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown config section {key!r}{hint} (valid: {', '.join(valid)})")
    user_model = user.get("model") or {}
    if "backbone" in user_model and user_model["backbone"] != layered.get("model", {}).get("backbone"):
        # options in presets belong to the preset's backbone (e.g. small_stem for resnet18): another
        # backbone starts from none, plus the user's own
        layered = {**layered, "model": {**layered.get("model", {}), "backbone_options": {}}}
    values = merge(layered, user)

    seed = values.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:  # torch and SQLite: int64
        raise ConfigError(f"invalid value {seed!r} for seed: expected an integer from 0 to 2**63 - 1")
    eval_dataset = values.get("eval_dataset")
    sections = {name: build_dataclass(cls, values.get(name), name) for name, cls in SECTIONS.items()}
    method_params = build_dataclass(method_cls.Params, values.get(method), method)
    protocol_params = {name: build_dataclass(cls.Params, values.get(name), name) for name, cls in protocol_classes.items()}
    config = RunConfig(method=method, dataset=dataset, protocols=list(protocols), seed=seed,
                       eval_dataset=eval_dataset, method_params=method_params, protocol_params=protocol_params,
                       trains=bool(getattr(method_cls, "trains", True)), world_size=launch_world_size(),
                       unused=unused_keys(method_cls), **sections)
    warn_unused(user, config.unused, method)
    _check_names(config, regs, method_cls, spec)
    if config.trains and config.train.epochs == 0 and "train.epochs" not in config.unused:
        raise ConfigError(f"invalid value 0 for train.epochs: method {method!r} pretrains at least 1 epoch "
                          f"(method 'random' evaluates an untrained backbone)")
    return config


def _sections_only(layer: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``layer`` with every section a mapping (an empty one dropped): ``train: 5`` is an error, not
    silently replaced by a later layer's ``train`` keys (``--epochs``)."""
    out = {}
    for key, value in layer.items():
        if key in TOP_LEVEL or key in FACTS or isinstance(value, Mapping):
            out[key] = value
        elif value is not None:
            raise ConfigError(f"{source}: invalid value {value!r} for {key}: expected a mapping of {key}.* keys")
    return out


def _check_names(config: RunConfig, regs: Registries, method_cls: Any, spec: Any) -> None:
    from .contract.augmentations import get_augmentation

    _check_backbone_modality(regs, config.model.backbone, spec)
    for name in (config.ssl.online_aug, config.ssl.target_aug):
        get_augmentation(name)
    accepts = getattr(method_cls, "accepts", lambda modality: modality == method_cls.modality)
    if not accepts(spec.modality):
        raise ConfigError(
            f"method {config.method!r} works on {method_cls.modality} data but dataset {spec.name!r} is "
            f"{spec.modality}: pick a {method_cls.modality} dataset"
        )
    if config.eval_dataset is not None:
        eval_spec = regs.datasets.get(config.eval_dataset)
        if eval_spec.modality != spec.modality:
            raise ConfigError(f"eval_dataset {eval_spec.name!r} is {eval_spec.modality} data but {spec.name!r} is "
                              f"{spec.modality}: expected the same modality")
        if eval_spec.channels != spec.channels:
            raise ConfigError(f"eval_dataset {eval_spec.name!r} has {eval_spec.channels} channels but "
                              f"{spec.name!r} has {spec.channels}: expected matching channels")
    _check_protocol_modalities(config, regs, regs.datasets.get(config.eval_dataset) if config.is_transfer else spec)
    if spec.needs_root and not config.data.root:
        raise ConfigError(f"dataset {spec.name!r} needs a root folder: pass --data-root PATH"
                          + (f" holding {spec.layout}" if spec.layout else ""))
    if config.data.eval_root and not config.is_transfer:
        raise ConfigError(f"data.eval_root {config.data.eval_root!r} is only used with --eval-dataset naming a "
                          f"dataset other than {config.dataset!r}: expected --data-root for {config.dataset!r}")
    if config.is_transfer and not config.evaluation_root():
        eval_spec = regs.datasets.get(config.eval_dataset)
        if eval_spec.needs_root:
            raise ConfigError(f"eval_dataset {eval_spec.name!r} needs a root folder: pass --eval-data-root PATH"
                              + (f" holding {eval_spec.layout}" if eval_spec.layout else ""))



def backbone_modality(build: Any) -> str:
    """What a registered backbone builder takes: ``build.modality`` ("video" for clips, "soccernet" for
    COMEDIAN's frame windows), else "image"."""
    return getattr(build, "modality", "image")


def _check_backbone_modality(regs: Registries, name: str, spec: Any) -> None:
    """An image backbone on clips (or the reverse) fails here, naming backbones that fit."""
    have = backbone_modality(regs.backbones.get(name))
    if have != spec.modality:
        fits = [e.name for e in regs.backbones if backbone_modality(e.obj) == spec.modality]
        raise ConfigError(f"backbone {name!r} takes {have} input but dataset {spec.name!r} is {spec.modality} "
                          f"data: expected {'an' if spec.modality[0] in 'aeiou' else 'a'} {spec.modality} backbone "
                          f"({', '.join(fits) or 'none registered'})")


def _check_protocol_modalities(config: RunConfig, regs: Registries, spec: Any) -> None:
    """A protocol asked to evaluate data of a modality it does not declare (tamap on images) fails
    here, before any work, naming datasets that fit (``Protocol.modalities``; none declared: any)."""
    for name in config.protocols:
        cls = regs.protocols.get(name)
        if getattr(cls, "accepts", lambda modality: True)(spec.modality):
            continue
        wanted = " or ".join(cls.modalities)
        fits = [e.name for e in regs.datasets if e.obj.modality in cls.modalities][:3]
        raise ConfigError(f"protocol {name!r} evaluates {wanted} data but dataset {spec.name!r} is {spec.modality}: "
                          f"expected a dataset of modality {wanted}"
                          + (f" (e.g. {', '.join(fits)})" if fits else ""))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def pretrain_dir(output_dir: Path, config: RunConfig) -> Path:
    """Where a pretraining's checkpoints live: one folder per pretraining hash."""
    name = f"{config.method}-{config.dataset}-{_slug(config.model.backbone)}-{config.pretrain_hash()}"
    return output_dir / "pretrain" / name


@dataclass
class RunOutcome:
    config: RunConfig
    metrics: dict[str, list[Any]]
    run_dir: Path
    store_path: Path
    reused: bool
    pretrain_seconds: float
    eval_seconds: float
    checkpoint: Path | None = None
    outputs: dict[str, Path] = field(default_factory=dict)  # folders protocols wrote (e.g. tamap's predictions)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _versions(method_cls: Any) -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("sslbench", "torch", "torchvision", "timm"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    out["method_module"] = method_cls.__module__
    return out


def _hardware() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.machine()} {os.cpu_count()} CPUs, {gpu}"


#: Evaluated splits of at most this many items have every file decoded by :func:`preflight`
#: (about 2 ms a JPEG, over 8 threads); larger ones have their first items checked.
VERIFY_LIMIT = 200_000


@dataclass
class Opened:
    """The splits :func:`preflight` opened and checked, handed on so that none is loaded twice."""

    pretrain: Any = None  # the image pretraining split (video splits are cheap to list again)
    evaluation: dict[str, Any] = field(default_factory=dict)  # split -> dataset of the evaluated dataset


def preflight(config: RunConfig, output_dir: Path, regs: Registries,
              checkpoint_path: str | Path | None = None, check_store: bool = True) -> Opened:
    """Everything the run will read, checked before its first training step, so that a bad split
    fails in seconds rather than after the pretraining: the pretraining split (when it will be
    trained on) and every split each protocol reads (:meth:`sslbench.contract.protocol.Protocol.splits`, on
    ``--eval-dataset`` for a transfer) are opened and their first items checked against the
    dataset contract, every file of the evaluated splits decoded when the dataset can (``verify()``,
    up to :data:`VERIFY_LIMIT` items: ImageNet's val, not its 1.28M training images); each
    protocol's own :meth:`~sslbench.contract.protocol.Protocol.preflight`; the results store's
    ``PRAGMA quick_check``. (Roots, backbone options and a writable output folder are checked just
    before.) Under torchrun the other ranks only open the pretraining split."""
    from .engine.splits import open_split
    from .engine import distributed as dist
    from .engine.trainer import BACKBONE, _pretraining_split
    from .store import check

    spec = regs.datasets.get(config.dataset)
    eval_spec = regs.datasets.get(config.eval_dataset or config.dataset)
    _warn_ignored_roots(config, spec, eval_spec)
    if check_store and dist.is_main():  # a suite job hands its rows to a sink instead (no SQLite over NFS)
        check(output_dir / "results.sqlite")
    opened = Opened()
    method_cls = regs.methods.get(config.method)
    pretrain_split = _pretraining_split(method_cls, spec)
    if checkpoint_path is None and method_cls.trains and not (pretrain_dir(output_dir, config) / BACKBONE).is_file():
        dataset = open_split(spec, config, pretrain_split, config.data.root)
        opened.pretrain = None if spec.modality == "video" else dataset
    if not dist.is_main():
        return opened
    root = config.evaluation_root()
    for name in config.protocols:
        protocol = regs.protocols.get(name)(config.protocol_params[name])
        splits = protocol.splits(eval_spec) if hasattr(protocol, "splits") else (eval_spec.train_split,
                                                                                  eval_spec.test_split)
        for split in (s for s in splits if s not in opened.evaluation):
            if opened.pretrain is not None and not config.is_transfer and split == pretrain_split:
                opened.evaluation[split] = opened.pretrain  # one copy in memory
                continue
            opened.evaluation[split] = dataset = open_split(eval_spec, config, split, root)
            if callable(getattr(dataset, "verify", None)) and len(dataset) <= VERIFY_LIMIT:
                dataset.verify()  # every file of what will be evaluated, not only the first items
        if getattr(protocol, "single_label", False) and any(getattr(opened.evaluation.get(s), "multilabel", False)
                                                            for s in splits):
            raise ConfigError(f"protocol {name!r} needs single-label classes but dataset {eval_spec.name!r} is "
                              f"multi-label: expected --protocol lowshot or linear (per-class classifiers, mAP)")
        if hasattr(protocol, "preflight"):
            protocol.preflight(eval_spec, config, root)
    return opened


def _warn_ignored_roots(config: RunConfig, spec: Any, eval_spec: Any) -> None:
    """A root given to a dataset that reads none (digits) is said to be ignored, not silently dropped."""
    import logging

    log = logging.getLogger("sslbench")
    read_for_transfer = config.is_transfer and not config.data.eval_root and eval_spec.needs_root
    if config.data.root and not spec.needs_root and not read_for_transfer:
        log.warning("sslbench: dataset %r reads no data root: --data-root %s is ignored", spec.name, config.data.root)
    if config.is_transfer and config.data.eval_root and not eval_spec.needs_root:
        log.warning("sslbench: dataset %r reads no data root: --eval-data-root %s is ignored", eval_spec.name,
                    config.data.eval_root)


def run(config: RunConfig, output_dir: str | Path, resume: bool = False, progress: bool = True,
        regs: Registries | None = None, checkpoint_path: str | Path | None = None,
        sink: Callable[[list[Any]], None] | None = None) -> RunOutcome:
    """Pretrain (or reuse the finished pretraining with the same hash), evaluate, store results.

    With ``checkpoint_path`` no pretraining happens: the backbone's weights come from that file
    (sslbench's ``backbone.pt`` or a plain state_dict) and its sha256 identifies the weights.
    An unfinished pretraining always continues from its last checkpoint (``resume`` is implied and
    kept for compatibility). With ``sink``, the result rows go to ``sink(rows)`` instead of the
    SQLite store, which is then never opened (suite jobs on a shared filesystem).
    """
    from .atomic import remove_stale_temps
    from .engine import checkpoint
    from .engine import distributed as dist
    from .engine.evaluation import EvalContext, load_backbone_checkpoint
    from .engine.trainer import BACKBONE, build_backbone, pick_device, seed_everything
    from .contract.protocol import Metric
    from .engine.plugin_checks import checked_metrics, plugin_code
    from .store import ResultRow, insert

    regs = regs or registries()
    output_dir = Path(output_dir)
    spec = regs.datasets.get(config.dataset)
    _check_root_exists(spec, config.data.root)
    if config.is_transfer:
        _check_root_exists(regs.datasets.get(config.eval_dataset), config.evaluation_root())
    _check_backbone_options(regs, config, spec)
    device = pick_device(config.train.device)  # `cuda` on a CPU machine: before any data is read
    if checkpoint_path is None:
        _check_world_size(config, dist.world_size())
        from .folderlock import lock_wait_seconds

        lock_wait_seconds()  # a bad $SSLBENCH_LOCK_WAIT, before the pretraining folder exists
    else:  # a missing, unreadable or mismatched --checkpoint fails before any data is read
        loaded = build_backbone(regs, config.model.backbone, spec.channels, config.model.backbone_options)
        loaded_id = load_backbone_checkpoint(loaded, checkpoint_path)
    _ensure_writable(output_dir)
    opened = preflight(config, output_dir, regs, checkpoint_path, check_store=sink is None)
    if dist.is_main():  # leftovers of writes killed mid-way (a write in progress keeps its temp locked)
        for folder in (output_dir, output_dir / "features"):
            remove_stale_temps(folder)
    method_cls = regs.methods.get(config.method)
    method = method_cls(config.method_params, config)
    run_dir = pretrain_dir(output_dir, config) if checkpoint_path is None else Path(checkpoint_path).parent
    if checkpoint_path is None:
        run_dir.mkdir(parents=True, exist_ok=True)
    if dist.is_main() and checkpoint_path is None:
        checkpoint.write_text(run_dir / "config.yaml", yaml.safe_dump(config.pretrain_dict(), sort_keys=False))

    backbone_file = run_dir / BACKBONE
    reused = backbone_file.is_file() or checkpoint_path is not None
    pretrain_seconds = 0.0
    weights_id = config.pretrain_hash()
    if checkpoint_path is not None:
        backbone, weights_id = loaded, loaded_id
    elif reused:
        backbone = _load_pretrained(regs, config, spec, backbone_file)
    elif method.trains:
        backbone, pretrain_seconds, reused = _pretrain_or_reuse(config, method, spec, regs, run_dir, progress,
                                                                opened.pretrain)
        opened.pretrain = None  # the evaluation keeps its own reference when it reads the same split
    else:
        seed_everything(config.seed)
        backbone = build_backbone(regs, config.model.backbone, spec.channels, config.model.backbone_options)
        if dist.is_main():
            checkpoint.save({"backbone": backbone.state_dict(), "pretrain_hash": config.pretrain_hash(),
                             "method": config.method, **checkpoint.backbone_record(
                                 config.model.backbone, config.model.backbone_options, spec.channels)}, backbone_file)
    backbone = backbone.to(device)
    store_path = output_dir / "results.sqlite"
    if not dist.is_main():  # under torchrun, rank 0 evaluates and writes; the others wait for it
        dist.barrier()
        return RunOutcome(config, {}, run_dir, store_path, reused, pretrain_seconds, 0.0,
                          Path(checkpoint_path) if checkpoint_path is not None else None)

    eval_spec = regs.datasets.get(config.eval_dataset or config.dataset)
    ctx = EvalContext(backbone=backbone, spec=eval_spec, config=config, weights_id=weights_id,
                      device=device, cache_dir=output_dir / "features", progress=progress,
                      _datasets=opened.evaluation)
    metrics: dict[str, list[Metric]] = {}
    rows: list[ResultRow] = []
    t0 = time.perf_counter()
    versions, hardware, commit = _versions(method_cls), _hardware(), _git_commit()
    def keep(rows: list[ResultRow]) -> None:
        if sink is not None:  # e.g. a suite cell's rows file (sslbench.suites.results)
            sink(rows)
        else:
            insert(store_path, rows, spill_dir=run_dir)  # a store that cannot be written: rows kept in run_dir

    for name in config.protocols:
        protocol = regs.protocols.get(name)(config.protocol_params[name])
        t = time.perf_counter()
        try:
            with plugin_code("protocol", name):
                result = checked_metrics(protocol.evaluate(ctx), name)
        except BaseException as exc:
            if rows:  # the protocols that finished keep their rows (results are never lost)
                keep(rows)
                if isinstance(exc, SSLBenchError) and exc.args:
                    exc.args = (f"{exc} (the rows of {', '.join(metrics)} are {'kept' if sink else 'stored'})",
                                *exc.args[1:])
            raise
        seconds = time.perf_counter() - t
        metrics[name] = result
        for m in result:
            rows.append(ResultRow(method=config.method, dataset=config.dataset, eval_dataset=eval_spec.name,
                                  backbone=config.model.backbone, protocol=name, metric=m.name, value=m.value,
                                  higher_is_better=m.higher_is_better, seed=config.seed,
                                  config_hash=config.config_hash(), pretrain_hash=weights_id,
                                  config=config.to_dict(), git_commit=commit, versions=versions, hardware=hardware,
                                  pretrain_seconds=pretrain_seconds, eval_seconds=seconds,
                                  world_size=dist.world_size()))
    eval_seconds = time.perf_counter() - t0
    keep(rows)
    dist.barrier()
    return RunOutcome(config, metrics, run_dir, store_path, reused, pretrain_seconds, eval_seconds,
                      Path(checkpoint_path) if checkpoint_path is not None else None, dict(ctx.outputs))


def _pretrain_or_reuse(config: RunConfig, method: Any, spec: Any, regs: Registries, run_dir: Path,
                       progress: bool, train_set: Any = None) -> tuple[Any, float, bool]:
    """(backbone, seconds, reused): pretrain into ``run_dir`` holding its lock, continuing from its
    checkpoint; reuse the weights a concurrent run finished while this one waited for the lock.
    ``train_set``: the pretraining split as the preflight opened it."""
    import contextlib

    from . import folderlock
    from .atomic import remove_if_unlocked, remove_stale_temps, stale_temps
    from .engine import distributed as dist
    from .engine.trainer import BACKBONE, CHECKPOINT, LOG, pretrain

    lock = folderlock.hold(run_dir, "pretraining folder") if dist.is_main() else contextlib.nullcontext()
    with lock:
        if dist.is_main():
            remove_stale_temps(run_dir)  # config.yaml's temps (written without the lock): only old ones
            for tmp in stale_temps(run_dir, min_age_s=0):  # files written under the lock: a killed writer's, any age
                if tmp.name.startswith(tuple(f".{name}." for name in (BACKBONE, CHECKPOINT, LOG))):
                    remove_if_unlocked(tmp)
        if (run_dir / BACKBONE).is_file():
            return _load_pretrained(regs, config, spec, run_dir / BACKBONE), 0.0, True
        t0 = time.perf_counter()
        try:
            own = method.pretrain(run_dir, spec, regs, progress)  # a pipeline of its own (COMEDIAN)
            if own is not None:
                return own, time.perf_counter() - t0, False
            outcome = pretrain(config, method, spec, regs, run_dir, resume=True, progress=progress,
                               train_set=train_set)
        except SSLBenchError:
            if dist.is_main():
                _drop_unstarted(run_dir)
            raise
        return outcome.backbone, outcome.seconds, False


def _drop_unstarted(run_dir: Path) -> None:
    """A pretraining refused before it wrote anything (batch larger than the split, a plugin's bad
    loss at step 1) leaves no folder behind: called under the folder's lock."""
    from .folderlock import LOCK_NAME

    try:
        names = {p.name for p in run_dir.iterdir()}
        if names <= {"config.yaml", LOCK_NAME}:
            for name in sorted(names):
                (run_dir / name).unlink(missing_ok=True)
            run_dir.rmdir()
    except OSError:  # a concurrent writer or a permission: keep the folder (`sslbench cache` shows it)
        pass


def _load_pretrained(regs: Registries, config: RunConfig, spec: Any, path: Path) -> Any:
    """The backbone of a finished pretraining (its ``backbone.pt``)."""
    from .engine import checkpoint
    from .engine.trainer import build_backbone

    backbone = build_backbone(regs, config.model.backbone, spec.channels, config.model.backbone_options)
    backbone.load_state_dict(checkpoint.load(path)["backbone"])
    return backbone


def _check_backbone_options(regs: Registries, config: RunConfig, spec: Any) -> None:
    """Bad ``model.backbone_options`` fail before a run folder exists: the backbone is built once on
    the meta device (shapes only: no memory, no initialisation cost)."""
    import torch

    from .engine.trainer import build_backbone

    try:
        with torch.device("meta"):
            build_backbone(regs, config.model.backbone, spec.channels, config.model.backbone_options)
    except ConfigError:
        raise
    except Exception:  # noqa: BLE001 - a builder that needs real tensors, or bad options: built once for real
        try:
            build_backbone(regs, config.model.backbone, spec.channels, config.model.backbone_options)
        except SSLBenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. {width: -4}: a negative dimension deep in torch
            detail = " ".join(str(exc).split())[:200]
            raise ConfigError(f"invalid model.backbone_options {config.model.backbone_options} for backbone "
                              f"{config.model.backbone!r}: building it failed ({type(exc).__name__}: {detail}): "
                              f"expected options it accepts (see `sslbench list backbones`)") from None


def _check_world_size(config: RunConfig, actual: int) -> None:
    """A training config resolved for another number of processes would name another pretraining:
    the world size is part of the pretraining's identity (:meth:`RunConfig.pretrain_hash`)."""
    if config.trains and config.world_size != actual:
        raise ConfigError(f"config resolved for world size {config.world_size} but {actual} process(es) run it: "
                          f"expected resolve_config in the processes torchrun launched (it reads WORLD_SIZE)")


def _check_root_exists(spec: Any, root: str | None) -> None:
    """A missing or unreadable dataset root fails before anything is written, naming the expected layout."""
    from .contract.errors import DatasetError

    if not (spec.needs_root and root):
        return
    path = Path(root).expanduser()
    expected = "expected a folder" + (f" with {spec.layout}" if spec.layout else "")
    if not path.is_dir():
        problem = "is not a folder" if path.exists() else "does not exist"
        raise DatasetError(f"dataset root {root!r} for {spec.name!r} {problem}: {expected}")
    if not os.access(path, os.R_OK | os.X_OK):
        raise DatasetError(f"dataset root {root!r} for {spec.name!r} is not readable: {expected} that this user can read")


def _ensure_writable(output_dir: Path) -> None:
    from .contract.errors import SSLBenchError

    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        probe = output_dir / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise SSLBenchError(f"output directory {str(output_dir)!r} is not writable: {exc.strerror or exc}") from None


#: metrics of one protocol shown in the summary line (the rest are in the store)
SUMMARY_METRICS = 12


def summary_line(outcome: RunOutcome) -> str:
    """One line: what ran, the headline numbers, the time, and where the outputs went."""
    c = outcome.config
    parts = []
    for protocol, metrics in outcome.metrics.items():
        shown = ", ".join(f"{m.name} {m.value:.2f}" for m in metrics[:SUMMARY_METRICS])
        more = f" (+{len(metrics) - SUMMARY_METRICS} more in the store)" if len(metrics) > SUMMARY_METRICS else ""
        parts.append(f"{protocol} {shown}{more}")
    pre = "reused pretraining" if outcome.reused else f"pretrain {outcome.pretrain_seconds:.0f}s"
    if outcome.checkpoint is not None:
        pre = f"weights from {outcome.checkpoint}"
    return (f"{c.method} on {c.dataset} ({c.model.backbone}, seed {c.seed}): {'; '.join(parts)} | {pre}, "
            f"eval {outcome.eval_seconds:.0f}s | outputs {outcome.run_dir}"
            + "".join(f" | {name} outputs {folder}" for name, folder in outcome.outputs.items())
            + f" | results {outcome.store_path}")


def config_as_yaml(config: RunConfig) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False)

