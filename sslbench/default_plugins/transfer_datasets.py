"""Built-in many-shot transfer sets of thesis Table 4.10, listed by torchvision (no download):
fgvc-aircraft, caltech101, stanford-cars, dtd, flowers102, food101, oxford-pets, sun397."""

from __future__ import annotations

from sslbench import hookimpl
from sslbench.contract.dataset import DatasetSpec

#: (name, classes, train split, test split, Table 4.10's metric, description)
TRANSFER = (
    ("fgvc-aircraft", 100, "trainval", "test", "mean_per_class", "FGVC Aircraft (variants), torchvision layout"),
    ("caltech101", 101, "train", "test", "mean_per_class", "Caltech-101, 30 train images per class, the rest test"),
    ("stanford-cars", 196, "train", "test", "top1", "Stanford Cars, torchvision layout"),
    ("dtd", 47, "trainval", "test", "top1", "Describable Textures (partition 1), torchvision layout"),
    ("flowers102", 102, "trainval", "test", "mean_per_class", "Oxford 102 Flowers, torchvision layout"),
    ("food101", 101, "train", "test", "top1", "Food-101, torchvision layout"),
    ("oxford-pets", 37, "trainval", "test", "mean_per_class", "Oxford-IIIT Pets, torchvision layout"),
    ("sun397", 397, "train", "test", "top1", "SUN397 (official partition 1), torchvision layout"),
)


def _loader(name):
    def load(root, split, image_size):
        from sslbench.image.transfer import load_transfer

        return load_transfer(name, root, split, image_size)

    return load


@hookimpl
def register_datasets(register):
    from sslbench.image.transfer import TRANSFER_SETS

    for name, classes, train, test, metric, description in TRANSFER:
        register(DatasetSpec(
            name=name, load=_loader(name), num_classes=classes, splits=tuple(TRANSFER_SETS[name].splits),
            train_split=train, test_split=test, pretrain_split=train, layout=TRANSFER_SETS[name].layout,
            # the linear transfer probe of Table 4.10 when a run evaluates on the dataset itself
            defaults={"data": {"input_size": 224}, "model": {"backbone": "resnet50"},
                      "linear": {"mode": "lbfgs", "metric": metric}},
            description=f"{description} (Table 4.10; no download)",
        ))
