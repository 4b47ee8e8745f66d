"""Reference rows for every table: ``random`` (untrained backbone) and ``supervised`` (labels)."""

from __future__ import annotations

from sslbench import hookimpl
from sslbench.method import Method


class Random(Method):
    """The backbone at its seeded random initialisation: the floor any method must beat."""

    name = "random"
    modalities = ("image", "video", "soccernet")
    trains = False
    description = "untrained backbone (seeded random initialisation)"


class Supervised(Method):
    """Cross-entropy on the labels with the online augmentation: the supervised reference."""

    name = "supervised"
    modalities = ("image", "video")
    needs_labels = True
    description = "supervised cross-entropy on the training labels"
    presets = {"digits": {"train": {"epochs": 30, "batch_size": 128, "lr": 0.1, "warmup_epochs": 1}}}

    def build(self, backbone, num_classes):
        from .supervised import SupervisedLearner

        return SupervisedLearner(backbone, num_classes)


@hookimpl
def register_methods(register):
    register(Random)
    register(Supervised)
