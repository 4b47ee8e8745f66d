"""The ``tamap`` protocol: SoccerNet-v2 action spotting as every method is compared on it (thesis
6.3.4, 6.4.1, App. C.1.5 and C.2).

1. **Fine-tuning** (COMEDIAN's step 3, :mod:`sslbench.spotting.finetune`) of the evaluated
   ViViT / ViSwin on ``train_splits``, unless its weights already hold a spotting head (a
   ``--checkpoint`` of a fine-tuned model). The fine-tuned model is kept, per (weights, fine-tuning
   settings, data), as ``<output>/spotting/<weights>-finetune-<key>/backbone.pt``: a self-describing
   checkpoint that ``sslbench run --checkpoint`` evaluates again without fine-tuning.
2. **Inference** on ``split``: sliding windows with half overlap, the max merge, ``ignore_seconds``
   at each window edge, hard or soft NMS (:mod:`sslbench.spotting.inference`).
3. **t-AmAP** of the written ``results_spotting.json`` (:mod:`sslbench.spotting.tamap`, equal to the
   official evaluator).

Predictions are kept per (evaluated weights, evaluation settings, data) in
``<output>/spotting/<weights>-<split>-<nms>-<key>/`` (``raw/`` scores for ``sslbench spotting-nms``,
``predictions/``, ``settings.json``, ``result.json``), so two evaluations with different NMS keep
both sets; the run's summary line names the folder. ``<weights>`` is the first 16 characters of the
evaluated weights' id (the pretraining's hash, or a ``--checkpoint`` file's sha256).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..config import check, check_lr, stable_hash
from ..contract.errors import ConfigError
from ..contract.protocol import Metric, Protocol
from .tamap import CLASSES

#: Bumped when what a fine-tuned model or a prediction folder holds changes.
FORMAT = 1
FINETUNE_FIELDS = ("train_splits", "classifier_epochs", "epochs", "batch_size", "clips_per_half", "lr", "alpha2",
                   "radius", "mixup_alpha")
INFERENCE_FIELDS = ("split", "nms", "nms_window", "decay", "ignore_seconds", "min_score")


@dataclass
class TAmAPParams:
    """Settings of the ``tamap`` protocol (``--set tamap.<field>=value``).

    Fine-tuning (step 3, App. C.1.5; ``train_splits`` are read only when the weights have no
    spotting head): ``classifier_epochs`` of the head alone then ``epochs`` of the whole model
    (30 + 20 for ViViT, 30 + 10 for ViSwin; Table 6.5's "100F" is 0 + 100), ``batch_size`` 128,
    ``clips_per_half`` 50 (100 per game), ``lr`` 5e-4 (3e-4 for ViSwin; x batch/256 x T_g/64),
    masking ``alpha2`` 0.25 (Table 6.4), mixup Beta(``mixup_alpha``, ``mixup_alpha``) 0.1, and the
    target ``radius`` epsilon (1 s; not given in the thesis).
    Inference (6.4.1, Table 6.8): ``nms`` hard | soft | none, its ``nms_window`` in seconds (null:
    5 s hard, 10 s soft), soft ``decay`` gaussian | linear, ``ignore_seconds`` at each window
    edge, predictions below ``min_score`` not written; ``eval_batch_size`` windows per forward.
    """

    split: str = "test"
    train_splits: list[str] = field(default_factory=lambda: ["train"])
    classifier_epochs: int = 30
    epochs: int = 20
    batch_size: int = 128
    clips_per_half: int = 50
    lr: float = 5e-4
    alpha2: float = 0.25
    radius: float = 1.0
    mixup_alpha: float = 0.1
    nms: str = "hard"
    nms_window: Optional[float] = None
    decay: str = "gaussian"
    ignore_seconds: float = 6.0
    min_score: float = 0.0
    eval_batch_size: int = 8

    def __post_init__(self) -> None:
        check(self.nms in ("hard", "soft", "none"), "tamap.nms", self.nms, "hard, soft or none")
        check(self.decay in ("gaussian", "linear"), "tamap.decay", self.decay, "gaussian or linear")
        check(self.nms_window is None or self.nms_window > 0, "tamap.nms_window", self.nms_window,
              "seconds > 0 or null")
        check(self.ignore_seconds >= 0, "tamap.ignore_seconds", self.ignore_seconds, "seconds >= 0")
        check(bool(self.train_splits), "tamap.train_splits", self.train_splits, "at least one split")
        for name in ("classifier_epochs", "epochs"):
            check(getattr(self, name) >= 0, f"tamap.{name}", getattr(self, name), "an integer >= 0")
        check(self.classifier_epochs + self.epochs >= 1, "tamap.epochs", self.epochs,
              "at least one epoch of fine-tuning (with tamap.classifier_epochs)")
        for name in ("batch_size", "clips_per_half", "eval_batch_size"):
            check(getattr(self, name) >= 1, f"tamap.{name}", getattr(self, name), "an integer >= 1")
        check_lr(self.lr, "tamap.lr")
        check(0.0 <= self.alpha2 < 1.0, "tamap.alpha2", self.alpha2, "a ratio in [0, 1)")
        check(self.radius >= 0, "tamap.radius", self.radius, "seconds >= 0")
        check(self.mixup_alpha >= 0, "tamap.mixup_alpha", self.mixup_alpha, "a number >= 0 (0: no mixup)")


def spotting_metrics(tight: dict[str, Any], loose: dict[str, Any]) -> list[Metric]:
    """The stored rows, in percent: the t-AmAP ``a_mAP`` (tolerances 1-5 s) with its visible and
    unshown variants, the loose ones (5-60 s, ``a_mAP_loose*``), the mAP at each tolerance
    (``mAP@<delta>s``, for ``sslbench plot curve``) and each class's t-AmAP (``a_mAP[<class>]``)."""
    metrics = [Metric(key, 100.0 * tight[key]) for key in ("a_mAP", "a_mAP_visible", "a_mAP_unshown")]
    metrics += [Metric(key.replace("a_mAP", "a_mAP_loose"), 100.0 * loose[key])
                for key in ("a_mAP", "a_mAP_visible", "a_mAP_unshown")]
    curve = {**tight["mAP"], **loose["mAP"]}
    metrics += [Metric(f"mAP@{t}s", 100.0 * curve[t]) for t in sorted(curve, key=float)]
    metrics += [Metric(f"a_mAP[{name}]", 100.0 * tight["a_mAP_per_class"][name]) for name in CLASSES]
    return metrics


def weights_digest(model: Any) -> str:
    """sha256 of a module's state (names, shapes, dtypes, values): the identity of the weights
    themselves, whatever file or pretraining they came from."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(f"{name}|{tuple(tensor.shape)}|{tensor.dtype}|".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def needs_finetuning(model_options: dict[str, Any]) -> bool:
    """True when the evaluated backbone has no spotting head (no ``num_classes`` option)."""
    return not int(model_options.get("num_classes", 0) or 0)


class TAmAP(Protocol):
    """Action spotting on SoccerNet-v2: fine-tuning, sliding-window inference, NMS, t-AmAP."""

    name = "tamap"
    Params = TAmAPParams
    description = "SoccerNet-v2 action spotting: fine-tuning, sliding windows, NMS, t-AmAP (thesis ch. 6)"
    modalities = ("soccernet",)  # whole games of frames and labels, not images or clips

    def splits(self, spec: Any) -> tuple[str, ...]:
        """None through ``ctx.dataset``: whole games are checked by :meth:`preflight`."""
        return ()

    def preflight(self, spec: Any, config: Any, root: str | None) -> None:
        """Before any training: the evaluated split (frames, labels) and, when the weights will be
        fine-tuned, ``train_splits`` (frames, labels)."""
        from .checks import check_soccernet

        if not root:
            raise ConfigError("protocol 'tamap' needs the SoccerNet root: pass --data-root PATH")
        p = self.params
        train = list(p.train_splits) if needs_finetuning(config.model.backbone_options) else []
        check_soccernet(root, labels=[*train, p.split])

    def evaluate(self, ctx: Any) -> list[Metric]:
        import torch

        from . import soccernet
        from .tamap import evaluate_spotting

        p = self.params
        if not ctx.data_root:
            raise ConfigError("protocol 'tamap' needs the SoccerNet root: pass --data-root PATH")
        self.preflight(ctx.spec, ctx.config, ctx.data_root)
        if not hasattr(ctx.backbone, "classify"):
            raise ConfigError(f"protocol 'tamap' needs a ViViT/ViSwin backbone (vivit-tiny, vivit-small, viswin-tiny), "
                              f"got {ctx.config.model.backbone!r}")
        base = Path(ctx.cache_dir).parent if ctx.cache_dir is not None else Path(tempfile.mkdtemp())
        model, model_id = ctx.backbone, weights_digest(ctx.backbone)
        if ctx.backbone.head is None:
            model, model_id = self._finetuned(ctx, base / "spotting" / f"{ctx.weights_id[:16]}-finetune", model_id)
        games = soccernet.load_games(ctx.data_root, p.split, features=None)
        settings = {"model": model_id, "data": soccernet.fingerprint(games), "format": FORMAT,
                    **{name: getattr(p, name) for name in INFERENCE_FIELDS}}
        out = base / "spotting" / f"{ctx.weights_id[:16]}-{p.split}-{p.nms}-{stable_hash(settings)}"
        from .predict import predict_games

        with torch.no_grad():
            predictions = predict_games(model.to(ctx.device), games, out, p.nms, p.nms_window, p.decay,
                                        p.ignore_seconds, p.min_score, p.eval_batch_size, ctx.device)
        labels = {g.name: g.labels() for g in games}
        tight = evaluate_spotting(labels, predictions, "tight")
        loose = evaluate_spotting(labels, predictions, "loose")
        _write_json(out / "settings.json", {**settings, "labels": str(Path(ctx.data_root) / p.split),
                                            "weights_id": ctx.weights_id, "backbone": ctx.config.model.backbone})
        _write_json(out / "result.json", {"tight": tight, "loose": loose})
        ctx.outputs[self.name] = out
        return spotting_metrics(tight, loose)

    def _finetuned(self, ctx: Any, folder: Path, weights_id: str) -> tuple[Any, str]:
        """The evaluated weights fine-tuned with a spotting head (step 3), from its folder when
        this (weights, settings, data) was fine-tuned before; returns it and its folder's key."""
        import torch

        from .. import folderlock
        from ..engine import checkpoint
        from ..engine.trainer import build_backbone, seed_everything
        from ..contract.loading import registries
        from . import soccernet
        from .finetune import finetune
        from .training import reader_workers

        p, config = self.params, ctx.config
        games = [g for split in p.train_splits for g in soccernet.load_games(ctx.data_root, split, features=None)]
        halves = sum(len(g.halves) for g in games)
        if halves * p.clips_per_half < p.batch_size:
            raise ConfigError(f"invalid value {p.batch_size} for tamap.batch_size: larger than the "
                              f"{halves * p.clips_per_half} clips of an epoch ({halves} halves x tamap.clips_per_half "
                              f"{p.clips_per_half})")
        options = {**config.model.backbone_options, "num_classes": len(CLASSES)}
        identity = {"weights": weights_id, "backbone": config.model.backbone, "backbone_options": options,
                    "seed": config.seed, "data": soccernet.fingerprint(games, labels=True), "format": FORMAT,
                    **{name: getattr(p, name) for name in FINETUNE_FIELDS}}
        key = stable_hash(identity)
        out = folder.with_name(f"{folder.name}-{key}")
        path = out / "backbone.pt"
        seed_everything(config.seed)
        model = build_backbone(registries(), config.model.backbone, ctx.spec.channels, options)
        out.mkdir(parents=True, exist_ok=True)
        with folderlock.hold(out, "tamap fine-tuning folder"):  # one process fine-tunes, the others reuse
            if path.is_file():
                model.load_state_dict(checkpoint.load(path)["backbone"])
                return model, key
            state = {k: v for k, v in ctx.backbone.state_dict().items() if not k.startswith("head.")}
            missing = [k for k in model.load_state_dict(state, strict=False).missing_keys if not k.startswith("head.")]
            if missing:
                raise ConfigError(f"protocol 'tamap': the evaluated weights lack {missing[0]!r} of "
                                  f"{config.model.backbone!r}")
            (out / "log.jsonl").unlink(missing_ok=True)  # an interrupted fine-tuning starts again
            with torch.enable_grad():
                finetune(model, games, p, out / "log.jsonl", config.seed, ctx.device,
                         reader_workers(config.data.num_workers))
            model = model.cpu()
            _write_json(out / "finetune.json", identity)
            checkpoint.save({"backbone": model.state_dict(), "method": config.method, "step": 3,
                             "finetuned_from": weights_id,
                             **checkpoint.backbone_record(config.model.backbone, options, ctx.spec.channels)}, path)
        return model, key


def _write_json(path: Path, obj: Any) -> None:
    from ..atomic import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda fh: json.dump(obj, fh, indent=1, default=str), mode="w")

