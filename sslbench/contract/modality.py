"""What differs between modalities, looked up by a dataset's ``modality``.

The dataset contract and the engine dispatch through this table, so neither imports a modality
package (:mod:`sslbench.image`, :mod:`sslbench.video` ...): the package of a modality provides the
steps and :mod:`sslbench.default_plugins` registers them for the built-in ones. A step a modality
leaves unset (or a modality nothing registered: ``"soccernet"``) is the image modality's, images
being a dataset's default modality; ``open_split`` and ``features`` unset there too are the
engine's own: ``spec.load`` and single-view features.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Callable

from .errors import SSLBenchError

#: the modality whose steps stand in for steps another leaves unset (DatasetSpec.modality's default)
DEFAULT = "image"


@dataclass(frozen=True)
class Modality:
    """The steps of one modality (None: the image modality's, then the engine's default)."""

    name: str
    #: ``(spec, config, split, purpose, clips, root) -> Dataset``: open a split and check it
    #: (videos: the clip sampling of ``purpose``, sslbench.video.pipeline.load_split)
    open_split: Callable[..., Any] | None = None
    #: ``(ctx, split, out_path, labels_path) -> (features (N, D), labels)``: the frozen features of a
    #: split, streamed to ``out_path`` when given (videos: the mean over the multi-view test)
    features: Callable[..., Any] | None = None
    #: ``(spec, config, view_specs) -> Dataset``: the pretraining split, opened for these views
    #: (videos: one clip per global view); None: the engine opens the method's split with ``open_split``
    pretraining_split: Callable[..., Any] | None = None
    #: ``(dataset, view_specs, config) -> Dataset``: what the training loop iterates for these views
    #: (file-backed images: crops cut in the loader workers; videos: the dataset itself)
    training_source: Callable[..., Any] | None = None
    #: ``(spec, config, view_specs, device, channels_last) -> views``: the pretraining views
    #: (:class:`sslbench.engine.data.Views`: normalised augmented views on the device)
    pretraining_views: Callable[..., Any] | None = None
    #: ``(ctx, view_specs) -> views``: the evaluation view (and ``view_specs`` augmentations) of the
    #: evaluated dataset (:class:`sslbench.engine.evaluation.EvalContext` ``ctx``)
    eval_views: Callable[..., Any] | None = None
    #: ``(ctx, split) -> str``: names the evaluation view of ``split`` in feature-cache keys
    eval_transform: Callable[..., Any] | None = None
    #: ``train.channels_last`` applies (2-D images); False: the learner keeps its layout (5-D clips)
    channels_last: bool = True

    def step(self, name: str) -> Callable[..., Any]:
        """The step ``name``; a clear error when neither this modality nor the image one sets it."""
        found = getattr(self, name)
        if found is None:
            raise SSLBenchError(f"modality {self.name!r} has no {name!r} step and no image step stands in for it: "
                                f"expected register_modality(Modality({self.name!r}, {name}=...))")
        return found


_MODALITIES: dict[str, Modality] = {}


def register_modality(modality: Modality) -> None:
    """Set the steps of ``modality.name`` (registering the same name again replaces them)."""
    _MODALITIES[modality.name] = modality


def modality(name: str) -> Modality:
    """The steps of modality ``name``, the image modality's where it sets none."""
    if name not in _MODALITIES or DEFAULT not in _MODALITIES:
        from .loading import get_plugin_manager

        get_plugin_manager()  # the built-in plugins register the built-in modalities when imported
    own = _MODALITIES.get(name, Modality(name))
    default = _MODALITIES.get(DEFAULT)
    if default is None or own is default:
        return own
    unset = {f.name: getattr(default, f.name) for f in fields(own) if getattr(own, f.name) is None}
    return replace(own, **unset)
