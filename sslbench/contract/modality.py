"""What differs between modalities, looked up by a dataset's ``modality``.

The dataset contract and the engine dispatch through this table, so neither imports a modality
package (:mod:`sslbench.video` ...): the package of a modality provides the steps and
:mod:`sslbench.default_plugins` registers them for the built-in ones. A modality without an
entry (``"image"``, ``"soccernet"``) takes the engine's own steps: ``spec.load`` and single-view
features.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Modality:
    """The steps of one modality that are not the engine's defaults (None: the default)."""

    name: str
    #: ``(spec, config, split, purpose, clips, root) -> Dataset``: open a split and check it
    #: (videos: the clip sampling of ``purpose``, sslbench.video.pipeline.load_split)
    open_split: Callable[..., Any] | None = None
    #: ``(ctx, split, out_path, labels_path) -> (features (N, D), labels)``: the frozen features of a
    #: split, streamed to ``out_path`` when given (videos: the mean over the multi-view test)
    features: Callable[..., Any] | None = None


_MODALITIES: dict[str, Modality] = {}


def register_modality(modality: Modality) -> None:
    """Set the steps of ``modality.name`` (registering the same name again replaces them)."""
    _MODALITIES[modality.name] = modality


def modality(name: str) -> Modality:
    """The steps of modality ``name``; the defaults when nothing registered it."""
    if name not in _MODALITIES:
        from .loading import get_plugin_manager

        get_plugin_manager()  # the built-in plugins register the built-in modalities when imported
    return _MODALITIES.get(name, Modality(name))
