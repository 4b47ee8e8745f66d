"""What a protocol receives: the frozen backbone, the datasets and a feature cache on disk.

The cache holds the frozen features of one (weights, backbone and options, dataset plugin and
version, split fingerprint, transform) -- :meth:`EvalContext.cache_identity` -- as two ``.npy``
files named by the hash of that key: ``<key>.labels.npy`` then
``<key>.features.npy`` (written last, so its presence means the entry is complete). Features
are streamed batch by batch into a memory-mapped temp file that is flushed, fsynced and renamed
into place (the atomic-write rule of :mod:`sslbench.engine.checkpoint`), so neither extraction
nor reading ever holds the whole matrix in memory: :meth:`EvalContext.feature_arrays` returns
``np.load(mmap_mode="r")`` arrays that chunked protocols (kNN, retrieval) read piece by piece.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from ..config import stable_hash
from ..contract.errors import SSLBenchError
from ..atomic import public_mode, temp_beside
from . import checkpoint
from . import distributed as dist
from .data import TensorImageDataset, Views, loader_workers

#: Bumped when the on-disk layout of a cache entry changes, so old entries are never misread.
CACHE_FORMAT = 2
#: Stands for the evaluation view's name in cache keys: ``resize-center`` (datasets in memory,
#: resized to the input size) or ``resize<eval_resize>-centercrop<input>`` (file-backed datasets),
#: the ``eval_transform`` step of the dataset's modality (:mod:`sslbench.contract.modality`).
EVAL_TRANSFORM = "resize-center"


@dataclass
class EvalContext:
    """Everything a protocol needs; ``features(split)`` extracts once and caches on disk."""

    backbone: nn.Module
    spec: Any
    config: Any
    weights_id: str
    device: torch.device
    cache_dir: Path | None
    progress: bool = True
    batch_size: int = 256
    _datasets: dict[str, Any] = field(default_factory=dict)
    #: folders a protocol wrote results into (protocol name -> folder), named in the run's summary
    outputs: dict[str, Path] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        """Counted from the training split's data (:func:`sslbench.engine.splits.class_count`)."""
        from .splits import class_count

        return class_count(self.spec, self.dataset(self.spec.train_split))

    @property
    def data_root(self) -> str | None:
        """Root folder of the evaluated dataset (``data.eval_root`` when it is a transfer dataset)."""
        return self.config.evaluation_root()

    def dataset(self, split: str) -> Any:
        """The dataset split, loaded once and checked against the dataset contract (video: one
        random clip per video, sslbench.video.pipeline)."""
        if split not in self._datasets:
            from .splits import open_split

            self._datasets[split] = open_split(self.spec, self.config, split, self.data_root)
        return self._datasets[split]

    @property
    def is_video(self) -> bool:
        """True for video datasets: items are clips, features average the multi-view test."""
        return getattr(self.spec, "modality", "image") == "video"

    def is_multilabel(self) -> bool:
        """True when labels are (N, C) vectors (e.g. VOC07: 1 present, 0 absent, -1 ignored)."""
        return bool(getattr(self.dataset(self.spec.train_split), "multilabel", False))

    def require_single_label(self, protocol: str) -> None:
        """Raise a one-line error when ``protocol`` cannot handle this multi-label dataset."""
        if self.is_multilabel():
            raise SSLBenchError(
                f"protocol {protocol!r} needs single-label classes but dataset {self.spec.name!r} is multi-label: "
                f"use --protocol lowshot (per-class SVMs, mAP) on it"
            )

    def view_maker(self, specs: list | None = None) -> Views:
        """Normalisation (and ``specs`` augmentations) for this dataset on the evaluation device: the
        ``eval_views`` step of its modality."""
        return self._steps().step("eval_views")(self, list(specs or []))

    def _steps(self) -> Any:
        from ..contract.modality import modality

        return modality(getattr(self.spec, "modality", "image"))

    def _transform_name(self, split: str) -> str:
        return self._steps().step("eval_transform")(self, split)  # images: resize-center, resize256-centercrop224

    def cache_identity(self, split: str, transform: str = EVAL_TRANSFORM) -> dict[str, Any] | None:
        """Everything ``split``'s cached features depend on: the weights, the backbone and its
        options, the dataset's plugin (distribution, version), the split's fingerprint
        (:mod:`sslbench.fingerprint`), normalisation and the eval transform. None when the split
        has no fingerprint: its features are then never cached."""
        from ..fingerprint import split_fingerprint

        data = split_fingerprint(self.dataset(split))
        if data is None:
            return None
        if transform == EVAL_TRANSFORM:
            transform = self._transform_name(split)
        model = self.config.model
        return {"weights": self.weights_id, "backbone": model.backbone, "backbone_options": model.backbone_options,
                "backbone_plugin": _origin("backbones", model.backbone),
                "dataset": self.spec.name, "dataset_plugin": _origin("datasets", self.spec.name, self.spec),
                "root": self.data_root, "split": split, "data": data, "channels": self.spec.channels,
                "mean": list(self.spec.mean), "std": list(self.spec.std),
                "input_size": self.config.data.input_size, "transform": transform, "format": CACHE_FORMAT}

    def cache_key(self, split: str, transform: str = EVAL_TRANSFORM) -> str | None:
        """Name of ``split``'s cache entry: the hash of :meth:`cache_identity` (None: not cached)."""
        identity = self.cache_identity(split, transform)
        return None if identity is None else stable_hash(identity)

    def cache_paths(self, split: str) -> tuple[Path, Path] | None:
        """(features, labels) ``.npy`` paths of ``split``'s cache entry; None without a cache folder
        or when the split cannot be fingerprinted (a warning says so once)."""
        if self.cache_dir is None:
            return None
        key = self.cache_key(split)
        if key is None:
            _warn_uncached(self.spec.name, split, self.dataset(split))
            return None
        return self.cache_dir / f"{key}.features.npy", self.cache_dir / f"{key}.labels.npy"

    @torch.no_grad()
    def feature_arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(float32 features (N, D), int64 labels (N,) or (N, C)) as numpy arrays.

        With a cache folder the features are a read-only memory map of the cached ``.npy`` file,
        extracted on the first call only; readers should slice it in chunks.
        """
        paths = self.cache_paths(split)
        if paths is not None and paths[0].is_file() and paths[1].is_file():
            return np.load(paths[0], mmap_mode="r"), np.load(paths[1])
        desc = f"features {self.spec.name}/{split}"
        writable = paths is not None and dist.is_main()
        features = self._steps().features  # videos: the mean over the multi-view test
        if features is not None:
            feats, labels = features(self, split, paths[0] if writable else None, paths[1] if writable else None)
        else:
            feats, labels = extract_features(self.backbone, self.dataset(split), self.view_maker(), self.batch_size,
                                             self.progress, desc, self.config.data.num_workers,
                                             out_path=paths[0] if writable else None,
                                             labels_path=paths[1] if writable else None)
        if writable:
            checkpoint.write_text(paths[0].with_name(paths[0].name.replace(".features.npy", ".json")),
                                  json.dumps({**self.cache_identity(split), "shape": list(feats.shape)}, default=str))
        return feats, labels

    def features(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(float32 features (N, D), int64 labels) of the frozen backbone on ``split``, in memory."""
        feats, labels = self.feature_arrays(split)
        return torch.from_numpy(np.array(feats, dtype=np.float32)), torch.from_numpy(np.array(labels, dtype=np.int64))


