"""COMEDIAN (thesis chapter 6): self-supervised and distilled video transformers for action
spotting on SoccerNet-v2, a method like the others::

    sslbench soccernet-pca ROOT --dim 512
    sslbench run -m comedian -d soccernet -p tamap --data-root ROOT
    sslbench compare -m comedian,random -d soccernet -p tamap --data-root ROOT --sweep comedian.alpha1=0.25,0.5

Its pretraining is two steps, each kept in a folder named by its hash and reused as a finished
pretraining is (:mod:`.steps`):

1. **spatial MoCo** on every 1-s window (T_s = 2 frames) of the games: the spatial encoder (ViT
   or Swin) with a projector 3/1024/256, a predictor 2/1024/256, a momentum target and a queue,
   InfoNCE at tau = 0.1 (eqs. 6.1-6.2; C.1.3);
2. **distillation**: each temporal token, through a 3-layer projector to the bank's dimension
   and l2-normalised, learns its temporally aligned bank feature (Baidu features PCA-reduced to
   512, ``sslbench soccernet-pca``) with the SCE loss against a FIFO queue of teacher features
   (eqs. 6.3-6.6); a ratio alpha_1 of windows is masked (dropped before the spatial encoder,
   learned mask tokens before the temporal one).

Step 3, the fine-tuning (eq. 6.7), is the ``tamap`` protocol's, shared with every method run on
``soccernet`` (``random`` gives Table 6.5's untrained row): :mod:`sslbench.spotting.protocol`.
``comedian.steps`` picks the steps and ``comedian.init`` where the first one starts
(:mod:`.init`): Table 6.5's rows are ``steps=[1,2]`` (SN + step 2), ``steps=[2]`` with
``init=imagenet-supervised`` or ``init=PATH`` of an image method's ``timm:vit_tiny_patch16_224``
backbone, ``steps=[1]``, ``steps=[]``. The model is ``--backbone vivit-tiny | vivit-small |
viswin-tiny`` with ``model.backbone_options`` (``tokens``, ``img_size``, ``temporal_depth``,
``spatial_<timm argument>``; Tables 6.1-6.3).

Defaults follow Appendix C.1; where the thesis is silent (step 2's epochs, the EMA momentum of
step 1) the docstring of :class:`ComedianParams` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sslbench import hookimpl
from sslbench.config import check
from sslbench.contract.errors import ConfigError
from sslbench.method import Method


@dataclass
class ComedianParams:
    """COMEDIAN's pretraining settings (``--set comedian.<field>=value``).

    Thesis values (App. C.1): AdamW wd 0.05; step 1 lr 5e-4 x batch/256, batch 1024, 100 epochs,
    queue 65,536, tau 0.1; step 2 lr 0.002 x batch/256 x T_g/64, batch 64, 150 clips per game
    (75 per half), SCE tau 0.1 / tau_m 0.07 / lambda 0.5; 10 warm-up epochs; alpha_1 = 0.25
    (best of Table 6.4). ``steps``: the steps run, in order (a subset of 1, 2); ``init``: none,
    imagenet-supervised or the PATH of a backbone.pt (recorded with its sha256); ``splits``: the
    SoccerNet splits pretrained on (train; train and valid for the test-split comparison, 6.4.3);
    ``features``: the bank, ``<half>_<features>.npy`` beside each game's frames.
    Not in the thesis: ``step1_ema`` (0.99, the momentum of the video presets), ``step2_epochs`` (100).
    """

    steps: list[int] = field(default_factory=lambda: [1, 2])
    init: str = "none"
    splits: list[str] = field(default_factory=lambda: ["train"])
    features: str = "baidu_soccer_embeddings_PCA512"
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

    def __post_init__(self) -> None:
        if 3 in self.steps:
            raise ConfigError("invalid value for comedian.steps: step 3 (fine-tuning) is the tamap protocol's: run "
                              "with -p tamap (its settings are tamap.*) and list only steps 1 and 2")
        check(all(s in (1, 2) for s in self.steps) and self.steps == sorted(set(self.steps)), "comedian.steps",
              self.steps, "increasing steps among 1, 2 (e.g. [1, 2], [2] or [])")
        self.init = _resolve_init(self.init)
        check(bool(self.splits), "comedian.splits", self.splits, "at least one split")
        check(0.0 <= self.alpha1 < 1.0, "comedian.alpha1", self.alpha1, "a ratio in [0, 1)")
        check(0.0 <= self.lam <= 1.0, "comedian.lam", self.lam, "a value in [0, 1]")
        check(0.0 <= self.step1_ema <= 1.0, "comedian.step1_ema", self.step1_ema, "a value in [0, 1]")
        for name in ("tau", "tau_m", "step1_tau", "step1_lr", "step2_lr"):
            check(getattr(self, name) > 0, f"comedian.{name}", getattr(self, name), "a positive number")
        for name in ("step1_epochs", "step2_epochs", "step2_batch_size", "step2_clips_per_half", "proj_hidden",
                     "proj_out"):
            check(getattr(self, name) >= 1, f"comedian.{name}", getattr(self, name), "an integer >= 1")
        for name in ("step1_queue", "step2_queue"):
            check(getattr(self, name) >= 1, f"comedian.{name}", getattr(self, name), "a queue size >= 1")
        check(self.step1_batch_size >= 2, "comedian.step1_batch_size", self.step1_batch_size, "an integer >= 2")
        check(self.warmup_epochs >= 0, "comedian.warmup_epochs", self.warmup_epochs, "epochs >= 0")


def _resolve_init(value: str) -> str:
    from .init import resolve

    return resolve(value)


class Comedian(Method):
    """COMEDIAN's steps 1-2 (spatial MoCo, SCE distillation of a feature bank) on SoccerNet-v2."""

    name = "comedian"
    Params = ComedianParams
    modality = "soccernet"
    description = "COMEDIAN (thesis ch. 6): spatial MoCo then SCE distillation of a feature bank (SoccerNet-v2)"

    def pretrain(self, run_dir: Path, spec: Any, registries: Any, progress: bool = True) -> Any:
        from .steps import run_pipeline

        return run_pipeline(self.params, self.config, spec, registries, run_dir, progress)


@hookimpl
def register_methods(register):
    register(Comedian)
