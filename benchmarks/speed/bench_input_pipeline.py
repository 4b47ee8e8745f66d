"""P8: images/s of the image pretraining input pipeline — two augmented 224-pixel views per image,
as the loader workers deliver them — against (a) torchvision's ImageFolder with the standard
two-view transforms, in the same DataLoader, and (b) decoding alone with sslbench's decoder.

- sslbench: :class:`sslbench.image.views.TrainViews` over an ImageFolder (header read, two
  RandomResizedCrop boxes on the full image, libjpeg-turbo decode, crop then antialiased resize
  and flip per view, in the workers); its colour jitter, grayscale, blur and solarisation run
  batched on the training device, timed separately here on the CPU ("device ops").
- (a) ``torchvision.datasets.ImageFolder`` with MoCo v2's two-crop transform (the thesis's
  *strong* views, Table 4.1): RandomResizedCrop(224, (0.2, 1)), ColorJitter(0.4, 0.4, 0.4, 0.1)
  p=0.8, RandomGrayscale(0.2), GaussianBlur p=0.5, flip, ToTensor, Normalize -- PIL, per image.
- (b) the same files decoded by ``sslbench.image.decode.decode`` and nothing else (the floor).
- (c) the ceiling of any pipeline that decodes in full and resizes with torch's antialiased kernel
  (torchvision's): (b) plus the two crops' resizes, returning one pixel like (b) (no views to ship
  to the training process). sslbench / (c) says how much of the gap to (b) is overhead.

Images: a generated folder of realistic JPEGs (500x375, quality 90) made from real photographs
(:mod:`sslbench.image.samples`). The pipelines alternate within each round (warm workers, the
second pass of a persistent DataLoader is timed); the median of the rounds counts. Goal (issue 17):
sslbench >= 1.5x (a) and >= 0.8x (b) with the same number of workers (so per core).

    python benchmarks/speed/bench_input_pipeline.py [--images 256] [--rounds 3] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import torch
from torch.utils.data import DataLoader, Dataset

from _machine import describe
from sslbench.contract.augmentations import get_augmentation
from sslbench.image.readers import load_imagefolder
from sslbench.image.crops import crop_box, resized_crop
from sslbench.image.decode import decode, read_bytes
from sslbench.image.samples import write_photo_folder
from sslbench.image.views import ViewMaker, training_source

SIZE = 224
BATCH = 32


class DecodeOnly(Dataset):
    """Each file decoded (full size), nothing else; returns one pixel so that batching costs nothing."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        return decode(read_bytes(self.paths[index]))[0, 0, 0]


class DecodeAndResize(DecodeOnly):
    """(c): each file decoded (full size) and two fixed crop boxes resized to 224, nothing else."""

    def __getitem__(self, index: int) -> torch.Tensor:
        image = decode(read_bytes(self.paths[index]))
        height, width = image.shape[-2:]
        views = [resized_crop(image, crop_box(height, width, (0.2, 1.0), (3 / 4, 4 / 3), self.gen), SIZE)
                 for _ in range(2)]
        return views[0][0, 0, 0] + views[1][0, 0, 0]

    gen = torch.Generator().manual_seed(0)


class TwoCrops:
    """MoCo v2's TwoCropsTransform: the same random transform applied twice."""

    def __init__(self, transform) -> None:
        self.transform = transform

    def __call__(self, image):
        return [self.transform(image), self.transform(image)]


def torchvision_folder(root: Path) -> Dataset:
    from torchvision import datasets, transforms as T

    strong = T.Compose([
        T.RandomResizedCrop(SIZE, scale=(0.2, 1.0)),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomApply([T.GaussianBlur(23, sigma=(0.1, 2.0))], p=0.5),
        T.RandomHorizontalFlip(),
        T.ToTensor(),
        T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ])
    return datasets.ImageFolder(str(root / "train"), TwoCrops(strong))


def _loader(dataset: Dataset, workers: int, keyed: bool) -> tuple[DataLoader, list]:
    order = list(range(len(dataset)))
    sampler = [(i, 0) for i in order] if keyed else order
    loader = DataLoader(dataset, batch_size=BATCH, sampler=sampler, num_workers=workers, persistent_workers=True,
                        prefetch_factor=4)
    return loader, sampler


def _pass(loader: DataLoader) -> float:
    start = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    specs = [get_augmentation("strong"), get_augmentation("strong")]
    with tempfile.TemporaryDirectory() as tmp:
        root = write_photo_folder(Path(tmp), classes=4, per_class=args.images // 4, size=(500, 375), quality=90,
                                  splits=("train",))
        folder = load_imagefolder(str(root), "train", 256)
        sides = {"sslbench": (training_source(folder, specs, SIZE, seed=0), True),
                 "torchvision (a)": (torchvision_folder(root), False),
                 "decode only (b)": (DecodeOnly([p for p, _ in folder.samples]), False),
                 "decode + 2 resizes (c)": (DecodeAndResize([p for p, _ in folder.samples]), False)}
        print(describe())
        for workers in args.workers:
            loaders = {name: _loader(ds, workers, keyed)[0] for name, (ds, keyed) in sides.items()}
            for loader in loaders.values():
                _pass(loader)  # start the workers, warm the page cache
            rates: dict[str, list[float]] = {name: [] for name in loaders}
            for _ in range(args.rounds):
                for name, loader in loaders.items():
                    rates[name].append(len(folder) / _pass(loader))
            med = {name: statistics.median(r) for name, r in rates.items()}
            ours, tv, floor = med["sslbench"], med["torchvision (a)"], med["decode only (b)"]
            ceiling = med["decode + 2 resizes (c)"]
            print(f"P8 {workers} worker(s): sslbench {ours:.0f} img/s (two 224 views), torchvision {tv:.0f}, "
                  f"decode only {floor:.0f}, decode + 2 resizes {ceiling:.0f} | sslbench = {ours / tv:.2f}x "
                  f"torchvision (goal >= 1.5), {ours / floor:.2f}x decode only (goal >= 0.8; ceiling (c) "
                  f"{ceiling / floor:.2f}x), {ours / ceiling:.2f}x (c) | rounds sslbench "
                  + ", ".join(f"{r:.0f}" for r in rates["sslbench"]))
            del loaders
        views = ViewMaker(specs, SIZE, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), torch.device("cpu"), False)
        batch = next(iter(DataLoader(sides["sslbench"][0], batch_size=BATCH, sampler=[(i, 0) for i in range(BATCH)])))[0]
        gen = torch.Generator().manual_seed(0)
        views.train_views(batch, gen)
        start = time.perf_counter()
        views.train_views(batch, gen)
        per_image = (time.perf_counter() - start) / BATCH
        print(f"device ops (colour, grayscale, blur, solarize, normalise; both views) on this CPU: "
              f"{per_image * 1000:.1f} ms/image with {torch.get_num_threads()} threads -- on the GPU in training")


if __name__ == "__main__":
    main()
