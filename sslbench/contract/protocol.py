"""The protocol contract: what an evaluation plugin registers through ``register_protocols``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from .params import NoParams

if TYPE_CHECKING:
    from ..engine.evaluation import EvalContext


@dataclass(frozen=True)
class Metric:
    """One named result of a protocol; ``higher_is_better`` drives best-value marks in tables."""

    name: str
    value: float
    higher_is_better: bool = True


class Protocol:
    """An evaluation protocol on a frozen or finetuned backbone.

    Class attributes: ``name`` (registry key, ``--protocol``), ``Params`` (dataclass of settings,
    overridable with ``--set <name>.<field>=value``), ``modalities`` (the dataset modalities it
    evaluates, e.g. ``("soccernet",)``; empty, the default: every modality). ``evaluate`` receives an
    :class:`sslbench.engine.evaluation.EvalContext` giving the backbone, the datasets and a
    cached ``features(split)`` accessor, and returns a list of :class:`Metric`.
    """

    name: ClassVar[str]
    Params: ClassVar[type] = NoParams
    description: ClassVar[str] = ""
    modalities: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def accepts(cls, modality: str) -> bool:
        """Whether the protocol evaluates data of ``modality`` (checked when the config resolves)."""
        return not cls.modalities or modality in cls.modalities

    def __init__(self, params: Any) -> None:
        self.params = params

    def splits(self, spec: Any) -> tuple[str, ...]:
        """The splits of ``spec`` that ``evaluate`` reads through ``ctx.dataset`` / ``ctx.features``:
        the run opens each one and checks its first items before any training. A protocol that
        reads its data another way returns ``()`` and checks it in :meth:`preflight`."""
        return tuple(dict.fromkeys((spec.train_split, spec.test_split)))

    def preflight(self, spec: Any, config: Any, root: str | None) -> None:
        """Check, before any training, whatever else ``evaluate`` will read (files beside the
        dataset, a test split read without ``spec.load``); raise an ``SSLBenchError`` naming it."""

    def evaluate(self, ctx: "EvalContext") -> list[Metric]:
        raise NotImplementedError
