"""COMEDIAN (thesis chapter 6): self-supervised and distilled video transformers for action
spotting on SoccerNet-v2, as an sslbench plugin.

Three steps, each a stage of ``sslbench comedian`` whose output feeds the next:

1. **spatial MoCo** on every 1-s window (T_s = 2 frames) of the training games: the spatial
   encoder (ViT or Swin) with a projector 3/1024/256, a predictor 2/1024/256, a momentum target
   and a queue, InfoNCE at tau = 0.1 (eqs. 6.1-6.2; C.1.3);
2. **distillation**: each temporal token, through a 3-layer projector to the bank's dimension
   and l2-normalised, learns its temporally aligned bank feature (Baidu features PCA-reduced to
   512, ``sslbench soccernet-pca``) with the SCE loss against a FIFO queue of teacher features
   (eqs. 6.3-6.6); a ratio alpha_1 of windows is masked (dropped before the spatial encoder,
   learned mask tokens before the temporal one);
3. **fine-tuning**: a linear head per temporal token, sigmoid + BCE per class (eq. 6.7), a token
   being positive when one of its frames lies within ``radius`` (epsilon) seconds of an action;
   mixup Beta(0.1, 0.1), masking alpha_2; the classifier alone first, then the whole model.

Chaining::

    sslbench comedian ROOT -o OUT                       # steps 1, 2, 3, then t-AmAP on the test split
    sslbench comedian ROOT -o OUT --steps 2,3 --init moco/backbone.pt   # start from another encoder
    sslbench comedian ROOT -o OUT --set comedian.step1_epochs=5 --set comedian.backbone=vivit-small

Step N writes ``OUT/stepN/backbone.pt`` (the whole video transformer, sslbench's format) and
``OUT/stepN/log.jsonl``; step N + 1 starts from it (``--init`` gives the first step's start: a
COMEDIAN checkpoint or an image backbone whose keys are the spatial encoder's, e.g. one
pretrained by MoCo or SCE on stacked 2-frame windows -- Table 6.5's comparison). After step 3
the ``tamap`` protocol runs (``--no-evaluate`` skips it). The protocol is registered for
``sslbench run`` too::

    sslbench run --method random --dataset soccernet --data-root ROOT --backbone vivit-tiny \\
        --set model.backbone_options.num_classes=17 --checkpoint OUT/step3/backbone.pt --protocol tamap

It slides windows with half overlap over each half of the test games, keeps per timestamp the
max over windows (edges of 6 s ignored but at the start and end of a half), applies hard (5 s) or
soft (10 s) NMS, keeps the raw scores, writes one ``results_spotting.json`` per game and reports
the t-AmAP of :func:`sslbench.spotting.evaluate_spotting` (``a_mAP``, ``a_mAP_visible``,
``a_mAP_unshown``, ``mAP@1s`` ... ``mAP@5s``, in percent).

Defaults follow Appendix C.1; where the thesis is silent (the radius epsilon, step 2's epochs,
the EMA momentum of step 1) the docstring of :class:`ComedianParams` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import click

from sslbench import hookimpl
from sslbench.config import check
from sslbench.protocol import Metric, Protocol


@dataclass
class ComedianParams:
    """Hyper-parameters of ``sslbench comedian``; ``--set comedian.<field>=value`` overrides them.

    Thesis values (App. C.1): AdamW wd 0.05; step 1 lr 5e-4 x batch/256, batch 1024, 100 epochs,
    queue 65,536, tau 0.1; step 2 lr 0.002 x batch/256 x T_g/64, batch 64, 150 clips per game
    (75 per half), SCE tau 0.1 / tau_m 0.07 / lambda 0.5; step 3 lr 5e-4 (ViViT; 3e-4 ViSwin),
    batch 128, 100 clips per game, classifier 30 epochs then 20 (ViViT) whole-model epochs;
    10 warm-up epochs in steps 1-2; alpha_1 = alpha_2 = 0.25 (best of Table 6.4).
    ``device``: auto (CUDA when available), cpu or cuda[:N]; ``num_workers``: processes reading
    frames (0: the main one).
    Not in the thesis: ``step1_ema`` (0.99, the momentum of the video presets, SPEC §4),
    ``step2_epochs`` (100), ``radius`` epsilon (1 s).
    """

    backbone: str = "vivit-tiny"
    backbone_options: dict = field(default_factory=dict)
    train_split: str = "train"
    test_split: str = "test"
    features: str = "baidu_soccer_embeddings_PCA512"
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0
    warmup_epochs: float = 10.0
    proj_hidden: int = 1024
    proj_out: int = 256
    step1_epochs: int = 100
    step1_batch_size: int = 1024
    step1_lr: float = 5e-4
    step1_queue: int = 65536
    step1_tau: float = 0.1
    step1_ema: float = 0.99
    step2_epochs: int = 100
    step2_batch_size: int = 64
    step2_clips_per_half: int = 75
    step2_lr: float = 0.002
    step2_queue: int = 65536
    lam: float = 0.5
    tau: float = 0.1
    tau_m: float = 0.07
    alpha1: float = 0.25
    step3_classifier_epochs: int = 30
    step3_epochs: int = 20
    step3_batch_size: int = 128
    step3_clips_per_half: int = 50
    step3_lr: float = 5e-4
    alpha2: float = 0.25
    radius: float = 1.0
    mixup_alpha: float = 0.1

    def __post_init__(self) -> None:
        for name in ("alpha1", "alpha2"):
            check(0.0 <= getattr(self, name) < 1.0, f"comedian.{name}", getattr(self, name), "a ratio in [0, 1)")
        check(0.0 <= self.lam <= 1.0, "comedian.lam", self.lam, "a value in [0, 1]")
        for name in ("tau", "tau_m", "step1_tau", "step1_lr", "step2_lr", "step3_lr"):
            check(getattr(self, name) > 0, f"comedian.{name}", getattr(self, name), "a positive number")
        for name in ("step1_batch_size", "step2_batch_size", "step3_batch_size", "step2_clips_per_half",
                     "step3_clips_per_half"):
            check(getattr(self, name) >= 1, f"comedian.{name}", getattr(self, name), "an integer >= 1")
        check(self.step1_batch_size >= 2, "comedian.step1_batch_size", self.step1_batch_size, "an integer >= 2")
        check(self.num_workers >= 0, "comedian.num_workers", self.num_workers, "an integer >= 0")
        check(self.radius >= 0, "comedian.radius", self.radius, "seconds >= 0")
        check(self.mixup_alpha >= 0, "comedian.mixup_alpha", self.mixup_alpha, "a number >= 0 (0: no mixup)")


@dataclass
class TAmAPParams:
    """Spotting protocol settings (thesis 6.4.1, Table 6.8): ``nms`` hard | soft | none, its
    ``nms_window`` in seconds (null: 5 s hard, 10 s soft), soft ``decay`` gaussian | linear,
    ``ignore_seconds`` at each window edge, ``metric`` tight | loose."""

    split: str = "test"
    nms: str = "hard"
    nms_window: Optional[float] = None
    decay: str = "gaussian"
    ignore_seconds: float = 6.0
    min_score: float = 0.0
    metric: str = "tight"
    batch_size: int = 8

    def __post_init__(self) -> None:
        check(self.nms in ("hard", "soft", "none"), "tamap.nms", self.nms, "hard, soft or none")
        check(self.decay in ("gaussian", "linear"), "tamap.decay", self.decay, "gaussian or linear")
        check(self.metric in ("tight", "loose"), "tamap.metric", self.metric, "tight or loose")
        check(self.nms_window is None or self.nms_window > 0, "tamap.nms_window", self.nms_window,
              "seconds > 0 or null")
        check(self.ignore_seconds >= 0, "tamap.ignore_seconds", self.ignore_seconds, "seconds >= 0")


def spotting_metrics(result: dict) -> list[Metric]:
    """The protocol's metrics, in percent: ``a_mAP`` (the t-AmAP), its visible / unshown variants,
    and ``mAP@<delta>s`` per tolerance."""
    metrics = [Metric(key, 100.0 * result[key]) for key in ("a_mAP", "a_mAP_visible", "a_mAP_unshown")]
    metrics += [Metric(f"mAP@{t}s", 100.0 * v) for t, v in result["mAP"].items()]
    return metrics


def evaluate_model(model, root, params: TAmAPParams, out_dir, device="cpu") -> list[Metric]:
    """Inference + NMS on ``params.split`` of ``root`` (files under ``out_dir``), then the t-AmAP."""
    from pathlib import Path

    from sslbench.errors import SSLBenchError
    from sslbench.spotting import evaluate_spotting, soccernet

    from .steps import predict_games

    if getattr(model, "head", None) is None:
        raise SSLBenchError("protocol 'tamap' needs a video transformer with a fine-tuned spotting head: run "
                            "`sslbench comedian ... --steps 3` and pass its backbone.pt with "
                            "model.backbone_options.num_classes=17")
    games = soccernet.load_games(root, params.split, features=None)
    predictions = predict_games(model, games, Path(out_dir), params.nms, params.nms_window, params.decay,
                                params.ignore_seconds, params.min_score, params.batch_size, device)
    result = evaluate_spotting({g.name: g.labels() for g in games}, predictions, params.metric)
    return spotting_metrics(result)


class TAmAP(Protocol):
    """Action spotting on SoccerNet-v2: sliding-window inference, NMS, t-AmAP (SPEC §5-6)."""

    name = "tamap"
    Params = TAmAPParams
    description = "SoccerNet-v2 action spotting: sliding windows, NMS, t-AmAP (COMEDIAN, thesis ch. 6)"

    def evaluate(self, ctx) -> list[Metric]:
        import tempfile
        from pathlib import Path

        if not ctx.data_root:
            from sslbench.errors import ConfigError

            raise ConfigError("protocol 'tamap' needs the SoccerNet root: pass --data-root PATH")
        base = Path(ctx.cache_dir).parent if ctx.cache_dir is not None else Path(tempfile.mkdtemp())
        out = base / "spotting" / f"{ctx.weights_id[:16]}-{self.params.split}"
        return evaluate_model(ctx.backbone, ctx.data_root, self.params, out, ctx.device)


@hookimpl
def register_protocols(register):
    register(TAmAP)


@hookimpl
def register_commands(cli):
    @cli.command()
    @click.argument("root", type=click.Path(file_okay=False))
    @click.option("--output-dir", "-o", required=True, type=click.Path(file_okay=False),
                  help="Where step<N>/backbone.pt and the predictions go.")
    @click.option("--steps", default="1,2,3", show_default=True, help="Steps to run, in order (e.g. 2,3).")
    @click.option("--init", type=click.Path(dir_okay=False), help="Weights the first step starts from.")
    @click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML file of comedian/tamap overrides.")
    @click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                  help="Override comedian.<field> or tamap.<field> (repeatable).")
    @click.option("--evaluate/--no-evaluate", default=True, show_default=True,
                  help="Run the tamap protocol on the test split after step 3.")
    def comedian(root, output_dir, steps, init, config_file, sets, evaluate):
        """COMEDIAN's three training steps on a SoccerNet-v2 ROOT, then the t-AmAP (thesis ch. 6)."""
        from pathlib import Path

        from sslbench.config import build_dataclass, load_yaml, merge, parse_set
        from sslbench.errors import ConfigError

        from .steps import build_model, load_weights, run_steps

        values = merge(load_yaml(config_file) if config_file else {}, parse_set(list(sets)))
        unknown = set(values) - {"comedian", "tamap"}
        if unknown:
            raise ConfigError(f"unknown config section {sorted(unknown)[0]!r}: expected comedian or tamap")
        params = build_dataclass(ComedianParams, values.get("comedian"), "comedian")
        tamap_params = build_dataclass(TAmAPParams, {"split": params.test_split, **values.get("tamap", {})}, "tamap")
        try:
            numbers = [int(s) for s in steps.split(",") if s.strip()]
        except ValueError:
            numbers = [0]
        if not numbers or any(n not in (1, 2, 3) for n in numbers) or numbers != sorted(set(numbers)):
            raise ConfigError(f"invalid --steps {steps!r}: expected increasing steps among 1, 2, 3 (e.g. 1,2,3 or 3)")
        last = run_steps(root, params, output_dir, numbers, init, click.echo)
        if evaluate and numbers[-1] == 3:
            import torch

            torch.manual_seed(params.seed)
            from sslbench.engine.trainer import pick_device

            device = pick_device(params.device)
            model = build_model(params, num_classes=17)
            load_weights(model, last)
            metrics = evaluate_model(model.to(device), root, tamap_params, Path(output_dir) / "spotting", device)
            click.echo("tamap " + ", ".join(f"{m.name} {m.value:.2f}" for m in metrics))