def _origin(kind: str, name: str, obj: Any = None) -> dict[str, Any]:
    """:func:`sslbench.contract.loading.provenance` of a registered name; ``{"plugin": None}`` for an object
    that is not the one registered under ``name`` (built by hand, e.g. in benchmarks)."""
    from ..contract.errors import UnknownNameError
    from ..contract.loading import provenance, registries

    registry = getattr(registries(), kind)
    try:
        entry = registry.entry(name)
    except UnknownNameError:
        return {"plugin": None}
    if obj is not None and entry.obj is not obj and entry.obj != obj:
        return {"plugin": None}
    return provenance(registry, name)


_warned_uncached: set[tuple[str, str]] = set()


def _warn_uncached(dataset: str, split: str, data: Any) -> None:
    """Say once per split that its features are recomputed on every run (no fingerprint)."""
    import warnings

    if (dataset, split) not in _warned_uncached:
        _warned_uncached.add((dataset, split))
        warnings.warn(f"features of {dataset}/{split} are not cached: {type(data).__name__} has no fingerprint() "
                      f"method, images tensor, samples list or root folder (see sslbench.fingerprint)", stacklevel=3)


def eval_batches(dataset: Any, batch_size: int, num_workers: int | None = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Every sample once, in order, on this process (no DDP sharding): (uint8 images, labels)."""
    if isinstance(dataset, TensorImageDataset):
        for start in range(0, len(dataset), batch_size):
            yield dataset.images[start:start + batch_size], dataset.labels[start:start + batch_size]
        return
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False,
                                         num_workers=loader_workers(num_workers), pin_memory=torch.cuda.is_available())
    for images, labels in loader:
        yield images, torch.as_tensor(labels)


def shuffled_batches(dataset: Any, batch_size: int, generator: torch.Generator,
                     num_workers: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Every sample once in an order drawn from ``generator``, on this process (no DDP sharding)."""
    order = torch.randperm(len(dataset), generator=generator)
    if isinstance(dataset, TensorImageDataset):
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            yield dataset.images[idx], dataset.labels[idx]
        return
    subset = torch.utils.data.Subset(dataset, order.tolist())
    yield from eval_batches(subset, batch_size, num_workers)


def _npy_header(shape: tuple[int, ...], dtype: np.dtype, length: int | None = None) -> bytes:
    """A .npy v1.0 header, space-padded to ``length`` bytes (default: the next multiple of 64)."""
    text = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)})
    body = text.encode("latin1")
    total = length or -(-(10 + len(body) + 1) // 64) * 64
    pad = total - 10 - len(body) - 1
    if pad < 0:
        raise ValueError(f"a .npy header for shape {shape} does not fit in {total} bytes")
    return b"\x93NUMPY\x01\x00" + (total - 10).to_bytes(2, "little") + body + b" " * pad + b"\n"


class _StreamedArray:
    """A ``.npy`` written row block by row block with plain file writes, renamed into place on
    commit. Writing through a memory map instead would keep every written page in the process's
    resident set (10 GB for ImageNet's 1.28M x 2048 features); written this way only one batch is.
    Fewer rows than announced (e.g. unreadable videos left out) shrink the header's shape on commit."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: Any) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        fd, self.tmp = temp_beside(self.path)  # locked while written: see sslbench.atomic
        self.fh = os.fdopen(fd, "wb")
        self.header = _npy_header(self.shape, self.dtype)
        self.fh.write(self.header)
        self.rows = 0

    def write(self, block: np.ndarray) -> None:
        """Append ``block`` (rows in order)."""
        self.fh.write(np.ascontiguousarray(block, dtype=self.dtype).tobytes())
        self.rows += len(block)

    def commit(self) -> np.ndarray:
        if self.rows > self.shape[0]:
            self.abort()
            raise RuntimeError(f"{self.path}: wrote {self.rows} rows, more than the {self.shape[0]} announced")
        if self.rows < self.shape[0]:
            self.fh.seek(0)
            self.fh.write(_npy_header((self.rows, *self.shape[1:]), self.dtype, len(self.header)))
        self.fh.flush()
        os.fsync(self.fh.fileno())
        os.chmod(self.tmp, public_mode())
        os.replace(self.tmp, self.path)  # before the close that releases the temp's lock
        self.fh.close()
        return np.load(self.path, mmap_mode="r")

    def abort(self) -> None:
        if not self.fh.closed:
            self.fh.close()
        self.tmp.unlink(missing_ok=True)


@torch.no_grad()
def extract_features(backbone: nn.Module, dataset: Any, views: Views, batch_size: int, progress: bool,
                     desc: str, num_workers: int = 0, out_path: Path | None = None,
                     labels_path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Forward every image once in eval mode; returns (float32 features, int64 labels) arrays.

    With ``out_path`` the features are streamed into a memory-mapped ``.npy`` (one batch in
    memory at a time) and returned memory-mapped; ``labels_path`` is written first.
    """
    from tqdm.auto import tqdm

    was_training = backbone.training
    backbone.eval()
    n = len(dataset)
    if n == 0:
        raise SSLBenchError(f"cannot extract features: {desc} is empty")
    sink: _StreamedArray | None = None
    feats: np.ndarray | None = None
    labels: np.ndarray | None = None
    bar = tqdm(total=n, desc=desc, unit="img", leave=False, disable=not progress)
    pos = 0
    try:
        for images, y in eval_batches(dataset, batch_size, num_workers):
            out = backbone(views.eval_view(images)).float().cpu().numpy()
            if labels is None:
                if out_path is not None:
                    sink = _StreamedArray(out_path, (n, out.shape[1]), np.float32)
                else:
                    feats = np.empty((n, out.shape[1]), dtype=np.float32)
                labels = np.empty((n, *tuple(y.shape[1:])), dtype=np.int64)
            if sink is not None:
                sink.write(out)
            else:
                feats[pos:pos + len(out)] = out
            labels[pos:pos + len(out)] = y.numpy()
            pos += len(out)
            bar.update(len(out))
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    finally:
        bar.close()
        backbone.train(was_training)
    assert labels is not None and pos == n
    if sink is not None:
        if labels_path is not None:
            checkpoint.atomic_write(labels_path, lambda fh: np.save(fh, labels))
        feats = sink.commit()
    assert feats is not None
    return feats, labels


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_backbone_checkpoint(backbone: nn.Module, path: str | Path) -> str:
    """Load a backbone's weights from ``path`` and return their id, the file's sha256.

    Accepted: sslbench's ``backbone.pt`` (a dict whose ``"backbone"`` entry is the state dict), a
    dict with a ``"state_dict"`` entry, or a plain state dict; a ``module.`` prefix (DDP) is
    stripped. Loaded with ``torch.load(weights_only=True)``, so the file cannot run code; keys
    must match the configured backbone exactly (pass ``--backbone`` to pick it).
    """
    path = Path(path)
    if not path.is_file():
        raise SSLBenchError(f"checkpoint {str(path)!r} does not exist: expected a backbone.pt or a state_dict file")
    try:
        obj = checkpoint.load(path)
    except SSLBenchError as exc:  # torch's reason without its advice to load unsafely
        raise SSLBenchError(f"cannot load checkpoint {str(path)!r}: {checkpoint.load_failure(exc.__cause__ or exc)}: "
                            f"expected a backbone.pt or a state_dict saved with torch.save") from exc
    state = obj
    if isinstance(obj, dict):
        for key in ("backbone", "state_dict"):
            if isinstance(obj.get(key), dict):
                state = obj[key]
                break
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SSLBenchError(f"checkpoint {str(path)!r} holds no state dict: expected a mapping of parameter names "
                            f"to tensors, or sslbench's backbone.pt")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    try:
        result = backbone.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        detail = " ".join(str(exc).split())[:300]
        raise SSLBenchError(f"checkpoint {str(path)!r} does not match the backbone: {detail}; "
                            f"pass the --backbone (and model.backbone_options) it was trained with") from None
    if result.missing_keys or result.unexpected_keys:
        missing, unexpected = result.missing_keys, result.unexpected_keys
        detail = (f"{len(missing)} missing (first {missing[0]!r})" if missing else "") + \
                 (", " if missing and unexpected else "") + \
                 (f"{len(unexpected)} unexpected (first {unexpected[0]!r})" if unexpected else "")
        raise SSLBenchError(f"checkpoint {str(path)!r} does not match the backbone: {detail}; "
                            f"pass the --backbone (and model.backbone_options) it was trained with")
    return file_sha256(path)
